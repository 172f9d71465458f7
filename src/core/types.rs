//! Canonical types: what the core hands to dialects and records in events.
//!
//! Names here are the core's own words; dialects translate them to the provider's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::money::{Currency, Money};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and logged name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the stored name.
            pub fn parse(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// A provider dialect: the namespace of credentials and merchant references.
    // The admin API's schema `DialectName`.
    #[derive(poem_openapi::Enum)]
    #[oai(rename = "DialectName", rename_all = "snake_case")]
    Dialect {
        /// REBORNPAY.
        Rebornpay => "rebornpay",
        /// ShadhinPay.
        Shadhinpay => "shadhinpay",
        /// StarPay.
        Starpay => "starpay",
        /// PayRequest V1.
        Payrequest => "payrequest",
        /// QR Money H2H.
        Qrmoney => "qrmoney",
    }
}

string_enum! {
    /// Whether a merchant may transact.
    MerchantStatus {
        /// Signed up, not yet approved.
        Pending => "pending",
        /// May transact.
        Approved => "approved",
        /// Blocked by an admin.
        Suspended => "suspended",
    }
}

string_enum! {
    /// The payment state machine: created → processing → succeeded | failed | cancelled |
    /// expired; succeeded → partially_refunded → refunded.
    PaymentStatus {
        /// Waiting for the customer at checkout.
        Created => "created",
        /// The customer paid and the processor has not decided yet (a 3-D Secure
        /// challenge, a pending magic card); the checkout still takes its answer.
        AwaitingProcessor => "awaiting_processor",
        /// The processor approved and the merchant has not yet confirmed (manual
        /// capture).
        Processing => "processing",
        /// Captured: the merchant's balance is credited.
        Succeeded => "succeeded",
        /// Declined or failed at the processor.
        Failed => "failed",
        /// Cancelled by the customer.
        Cancelled => "cancelled",
        /// Not completed before its expiry.
        Expired => "expired",
        /// Part of the captured amount was refunded.
        PartiallyRefunded => "partially_refunded",
        /// The whole captured amount was refunded.
        Refunded => "refunded",
    }
}

impl PaymentStatus {
    /// True once the customer can no longer pay.
    pub fn is_final_for_checkout(self) -> bool {
        !matches!(self, PaymentStatus::Created)
    }

    /// True when money was captured (refunds are possible).
    pub fn is_captured(self) -> bool {
        matches!(self, PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded | PaymentStatus::Refunded)
    }
}

string_enum! {
    /// When a payment authorized by the processor is captured.
    CaptureMode {
        /// Captured as soon as the processor approves it.
        Automatic => "automatic",
        /// Held in `processing` until the merchant confirms it.
        Manual => "manual",
    }
}

string_enum! {
    /// Refund lifecycle: pending (admin queue) → succeeded | rejected.
    RefundStatus {
        /// Waiting in the admin queue.
        Pending => "pending",
        /// Approved and paid back.
        Succeeded => "succeeded",
        /// Rejected by an admin.
        Rejected => "rejected",
    }
}

string_enum! {
    /// Payout lifecycle: pending (admin queue, amount reserved) → processed | rejected.
    PayoutStatus {
        /// Waiting for an admin; the amount is reserved.
        Pending => "pending",
        /// Paid to the bank account.
        Processed => "processed",
        /// Refused; the reservation returned to the available balance.
        Rejected => "rejected",
    }
}

string_enum! {
    /// Settlement lifecycle: processing → paid.
    SettlementStatus {
        /// Moved out of the available balance, not yet paid.
        Processing => "processing",
        /// Paid to the merchant.
        Paid => "paid",
    }
}

