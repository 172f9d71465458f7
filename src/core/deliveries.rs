//! The webhook delivery queue, kept by the core so only it touches the database; what a
//! delivery says is decided outside (the webhook engine asks each dialect).
//!
//! - [`Gateway::dispatch_events`] turns undispatched outbox events into deliveries, in
//!   one transaction per batch: a delivery is unique per event and origin, so a batch
//!   repeated after a crash or run by two instances adds nothing.
//! - [`Gateway::claim_deliveries`] leases due deliveries in one statement
//!   (`UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`), skipping any
//!   whose payment (its "subject") has an earlier delivery in flight, so first attempts
//!   go out in event order. A lease that runs out (the instance died) makes a delivery
//!   due again.
//! - [`Gateway::record_attempts`] stores a batch of attempts and their outcome.

use std::collections::HashMap;

use chrono::{DateTime, Duration as ChronoDuration, DurationRound, Utc};
use sea_orm::sea_query::{ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};
use serde::Serialize;

use super::outbox::StoredEvent;
use super::store::entities::{merchant, outbox_event, webhook_attempt, webhook_delivery};
use super::store::{self};
use super::{CoreError, Credential, Dialect, Entity, Event, Merchant};

/// What one [`DeliveryGateway::dispatch_events`](super::DeliveryGateway::dispatch_events)
/// round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dispatched {
    /// Events marked dispatched.
    pub events: usize,
    /// Deliveries they made (some may have existed already).
    pub deliveries: usize,
}

/// A delivery the webhook engine asks for: where, what, and who signs it.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// The dialect that formats and signs it.
    pub dialect: Dialect,
    /// The credential whose secret signs it.
    pub credential_id: Option<i64>,
    /// The dialect's event name (`payment.success`).
    pub event_type: String,
    /// What ordering is kept within (`payment:12`).
    pub subject_key: String,
    /// The receiver.
    pub url: String,
    /// The body's content type.
    pub content_type: String,
    /// The body, exactly as it will be sent.
    pub body: Vec<u8>,
}

/// A delivery's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// Leased by a worker, being sent.
    Delivering,
    /// The receiver acknowledged it.
    Delivered,
    /// Given up after the retry window, or refused.
    Dead,
}

impl DeliveryStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivering => "delivering",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Dead => "dead",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<DeliveryStatus> {
        [DeliveryStatus::Pending, DeliveryStatus::Delivering, DeliveryStatus::Delivered, DeliveryStatus::Dead]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A webhook delivery.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// Id.
    pub id: i64,
    /// The outbox event it delivers.
    pub event_id: i64,
    /// `event`, or `replay-…` for a replay.
    pub origin: String,
    /// Owner.
    pub merchant_id: i64,
    /// Formatting dialect.
    pub dialect: Dialect,
    /// Signing credential.
    pub credential_id: Option<i64>,
    /// The dialect's event name.
    pub event_type: String,
    /// Ordering key.
    pub subject_key: String,
    /// Receiver.
    pub url: String,
    /// Content type.
    pub content_type: String,
    /// Body.
    #[serde(skip)]
    pub body: Vec<u8>,
    /// State.
    pub status: DeliveryStatus,
    /// Attempts so far.
    pub attempts: u32,
    /// Next attempt (when pending).
    pub next_attempt_at: DateTime<Utc>,
    /// Last HTTP status received.
    pub last_status_code: Option<u16>,
    /// Last error.
    pub last_error: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// When the event happened.
    pub event_at: DateTime<Utc>,
    /// Acknowledged.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One attempt.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// The delivery.
    pub delivery_id: i64,
    /// When.
    pub attempted_at: DateTime<Utc>,
    /// Where.
    pub url: String,
    /// The HTTP status, if a response came.
    pub status_code: Option<u16>,
    /// What went wrong before a response, if anything.
    pub error: Option<String>,
    /// How long it took.
    pub latency_ms: u32,
    /// The first KiB of the response body.
    pub response_excerpt: Option<String>,
}

