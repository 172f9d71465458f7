//! StarPay authentication: one `X-API-KEY` per user (a regenerated key or a suspended
//! user stops working at once), the account's status and IP allow-list, and the
//! user's hourly limit by role. Every response carries `X-RateLimit-Limit` and
//! `X-RateLimit-Remaining`, as the seed says: a known user's budget, refusals
//! included; for a missing or unknown key, or a key used from an address its account
//! does not allow, the client IP's ([`ANONYMOUS`]: 2,000 an hour, no more than the
//! highest tier — enough for QA rerunning suites with wrong keys on purpose; past it a
//! wrong key answers 429, which slows down guessing, though a right one still works).

use poem::{Request, Response};
use poem_openapi::SecurityScheme;

use super::errors::Errors;
use super::roles::role_of;
use crate::core::{CoreError, Dialect, Principal, RateClass};
use crate::http::AppState;
use crate::http::auth::{Admission, Admitted, header, principal};
use crate::http::reply::DialectErrors;

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

/// The budget of callers no key identifies, per client IP: the highest tier's.
pub const ANONYMOUS: RateClass = RateClass::per_ip_hour("starpay.anonymous", 2000);

fn limit_headers(limit: u32, remaining: u32) -> Vec<(&'static str, String)> {
    vec![("X-RateLimit-Limit", limit.to_string()), ("X-RateLimit-Remaining", remaining.to_string())]
}

/// `err`'s response with the budget `counted` left (a 429 when it is spent).
fn refused(err: CoreError, limit: u32, counted: Result<u32, CoreError>) -> Response {
    let (mut response, remaining) = match counted {
        Ok(remaining) => (Errors::render(err), remaining),
        Err(limited) => (Errors::render(limited), 0),
    };
    for (name, value) in limit_headers(limit, remaining) {
        if let Ok(value) = value.parse() {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

impl StarAuth {
    /// A caller no key identifies: its IP's budget on the refusal.
    async fn unknown_caller(&self, client_ip: Option<std::net::IpAddr>, err: CoreError) -> Response {
        let counted = self.state.gateway.count_request(None, client_ip, ANONYMOUS).await;
        refused(err, ANONYMOUS.limit, counted.map(|d| d.remaining.min(ANONYMOUS.limit)))
    }
}

impl Admission for StarAuth {
    async fn admit(&self, req: &mut Request) -> Result<Admitted, Response> {
        let client_ip = self.state.client_ip(req);
        let Some(key) = header(req, "X-API-KEY") else {
            return Err(self.unknown_caller(client_ip, CoreError::MissingCredentials).await);
        };
        let gateway = &self.state.gateway;
        let caller = match gateway.authenticate(Dialect::Starpay, key, None).await {
            Ok(caller) => caller,
            Err(err @ (CoreError::MissingCredentials | CoreError::InvalidCredentials)) => {
                return Err(self.unknown_caller(client_ip, err).await);
            }
            Err(err) => return Err(Errors::render(err)),
        };
        let Some(role) = role_of(&caller) else {
            return Err(self.unknown_caller(client_ip, CoreError::Forbidden).await);
        };
        let (class, limit) = (role.rate_class(), role.hourly_limit());
        match gateway.admit_class(&caller, client_ip, class).await {
            Ok((principal, decision)) => {
                let remaining = decision.remaining.min(limit);
                Ok(Admitted { principal, headers: limit_headers(limit, remaining) })
            }
            Err(err @ CoreError::RateLimited { .. }) => Err(refused(err, limit, Ok(0))),
            // From an address the account does not allow: the key may have leaked, so
            // the request spends the address's budget, not the user's.
            Err(err @ CoreError::IpNotAllowed) => Err(self.unknown_caller(client_ip, err).await),
            // Refused before its budget was counted (an account not approved): counted
            // now, so the user sees what is left.
            Err(err) => {
                let counted = gateway.count_request(Some(&caller), client_ip, class).await;
                Err(refused(err, limit, counted.map(|d| d.remaining.min(limit))))
            }
        }
    }
}