string_enum! {
    /// Canonical events written to the outbox in the same transaction as the change.
    EventType {
        /// A payment was created.
        PaymentCreated => "payment.created",
        /// The processor authorized a payment awaiting merchant confirmation.
        PaymentProcessing => "payment.processing",
        /// The processor took a payment but has not decided it yet.
        PaymentPending => "payment.pending",
        /// A payment was captured.
        PaymentSucceeded => "payment.succeeded",
        /// A payment failed.
        PaymentFailed => "payment.failed",
        /// A payment was cancelled.
        PaymentCancelled => "payment.cancelled",
        /// A payment expired.
        PaymentExpired => "payment.expired",
        /// A refund was requested.
        RefundRequested => "refund.requested",
        /// A refund was approved and paid.
        RefundSucceeded => "refund.succeeded",
        /// A refund was rejected.
        RefundRejected => "refund.rejected",
        /// A settlement was created.
        SettlementCreated => "settlement.created",
        /// A settlement was paid.
        SettlementPaid => "settlement.paid",
        /// A payout was requested (its amount reserved).
        PayoutRequested => "payout.requested",
        /// A payout was paid.
        PayoutProcessed => "payout.processed",
        /// A payout was rejected.
        PayoutRejected => "payout.rejected",
        /// A user (a credential with a role) was created.
        UserCreated => "user.created",
        /// A user was suspended.
        UserSuspended => "user.suspended",
        /// A merchant asked for a test event.
        TestPing => "test.ping",
    }
}

/// The customer as the merchant described them. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// Full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// Where the customer and notifications go after checkout.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectUrls {
    /// After a successful payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<String>,
    /// After a failed payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// After the customer cancels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<String>,
    /// Per-payment notification URL (overrides the merchant's webhook URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<String>,
}

/// What the customer paid with, without anything secret: card brand and last four
/// digits, or a masked wallet number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instrument {
    /// `card` or `wallet`.
    pub kind: String,
    /// Card brand or wallet provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    /// Last four digits of the card or wallet number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last4: Option<String>,
}

/// The last attempt on a payment: the code and message of whoever decided it (the
/// processor's response code, or the reason's name when the account's policy or
/// paybridge decided), and for a decline its typed [`Decline`] reason, which each
/// dialect maps to its own code, and who declined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptLog {
    /// Result code: the processor's (`005`), or the reason's name (`daily_count_exceeded`).
    pub code: String,
    /// Message.
    pub message: String,
    /// Why it was declined; `None` while pending, and for declines recorded before
    /// reasons were typed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Decline>,
    /// Who declined: the account's policy, or the processor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declined_by: Option<DeclinedBy>,
}

impl AttemptLog {
    /// The record of a decline for `reason` by `by`, under `code` (the processor's own,
    /// or the reason's name).
    pub fn declined(reason: Decline, code: impl Into<String>, by: DeclinedBy) -> AttemptLog {
        AttemptLog {
            code: code.into(),
            message: reason.message().to_owned(),
            reason: Some(reason),
            declined_by: Some(by),
        }
    }
}

string_enum! {
    /// Why a charge was declined: the processor's (or issuer's) reasons, and the account
    /// policy's own (a processor may decline for an amount too, so the attempt records
    /// who declined beside the reason). Dialects map each to their codes.
    Decline {
        /// The bank's system failed; try again later.
        BankError => "bank_error",
        /// The card is invalid or expired.
        InvalidCard => "invalid_card",
        /// The card is blocked or restricted.
        CardRestricted => "card_restricted",
        /// 3-D Secure authentication failed.
        AuthenticationFailed => "authentication_failed",
        /// Insufficient funds.
        InsufficientFunds => "insufficient_funds",
        /// The CVV or PIN was wrong.
        IncorrectSecurityCode => "incorrect_security_code",
        /// Blocked by risk control.
        RiskControl => "risk_control",
        /// The card type is not supported.
        UnsupportedCard => "unsupported_card",
        /// The payer's email address was refused.
        InvalidEmail => "invalid_email",
        /// The payer's postal code was refused.
        InvalidPostalCode => "invalid_postal_code",
        /// The processor refused the merchant's credentials.
        CredentialsRefused => "credentials_refused",
        /// The transaction was cancelled.
        Cancelled => "cancelled",
        /// Authentication timed out.
        AuthenticationTimeout => "authentication_timeout",
        /// The account's policy blocks the origin domain.
        OriginBlocked => "origin_blocked",
        /// The callback URL is not allowed.
        CallbackNotAllowed => "callback_not_allowed",
        /// The email is blocked for its chargeback history.
        EmailBlocked => "email_blocked",
        /// The card is blocked for its chargeback history.
        CardBlocked => "card_blocked",
        /// Above the account's largest amount.
        AboveMaxAmount => "above_max_amount",
        /// Below the account's smallest amount.
        BelowMinAmount => "below_min_amount",
        /// A currency the account does not accept.
        CurrencyNotAllowed => "currency_not_allowed",
        /// The account's payments for today are used up.
        DailyCountExceeded => "daily_count_exceeded",
        /// The account's payments for this month are used up.
        MonthlyCountExceeded => "monthly_count_exceeded",
        /// The account's total for today would be exceeded.
        DailyTotalExceeded => "daily_total_exceeded",
        /// The account's total for this month would be exceeded.
        MonthlyTotalExceeded => "monthly_total_exceeded",
        /// A payer country the account does not accept.
        CountryNotAllowed => "country_not_allowed",
        /// The processor failed (or answered nothing paybridge could read).
        ProcessorError => "processor_error",
        /// The issuer declined without a reason.
        IssuerDeclined => "issuer_declined",
    }
}

