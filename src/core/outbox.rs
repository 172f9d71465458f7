//! The transactional outbox: canonical events written in the same database transaction
//! as the state change they describe, for the webhook engine to deliver.
//!
//! An event is typed: its [`EventType`] (`kind`) and a [`Payload`] of the matching
//! shape, checked when it is written and when it is read back. What is stored is the
//! payload's JSON (`{"payment": …}`, `{"refund": …, "payment": …}`, …), which the admin
//! API's event log shows as it is ([`EventRecord`]).

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

use super::store::entities::outbox_event;
use super::{CoreError, Dialect, EventType, Payment, Payout, Principal, Refund, Settlement};

/// A user (a credential with a role) as its events carry it: without its key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserSnapshot {
    /// The credential's id.
    pub id: i64,
    /// Owner.
    pub merchant_id: i64,
    /// Its label.
    pub name: Option<String>,
    /// Its role.
    pub role: Option<String>,
    /// `active` or `suspended`.
    pub status: String,
    /// The dialect's identifiers.
    pub extra: Value,
}

impl From<&super::Credential> for UserSnapshot {
    /// The user without its key.
    fn from(user: &super::Credential) -> Self {
        UserSnapshot {
            id: user.id,
            merchant_id: user.merchant_id,
            name: user.label.clone(),
            role: user.role.clone(),
            status: if user.active { "active" } else { "suspended" }.to_owned(),
            extra: Value::Object(user.settings.to_json()),
        }
    }
}

/// What an event carries: a snapshot of its subject after the change.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// `payment.*`: the payment.
    Payment(Payment),
    /// `refund.*`: the refund and its payment.
    Refund {
        /// The refund.
        refund: Refund,
        /// Its payment.
        payment: Payment,
    },
    /// `payout.*`: the payout.
    Payout(Payout),
    /// `settlement.*`: the settlement (a merchant-level event: every dialect hears it).
    Settlement(Settlement),
    /// `user.*`: the user and the dialect it belongs to.
    User {
        /// The user.
        user: UserSnapshot,
        /// Its dialect.
        dialect: Dialect,
    },
    /// `test.ping`: the merchant's data, for the dialect that asked.
    Ping {
        /// What the merchant sent.
        data: Value,
        /// The dialect it asked through.
        dialect: Dialect,
    },
}

/// The payload shape each kind of event carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Payment,
    Refund,
    Payout,
    Settlement,
    User,
    Ping,
}

fn shape_of(kind: EventType) -> Shape {
    use EventType as E;
    match kind {
        E::PaymentCreated
        | E::PaymentProcessing
        | E::PaymentPending
        | E::PaymentSucceeded
        | E::PaymentFailed
        | E::PaymentCancelled
        | E::PaymentExpired => Shape::Payment,
        E::RefundRequested | E::RefundSucceeded | E::RefundRejected => Shape::Refund,
        E::SettlementCreated | E::SettlementPaid => Shape::Settlement,
        E::PayoutRequested | E::PayoutProcessed | E::PayoutRejected => Shape::Payout,
        E::UserCreated | E::UserSuspended => Shape::User,
        E::TestPing => Shape::Ping,
    }
}

impl Payload {
    /// The payment it is about: a payment's, or a refund's payment.
    pub fn payment(&self) -> Option<&Payment> {
        match self {
            Payload::Payment(payment) | Payload::Refund { payment, .. } => Some(payment),
            Payload::Payout(_) | Payload::Settlement(_) | Payload::User { .. } | Payload::Ping { .. } => None,
        }
    }

    /// The refund of a `refund.*` event.
    pub fn refund(&self) -> Option<&Refund> {
        match self {
            Payload::Refund { refund, .. } => Some(refund),
            _ => None,
        }
    }

    /// The settlement of a `settlement.*` event.
    pub fn settlement(&self) -> Option<&Settlement> {
        match self {
            Payload::Settlement(settlement) => Some(settlement),
            _ => None,
        }
    }

    /// The user of a `user.*` event.
    pub fn user(&self) -> Option<&UserSnapshot> {
        match self {
            Payload::User { user, .. } => Some(user),
            _ => None,
        }
    }

    /// The merchant's data of a `test.ping`.
    pub fn ping_data(&self) -> Option<&Value> {
        match self {
            Payload::Ping { data, .. } => Some(data),
            _ => None,
        }
    }

