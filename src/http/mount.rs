//! Where a dialect was reached, as its client sees it: under `/<dialect>` on the main
//! listener, at the root of the dialect's own port, or at the root of a host whose
//! `Host` header names it (`[dialects.<name>]` in the configuration).
//!
//! Real clients resolve absolute paths against their base URL (.NET's
//! `new Uri(base, "/payments/h2h/1")`, Python's `urljoin`, browsers) and lose its path,
//! so a dialect must work at a root too; and every link it hands out — the hosted
//! checkout, PayRequest's `/l/` links, QR Money's challenge page — must point at the
//! mount the client used. Each mount puts a [`Mount`] in the request's extensions for
//! its handlers to build those links from.

use std::sync::Arc;

use poem::{Endpoint, Request, Response};

/// Where the hosted checkout lives under every mount's origin (the providers' own
/// paths never start with it).
pub const CHECKOUT_PATH: &str = "/checkout";

/// Where a root mount serves paybridge's own pages (Swagger UI, the spec), out of the
/// way of the provider's paths.
pub const ROOT_DOCS_PATH: &str = "/_paybridge";

/// The mount a request reached: its origin and the path its dialect's own paths start
/// under (`/qrmoney`, or empty at a root).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    origin: Arc<str>,
    prefix: &'static str,
}

impl Mount {
    /// Under `prefix` (`/qrmoney`) at `origin` (`http://127.0.0.1:8080`).
    pub fn at_path(origin: &str, prefix: &'static str) -> Mount {
        Mount { origin: origin.trim_end_matches('/').into(), prefix }
    }

    /// At the root of `origin` (`http://127.0.0.1:8085`).
    pub fn at_root(origin: &str) -> Mount {
        Mount::at_path(origin, "")
    }

    /// A path of the dialect's own (`/l/{token}`) as an absolute URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}{path}", self.origin, self.prefix)
    }

    /// The hosted checkout of the payment with `checkout_token`, on this mount's
    /// origin.
    pub fn checkout_url(&self, checkout_token: &str) -> String {
        format!("{}{CHECKOUT_PATH}/{checkout_token}", self.origin)
    }
}

/// Host names and the root endpoints they mount: requests to the main listener whose
/// `Host` (compared without case and port) is one of them go to that dialect at `/`;
/// every other request goes to `fallback`, as if no host were configured.
pub struct HostMounts<F> {
    hosts: Vec<(String, poem::endpoint::BoxEndpoint<'static, Response>)>,
    scheme: &'static str,
    fallback: F,
}

impl<F> HostMounts<F> {
    /// `hosts` (lower case, without port) in front of `fallback`; links use `scheme`.
    pub fn new(
        hosts: Vec<(String, poem::endpoint::BoxEndpoint<'static, Response>)>,
        scheme: &'static str,
        fallback: F,
    ) -> HostMounts<F> {
        HostMounts { hosts, scheme, fallback }
    }
}

/// The host a request names, as sent (`qrmoney.pay.example:8080`): its `Host` header,
/// or the authority of an absolute request URI (HTTP/2).
fn requested_host(req: &Request) -> Option<&str> {
    req.headers()
        .get(poem::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .map(str::trim)
        .filter(|h| !h.is_empty())
}

/// `host[:port]` split into the lower-case name and a valid port, if any (brackets of
/// an IPv6 literal kept).
pub fn split_host(host: &str) -> (String, Option<u16>) {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && (!name.contains(':') || name.ends_with(']')) => {
            (name, port.parse().ok())
        }
        _ => (host, None),
    };
    (name.to_ascii_lowercase(), port)
}

impl<F: Endpoint<Output = Response>> Endpoint for HostMounts<F> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        if let Some(sent) = requested_host(&req) {
            let (name, port) = split_host(sent);
            if let Some((_, endpoint)) = self.hosts.iter().find(|(host, _)| *host == name) {
                // The name is one the configuration lists (never the client's free
                // text); only the port comes from the request.
                let origin = match port {
                    Some(port) => format!("{}://{name}:{port}", self.scheme),
                    None => format!("{}://{name}", self.scheme),
                };
                req.extensions_mut().insert(Mount::at_root(&origin));
                return endpoint.call(req).await;
            }
        }
        self.fallback.call(req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_compare_without_case_and_port() {
        assert_eq!(split_host("QRMoney.Pay.Example:8080"), ("qrmoney.pay.example".into(), Some(8080)));
        assert_eq!(split_host("qrmoney.pay.example"), ("qrmoney.pay.example".into(), None));
        assert_eq!(split_host("[::1]:8085"), ("[::1]".into(), Some(8085)));
        assert_eq!(split_host("[::1]"), ("[::1]".into(), None));
        assert_eq!(split_host("host:notaport"), ("host".into(), None));
    }

    #[test]
    fn links_follow_the_mount() {
        let path = Mount::at_path("http://127.0.0.1:8080/", "/payrequest");
        assert_eq!(path.checkout_url("t"), "http://127.0.0.1:8080/checkout/t", "the checkout is at the origin");
        assert_eq!(path.url("/l/abc"), "http://127.0.0.1:8080/payrequest/l/abc");
        let root = Mount::at_root("http://127.0.0.1:8084");
        assert_eq!(root.checkout_url("t"), "http://127.0.0.1:8084/checkout/t");
        assert_eq!(root.url("/l/abc"), "http://127.0.0.1:8084/l/abc");
    }
}
