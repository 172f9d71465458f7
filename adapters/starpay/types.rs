//! StarPay wire types. The seed documents the endpoints, the error envelope and the
//! webhook sample (`order_id`, `amount` in major units, `currency`, `status`, `payer`);
//! the request and response bodies below follow that style: snake_case, a `success`
//! envelope, amounts in major units, times as `2026-04-05T06:00:00.000Z`.

use poem_openapi::{Enum, Object};
use serde::Deserialize;

use crate::core::{
    Balance, CaptureMode, CoreError, Currency, Customer, FieldIssue, Money, NewPayment, NewPayout, Payment,
    PaymentStatus, Payout, PayoutStatus, RedirectUrls, check_url, money::major_of,
};
use crate::http::fields::{check_email, check_len, check_metadata, check_phone, major_amount};
use crate::http::mount::Mount;
use crate::http::wire::{JsonDecimal, UtcMillis};

/// Payment methods the sandbox processor accepts.
const METHODS: &[&str] = &["upi", "card", "bkash", "nagad", "rocket", "upay"];

fn amount_in(amount: &JsonDecimal, currency: &str, issues: &mut Vec<FieldIssue>) -> Option<Money> {
    let Some(currency) = Currency::parse(currency) else {
        issues.push(FieldIssue::new("currency", "is not a supported currency code"));
        return None;
    };
    major_amount(amount, currency, issues)
}

fn required(field: &str, value: &str, max: usize, issues: &mut Vec<FieldIssue>) {
    if value.trim().is_empty() {
        issues.push(FieldIssue::new(field, "is required"));
    } else {
        check_len(field, Some(value), max, issues);
    }
}

/// `POST /payments`: a pay-in order.
#[derive(Object, Deserialize, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CreatePaymentRequest {
    /// Your order id, unique per account (`duplicate_order_id` otherwise).
    #[oai(validator(min_length = 1, max_length = 100))]
    pub order_id: String,
    /// Amount in major units of the currency (5000 = 5,000.00 INR).
    pub amount: JsonDecimal,
    /// ISO 4217 code; the account's default currency when absent.
    #[oai(validator(max_length = 16, pattern = "^[A-Za-z]{3,4}$"))]
    pub currency: Option<String>,
    /// The payer's name.
    #[oai(validator(max_length = 200))]
    pub payer: Option<String>,
    /// The payer's email.
    #[oai(validator(max_length = 254))]
    pub payer_email: Option<String>,
    /// The payer's phone.
    #[oai(validator(max_length = 30, pattern = "^[0-9 +()-]{6,30}$"))]
    pub payer_phone: Option<String>,
    /// What the payment is for, shown at checkout.
    #[oai(validator(max_length = 500))]
    pub description: Option<String>,
    /// `upi`, `card`, `bkash`, `nagad`, `rocket` or `upay`; chosen at checkout when absent.
    #[oai(validator(max_length = 32, pattern = "^(upi|card|bkash|nagad|rocket|upay)$"))]
    pub payment_method: Option<String>,
    /// Where the checkout sends the customer afterwards (with `order_id` and `status`).
    #[oai(validator(max_length = 2048))]
    pub return_url: Option<String>,
    /// Any JSON object (at most 8 KiB as compact JSON); returned as given.
    pub metadata: Option<serde_json::Value>,
}

impl CreatePaymentRequest {
    /// Validates the request into a canonical command.
    pub fn into_command(self, default_currency: &str) -> Result<NewPayment, CoreError> {
        let mut issues = Vec::new();
        required("order_id", &self.order_id, 100, &mut issues);
        if self.order_id.chars().any(char::is_control) {
            issues.push(FieldIssue::new("order_id", "must be printable"));
        }
        let amount = amount_in(&self.amount, self.currency.as_deref().unwrap_or(default_currency), &mut issues);
        check_email("payer_email", self.payer_email.as_deref(), &mut issues);
        check_phone("payer_phone", self.payer_phone.as_deref(), &mut issues);
        let method = self.payment_method.map(|m| m.to_ascii_lowercase());
        if method.as_deref().is_some_and(|m| !METHODS.contains(&m)) {
            issues.push(FieldIssue::new("payment_method", format!("must be one of {}", METHODS.join(", "))));
        }
        if let Some(url) = &self.return_url {
            check_url("return_url", url, &mut issues);
        }
        check_metadata("metadata", self.metadata.as_ref(), &mut issues);
        let (Some(amount), true) = (amount, issues.is_empty()) else {
            return Err(CoreError::Validation(issues));
        };
        Ok(NewPayment {
            reference: self.order_id,
            amount,
            capture_mode: CaptureMode::Automatic,
            method,
            description: self.description,
            customer: Customer { name: self.payer, email: self.payer_email, phone: self.payer_phone },
            metadata: self.metadata,
            urls: RedirectUrls {
                success: self.return_url.clone(),
                failure: self.return_url.clone(),
                cancel: self.return_url,
                notify: None,
            },
        })
    }
}