    /// The dialect the event belongs to: the one its payment, payout or user was
    /// made through, or the ping's; `None` for a merchant-level event.
    fn origin(&self) -> Option<Dialect> {
        match self {
            Payload::Payment(payment) | Payload::Refund { payment, .. } => Some(payment.namespace),
            Payload::Payout(payout) => Some(payout.namespace),
            Payload::User { dialect, .. } | Payload::Ping { dialect, .. } => Some(*dialect),
            Payload::Settlement(_) => None,
        }
    }

    /// The key a subject's deliveries are ordered by (`payment:12`): a refund's events
    /// queue behind its payment's.
    fn subject_key(&self) -> Option<String> {
        match self {
            Payload::Payment(payment) | Payload::Refund { payment, .. } => Some(format!("payment:{}", payment.id)),
            Payload::Settlement(settlement) => Some(format!("settlement:{}", settlement.id)),
            Payload::Payout(payout) => Some(format!("payout:{}", payout.id)),
            Payload::User { user, .. } => Some(format!("user:{}", user.id)),
            Payload::Ping { .. } => None,
        }
    }

    /// Reads the stored JSON text of an event of `kind`, straight into its typed shape
    /// (no `Value` built on the way: the webhook engine reads every event). Other keys
    /// are passed over.
    fn read(kind: EventType, json: &str) -> Result<Payload, String> {
        #[derive(Deserialize)]
        struct OfPayment {
            payment: Payment,
        }
        #[derive(Deserialize)]
        struct OfRefund {
            refund: Refund,
            payment: Payment,
        }
        #[derive(Deserialize)]
        struct OfPayout {
            payout: Payout,
        }
        #[derive(Deserialize)]
        struct OfSettlement {
            settlement: Settlement,
        }
        #[derive(Deserialize)]
        struct OfUser {
            user: UserSnapshot,
            dialect: Dialect,
        }
        #[derive(Deserialize)]
        struct OfPing {
            #[serde(default)]
            data: Value,
            dialect: Dialect,
        }
        fn of<T: DeserializeOwned>(json: &str) -> Result<T, String> {
            serde_json::from_str(json).map_err(|e| e.to_string())
        }
        Ok(match shape_of(kind) {
            Shape::Payment => Payload::Payment(of::<OfPayment>(json)?.payment),
            Shape::Refund => {
                let OfRefund { refund, payment } = of(json)?;
                Payload::Refund { refund, payment }
            }
            Shape::Payout => Payload::Payout(of::<OfPayout>(json)?.payout),
            Shape::Settlement => Payload::Settlement(of::<OfSettlement>(json)?.settlement),
            Shape::User => {
                let OfUser { user, dialect } = of(json)?;
                Payload::User { user, dialect }
            }
            Shape::Ping => {
                let OfPing { data, dialect } = of(json)?;
                Payload::Ping { data, dialect }
            }
        })
    }
}

/// An event about to be written.
pub(super) struct NewEvent {
    merchant_id: i64,
    kind: EventType,
    subject_id: Option<i64>,
    payload: Value,
}

impl NewEvent {
    /// Refuses a kind whose payload has another shape: a bug, caught before anything
    /// is written.
    fn checked(
        kind: EventType,
        shape: Shape,
        merchant_id: i64,
        subject_id: Option<i64>,
        payload: Value,
    ) -> Result<NewEvent, CoreError> {
        if shape_of(kind) != shape {
            return Err(CoreError::Internal(format!("a {kind} event cannot carry a {shape:?}")));
        }
        Ok(NewEvent { merchant_id, kind, subject_id, payload })
    }

    /// A `payment.*` event.
    pub fn payment(kind: EventType, payment: &Payment) -> Result<NewEvent, CoreError> {
        NewEvent::checked(kind, Shape::Payment, payment.merchant_id, Some(payment.id), payment_snapshot(payment))
    }

    /// A `payment.created` whose [`payment_snapshot`] was taken before the payment had
    /// its id (off the writer task), with the id it got.
    pub fn payment_created(mut snapshot: Value, merchant_id: i64, id: i64) -> NewEvent {
        snapshot["payment"]["id"] = id.into();
        NewEvent { merchant_id, kind: EventType::PaymentCreated, subject_id: Some(id), payload: snapshot }
    }

    /// A `refund.*` event.
    pub fn refund(kind: EventType, refund: &Refund, payment: &Payment) -> Result<NewEvent, CoreError> {
        let payload = serde_json::json!({ "refund": refund, "payment": payment });
        NewEvent::checked(kind, Shape::Refund, refund.merchant_id, Some(refund.id), payload)
    }