string_enum! {
    /// Who declined a charge.
    DeclinedBy {
        /// The account's own policy (its limits), before any processor saw the charge.
        Policy => "policy",
        /// The processor or the issuer (or paybridge, when the processor failed).
        Processor => "processor",
    }
}

impl Decline {
    /// The reason in words, as card processors put it.
    pub fn message(self) -> &'static str {
        use Decline::*;
        match self {
            BankError => "Bank system error. Try again later",
            InvalidCard => "Invalid or expired card",
            CardRestricted => "Card is blocked or restricted",
            AuthenticationFailed => "3DS system decline",
            InsufficientFunds => "Insufficient funds",
            IncorrectSecurityCode => "Security code (CVV/PIN) incorrect",
            RiskControl => "Transaction blocked due to risk control",
            UnsupportedCard => "Unsupported card type",
            InvalidEmail => "Invalid email address format",
            InvalidPostalCode => "Invalid postal/zip code",
            CredentialsRefused => "Invalid credentials or encryption error",
            Cancelled => "Transaction was cancelled",
            AuthenticationTimeout => "Authentication timed out",
            OriginBlocked => "Declined: Origin domain is blocked",
            CallbackNotAllowed => "Declined: Callback URL is not allowed",
            EmailBlocked => "Declined: Email is blocked due high CHB history",
            CardBlocked => "Declined: Card is blocked due high CHB history",
            AboveMaxAmount => "Declined: Transaction exceeds max amount",
            BelowMinAmount => "Declined: Transaction less than min amount",
            CurrencyNotAllowed => "Declined: Currency is not allowed",
            DailyCountExceeded => "Declined: Number of transactions exceeded for today",
            MonthlyCountExceeded => "Declined: Number of transactions exceeded this month",
            DailyTotalExceeded => "Declined: Total transaction amount exceeded for today",
            MonthlyTotalExceeded => "Declined: Total transaction amount exceeded this month",
            CountryNotAllowed => "Declined: Country is not allowed",
            ProcessorError => "System internal error. Contact system administrator",
            IssuerDeclined => "Transaction declined. Contact your card issuer",
        }
    }
}

/// A command to create a payment, already validated by the dialect.
#[derive(Debug, Clone)]
pub struct NewPayment {
    /// The merchant's reference (invoice id, order id), unique per merchant and dialect.
    pub reference: String,
    /// The amount.
    pub amount: Money,
    /// When it is captured.
    pub capture_mode: CaptureMode,
    /// Payment method chosen up front (`bkash`, `card`…), if any.
    pub method: Option<String>,
    /// Free text for the checkout page.
    pub description: Option<String>,
    /// The customer.
    pub customer: Customer,
    /// The merchant's metadata, returned as given.
    pub metadata: Option<serde_json::Value>,
    /// Redirect and notification URLs.
    pub urls: RedirectUrls,
}

