//! PayRequest V1 wire types. Every field arrives as JSON or as a form field, so each is
//! read leniently (a string or a number) and checked here, in the provider's order:
//! token, then id (for `get`), title, amount.

use poem_openapi::Object;
use rand::Rng;
use serde::Deserialize;
use serde_json::Value;

use crate::core::{
    CaptureMode, Currency, Customer, FieldIssue, Money, NewPayment, PaymentStatus, RedirectUrls, check_url,
};
use crate::http::fields::{check_email, check_len};

/// The body of `POST /api/create/` (JSON or form).
#[derive(Object, Deserialize, Debug, Default)]
#[oai(skip_serializing_if_is_none)]
pub struct CreateRequest {
    /// The token from your dashboard settings.
    #[oai(validator(max_length = 255))]
    pub token: Option<String>,
    /// A unique id to verify the payment with (at most 100 characters); generated when
    /// absent.
    pub id: Option<Value>,
    /// The payment title the customer sees.
    #[oai(validator(max_length = 200))]
    pub title: Option<String>,
    /// The amount: `12,25`, `"12.25"` or `12.25`, in your account's currency (at most 32
    /// characters).
    pub amount: Option<Value>,
    /// Name of the person the link is for.
    #[oai(validator(max_length = 200))]
    pub name: Option<String>,
    /// Email of the person the link is for.
    #[oai(validator(max_length = 254))]
    pub email: Option<String>,
    /// Payment description.
    #[oai(validator(max_length = 1000))]
    pub description: Option<String>,
    /// `link` (default: a payment link to share; `paymentlink`, as PayRequest's WHMCS
    /// module sends, is the same) or `direct` (a URL to redirect the customer to now).
    #[serde(rename = "type")]
    #[oai(rename = "type")]
    #[oai(validator(max_length = 32))]
    pub kind: Option<String>,
    /// Where the customer returns after paying or failing, with `response` and
    /// `return_id` added.
    #[oai(validator(max_length = 2048))]
    pub response: Option<String>,
    /// The currency (ISO 4217); default: your account's.
    #[oai(validator(max_length = 16))]
    pub currency: Option<String>,
    /// Where the outcome is POSTed server to server once the payment is paid or failed:
    /// a form with `status` (`PAID` or `FAILED`), `id`, `title`, `link`, `amount`,
    /// `response` and `return_id`.
    #[oai(validator(max_length = 2048))]
    pub callback: Option<String>,
    /// Sent by PayRequest's WHMCS module (`response`, naming the field that holds the
    /// return URL; at most 2048 characters); accepted and not used.
    #[serde(rename = "return")]
    #[oai(rename = "return")]
    pub return_field: Option<Value>,
    /// Sent by PayRequest's WHMCS module (at most 2048 characters); accepted and not used
    /// (paybridge's sandbox is always a test mode).
    pub testmode: Option<Value>,
    /// Sent by PayRequest's WHMCS module (the shop's address, at most 2048 characters);
    /// accepted and not used.
    pub website: Option<Value>,
}

/// What a PayRequest payment keeps beside the core's fields (its `metadata`): the
/// title exactly as given, and how the URL its create answered begins, which the
/// callback reports as `link`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct Kept {
    /// The title (WHMCS finds its invoice by it).
    pub title: String,
    /// The answered URL without the checkout token: `http://127.0.0.1:8084/l/`, or the
    /// checkout's `…/checkout/` for `type` direct, on the mount the create came through.
    pub link_prefix: String,
}

/// The body of `POST /api/get/` (JSON or form).
#[derive(Object, Deserialize, Debug, Default)]
#[oai(skip_serializing_if_is_none)]
pub struct GetRequest {
    /// The token from your dashboard settings.
    #[oai(validator(max_length = 255))]
    pub token: Option<String>,
    /// The payment's unique id (at most 100 characters).
    pub id: Option<Value>,
}

/// What `create` answers: `{"status": "success", "url"}` or `{"status": "error",
/// "error", "realerror"?}`, always with HTTP 200 as the provider did.
#[derive(Object, Debug, Clone, PartialEq, Eq)]
#[oai(skip_serializing_if_is_none)]
pub struct CreateResponse {
    /// `success` or `error`.
    pub status: String,
    /// The payment link (`type` link) or the checkout to redirect to (`type` direct).
    pub url: Option<String>,
    /// The error code.
    pub error: Option<String>,
    /// For `unknown`: what went wrong.
    pub realerror: Option<String>,
    /// The id paybridge generated, when you sent none (absent otherwise, so the answer
    /// to a request with an id is exactly the provider's).
    pub id: Option<String>,
}

/// What `get` answers: `{"status": "paid" | "failed" | "pending"}` or an error.
#[derive(Object, Debug, Clone, PartialEq, Eq)]
#[oai(skip_serializing_if_is_none)]
pub struct GetResponse {
    /// `paid`, `failed`, `pending`, or `error`.
    pub status: String,
    /// The error code.
    pub error: Option<String>,
    /// For `unknown`: what went wrong.
    pub realerror: Option<String>,
}

/// A PayRequest error: its code and, for `unknown`, the real error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrError {
    /// The code.
    pub code: &'static str,
    /// For `unknown`.
    pub realerror: Option<String>,
}

impl PrError {
    /// A documented code.
    pub fn code(code: &'static str) -> PrError {
        PrError { code, realerror: None }
    }

