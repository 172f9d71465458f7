//! ShadhinPay wire types, in the provider's field names, and their conversions to and
//! from the core's canonical types.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use poem_openapi::{Enum, Object};
use rand::Rng;
use serde::Deserialize;

use crate::core::{
    CaptureMode, CoreError, Customer, FieldIssue, Money, NewPayment, Payment, PaymentStatus, RedirectUrls, Refund,
    RefundStatus,
};
use crate::http::fields::{CurrencyCode, Email, HttpUrl, JsonObject, Phone, check_metadata};
use crate::http::mount::Mount;
use crate::http::wire::{UtcSeconds, Wire};

/// A parsed request body; an `amount` that is not an integer (`15.5`, `"1500"`) is
/// explained in ShadhinPay's terms.
pub fn parsed<T>(body: Wire<T>) -> Result<T, CoreError> {
    body.0.map_err(|issues| {
        let explain = |issue: FieldIssue| match issue.field.as_str() {
            "amount" => FieldIssue::new("amount", MINOR_UNITS),
            _ => issue,
        };
        CoreError::Validation(issues.into_iter().map(explain).collect())
    })
}

const MINOR_UNITS: &str = "must be a positive integer in the smallest currency unit (1500 = 15.00 BDT)";

/// `POST /payments`.
#[derive(Object, Deserialize, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CreatePaymentRequest {
    /// Payment amount in the smallest currency unit, an integer (1500 = 15.00 BDT), at
    /// most 10^15.
    #[oai(validator(minimum(value = "1"), maximum(value = "1000000000000000")))]
    pub amount: i64,
    /// Currency code, e.g. `BDT`.
    pub currency: CurrencyCode,
    /// Customer's phone number, e.g. `8801712345678`.
    pub customer_phone: Phone,
    /// Customer's name.
    #[oai(validator(max_length = 200))]
    pub customer_name: Option<String>,
    /// Customer's email.
    pub customer_email: Option<Email>,
    /// URL for webhook notifications about this payment.
    pub callback_url: HttpUrl,
    /// Redirect URL after successful payment.
    pub success_url: Option<HttpUrl>,
    /// Redirect URL if the payment is cancelled (or fails).
    pub cancel_url: Option<HttpUrl>,
    /// Custom key-value pairs (at most 8 KiB as compact JSON), returned as given.
    pub metadata: Option<JsonObject>,
}

impl TryFrom<CreatePaymentRequest> for NewPayment {
    type Error = CoreError;

    /// What is left once the fields parsed: the amount in its currency, the metadata;
    /// a fresh `SP_…` payment id.
    fn try_from(request: CreatePaymentRequest) -> Result<NewPayment, CoreError> {
        let mut issues = Vec::new();
        let amount = if request.amount > 0 {
            Money::from_minor(request.amount, request.currency.0)
                .map_err(|e| issues.push(FieldIssue::new("amount", e.to_string())))
                .ok()
        } else {
            issues.push(FieldIssue::new("amount", MINOR_UNITS));
            None
        };
        let metadata = check_metadata("metadata", request.metadata, &mut issues);
        let (Some(amount), true) = (amount, issues.is_empty()) else {
            return Err(CoreError::Validation(issues));
        };
        let cancel = request.cancel_url.map(String::from);
        Ok(NewPayment {
            reference: new_payment_id(),
            amount,
            capture_mode: CaptureMode::Automatic,
            method: None,
            description: None,
            customer: Customer {
                name: request.customer_name,
                email: request.customer_email.map(Into::into),
                phone: Some(request.customer_phone.into()),
            },
            metadata,
            urls: RedirectUrls {
                success: request.success_url.map(Into::into),
                // ShadhinPay has no failure URL: a failed payment returns to `cancel_url`.
                failure: cancel.clone(),
                cancel,
                notify: Some(request.callback_url.into()),
            },
        })
    }
}

/// A fresh payment id: `SP_` + the creation time in milliseconds + 6 random digits,
/// unique per merchant (a clash is retried by the caller).
pub fn new_payment_id() -> String {
    let millis = Utc::now().timestamp_millis();
    format!("SP_{millis}{:06}", rand::rng().random_range(0..1_000_000))
}