/// What an attempt means for its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Acknowledged.
    Delivered,
    /// Try again at this time.
    Retry(DateTime<Utc>),
    /// Give up.
    Dead,
}

/// Filters for listing deliveries.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    /// Only this merchant's.
    pub merchant_id: Option<i64>,
    /// Only this dialect event name.
    pub event_type: Option<String>,
    /// Only in this state.
    pub status: Option<DeliveryStatus>,
    /// Only this subject (`payment:12`).
    pub subject_key: Option<String>,
    /// Only those whose last attempt failed and that will be tried again (pending, with
    /// an attempt made).
    pub failing: bool,
    /// At most this many.
    pub limit: u64,
}

/// Webhook attempts in one minute, for the dashboard's chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinuteActivity {
    /// The minute's start.
    pub minute: DateTime<Utc>,
    /// Attempts the receiver answered 2xx.
    pub delivered: u64,
    /// Attempts that failed (another status, a timeout, a refused connection).
    pub failed: u64,
}

/// The queue at a glance, for metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueStats {
    /// Deliveries waiting (pending or in flight).
    pub waiting: u64,
    /// Seconds the oldest due delivery has been due.
    pub oldest_due_secs: f64,
}

fn delivery(row: webhook_delivery::Model) -> Result<Delivery, CoreError> {
    let corrupt = |what: &str| CoreError::Internal(format!("stored delivery {} has a bad {what}", row.id));
    Ok(Delivery {
        id: row.id,
        event_id: row.event_id,
        origin: row.origin.clone(),
        merchant_id: row.merchant_id,
        dialect: Dialect::parse(&row.dialect).ok_or_else(|| corrupt("dialect"))?,
        credential_id: row.credential_id,
        event_type: row.event_type.clone(),
        subject_key: row.subject_key.clone(),
        url: row.url.clone(),
        content_type: row.content_type.clone(),
        status: DeliveryStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
        attempts: u32::try_from(row.attempts).unwrap_or_default(),
        next_attempt_at: row.next_attempt_at,
        last_status_code: row.last_status_code.and_then(|c| u16::try_from(c).ok()),
        last_error: row.last_error.clone(),
        created_at: row.created_at,
        event_at: row.event_at,
        delivered_at: row.delivered_at,
        body: row.body,
    })
}

