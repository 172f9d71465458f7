//! REBORNPAY wire types, in the provider's own field names, and their conversions to
//! and from the core's canonical types.

use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use serde::Deserialize;

use crate::core::{
    Balance, CaptureMode, CoreError, Customer, NewPayment, Payment, PaymentStatus, RedirectUrls, Refund, RefundStatus,
    Settlement, SettlementStatus, money::major_of,
};
use crate::http::fields::{
    Amount, CurrencyCode, Email, HttpUrl, JsonObject, PaymentMethod, Phone, Reference, check_metadata,
};
use crate::http::mount::Mount;
use crate::http::wire::JsonDecimal;

/// `POST /api/v1/payment/create`.
#[derive(Object, Deserialize, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CreatePaymentRequest {
    /// Your unique invoice id (1–100 printable characters), kept exactly as sent.
    pub invoice_id: Reference,
    /// Amount in major units of the currency (2500 = 2500.00 BDT); decimals up to the
    /// currency's precision.
    pub amount: Amount,
    /// ISO 4217 code, e.g. `BDT`.
    pub currency: CurrencyCode,
    /// Customer's name.
    #[oai(validator(max_length = 200))]
    pub customer_name: Option<String>,
    /// Customer's phone, e.g. `+8801711000000`.
    pub customer_phone: Option<Phone>,
    /// Customer's email.
    pub customer_email: Option<Email>,
    /// The payment method; the customer chooses at checkout when absent.
    pub payment_method: Option<PaymentMethod>,
    /// Any JSON object (at most 8 KiB as compact JSON); returned as given.
    pub metadata: Option<JsonObject>,
    /// paybridge extension: where the checkout sends the customer after paying.
    pub success_url: Option<HttpUrl>,
    /// paybridge extension: where the checkout sends the customer after a failure.
    pub fail_url: Option<HttpUrl>,
    /// paybridge extension: where the checkout sends the customer after cancelling.
    pub cancel_url: Option<HttpUrl>,
}

impl TryFrom<CreatePaymentRequest> for NewPayment {
    type Error = CoreError;

    /// What is left once the fields parsed: the amount in its currency, the metadata.
    fn try_from(request: CreatePaymentRequest) -> Result<NewPayment, CoreError> {
        let mut issues = Vec::new();
        let amount = request.amount.checked(request.currency.0, &mut issues);
        let metadata = check_metadata("metadata", request.metadata, &mut issues);
        let (Some(amount), true) = (amount, issues.is_empty()) else {
            return Err(CoreError::Validation(issues));
        };
        Ok(NewPayment {
            // Kept exactly as sent: status, verify and refund look it up the same way.
            reference: request.invoice_id.into(),
            amount,
            capture_mode: CaptureMode::Manual,
            method: request.payment_method.map(|m| m.as_str().to_owned()),
            description: None,
            customer: Customer {
                name: request.customer_name,
                email: request.customer_email.map(Into::into),
                phone: request.customer_phone.map(Into::into),
            },
            metadata,
            urls: RedirectUrls {
                success: request.success_url.map(Into::into),
                failure: request.fail_url.map(Into::into),
                cancel: request.cancel_url.map(Into::into),
                notify: None,
            },
        })
    }
}

/// A REBORNPAY payment status.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for the customer.
    Pending,
    /// Paid at checkout; waiting for your `verify`.
    Processing,
    /// Verified; your balance is credited.
    Success,
    /// Declined or failed.
    Failed,
    /// Cancelled by the customer.
    Cancelled,
    /// Not paid in time.
    Expired,
    /// Partly refunded.
    PartiallyRefunded,
    /// Fully refunded.
    Refunded,
}

impl From<PaymentStatus> for Status {
    fn from(status: PaymentStatus) -> Self {
        match status {
            PaymentStatus::Created => Status::Pending,
            PaymentStatus::AwaitingProcessor | PaymentStatus::Processing => Status::Processing,
            PaymentStatus::Succeeded => Status::Success,
            PaymentStatus::Failed => Status::Failed,
            PaymentStatus::Cancelled => Status::Cancelled,
            PaymentStatus::Expired => Status::Expired,
            PaymentStatus::PartiallyRefunded => Status::PartiallyRefunded,
            PaymentStatus::Refunded => Status::Refunded,
        }
    }
}

impl Status {
    /// The canonical statuses this one shows (`processing`: awaiting the processor or
    /// approved and not yet verified).
    pub fn canonical(self) -> Vec<PaymentStatus> {
        PaymentStatus::ALL.iter().copied().filter(|s| Status::from(*s) == self).collect()
    }
}

