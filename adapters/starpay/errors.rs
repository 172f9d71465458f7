//! StarPay's error envelope, `{"success": false, "error": {"code", "message", "status",
//! "timestamp"}}` as the seed's sample shows it, and the mapping of every
//! [`CoreError`] onto the seed's codes.
//!
//! Clients switch on the code, so every code is one of the seed's ([`SEED_CODES`]):
//!
//! | code | HTTP | when |
//! |---|---|---|
//! | missing_fields | 400 | a field is absent, malformed or not valid, or the body cannot be read (`details` names each field); an `Idempotency-Key` reused with another body |
//! | invalid_api_key | 401 | `X-API-KEY` missing, unknown, regenerated or its user suspended |
//! | insufficient_permissions | 403 | the role may not use the endpoint; the account is not approved; the IP is not allowed |
//! | not_found | 404, 405 | no such record for this user; no such endpoint or method |
//! | duplicate_order_id | 409 | the order id was used before |
//! | insufficient_balance | 422 | the available balance cannot cover the payout |
//! | rate_limit_exceeded | 429 | over the role's hourly limit, or the same `Idempotency-Key` still being answered; `Retry-After` |
//! | database_error | 500, 501 | something failed on our side, or is not built |

use poem::Response;
use poem::http::StatusCode;
use poem_openapi::Object;

use crate::core::{CoreError, FieldIssue};
use crate::http::reply::{DialectErrors, ErrorParts, render_parts};
use crate::http::wire::UtcMillis;

/// Every StarPay error.
#[derive(Object, Debug, Clone)]
pub struct ErrorBody {
    /// Always `false`.
    pub success: bool,
    /// What went wrong.
    pub error: ErrorInfo,
}

/// The error.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ErrorInfo {
    /// The error code, e.g. `invalid_api_key`.
    pub code: String,
    /// A readable explanation.
    pub message: String,
    /// The HTTP status, repeated.
    pub status: u16,
    /// When the error happened.
    pub timestamp: UtcMillis,
    /// paybridge's addition: the fields at fault.
    pub details: Option<Vec<ErrorDetail>>,
}

/// One field at fault.
#[derive(Object, Debug, Clone)]
pub struct ErrorDetail {
    /// The request field or parameter.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// The seed's error codes, in its order: the only ones a StarPay client is answered.
pub const SEED_CODES: &[&str] = &[
    "missing_fields",
    "invalid_api_key",
    "insufficient_balance",
    "insufficient_permissions",
    "not_found",
    "duplicate_order_id",
    "rate_limit_exceeded",
    "database_error",
];

/// The code, status and message of a core error.
fn describe(err: &CoreError) -> (&'static str, StatusCode, String) {
    use StatusCode as S;
    match err {
        CoreError::Validation(issues) if issues.iter().all(|i| i.message == "is required") => {
            ("missing_fields", S::BAD_REQUEST, "Required parameters are missing".into())
        }
        CoreError::Validation(_) => {
            ("missing_fields", S::BAD_REQUEST, "Required parameters are missing or not valid".into())
        }
        CoreError::IdempotencyKeyReused
        | CoreError::InvalidPaymentState { .. }
        | CoreError::PaymentAlreadyCompleted
        | CoreError::PaymentExpired
        | CoreError::AlreadyDecided(_)
        | CoreError::TransactionMismatch
        | CoreError::RefundExceedsPayment { .. } => ("missing_fields", S::BAD_REQUEST, err.public_message()),
        CoreError::MissingCredentials | CoreError::InvalidCredentials | CoreError::InvalidSignature(_) => {
            ("invalid_api_key", S::UNAUTHORIZED, "The provided API key is invalid or does not exist.".into())
        }
        // (The test clock is the sandbox API's only.)
        CoreError::Forbidden | CoreError::TestClockOff => {
            ("insufficient_permissions", S::FORBIDDEN, "Your role does not have access to this endpoint.".into())
        }
        CoreError::MerchantNotApproved => {
            ("insufficient_permissions", S::FORBIDDEN, "The account is not approved or is suspended.".into())
        }
        CoreError::IpNotAllowed => {
            ("insufficient_permissions", S::FORBIDDEN, "Requests from this IP address are not allowed.".into())
        }
        CoreError::NotFound(_) => ("not_found", S::NOT_FOUND, "Record does not exist.".into()),
        CoreError::DuplicateReference => ("duplicate_order_id", S::CONFLICT, "Order ID already exists.".into()),
        // Retrying shortly is the answer: what a client does on a rate limit.
        CoreError::IdempotencyInProgress => (
            "rate_limit_exceeded",
            S::TOO_MANY_REQUESTS,
            "A request with this Idempotency-Key is still being processed; retry shortly.".into(),
        ),
        CoreError::InsufficientBalance => {
            ("insufficient_balance", S::UNPROCESSABLE_ENTITY, "Not enough wallet balance.".into())
        }
        CoreError::RateLimited { .. } => ("rate_limit_exceeded", S::TOO_MANY_REQUESTS, "Too many requests.".into()),
        // The seed has no code for a request it cannot take in: its validation code, at
        // the status that says why.
        CoreError::BodyTooLarge { .. } => ("missing_fields", S::PAYLOAD_TOO_LARGE, err.public_message()),
        CoreError::BodyTimeout { .. } => ("missing_fields", S::REQUEST_TIMEOUT, err.public_message()),
        CoreError::NotImplemented(what) => ("database_error", S::NOT_IMPLEMENTED, format!("{what} is not built yet")),
        CoreError::Internal(_) => ("database_error", S::INTERNAL_SERVER_ERROR, "Internal server error.".into()),
    }
}

/// How StarPay shows a core error: its operations' replies and its middleware's
/// responses follow from [`Errors::parts`].
pub struct Errors;

impl DialectErrors for Errors {
    type Body = ErrorBody;

