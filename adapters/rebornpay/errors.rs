//! REBORNPAY's error body and the mapping of every [`CoreError`] onto it.
//!
//! The seed's table (missing_credentials, invalid_credentials, merchant_not_approved,
//! ip_not_allowed, invalid_body, duplicate_invoice_id, payment_not_found) plus
//! DIALECTS.md's additions (refund_not_found, refund_exceeds_payment, rate_limited,
//! invalid_signature). State conflicts the provider documents no code for are shown as
//! `invalid_body` with a `details` entry that says what is wrong.

use poem::http::StatusCode;
use poem_openapi::Object;

use crate::core::{CoreError, Entity, FieldIssue};
use crate::http::reply::{DialectErrors, ErrorParts};

/// Every REBORNPAY error: `{"success": false, "error": code, "message", "details"?}`.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ErrorBody {
    /// Always `false`.
    pub success: bool,
    /// The error code, e.g. `invalid_body`.
    pub error: String,
    /// A readable explanation.
    pub message: String,
    /// What failed validation, field by field (for `invalid_body`).
    #[oai(skip_serializing_if_is_none)]
    pub details: Option<Vec<ErrorDetail>>,
}

/// One validation failure.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ErrorDetail {
    /// The request field (or `body`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// The error code and HTTP status REBORNPAY uses for a core error.