/// A ShadhinPay payment status.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Payment created, waiting for the customer.
    Initiated,
    /// The customer is completing the payment (the processor has not decided yet).
    Processing,
    /// Payment successful (a partial refund leaves it here).
    Completed,
    /// Payment failed.
    Failed,
    /// Payment cancelled by the customer.
    Cancelled,
    /// Payment link expired.
    Expired,
    /// The whole amount was refunded.
    Refunded,
}

impl From<PaymentStatus> for Status {
    fn from(status: PaymentStatus) -> Self {
        match status {
            PaymentStatus::Created => Status::Initiated,
            PaymentStatus::AwaitingProcessor | PaymentStatus::Processing => Status::Processing,
            PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded => Status::Completed,
            PaymentStatus::Failed => Status::Failed,
            PaymentStatus::Cancelled => Status::Cancelled,
            PaymentStatus::Expired => Status::Expired,
            PaymentStatus::Refunded => Status::Refunded,
        }
    }
}

impl Status {
    /// The canonical statuses this one shows.
    pub fn canonical(self) -> Vec<PaymentStatus> {
        PaymentStatus::ALL.iter().copied().filter(|s| Status::from(*s) == self).collect()
    }
}

/// The created payment.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CreatedPayment {
    /// Payment id, `SP_<digits>`.
    pub payment_id: String,
    /// `INITIATED`.
    pub status: Status,
    /// Amount in the smallest currency unit.
    pub amount: i64,
    /// Currency code.
    pub currency: String,
    /// The hosted checkout page for the customer.
    pub payment_url: String,
    /// The checkout stops accepting payment at this time (15 minutes).
    pub expires_at: UtcSeconds,
    /// Created.
    pub created_at: UtcSeconds,
}

impl CreatedPayment {
    /// `p` as reached through `mount` (its checkout link on the mount's origin).
    pub fn new(p: Payment, mount: &Mount) -> Self {
        CreatedPayment {
            payment_id: p.reference,
            status: p.status.into(),
            amount: p.amount.minor(),
            currency: p.amount.currency().code().to_owned(),
            payment_url: mount.checkout_url(&p.checkout_token),
            expires_at: p.expires_at.into(),
            created_at: p.created_at.into(),
        }
    }
}

/// `{"success": true, "message", "data": payment}`.
#[derive(Object, Debug)]
pub struct CreateResponse {
    /// Always `true`.
    pub success: bool,
    /// `Payment initiated successfully`.
    pub message: String,
    /// The payment.
    pub data: CreatedPayment,
}

/// A payment.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct PaymentDetails {
    /// Payment id.
    pub payment_id: String,
    /// Current status.
    pub status: Status,
    /// Amount in the smallest currency unit.
    pub amount: i64,
    /// Currency code.
    pub currency: String,
    /// Customer's phone.
    pub customer_phone: Option<String>,
    /// Customer's name.
    pub customer_name: Option<String>,
    /// Customer's email.
    pub customer_email: Option<String>,
    /// The processor's transaction id, once the customer paid (e.g. `BKS…` for bKash).
    pub transaction_id: Option<String>,
    /// How the customer paid (`bkash`, `nagad`, `rocket`, `upay`, `card`), once known.
    pub payment_method: Option<String>,
    /// The hosted checkout page.
    pub payment_url: String,
    /// The checkout stops accepting payment at this time.
    pub expires_at: UtcSeconds,
    /// When the payment completed.
    pub completed_at: Option<UtcSeconds>,
    /// Created.
    pub created_at: UtcSeconds,
    /// Your metadata.
    pub metadata: Option<serde_json::Value>,
}

impl PaymentDetails {
    /// `p` as reached through `mount` (its checkout link on the mount's origin).
    pub fn new(p: Payment, mount: &Mount) -> Self {
        PaymentDetails {
            payment_id: p.reference,
            status: p.status.into(),
            amount: p.amount.minor(),
            currency: p.amount.currency().code().to_owned(),
            customer_phone: p.customer.phone,
            customer_name: p.customer.name,
            customer_email: p.customer.email,
            transaction_id: p.processor_txn_id,
            payment_method: p.method,
            payment_url: mount.checkout_url(&p.checkout_token),
            expires_at: p.expires_at.into(),
            completed_at: p.captured_at.map(Into::into),
            created_at: p.created_at.into(),
            metadata: p.metadata,
        }
    }
}

/// `{"success": true, "data": payment}`.
#[derive(Object, Debug)]
pub struct PaymentResponse {
    /// Always `true`.
    pub success: bool,
    /// The payment.
    pub data: PaymentDetails,
}

