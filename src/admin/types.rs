//! Admin API wire types. Amounts are decimal strings of major units, so no client has
//! to guess a currency's precision.

use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use serde::Deserialize;

use crate::http::fields::{CurrencyCode, JsonObject};

use crate::core::{
    Attempt, Balance, Credential, Delivery, DeliveryStatus, Dialect, EventRecord, Merchant, MerchantStatus, Payout,
    PayoutStatus, Refund, RefundStatus, Settlement, money::major_of,
};

/// Merchant status.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not yet approved.
    Pending,
    /// May transact.
    Approved,
    /// Blocked.
    Suspended,
}

impl From<Status> for MerchantStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Pending => MerchantStatus::Pending,
            Status::Approved => MerchantStatus::Approved,
            Status::Suspended => MerchantStatus::Suspended,
        }
    }
}

impl From<MerchantStatus> for Status {
    fn from(s: MerchantStatus) -> Self {
        match s {
            MerchantStatus::Pending => Status::Pending,
            MerchantStatus::Approved => Status::Approved,
            MerchantStatus::Suspended => Status::Suspended,
        }
    }
}

/// A merchant.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct MerchantBody {
    /// Id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Status.
    pub status: Status,
    /// Where webhooks go.
    pub webhook_url: Option<String>,
    /// Allowed client IPs / CIDR ranges (empty = any).
    pub ip_allowlist: Vec<String>,
    /// Requests per minute (0 = unlimited).
    pub rate_limit_per_minute: u32,
    /// Currency for dialects that name none.
    pub default_currency: String,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl From<Merchant> for MerchantBody {
    fn from(m: Merchant) -> Self {
        MerchantBody {
            id: m.id,
            name: m.name,
            status: m.status.into(),
            webhook_url: m.webhook_url,
            ip_allowlist: m.ip_allowlist,
            rate_limit_per_minute: m.rate_limit_per_minute,
            default_currency: m.default_currency,
            created_at: m.created_at,
        }
    }
}

/// `POST /merchants`.
#[derive(Object, Deserialize, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CreateMerchant {
    /// Unique name.
    #[oai(validator(max_length = 200))]
    pub name: String,
    /// Initial status (default `pending`).
    pub status: Option<Status>,
    /// Where webhooks go.
    #[oai(validator(max_length = 2048))]
    pub webhook_url: Option<String>,
    /// Allowed client IPs / CIDR ranges.
    #[oai(validator(max_items = 256, max_length = 64))]
    pub ip_allowlist: Option<Vec<String>>,
    /// Requests per minute (default 120; 0 = unlimited).
    pub rate_limit_per_minute: Option<u32>,
    /// Default currency (default `BDT`).
    pub default_currency: Option<CurrencyCode>,
}

/// `PATCH /merchants/{id}`: only the fields given change.
#[derive(Object, Deserialize, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct UpdateMerchant {
    /// New webhook URL; an empty string clears it.
    #[oai(validator(max_length = 2048))]
    pub webhook_url: Option<String>,
    /// New allow-list.
    #[oai(validator(max_items = 256, max_length = 64))]
    pub ip_allowlist: Option<Vec<String>>,
    /// New rate limit.
    pub rate_limit_per_minute: Option<u32>,
    /// New default currency.
    pub default_currency: Option<CurrencyCode>,
}

/// `POST /merchants/{id}/credentials`: key material is generated.
#[derive(Object, Deserialize, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct IssueCredential {
    /// The dialect.
    pub dialect: Dialect,
    /// StarPay role (super_admin, admin, merchant, partner, api_user).
    #[oai(validator(max_length = 32, pattern = "^(super_admin|admin|merchant|partner|api_user)$"))]
    pub role: Option<String>,
    /// A label (StarPay user name).
    #[oai(validator(max_length = 100))]
    pub label: Option<String>,
    /// Require signed requests (REBORNPAY).
    pub require_signature: Option<bool>,
    /// Dialect settings: `business_id` (ShadhinPay), `psp` (PayRequest: `sandbox`, the
    /// default, `none` or another provider), `account_id` and `merchant_id` (QR Money),
    /// each a string of 1 to 64 characters, generated when absent, and nothing else; QR
    /// Money's `settings` (fees and limits) besides; at most 8 KiB as compact JSON.
    pub extra: Option<JsonObject>,
}