fn code_and_status(err: &CoreError) -> (&'static str, StatusCode) {
    match err {
        CoreError::Validation(_) | CoreError::IdempotencyKeyReused => ("invalid_body", StatusCode::BAD_REQUEST),
        CoreError::InvalidPaymentState { .. }
        | CoreError::PaymentAlreadyCompleted
        | CoreError::PaymentExpired
        | CoreError::AlreadyDecided(_)
        | CoreError::TransactionMismatch => ("invalid_body", StatusCode::BAD_REQUEST),
        CoreError::MissingCredentials => ("missing_credentials", StatusCode::UNAUTHORIZED),
        CoreError::InvalidCredentials => ("invalid_credentials", StatusCode::UNAUTHORIZED),
        CoreError::InvalidSignature(_) => ("invalid_signature", StatusCode::UNAUTHORIZED),
        CoreError::MerchantNotApproved => ("merchant_not_approved", StatusCode::FORBIDDEN),
        CoreError::IpNotAllowed => ("ip_not_allowed", StatusCode::FORBIDDEN),
        // REBORNPAY keys carry no roles; shown as the nearest documented refusal.
        // (The test clock is the sandbox API's only.)
        CoreError::Forbidden | CoreError::TestClockOff => ("merchant_not_approved", StatusCode::FORBIDDEN),
        CoreError::RateLimited { .. } => ("rate_limited", StatusCode::TOO_MANY_REQUESTS),
        CoreError::NotFound(entity) => match entity {
            Entity::Payment => ("payment_not_found", StatusCode::NOT_FOUND),
            Entity::Refund => ("refund_not_found", StatusCode::NOT_FOUND),
            Entity::Settlement | Entity::Merchant | Entity::Credential | Entity::Delivery | Entity::Payout => {
                ("not_found", StatusCode::NOT_FOUND)
            }
        },
        CoreError::DuplicateReference => ("duplicate_invoice_id", StatusCode::CONFLICT),
        CoreError::IdempotencyInProgress => ("request_in_progress", StatusCode::CONFLICT),
        CoreError::RefundExceedsPayment { .. } => ("refund_exceeds_payment", StatusCode::UNPROCESSABLE_ENTITY),
        CoreError::InsufficientBalance => ("insufficient_balance", StatusCode::UNPROCESSABLE_ENTITY),
        // The body could not be taken in: `invalid_body` (the code a client handles),
        // at the status that says why, with a `body` detail.
        CoreError::BodyTooLarge { .. } => ("invalid_body", StatusCode::PAYLOAD_TOO_LARGE),
        CoreError::BodyTimeout { .. } => ("invalid_body", StatusCode::REQUEST_TIMEOUT),
        CoreError::NotImplemented(_) => ("not_implemented", StatusCode::NOT_IMPLEMENTED),
        CoreError::Internal(_) => ("internal_error", StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// The `details` REBORNPAY shows for an error.
fn details(err: &CoreError) -> Option<Vec<FieldIssue>> {
    let issue = |field: &str, message: String| Some(vec![FieldIssue::new(field, message)]);
    match err {
        CoreError::Validation(issues) => Some(issues.clone()),
        CoreError::IdempotencyKeyReused => issue("Idempotency-Key", err.to_string()),
        CoreError::InvalidPaymentState { .. } | CoreError::PaymentAlreadyCompleted | CoreError::PaymentExpired => {
            issue("invoice_id", err.to_string())
        }
        CoreError::AlreadyDecided(_) => issue("refund_id", err.to_string()),
        CoreError::TransactionMismatch => {
            issue("transaction_id", "does not match the transaction the processor recorded for this invoice".to_owned())
        }
        CoreError::BodyTooLarge { .. } | CoreError::BodyTimeout { .. } => issue("body", err.to_string()),
        CoreError::RefundExceedsPayment { .. } => None,
        CoreError::MissingCredentials
        | CoreError::InvalidCredentials
        | CoreError::InvalidSignature(_)
        | CoreError::MerchantNotApproved
        | CoreError::IpNotAllowed
        | CoreError::Forbidden
        | CoreError::TestClockOff
        | CoreError::RateLimited { .. }
        | CoreError::NotFound(_)
        | CoreError::DuplicateReference
        | CoreError::IdempotencyInProgress
        | CoreError::InsufficientBalance
        | CoreError::NotImplemented(_)
        | CoreError::Internal(_) => None,
    }
}

fn message(err: &CoreError) -> String {
    match err {
        CoreError::Validation(_) => "Validation failed (see details)".to_owned(),
        CoreError::MissingCredentials => "No X-Api-Key/X-Api-Secret".to_owned(),
        CoreError::InvalidCredentials => "Wrong key or secret".to_owned(),
        CoreError::MerchantNotApproved => "Account pending approval".to_owned(),
        CoreError::DuplicateReference => "An invoice with that ID already exists".to_owned(),
        CoreError::NotFound(Entity::Payment) => "No payment matches".to_owned(),
        other => other.public_message(),
    }
}

/// How REBORNPAY shows a core error: its operations' replies and its middleware's
/// responses follow from [`Errors::parts`].
pub struct Errors;

impl DialectErrors for Errors {
    type Body = ErrorBody;

    /// The error body and status for a core error, plus `Retry-After` when rate limited.
    fn parts(err: CoreError) -> ErrorParts<ErrorBody> {
        let err = &err;
        if let CoreError::Internal(detail) = err {
            tracing::error!(%detail, "internal error in rebornpay request");
        }
        let (code, status) = code_and_status(err);
        let body = ErrorBody {
            success: false,
            error: code.to_owned(),
            message: message(err),
            details: details(err)
                .map(|issues| issues.into_iter().map(|i| ErrorDetail { field: i.field, message: i.message }).collect()),
        };
        let retry_after = match err {
            CoreError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        (status, body, retry_after)
    }
}

crate::dialect_reply! {
    /// Every REBORNPAY operation's response: the success body or a documented error.
    Reply {
        errors: Errors,
        /// `rate_limited`: 120 requests per minute per merchant.
        TooManyRequests = 429,
        /// `internal_error`.
        Internal = 500,
        /// `invalid_body`: validation failed (see `details`).
        BadRequest = 400,
        /// `missing_credentials`, `invalid_credentials` or `invalid_signature`.
        Unauthorized = 401,
        /// `merchant_not_approved` or `ip_not_allowed`.
        Forbidden = 403,
        /// `payment_not_found` or `refund_not_found`.
        NotFound = 404,
        /// `duplicate_invoice_id`, or `request_in_progress` for a retried Idempotency-Key.
        Conflict = 409,
        /// `refund_exceeds_payment`, or `insufficient_balance` when the available balance
        /// (after settlements) cannot fund a refund.
        Unprocessable = 422,
        /// `not_implemented`.
        NotImplemented = 501,
    }
}
