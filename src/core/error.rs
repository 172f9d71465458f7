//! The one table of canonical errors.
//!
//! Every core operation fails with a [`CoreError`]. Each dialect turns it into its own
//! error body with an exhaustive `match` (no `_ =>` arm), so adding a variant here makes
//! every dialect decide how to show it.

use serde::Serialize;

/// What a request got wrong, field by field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldIssue {
    /// The field as the client named it (a JSON path for nested fields), or `body`.
    pub field: String,
    /// What is wrong with it, readable by a person.
    pub message: String,
}

impl FieldIssue {
    /// An issue with one field.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldIssue {
        FieldIssue { field: field.into(), message: message.into() }
    }
}

/// Which kind of record a lookup did not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    /// A payment.
    Payment,
    /// A refund.
    Refund,
    /// A settlement.
    Settlement,
    /// A merchant.
    Merchant,
    /// A credential.
    Credential,
    /// A webhook delivery.
    Delivery,
    /// A payout.
    Payout,
}

impl Entity {
    fn name(self) -> &'static str {
        match self {
            Entity::Payment => "payment",
            Entity::Refund => "refund",
            Entity::Settlement => "settlement",
            Entity::Merchant => "merchant",
            Entity::Credential => "credential",
            Entity::Delivery => "webhook delivery",
            Entity::Payout => "payout",
        }
    }
}

/// The broad class of an error, from which a default HTTP status follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// 400: the request itself is wrong.
    Invalid,
    /// 401: who is calling is unknown or unproven.
    Unauthenticated,
    /// 403: the caller is known but may not do this.
    Forbidden,
    /// 404.
    NotFound,
    /// 409: conflicts with the current state.
    Conflict,
    /// 410: no longer possible.
    Gone,
    /// 422: well-formed but refused by a business rule.
    Unprocessable,
    /// 408: the request did not arrive in time.
    Timeout,
    /// 413: the request is larger than paybridge reads.
    TooLarge,
    /// 429.
    TooManyRequests,
    /// 500.
    Internal,
    /// 501: this paybridge does not have that part yet.
    NotImplemented,
}

impl ErrorClass {
    /// The HTTP status of the class.
    pub fn status(self) -> u16 {
        match self {
            ErrorClass::Invalid => 400,
            ErrorClass::Unauthenticated => 401,
            ErrorClass::Forbidden => 403,
            ErrorClass::NotFound => 404,
            ErrorClass::Conflict => 409,
            ErrorClass::Gone => 410,
            ErrorClass::Unprocessable => 422,
            ErrorClass::Timeout => 408,
            ErrorClass::TooLarge => 413,
            ErrorClass::TooManyRequests => 429,
            ErrorClass::Internal => 500,
            ErrorClass::NotImplemented => 501,
        }
    }
}