/// A payment's status.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum PaymentState {
    /// Waiting for the customer.
    Pending,
    /// Paid; the processor has not decided yet.
    Processing,
    /// Paid and credited.
    Completed,
    /// Declined or failed.
    Failed,
    /// Cancelled by the customer.
    Cancelled,
    /// Not paid in time.
    Expired,
}

impl From<PaymentStatus> for PaymentState {
    fn from(status: PaymentStatus) -> Self {
        match status {
            PaymentStatus::Created => PaymentState::Pending,
            PaymentStatus::AwaitingProcessor | PaymentStatus::Processing => PaymentState::Processing,
            PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded | PaymentStatus::Refunded => {
                PaymentState::Completed
            }
            PaymentStatus::Failed => PaymentState::Failed,
            PaymentStatus::Cancelled => PaymentState::Cancelled,
            PaymentStatus::Expired => PaymentState::Expired,
        }
    }
}

impl PaymentState {
    /// The canonical statuses this one shows.
    pub fn canonical(self) -> Vec<PaymentStatus> {
        PaymentStatus::ALL.iter().copied().filter(|s| PaymentState::from(*s) == self).collect()
    }
}

/// Transaction ids on the wire: `txn_<number>`.
pub fn transaction_id(id: i64) -> String {
    format!("txn_{id}")
}

/// Parses a wire transaction id; anything else matches no payment.
pub fn parse_transaction_id(text: &str) -> Option<i64> {
    text.strip_prefix("txn_")?.parse().ok()
}

/// A payment.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct PaymentData {
    /// Transaction id, `txn_<digits>` (what `GET /payments/:id` takes).
    pub transaction_id: String,
    /// Your order id.
    pub order_id: String,
    /// Amount in major units.
    pub amount: JsonDecimal,
    /// Currency code.
    pub currency: String,
    /// Status.
    pub status: PaymentState,
    /// The payer's name.
    pub payer: Option<String>,
    /// The payer's email.
    pub payer_email: Option<String>,
    /// The payer's phone.
    pub payer_phone: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// How the payer paid, once known.
    pub payment_method: Option<String>,
    /// The processor's reference once paid (`UPI…`, `CRD…`).
    pub processor_reference: Option<String>,
    /// The hosted checkout page for the payer.
    pub payment_url: String,
    /// Your metadata.
    pub metadata: Option<serde_json::Value>,
    /// Created.
    pub created_at: UtcMillis,
    /// The checkout stops accepting payment at this time.
    pub expires_at: UtcMillis,
    /// Completed.
    pub completed_at: Option<UtcMillis>,
}

impl PaymentData {
    /// `p` as reached through `mount` (its checkout link on the mount's origin).
    pub fn new(p: Payment, mount: &Mount) -> Self {
        PaymentData {
            transaction_id: transaction_id(p.id),
            order_id: p.reference,
            amount: p.amount.to_major().into(),
            currency: p.amount.currency().code().to_owned(),
            status: p.status.into(),
            payer: p.customer.name,
            payer_email: p.customer.email,
            payer_phone: p.customer.phone,
            description: p.description,
            payment_method: p.method,
            processor_reference: p.processor_txn_id,
            payment_url: mount.checkout_url(&p.checkout_token),
            metadata: p.metadata,
            created_at: p.created_at.into(),
            expires_at: p.expires_at.into(),
            completed_at: p.captured_at.map(Into::into),
        }
    }
}

/// `{"success": true, "message", "data": payment}`.
#[derive(Object, Debug)]
pub struct PaymentResponse {
    /// Always `true`.
    pub success: bool,
    /// What happened.
    pub message: String,
    /// The payment.
    pub data: PaymentData,
}

/// Where a page is.
#[derive(Object, Debug)]
pub struct Pagination {
    /// This page (from 1).
    pub page: u64,
    /// Items per page.
    pub limit: u64,
    /// Records matching the filters.
    pub total: u64,
    /// Pages at this limit.
    pub pages: u64,
}

impl Pagination {
    /// Page `page` of `total` records, `limit` each.
    pub fn of(page: u64, limit: u64, total: u64) -> Pagination {
        Pagination { page, limit, total, pages: total.div_ceil(limit) }
    }
}