/// `?` placeholders as the backend wants them (`$1…` on Postgres).
fn placeholders(backend: DatabaseBackend, sql: &str) -> String {
    if backend != DatabaseBackend::Postgres {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

impl super::DeliveryGateway {
    /// Dispatches up to `limit` undispatched events, oldest first: `format` says, for
    /// each event, which deliveries it makes (given the merchant and its credentials).
    /// Returns how many events were dispatched and how many deliveries they made.
    pub async fn dispatch_events<F>(&self, limit: u64, format: F) -> Result<Dispatched, CoreError>
    where
        F: Fn(&Event, &Merchant, &[Credential]) -> Vec<NewDelivery>,
    {
        let txn = self.begin_write().await?;
        use outbox_event::Column as C;
        // While this instance keeps events typed, their ids first: the kept ones need
        // nothing more. Otherwise (Postgres, or nothing kept) the rows whole at once.
        let keeps = !self.inner.recent.is_empty();
        let payload = sea_orm::sea_query::Expr::cust("CAST(payload AS TEXT)");
        let mut query = outbox_event::Entity::find().select_only().column(C::Id);
        if !keeps {
            query = query.columns([C::MerchantId, C::EventType, C::CreatedAt]).column_as(payload.clone(), "payload");
        }
        query = query.filter(C::DispatchedAt.is_null()).order_by_asc(C::Id).limit(limit);
        if self.store().locks_rows() {
            query = query
                .lock_with_behavior(sea_orm::sea_query::LockType::Update, sea_orm::sea_query::LockBehavior::SkipLocked);
        }
        let (ids, mut stored): (Vec<i64>, HashMap<i64, StoredEvent>) = if keeps {
            (query.into_tuple::<i64>().all(&txn).await?, HashMap::new())
        } else {
            let rows = query.into_model::<StoredEvent>().all(&txn).await?;
            (rows.iter().map(|r| r.id).collect(), rows.into_iter().map(|row| (row.id, row)).collect())
        };
        if ids.is_empty() {
            return Ok(Dispatched::default());
        }
        let mut events = self.inner.recent.take(&ids);
        let missing: Vec<i64> = ids.iter().zip(&events).filter(|(_, kept)| kept.is_none()).map(|(id, _)| *id).collect();
        if keeps && !missing.is_empty() {
            let rows = outbox_event::Entity::find()
                .select_only()
                .columns([C::Id, C::MerchantId, C::EventType, C::CreatedAt])
                .column_as(payload, "payload")
                .filter(C::Id.is_in(missing))
                .into_model::<StoredEvent>()
                .all(&txn)
                .await?;
            stored.extend(rows.into_iter().map(|row| (row.id, row)));
        }
        for (id, event) in ids.iter().zip(events.iter_mut()) {
            if event.is_some() {
                continue;
            }
            let Some(row) = stored.remove(id) else { continue };
            match Event::read(&row) {
                Ok(read) => *event = Some(read),
                // Marked dispatched with nothing sent, so it does not hold the queue.
                Err(err) => {
                    tracing::error!(event = row.id, error = %err, "unreadable outbox event: no notification sent")
                }
            }
        }
        let events: Vec<Event> = events.into_iter().flatten().collect();
        let mut merchant_ids: Vec<i64> = events.iter().map(|e| e.merchant_id).collect();
        merchant_ids.sort_unstable();
        merchant_ids.dedup();
        let merchants: Vec<Merchant> = merchant::Entity::find()
            .filter(merchant::Column::Id.is_in(merchant_ids.clone()))
            .all(&txn)
            .await?
            .into_iter()
            .map(store::merchant)
            .collect::<Result<_, _>>()?;
        let credentials: Vec<Credential> = super::store::entities::credential::Entity::find()
            .filter(super::store::entities::credential::Column::MerchantId.is_in(merchant_ids))
            .filter(super::store::entities::credential::Column::Status.eq("active"))
            .order_by_asc(super::store::entities::credential::Column::Id)
            .all(&txn)
            .await?
            .into_iter()
            .map(store::credential)
            .collect::<Result<_, _>>()?;
        let now = self.now();
        let mut deliveries = Vec::new();
        for event in events {
            let Some(merchant) = merchants.iter().find(|m| m.id == event.merchant_id) else { continue };
            let own: Vec<Credential> = credentials.iter().filter(|c| c.merchant_id == merchant.id).cloned().collect();
            for new in format(&event, merchant, &own) {
                deliveries.push(webhook_delivery::ActiveModel {
                    event_id: Set(event.id),
                    origin: Set("event".to_owned()),
                    merchant_id: Set(event.merchant_id),
                    dialect: Set(new.dialect.as_str().to_owned()),
                    credential_id: Set(new.credential_id),
                    event_type: Set(new.event_type),
                    subject_key: Set(new.subject_key),
                    url: Set(new.url),
                    content_type: Set(new.content_type),
                    body: Set(new.body),
                    status: Set(DeliveryStatus::Pending.as_str().to_owned()),
                    attempts: Set(0),
                    next_attempt_at: Set(now),
                    lease_until: Set(None),
                    last_status_code: Set(None),
                    last_error: Set(None),
                    created_at: Set(now),
                    event_at: Set(event.created_at),
                    delivered_at: Set(None),
                    ..Default::default()
                });
            }
        }
        for chunk in deliveries.chunks(500) {
            webhook_delivery::Entity::insert_many(chunk.to_vec())
                .on_conflict(
                    OnConflict::columns([webhook_delivery::Column::EventId, webhook_delivery::Column::Origin])
                        .do_nothing()
                        .to_owned(),
                )
                .try_insert()
                .exec_without_returning(&txn)
                .await?;
        }
        let dispatched = Dispatched { events: ids.len(), deliveries: deliveries.len() };
        outbox_event::Entity::update_many()
            .col_expr(outbox_event::Column::DispatchedAt, sea_orm::sea_query::Expr::val(now))
            .filter(outbox_event::Column::Id.is_in(ids))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(dispatched)
    }

    /// Leases up to `limit` due deliveries for `lease`.
    pub async fn claim_deliveries(&self, limit: u64, lease: std::time::Duration) -> Result<Vec<Delivery>, CoreError> {
        let now = self.now();
        // Due times follow the test clock; leases the system's: a lease is about a send
        // still in flight, and advancing the clock must not hand it to another worker.
        let wall = super::clock::system_now();
        let until = wall + ChronoDuration::from_std(lease).unwrap_or(ChronoDuration::seconds(60));
        let backend = self.store().backend();
        let lock = if backend == DatabaseBackend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE webhook_deliveries SET status = 'delivering', lease_until = ? \
             WHERE id IN (SELECT d.id FROM webhook_deliveries d \
               WHERE ((d.status = 'pending' AND d.next_attempt_at <= ?) \
                  OR (d.status = 'delivering' AND d.lease_until < ?)) \
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e \
                  WHERE e.subject_key = d.subject_key AND e.event_id < d.event_id \
                  AND e.status = 'delivering' AND e.lease_until >= ?) \
               ORDER BY d.event_id, d.id LIMIT {limit}{lock}) \
             RETURNING *"
        );
        let values = vec![until.into(), now.into(), wall.into(), wall.into()];
        let statement = Statement::from_sql_and_values(backend, placeholders(backend, &sql), values);
        let txn = self.begin_write().await?;
        let rows = txn.query_all_raw(statement).await?;
        txn.commit().await?;
        let mut claimed = rows
            .iter()
            .map(|row| webhook_delivery::Model::from_query_result(row, "").map_err(CoreError::from).and_then(delivery))
            .collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|d| (d.event_id, d.id));
        Ok(claimed)
    }

    /// Stores attempts and applies their outcomes, in one transaction.
    pub async fn record_attempts(&self, records: Vec<(Attempt, AttemptOutcome)>) -> Result<(), CoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let txn = self.begin_write().await?;
        let rows = records.iter().map(|(a, _)| webhook_attempt::ActiveModel {
            delivery_id: Set(a.delivery_id),
            attempted_at: Set(a.attempted_at),
            url: Set(a.url.clone()),
            status_code: Set(a.status_code.map(i32::from)),
            error: Set(a.error.clone()),
            latency_ms: Set(i32::try_from(a.latency_ms).unwrap_or(i32::MAX)),
            response_excerpt: Set(a.response_excerpt.clone()),
            ..Default::default()
        });
        webhook_attempt::Entity::insert_many(rows).exec_without_returning(&txn).await?;
        for (attempt, outcome) in &records {
            let (status, next, delivered_at) = match outcome {
                AttemptOutcome::Delivered => {
                    (DeliveryStatus::Delivered, attempt.attempted_at, Some(attempt.attempted_at))
                }
                AttemptOutcome::Retry(at) => (DeliveryStatus::Pending, *at, None),
                AttemptOutcome::Dead => (DeliveryStatus::Dead, attempt.attempted_at, None),
            };
            let change = webhook_delivery::ActiveModel {
                status: Set(status.as_str().to_owned()),
                next_attempt_at: Set(next),
                lease_until: Set(None),
                last_status_code: Set(attempt.status_code.map(i32::from)),
                last_error: Set(attempt.error.clone()),
                delivered_at: Set(delivered_at),
                ..Default::default()
            };
            webhook_delivery::Entity::update_many()
                .set(change)
                .col_expr(
                    webhook_delivery::Column::Attempts,
                    sea_orm::sea_query::Expr::col(webhook_delivery::Column::Attempts).add(1),
                )
                .filter(webhook_delivery::Column::Id.eq(attempt.delivery_id))
                .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Delivering.as_str()))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Gives leased deliveries back without an attempt (a worker stopping).
    pub async fn release_deliveries(&self, ids: &[i64]) -> Result<(), CoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let change = webhook_delivery::ActiveModel {
            status: Set(DeliveryStatus::Pending.as_str().to_owned()),
            lease_until: Set(None),
            ..Default::default()
        };
        webhook_delivery::Entity::update_many()
            .set(change)
            .filter(webhook_delivery::Column::Id.is_in(ids.to_vec()))
            .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Delivering.as_str()))
            .exec(&self.store().writer)
            .await?;
        Ok(())
    }
}