/// `PATCH /credentials/{id}`.
#[derive(Object, Deserialize, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct UpdateCredential {
    /// Require signed requests (REBORNPAY).
    pub require_signature: Option<bool>,
    /// A StarPay user's new role (super_admin, admin, merchant, partner, api_user).
    #[oai(validator(max_length = 32, pattern = "^(super_admin|admin|merchant|partner|api_user)$"))]
    pub role: Option<String>,
    /// Dialect identifiers and settings to set, key by key (the rest are kept): e.g. a
    /// QR Money credential's `settings` (fees and limits, see the README); the result
    /// at most 8 KiB as compact JSON.
    pub extra: Option<std::collections::BTreeMap<String, serde_json::Value>>,
}

/// A credential, secret included (the admin API is the place to read it).
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CredentialBody {
    /// Id.
    pub id: i64,
    /// Owner.
    pub merchant_id: i64,
    /// Dialect.
    pub dialect: Dialect,
    /// Public part: API key, client id, token.
    pub key_id: String,
    /// Secret part (equal to `key_id` for single-token dialects).
    pub secret: String,
    /// StarPay role.
    pub role: Option<String>,
    /// Label.
    pub label: Option<String>,
    /// Dialect settings (and QR Money's `settings`: fees and limits).
    pub extra: serde_json::Value,
    /// Signed requests required.
    pub require_signature: bool,
    /// Usable.
    pub active: bool,
}

impl From<Credential> for CredentialBody {
    fn from(c: Credential) -> Self {
        CredentialBody {
            id: c.id,
            merchant_id: c.merchant_id,
            dialect: c.dialect,
            key_id: c.key_id,
            secret: c.secret.expose().to_owned(),
            role: c.role,
            label: c.label,
            extra: serde_json::Value::Object(c.settings.to_json()),
            require_signature: c.require_signature,
            active: c.active,
        }
    }
}

/// Refund status.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    /// Waiting for a decision.
    Pending,
    /// Approved and paid.
    Succeeded,
    /// Rejected.
    Rejected,
}

impl From<RefundState> for RefundStatus {
    fn from(s: RefundState) -> Self {
        match s {
            RefundState::Pending => RefundStatus::Pending,
            RefundState::Succeeded => RefundStatus::Succeeded,
            RefundState::Rejected => RefundStatus::Rejected,
        }
    }
}

/// A refund.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct RefundBody {
    /// Id.
    pub id: i64,
    /// Owner.
    pub merchant_id: i64,
    /// The refunded payment's id.
    pub payment_id: i64,
    /// The payment's merchant reference (invoice id…).
    pub payment_reference: String,
    /// Amount, decimal string of major units.
    pub amount: String,
    /// Currency.
    pub currency: String,
    /// Status.
    pub status: RefundState,
    /// The merchant's reason.
    pub reason: Option<String>,
    /// The admin's note.
    pub note: Option<String>,
    /// Requested.
    pub created_at: DateTime<Utc>,
    /// Decided.
    pub decided_at: Option<DateTime<Utc>>,
}

impl From<Refund> for RefundBody {
    fn from(r: Refund) -> Self {
        RefundBody {
            id: r.id,
            merchant_id: r.merchant_id,
            payment_id: r.payment_id,
            payment_reference: r.payment_reference,
            amount: r.amount.to_major().to_string(),
            currency: r.amount.currency().code().to_owned(),
            status: match r.status {
                RefundStatus::Pending => RefundState::Pending,
                RefundStatus::Succeeded => RefundState::Succeeded,
                RefundStatus::Rejected => RefundState::Rejected,
            },
            reason: r.reason,
            note: r.note,
            created_at: r.created_at,
            decided_at: r.decided_at,
        }
    }
}

/// A payout's status.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum PayoutState {
    /// Waiting for a decision; the amount is reserved.
    Pending,
    /// Paid to the bank account.
    Processed,
    /// Rejected; the reservation returned.
    Rejected,
}

