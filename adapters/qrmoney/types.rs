//! QR Money's wire types and their translation to and from the core: the card payment
//! request with its checks (each bad field gets the seed's code), the status object,
//! and the seed's status ids.
//!
//! | payment | `paymentRequestStatusId` | `transactionStatusId` | `lastLog.code` |
//! |---|---|---|---|
//! | created, not charged yet | 2 unpaid | 0 waiting | `null` |
//! | awaiting the issuer (3-D Secure challenge) | 2 unpaid | 3 pending | `null` |
//! | approved (and refunded later) | 1 paid | 1 approved | `000` |
//! | declined | 2 unpaid | 2 declined | the decline code (001–024, 047, 998, 999) |
//! | cancelled | 3 cancelled | 2 declined | `012` |
//! | expired | 3 cancelled | 2 declined | `013` |
//!
//! `id`, `paymentRequestId` (and `data`, where the public client reads it) and
//! `transactionId` are the same number, as a string: a host-to-host
//! payment request has exactly one transaction, and either id finds it at
//! `/payment-requests/status/{id}` and `/payments/h2h/refund/{id}`. `transactionNumber`
//! is the processor's transaction id (`CRD…`).

use std::collections::BTreeMap;

use poem_openapi::Object;
use serde::Deserialize;
use serde_json::{Value, json};

use super::codes;
use crate::core::instrument::Card;
use crate::core::payer;
use crate::core::{
    CaptureMode, CoreError, Customer, FieldIssue, NewPayment, Payment, PaymentStatus, RedirectUrls, Refund,
};
use crate::http::fields::{self, Amount, CurrencyCode, HttpUrl};
use crate::http::mount::Mount;
use crate::http::wire::JsonDecimal;

/// `POST /payments/h2h/{accountId}`: a card payment request. The card number and CVV
/// are reduced to brand and last four digits before anything is kept.
#[derive(Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct CreatePaymentRequest {
    /// Card holder name (025).
    #[oai(validator(max_length = 100))]
    pub name: String,
    /// Card number, Luhn-valid (040). Sandbox: `4000 0000 0000 NNNC` declines with code
    /// NNN, `4000 0000 0000 000C` asks for a 3-D Secure challenge.
    #[oai(validator(max_length = 64))]
    pub number: String,
    /// Card expiration, `MM/YY`, not in the past (041).
    #[oai(validator(max_length = 32))]
    pub expiration: String,
    /// Card CVV, 3 or 4 digits (042).
    #[oai(validator(max_length = 16))]
    pub cvv: String,
    /// Payer email address (009).
    #[oai(validator(max_length = 254))]
    pub email: String,
    /// Payer phone number (033).
    #[oai(validator(max_length = 30))]
    pub phone_number: String,
    /// Payer address (034).
    #[oai(validator(max_length = 100))]
    pub address: String,
    /// Payer city (035).
    #[oai(validator(max_length = 100))]
    pub city: String,
    /// Payer state name or code, e.g. Florida or FL (036).
    #[oai(validator(max_length = 100))]
    pub state: String,
    /// Payer postal code (010).
    #[oai(validator(max_length = 32))]
    pub postal_code: String,
    /// Payer country, ISO 3166-1 alpha-2, e.g. US (037).
    #[oai(validator(max_length = 64))]
    pub country: String,
    /// Payer birth date, `YYYYMMDD` (044).
    #[oai(validator(max_length = 32))]
    pub birth_date: Option<String>,
    /// Payment amount in major units, e.g. 10.50, at most the unit's precision (026).
    pub amount: Amount,
    /// Payment currency: USD, EUR, BTC, USDT or another ISO 4217 code (027).
    pub unit: CurrencyCode,
    /// The merchant's own reference, free text up to 255 characters (028).
    #[oai(validator(max_length = 255))]
    pub reference_id: Option<String>,
    /// Payment notes, up to 1000 characters (028).
    #[oai(validator(max_length = 1000))]
    pub notes: Option<String>,
    /// The domain the payment comes from, e.g. `shop.example.com` (032): dot-separated
    /// labels of letters, digits and inner `-`, at least two (spaces around it and an
    /// empty one are ignored).
    #[oai(validator(
        max_length = 253,
        pattern = r"^[ \t\r\n]*([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+)?[ \t\r\n]*$"
    ))]
    pub origin_domain: Option<String>,
    /// Where the status notification is POSTed (029).
    pub notify_url: Option<HttpUrl>,
    /// Where the customer goes after a successful payment (030).
    pub success_url: Option<HttpUrl>,
    /// Where the customer goes after a failed payment (031).
    pub failure_url: Option<HttpUrl>,
    /// The payer's browser (3-D Secure data; at most 8 KiB as compact JSON); accepted
    /// and not used by the sandbox.
    pub browser_info: Option<BTreeMap<String, Value>>,
    /// Wallet token data (Google/Apple Pay; at most 8 KiB as compact JSON); accepted and
    /// not used by the sandbox.
    pub wallet: Option<BTreeMap<String, Value>>,
}

