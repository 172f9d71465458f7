//! The transactional outbox: canonical events written in the same database transaction
//! as the state change they describe, for the webhook engine to deliver.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;

use super::store::entities::outbox_event;
use super::{CoreError, EventType, Gateway, Principal};

/// An event about to be written.
pub(super) struct NewEvent {
    pub merchant_id: i64,
    pub event_type: EventType,
    pub subject_id: Option<i64>,
    pub payload: serde_json::Value,
}

impl NewEvent {
    /// An event whose payload is the serialized `payload`.
    pub fn new(merchant_id: i64, event_type: EventType, subject_id: Option<i64>, payload: &impl Serialize) -> NewEvent {
        let payload = serde_json::to_value(payload).unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }));
        NewEvent { merchant_id, event_type, subject_id, payload }
    }
}

/// Writes events in one statement.
pub(super) async fn emit<C: ConnectionTrait>(conn: &C, events: Vec<NewEvent>) -> Result<(), CoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let now = super::now();
    let rows = events.into_iter().map(|e| outbox_event::ActiveModel {
        merchant_id: Set(e.merchant_id),
        event_type: Set(e.event_type.as_str().to_owned()),
        subject_id: Set(e.subject_id),
        payload: Set(e.payload),
        created_at: Set(now),
        ..Default::default()
    });
    outbox_event::Entity::insert_many(rows).exec(conn).await?;
    Ok(())
}

/// An event as stored in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Outbox id, increasing in insertion order. On Postgres ids are taken before
    /// commit, so a transaction that commits later can show a smaller id: a reader
    /// paging by `after` must allow for that.
    pub id: i64,
    /// Owner.
    pub merchant_id: i64,
    /// The canonical event name (`payment.succeeded`, …).
    pub event_type: String,
    /// The payment, refund or settlement id the event is about.
    pub subject_id: Option<i64>,
    /// Canonical snapshot of the subject.
    pub payload: serde_json::Value,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

impl Gateway {
    /// Events of a merchant with ids above `after`, oldest first.
    pub async fn events(&self, merchant_id: Option<i64>, after: i64, limit: u64) -> Result<Vec<Event>, CoreError> {
        let mut query = outbox_event::Entity::find().filter(outbox_event::Column::Id.gt(after));
        if let Some(merchant_id) = merchant_id {
            query = query.filter(outbox_event::Column::MerchantId.eq(merchant_id));
        }
        let rows = query.order_by_asc(outbox_event::Column::Id).limit(limit).all(&self.store().reader).await?;
        Ok(rows
            .into_iter()
            .map(|r| Event {
                id: r.id,
                merchant_id: r.merchant_id,
                event_type: r.event_type,
                subject_id: r.subject_id,
                payload: r.payload,
                created_at: r.created_at,
            })
            .collect())
    }

    /// Writes a `test.ping` event carrying the merchant's `data`, for the webhook engine
    /// to deliver like any other; returns its id.
    pub async fn emit_test_event(&self, principal: &Principal, data: serde_json::Value) -> Result<i64, CoreError> {
        if super::json_has_nul(&data) {
            return Err(CoreError::invalid("data", "must not contain NUL characters"));
        }
        let payload = serde_json::json!({ "data": data, "dialect": principal.dialect() });
        let row = outbox_event::ActiveModel {
            merchant_id: Set(principal.merchant_id()),
            event_type: Set(EventType::TestPing.as_str().to_owned()),
            subject_id: Set(None),
            payload: Set(payload),
            created_at: Set(super::now()),
            ..Default::default()
        };
        let id = outbox_event::Entity::insert(row).exec(&self.store().writer).await?.last_insert_id;
        self.notify_events();
        Ok(id)
    }
}