impl From<PayoutState> for PayoutStatus {
    fn from(s: PayoutState) -> Self {
        match s {
            PayoutState::Pending => PayoutStatus::Pending,
            PayoutState::Processed => PayoutStatus::Processed,
            PayoutState::Rejected => PayoutStatus::Rejected,
        }
    }
}

/// A payout.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct PayoutBody {
    /// Id.
    pub id: i64,
    /// Owner.
    pub merchant_id: i64,
    /// The credential (user) that asked for it.
    pub created_by: Option<i64>,
    /// The dialect it came through.
    pub dialect: Dialect,
    /// Amount, decimal string of major units.
    pub amount: String,
    /// Currency.
    pub currency: String,
    /// Status.
    pub status: PayoutState,
    /// The bank account, in the dialect's fields.
    pub destination: serde_json::Value,
    /// The merchant's reference.
    pub reference: Option<String>,
    /// The admin's note.
    pub note: Option<String>,
    /// Requested.
    pub created_at: DateTime<Utc>,
    /// Decided.
    pub decided_at: Option<DateTime<Utc>>,
}

impl From<Payout> for PayoutBody {
    fn from(p: Payout) -> Self {
        PayoutBody {
            id: p.id,
            merchant_id: p.merchant_id,
            created_by: p.created_by,
            dialect: p.namespace,
            amount: p.amount.to_major().to_string(),
            currency: p.amount.currency().code().to_owned(),
            status: match p.status {
                PayoutStatus::Pending => PayoutState::Pending,
                PayoutStatus::Processed => PayoutState::Processed,
                PayoutStatus::Rejected => PayoutState::Rejected,
            },
            destination: p.destination,
            reference: p.reference,
            note: p.note,
            created_at: p.created_at,
            decided_at: p.decided_at,
        }
    }
}

/// `POST /refunds/{id}/approve` or `/reject`.
#[derive(Object, Deserialize, Debug, Default)]
#[oai(skip_serializing_if_is_none)]
pub struct Decision {
    /// A note shown to the merchant.
    #[oai(validator(max_length = 500))]
    pub note: Option<String>,
}

/// `POST /merchants/{id}/settlements`.
#[derive(Object, Deserialize, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CreateSettlement {
    /// Currency (default: the merchant's default currency).
    pub currency: Option<CurrencyCode>,
    /// Decimal string of major units (default: the whole available balance).
    #[oai(validator(max_length = 32))]
    pub amount: Option<String>,
    /// Pay it at once (default `true`); otherwise it stays `processing` until
    /// `POST /settlements/{id}/pay`.
    pub pay_now: Option<bool>,
}

/// A settlement.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct SettlementBody {
    /// Id.
    pub id: i64,
    /// Owner.
    pub merchant_id: i64,
    /// Amount, decimal string of major units.
    pub amount: String,
    /// Currency.
    pub currency: String,
    /// `processing` or `paid`.
    pub status: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Paid.
    pub paid_at: Option<DateTime<Utc>>,
}

impl From<Settlement> for SettlementBody {
    fn from(s: Settlement) -> Self {
        SettlementBody {
            id: s.id,
            merchant_id: s.merchant_id,
            amount: s.amount.to_major().to_string(),
            currency: s.amount.currency().code().to_owned(),
            status: s.status.as_str().to_owned(),
            created_at: s.created_at,
            paid_at: s.paid_at,
        }
    }
}

/// Balances in one currency, decimal strings of major units.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct BalanceBody {
    /// Currency.
    pub currency: String,
    /// Available.
    pub available: String,
    /// Reserved for pending refunds.
    pub reserved: String,
    /// In unpaid settlements.
    pub pending_settlement: String,
}

impl From<&Balance> for BalanceBody {
    fn from(b: &Balance) -> Self {
        BalanceBody {
            currency: b.currency.code().to_owned(),
            available: major_of(b.available, b.currency).to_string(),
            reserved: major_of(b.reserved, b.currency).to_string(),
            pending_settlement: major_of(b.pending_settlement, b.currency).to_string(),
        }
    }
}