/// A checked request: the card (brand and last four) and the payment to create.
pub struct Checked {
    /// The card.
    pub card: Card,
    /// The payment.
    pub payment: NewPayment,
    /// The payer's country, upper case.
    pub country: String,
    /// The origin domain, lower case.
    pub origin_domain: Option<String>,
}

fn valid_birth_date(date: &str) -> bool {
    date.len() == 8 && chrono::NaiveDate::parse_from_str(date, "%Y%m%d").is_ok()
}

impl CreatePaymentRequest {
    /// Checks every field, reporting each bad one (its code follows from its name).
    pub fn check(self) -> Result<Checked, CoreError> {
        let mut issues = Vec::new();
        let mut require = |field: &str, valid: bool, what: &str| {
            if !valid {
                issues.push(FieldIssue::new(field, what));
            }
        };
        require("name", payer::valid_name(self.name.trim()), "must be 2–100 letters");
        require("email", payer::valid_email(self.email.trim()), "must be an email address");
        require("phoneNumber", payer::valid_phone(self.phone_number.trim()), "must be 6–20 digits");
        require("address", payer::valid_line(self.address.trim()), "must be 2–100 characters");
        require("city", payer::valid_line(self.city.trim()), "must be 2–100 characters");
        require("state", payer::valid_line(self.state.trim()), "must be 2–100 characters");
        require("postalCode", payer::valid_postal_code(self.postal_code.trim()), "must be 2–12 letters or digits");
        require("country", payer::valid_country(self.country.trim()), "must be an ISO 3166-1 alpha-2 code");
        let birth_date = self.birth_date.as_deref().map(str::trim).filter(|d| !d.is_empty());
        require("birthDate", birth_date.is_none_or(valid_birth_date), "must be a date as YYYYMMDD");
        let origin = self.origin_domain.as_deref().map(str::trim).filter(|d| !d.is_empty());
        require("originDomain", origin.is_none_or(payer::valid_domain), "must be a domain name");
        for (field, map) in [("browserInfo", &self.browser_info), ("wallet", &self.wallet)] {
            if let Some(map) = map {
                let value = serde_json::to_value(map).unwrap_or_default();
                fields::check_json_size(field, &value, &mut issues);
            }
        }
        let card = Card::parse(self.number.trim(), self.expiration.trim(), self.cvv.trim(), "")
            .map_err(|card_issues| {
                issues.extend(card_issues.into_iter().map(|issue| match issue.field.as_str() {
                    "expiry" => FieldIssue::new("expiration", issue.message),
                    _ => issue,
                }));
            })
            .ok();
        let amount = self.amount.checked(self.unit.0, &mut issues);
        let (Some(card), Some(amount), true) = (card, amount, issues.is_empty()) else {
            return Err(CoreError::Validation(issues));
        };
        let country = self.country.trim().to_ascii_uppercase();
        let origin_domain = origin.map(str::to_ascii_lowercase);
        let client = json!({
            "name": self.name.trim(),
            "email": self.email.trim(),
            "phoneNumber": self.phone_number.trim(),
            "address": self.address.trim(),
            "city": self.city.trim(),
            "state": self.state.trim(),
            "postalCode": self.postal_code.trim(),
            "country": country,
            "birthDate": birth_date,
        });
        let metadata = json!({
            "referenceId": self.reference_id,
            "notes": self.notes,
            "originDomain": origin_domain,
            "client": client,
        });
        let payment = NewPayment {
            // Drawn by the core (`ChargeReference`).
            reference: String::new(),
            amount,
            capture_mode: CaptureMode::Automatic,
            method: Some("card".into()),
            description: self.notes.clone(),
            customer: Customer {
                name: Some(self.name.trim().to_owned()),
                email: Some(self.email.trim().to_owned()),
                phone: Some(self.phone_number.trim().to_owned()),
            },
            metadata: Some(metadata),
            urls: RedirectUrls {
                success: self.success_url.map(Into::into),
                failure: self.failure_url.clone().map(Into::into),
                cancel: self.failure_url.map(Into::into),
                notify: self.notify_url.map(Into::into),
            },
        };
        Ok(Checked { card, payment, country, origin_domain })
    }
}

/// The payment's sender.
#[derive(Object, Debug, Clone, Default)]
#[oai(rename_all = "camelCase")]
pub struct Client {
    /// Card holder name.
    pub name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Phone number.
    pub phone_number: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State.
    pub state: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// Country (alpha-2).
    pub country: Option<String>,
    /// Birth date (`YYYYMMDD`).
    pub birth_date: Option<String>,
}

