//! The error shape of paybridge's own APIs (admin and sandbox):
//! `{"error": {"code", "message", "details"?}}` with the core error's canonical code
//! and its class's HTTP status.

use poem::IntoResponse;
use poem::http::StatusCode;
use poem_openapi::payload::Json;
use poem_openapi::types::{ParseFromJSON, ToJSON};
use poem_openapi::{ApiResponse, Object};

use crate::core::{CoreError, ErrorClass, FieldIssue};

/// `{"error": {...}}`.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct Problem {
    /// The error.
    pub error: ProblemDetail,
}

/// What went wrong.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ProblemDetail {
    /// Canonical error code, e.g. `validation_error`, `not_found`.
    pub code: String,
    /// A readable explanation.
    pub message: String,
    /// Field by field, for validation errors.
    #[oai(skip_serializing_if_is_none)]
    pub details: Option<Vec<IssueBody>>,
}

/// One validation failure.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct IssueBody {
    /// The field.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl From<&CoreError> for Problem {
    fn from(err: &CoreError) -> Self {
        if let CoreError::Internal(detail) = err {
            tracing::error!(%detail, "internal error");
        }
        Problem {
            error: ProblemDetail {
                code: err.code().to_owned(),
                message: err.public_message(),
                details: Some(err.details()).filter(|d| !d.is_empty()).map(|d| {
                    d.iter()
                        .map(|FieldIssue { field, message }| IssueBody {
                            field: field.clone(),
                            message: message.clone(),
                        })
                        .collect()
                }),
            },
        }
    }
}

/// A complete response for a core error.
pub fn render(err: &CoreError) -> poem::Response {
    let mut response = Json(Problem::from(err)).into_response();
    response.set_status(StatusCode::from_u16(err.class().status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    response
}

/// The body bound of paybridge's own APIs: refusals in this error shape.
pub fn bounded_body(limits: &crate::http::body::BodyLimits) -> crate::http::body::BoundedBody {
    crate::http::body::BoundedBody::new(
        limits.clone(),
        std::sync::Arc::new(|_: &poem::Request, rejection: crate::http::body::BodyRejection| render(&rejection.into())),
    )
}

/// Every admin or sandbox operation's response.
#[derive(ApiResponse)]
#[oai(bad_request_handler = "bad_request")]
pub enum Reply<T: ParseFromJSON + ToJSON + Send + Sync> {
    /// Success.
    #[oai(status = 200)]
    Ok(Json<T>),
    /// Created.
    #[oai(status = 201)]
    Created(Json<T>),
    /// The request is invalid (`validation_error`).
    #[oai(status = 400)]
    BadRequest(Json<Problem>),
    /// Missing or wrong admin token.
    #[oai(status = 401)]
    Unauthorized(Json<Problem>),
    /// Not allowed.
    #[oai(status = 403)]
    Forbidden(Json<Problem>),
    /// No such record.
    #[oai(status = 404)]
    NotFound(Json<Problem>),
    /// Conflicts with the current state (already completed, already decided…).
    #[oai(status = 409)]
    Conflict(Json<Problem>),
    /// The payment expired.
    #[oai(status = 410)]
    Gone(Json<Problem>),
    /// Refused by a business rule (insufficient balance…).
    #[oai(status = 422)]
    Unprocessable(Json<Problem>),
    /// The request body did not arrive within `http.body_read_timeout_ms`.
    #[oai(status = 408)]
    RequestTimeout(Json<Problem>),
    /// The request body is larger than `http.max_body_bytes` (1 MiB by default).
    #[oai(status = 413)]
    PayloadTooLarge(Json<Problem>),
    /// Too many requests.
    #[oai(status = 429)]
    TooManyRequests(Json<Problem>),
    /// Internal error.
    #[oai(status = 500)]
    Internal(Json<Problem>),
    /// Not built yet.
    #[oai(status = 501)]
    NotImplemented(Json<Problem>),
}

impl<T: ParseFromJSON + ToJSON + Send + Sync> From<CoreError> for Reply<T> {
    fn from(err: CoreError) -> Self {
        let body = Json(Problem::from(&err));
        match err.class() {
            ErrorClass::Invalid => Reply::BadRequest(body),
            ErrorClass::Unauthenticated => Reply::Unauthorized(body),
            ErrorClass::Forbidden => Reply::Forbidden(body),
            ErrorClass::NotFound => Reply::NotFound(body),
            ErrorClass::Conflict => Reply::Conflict(body),
            ErrorClass::Gone => Reply::Gone(body),
            ErrorClass::Unprocessable => Reply::Unprocessable(body),
            ErrorClass::Timeout => Reply::RequestTimeout(body),
            ErrorClass::TooLarge => Reply::PayloadTooLarge(body),
            ErrorClass::TooManyRequests => Reply::TooManyRequests(body),
            ErrorClass::Internal => Reply::Internal(body),
            ErrorClass::NotImplemented => Reply::NotImplemented(body),
        }
    }
}

impl<T: ParseFromJSON + ToJSON + Send + Sync> Reply<T> {
    /// 200 with the value, or the error.
    pub fn ok(result: Result<T, CoreError>) -> Reply<T> {
        result.map_or_else(Reply::from, |v| Reply::Ok(Json(v)))
    }

    /// 201 with the value, or the error.
    pub fn created(result: Result<T, CoreError>) -> Reply<T> {
        result.map_or_else(Reply::from, |v| Reply::Created(Json(v)))
    }
}

fn bad_request<T: ParseFromJSON + ToJSON + Send + Sync>(err: poem::Error) -> Reply<T> {
    if crate::http::wire::is_auth_error(&err) {
        return CoreError::InvalidCredentials.into();
    }
    CoreError::Validation(vec![crate::http::wire::request_issue(&err)]).into()
}
