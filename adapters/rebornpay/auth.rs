//! REBORNPAY authentication: `X-Api-Key` + `X-Api-Secret`, the merchant's status, IP
//! allow-list and rate limit, then the optional (or, per credential, mandatory) request
//! signature `X-Signature` = hex HMAC-SHA256(secret, "{X-Timestamp}.{body}") within a
//! 300-second window, each signature accepted once (a replayed request is refused).
//!
//! It runs as middleware around the whole API so that every failure gets REBORNPAY's
//! error body before any parsing, and the signature can cover the raw body. The
//! security schemes below document the headers in OpenAPI and hand the authenticated
//! [`Principal`] to the operations.

use poem::{Request, Response};
use poem_openapi::SecurityScheme;

use super::errors::Errors;
use crate::core::{CoreError, Dialect, Principal};
use crate::crypto::verify_hmac_sha256_hex;
use crate::http::AppState;
use crate::http::auth::{Admission, Admitted, admitted, header, principal};
use crate::http::reply::DialectErrors;

/// Seconds a signed request's timestamp may differ from the server's clock.
pub const SIGNATURE_WINDOW_SECS: i64 = 300;

/// `X-Api-Key`: your public key (`pk_live_…` / `pk_test_…`).
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "X-Api-Key", key_in = "header", checker = "principal")]
pub struct ApiKeyAuth(pub Principal);

/// `X-Api-Secret`: your secret key, sent with every request beside `X-Api-Key`.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "X-Api-Secret", key_in = "header", checker = "admitted")]
pub struct ApiSecretAuth(());

/// REBORNPAY's admission.
pub struct RebornAuth {
    state: AppState,
}

impl RebornAuth {
    /// Authenticates against `state`'s gateway.
    pub fn new(state: AppState) -> RebornAuth {
        RebornAuth { state }
    }

    async fn check(&self, req: &mut Request) -> Result<Principal, CoreError> {
        let (Some(key), Some(secret)) = (header(req, "X-Api-Key"), header(req, "X-Api-Secret")) else {
            return Err(CoreError::MissingCredentials);
        };
        let gateway = &self.state.gateway;
        let caller = gateway.authenticate(Dialect::Rebornpay, key, Some(secret)).await?;
        let principal = gateway.admit(&caller, self.state.client_ip(req)).await?;
        let timestamp = header(req, "X-Timestamp").map(str::to_owned);
        let signature = header(req, "X-Signature").map(str::to_owned);
        if timestamp.is_some() || signature.is_some() || principal.credential().require_signature {
            let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
                return Err(CoreError::InvalidSignature("X-Timestamp and X-Signature are both required"));
            };
            let body = crate::http::body::read(req.take_body(), &self.state.body_limits).await?;
            let now = chrono::Utc::now().timestamp();
            let ts = verify_signature(principal.credential().secret.expose(), &timestamp, &signature, &body, now)?;
            // Remembered until its timestamp leaves the window; then the window refuses it.
            let until = chrono::DateTime::from_timestamp(ts.saturating_add(SIGNATURE_WINDOW_SECS + 1), 0)
                .unwrap_or_else(chrono::Utc::now);
            gateway.consume_signature(&principal, &signature, until).await?;
            req.set_body(body);
        }
        Ok(principal)
    }
}

/// Checks a request signature: the timestamp must be within the window of `now` and
/// the signature the HMAC of "{timestamp}.{body}". Returns the timestamp.
pub fn verify_signature(
    secret: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
) -> Result<i64, CoreError> {
    let ts: i64 = timestamp.parse().map_err(|_| CoreError::InvalidSignature("X-Timestamp must be Unix seconds"))?;
    if now.abs_diff(ts) > SIGNATURE_WINDOW_SECS.unsigned_abs() {
        return Err(CoreError::InvalidSignature("X-Timestamp is more than 300 seconds from the server's clock"));
    }
    let mut message = Vec::with_capacity(timestamp.len() + 1 + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    if !verify_hmac_sha256_hex(secret.as_bytes(), &message, signature) {
        return Err(CoreError::InvalidSignature("X-Signature does not match the request"));
    }
    Ok(ts)
}

impl Admission for RebornAuth {
    async fn admit(&self, req: &mut Request) -> Result<Admitted, Response> {
        self.check(req).await.map(Admitted::from).map_err(Errors::render)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::hmac_sha256_hex;

    #[test]
    fn signatures_bind_timestamp_and_body() {
        let sig = hmac_sha256_hex(b"sk", b"1000.{\"a\":1}");
        assert!(verify_signature("sk", "1000", &sig, b"{\"a\":1}", 1000).is_ok());
        assert!(verify_signature("sk", "1000", &sig, b"{\"a\":2}", 1000).is_err());
        assert!(verify_signature("sk", "1001", &sig, b"{\"a\":1}", 1000).is_err());
        assert!(verify_signature("other", "1000", &sig, b"{\"a\":1}", 1000).is_err());
    }

    #[test]
    fn stale_or_future_timestamps_are_refused() {
        let sig = hmac_sha256_hex(b"sk", b"1000.");
        assert!(verify_signature("sk", "1000", &sig, b"", 1300).is_ok());
        assert!(verify_signature("sk", "1000", &sig, b"", 1301).is_err());
        assert!(verify_signature("sk", "1000", &sig, b"", 699).is_err());
        assert!(verify_signature("sk", "abc", &sig, b"", 1000).is_err());
        assert!(verify_signature("sk", &i64::MIN.to_string(), &sig, b"", 1000).is_err(), "no overflow");
        assert!(verify_signature("sk", &i64::MAX.to_string(), &sig, b"", -1000).is_err(), "no overflow");
    }
}
