//! ShadhinPay's error body, `{"success": false, "error": {"code", "message",
//! "details"?}}`, and the mapping of every [`CoreError`] and authentication failure
//! onto the provider's codes (DIALECTS.md).
//!
//! | code | HTTP | when |
//! |---|---|---|
//! | MISSING_CLIENT_ID, MISSING_BUSINESS_ID, MISSING_SECRET_KEY | 401 | that header is absent or empty |
//! | INVALID_CLIENT_ID | 401 | no active ShadhinPay client has that `Client-Id` |
//! | INVALID_SECRET_KEY | 401 | `Secret-Key` is not the client's |
//! | BUSINESS_NOT_AUTHORIZED | 403 | `Business-Id` is not the client's, or the business is not approved, or the caller's IP is not on its allow-list |
//! | VALIDATION_ERROR | 400 | a bad field (see `details`) |
//! | PAYMENT_NOT_FOUND | 404 | no payment of this business has that id |
//! | PAYMENT_ALREADY_COMPLETED | 409 | the payment was already decided |
//! | PAYMENT_EXPIRED | 410 | the payment's link expired before it was paid |
//! | REFUND_EXCEEDS_AMOUNT | 400 | more than the payment's refundable rest |
//! | INSUFFICIENT_BALANCE | 422 | the available balance (after settlements) cannot fund the refund |
//! | RATE_LIMIT_EXCEEDED | 429 | over the class's limit; `Retry-After` says when to retry |
//! | REQUEST_IN_PROGRESS | 409 | the same `Idempotency-Key` is still being answered |

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::Object;

use crate::core::{CoreError, Entity, FieldIssue};
use crate::http::reply::{DialectErrors, ErrorParts, render_parts};

/// Every ShadhinPay error.
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
    /// The error code, e.g. `VALIDATION_ERROR`.
    pub code: String,
    /// A readable explanation.
    pub message: String,
    /// What failed validation, field by field.
    pub details: Option<Vec<ErrorDetail>>,
}

/// One validation failure.
#[derive(Object, Debug, Clone)]
pub struct ErrorDetail {
    /// The request field or parameter.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// Why authentication failed, one code per header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Client-Id`.
    MissingClientId,
    /// No `Business-Id`.
    MissingBusinessId,
    /// No `Secret-Key`.
    MissingSecretKey,
    /// An unknown `Client-Id`.
    InvalidClientId,
    /// The wrong `Secret-Key`.
    InvalidSecretKey,
    /// The wrong `Business-Id`.
    BusinessNotAuthorized,
}

/// A ShadhinPay error, ready to render.
#[derive(Debug)]
pub struct Failure {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Option<Vec<FieldIssue>>,
    retry_after: Option<u64>,
}

impl Failure {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Failure {
        Failure { status, code, message: message.into(), details: None, retry_after: None }
    }

    /// The body.
    pub fn body(&self) -> ErrorBody {
        let details = self.details.as_ref().map(|issues| {
            issues.iter().map(|i| ErrorDetail { field: i.field.clone(), message: i.message.clone() }).collect()
        });
        ErrorBody {
            success: false,
            error: ErrorInfo { code: self.code.to_owned(), message: self.message.clone(), details },
        }
    }
}

impl From<AuthFailure> for Failure {
    fn from(failure: AuthFailure) -> Failure {
        let unauthorized = StatusCode::UNAUTHORIZED;
        match failure {
            AuthFailure::MissingClientId => {
                Failure::new(unauthorized, "MISSING_CLIENT_ID", "Client-Id header is required")
            }
            AuthFailure::MissingBusinessId => {
                Failure::new(unauthorized, "MISSING_BUSINESS_ID", "Business-Id header is required")
            }
            AuthFailure::MissingSecretKey => {
                Failure::new(unauthorized, "MISSING_SECRET_KEY", "Secret-Key header is required")
            }
            AuthFailure::InvalidClientId => Failure::new(unauthorized, "INVALID_CLIENT_ID", "Client-Id is not valid"),
            AuthFailure::InvalidSecretKey => {
                Failure::new(unauthorized, "INVALID_SECRET_KEY", "Secret-Key is not valid for this client")
            }
            AuthFailure::BusinessNotAuthorized => Failure::new(
                StatusCode::FORBIDDEN,
                "BUSINESS_NOT_AUTHORIZED",
                "This client is not authorized for the business",
            ),
        }
    }
}