    /// `unknown` with what went wrong.
    pub fn unknown(why: impl Into<String>) -> PrError {
        PrError { code: "unknown", realerror: Some(why.into()) }
    }
}

/// A scalar field as text: strings as they are, numbers as written.
pub fn text(value: &Option<Value>) -> Option<String> {
    match value {
        Some(Value::String(s)) => Some(s.trim().to_owned()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
    .filter(|s| !s.is_empty())
}

/// An amount as PayRequest takes it: `12,25`, `12.25` or 12.25 (a decimal comma is a
/// decimal point; no thousands separators).
pub fn amount(value: &Option<Value>, currency: Currency) -> Result<Money, PrError> {
    let raw = text(value).ok_or(PrError::code("noamount"))?;
    if raw.chars().count() > 32 {
        return Err(PrError::code("notvalidamount"));
    }
    let normalized = raw.replace(',', ".");
    if normalized.matches('.').count() > 1 {
        return Err(PrError::code("notvalidamount"));
    }
    Money::parse_major(&normalized, currency).map_err(|_| PrError::code("notvalidamount"))
}

/// A fresh id for a create without one: `PR-` and 12 digits.
pub fn new_id() -> String {
    format!("PR-{:012}", rand::rng().random_range(0..1_000_000_000_000u64))
}

/// The currency a create names (`currency`), or `default`.
pub fn currency_of(given: Option<&str>, default: &str) -> Result<Currency, PrError> {
    let code = given.map(str::trim).filter(|c| !c.is_empty()).unwrap_or(default);
    Currency::parse(&code.to_ascii_uppercase())
        .ok_or_else(|| PrError::unknown(format!("currency {code} is not supported")))
}

impl CreateRequest {
    /// The canonical command, or the first missing or bad field's code; `link_prefix`
    /// is how the URL create answers begins (see [`Kept`]).
    pub fn into_command(self, id: String, currency: Currency, link_prefix: &str) -> Result<NewPayment, PrError> {
        let title =
            self.title.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).ok_or(PrError::code("notitle"))?;
        let amount = amount(&self.amount, currency)?;
        let mut issues: Vec<FieldIssue> = Vec::new();
        if id.chars().count() > 100 || id.chars().any(char::is_control) {
            issues.push(FieldIssue::new("id", "must be at most 100 printable characters"));
        }
        check_len("title", Some(&title), 200, &mut issues);
        check_len("name", self.name.as_deref(), 200, &mut issues);
        check_email("email", self.email.as_deref(), &mut issues);
        check_len("description", self.description.as_deref(), 1000, &mut issues);
        // The body's own bounds (a form is not held to the spec's by its parser).
        check_len("token", self.token.as_deref(), 255, &mut issues);
        check_len("type", self.kind.as_deref(), 32, &mut issues);
        check_len("currency", self.currency.as_deref(), 16, &mut issues);
        for (field, value) in [("return", &self.return_field), ("testmode", &self.testmode), ("website", &self.website)]
        {
            if value.as_ref().is_some_and(|v| v.to_string().len() > 2048) {
                issues.push(FieldIssue::new(field, "must be at most 2048 characters"));
            }
        }
        if let Some(url) = &self.response {
            check_url("response", url, &mut issues);
        }
        if let Some(url) = &self.callback {
            check_url("callback", url, &mut issues);
        }
        if let Some(issue) = issues.first() {
            return Err(PrError::unknown(format!("{} {}", issue.field, issue.message)));
        }
        let kept = Kept { title: title.clone(), link_prefix: link_prefix.to_owned() };
        let description = match self.description {
            Some(d) if !d.trim().is_empty() => format!("{title} — {}", d.trim()),
            _ => title,
        };
        Ok(NewPayment {
            reference: id,
            amount,
            capture_mode: CaptureMode::Automatic,
            method: None,
            description: Some(description),
            customer: Customer { name: self.name, email: self.email, phone: None },
            metadata: serde_json::to_value(kept).ok(),
            urls: RedirectUrls {
                success: self.response.clone(),
                failure: self.response.clone(),
                cancel: self.response,
                notify: self.callback,
            },
        })
    }
}

/// `paid`, `failed` or `pending`.
pub fn status_of(status: PaymentStatus) -> &'static str {
    match status {
        PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded | PaymentStatus::Refunded => "paid",
        PaymentStatus::Failed | PaymentStatus::Cancelled | PaymentStatus::Expired => "failed",
        PaymentStatus::Created | PaymentStatus::AwaitingProcessor | PaymentStatus::Processing => "pending",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_take_a_comma_a_point_or_a_number() {
        let eur = Currency::parse("EUR").unwrap();
        for given in [serde_json::json!("12,25"), serde_json::json!("12.25"), serde_json::json!(12.25)] {
            assert_eq!(amount(&Some(given.clone()), eur).map(|m| m.minor()), Ok(1225), "{given}");
        }
        assert_eq!(amount(&None, eur), Err(PrError::code("noamount")));
        assert_eq!(amount(&Some(serde_json::json!("")), eur), Err(PrError::code("noamount")));
        for bad in ["twelve", "1,234.50", "-5", "0", "12.255"] {
            assert_eq!(amount(&Some(serde_json::json!(bad)), eur), Err(PrError::code("notvalidamount")), "{bad}");
        }
    }

    #[test]
    fn generated_ids_look_like_the_seeds() {
        let id = new_id();
        assert!(id.starts_with("PR-") && id.len() == 15, "{id}");
    }
}