/// The last payment attempt.
#[derive(Object, Debug, Clone, PartialEq, Eq)]
#[oai(rename_all = "camelCase")]
pub struct LastLog {
    /// 0 waiting, 1 approved, 2 declined, 3 pending.
    pub transaction_status_id: u8,
    /// The attempt's message (a decline's from QR Money's table).
    pub message: String,
    /// The attempt's code: `000` approved, a decline code (001–024, 047, 998, 999);
    /// `null` while waiting or pending.
    pub code: Option<String>,
}

/// A payment request's status: every field of QR Money's status table.
#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase")]
pub struct PaymentRequestStatus {
    /// Payment request identifier (digits, as a string).
    pub id: String,
    /// The payment's recipient: the merchant's name.
    pub recipient_name: String,
    /// 1 paid, 2 unpaid, 3 cancelled.
    pub payment_request_status_id: u8,
    /// The transaction's internal identifier (the payment request's, see above).
    pub transaction_id: String,
    /// The transaction's public identifier (the processor's, `CRD…`).
    pub transaction_number: Option<String>,
    /// 0 waiting, 1 approved, 2 declined, 3 pending.
    pub transaction_status_id: u8,
    /// The customer-facing page of the payment request (paybridge's hosted checkout).
    pub link: String,
    /// Currency.
    pub unit: String,
    /// Amount in major units.
    pub amount: JsonDecimal,
    /// The merchant's reference.
    pub reference_id: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// The payment's sender.
    pub client: Client,
    /// Notification URL.
    pub notify_url: Option<String>,
    /// Redirect URL on success.
    pub success_url: Option<String>,
    /// Redirect URL on failure.
    pub failure_url: Option<String>,
    /// The last payment attempt.
    pub last_log: LastLog,
}

/// The answer to a card payment request: its status, and where to send the customer.
#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase")]
pub struct CreateResponse {
    /// The status.
    #[oai(flatten)]
    pub status: PaymentRequestStatus,
    /// The payment request identifier (as `id`).
    pub payment_request_id: String,
    /// The payment request identifier again, where the public client reads it.
    pub data: String,
    /// Where to send the customer now: the 3-D Secure challenge page when
    /// `challengeRequired`, else `successUrl` or `failureUrl` (`null` when not given).
    pub redirect_url: Option<String>,
    /// True when the issuer asks the customer to authenticate (`transactionStatusId` 3).
    pub challenge_required: bool,
}

/// The answer to a refund request.
#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase")]
pub struct RefundResponse {
    /// The payment request identifier.
    pub id: String,
    /// The refund's identifier.
    pub refund_id: String,
    /// `pending` (under review), `approved` or `rejected`.
    pub status: String,
    /// Amount refunded, in major units.
    pub amount: JsonDecimal,
    /// Currency.
    pub unit: String,
}

impl From<Refund> for RefundResponse {
    fn from(refund: Refund) -> RefundResponse {
        let status = match refund.status {
            crate::core::RefundStatus::Pending => "pending",
            crate::core::RefundStatus::Succeeded => "approved",
            crate::core::RefundStatus::Rejected => "rejected",
        };
        RefundResponse {
            id: refund.payment_id.to_string(),
            refund_id: refund.id.to_string(),
            status: status.to_owned(),
            amount: refund.amount.to_major().into(),
            unit: refund.amount.currency().code().to_owned(),
        }
    }
}

/// A string the request stored in the payment's metadata.
pub fn meta_text(payment: &Payment, path: &[&str]) -> Option<String> {
    let mut value = payment.metadata.as_ref()?;
    for key in path {
        value = value.get(key)?;
    }
    value.as_str().map(str::to_owned)
}

/// `paymentRequestStatusId`, the seed's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    /// 1: paid.
    Paid = 1,
    /// 2: unpaid.
    Unpaid = 2,
    /// 3: cancelled.
    Cancelled = 3,
}

/// `transactionStatusId` (and `lastLog.transactionStatusId`), the seed's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionStatus {
    /// 0: waiting.
    Waiting = 0,
    /// 1: approved.
    Approved = 1,
    /// 2: declined.
    Declined = 2,
    /// 3: pending.
    Pending = 3,
}

impl RequestStatus {
    /// The id on the wire.
    pub fn id(self) -> u8 {
        self as u8
    }
}

impl TransactionStatus {
    /// The id on the wire.
    pub fn id(self) -> u8 {
        self as u8
    }
}