/// A payment in a list.
#[derive(Object, Debug)]
pub struct PaymentSummary {
    /// Payment id.
    pub payment_id: String,
    /// Current status.
    pub status: Status,
    /// Amount in the smallest currency unit.
    pub amount: i64,
    /// Currency code.
    pub currency: String,
    /// Created.
    pub created_at: UtcSeconds,
}

impl From<Payment> for PaymentSummary {
    fn from(p: Payment) -> Self {
        PaymentSummary {
            payment_id: p.reference,
            status: p.status.into(),
            amount: p.amount.minor(),
            currency: p.amount.currency().code().to_owned(),
            created_at: p.created_at.into(),
        }
    }
}

/// Where a page sits in the whole list.
#[derive(Object, Debug)]
pub struct Pagination {
    /// This page's number (from 1).
    pub current_page: u64,
    /// Pages at this `limit` (0 when nothing matches).
    pub total_pages: u64,
    /// Payments matching the filters.
    pub total_items: u64,
    /// The `limit` used.
    pub items_per_page: u64,
}

impl Pagination {
    /// The pagination block of page `page` (from 1) of `total` items, `per_page` each.
    pub fn new(page: u64, per_page: u64, total: u64) -> Pagination {
        Pagination {
            current_page: page,
            total_pages: total.div_ceil(per_page),
            total_items: total,
            items_per_page: per_page,
        }
    }
}

/// A page of payments.
#[derive(Object, Debug)]
pub struct PaymentList {
    /// Payments, most recent first.
    pub payments: Vec<PaymentSummary>,
    /// Where this page is.
    pub pagination: Pagination,
}

/// `{"success": true, "data": {payments, pagination}}`.
#[derive(Object, Debug)]
pub struct ListResponse {
    /// Always `true`.
    pub success: bool,
    /// The page.
    pub data: PaymentList,
}

/// A list filter's bound as sent: an ISO 8601 date (`2024-01-31`) or date-time, which
/// the schema says (`anyOf` the two formats) and [`date_range`] reads.
#[derive(Debug, Clone)]
pub struct DateOrTime(pub String);

crate::inline_type!(DateOrTime, "string(date or date-time)", {
    use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
    let format = |f| MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", f)));
    MetaSchema {
        any_of: vec![format("date"), format("date-time")],
        // No date or date-time is longer (a longer text is no date, refused).
        max_length: Some(40),
        ..MetaSchema::new("string")
    }
});

impl poem_openapi::types::ParseFromParameter for DateOrTime {
    fn parse_from_parameter(value: &str) -> poem_openapi::types::ParseResult<Self> {
        Ok(DateOrTime(value.to_owned()))
    }
}

/// Created at or after, created at or before.
pub type DateRange = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The date range of a list request: RFC 3339 times, or dates (`2024-01-31`), where
/// `from_date` means the start of that day and `to_date` its end (UTC).
pub fn date_range(from: Option<&str>, to: Option<&str>) -> Result<DateRange, CoreError> {
    let mut issues = Vec::new();
    let mut parse = |field: &str, text: Option<&str>, end_of_day: bool| {
        let text = text?.trim();
        if let Ok(time) = DateTime::parse_from_rfc3339(text) {
            return Some(time.with_timezone(&Utc));
        }
        // A date-time without an offset is UTC.
        if let Ok(time) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
            return Some(time.and_utc());
        }
        if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            let time =
                if end_of_day { NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999) } else { Some(NaiveTime::MIN) };
            return time.map(|t| date.and_time(t).and_utc());
        }
        issues
            .push(FieldIssue::new(field, "must be an ISO 8601 date (2024-01-31) or date-time (2024-01-31T12:00:00Z)"));
        None
    };
    let from = parse("from_date", from, false);
    let to = parse("to_date", to, true);
    for (field, time) in [("from_date", from), ("to_date", to)] {
        if time.is_some_and(|t| !(1..=9999).contains(&chrono::Datelike::year(&t))) {
            issues.push(FieldIssue::new(field, "must be in the years 1 to 9999"));
        }
    }
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        issues.push(FieldIssue::new("to_date", "must not be before from_date"));
    }
    if issues.is_empty() { Ok((from, to)) } else { Err(CoreError::Validation(issues)) }
}

