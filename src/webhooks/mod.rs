//! The webhook engine: turns outbox events into signed notifications and delivers them
//! at least once.
//!
//! One task per instance loops: dispatch new events into deliveries (`dispatch`), lease
//! the deliveries that are due, and send them — each payment's deliveries one after
//! another, different payments concurrently — through [`client::Client`]. Results are
//! written in batches. A receiver's 2xx (per dialect: StarPay wants exactly 200)
//! delivers; anything else is retried with exponential backoff and ±20 % jitter until
//! the retry window (24 h by default) closes, then the delivery is dead. A refused
//! target (not http(s), or a non-public address when that guard is on) is dead at once.
//!
//! Every instance may run the engine: leases (`FOR UPDATE SKIP LOCKED` on Postgres)
//! keep two from sending one delivery, and an instance that dies mid-send leaves a lease
//! that runs out, after which the delivery is sent again. A receiver can therefore see
//! a delivery twice (at least once), and a retry can arrive after later events of the
//! same payment: the delivery log keeps each payment's events in order, receivers
//! should use `X-Paybridge-Event` to spot repeats.

pub mod client;
pub mod dispatch;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use crate::config::WebhookConfig;
use crate::core::{Attempt, AttemptOutcome, Credential, Delivery, DeliveryGateway};
use crate::metrics::Metrics;
use client::Client;

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// First retry delay.
    pub backoff_initial: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// How long a delivery is retried.
    pub retry_window: Duration,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// Idle polling interval.
    pub poll: Duration,
    /// Refuse non-public receivers.
    pub block_private: bool,
}

impl Settings {
    /// From the `[webhooks]` section.
    pub fn new(config: &WebhookConfig, block_private: bool) -> Settings {
        Settings {
            timeout: Duration::from_millis(config.timeout_ms),
            backoff_initial: Duration::from_millis(config.backoff_initial_ms),
            backoff_max: Duration::from_millis(config.backoff_max_ms),
            retry_window: Duration::from_secs(config.retry_window_secs),
            concurrency: config.concurrency,
            poll: Duration::from_millis(config.poll_ms),
            block_private,
        }
    }

    /// The delay before the retry that follows `attempts` failed attempts.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let base = self.backoff_initial.saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1)));
        let capped = base.min(self.backoff_max);
        capped.mul_f64(rand::rng().random_range(0.8..1.2))
    }
}

/// A running engine.
pub struct Engine {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Engine {
    /// Starts delivering.
    pub fn start(gateway: DeliveryGateway, settings: Settings, metrics: Arc<Metrics>) -> Engine {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(gateway, settings, metrics, stopped));
        Engine { stop, task }
    }

