//! StarPay authentication: one `X-API-KEY` per user (a regenerated key or a suspended
//! user stops working at once), the account's status and IP allow-list, and the
//! user's hourly limit by role. Every admitted response carries `X-RateLimit-Limit`
//! and `X-RateLimit-Remaining`; the 429 too.

use poem::{Request, Response};
use poem_openapi::SecurityScheme;

use super::errors::render;
use super::roles::role_of;
use crate::core::{CoreError, Dialect, Principal};
use crate::http::AppState;
use crate::http::auth::{Admission, Admitted, header, principal};

/// `X-API-KEY`: your personal API key.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "X-API-KEY", key_in = "header", checker = "principal")]
pub struct ApiKeyAuth(pub Principal);

/// StarPay's admission.
pub struct StarAuth {
    state: AppState,
}

impl StarAuth {
    /// Authenticates against `state`'s gateway.
    pub fn new(state: AppState) -> StarAuth {
        StarAuth { state }
    }
}

fn limit_headers(limit: u32, remaining: u32) -> Vec<(&'static str, String)> {
    vec![("X-RateLimit-Limit", limit.to_string()), ("X-RateLimit-Remaining", remaining.to_string())]
}

impl Admission for StarAuth {
    async fn admit(&self, req: &mut Request) -> Result<Admitted, Response> {
        let key = header(req, "X-API-KEY").ok_or_else(|| render(CoreError::MissingCredentials))?;
        let gateway = &self.state.gateway;
        let principal = gateway.authenticate(Dialect::Starpay, key, None).await.map_err(render)?;
        let Some(role) = role_of(&principal) else {
            return Err(render(CoreError::Forbidden));
        };
        let limit = role.hourly_limit();
        match gateway.admit_class(&principal, self.state.client_ip(req), role.rate_class()) {
            Ok(decision) => {
                let remaining = decision.remaining.min(limit);
                Ok(Admitted { principal, headers: limit_headers(limit, remaining) })
            }
            Err(err) => {
                let limited = matches!(err, CoreError::RateLimited { .. });
                let mut response = render(err);
                if limited {
                    response.headers_mut().insert("X-RateLimit-Limit", limit.into());
                    response.headers_mut().insert("X-RateLimit-Remaining", 0u32.into());
                }
                Err(response)
            }
        }
    }
}