    /// The status, body and `Retry-After` of a core error.
    fn parts(err: CoreError) -> ErrorParts<ErrorBody> {
        if let CoreError::Internal(detail) = &err {
            tracing::error!(%detail, "internal error in starpay request");
        }
        let (code, status, message) = describe(&err);
        debug_assert!(SEED_CODES.contains(&code), "{code} is not one of the seed's codes");
        let details = match &err {
            CoreError::Validation(issues) => Some(issues.as_slice()),
            _ => None,
        }
        .map(|issues: &[FieldIssue]| {
            issues.iter().map(|i| ErrorDetail { field: i.field.clone(), message: i.message.clone() }).collect()
        });
        let body = ErrorBody {
            success: false,
            error: ErrorInfo {
                code: code.to_owned(),
                message,
                status: status.as_u16(),
                timestamp: chrono::Utc::now().into(),
                details,
            },
        };
        let retry_after = match err {
            CoreError::RateLimited { retry_after_secs } => Some(retry_after_secs),
            CoreError::IdempotencyInProgress => Some(1),
            _ => None,
        };
        (status, body, retry_after)
    }
}

/// A path or method the API does not have: `not_found` in the error envelope, at 404
/// or 405.
pub fn no_such_endpoint(status: StatusCode) -> Response {
    let mut parts = Errors::parts(CoreError::NotFound(crate::core::Entity::Payment));
    parts.0 = status;
    parts.1.error.status = status.as_u16();
    if status == StatusCode::METHOD_NOT_ALLOWED {
        parts.1.error.message = "This endpoint does not take that method.".into();
    } else {
        parts.1.error.message = "No such endpoint.".into();
    }
    render_parts(parts)
}

crate::dialect_reply! {
    /// Every StarPay operation's response: the success body or a documented error.
    /// The variants are named after the codes they carry.
    Reply {
        errors: Errors,
        /// `rate_limit_exceeded`: over the role's hourly limit (`Retry-After` in seconds).
        TooManyRequests = 429,
        /// `database_error`.
        Internal = 500,
        /// `missing_fields`: a field absent, malformed or not valid (see `details`).
        MissingFields = 400,
        /// `invalid_api_key`.
        InvalidApiKey = 401,
        /// `insufficient_permissions`.
        InsufficientPermissions = 403,
        /// `not_found`.
        RecordNotFound = 404,
        /// `duplicate_order_id`.
        DuplicateOrderId = 409,
        /// `insufficient_balance`.
        InsufficientBalance = 422,
        /// `database_error`: not built yet.
        NotBuiltYet = 501,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Entity;

    #[test]
    fn every_seed_code_has_its_envelope() {
        let cases = [
            (CoreError::Validation(vec![FieldIssue::new("order_id", "is required")]), "missing_fields", 400),
            (CoreError::invalid("amount", "must be positive"), "missing_fields", 400),
            (CoreError::IdempotencyKeyReused, "missing_fields", 400),
            (CoreError::PaymentExpired, "missing_fields", 400),
            (CoreError::IdempotencyInProgress, "rate_limit_exceeded", 429),
            (CoreError::NotImplemented("x"), "database_error", 501),
            (CoreError::InvalidCredentials, "invalid_api_key", 401),
            (CoreError::InsufficientBalance, "insufficient_balance", 422),
            (CoreError::Forbidden, "insufficient_permissions", 403),
            (CoreError::NotFound(Entity::Payout), "not_found", 404),
            (CoreError::DuplicateReference, "duplicate_order_id", 409),
            (CoreError::RateLimited { retry_after_secs: 36 }, "rate_limit_exceeded", 429),
            (CoreError::Internal("disk full".into()), "database_error", 500),
        ];
        for (err, code, status) in cases {
            let (http, body, _) = Errors::parts(err);
            assert_eq!((body.error.code.as_str(), body.error.status, http.as_u16()), (code, status, status));
            assert!(!body.success);
            assert!(!body.error.message.is_empty());
            assert!(!body.error.message.contains("disk full"), "internal details stay in the logs");
            assert!(SEED_CODES.contains(&code), "{code} is the seed's");
        }
    }
}