/// A payment.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct PaymentData {
    /// Your invoice id.
    pub invoice_id: String,
    /// Amount in major units.
    pub amount: JsonDecimal,
    /// Currency code.
    pub currency: String,
    /// Current status.
    pub status: Status,
    /// Payment method, once known.
    pub payment_method: Option<String>,
    /// The processor's transaction id (e.g. `BKS…` for bKash) once the customer paid;
    /// pass it to `verify`.
    pub transaction_id: Option<String>,
    /// Hosted checkout page for the customer.
    pub checkout_url: String,
    /// Customer's name.
    pub customer_name: Option<String>,
    /// Customer's phone.
    pub customer_phone: Option<String>,
    /// Customer's email.
    pub customer_email: Option<String>,
    /// Your metadata.
    pub metadata: Option<serde_json::Value>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// The checkout stops accepting payment at this time.
    pub expires_at: DateTime<Utc>,
    /// Verified and credited.
    pub paid_at: Option<DateTime<Utc>>,
}

impl PaymentData {
    /// `p` as reached through `mount` (its checkout link on the mount's origin).
    pub fn new(p: Payment, mount: &Mount) -> Self {
        PaymentData {
            invoice_id: p.reference,
            amount: p.amount.to_major().into(),
            currency: p.amount.currency().code().to_owned(),
            status: p.status.into(),
            payment_method: p.method,
            transaction_id: p.processor_txn_id,
            checkout_url: mount.checkout_url(&p.checkout_token),
            customer_name: p.customer.name,
            customer_phone: p.customer.phone,
            customer_email: p.customer.email,
            metadata: p.metadata,
            created_at: p.created_at,
            updated_at: p.updated_at,
            expires_at: p.expires_at,
            paid_at: p.captured_at,
        }
    }
}

/// `{"success": true, "message", "data": payment}`.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct PaymentResponse {
    /// Always `true`.
    pub success: bool,
    /// What happened.
    pub message: String,
    /// The payment.
    pub data: PaymentData,
}

/// `POST /api/v1/payment/verify`.
#[derive(Object, Deserialize, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct VerifyRequest {
    /// Your invoice id.
    #[oai(validator(max_length = 100))]
    pub invoice_id: String,
    /// The processor's transaction id the customer's payment produced.
    #[oai(validator(max_length = 100))]
    pub transaction_id: String,
    /// The status you believe the payment has. It is not trusted: the processor's
    /// record decides.
    #[oai(validator(max_length = 32))]
    pub status: String,
}

/// A verification's result.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct VerifyData {
    /// True when the payment is paid and credited.
    pub verified: bool,
    /// The payment.
    #[oai(flatten)]
    pub payment: PaymentData,
}

/// `{"success": true, "message", "data": {verified, …payment}}`.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct VerifyResponse {
    /// Always `true`.
    pub success: bool,
    /// What happened.
    pub message: String,
    /// The result.
    pub data: VerifyData,
}

/// `POST /api/v1/refund/request`.
#[derive(Object, Deserialize, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct RefundRequest {
    /// The invoice to refund.
    #[oai(validator(max_length = 100))]
    pub invoice_id: String,
    /// Amount in major units; at most what is still refundable.
    pub amount: Amount,
    /// Why.
    #[oai(validator(max_length = 500))]
    pub reason: Option<String>,
}

/// A refund status.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum RefundState {
    /// In the admin queue.
    Pending,
    /// Approved and paid back.
    Processed,
    /// Rejected by an admin.
    Rejected,
}

/// A refund.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct RefundData {
    /// Refund id, e.g. `rf_12`.
    pub refund_id: String,
    /// The refunded invoice.
    pub invoice_id: String,
    /// Amount in major units.
    pub amount: JsonDecimal,
    /// Currency code.
    pub currency: String,
    /// Status.
    pub status: RefundState,
    /// Your reason.
    pub reason: Option<String>,
    /// The admin's note.
    pub note: Option<String>,
    /// Requested.
    pub created_at: DateTime<Utc>,
    /// Approved or rejected.
    pub processed_at: Option<DateTime<Utc>>,
}

/// Refund ids on the wire: `rf_<number>`.
pub fn refund_id(id: i64) -> String {
    format!("rf_{id}")
}

/// Parses a wire refund id; anything else matches no refund.
pub fn parse_refund_id(text: &str) -> Option<i64> {
    text.strip_prefix("rf_")?.parse().ok()
}

impl From<Refund> for RefundData {
    fn from(r: Refund) -> Self {
        RefundData {
            refund_id: refund_id(r.id),
            invoice_id: r.payment_reference,
            amount: r.amount.to_major().into(),
            currency: r.amount.currency().code().to_owned(),
            status: match r.status {
                RefundStatus::Pending => RefundState::Pending,
                RefundStatus::Succeeded => RefundState::Processed,
                RefundStatus::Rejected => RefundState::Rejected,
            },
            reason: r.reason,
            note: r.note,
            created_at: r.created_at,
            processed_at: r.decided_at,
        }
    }
}

