//! QR Money's error body — the problem details its API answers with
//! (`{"title", "status", "errors", "traceId"}`, as the public client reads them) with
//! the seed's 3-digit `code` added — and the mapping of every [`CoreError`] onto it.
//!
//! | HTTP | `code` | when |
//! |---|---|---|
//! | 400 | 025–042, 009, 010, 044 | a bad request field; `errors` names each field with its code, `code` is the lowest |
//! | 402 | 001–024, 047, 998, 999 | the create's card was declined (by the processor or the account's limits); `id` and `paymentRequestId` name the stored payment request |
//! | 401 | 048 | `X-API-Key` missing or unknown |
//! | 403 | — | the merchant is not approved, or the caller's IP is not allowed |
//! | 404 | 043 | no such payment request, or an account id that is not the key's |
//! | 409 | — | a refund the payment cannot take (not paid, already refunded, balance settled out) |
//! | 429 | — | over the merchant's rate limit; `Retry-After` |
//! | 500 | 998 | paybridge failed |
//!
//! A decline is answered as a failure, as integrations read one: the public C# client
//! books any 2xx without `challengeRequired` as approved.

use std::collections::BTreeMap;

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::Object;
use rand::Rng;

use super::codes;
use crate::core::{CoreError, FieldIssue};
use crate::http::reply::{DialectErrors, ErrorParts, render_parts};

/// Every QR Money error.
#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase")]
pub struct ErrorBody {
    /// What went wrong: the code's message from QR Money's table, or a summary.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// QR Money's 3-digit result code, when one applies (`040`).
    #[oai(skip_serializing_if_is_none)]
    pub code: Option<String>,
    /// Each bad request field with its code and message (`"number": ["040 Invalid card
    /// number"]`).
    #[oai(skip_serializing_if_is_none)]
    pub errors: Option<BTreeMap<String, Vec<String>>>,
    /// Identifies the request in paybridge's logs.
    pub trace_id: String,
    /// A decline's payment request id, to look it up at
    /// `/payment-requests/status/{id}`.
    #[oai(skip_serializing_if_is_none)]
    pub id: Option<String>,
    /// The same, under the create answer's name.
    #[oai(skip_serializing_if_is_none)]
    pub payment_request_id: Option<String>,
}

/// The `402` of a declined card payment request: the seed's message for the code as
/// `title`, the code, and the stored request's id.
pub fn declined(id: &str, code: &str) -> ErrorBody {
    let title = codes::known(code);
    let mut errors = BTreeMap::new();
    errors.insert("transaction".to_owned(), vec![format!("{code} {title}")]);
    ErrorBody {
        errors: Some(errors),
        id: Some(id.to_owned()),
        payment_request_id: Some(id.to_owned()),
        ..body(StatusCode::PAYMENT_REQUIRED, Some(code), title)
    }
}

/// The code of a request field's validation failure.
pub fn field_code(field: &str) -> Option<&'static str> {
    let top = field.split(['.', '[']).next().unwrap_or(field);
    Some(match top {
        "email" => "009",
        "postalCode" => "010",
        "name" => "025",
        "amount" => "026",
        "unit" => "027",
        "referenceId" | "notes" => "028",
        "notifyUrl" => "029",
        "successUrl" => "030",
        "failureUrl" => "031",
        "originDomain" => "032",
        "phoneNumber" => "033",
        "address" => "034",
        "city" => "035",
        "state" => "036",
        "country" => "037",
        "number" => "040",
        "expiration" => "041",
        "cvv" => "042",
        "birthDate" => "044",
        _ => return None,
    })
}

fn trace_id() -> String {
    let mut rng = rand::rng();
    format!("00-{:032x}-{:016x}-00", rng.random::<u128>(), rng.random::<u64>())
}

fn body(status: StatusCode, code: Option<&str>, title: impl Into<String>) -> ErrorBody {
    ErrorBody {
        title: title.into(),
        status: status.as_u16(),
        code: code.map(str::to_owned),
        errors: None,
        trace_id: trace_id(),
        id: None,
        payment_request_id: None,
    }
}

/// A QR Money error, ready to render.
pub struct Failure {
    status: StatusCode,
    body: ErrorBody,
    retry_after: Option<u64>,
}

impl Failure {
    fn new(status: StatusCode, code: Option<&str>, title: impl Into<String>) -> Failure {
        Failure { status, body: body(status, code, title), retry_after: None }
    }

    fn validation(issues: Vec<FieldIssue>) -> Failure {
        let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut lowest: Option<&str> = None;
        for issue in &issues {
            let code = field_code(&issue.field);
            // The parser's own message can quote the value (`invalid type: integer
            // 4111…`): never for the card's fields.
            let message = match issue.field.as_str() {
                "number" => "must be a card number, as a string of digits",
                "expiration" => "must be MM/YY, not in the past",
                "cvv" => "must be 3 or 4 digits, as a string",
                _ => issue.message.as_str(),
            };
            let text = match code {
                Some(code) => format!("{code} {}: {} {message}", codes::known(code), issue.field),
                None => format!("{} {}", issue.field, issue.message),
            };
            errors.entry(issue.field.clone()).or_default().push(text);
            if let Some(code) = code {
                lowest = Some(lowest.map_or(code, |l| l.min(code)));
            }
        }
        let title = lowest.map_or("One or more validation errors occurred.", codes::known);
        let mut failure = Failure::new(StatusCode::BAD_REQUEST, lowest, title);
        failure.body.errors = Some(errors);
        failure
    }
}

