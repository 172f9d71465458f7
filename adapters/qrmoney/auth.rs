//! QR Money authentication: `X-API-Key` on every request (a rotated or suspended key
//! stops working at once), then the merchant's status, IP allow-list and rate limit.

use poem::{Request, Response};
use poem_openapi::SecurityScheme;

use super::errors::Errors;
use crate::core::{CoreError, Dialect, Principal};
use crate::http::AppState;
use crate::http::auth::{Admission, Admitted, header, principal};
use crate::http::reply::DialectErrors;

/// `X-API-Key`: your API key from the dashboard.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "X-API-Key", key_in = "header", checker = "principal")]
pub struct ApiKeyAuth(pub Principal);

/// QR Money's admission.
pub struct QrAuth {
    state: AppState,
}

impl QrAuth {
    /// Authenticates against `state`'s gateway.
    pub fn new(state: AppState) -> QrAuth {
        QrAuth { state }
    }

    async fn check(&self, req: &Request) -> Result<Principal, CoreError> {
        let key = header(req, "X-API-Key").ok_or(CoreError::MissingCredentials)?;
        let gateway = &self.state.gateway;
        let caller = gateway.authenticate(Dialect::Qrmoney, key, None).await?;
        gateway.admit(&caller, self.state.client_ip(req)).await
    }
}

impl Admission for QrAuth {
    async fn admit(&self, req: &mut Request) -> Result<Admitted, Response> {
        self.check(req).await.map(Admitted::from).map_err(Errors::render)
    }
}