/// `{"success": true, "data": [payment…], "pagination"}`.
#[derive(Object, Debug)]
pub struct PaymentList {
    /// Always `true`.
    pub success: bool,
    /// Payments, most recent first.
    pub data: Vec<PaymentData>,
    /// Where this page is.
    pub pagination: Pagination,
}

/// `POST /payouts`: a payout to a bank account.
#[derive(Object, Deserialize, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CreatePayoutRequest {
    /// Amount in major units; at most the available balance.
    pub amount: JsonDecimal,
    /// ISO 4217 code; the account's default currency when absent.
    #[oai(validator(max_length = 16, pattern = "^[A-Za-z]{3,4}$"))]
    pub currency: Option<String>,
    /// The account holder's name.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub account_holder_name: String,
    /// The account number: 6 to 34 letters and digits.
    #[oai(validator(max_length = 64, pattern = "^[A-Za-z0-9]{6,34}$"))]
    pub account_number: String,
    /// The bank's name.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub bank_name: String,
    /// Indian Financial System Code (`HDFC0001234`), for INR payouts.
    #[oai(validator(max_length = 32, pattern = "^[A-Za-z]{4}0[A-Za-z0-9]{6}$"))]
    pub ifsc_code: Option<String>,
    /// Your reference for the payout.
    #[oai(validator(max_length = 100))]
    pub reference: Option<String>,
}

impl CreatePayoutRequest {
    /// Validates the request into a canonical command.
    pub fn into_command(self, default_currency: &str) -> Result<NewPayout, CoreError> {
        let mut issues = Vec::new();
        let currency = self.currency.as_deref().unwrap_or(default_currency).to_owned();
        let amount = amount_in(&self.amount, &currency, &mut issues);
        required("account_holder_name", &self.account_holder_name, 100, &mut issues);
        required("bank_name", &self.bank_name, 100, &mut issues);
        let number = self.account_number.trim();
        if number.is_empty() {
            issues.push(FieldIssue::new("account_number", "is required"));
        } else if !(6..=34).contains(&number.len()) || !number.chars().all(|c| c.is_ascii_alphanumeric()) {
            issues.push(FieldIssue::new("account_number", "must be 6 to 34 letters and digits"));
        }
        let ifsc = self.ifsc_code.map(|code| code.to_ascii_uppercase());
        let ifsc_ok = |code: &str| {
            let bytes = code.as_bytes();
            bytes.len() == 11
                && bytes[..4].iter().all(u8::is_ascii_alphabetic)
                && bytes[4] == b'0'
                && bytes[5..].iter().all(u8::is_ascii_alphanumeric)
        };
        match &ifsc {
            Some(code) if !ifsc_ok(code) => {
                issues.push(FieldIssue::new("ifsc_code", "must be an IFSC code like HDFC0001234"))
            }
            None if currency.eq_ignore_ascii_case("INR") => issues.push(FieldIssue::new("ifsc_code", "is required")),
            _ => {}
        }
        let (Some(amount), true) = (amount, issues.is_empty()) else {
            return Err(CoreError::Validation(issues));
        };
        let destination = serde_json::json!({
            "account_holder_name": self.account_holder_name.trim(),
            "account_number": number,
            "bank_name": self.bank_name.trim(),
            "ifsc_code": ifsc,
        });
        Ok(NewPayout { amount, destination, reference: self.reference })
    }
}

/// A payout's status.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum PayoutState {
    /// Waiting for processing; the amount is reserved.
    Pending,
    /// Paid to the bank account.
    Processed,
    /// Rejected; the amount is available again.
    Rejected,
}

impl From<PayoutStatus> for PayoutState {
    fn from(status: PayoutStatus) -> Self {
        match status {
            PayoutStatus::Pending => PayoutState::Pending,
            PayoutStatus::Processed => PayoutState::Processed,
            PayoutStatus::Rejected => PayoutState::Rejected,
        }
    }
}

impl From<PayoutState> for PayoutStatus {
    fn from(state: PayoutState) -> Self {
        match state {
            PayoutState::Pending => PayoutStatus::Pending,
            PayoutState::Processed => PayoutStatus::Processed,
            PayoutState::Rejected => PayoutStatus::Rejected,
        }
    }
}

/// Payout ids on the wire: `po_<number>`.
pub fn payout_id(id: i64) -> String {
    format!("po_{id}")
}

/// An account number as shown back: all but the last four characters masked.
pub fn masked(number: &str) -> String {
    let keep = number.len().saturating_sub(4);
    format!("{}{}", "X".repeat(keep), &number[keep..])
}