impl From<CoreError> for Failure {
    fn from(err: CoreError) -> Failure {
        use StatusCode as S;
        let validation = |details: Vec<FieldIssue>| Failure {
            details: Some(details),
            ..Failure::new(S::BAD_REQUEST, "VALIDATION_ERROR", "Validation failed (see details)")
        };
        let forbidden = |why: &str| Failure::new(S::FORBIDDEN, "BUSINESS_NOT_AUTHORIZED", why);
        match err {
            CoreError::Validation(issues) => validation(issues),
            CoreError::IdempotencyKeyReused => validation(vec![FieldIssue::new("Idempotency-Key", err.to_string())]),
            CoreError::InvalidPaymentState { status: "expired" } | CoreError::PaymentExpired => {
                Failure::new(S::GONE, "PAYMENT_EXPIRED", "The payment link expired before it was paid")
            }
            CoreError::InvalidPaymentState { status } => {
                let status = crate::core::PaymentStatus::parse(status)
                    .map_or(status.to_owned(), |s| crate::http::wire::enum_text(&super::types::Status::from(s)));
                validation(vec![FieldIssue::new(
                    "payment_id",
                    format!("the payment is {status}; only a COMPLETED payment can be refunded"),
                )])
            }
            CoreError::PaymentAlreadyCompleted => {
                Failure::new(S::CONFLICT, "PAYMENT_ALREADY_COMPLETED", "The payment was already completed")
            }
            CoreError::AlreadyDecided(_) | CoreError::TransactionMismatch => {
                validation(vec![FieldIssue::new("payment_id", err.to_string())])
            }
            CoreError::MissingCredentials => AuthFailure::MissingClientId.into(),
            CoreError::InvalidCredentials => AuthFailure::InvalidClientId.into(),
            CoreError::InvalidSignature(_) => AuthFailure::InvalidSecretKey.into(),
            CoreError::MerchantNotApproved => forbidden("The business is not approved to transact"),
            CoreError::IpNotAllowed => forbidden("Requests from this IP address are not allowed for the business"),
            // (The test clock is the sandbox API's only.)
            CoreError::Forbidden | CoreError::TestClockOff => forbidden("This client may not do that"),
            CoreError::RateLimited { retry_after_secs } => Failure {
                retry_after: Some(retry_after_secs),
                ..Failure::new(S::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED", "Too many requests; retry later")
            },
            CoreError::NotFound(Entity::Payment) => {
                Failure::new(S::NOT_FOUND, "PAYMENT_NOT_FOUND", "No payment with that id")
            }
            CoreError::NotFound(_) => Failure::new(S::NOT_FOUND, "NOT_FOUND", err.public_message()),
            CoreError::DuplicateReference => Failure::new(S::CONFLICT, "DUPLICATE_PAYMENT", "That payment id exists"),
            CoreError::IdempotencyInProgress => Failure::new(
                S::CONFLICT,
                "REQUEST_IN_PROGRESS",
                "A request with this Idempotency-Key is still being processed",
            ),
            CoreError::RefundExceedsPayment { refundable_minor } => Failure {
                details: Some(vec![FieldIssue::new(
                    "amount",
                    format!("at most {refundable_minor} (smallest currency unit) can still be refunded"),
                )]),
                ..Failure::new(S::BAD_REQUEST, "REFUND_EXCEEDS_AMOUNT", "The refund exceeds the refundable amount")
            },
            CoreError::InsufficientBalance => Failure::new(
                S::UNPROCESSABLE_ENTITY,
                "INSUFFICIENT_BALANCE",
                "The available balance cannot fund this refund",
            ),
            CoreError::BodyTooLarge { .. } | CoreError::BodyTimeout { .. } => {
                let status = if matches!(err, CoreError::BodyTooLarge { .. }) {
                    S::PAYLOAD_TOO_LARGE
                } else {
                    S::REQUEST_TIMEOUT
                };
                Failure { status, ..validation(vec![FieldIssue::new("body", err.to_string())]) }
            }
            CoreError::NotImplemented(what) => {
                Failure::new(S::NOT_IMPLEMENTED, "NOT_IMPLEMENTED", format!("{what} is not built yet"))
            }
            CoreError::Internal(detail) => {
                tracing::error!(%detail, "internal error in shadhinpay request");
                Failure::new(S::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "Something went wrong on our side")
            }
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        render_parts((self.status, self.body(), self.retry_after))
    }
}

/// A path or method the API does not have: `NOT_FOUND` (404) or `METHOD_NOT_ALLOWED`
/// (405) in ShadhinPay's error body.
pub fn no_such_endpoint(status: StatusCode) -> Response {
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => ("METHOD_NOT_ALLOWED", "This endpoint does not take that method"),
        _ => ("NOT_FOUND", "No such endpoint"),
    };
    Failure::new(status, code, message).into_response()
}

/// How ShadhinPay shows a core error: its operations' replies and its middleware's
/// responses follow from [`Errors::parts`].
pub struct Errors;

impl DialectErrors for Errors {
    type Body = ErrorBody;

    /// The status, body and `Retry-After` of a core error.
    fn parts(err: CoreError) -> ErrorParts<ErrorBody> {
        let failure = Failure::from(err);
        (failure.status, failure.body(), failure.retry_after)
    }
}

crate::dialect_reply! {
    /// Every ShadhinPay operation's response: the success body or a documented error.
    /// The variants are named after the codes they carry.
    Reply {
        errors: Errors,
        /// `RATE_LIMIT_EXCEEDED`, with `Retry-After` in seconds.
        TooManyRequests = 429,
        /// `INTERNAL_ERROR`.
        Internal = 500,
        /// `VALIDATION_ERROR` (see `details`) or `REFUND_EXCEEDS_AMOUNT`.
        ValidationOrRefundTooLarge = 400,
        /// `MISSING_CLIENT_ID`, `MISSING_BUSINESS_ID`, `MISSING_SECRET_KEY`,
        /// `INVALID_CLIENT_ID` or `INVALID_SECRET_KEY`.
        MissingOrInvalidHeader = 401,
        /// `BUSINESS_NOT_AUTHORIZED`.
        BusinessNotAuthorized = 403,
        /// `PAYMENT_NOT_FOUND`.
        PaymentNotFound = 404,
        /// `PAYMENT_ALREADY_COMPLETED`, or `REQUEST_IN_PROGRESS` for a retried
        /// Idempotency-Key.
        AlreadyCompletedOrInProgress = 409,
        /// `PAYMENT_EXPIRED`.
        PaymentExpired = 410,
        /// `INSUFFICIENT_BALANCE`: the available balance (after settlements) cannot fund a
        /// refund.
        InsufficientBalance = 422,
        /// `NOT_IMPLEMENTED`.
        NotBuiltYet = 501,
    }
}
