//! Prometheus metrics at `/metrics`: requests by service and status, their latency, and
//! the webhook engine's outcomes and queue.

use std::sync::Arc;
use std::time::Instant;

use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// This instance's metrics.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    /// Requests counted in memory because the shared rate-limit store did not answer.
    rate_limit_fallbacks: IntCounter,
    /// Webhook delivery metrics.
    pub webhooks: WebhookMetrics,
}

/// Webhook delivery metrics.
pub struct WebhookMetrics {
    /// Attempts by outcome: delivered, retry, dead, refused.
    pub outcomes: IntCounterVec,
    /// Deliveries waiting (pending or in flight).
    pub queue_depth: IntGauge,
    /// Seconds the oldest due delivery has waited.
    pub oldest_due_seconds: Gauge,
    /// Outbox events not yet turned into deliveries.
    pub undispatched: IntGauge,
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
        let rate_limit_fallbacks = IntCounter::new(
            "paybridge_rate_limit_store_fallbacks_total",
            "Requests counted in this instance's memory because the shared rate-limit store (Redis) did not answer",
        )
        .expect("metric definition is valid");
        let webhooks = WebhookMetrics {
            outcomes: IntCounterVec::new(
                Opts::new("paybridge_webhook_deliveries_total", "Webhook delivery attempts by outcome"),
                &["outcome"],
            )
            .expect("metric definition is valid"),
            queue_depth: IntGauge::new("paybridge_webhook_queue_depth", "Webhook deliveries waiting or in flight")
                .expect("metric definition is valid"),
            oldest_due_seconds: Gauge::new(
                "paybridge_webhook_oldest_due_seconds",
                "Seconds the oldest due webhook delivery has waited",
            )
            .expect("metric definition is valid"),
            undispatched: IntGauge::new("paybridge_outbox_undispatched", "Outbox events not yet dispatched")
                .expect("metric definition is valid"),
        };
        registry.register(Box::new(requests.clone())).expect("registered once");
        registry.register(Box::new(latency.clone())).expect("registered once");
        registry.register(Box::new(rate_limit_fallbacks.clone())).expect("registered once");
        registry.register(Box::new(webhooks.outcomes.clone())).expect("registered once");
        registry.register(Box::new(webhooks.queue_depth.clone())).expect("registered once");
        registry.register(Box::new(webhooks.oldest_due_seconds.clone())).expect("registered once");
        registry.register(Box::new(webhooks.undispatched.clone())).expect("registered once");
        Arc::new(Metrics { registry, requests, latency, rate_limit_fallbacks, webhooks })
    }

    /// Brings the count of rate-limit fallbacks up to the core's (which only grows).
    pub fn set_rate_limit_fallbacks(&self, total: u64) {
        let counted = self.rate_limit_fallbacks.get();
        if total > counted {
            self.rate_limit_fallbacks.inc_by(total - counted);
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8(buffer).unwrap_or_default()
    }
}

/// Counts and times requests, labelled by service: the first path segment when it is
/// one of `services`, else `otherwise` (so labels stay few).
pub struct Track {
    /// Known services.
    pub services: Vec<&'static str>,
    /// The label of every other path: `other`, or the dialect a root mount serves.
    pub otherwise: &'static str,
    /// Where to record.
    pub metrics: Arc<Metrics>,
}

impl<E: Endpoint> Middleware<E> for Track {
    type Output = TrackEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        TrackEndpoint {
            inner,
            services: self.services.clone(),
            otherwise: self.otherwise,
            metrics: self.metrics.clone(),
        }
    }
}

/// The endpoint [`Track`] wraps.
pub struct TrackEndpoint<E> {
    inner: E,
    services: Vec<&'static str>,
    otherwise: &'static str,
    metrics: Arc<Metrics>,
}

impl<E: Endpoint> Endpoint for TrackEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        let start = Instant::now();
        let first = req.uri().path().trim_start_matches('/').split('/').next().unwrap_or_default();
        let service = self.services.iter().copied().find(|s| *s == first).unwrap_or(self.otherwise);
        let response = match self.inner.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => e.into_response(),
        };
        self.metrics.latency.with_label_values(&[service]).observe(start.elapsed().as_secs_f64());
        self.metrics.requests.with_label_values(&[service, response.status().as_str()]).inc();
        Ok(response)
    }
}