/// A payment as the core knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// Internal id.
    pub id: i64,
    /// Owner.
    pub merchant_id: i64,
    /// The dialect whose reference namespace it lives in.
    pub namespace: Dialect,
    /// The merchant's reference.
    pub reference: String,
    /// The amount.
    pub amount: Money,
    /// State.
    pub status: PaymentStatus,
    /// Capture mode.
    pub capture_mode: CaptureMode,
    /// Method chosen at creation or at checkout.
    pub method: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Customer.
    pub customer: Customer,
    /// Merchant metadata.
    pub metadata: Option<serde_json::Value>,
    /// Redirect and notification URLs.
    pub urls: RedirectUrls,
    /// The hosted checkout's token: the capability its page (`/checkout/{token}`) and the
    /// sandbox control API take. Its URL depends on where the dialect was reached
    /// (`http::mount::Mount::checkout_url`).
    #[serde(default, alias = "checkout_url", deserialize_with = "last_segment")]
    pub checkout_token: String,
    /// The processor's transaction id once the processor has seen the payment.
    pub processor_txn_id: Option<String>,
    /// What the customer paid with.
    pub instrument: Option<Instrument>,
    /// The last processor attempt.
    pub last_attempt: Option<AttemptLog>,
    /// The fee posted at capture, in minor units of the payment's currency (0 until
    /// captured, and for accounts without fees); the merchant was credited the rest.
    #[serde(default)]
    pub fee: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Checkout expires.
    pub expires_at: DateTime<Utc>,
    /// Authorized by the processor.
    pub authorized_at: Option<DateTime<Utc>>,
    /// Captured (balance credited).
    pub captured_at: Option<DateTime<Utc>>,
    /// The credential (user) that created it, for dialects whose users see only their
    /// own history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<i64>,
}

/// The checkout token of a payment as events recorded it: the token, or — in events
/// written before links followed the mount — the checkout URL it ends.
fn last_segment<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    Ok(text.rsplit('/').next().unwrap_or_default().to_owned())
}

/// A refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// Internal id.
    pub id: i64,
    /// The refunded payment.
    pub payment_id: i64,
    /// The payment's merchant reference.
    pub payment_reference: String,
    /// Owner.
    pub merchant_id: i64,
    /// The amount.
    pub amount: Money,
    /// The part of the payment's fee this refund returns to the merchant, in minor
    /// units (see the ledger's refund rule).
    #[serde(default)]
    pub fee_returned: i64,
    /// State.
    pub status: RefundStatus,
    /// Why the merchant asked.
    pub reason: Option<String>,
    /// The admin's note on approval or rejection.
    pub note: Option<String>,
    /// Requested.
    pub created_at: DateTime<Utc>,
    /// Approved or rejected.
    pub decided_at: Option<DateTime<Utc>>,
}

/// A settlement: money moved out of a merchant's balance to the merchant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    /// Internal id.
    pub id: i64,
    /// Owner.
    pub merchant_id: i64,
    /// The amount.
    pub amount: Money,
    /// State.
    pub status: SettlementStatus,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Paid.
    pub paid_at: Option<DateTime<Utc>>,
}

/// A payout: money the merchant asked to be paid to a bank account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payout {
    /// Internal id.
    pub id: i64,
    /// Owner.
    pub merchant_id: i64,
    /// The credential (user) that asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<i64>,
    /// The dialect it was requested through.
    pub namespace: Dialect,
    /// The amount.
    pub amount: Money,
    /// State.
    pub status: PayoutStatus,
    /// Where it goes (the dialect's bank-account fields).
    pub destination: serde_json::Value,
    /// The merchant's reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The admin's note on approval or rejection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Requested.
    pub created_at: DateTime<Utc>,
    /// Processed or rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
}

/// A command to request a payout, already validated by the dialect.
#[derive(Debug, Clone)]
pub struct NewPayout {
    /// The amount.
    pub amount: Money,
    /// The bank account, in the dialect's fields.
    pub destination: serde_json::Value,
    /// The merchant's reference.
    pub reference: Option<String>,
}

/// Options for listing payouts, newest first.
#[derive(Debug, Clone, Default)]
pub struct PayoutFilter {
    /// Only these statuses (any when empty).
    pub statuses: Vec<PayoutStatus>,
    /// Only those this credential asked for.
    pub created_by: Option<i64>,
    /// At most this many.
    pub limit: u64,
    /// Skip this many.
    pub offset: u64,
}