impl super::AdminGateway {
    /// Deliveries, newest first.
    pub async fn deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<Delivery>, CoreError> {
        let mut query = webhook_delivery::Entity::find();
        if let Some(merchant_id) = filter.merchant_id {
            query = query.filter(webhook_delivery::Column::MerchantId.eq(merchant_id));
        }
        if let Some(event_type) = &filter.event_type {
            query = query.filter(webhook_delivery::Column::EventType.eq(event_type.as_str()));
        }
        if let Some(status) = filter.status {
            query = query.filter(webhook_delivery::Column::Status.eq(status.as_str()));
        }
        if let Some(subject) = &filter.subject_key {
            query = query.filter(webhook_delivery::Column::SubjectKey.eq(subject.as_str()));
        }
        if filter.failing {
            query = query
                .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
                .filter(webhook_delivery::Column::Attempts.gt(0));
        }
        let rows =
            query.order_by_desc(webhook_delivery::Column::Id).limit(filter.limit).all(&self.store().reader).await?;
        rows.into_iter().map(delivery).collect()
    }

    /// One delivery and its attempts, oldest attempt first.
    pub async fn delivery(&self, id: i64) -> Result<(Delivery, Vec<Attempt>), CoreError> {
        let db = &self.store().reader;
        let row =
            webhook_delivery::Entity::find_by_id(id).one(db).await?.ok_or(CoreError::NotFound(Entity::Delivery))?;
        let mut attempts = self.attempts_of(&[id]).await?;
        Ok((delivery(row)?, attempts.remove(&id).unwrap_or_default()))
    }