/// A payout.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct PayoutData {
    /// Payout id, `po_<digits>`.
    pub payout_id: String,
    /// Amount in major units.
    pub amount: JsonDecimal,
    /// Currency code.
    pub currency: String,
    /// Status.
    pub status: PayoutState,
    /// The account holder.
    pub account_holder_name: Option<String>,
    /// The account number, masked but for its last four characters.
    pub account_number: Option<String>,
    /// The bank.
    pub bank_name: Option<String>,
    /// IFSC code.
    pub ifsc_code: Option<String>,
    /// Your reference.
    pub reference: Option<String>,
    /// Why it was rejected, or the processing note.
    pub note: Option<String>,
    /// Requested.
    pub created_at: UtcMillis,
    /// Processed or rejected.
    pub processed_at: Option<UtcMillis>,
}

impl From<Payout> for PayoutData {
    fn from(p: Payout) -> Self {
        let field = |name: &str| p.destination.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        PayoutData {
            payout_id: payout_id(p.id),
            amount: p.amount.to_major().into(),
            currency: p.amount.currency().code().to_owned(),
            status: p.status.into(),
            account_holder_name: field("account_holder_name"),
            account_number: field("account_number").map(|n| masked(&n)),
            bank_name: field("bank_name"),
            ifsc_code: field("ifsc_code"),
            reference: p.reference,
            note: p.note,
            created_at: p.created_at.into(),
            processed_at: p.decided_at.map(Into::into),
        }
    }
}

/// `{"success": true, "message", "data": payout}`.
#[derive(Object, Debug)]
pub struct PayoutResponse {
    /// Always `true`.
    pub success: bool,
    /// What happened.
    pub message: String,
    /// The payout.
    pub data: PayoutData,
}

/// `{"success": true, "data": [payout…], "pagination"}`.
#[derive(Object, Debug)]
pub struct PayoutList {
    /// Always `true`.
    pub success: bool,
    /// Payouts, most recent first.
    pub data: Vec<PayoutData>,
    /// Where this page is.
    pub pagination: Pagination,
}

/// One currency's wallet, in major units.
#[derive(Object, Debug)]
pub struct Wallet {
    /// Currency code.
    pub currency: String,
    /// What payouts can draw on.
    pub available_balance: JsonDecimal,
    /// Held for pending payouts and refunds.
    pub reserved_balance: JsonDecimal,
    /// In settlements not yet paid.
    pub pending_settlement: JsonDecimal,
}

impl From<&Balance> for Wallet {
    fn from(b: &Balance) -> Self {
        Wallet {
            currency: b.currency.code().to_owned(),
            available_balance: major_of(b.available, b.currency).into(),
            reserved_balance: major_of(b.reserved, b.currency).into(),
            pending_settlement: major_of(b.pending_settlement, b.currency).into(),
        }
    }
}

/// The account's balance.
#[derive(Object, Debug)]
pub struct BalanceData {
    /// The account's default currency.
    pub currency: String,
    /// Available in the default currency.
    pub balance: JsonDecimal,
    /// Every currency's wallet.
    pub wallets: Vec<Wallet>,
}

/// `{"success": true, "data": balance}`.
#[derive(Object, Debug)]
pub struct BalanceResponse {
    /// Always `true`.
    pub success: bool,
    /// The balance.
    pub data: BalanceData,
}

/// The calling user.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct UserData {
    /// User id, `usr_<digits>`.
    pub id: String,
    /// Name.
    pub name: Option<String>,
    /// Role.
    pub role: String,
    /// What the role may do.
    pub permissions: Vec<String>,
    /// Requests allowed per hour.
    pub rate_limit_per_hour: u32,
}

/// The account the user belongs to.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct AccountData {
    /// Name.
    pub name: String,
    /// `approved` (others cannot call the API).
    pub status: String,
    /// Default currency.
    pub default_currency: String,
    /// Where webhooks go.
    pub webhook_url: Option<String>,
}

/// The profile.
#[derive(Object, Debug)]
pub struct ProfileData {
    /// You.
    pub user: UserData,
    /// Your account and its settings.
    pub merchant: AccountData,
}

/// `{"success": true, "data": profile}`.
#[derive(Object, Debug)]
pub struct ProfileResponse {
    /// Always `true`.
    pub success: bool,
    /// The profile.
    pub data: ProfileData,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_numbers_are_masked() {
        assert_eq!(parse_transaction_id(&transaction_id(42)), Some(42));
        assert_eq!(parse_transaction_id("42"), None);
        assert_eq!(masked("1234567890"), "XXXXXX7890");
        assert_eq!(PaymentState::Completed.canonical().len(), 3);
    }
}