    /// A `payout.*` event.
    pub fn payout(kind: EventType, payout: &Payout) -> Result<NewEvent, CoreError> {
        let payload = serde_json::json!({ "payout": payout, "dialect": payout.namespace });
        NewEvent::checked(kind, Shape::Payout, payout.merchant_id, Some(payout.id), payload)
    }

    /// A `settlement.*` event.
    pub fn settlement(kind: EventType, settlement: &Settlement) -> Result<NewEvent, CoreError> {
        let payload = serde_json::json!({ "settlement": settlement });
        NewEvent::checked(kind, Shape::Settlement, settlement.merchant_id, Some(settlement.id), payload)
    }

    /// A `user.*` event.
    pub fn user(kind: EventType, user: &UserSnapshot, dialect: Dialect) -> Result<NewEvent, CoreError> {
        let payload = serde_json::json!({ "dialect": dialect, "user": user });
        NewEvent::checked(kind, Shape::User, user.merchant_id, Some(user.id), payload)
    }

    /// A `test.ping` for `merchant_id`'s `dialect`.
    fn ping(merchant_id: i64, data: Value, dialect: Dialect) -> NewEvent {
        let payload = serde_json::json!({ "data": data, "dialect": dialect });
        NewEvent { merchant_id, kind: EventType::TestPing, subject_id: None, payload }
    }
}

/// The payload of a payment's event, `{"payment": …}`: one shape for the `Value` and the
/// text forms below.
#[derive(Serialize)]
struct PaymentPayload<'a> {
    payment: &'a Payment,
}

/// The stored payload of a payment's event.
pub(super) fn payment_snapshot(payment: &Payment) -> Value {
    serde_json::to_value(PaymentPayload { payment }).unwrap_or_default()
}

/// The columns an event is inserted with, in the order of [`payment_created_row`].
pub(super) const INSERTED: [outbox_event::Column; 5] = [
    outbox_event::Column::MerchantId,
    outbox_event::Column::EventType,
    outbox_event::Column::SubjectId,
    outbox_event::Column::Payload,
    outbox_event::Column::CreatedAt,
];

/// The row of a `payment.created` for a payment that has its id, in the order of
/// [`INSERTED`], its payload serialized straight from the payment as text (the JSON
/// [`payment_snapshot`] gives, without building it as a `Value` first): for SQLite,
/// which stores JSON as that text.
pub(super) fn payment_created_row(payment: &Payment, now: DateTime<Utc>) -> [sea_orm::Value; 5] {
    let payload = serde_json::to_string(&PaymentPayload { payment }).unwrap_or_default();
    [
        payment.merchant_id.into(),
        EventType::PaymentCreated.as_str().into(),
        Some(payment.id).into(),
        payload.into(),
        now.into(),
    ]
}

/// Writes events in one statement.
pub(super) async fn emit<C: ConnectionTrait>(
    conn: &C,
    events: Vec<NewEvent>,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let rows = events.into_iter().map(|e| outbox_event::ActiveModel {
        merchant_id: Set(e.merchant_id),
        event_type: Set(e.kind.as_str().to_owned()),
        subject_id: Set(e.subject_id),
        payload: Set(e.payload),
        created_at: Set(now),
        ..Default::default()
    });
    outbox_event::Entity::insert_many(rows).exec(conn).await?;
    Ok(())
}

/// Writes one event.
pub(super) async fn emit_one<C: ConnectionTrait>(
    conn: &C,
    event: Result<NewEvent, CoreError>,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    emit(conn, vec![event?], now).await
}

/// An event, typed: what the webhook engine dispatches and each dialect formats.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Outbox id, increasing in insertion order. On Postgres ids are taken before
    /// commit, so a transaction that commits later can show a smaller id: a reader
    /// paging by `after` must allow for that.
    pub id: i64,
    /// Owner.
    pub merchant_id: i64,
    /// What happened.
    pub kind: EventType,
    /// The dialect it belongs to (its payment's, payout's, user's or ping's); `None`
    /// for a merchant-level event, which every dialect of the merchant hears.
    pub origin: Option<Dialect>,
    /// What it is about, as it was after the change.
    pub payload: Payload,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

impl Event {
    /// Reads a stored event; an unknown kind or a payload of the wrong shape is an
    /// error naming both.
    pub(super) fn read(row: &StoredEvent) -> Result<Event, String> {
        let kind = EventType::parse(&row.event_type).ok_or_else(|| format!("unknown event `{}`", row.event_type))?;
        let payload = Payload::read(kind, &row.payload).map_err(|e| format!("{kind} event {}: {e}", row.id))?;
        Ok(Event {
            id: row.id,
            merchant_id: row.merchant_id,
            kind,
            origin: payload.origin(),
            payload,
            created_at: row.created_at,
        })
    }