/// `POST /payments/{payment_id}/refund`.
#[derive(Object, Deserialize, Debug, Default)]
#[oai(skip_serializing_if_is_none)]
pub struct RefundRequest {
    /// Partial refund amount in the smallest currency unit; the whole refundable rest
    /// when absent.
    #[oai(validator(minimum(value = "1")))]
    pub amount: Option<i64>,
    /// Reason for the refund.
    #[oai(validator(max_length = 500))]
    pub reason: Option<String>,
}

impl RefundRequest {
    /// Checks the reason and amount.
    pub fn validate(&self) -> Result<(), CoreError> {
        let mut issues = Vec::new();
        if self.amount.is_some_and(|a| a <= 0) {
            issues.push(FieldIssue::new("amount", MINOR_UNITS));
        }
        if issues.is_empty() { Ok(()) } else { Err(CoreError::Validation(issues)) }
    }
}

/// A refund's status.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefundState {
    /// Initiated; waiting for review.
    Processing,
    /// Paid back to the customer.
    Completed,
    /// Refused on review; the amount stays with the merchant.
    Failed,
}

/// A refund.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct RefundData {
    /// Refund id, `RF_<digits>`.
    pub refund_id: String,
    /// The refunded payment.
    pub payment_id: String,
    /// Amount in the smallest currency unit.
    pub amount: i64,
    /// Currency code.
    pub currency: String,
    /// Status.
    pub status: RefundState,
    /// Your reason.
    pub reason: Option<String>,
    /// Created.
    pub created_at: UtcSeconds,
}

/// Refund ids on the wire: `RF_<number>`.
pub fn refund_id(id: i64) -> String {
    format!("RF_{id}")
}

impl From<Refund> for RefundData {
    fn from(r: Refund) -> Self {
        RefundData {
            refund_id: refund_id(r.id),
            payment_id: r.payment_reference,
            amount: r.amount.minor(),
            currency: r.amount.currency().code().to_owned(),
            status: match r.status {
                RefundStatus::Pending => RefundState::Processing,
                RefundStatus::Succeeded => RefundState::Completed,
                RefundStatus::Rejected => RefundState::Failed,
            },
            reason: r.reason,
            created_at: r.created_at.into(),
        }
    }
}

/// `{"success": true, "message", "data": refund}`.
#[derive(Object, Debug)]
pub struct RefundResponse {
    /// Always `true`.
    pub success: bool,
    /// `Refund initiated successfully`.
    pub message: String,
    /// The refund.
    pub data: RefundData,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_ids_are_sp_and_digits() {
        let id = new_payment_id();
        assert!(id.starts_with("SP_") && id[3..].chars().all(|c| c.is_ascii_digit()), "{id}");
        assert_ne!(id, new_payment_id());
    }

    #[test]
    fn pagination_counts_pages() {
        let p = Pagination::new(1, 10, 48);
        assert_eq!((p.total_pages, p.total_items, p.items_per_page), (5, 48, 10));
        assert_eq!(Pagination::new(1, 20, 0).total_pages, 0);
        assert_eq!(Pagination::new(3, 20, 40).total_pages, 2);
    }

    #[test]
    fn dates_are_checked() {
        let (from, to) = date_range(Some("2024-01-01"), Some("2024-01-01")).unwrap();
        assert_eq!(from.unwrap().to_rfc3339(), "2024-01-01T00:00:00+00:00");
        assert_eq!(to.unwrap().to_rfc3339(), "2024-01-01T23:59:59.999999+00:00");
        assert!(date_range(Some("2024-01-01T12:00:00Z"), None).is_ok());
        let (naive, _) = date_range(Some("2024-01-01T12:00:00"), None).unwrap();
        assert_eq!(naive.unwrap().to_rfc3339(), "2024-01-01T12:00:00+00:00", "no offset means UTC");
        assert!(date_range(Some("yesterday"), None).is_err());
        assert!(date_range(Some("2024-02-01"), Some("2024-01-01")).is_err());
        assert!(date_range(Some("-5000-01-01"), None).is_err(), "a year no database stores");
        assert!(date_range(None, Some("+262142-12-31T23:59:59Z")).is_err());
    }

    #[test]
    fn statuses_round_trip() {
        for status in PaymentStatus::ALL {
            assert!(Status::from(*status).canonical().contains(status));
        }
    }
}
