//! ShadhinPay authentication: `Client-Id`, `Business-Id` and `Secret-Key` on every
//! request, each with its own error code when missing or wrong; then the business's
//! status, IP allow-list and the provider's rate limit of the endpoint's class (100/min
//! for payment creation, 300/min for status, 120/min for everything else).
//!
//! It runs (through `http::auth`) before anything is parsed, so every failure gets
//! ShadhinPay's error body. The security schemes document the three headers in OpenAPI
//! and hand the authenticated [`Principal`] to the operations.

use poem::http::header::CONTENT_TYPE;
use poem::http::{HeaderValue, Method};
use poem::{IntoResponse, Request, Response};
use poem_openapi::SecurityScheme;

use super::errors::{AuthFailure, Failure};
use crate::core::{CoreError, Dialect, Principal, RateClass};
use crate::http::AppState;
use crate::http::auth::{Admission, Admitted, admitted, header, principal};

/// Payment creation: 100 requests per minute.
pub const CREATE: RateClass = RateClass::per_minute("shadhinpay.create", 100);
/// Payment status: 300 requests per minute.
pub const STATUS: RateClass = RateClass::per_minute("shadhinpay.status", 300);
/// Everything else (list, refund): 120 requests per minute.
pub const OTHER: RateClass = RateClass::per_minute("shadhinpay.other", 120);

/// `Client-Id`: your client id.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "Client-Id", key_in = "header", checker = "principal")]
pub struct ClientIdAuth(pub Principal);

/// `Business-Id`: the business the client acts for.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "Business-Id", key_in = "header", checker = "admitted")]
pub struct BusinessIdAuth(());

/// `Secret-Key`: the client's secret key.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "Secret-Key", key_in = "header", checker = "admitted")]
pub struct SecretKeyAuth(());

/// ShadhinPay's admission.
pub struct ShadhinAuth {
    state: AppState,
}

impl ShadhinAuth {
    /// Authenticates against `state`'s gateway.
    pub fn new(state: AppState) -> ShadhinAuth {
        ShadhinAuth { state }
    }

    async fn check(&self, req: &Request) -> Result<Principal, Failure> {
        let client_id = header(req, "Client-Id").ok_or(AuthFailure::MissingClientId)?;
        let business_id = header(req, "Business-Id").ok_or(AuthFailure::MissingBusinessId)?;
        let secret = header(req, "Secret-Key").ok_or(AuthFailure::MissingSecretKey)?;
        let gateway = &self.state.gateway;
        let auth_failure = |wrong: AuthFailure| {
            move |err: CoreError| match err {
                CoreError::InvalidCredentials => Failure::from(wrong),
                other => Failure::from(other),
            }
        };
        gateway
            .authenticate(Dialect::Shadhinpay, client_id, None)
            .await
            .map_err(auth_failure(AuthFailure::InvalidClientId))?;
        let caller = gateway
            .authenticate(Dialect::Shadhinpay, client_id, Some(secret))
            .await
            .map_err(auth_failure(AuthFailure::InvalidSecretKey))?;
        // Checked once the secret proved the caller, so it reveals nothing to others.
        let business = caller.credential().settings.shadhinpay().map(|s| s.business_id.as_str());
        if business != Some(business_id) {
            return Err(AuthFailure::BusinessNotAuthorized.into());
        }
        let class = rate_class(req.method(), req.original_uri().path());
        let (principal, _) = gateway.admit_class(&caller, self.state.client_ip(req), class).await?;
        Ok(principal)
    }
}

/// The rate-limit class of a request: `POST …/payments` creates, `GET
/// …/payments/{id}` reads a status, anything else is "other".
pub fn rate_class(method: &Method, path: &str) -> RateClass {
    let path = path.trim_end_matches('/');
    let segments: Vec<&str> = path.rsplit('/').take(2).collect();
    match (method, segments.as_slice()) {
        (&Method::POST, ["payments", ..]) => CREATE,
        (&Method::GET, [id, "payments"]) if !id.is_empty() => STATUS,
        _ => OTHER,
    }
}

impl Admission for ShadhinAuth {
    async fn admit(&self, req: &mut Request) -> Result<Admitted, Response> {
        let principal = self.check(req).await.map_err(IntoResponse::into_response)?;
        // A POST without a body (a full refund with nothing to say) is `{}`.
        if req.method() == Method::POST && req.headers().get(CONTENT_TYPE).is_none() {
            let body = crate::http::body::read(req.take_body(), &self.state.body_limits).await;
            match body {
                Ok(bytes) if bytes.is_empty() => {
                    req.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    req.set_body("{}");
                }
                Ok(bytes) => req.set_body(bytes),
                Err(rejection) => return Err(Failure::from(CoreError::from(rejection)).into_response()),
            }
        }
        Ok(principal.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_fall_into_the_providers_classes() {
        let base = "/shadhinpay/api/v1";
        assert_eq!(rate_class(&Method::POST, &format!("{base}/payments")), CREATE);
        assert_eq!(rate_class(&Method::POST, &format!("{base}/payments/")), CREATE);
        assert_eq!(rate_class(&Method::GET, &format!("{base}/payments/SP_1")), STATUS);
        assert_eq!(rate_class(&Method::GET, &format!("{base}/payments")), OTHER);
        assert_eq!(rate_class(&Method::POST, &format!("{base}/payments/SP_1/refund")), OTHER);
    }
}
