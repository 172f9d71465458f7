//! The operators' dashboard at `/dashboard`: server-rendered pages (askama, from
//! `templates/dashboard/`, in the checkout's look) over the same core doors as the
//! admin API ([`AdminGateway`]) and the sandbox control API ([`ProcessorGateway`]).
//! Every page works without JavaScript.
//!
//! - Sign-in takes the admin token and starts a session: a random cookie
//!   (`paybridge_dashboard`: `HttpOnly`, `SameSite=Strict`, `Path=/dashboard`, `Max-Age`
//!   of `[dashboard] session_ttl_secs`, `Secure` when `public_url` is `https`). The core
//!   keeps only its hash keyed by the admin token (`core/sessions.rs`), so every
//!   instance knows it, signing out ends it everywhere, and a new admin token ends
//!   every session. Without a session every page redirects to sign-in; a merchant's
//!   credentials open nothing here.
//! - Every form carries a CSRF token, an HMAC of the session under the same key
//!   ([`Posted`] refuses a form without the right one, before anything is done); the
//!   sign-in form's is tied to a cookie of its own.
//! - Pages (`pages.rs`): payments (filter, page, detail with timeline, ledger, refunds,
//!   deliveries, sandbox actions), the refund and payout queues, merchants (balances,
//!   credentials, policy), webhooks (deliveries and a per-minute SVG chart, `chart.rs`).
//!   What they show is built in `view.rs`.

mod chart;
mod pages;
mod view;

use std::sync::Arc;
use std::time::Duration;

use poem::http::{StatusCode, header};
use poem::{Endpoint, EndpointExt, FromRequest, IntoResponse, Request, RequestBody, Response, Route, get, post};
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use crate::core::{AdminGateway, ProcessorGateway};
use crate::crypto::hmac_sha256_hex;
use crate::http::body::{BodyRejection, BoundedBody};

/// The session cookie.
const SESSION_COOKIE: &str = "paybridge_dashboard";
/// The sign-in form's own CSRF cookie.
const SIGNIN_COOKIE: &str = "paybridge_signin";
/// A message for the next page (after a form's redirect).
const FLASH_COOKIE: &str = "paybridge_flash";
/// A rotated credential's new key material, for the merchant's page to show once.
const REVEAL_COOKIE: &str = "paybridge_reveal";
/// Where the dashboard lives.
pub const PATH: &str = "/dashboard";

/// What the dashboard's pages reach.
#[derive(Clone)]
pub struct DashboardState {
    /// The operator's door.
    pub admin: AdminGateway,
    /// The sandbox's door, for sandbox actions.
    pub processor: ProcessorGateway,
    /// The admin token sign-in takes.
    admin_token: Arc<str>,
    /// Key of session hashes and CSRF tokens (derived from the admin token).
    key: Arc<[u8]>,
    /// How long a sign-in lasts.
    ttl: Duration,
    /// Whether cookies are `Secure` (served over https).
    secure: bool,
}

impl DashboardState {
    /// The dashboard of a server with this admin token, serving `public_url`.
    pub fn new(
        admin: AdminGateway,
        processor: ProcessorGateway,
        admin_token: Arc<str>,
        ttl: Duration,
        public_url: &str,
    ) -> DashboardState {
        let key = hmac_sha256_hex(admin_token.as_bytes(), b"paybridge dashboard").into_bytes();
        DashboardState {
            admin,
            processor,
            admin_token,
            key: key.into(),
            ttl,
            secure: public_url.starts_with("https://"),
        }
    }

    fn mac(&self, purpose: &str, value: &str) -> String {
        hmac_sha256_hex(&self.key, format!("{purpose}:{value}").as_bytes())
    }

    fn cookie(&self, name: &str, value: &str, max_age: u64) -> String {
        self.cookie_at(PATH, name, value, max_age)
    }

    /// A cookie sent back to `path` only.
    fn cookie_at(&self, path: &str, name: &str, value: &str, max_age: u64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
    }
}

/// A signed-in operator's session.
#[derive(Clone)]
pub struct Session {
    /// The CSRF token of this session's forms.
    pub csrf: String,
}

/// Mounts the dashboard.
pub fn mount(route: Route, state: DashboardState, body_limits: &crate::http::body::BodyLimits) -> Route {
    let bounded = || BoundedBody::new(body_limits.clone(), Arc::new(|_: &Request, r| refused(r)));
    let signin = get(pages::signin_form).post(pages::signin).with(bounded());
    let protected = Route::new()
        .at("/", get(pages::home))
        .at("/signout", post(pages::signout))
        .at("/payments", get(pages::list_payments))
        .at("/payments/:id", get(pages::show_payment))
        .at("/payments/:id/sandbox", post(pages::sandbox_action))
        .at("/deliveries/:id/replay", post(pages::replay))
        .at("/queues", get(pages::list_queues))
        .at("/refunds/:id/:decision", post(pages::decide_refund))
        .at("/payouts/:id/:decision", post(pages::decide_payout))
        .at("/merchants", get(pages::list_merchants))
        .at("/merchants/:id", get(pages::show_merchant))
        .at("/merchants/:id/status", post(pages::merchant_status))
        .at("/merchants/:id/webhook", post(pages::merchant_webhook))
        .at("/credentials/:id/rotate", post(pages::rotate))
        .at("/credentials/:id/suspension", post(pages::credential_suspension))
        .at("/credentials/:id/policy", post(pages::credential_policy))
        .at("/webhooks", get(pages::list_webhooks))
        .with(bounded())
        .around(require_session);
    route
        .at(format!("{PATH}/signin"), signin.around(hardened).data(state.clone()))
        .nest(PATH, protected.around(hardened).data(state))
}