    /// The attempts at each of `ids`, oldest first.
    pub async fn attempts_of(&self, ids: &[i64]) -> Result<HashMap<i64, Vec<Attempt>>, CoreError> {
        let rows = webhook_attempt::Entity::find()
            .filter(webhook_attempt::Column::DeliveryId.is_in(ids.iter().copied()))
            .order_by_asc(webhook_attempt::Column::Id)
            .all(&self.store().reader)
            .await?;
        let mut attempts: HashMap<i64, Vec<Attempt>> = HashMap::new();
        for a in rows {
            attempts.entry(a.delivery_id).or_default().push(Attempt {
                delivery_id: a.delivery_id,
                attempted_at: a.attempted_at,
                url: a.url,
                status_code: a.status_code.and_then(|c| u16::try_from(c).ok()),
                error: a.error,
                latency_ms: u32::try_from(a.latency_ms).unwrap_or_default(),
                response_excerpt: a.response_excerpt,
            });
        }
        Ok(attempts)
    }

    /// Attempts per minute over the last `minutes` minutes (by the core's clock), oldest
    /// first, every minute present.
    pub async fn delivery_activity(&self, minutes: u32) -> Result<Vec<MinuteActivity>, CoreError> {
        use sea_orm::{Statement, TryGetable};
        let now = self.now();
        let end = now.duration_trunc(ChronoDuration::minutes(1)).unwrap_or(now) + ChronoDuration::minutes(1);
        let start = end - ChronoDuration::minutes(i64::from(minutes));
        let backend = self.store().backend();
        let minute = if backend == DatabaseBackend::Postgres {
            "to_char(attempted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')"
        } else {
            // SQLite keeps the timestamp as its RFC 3339 text, in UTC.
            "replace(substr(attempted_at, 1, 16), 'T', ' ')"
        };
        let sql = format!(
            "SELECT {minute} AS minute, \
                    SUM(CASE WHEN status_code BETWEEN 200 AND 299 THEN 1 ELSE 0 END) AS delivered, \
                    SUM(CASE WHEN status_code BETWEEN 200 AND 299 THEN 0 ELSE 1 END) AS failed \
             FROM webhook_attempts WHERE attempted_at >= ? AND attempted_at < ? GROUP BY 1"
        );
        let statement =
            Statement::from_sql_and_values(backend, placeholders(backend, &sql), vec![start.into(), end.into()]);
        let rows = self.store().reader.query_all_raw(statement).await?;
        let mut counts: HashMap<DateTime<Utc>, (u64, u64)> = HashMap::new();
        for row in rows {
            let text = String::try_get(&row, "", "minute").map_err(sea_orm::DbErr::from)?;
            let count = |name| {
                i64::try_get(&row, "", name).map(|n| u64::try_from(n).unwrap_or_default()).map_err(sea_orm::DbErr::from)
            };
            let at = chrono::NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M")
                .map_err(|e| CoreError::Internal(format!("attempt minute {text:?}: {e}")))?
                .and_utc();
            counts.insert(at, (count("delivered")?, count("failed")?));
        }
        Ok((0..minutes)
            .map(|i| {
                let minute = start + ChronoDuration::minutes(i64::from(i));
                let (delivered, failed) = counts.get(&minute).copied().unwrap_or_default();
                MinuteActivity { minute, delivered, failed }
            })
            .collect())
    }

