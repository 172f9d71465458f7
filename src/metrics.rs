//! Prometheus metrics at `/metrics`: requests by service and status, and their latency.

use std::sync::Arc;
use std::time::Instant;

use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

/// This instance's metrics.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl Metrics {
    /// A fresh registry.
    pub fn new() -> Arc<Metrics> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("paybridge_http_requests_total", "HTTP requests by service and status"),
            &["service", "status"],
        )
        .expect("metric definition is valid");
        let latency = HistogramVec::new(
            HistogramOpts::new("paybridge_http_request_duration_seconds", "HTTP request latency by service"),
            &["service"],
        )
        .expect("metric definition is valid");
        registry.register(Box::new(requests.clone())).expect("registered once");
        registry.register(Box::new(latency.clone())).expect("registered once");
        Arc::new(Metrics { registry, requests, latency })
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8(buffer).unwrap_or_default()
    }
}

/// Counts and times requests, labelled by service: the first path segment when it is
/// one of `services`, else `other` (so labels stay few).
pub struct Track {
    /// Known services.
    pub services: Vec<&'static str>,
    /// Where to record.
    pub metrics: Arc<Metrics>,
}

impl<E: Endpoint> Middleware<E> for Track {
    type Output = TrackEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        TrackEndpoint { inner, services: self.services.clone(), metrics: self.metrics.clone() }
    }
}

/// The endpoint [`Track`] wraps.
pub struct TrackEndpoint<E> {
    inner: E,
    services: Vec<&'static str>,
    metrics: Arc<Metrics>,
}

impl<E: Endpoint> Endpoint for TrackEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        let start = Instant::now();
        let first = req.uri().path().trim_start_matches('/').split('/').next().unwrap_or_default();
        let service = self.services.iter().copied().find(|s| *s == first).unwrap_or("other");
        let response = match self.inner.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => e.into_response(),
        };
        self.metrics.latency.with_label_values(&[service]).observe(start.elapsed().as_secs_f64());
        self.metrics.requests.with_label_values(&[service, response.status().as_str()]).inc();
        Ok(response)
    }
}