impl From<CoreError> for Failure {
    fn from(err: CoreError) -> Failure {
        use StatusCode as S;
        let conflict = |title: String| Failure::new(S::CONFLICT, None, title);
        match err {
            CoreError::Validation(issues) => Failure::validation(issues),
            CoreError::IdempotencyKeyReused => Failure::validation(vec![FieldIssue::new(
                "Idempotency-Key",
                "was already used with a different request",
            )]),
            CoreError::MissingCredentials | CoreError::InvalidCredentials | CoreError::InvalidSignature(_) => {
                Failure::new(S::UNAUTHORIZED, Some("048"), codes::known("048"))
            }
            CoreError::MerchantNotApproved => {
                Failure::new(S::FORBIDDEN, None, "The merchant is not approved to transact")
            }
            CoreError::IpNotAllowed => {
                Failure::new(S::FORBIDDEN, None, "Requests from this IP address are not allowed")
            }
            // Only the sandbox API moves the clock; grouped for completeness.
            CoreError::Forbidden | CoreError::TestClockOff => {
                Failure::new(S::FORBIDDEN, None, "This API key may not do that")
            }
            CoreError::NotFound(_) => Failure::new(S::NOT_FOUND, Some("043"), codes::known("043")),
            CoreError::RateLimited { retry_after_secs } => Failure {
                retry_after: Some(retry_after_secs),
                ..Failure::new(S::TOO_MANY_REQUESTS, None, "Too many requests; retry later")
            },
            CoreError::InvalidPaymentState { status } => {
                conflict(format!("The payment request is {status}; only a paid one can be refunded"))
            }
            CoreError::PaymentExpired => conflict("The payment request expired before it was paid".into()),
            CoreError::RefundExceedsPayment { refundable_minor: 0 } => {
                conflict("The payment request is already refunded (or its refund is under review)".into())
            }
            CoreError::RefundExceedsPayment { .. } => conflict("The refund exceeds the refundable amount".into()),
            CoreError::InsufficientBalance => conflict("The available balance cannot fund this refund".into()),
            CoreError::PaymentAlreadyCompleted
            | CoreError::AlreadyDecided(_)
            | CoreError::TransactionMismatch
            | CoreError::DuplicateReference => conflict(err.to_string()),
            CoreError::IdempotencyInProgress => {
                conflict("A request with this Idempotency-Key is still being processed".into())
            }
            CoreError::BodyTooLarge { .. } => Failure::new(S::PAYLOAD_TOO_LARGE, None, err.public_message()),
            CoreError::BodyTimeout { .. } => Failure::new(S::REQUEST_TIMEOUT, None, err.public_message()),
            CoreError::NotImplemented(what) => {
                Failure::new(S::NOT_IMPLEMENTED, None, format!("{what} is not built yet"))
            }
            CoreError::Internal(detail) => {
                tracing::error!(%detail, "internal error in qrmoney request");
                Failure::new(S::INTERNAL_SERVER_ERROR, Some("998"), codes::known("998"))
            }
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        render_parts((self.status, self.body, self.retry_after))
    }
}

/// A path or method the API does not have, in QR Money's error body.
pub fn no_such_endpoint(status: StatusCode) -> Response {
    let title = match status {
        StatusCode::METHOD_NOT_ALLOWED => "This endpoint does not take that method",
        _ => "No such endpoint",
    };
    Failure::new(status, None, title).into_response()
}

/// How QR Money shows a core error: its operations' replies and its middleware's
/// responses follow from [`Errors::parts`].
pub struct Errors;

impl DialectErrors for Errors {
    type Body = ErrorBody;

    /// The status, body and `Retry-After` of a core error.
    fn parts(err: CoreError) -> ErrorParts<ErrorBody> {
        let failure = Failure::from(err);
        (failure.status, failure.body, failure.retry_after)
    }
}

crate::dialect_reply! {
    /// Every QR Money operation's response: the success body or a problem-details error.
    Reply {
        errors: Errors,
        /// Over the merchant's rate limit; `Retry-After` in seconds.
        TooManyRequests = 429,
        /// `998`: paybridge failed.
        Internal = 500,
        /// A bad request field: `code` is the lowest of the codes in `errors` (025–044,
        /// 009 email, 010 postal code).
        Invalid = 400,
        /// The card was declined — by the processor or the account's own limits — with
        /// the decline's code (001–024, 047, 998, 999) and the seed's message as
        /// `title`; the payment request is stored, and `id` / `paymentRequestId` find
        /// it at `/payment-requests/status/{id}`.
        Declined = 402,
        /// `048`: `X-API-Key` missing or unknown.
        InvalidToken = 401,
        /// The merchant is not approved, or the caller's IP is not allowed.
        Forbidden = 403,
        /// `043`: no such payment request, or an account id that is not this key's.
        EntityNotFound = 404,
        /// The payment request cannot be refunded (not paid, already refunded, or the
        /// balance was settled out), or its Idempotency-Key is still being answered.
        Conflict = 409,
        /// Not built.
        NotBuiltYet = 501,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_every_field_with_its_code_and_leads_with_the_lowest() {
        let failure = Failure::validation(vec![
            FieldIssue::new("number", "invalid type: integer `4111111111111111`, expected a string"),
            FieldIssue::new("name", "is required"),
            FieldIssue::new("browserInfo", "must be an object"),
        ]);
        assert_eq!(failure.status, StatusCode::BAD_REQUEST);
        assert_eq!(failure.body.code.as_deref(), Some("025"));
        assert_eq!(failure.body.title, "Invalid name");
        let errors = failure.body.errors.unwrap();
        assert_eq!(errors["number"], ["040 Invalid card number: number must be a card number, as a string of digits"]);
        assert_eq!(errors["browserInfo"], ["browserInfo must be an object"]);
    }
}