    /// Stops claiming, lets deliveries in flight finish (each within its timeout) and
    /// gives back the ones not started.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

type Record = (Attempt, AttemptOutcome);

/// Signing credentials, briefly cached: for 5 s, and never past a change of
/// credentials made through this instance (a rotated key signs at once).
#[derive(Default)]
struct Credentials(Mutex<HashMap<i64, (Instant, u64, Credential)>>);

impl Credentials {
    async fn get(&self, gateway: &DeliveryGateway, id: i64) -> Option<Credential> {
        let generation = gateway.credentials_generation();
        if let Some((at, seen, credential)) = self.0.lock().ok()?.get(&id)
            && at.elapsed() < Duration::from_secs(5)
            && *seen == generation
        {
            return Some(credential.clone());
        }
        let credential = gateway.credential(id).await.ok()?;
        self.0.lock().ok()?.insert(id, (Instant::now(), generation, credential.clone()));
        Some(credential)
    }
}

/// Events dispatched in one round at most.
const DISPATCH_BATCH: u64 = 500;

async fn run(gateway: DeliveryGateway, settings: Settings, metrics: Arc<Metrics>, mut stop: watch::Receiver<bool>) {
    let client = Client::new(settings.timeout, settings.block_private);
    let (results, results_rx) = mpsc::channel::<Record>(4096);
    let writer = tokio::spawn(write_results(gateway.clone(), results_rx));
    // The queue gauges refresh every 20 polls, between 1 and 5 s.
    let refresh = (settings.poll * 20).clamp(Duration::from_secs(1), Duration::from_secs(5));
    let stats = tokio::spawn(report_queue(gateway.clone(), metrics.clone(), refresh));
    let permits = Arc::new(Semaphore::new(settings.concurrency));
    let freed = Arc::new(Notify::new());
    let credentials = Arc::new(Credentials::default());
    let events = gateway.events_written();
    let due = gateway.deliveries_due();
    // Long enough to send and record; a dead instance's deliveries are due again after it.
    let lease = settings.timeout * 2 + Duration::from_secs(5);
    let mut tasks = JoinSet::new();
    // Whether deliveries may be due: at start, after a round that made some, once a send
    // has finished (its payment's next delivery may go), when the core says so (a
    // replay, the test clock moved) and at every poll (retries).
    // Otherwise a round only dispatches: a claim is a write transaction, and under load
    // new events arrive far more often than deliveries fall due.
    let mut claim = true;
    // And at least once a poll interval, however busy new events keep the loop (retries
    // fall due with no wake-up of their own).
    let mut claimed_at = Instant::now();
    while !*stop.borrow() {
        let woken = events.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let mut busy = false;
        match gateway.dispatch_events(DISPATCH_BATCH, dispatch::deliveries).await {
            Ok(round) => {
                // A full round: more are waiting.
                busy |= round.events as u64 == DISPATCH_BATCH;
                claim |= round.deliveries > 0;
            }
            Err(err) => tracing::warn!(error = %err, "webhook dispatch failed"),
        }
        let free = permits.available_permits();
        claim |= claimed_at.elapsed() >= settings.poll;
        if claim && free > 0 {
            claim = false;
            claimed_at = Instant::now();
            let leased = claimed_at;
            match gateway.claim_deliveries(free as u64, lease).await {
                Ok(claimed) if !claimed.is_empty() => {
                    // Every free permit taken: more may be due at once.
                    claim = claimed.len() == free;
                    busy |= claim;
                    for group in by_subject(claimed) {
                        let Ok(permit) = permits.clone().try_acquire_many_owned(group.len() as u32) else {
                            let ids: Vec<i64> = group.iter().map(|d| d.id).collect();
                            let _ = gateway.release_deliveries(&ids).await;
                            continue;
                        };
                        let job = Job {
                            leased,
                            lease,
                            gateway: gateway.clone(),
                            client: client.clone(),
                            settings: settings.clone(),
                            metrics: metrics.clone(),
                            credentials: credentials.clone(),
                            results: results.clone(),
                            stop: stop.clone(),
                        };
                        let freed = freed.clone();
                        tasks.spawn(async move {
                            job.send_all(group).await;
                            drop(permit);
                            freed.notify_one();
                        });
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    claim = true;
                    tracing::warn!(error = %err, "webhook claim failed");
                }
            }
        }
        while tasks.try_join_next().is_some() {}
        if !busy {
            tokio::select! {
                () = &mut woken => {}
                () = freed.notified() => claim = true,
                // A permit kept for it if it came while this round ran.
                () = due.notified() => claim = true,
                () = tokio::time::sleep(settings.poll) => claim = true,
                _ = stop.changed() => {}
            }
        }
    }
    while tasks.join_next().await.is_some() {}
    drop(results);
    let _ = writer.await;
    stats.abort();
}

/// Claimed deliveries grouped by payment, each group in event order.
fn by_subject(claimed: Vec<Delivery>) -> Vec<Vec<Delivery>> {
    let mut groups: Vec<Vec<Delivery>> = Vec::new();
    for delivery in claimed {
        match groups.iter_mut().find(|g| g[0].subject_key == delivery.subject_key) {
            Some(group) => group.push(delivery),
            None => groups.push(vec![delivery]),
        }
    }
    groups
}

struct Job {
    /// When the group was claimed, and for how long.
    leased: Instant,
    lease: Duration,
    gateway: DeliveryGateway,
    client: Client,
    settings: Settings,
    metrics: Arc<Metrics>,
    credentials: Arc<Credentials>,
    results: mpsc::Sender<Record>,
    stop: watch::Receiver<bool>,
}

impl Job {
    /// Sends a payment's deliveries one after another. Stopping, or a lease too short
    /// for one more attempt (slow receivers), gives the rest back unsent.
    async fn send_all(&self, group: Vec<Delivery>) {
        let mut rest = group.into_iter();
        while let Some(delivery) = rest.next() {
            let lease_left = self.lease.saturating_sub(self.leased.elapsed());
            if *self.stop.borrow() || lease_left < self.settings.timeout + Duration::from_secs(2) {
                let ids: Vec<i64> = std::iter::once(delivery.id).chain(rest.map(|d| d.id)).collect();
                if let Err(err) = self.gateway.release_deliveries(&ids).await {
                    tracing::warn!(error = %err, "could not release deliveries");
                }
                return;
            }
            let record = self.send(delivery).await;
            if self.results.send(record).await.is_err() {
                return;
            }
        }
    }

    async fn send(&self, delivery: Delivery) -> Record {
        let attempted_at = self.gateway.now();
        let hooks = crate::adapters::webhooks(delivery.dialect);
        let credential = match delivery.credential_id {
            Some(id) => self.credentials.get(&self.gateway, id).await,
            None => None,
        };
        let Some(credential) = credential else {
            self.metrics.webhooks.outcomes.with_label_values(&["dead"]).inc();
            let attempt = Attempt {
                delivery_id: delivery.id,
                attempted_at,
                url: delivery.url.clone(),
                status_code: None,
                error: Some("its signing credential no longer exists".into()),
                latency_ms: 0,
                response_excerpt: None,
            };
            return (attempt, AttemptOutcome::Dead);
        };
        // A body that carries its own signature is signed again with the key of now.
        let body = hooks.resign(&delivery.body, &credential).unwrap_or_else(|| delivery.body.clone());
        let mut headers = hooks.sign(&body, &credential);
        headers.push(("X-Paybridge-Delivery", delivery.id.to_string()));
        headers.push(("X-Paybridge-Event", delivery.event_id.to_string()));
        let sent = self.client.post(&delivery.url, &delivery.content_type, &headers, body).await;
        let acknowledged = sent.status.is_some_and(|s| hooks.acknowledged(s));
        let outcome = if acknowledged {
            AttemptOutcome::Delivered
        } else if sent.refused {
            AttemptOutcome::Dead
        } else {
            let delay = self.settings.backoff(delivery.attempts + 1);
            let next = attempted_at + chrono::Duration::from_std(delay).unwrap_or_default();
            let window_ends =
                delivery.created_at + chrono::Duration::from_std(self.settings.retry_window).unwrap_or_default();
            if next > window_ends { AttemptOutcome::Dead } else { AttemptOutcome::Retry(next) }
        };
        let label = match (outcome, sent.refused) {
            (AttemptOutcome::Delivered, _) => "delivered",
            (AttemptOutcome::Dead, true) => "refused",
            (AttemptOutcome::Dead, false) => "dead",
            (AttemptOutcome::Retry(_), _) => "retry",
        };
        self.metrics.webhooks.outcomes.with_label_values(&[label]).inc();
        let attempt = Attempt {
            delivery_id: delivery.id,
            attempted_at,
            url: delivery.url,
            status_code: sent.status,
            error: sent.error,
            latency_ms: u32::try_from(sent.latency.as_millis()).unwrap_or(u32::MAX),
            response_excerpt: sent.excerpt,
        };
        (attempt, outcome)
    }
}

/// Writes results in batches: one transaction for however many have arrived.
async fn write_results(gateway: DeliveryGateway, mut rx: mpsc::Receiver<Record>) {
    let mut batch = Vec::with_capacity(256);
    while rx.recv_many(&mut batch, 256).await > 0 {
        let records = std::mem::take(&mut batch);
        if let Err(err) = gateway.record_attempts(records).await {
            // The leases run out and the deliveries are sent again: at least once.
            tracing::error!(error = %err, "could not record webhook attempts");
        }
    }
}

/// Keeps the queue gauges current.
async fn report_queue(gateway: DeliveryGateway, metrics: Arc<Metrics>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Ok(stats) = gateway.webhook_queue().await {
            metrics.webhooks.queue_depth.set(i64::try_from(stats.waiting).unwrap_or(i64::MAX));
            metrics.webhooks.oldest_due_seconds.set(stats.oldest_due_secs);
        }
        if let Ok(n) = gateway.undispatched_events().await {
            metrics.webhooks.undispatched.set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter() {
        let settings = Settings {
            timeout: Duration::from_secs(10),
            backoff_initial: Duration::from_secs(5),
            backoff_max: Duration::from_secs(60),
            retry_window: Duration::from_secs(86_400),
            concurrency: 1,
            poll: Duration::from_millis(100),
            block_private: true,
        };
        for (attempts, base) in [(1, 5.0), (2, 10.0), (3, 20.0), (4, 40.0), (5, 60.0), (30, 60.0)] {
            let delay = settings.backoff(attempts).as_secs_f64();
            assert!((base * 0.8..=base * 1.2).contains(&delay), "attempt {attempts}: {delay}");
        }
    }
}