/// The seed's statuses and last log of a payment (see the module's table).
pub fn status_ids(payment: &Payment) -> (RequestStatus, TransactionStatus, LastLog) {
    use RequestStatus as R;
    use TransactionStatus as T;
    let log = |status: T, message: &str, code: Option<&str>| LastLog {
        transaction_status_id: status.id(),
        message: message.to_owned(),
        code: code.map(str::to_owned),
    };
    let coded = |code: &str| log(T::Declined, codes::known(code), Some(code));
    match payment.status {
        PaymentStatus::Created => (R::Unpaid, T::Waiting, log(T::Waiting, "Waiting for payment", None)),
        PaymentStatus::AwaitingProcessor => {
            (R::Unpaid, T::Pending, log(T::Pending, "Awaiting 3-D Secure authentication", None))
        }
        PaymentStatus::Processing
        | PaymentStatus::Succeeded
        | PaymentStatus::PartiallyRefunded
        | PaymentStatus::Refunded => (R::Paid, T::Approved, log(T::Approved, "Transaction approved", Some("000"))),
        PaymentStatus::Failed => {
            let attempt = payment.last_attempt.as_ref();
            // The reason's code; a decline recorded before reasons were typed kept it.
            let code = match attempt {
                Some(a) => a.reason.map_or(a.code.as_str(), |r| codes::code_of(r)),
                None => "999",
            };
            let message = attempt.map_or(codes::known("999"), |a| a.message.as_str());
            (R::Unpaid, T::Declined, log(T::Declined, message, Some(code)))
        }
        PaymentStatus::Cancelled => (R::Cancelled, T::Declined, coded("012")),
        PaymentStatus::Expired => (R::Cancelled, T::Declined, coded("013")),
    }
}

impl PaymentRequestStatus {
    /// The status of `payment`, received by `recipient`, as reached through `mount`.
    pub fn new(payment: &Payment, recipient: &str, mount: &Mount) -> PaymentRequestStatus {
        let (request_status, transaction_status, last_log) = status_ids(payment);
        let client = |key: &str| meta_text(payment, &["client", key]);
        PaymentRequestStatus {
            id: payment.id.to_string(),
            recipient_name: recipient.to_owned(),
            payment_request_status_id: request_status.id(),
            transaction_id: payment.id.to_string(),
            transaction_number: payment.processor_txn_id.clone(),
            transaction_status_id: transaction_status.id(),
            link: mount.checkout_url(&payment.checkout_token),
            unit: payment.amount.currency().code().to_owned(),
            amount: payment.amount.to_major().into(),
            reference_id: meta_text(payment, &["referenceId"]),
            notes: meta_text(payment, &["notes"]),
            client: Client {
                name: client("name"),
                email: client("email"),
                phone_number: client("phoneNumber"),
                address: client("address"),
                city: client("city"),
                state: client("state"),
                postal_code: client("postalCode"),
                country: client("country"),
                birth_date: client("birthDate"),
            },
            notify_url: payment.urls.notify.clone(),
            success_url: payment.urls.success.clone(),
            failure_url: payment.urls.failure.clone(),
            last_log,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment(status: &str, authorized: bool, attempt: Option<(&str, &str)>) -> Payment {
        let mut value = json!({
            "id": 7, "merchant_id": 1, "namespace": "qrmoney", "reference": "qr_1",
            "amount": { "minor": 1050, "currency": "USD" }, "status": status, "capture_mode": "automatic",
            "customer": {}, "urls": {}, "checkout_token": "t",
            "created_at": "2026-11-21T00:00:00Z", "updated_at": "2026-11-21T00:00:00Z",
            "expires_at": "2026-11-21T00:15:00Z",
        });
        if authorized {
            value["authorized_at"] = json!("2026-11-21T00:01:00Z");
        }
        if let Some((code, message)) = attempt {
            value["last_attempt"] = json!({ "code": code, "message": message });
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn every_payment_state_has_the_seeds_ids() {
        let ids = |p: &Payment| {
            let (request, transaction, log) = status_ids(p);
            (request.id(), transaction.id(), log.transaction_status_id, log.code)
        };
        let code = |c: &str| Some(c.to_owned());
        assert_eq!(ids(&payment("created", false, None)), (2, 0, 0, None), "waiting");
        assert_eq!(ids(&payment("awaiting_processor", false, None)), (2, 3, 3, None), "pending: the challenge");
        assert_eq!(ids(&payment("processing", true, None)), (1, 1, 1, code("000")), "approved, held for capture");
        assert_eq!(ids(&payment("succeeded", true, None)), (1, 1, 1, code("000")));
        assert_eq!(ids(&payment("refunded", true, None)), (1, 1, 1, code("000")), "a refunded request stays paid");
        let declined = payment("failed", false, Some(("005", "Insufficient funds")));
        assert_eq!(ids(&declined), (2, 2, 2, code("005")));
        assert_eq!(status_ids(&declined).2.message, "Insufficient funds");
        assert_eq!(ids(&payment("cancelled", false, None)), (3, 2, 2, code("012")));
        assert_eq!(ids(&payment("expired", false, None)), (3, 2, 2, code("013")));
    }
}
