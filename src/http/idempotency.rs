//! `Idempotency-Key` for every mutating call of every dialect, scoped to the credential
//! (the user) that sent it.
//!
//! Mounted inside a dialect's authentication (it needs the [`Principal`]): the first
//! request with a key runs and its response (anything but a 5xx) is stored; the same
//! key with the same method, path and body replays that response with
//! `Idempotent-Replayed: true`; the same key with another request gets the dialect's
//! validation error. A retry that arrives while the first is still running waits for
//! it (up to [`WAIT`]) and then replays.

use std::sync::Arc;
use std::time::Duration;

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response, Result};

use super::body::{self, BodyLimits};
use crate::core::{CoreError, Gateway, IdempotencyBegin, Principal, StoredResponse};

/// The request header.
pub const HEADER: &str = "Idempotency-Key";
/// The response header marking a replay.
pub const REPLAYED: &str = "Idempotent-Replayed";
/// How long a retry waits for the first request with its key.
pub const WAIT: Duration = Duration::from_secs(10);

/// The `Idempotency-Key` of the request being run, for operations that also make the
/// change itself unique by it (see `core::idempotency`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestKey(pub String);

impl RequestKey {
    /// The key of `req`, when it carried one.
    pub fn of(req: &Request) -> Option<&str> {
        req.extensions().get::<RequestKey>().map(|k| k.0.as_str())
    }
}

/// Renders a core error in the dialect's own shape.
pub type ErrorRenderer = Arc<dyn Fn(CoreError) -> Response + Send + Sync>;

/// The middleware.
pub struct Idempotency {
    gateway: Gateway,
    render: ErrorRenderer,
    secret: Arc<[u8]>,
    limits: BodyLimits,
}

impl Idempotency {
    /// Idempotency over `gateway`, rendering errors with `render`. Request fingerprints
    /// are HMACs under `secret`, so a stored fingerprint reveals nothing of the body (a
    /// card number cannot be guessed from it). Bodies are read within `limits`.
    pub fn new(gateway: Gateway, render: ErrorRenderer, secret: Arc<[u8]>, limits: BodyLimits) -> Idempotency {
        Idempotency { gateway, render, secret, limits }
    }
}

impl<E: Endpoint> Middleware<E> for Idempotency {
    type Output = IdempotencyEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        IdempotencyEndpoint {
            inner,
            gateway: self.gateway.clone(),
            render: self.render.clone(),
            secret: self.secret.clone(),
            limits: self.limits.clone(),
        }
    }
}

/// The endpoint [`Idempotency`] wraps around an API.
pub struct IdempotencyEndpoint<E> {
    inner: E,
    gateway: Gateway,
    render: ErrorRenderer,
    secret: Arc<[u8]>,
    limits: BodyLimits,
}

impl<E: Endpoint> Endpoint for IdempotencyEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Response> {
        let mutating = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH | Method::DELETE);
        let key = req.headers().get(HEADER).map(|v| v.to_str().map(str::to_owned));
        let principal = req.extensions().get::<Principal>().cloned();
        let (Some(key), Some(principal), true) = (key, principal, mutating) else {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        };
        let key = match key {
            Ok(key) if !key.is_empty() && key.len() <= 255 => key,
            _ => return Ok((self.render)(CoreError::invalid(HEADER, "must be 1 to 255 visible ASCII characters"))),
        };
        let body = match body::read(req.take_body(), &self.limits).await {
            Ok(body) => body,
            Err(rejection) => return Ok((self.render)(rejection.into())),
        };
        let mut message = Vec::with_capacity(body.len() + 64);
        message.extend_from_slice(b"idempotency\n");
        message.extend_from_slice(req.method().as_str().as_bytes());
        message.push(b' ');
        message.extend_from_slice(req.uri().path().as_bytes());
        message.push(b'\n');
        message.extend_from_slice(&body);
        let hash = crate::crypto::hmac_sha256_hex(&self.secret, &message);
        req.set_body(body);

        let merchant_id = principal.merchant_id();
        // Per credential: a StarPay user never replays another user's answer (nor one
        // its role could not have made).
        let scope = format!("{}:{}", principal.dialect().as_str(), principal.credential().id);
        let scope = scope.as_str();
        let deadline = tokio::time::Instant::now() + WAIT;
        let begin = loop {
            match self.gateway.idempotency_begin(merchant_id, scope, &key, &hash).await {
                Err(CoreError::IdempotencyInProgress) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                other => break other,
            }
        };
        match begin {
            Ok(IdempotencyBegin::Replay(stored)) => Ok(replay(stored)),
            Err(err) => Ok((self.render)(err)),
            Ok(IdempotencyBegin::Proceed(claim)) => {
                req.extensions_mut().insert(RequestKey(key.clone()));
                let response = match self.inner.call(req).await {
                    Ok(r) => r.into_response(),
                    Err(e) => e.into_response(),
                };
                let (parts, body) = response.into_parts();
                let bytes = body.into_bytes().await.unwrap_or_default();
                let outcome = if parts.status.is_server_error() {
                    self.gateway.idempotency_abandon(merchant_id, scope, &key, &claim).await
                } else {
                    let content_type =
                        parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
                    let stored = StoredResponse { status: parts.status.as_u16(), content_type, body: bytes.to_vec() };
                    self.gateway.idempotency_finish(merchant_id, scope, &key, &claim, stored).await
                };
                if let Err(err) = outcome {
                    tracing::error!(error = %err, "could not record idempotent response");
                }
                Ok(Response::from_parts(parts, Body::from(bytes)))
            }
        }
    }
}

fn replay(stored: StoredResponse) -> Response {
    let mut response = Response::builder()
        .status(StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK))
        .header(REPLAYED, HeaderValue::from_static("true"));
    if let Some(content_type) = stored.content_type {
        response = response.content_type(content_type);
    }
    response.body(stored.body)
}
