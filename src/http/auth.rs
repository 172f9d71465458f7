//! The frame of every dialect's authentication: middleware around the dialect's whole
//! API that runs the dialect's [`Admission`] before anything is parsed, answers a
//! refusal in the dialect's own error body, and hands the admitted [`Principal`] to
//! the operations through the request's extensions.
//!
//! The security schemes a dialect declares for OpenAPI use [`principal`] and
//! [`admitted`] as checkers: by then the middleware has decided.

use std::future::Future;
use std::sync::Arc;

use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use poem_openapi::auth::ApiKey;

use crate::core::Principal;

/// A dialect's credential check: the principal, or the dialect's refusal. It may
/// rewrite the request (e.g. read the body a signature covers and put it back).
pub trait Admission: Send + Sync + 'static {
    /// Admits `req` or refuses it.
    fn admit(&self, req: &mut Request) -> impl Future<Output = Result<Admitted, Response>> + Send;
}

/// An admitted request: who it is, and headers every response to it carries (StarPay's
/// `X-RateLimit-*`).
pub struct Admitted {
    /// The caller.
    pub principal: Principal,
    /// Headers added to the response, whatever it is.
    pub headers: Vec<(&'static str, String)>,
}

impl From<Principal> for Admitted {
    fn from(principal: Principal) -> Admitted {
        Admitted { principal, headers: Vec::new() }
    }
}

/// The middleware.
pub struct Authenticate<A> {
    admission: Arc<A>,
}

impl<A: Admission> Authenticate<A> {
    /// Runs `admission` before every request.
    pub fn new(admission: A) -> Authenticate<A> {
        Authenticate { admission: Arc::new(admission) }
    }
}

impl<E: Endpoint, A: Admission> Middleware<E> for Authenticate<A> {
    type Output = AuthenticateEndpoint<E, A>;

    fn transform(&self, inner: E) -> Self::Output {
        AuthenticateEndpoint { inner, admission: self.admission.clone() }
    }
}

/// The endpoint [`Authenticate`] wraps around an API.
pub struct AuthenticateEndpoint<E, A> {
    inner: E,
    admission: Arc<A>,
}

impl<E: Endpoint, A: Admission> Endpoint for AuthenticateEndpoint<E, A> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Response> {
        match self.admission.admit(&mut req).await {
            Ok(Admitted { principal, headers }) => {
                req.extensions_mut().insert(principal);
                let mut response = match self.inner.call(req).await {
                    Ok(response) => response.into_response(),
                    Err(err) if headers.is_empty() => return Err(err),
                    Err(err) => err.into_response(),
                };
                for (name, value) in headers {
                    if let Ok(value) = poem::http::HeaderValue::from_str(&value) {
                        response.headers_mut().insert(name, value);
                    }
                }
                Ok(response)
            }
            Err(refusal) => Ok(refusal),
        }
    }
}

/// A request header, trimmed; `None` when absent, empty or not text.
pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

/// Security-scheme checker: the principal the middleware admitted.
pub async fn principal(req: &Request, _: ApiKey) -> Option<Principal> {
    req.extensions().get::<Principal>().cloned()
}

/// Security-scheme checker for a scheme's further headers: admitted or not.
pub async fn admitted(req: &Request, _: ApiKey) -> Option<()> {
    req.extensions().get::<Principal>().map(|_| ())
}