/// An outbox event.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct EventBody {
    /// Id (increasing).
    pub id: i64,
    /// Owner.
    pub merchant_id: i64,
    /// Canonical event name.
    pub event_type: String,
    /// Payment, refund or settlement id.
    pub subject_id: Option<i64>,
    /// Canonical snapshot.
    pub payload: serde_json::Value,
    /// Written.
    pub created_at: DateTime<Utc>,
}

impl From<EventRecord> for EventBody {
    fn from(e: EventRecord) -> Self {
        EventBody {
            id: e.id,
            merchant_id: e.merchant_id,
            event_type: e.event_type,
            subject_id: e.subject_id,
            payload: e.payload,
            created_at: e.created_at,
        }
    }
}

/// The ledger check.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct LedgerCheckBody {
    /// Ledger transactions examined.
    pub transactions: u64,
    /// Ids of transactions whose postings do not sum to zero (should be empty).
    pub unbalanced: Vec<i64>,
}

/// A webhook delivery's state.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// Being sent.
    Delivering,
    /// Acknowledged.
    Delivered,
    /// Given up.
    Dead,
}

impl From<DeliveryStatus> for DeliveryState {
    fn from(s: DeliveryStatus) -> Self {
        match s {
            DeliveryStatus::Pending => DeliveryState::Pending,
            DeliveryStatus::Delivering => DeliveryState::Delivering,
            DeliveryStatus::Delivered => DeliveryState::Delivered,
            DeliveryStatus::Dead => DeliveryState::Dead,
        }
    }
}

impl From<DeliveryState> for DeliveryStatus {
    fn from(s: DeliveryState) -> Self {
        match s {
            DeliveryState::Pending => DeliveryStatus::Pending,
            DeliveryState::Delivering => DeliveryStatus::Delivering,
            DeliveryState::Delivered => DeliveryStatus::Delivered,
            DeliveryState::Dead => DeliveryStatus::Dead,
        }
    }
}

/// A webhook delivery.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct DeliveryBody {
    /// Id (the `X-Paybridge-Delivery` header).
    pub id: i64,
    /// The outbox event (the `X-Paybridge-Event` header).
    pub event_id: i64,
    /// `event`, or `replay-…` for a replay.
    pub origin: String,
    /// Owner.
    pub merchant_id: i64,
    /// The dialect that formatted and signs it.
    pub dialect: Dialect,
    /// The dialect's event name.
    pub event: String,
    /// What ordering is kept within (`payment:12`).
    pub subject: String,
    /// Receiver.
    pub url: String,
    /// State.
    pub status: DeliveryState,
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
    /// The body sent (UTF-8).
    pub body: String,
}

impl From<Delivery> for DeliveryBody {
    fn from(d: Delivery) -> Self {
        DeliveryBody {
            id: d.id,
            event_id: d.event_id,
            origin: d.origin,
            merchant_id: d.merchant_id,
            dialect: d.dialect,
            event: d.event_type,
            subject: d.subject_key,
            url: d.url,
            status: d.status.into(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            created_at: d.created_at,
            event_at: d.event_at,
            delivered_at: d.delivered_at,
            body: String::from_utf8_lossy(&d.body).into_owned(),
        }
    }
}

/// One attempt at a delivery.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct AttemptBody {
    /// When.
    pub attempted_at: DateTime<Utc>,
    /// Where.
    pub url: String,
    /// The HTTP status, when a response came.
    pub status_code: Option<u16>,
    /// What went wrong before a response.
    pub error: Option<String>,
    /// Milliseconds.
    pub latency_ms: u32,
    /// The first KiB of the response.
    pub response_excerpt: Option<String>,
}

impl From<Attempt> for AttemptBody {
    fn from(a: Attempt) -> Self {
        AttemptBody {
            attempted_at: a.attempted_at,
            url: a.url,
            status_code: a.status_code,
            error: a.error,
            latency_ms: a.latency_ms,
            response_excerpt: a.response_excerpt,
        }
    }
}

/// A delivery and its attempts.
#[derive(Object, Debug)]
pub struct DeliveryDetail {
    /// The delivery.
    pub delivery: DeliveryBody,
    /// Its attempts, oldest first.
    pub attempts: Vec<AttemptBody>,
}