    /// The key its deliveries are ordered by (`payment:12`, or `event:7` for a ping).
    pub fn subject_key(&self) -> String {
        self.payload.subject_key().unwrap_or_else(|| format!("event:{}", self.id))
    }
}

/// An outbox row as the webhook engine reads it: the payload as its JSON text.
#[derive(Debug, Clone, FromQueryResult)]
pub(super) struct StoredEvent {
    pub id: i64,
    pub merchant_id: i64,
    pub event_type: String,
    /// `CAST(payload AS TEXT)` (Postgres stores `jsonb`).
    pub payload: String,
    pub created_at: DateTime<Utc>,
}

/// Events this instance has just written, kept typed for the webhook engine so that it
/// need not read back and parse what was in memory a moment before (the payment
/// creator's on SQLite fills it, after its commit). Bounded: once [`RECENT_MAX`] are
/// waiting nothing more is kept, and the engine reads those from the outbox like any
/// other event; it takes out what it dispatches.
#[derive(Debug, Default)]
pub(super) struct Recent(std::sync::Mutex<std::collections::HashMap<i64, Event>>);

/// How many events [`Recent`] keeps at most (~1 KB each).
pub(super) const RECENT_MAX: usize = 8192;

impl Recent {
    /// Keeps `events`, committed, as long as there is room.
    pub fn keep(&self, events: Vec<Event>) {
        let Ok(mut kept) = self.0.lock() else { return };
        for event in events {
            if kept.len() >= RECENT_MAX {
                break;
            }
            kept.insert(event.id, event);
        }
    }

    /// Takes out the events with these ids, each or `None` where not kept.
    pub fn take(&self, ids: &[i64]) -> Vec<Option<Event>> {
        match self.0.lock() {
            Ok(mut kept) if !kept.is_empty() => ids.iter().map(|id| kept.remove(id)).collect(),
            _ => vec![None; ids.len()],
        }
    }

    /// How many are kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.0.lock().map(|kept| kept.len()).unwrap_or_default()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.0.lock().map(|kept| kept.is_empty()).unwrap_or(true)
    }
}

impl Event {
    /// The `payment.created` event `id` of a payment just written `now`: what
    /// [`Event::read`] gives of its row.
    pub(super) fn payment_created(id: i64, payment: Payment, now: DateTime<Utc>) -> Event {
        let merchant_id = payment.merchant_id;
        let payload = Payload::Payment(payment);
        Event { id, merchant_id, kind: EventType::PaymentCreated, origin: payload.origin(), payload, created_at: now }
    }
}

/// An event as the outbox stores it, for the admin API's log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord {
    /// Outbox id.
    pub id: i64,
    /// Owner.
    pub merchant_id: i64,
    /// The canonical event name (`payment.succeeded`, …).
    pub event_type: String,
    /// The payment, refund or settlement id the event is about.
    pub subject_id: Option<i64>,
    /// Canonical snapshot of the subject.
    pub payload: Value,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

impl super::AdminGateway {
    /// Events of a merchant with ids above `after`, oldest first, as stored.
    pub async fn events(
        &self,
        merchant_id: Option<i64>,
        after: i64,
        limit: u64,
    ) -> Result<Vec<EventRecord>, CoreError> {
        let mut query = outbox_event::Entity::find().filter(outbox_event::Column::Id.gt(after));
        if let Some(merchant_id) = merchant_id {
            query = query.filter(outbox_event::Column::MerchantId.eq(merchant_id));
        }
        let rows = query.order_by_asc(outbox_event::Column::Id).limit(limit).all(&self.store().reader).await?;
        Ok(rows.into_iter().map(EventRecord::from).collect())
    }

    /// A payment's timeline: its `payment.*` events and those of its refunds
    /// (`refund_ids`), oldest first.
    pub async fn payment_events(&self, payment_id: i64, refund_ids: &[i64]) -> Result<Vec<EventRecord>, CoreError> {
        let kind = |prefix: &str| outbox_event::Column::EventType.like(format!("{prefix}.%"));
        let mut about = Condition::any()
            .add(Condition::all().add(outbox_event::Column::SubjectId.eq(payment_id)).add(kind("payment")));
        if !refund_ids.is_empty() {
            about = about.add(
                Condition::all()
                    .add(outbox_event::Column::SubjectId.is_in(refund_ids.iter().copied()))
                    .add(kind("refund")),
            );
        }
        let rows = outbox_event::Entity::find()
            .filter(about)
            .order_by_asc(outbox_event::Column::Id)
            .limit(1000)
            .all(&self.store().reader)
            .await?;
        Ok(rows.into_iter().map(EventRecord::from).collect())
    }
}