/// `{"success": true, "message", "data": refund}`.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct RefundResponse {
    /// Always `true`.
    pub success: bool,
    /// What happened.
    pub message: String,
    /// The refund.
    pub data: RefundData,
}

/// Balances in one currency, in major units.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CurrencyBalance {
    /// Currency code.
    pub currency: String,
    /// Verified payments less refunds and settlements.
    pub available: JsonDecimal,
    /// Held for pending refunds.
    pub reserved: JsonDecimal,
    /// In settlements not yet paid out.
    pub pending_settlement: JsonDecimal,
}

impl From<&Balance> for CurrencyBalance {
    fn from(b: &Balance) -> Self {
        CurrencyBalance {
            currency: b.currency.code().to_owned(),
            available: major_of(b.available, b.currency).into(),
            reserved: major_of(b.reserved, b.currency).into(),
            pending_settlement: major_of(b.pending_settlement, b.currency).into(),
        }
    }
}

/// The merchant's balance: its default currency at the top level, every currency in
/// `balances`.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct BalanceData {
    /// The merchant's default currency.
    pub currency: String,
    /// Available in the default currency.
    pub available: JsonDecimal,
    /// Reserved in the default currency.
    pub reserved: JsonDecimal,
    /// Pending settlement in the default currency.
    pub pending_settlement: JsonDecimal,
    /// Every currency the merchant holds.
    pub balances: Vec<CurrencyBalance>,
}

/// `{"success": true, "data": balance}`.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct BalanceResponse {
    /// Always `true`.
    pub success: bool,
    /// The balance.
    pub data: BalanceData,
}

/// A settlement status.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum SettlementState {
    /// Being paid out.
    Processing,
    /// Paid out.
    Paid,
}

/// A settlement.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct SettlementData {
    /// Settlement id, e.g. `st_3`.
    pub settlement_id: String,
    /// Amount in major units.
    pub amount: JsonDecimal,
    /// Currency code.
    pub currency: String,
    /// Status.
    pub status: SettlementState,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Paid.
    pub paid_at: Option<DateTime<Utc>>,
}

impl From<Settlement> for SettlementData {
    fn from(s: Settlement) -> Self {
        SettlementData {
            settlement_id: format!("st_{}", s.id),
            amount: s.amount.to_major().into(),
            currency: s.amount.currency().code().to_owned(),
            status: match s.status {
                SettlementStatus::Processing => SettlementState::Processing,
                SettlementStatus::Paid => SettlementState::Paid,
            },
            created_at: s.created_at,
            paid_at: s.paid_at,
        }
    }
}

/// `{"success": true, "data": [settlement…]}`, most recent first.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct SettlementsResponse {
    /// Always `true`.
    pub success: bool,
    /// Settlements.
    pub data: Vec<SettlementData>,
}

/// `{"success": true, "data": [payment…]}`, most recent first.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct TransactionsResponse {
    /// Always `true`.
    pub success: bool,
    /// Payments.
    pub data: Vec<PaymentData>,
}

/// The events `webhook/test` sends: `test.ping` only.
#[derive(poem_openapi::Enum, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestEvent {
    /// A ping, delivered and signed as every event is.
    #[oai(rename = "test.ping")]
    #[serde(rename = "test.ping")]
    TestPing,
}

/// `POST /api/v1/webhook/test`.
#[derive(Object, Deserialize, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct WebhookTestRequest {
    /// The one event a merchant may send itself.
    pub event: TestEvent,
    /// Any JSON you want echoed in the event (at most 8 KiB as compact JSON).
    pub data: Option<serde_json::Value>,
}

/// The queued test event.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct WebhookTestData {
    /// `test.ping`.
    pub event: String,
    /// Id of the queued event.
    pub event_id: i64,
    /// Where it will be delivered.
    pub webhook_url: String,
}

/// `{"success": true, "message", "data": {event, event_id, webhook_url}}`.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct WebhookTestResponse {
    /// Always `true`.
    pub success: bool,
    /// What happened.
    pub message: String,
    /// The event.
    pub data: WebhookTestData,
}

/// Parses `?limit=` (1–100, default 50).
pub fn parse_limit(value: Option<i64>) -> Result<u64, CoreError> {
    match value {
        None => Ok(50),
        Some(n) if (1..=100).contains(&n) => Ok(n as u64),
        Some(_) => Err(CoreError::invalid("limit", "must be between 1 and 100")),
    }
}