/// A merchant's balances in one currency, derived from ledger postings (minor units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    /// The currency.
    pub currency: Currency,
    /// Captured funds that can be settled or refunded.
    pub available: i64,
    /// Held for pending refunds.
    pub reserved: i64,
    /// In settlements that are not yet paid.
    pub pending_settlement: i64,
}

/// A merchant as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merchant {
    /// Internal id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Whether it may transact.
    pub status: MerchantStatus,
    /// Where webhooks go.
    pub webhook_url: Option<String>,
    /// Client IPs or CIDR ranges allowed to call the dialect APIs; empty means any.
    pub ip_allowlist: Vec<String>,
    /// Requests per minute across all of its credentials; 0 = unlimited.
    pub rate_limit_per_minute: u32,
    /// Currency for dialects that do not name one.
    pub default_currency: String,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// A dialect credential: the public key id and its secret material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Internal id.
    pub id: i64,
    /// Owner.
    pub merchant_id: i64,
    /// The dialect it authenticates.
    pub dialect: Dialect,
    /// The public part (API key, client id, token).
    pub key_id: String,
    /// The secret part (API secret, secret key); equal to `key_id` for single-token
    /// dialects.
    pub secret: super::Secret,
    /// StarPay user role.
    pub role: Option<String>,
    /// A human label (StarPay user name).
    pub label: Option<String>,
    /// Its dialect's settings (ShadhinPay's business id, QR Money's account id, …),
    /// always of `dialect`'s shape.
    pub settings: super::DialectSettings,
    /// Whether requests must be signed.
    pub require_signature: bool,
    /// `active` or `revoked`.
    pub active: bool,
}

/// Options for listing a merchant's payments, newest first.
#[derive(Debug, Clone, Default)]
pub struct PaymentFilter {
    /// Only these statuses (any when empty).
    pub statuses: Vec<PaymentStatus>,
    /// At most this many.
    pub limit: u64,
    /// Skip this many.
    pub offset: u64,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created at or before.
    pub to: Option<DateTime<Utc>>,
    /// Only those this credential (user) created.
    pub created_by: Option<i64>,
}

/// What the operator's payment list asks for: any merchant's, in any dialect.
#[derive(Debug, Clone, Default)]
pub struct PaymentSearch {
    /// Only this merchant's.
    pub merchant_id: Option<i64>,
    /// Only in this dialect's namespace.
    pub dialect: Option<Dialect>,
    /// Only in this status.
    pub status: Option<PaymentStatus>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub to: Option<DateTime<Utc>>,
    /// A merchant reference containing this text, the processor's transaction id, or the
    /// payment's number.
    pub text: Option<String>,
    /// At most this many.
    pub limit: u64,
    /// Skip this many.
    pub offset: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment_json(token_field: (&str, &str)) -> serde_json::Value {
        let mut value = serde_json::json!({
            "id": 7, "merchant_id": 1, "namespace": "payrequest", "reference": "PR-1",
            "amount": { "minor": 1050, "currency": "EUR" }, "status": "succeeded", "capture_mode": "automatic",
            "customer": {}, "urls": {}, "created_at": "2026-11-21T00:00:00Z",
            "updated_at": "2026-11-21T00:00:00Z", "expires_at": "2026-11-21T00:15:00Z",
        });
        value[token_field.0] = serde_json::Value::String(token_field.1.to_owned());
        value
    }

    #[test]
    fn events_written_with_a_checkout_url_still_give_the_token() {
        let old: Payment =
            serde_json::from_value(payment_json(("checkout_url", "http://127.0.0.1:8080/checkout/abc123"))).unwrap();
        assert_eq!(old.checkout_token, "abc123");
        let new: Payment = serde_json::from_value(payment_json(("checkout_token", "abc123"))).unwrap();
        assert_eq!(new.checkout_token, "abc123");
        let round: Payment = serde_json::from_value(serde_json::to_value(&new).unwrap()).unwrap();
        assert_eq!(round, new);
    }
}