impl From<outbox_event::Model> for EventRecord {
    fn from(r: outbox_event::Model) -> Self {
        EventRecord {
            id: r.id,
            merchant_id: r.merchant_id,
            event_type: r.event_type,
            subject_id: r.subject_id,
            payload: r.payload,
            created_at: r.created_at,
        }
    }
}

impl super::Gateway {
    /// Writes a `test.ping` event carrying the merchant's `data`, for the webhook engine
    /// to deliver like any other; returns its id.
    pub async fn emit_test_event(&self, principal: &Principal, data: Value) -> Result<i64, CoreError> {
        if super::json_has_nul(&data) {
            return Err(CoreError::invalid("data", "must not contain NUL characters"));
        }
        let ping = NewEvent::ping(principal.merchant_id(), data, principal.dialect());
        let row = outbox_event::ActiveModel {
            merchant_id: Set(ping.merchant_id),
            event_type: Set(ping.kind.as_str().to_owned()),
            subject_id: Set(None),
            payload: Set(ping.payload),
            created_at: Set(self.now()),
            ..Default::default()
        };
        let id = outbox_event::Entity::insert(row).exec(&self.store().writer).await?.last_insert_id;
        self.notify_events();
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(id: i64, event: NewEvent) -> StoredEvent {
        StoredEvent {
            id,
            merchant_id: event.merchant_id,
            event_type: event.kind.as_str().to_owned(),
            payload: event.payload.to_string(),
            created_at: Utc::now(),
        }
    }

    /// `Recent` keeps at most its bound (the rest is read from the outbox) and gives
    /// each kept event once.
    #[test]
    fn recent_events_are_bounded_and_taken_once() {
        let at = Utc::now();
        let ping = |id| Event {
            id,
            merchant_id: 1,
            kind: EventType::TestPing,
            origin: Some(Dialect::Rebornpay),
            payload: Payload::Ping { data: Value::Null, dialect: Dialect::Rebornpay },
            created_at: at,
        };
        let recent = Recent::default();
        assert!(recent.is_empty());
        recent.keep((1..=RECENT_MAX as i64 + 10).map(ping).collect());
        assert_eq!(recent.len(), RECENT_MAX);
        let beyond = RECENT_MAX as i64 + 1;
        assert_eq!(recent.take(&[1, beyond, 2]), vec![Some(ping(1)), None, Some(ping(2))]);
        assert_eq!(recent.take(&[1]), vec![None], "taken once");
        assert_eq!(recent.len(), RECENT_MAX - 2);
    }

    #[test]
    fn a_kind_refuses_a_payload_of_another_shape() {
        let ping = stored(1, NewEvent::ping(1, serde_json::json!({"a": 1}), Dialect::Rebornpay));
        let read = Event::read(&ping).unwrap();
        assert_eq!(read.payload, Payload::Ping { data: serde_json::json!({"a": 1}), dialect: Dialect::Rebornpay });
        assert_eq!((read.origin, read.subject_key()), (Some(Dialect::Rebornpay), "event:1".to_owned()));
        let wrong = StoredEvent { event_type: "payment.succeeded".into(), ..ping.clone() };
        assert!(Event::read(&wrong).unwrap_err().contains("payment"), "a payment event without a payment");
        let unknown = StoredEvent { event_type: "payment.teleported".into(), ..ping };
        assert!(Event::read(&unknown).is_err());
        for kind in EventType::ALL.iter().copied().filter(|k| *k != EventType::TestPing) {
            let user = UserSnapshot {
                id: 3,
                merchant_id: 1,
                name: None,
                role: Some("merchant".into()),
                status: "active".into(),
                extra: serde_json::json!({}),
            };
            let made = NewEvent::user(kind, &user, Dialect::Starpay);
            let is_user = matches!(kind, EventType::UserCreated | EventType::UserSuspended);
            assert_eq!(made.is_ok(), is_user, "{kind}");
            if let Ok(made) = made {
                let read = Event::read(&stored(2, made)).unwrap();
                assert_eq!((read.kind, read.payload.user(), read.subject_key()), (kind, Some(&user), "user:3".into()));
            }
        }
    }
}
