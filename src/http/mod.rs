//! HTTP plumbing shared by every dialect, the admin API and the sandbox: the state
//! handlers reach through `Data<&AppState>`, client IPs, request bodies, idempotency,
//! and OpenAPI/Swagger UI helpers. Nothing here knows a dialect.

pub mod auth;
pub mod body;
pub mod client_ip;
pub mod fields;
pub mod idempotency;
pub mod mount;
pub mod openapi;
pub mod problem;
pub mod reply;
pub mod server;
pub mod wire;

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use poem::Request;

use crate::core::Gateway;

/// What every handler can reach: the core, and how to tell the client's address.
#[derive(Clone)]
pub struct AppState {
    /// The payment core.
    pub gateway: Gateway,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<[IpNet]>,
    /// The bearer token of the admin API.
    pub admin_token: Arc<str>,
    /// Key of the checkout forms' CSRF tokens.
    pub checkout_secret: Arc<[u8]>,
    /// How large and slow a request body may be (`[http]`).
    pub body_limits: body::BodyLimits,
    /// With the built-in demo configuration only: the headers the demo merchant's keys
    /// go in, per dialect, which its docs pages fill Authorize with. Empty otherwise.
    pub docs_keys: Arc<std::collections::HashMap<crate::core::Dialect, Vec<(&'static str, String)>>>,
}

impl AppState {
    /// The client's IP: the socket peer, or what trusted proxies forwarded.
    pub fn client_ip(&self, req: &Request) -> Option<IpAddr> {
        client_ip::client_ip(req, &self.trusted_proxies)
    }
}

/// A dialect's API endpoint: `service` behind the body bound (outermost), `admission`
/// and the `Idempotency-Key` middleware (inner), with errors rendered by `E`. With
/// `unknown_routes`, paths and methods the API lacks are answered by it (404 or 405 in
/// the dialect's own error body) instead of poem's plain text.
pub fn dialect_api<E: reply::DialectErrors, T: poem_openapi::OpenApi + 'static, A: auth::Admission>(
    service: poem_openapi::OpenApiService<T, ()>,
    state: &AppState,
    admission: A,
    unknown_routes: Option<fn(poem::http::StatusCode) -> poem::Response>,
) -> impl poem::Endpoint<Output = poem::Response> + use<E, T, A> {
    use poem::EndpointExt;
    use poem::error::{MethodNotAllowedError, NotFoundError};
    use poem::http::StatusCode;
    let render: idempotency::ErrorRenderer = Arc::new(E::render);
    let limits = state.body_limits.clone();
    let idempotency = idempotency::Idempotency::new(
        state.gateway.clone(),
        render.clone(),
        state.checkout_secret.clone(),
        limits.clone(),
    );
    let api = service.with(idempotency);
    let api = match unknown_routes {
        None => api.boxed(),
        Some(answer) => api
            .catch_error(move |_: NotFoundError| async move { answer(StatusCode::NOT_FOUND) })
            .catch_error(move |_: MethodNotAllowedError| async move { answer(StatusCode::METHOD_NOT_ALLOWED) })
            .boxed(),
    };
    // Outermost: no byte of an oversized body is held, and auth reads a bounded one.
    let bounded = body::BoundedBody::new(
        limits,
        Arc::new(move |_: &Request, rejection: body::BodyRejection| render(rejection.into())),
    );
    api.with(auth::Authenticate::new(admission)).with(bounded).data(state.clone()).map_to_response()
}