/// Every way a core operation can fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// The request is malformed or fails validation.
    #[error("validation failed")]
    Validation(Vec<FieldIssue>),
    /// No credentials were presented.
    #[error("credentials are missing")]
    MissingCredentials,
    /// The credentials do not match any active credential.
    #[error("credentials are invalid")]
    InvalidCredentials,
    /// A request signature is required and missing, malformed, stale or wrong.
    #[error("request signature is invalid: {0}")]
    InvalidSignature(&'static str),
    /// The merchant is not approved (pending or suspended).
    #[error("merchant account is not approved")]
    MerchantNotApproved,
    /// The client IP is not on the merchant's allow-list.
    #[error("requests from this IP address are not allowed")]
    IpNotAllowed,
    /// The caller's role may not do this.
    #[error("insufficient permissions")]
    Forbidden,
    /// Too many requests; retry after the given number of seconds.
    #[error("rate limit exceeded")]
    RateLimited {
        /// Seconds until a request will be accepted again.
        retry_after_secs: u64,
    },
    /// No such record (or it belongs to another merchant).
    #[error("{} not found", .0.name())]
    NotFound(Entity),
    /// The merchant already used this reference (invoice id, order id) in this dialect.
    #[error("a payment with this reference already exists")]
    DuplicateReference,
    /// Refunds would exceed what was captured; `refundable_minor` is what is left.
    #[error("refund exceeds the refundable amount of the payment")]
    RefundExceedsPayment {
        /// Minor units still refundable.
        refundable_minor: i64,
    },
    /// The payment is in a state that does not allow this operation.
    #[error("payment is {status}; this operation is not allowed in that state")]
    InvalidPaymentState {
        /// The canonical status name the payment is in.
        status: &'static str,
    },
    /// The payment has already been completed (paid, failed or cancelled).
    #[error("payment has already been completed")]
    PaymentAlreadyCompleted,
    /// The payment expired before it was completed.
    #[error("payment has expired")]
    PaymentExpired,
    /// The refund or settlement was already decided.
    #[error("{} has already been decided", .0.name())]
    AlreadyDecided(Entity),
    /// A claimed processor transaction does not match the processor's record.
    #[error("transaction does not match the processor's record")]
    TransactionMismatch,
    /// Not enough available balance.
    #[error("insufficient balance")]
    InsufficientBalance,
    /// The Idempotency-Key was used before with a different request.
    #[error("Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    /// A request with this Idempotency-Key is still being processed.
    #[error("a request with this Idempotency-Key is still in progress")]
    IdempotencyInProgress,
    /// The request body is over the configured cap (`http.max_body_bytes`).
    #[error("the request body is larger than {limit_bytes} bytes")]
    BodyTooLarge {
        /// The cap, in bytes.
        limit_bytes: usize,
    },
    /// The request body did not arrive in time (`http.body_read_timeout_ms`).
    #[error("the request body did not arrive within {after_secs} s")]
    BodyTimeout {
        /// The timeout, in whole seconds (at least 1).
        after_secs: u64,
    },
    /// The test clock was asked to move where the configuration keeps it off.
    #[error("the test clock is off in this configuration (test_clock)")]
    TestClockOff,
    /// This part of paybridge is not built yet.
    #[error("not implemented: {0}")]
    NotImplemented(&'static str),
    /// Something failed inside paybridge (database, bug). Details are logged, not shown.
    #[error("internal error")]
    Internal(String),
}

impl CoreError {
    /// The canonical code, used by the admin and sandbox APIs and in logs.
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::Validation(_) => "validation_error",
            CoreError::MissingCredentials => "missing_credentials",
            CoreError::InvalidCredentials => "invalid_credentials",
            CoreError::InvalidSignature(_) => "invalid_signature",
            CoreError::MerchantNotApproved => "merchant_not_approved",
            CoreError::IpNotAllowed => "ip_not_allowed",
            CoreError::Forbidden => "forbidden",
            CoreError::RateLimited { .. } => "rate_limited",
            CoreError::NotFound(_) => "not_found",
            CoreError::DuplicateReference => "duplicate_reference",
            CoreError::RefundExceedsPayment { .. } => "refund_exceeds_payment",
            CoreError::InvalidPaymentState { .. } => "invalid_payment_state",
            CoreError::PaymentAlreadyCompleted => "payment_already_completed",
            CoreError::PaymentExpired => "payment_expired",
            CoreError::AlreadyDecided(_) => "already_decided",
            CoreError::TransactionMismatch => "transaction_mismatch",
            CoreError::InsufficientBalance => "insufficient_balance",
            CoreError::IdempotencyKeyReused => "idempotency_key_reused",
            CoreError::IdempotencyInProgress => "idempotency_in_progress",
            CoreError::BodyTooLarge { .. } => "payload_too_large",
            CoreError::BodyTimeout { .. } => "request_timeout",
            CoreError::TestClockOff => "test_clock_off",
            CoreError::NotImplemented(_) => "not_implemented",
            CoreError::Internal(_) => "internal_error",
        }
    }

    /// The class, from which the default HTTP status follows.
    pub fn class(&self) -> ErrorClass {
        match self {
            CoreError::Validation(_) | CoreError::IdempotencyKeyReused => ErrorClass::Invalid,
            CoreError::MissingCredentials | CoreError::InvalidCredentials | CoreError::InvalidSignature(_) => {
                ErrorClass::Unauthenticated
            }
            CoreError::MerchantNotApproved
            | CoreError::IpNotAllowed
            | CoreError::Forbidden
            | CoreError::TestClockOff => ErrorClass::Forbidden,
            CoreError::RateLimited { .. } => ErrorClass::TooManyRequests,
            CoreError::NotFound(_) => ErrorClass::NotFound,
            CoreError::DuplicateReference
            | CoreError::InvalidPaymentState { .. }
            | CoreError::PaymentAlreadyCompleted
            | CoreError::AlreadyDecided(_)
            | CoreError::IdempotencyInProgress => ErrorClass::Conflict,
            CoreError::PaymentExpired => ErrorClass::Gone,
            CoreError::RefundExceedsPayment { .. }
            | CoreError::TransactionMismatch
            | CoreError::InsufficientBalance => ErrorClass::Unprocessable,
            CoreError::BodyTooLarge { .. } => ErrorClass::TooLarge,
            CoreError::BodyTimeout { .. } => ErrorClass::Timeout,
            CoreError::NotImplemented(_) => ErrorClass::NotImplemented,
            CoreError::Internal(_) => ErrorClass::Internal,
        }
    }

    /// Field details, for the validation error.
    pub fn details(&self) -> &[FieldIssue] {
        match self {
            CoreError::Validation(issues) => issues,
            _ => &[],
        }
    }

    /// A message safe to show a client: internal details stay in the logs.
    pub fn public_message(&self) -> String {
        self.to_string()
    }

    /// One validation issue.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> CoreError {
        CoreError::Validation(vec![FieldIssue::new(field, message)])
    }
}

impl From<sea_orm::DbErr> for CoreError {
    fn from(err: sea_orm::DbErr) -> Self {
        tracing::error!(error = %err, "database error");
        CoreError::Internal(err.to_string())
    }
}

impl<E: Into<CoreError> + std::error::Error> From<sea_orm::TransactionError<E>> for CoreError {
    fn from(err: sea_orm::TransactionError<E>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(e) => e.into(),
            sea_orm::TransactionError::Transaction(e) => e.into(),
        }
    }
}
