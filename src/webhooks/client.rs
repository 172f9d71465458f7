//! Sending one webhook: an HTTP client that follows no redirects, reads at most a
//! little of the answer, and — when configured — refuses receivers on non-public
//! addresses. The refusal is made by the client's own DNS resolver, on the addresses
//! it is about to connect to, so a name cannot resolve to a public address for a check
//! and to a private one for the connection.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// How much of a response is kept.
pub const EXCERPT_BYTES: usize = 1024;

/// What came of one POST.
#[derive(Debug)]
pub struct Sent {
    /// The status, when a response came.
    pub status: Option<u16>,
    /// What went wrong before a response.
    pub error: Option<String>,
    /// Refused before sending (a non-public target): not worth retrying.
    pub refused: bool,
    /// How long it took.
    pub latency: Duration,
    /// The start of the response body.
    pub excerpt: Option<String>,
}

/// True for addresses anyone on the internet could reach.
pub fn is_public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = addrs.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                let refused: Box<dyn std::error::Error + Send + Sync> =
                    format!("{} resolves only to non-public addresses", name.as_str()).into();
                return Err(refused);
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// The webhook HTTP client.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    block_private: bool,
}

impl Client {
    /// A client with `timeout` per attempt, refusing non-public receivers when
    /// `block_private`.
    pub fn new(timeout: Duration, block_private: bool) -> Client {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("paybridge-webhooks/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(64);
        if block_private {
            builder = builder.dns_resolver(Arc::new(GuardedResolver));
        }
        Client { http: builder.build().expect("an HTTP client with default TLS builds"), block_private }
    }

    /// POSTs `body` to `url` with `headers`.
    pub async fn post(&self, url: &str, content_type: &str, headers: &[(&str, String)], body: Vec<u8>) -> Sent {
        let started = Instant::now();
        let refuse = |error: String| Sent {
            status: None,
            error: Some(error),
            refused: true,
            latency: started.elapsed(),
            excerpt: None,
        };
        let parsed = match url::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u,
            _ => return refuse(format!("refused: {url:?} is not an http(s) URL")),
        };
        if self.block_private {
            let literal = match parsed.host() {
                Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
                _ => None,
            };
            if literal.is_some_and(|ip| !is_public(ip)) {
                return refuse(format!("refused: {} is not a public address", parsed.host_str().unwrap_or_default()));
            }
        }
        let mut request = self.http.post(parsed).header(reqwest::header::CONTENT_TYPE, content_type).body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        match request.send().await {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let mut excerpt = Vec::new();
                while excerpt.len() < EXCERPT_BYTES {
                    match response.chunk().await {
                        Ok(Some(chunk)) => {
                            excerpt.extend_from_slice(&chunk[..chunk.len().min(EXCERPT_BYTES - excerpt.len())])
                        }
                        _ => break,
                    }
                }
                Sent {
                    status: Some(status),
                    error: None,
                    refused: false,
                    latency: started.elapsed(),
                    excerpt: Some(String::from_utf8_lossy(&excerpt).into_owned()),
                }
            }
            Err(err) => {
                let refused = self.block_private && error_chain(&err).contains("non-public");
                Sent {
                    status: None,
                    error: Some(if refused { format!("refused: {}", error_chain(&err)) } else { error_chain(&err) }),
                    refused,
                    latency: started.elapsed(),
                    excerpt: None,
                }
            }
        }
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
