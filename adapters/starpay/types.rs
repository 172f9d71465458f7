//! StarPay wire types. The seed documents the endpoints, the error envelope and the
//! webhook sample (`order_id`, `amount` in major units, `currency`, `status`, `payer`);
//! the request and response bodies below follow that style: snake_case, a `success`
//! envelope, amounts in major units, times as `2026-04-05T06:00:00.000Z`.

use poem_openapi::{Enum, Object};
use serde::Deserialize;

use crate::core::{
    Balance, CaptureMode, CoreError, Currency, Customer, FieldIssue, NewPayment, NewPayout, Payment, PaymentStatus,
    Payout, PayoutStatus, RedirectUrls, money::major_of,
};
use crate::http::fields::{
    Amount, CurrencyCode, Email, HttpUrl, JsonObject, PaymentMethod, Phone, Reference, TextField, TextWrapper,
    check_metadata,
};
use crate::http::mount::Mount;
use crate::http::wire::{JsonDecimal, UtcMillis};

/// `currency` or, when absent, the merchant's default (a supported code, checked
/// when it was configured).
fn currency_or(currency: Option<CurrencyCode>, default_currency: &str) -> Result<Currency, CoreError> {
    match currency {
        Some(code) => Ok(code.0),
        None => Currency::parse(default_currency)
            .ok_or_else(|| CoreError::Validation(vec![FieldIssue::new("currency", "is required")])),
    }
}

/// `POST /payments`: a pay-in order.
#[derive(Object, Deserialize, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CreatePaymentRequest {
    /// Your order id, unique per account (`duplicate_order_id` otherwise).
    pub order_id: Reference,
    /// Amount in major units of the currency (5000 = 5,000.00 INR).
    pub amount: Amount,
    /// ISO 4217 code; the account's default currency when absent.
    pub currency: Option<CurrencyCode>,
    /// The payer's name.
    #[oai(validator(max_length = 200))]
    pub payer: Option<String>,
    /// The payer's email.
    pub payer_email: Option<Email>,
    /// The payer's phone.
    pub payer_phone: Option<Phone>,
    /// What the payment is for, shown at checkout.
    #[oai(validator(max_length = 500))]
    pub description: Option<String>,
    /// The payment method; chosen at checkout when absent.
    pub payment_method: Option<PaymentMethod>,
    /// Where the checkout sends the customer afterwards (with `order_id` and `status`).
    pub return_url: Option<HttpUrl>,
    /// Any JSON object (at most 8 KiB as compact JSON); returned as given.
    pub metadata: Option<JsonObject>,
}

impl CreatePaymentRequest {
    /// What is left once the fields parsed: the amount in its currency (the account's
    /// default when absent), the metadata.
    pub fn into_command(self, default_currency: &str) -> Result<NewPayment, CoreError> {
        let mut issues = Vec::new();
        let amount = self.amount.checked(currency_or(self.currency, default_currency)?, &mut issues);
        let metadata = check_metadata("metadata", self.metadata, &mut issues);
        let (Some(amount), true) = (amount, issues.is_empty()) else {
            return Err(CoreError::Validation(issues));
        };
        let return_url = self.return_url.map(String::from);
        Ok(NewPayment {
            reference: self.order_id.into(),
            amount,
            capture_mode: CaptureMode::Automatic,
            method: self.payment_method.map(|m| m.as_str().to_owned()),
            description: self.description,
            customer: Customer {
                name: self.payer,
                email: self.payer_email.map(Into::into),
                phone: self.payer_phone.map(Into::into),
            },
            metadata,
            urls: RedirectUrls {
                success: return_url.clone(),
                failure: return_url.clone(),
                cancel: return_url,
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

/// A bank account number: 6 to 34 letters and digits.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountNumber(String);

impl TextField for AccountNumber {
    const NAME: &'static str = "string(account-number)";
    const PATTERN: &'static str = "^[A-Za-z0-9]{6,34}$";
    const MAX_LENGTH: usize = 34;
    const EXPECTED: &'static str = "must be 6 to 34 letters and digits";
}
crate::text_field!(AccountNumber);

/// An Indian Financial System Code: four letters, a zero, six letters or digits
/// (`HDFC0001234`), either case; kept in upper case.
#[derive(Clone, PartialEq, Eq)]
pub struct Ifsc(String);

impl TextField for Ifsc {
    const NAME: &'static str = "string(ifsc)";
    const PATTERN: &'static str = "^[A-Za-z]{4}0[A-Za-z0-9]{6}$";
    const MAX_LENGTH: usize = 11;
    const EXPECTED: &'static str = "must be an IFSC code like HDFC0001234";
    fn normalized(text: String) -> String {
        text.to_ascii_uppercase()
    }
}
crate::text_field!(Ifsc);

/// `POST /payouts`: a payout to a bank account.
#[derive(Object, Deserialize, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CreatePayoutRequest {
    /// Amount in major units; at most the available balance.
    pub amount: Amount,
    /// ISO 4217 code; the account's default currency when absent.
    pub currency: Option<CurrencyCode>,
    /// The account holder's name (1–100 printable characters).
    pub account_holder_name: Reference,
    /// The account number: 6 to 34 letters and digits.
    pub account_number: AccountNumber,
    /// The bank's name (1–100 printable characters).
    pub bank_name: Reference,
    /// Indian Financial System Code (`HDFC0001234`); required for INR payouts.
    pub ifsc_code: Option<Ifsc>,
    /// Your reference for the payout.
    #[oai(validator(max_length = 100))]
    pub reference: Option<String>,
}

impl CreatePayoutRequest {
    /// What is left once the fields parsed: the amount in its currency (the account's
    /// default when absent), and an IFSC code for INR.
    pub fn into_command(self, default_currency: &str) -> Result<NewPayout, CoreError> {
        let mut issues = Vec::new();
        let currency = currency_or(self.currency, default_currency)?;
        let amount = self.amount.checked(currency, &mut issues);
        if self.ifsc_code.is_none() && currency.code() == "INR" {
            issues.push(FieldIssue::new("ifsc_code", "is required"));
        }
        let (Some(amount), true) = (amount, issues.is_empty()) else {
            return Err(CoreError::Validation(issues));
        };
        let destination = serde_json::json!({
            "account_holder_name": self.account_holder_name.text().trim(),
            "account_number": self.account_number.text(),
            "bank_name": self.bank_name.text().trim(),
            "ifsc_code": self.ifsc_code.as_ref().map(Ifsc::text),
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