/// Headers every dashboard page carries: nothing cached, never framed.
async fn hardened<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    // Refusals too (a form's CSRF check, a path that does not parse) carry the headers.
    let mut resp = match ep.call(req).await {
        Ok(resp) => resp.into_response(),
        Err(err) => err.into_response(),
    };
    let headers = resp.headers_mut();
    headers.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, header::HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("same-origin"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    Ok(resp)
}

/// Lets a request with an open session through, with its [`Session`]; redirects any
/// other to sign-in (saying so when its session had expired).
async fn require_session<E: Endpoint>(ep: Arc<E>, mut req: Request) -> poem::Result<Response> {
    let state = req.data::<DashboardState>().cloned().expect("the dashboard's state");
    let Some(token) = cookie(&req, SESSION_COOKIE).filter(|t| t.len() == 64) else {
        return Ok(to_signin(&req, false, &state));
    };
    match state.admin.session_expiry(&state.mac("session", &token)).await {
        Ok(Some(_)) => {
            req.extensions_mut().insert(Session { csrf: state.mac("csrf", &token) });
            Ok(ep.call(req).await?.into_response())
        }
        Ok(None) => Ok(to_signin(&req, true, &state)),
        Err(err) => Ok(pages::error_page(&err)),
    }
}

/// A redirect to sign-in that comes back to a page asked for.
fn to_signin(req: &Request, expired: bool, state: &DashboardState) -> Response {
    let back = if req.method() == poem::http::Method::GET {
        req.original_uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default()
    } else {
        String::new()
    };
    let mut query = Vec::new();
    if expired {
        query.push(("expired", "1".to_owned()));
    }
    if safe_next(&back).is_some() {
        query.push(("next", back));
    }
    let query = serde_urlencoded::to_string(&query).unwrap_or_default();
    let location = if query.is_empty() { format!("{PATH}/signin") } else { format!("{PATH}/signin?{query}") };
    let mut resp = see_other(&location);
    if expired {
        set_cookie(&mut resp, &state.cookie(SESSION_COOKIE, "", 0));
    }
    resp
}

/// `next` when it is a dashboard page (never another site).
fn safe_next(next: &str) -> Option<&str> {
    let rest = next.strip_prefix(PATH)?;
    let page = rest.is_empty() || rest.starts_with('/') || rest.starts_with('?');
    (page && !next.contains("//") && !next.contains('\\') && !next.chars().any(char::is_control)).then_some(next)
}

/// A cookie the request carries.
fn cookie(req: &Request, name: &str) -> Option<String> {
    req.headers().get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|line| {
        line.split(';').find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
    })
}

/// Text as a cookie's value: everything but ASCII letters and digits percent-encoded.
fn cookie_text(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A cookie's value read back as the text [`cookie_text`] made of it.
fn from_cookie_text(value: &str) -> Option<String> {
    percent_encoding::percent_decode_str(value).decode_utf8().ok().map(|text| text.into_owned())
}

fn set_cookie(resp: &mut Response, cookie: &str) {
    if let Ok(value) = header::HeaderValue::from_str(cookie) {
        resp.headers_mut().append(header::SET_COOKIE, value);
    }
}

fn see_other(location: &str) -> Response {
    Response::builder().status(StatusCode::SEE_OTHER).header(header::LOCATION, location).finish()
}

/// A redirect after a form, carrying a message for the next page.
fn done(state: &DashboardState, location: &str, flash: view::Flash) -> Response {
    let mut resp = see_other(location);
    set_cookie(&mut resp, &state.cookie(FLASH_COOKIE, &flash.encode(), 60));
    resp
}

/// A form that was not read.
fn refused(rejection: BodyRejection) -> Response {
    let (status, message) = match rejection {
        BodyRejection::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "The form sent more than it should."),
        BodyRejection::Timeout { .. } => (StatusCode::REQUEST_TIMEOUT, "The form did not arrive in time."),
        _ => (StatusCode::BAD_REQUEST, "The form could not be read."),
    };
    pages::message_page(status, "This form was refused", message)
}

/// A posted form whose CSRF token (field `csrf`) is its session's, read as `T` (which
/// ignores the `csrf` field). Anything else is refused with 403 before the handler runs.
pub struct Posted<T>(pub T);

impl<'a, T: DeserializeOwned> FromRequest<'a> for Posted<T> {
    async fn from_request(req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        let forbidden = |message: &str| {
            poem::Error::from_response(pages::message_page(StatusCode::FORBIDDEN, "This form was refused", message))
        };
        let session = req.extensions().get::<Session>().ok_or_else(|| forbidden("Sign in first."))?;
        let bytes = body.take()?.into_bytes().await?;
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&bytes).map_err(|_| forbidden("The form could not be read."))?;
        let given = pairs.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str()).unwrap_or_default();
        if !bool::from(given.as_bytes().ct_eq(session.csrf.as_bytes())) {
            return Err(forbidden(
                "The form's security token does not match your session. Reload the page and try again.",
            ));
        }
        let value = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            poem::Error::from_response(pages::message_page(
                StatusCode::BAD_REQUEST,
                "This form was refused",
                &format!("The form could not be read: {e}."),
            ))
        })?;
        Ok(Posted(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_in_the_dashboard() {
        assert_eq!(safe_next("/dashboard/payments?q=1"), Some("/dashboard/payments?q=1"));
        assert_eq!(safe_next("/dashboard"), Some("/dashboard"));
        for bad in
            ["//evil.example", "/dashboard//evil.example", "https://evil.example/dashboard", "/dashboardx", "/admin"]
        {
            assert_eq!(safe_next(bad), None, "{bad}");
        }
    }
}