    /// A new delivery of the same event, body and signing as delivery `id`, due now.
    pub async fn replay_delivery(&self, id: i64) -> Result<Delivery, CoreError> {
        let txn = self.begin_write().await?;
        let original =
            webhook_delivery::Entity::find_by_id(id).one(&txn).await?.ok_or(CoreError::NotFound(Entity::Delivery))?;
        let now = self.now();
        let replay = webhook_delivery::ActiveModel {
            event_id: Set(original.event_id),
            origin: Set(format!("replay-{}-{}", original.id, hex::encode(rand::random::<[u8; 6]>()))),
            merchant_id: Set(original.merchant_id),
            dialect: Set(original.dialect),
            credential_id: Set(original.credential_id),
            event_type: Set(original.event_type),
            subject_key: Set(original.subject_key),
            url: Set(original.url),
            content_type: Set(original.content_type),
            body: Set(original.body),
            status: Set(DeliveryStatus::Pending.as_str().to_owned()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            lease_until: Set(None),
            last_status_code: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            event_at: Set(original.event_at),
            delivered_at: Set(None),
            ..Default::default()
        };
        let inserted = webhook_delivery::Entity::insert(replay).exec_with_returning(&txn).await?;
        txn.commit().await?;
        self.notify_due();
        delivery(inserted)
    }
}

impl super::DeliveryGateway {
    /// How many deliveries wait and how long the oldest due one has waited.
    pub async fn webhook_queue(&self) -> Result<QueueStats, CoreError> {
        let db = &self.store().reader;
        let waiting = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::Status.is_in(["pending", "delivering"]))
            .count(db)
            .await?;
        let oldest: Option<webhook_delivery::Model> = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::Status.eq("pending"))
            .filter(webhook_delivery::Column::NextAttemptAt.lte(self.now()))
            .order_by_asc(webhook_delivery::Column::NextAttemptAt)
            .one(db)
            .await?;
        let oldest_due_secs =
            oldest.map_or(0.0, |d| Ord::max((self.now() - d.next_attempt_at).num_milliseconds(), 0) as f64 / 1000.0);
        Ok(QueueStats { waiting, oldest_due_secs })
    }

    /// Outbox events not yet dispatched (the dispatcher's backlog).
    pub async fn undispatched_events(&self) -> Result<u64, CoreError> {
        Ok(outbox_event::Entity::find()
            .filter(outbox_event::Column::DispatchedAt.is_null())
            .count(&self.store().reader)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_for_postgres() {
        assert_eq!(placeholders(DatabaseBackend::Postgres, "a = ? AND b = ?"), "a = $1 AND b = $2");
        assert_eq!(placeholders(DatabaseBackend::Sqlite, "a = ?"), "a = ?");
    }
}
