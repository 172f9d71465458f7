//! What every dialect's operations answer: the success body or one of the dialect's
//! error bodies, each at its documented status.
//!
//! A dialect implements [`DialectErrors`] (its error body, and the status and body of
//! each [`CoreError`]); [`dialect_reply!`](crate::dialect_reply) declares its response
//! enum from it with the OpenAPI description of each error status; [`Created`] turns
//! any such reply's 200 into 201.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::registry::{MetaResponses, Registry};

use crate::core::CoreError;

/// A core error as a dialect shows it: HTTP status, body, and `Retry-After` seconds
/// when rate limited.
pub type ErrorParts<B> = (StatusCode, B, Option<u64>);

/// The complete response of an error: its body at its status, with `Retry-After` when
/// rate limited.
pub fn render_parts<B: poem_openapi::types::ToJSON>((status, body, retry_after): ErrorParts<B>) -> Response {
    let mut response = poem_openapi::payload::Json(body).into_response();
    response.set_status(status);
    if let Some(secs) = retry_after {
        response.headers_mut().insert("Retry-After", secs.into());
    }
    response
}

/// How a dialect shows a core error. A dialect writes [`parts`](DialectErrors::parts)
/// once; its operations' replies ([`dialect_reply!`](crate::dialect_reply)), its
/// middleware's responses and its API's body and idempotency errors
/// ([`dialect_api`](crate::http::dialect_api)) all follow from it.
pub trait DialectErrors: 'static {
    /// The dialect's error body.
    type Body: poem_openapi::types::ToJSON;

    /// The status, body and `Retry-After` of `err`.
    fn parts(err: CoreError) -> ErrorParts<Self::Body>;

    /// The complete response of `err`.
    fn render(err: CoreError) -> Response {
        render_parts(Self::parts(err))
    }
}

/// What poem-openapi could not parse (malformed JSON, a wrong content type, a bad
/// query or path parameter) as a core error: a validation error naming the parameter,
/// or missing credentials when a security scheme found none.
pub fn parse_failure(err: &poem::Error) -> CoreError {
    if crate::http::wire::is_auth_error(err) {
        return CoreError::MissingCredentials;
    }
    CoreError::Validation(vec![crate::http::wire::request_issue(err)])
}

/// Declares `$name<T>`, a dialect's operation response: `Ok` (200) with `T`, each listed
/// error variant at its status with the dialect's error body, `TooManyRequests` (429)
/// with `Retry-After`, `Internal` (500), `RequestTimeout` (408) and `PayloadTooLarge`
/// (413, from [`BoundedBody`](crate::http::body::BoundedBody)), the error body being
/// `$errors`' [`DialectErrors::Body`], which maps each `CoreError` to its status;
/// statuses it returns that are not listed answer as `Internal`.
#[macro_export]
macro_rules! dialect_reply {
    (
        $(#[$meta:meta])*
        $name:ident {
            errors: $errors:ty,
            $(#[doc = $limited:literal])* TooManyRequests = 429,
            $(#[doc = $internal:literal])* Internal = 500,
            $( $(#[doc = $doc:literal])* $variant:ident = $status:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(poem_openapi::ApiResponse)]
        #[oai(bad_request_handler = "reply_bad_request")]
        pub enum $name<T: poem_openapi::types::ParseFromJSON + poem_openapi::types::ToJSON + Send + Sync> {
            /// Success.
            #[oai(status = 200)]
            Ok(poem_openapi::payload::Json<T>),
            $( $(#[doc = $doc])* #[oai(status = $status)] $variant(poem_openapi::payload::Json<<$errors as $crate::http::reply::DialectErrors>::Body>), )+
            $(#[doc = $limited])*
            #[oai(status = 429)]
            TooManyRequests(poem_openapi::payload::Json<<$errors as $crate::http::reply::DialectErrors>::Body>, #[oai(header = "Retry-After")] u64),
            $(#[doc = $internal])*
            #[oai(status = 500)]
            Internal(poem_openapi::payload::Json<<$errors as $crate::http::reply::DialectErrors>::Body>),
            /// The request body did not arrive within `http.body_read_timeout_ms` (30 s
            /// by default).
            #[oai(status = 408)]
            RequestTimeout(poem_openapi::payload::Json<<$errors as $crate::http::reply::DialectErrors>::Body>),
            /// The request body is larger than `http.max_body_bytes` (1 MiB by default);
            /// nothing was read past the cap.
            #[oai(status = 413)]
            PayloadTooLarge(poem_openapi::payload::Json<<$errors as $crate::http::reply::DialectErrors>::Body>),
        }

        impl<T: poem_openapi::types::ParseFromJSON + poem_openapi::types::ToJSON + Send + Sync>
            From<$crate::core::CoreError> for $name<T>
        {
            fn from(err: $crate::core::CoreError) -> Self {
                let (status, body, retry_after) = <$errors as $crate::http::reply::DialectErrors>::parts(err);
                let body = poem_openapi::payload::Json(body);
                match status.as_u16() {
                    $( $status => $name::$variant(body), )+
                    429 => $name::TooManyRequests(body, retry_after.unwrap_or(60)),
                    408 => $name::RequestTimeout(body),
                    413 => $name::PayloadTooLarge(body),
                    _ => $name::Internal(body),
                }
            }
        }

        impl<T: poem_openapi::types::ParseFromJSON + poem_openapi::types::ToJSON + Send + Sync> $name<T> {
            /// A success or the error's response.
            pub fn from_result(result: Result<T, $crate::core::CoreError>) -> $name<T> {
                match result {
                    Ok(body) => $name::Ok(poem_openapi::payload::Json(body)),
                    Err(err) => err.into(),
                }
            }
        }

        fn reply_bad_request<T: poem_openapi::types::ParseFromJSON + poem_openapi::types::ToJSON + Send + Sync>(
            err: poem::Error,
        ) -> $name<T> {
            $crate::http::reply::parse_failure(&err).into()
        }
    };
}

/// A reply for an operation that creates: its 200 is documented and sent as
/// `201 Created`.
pub struct Created<R>(pub R);

impl<R: ApiResponse> ApiResponse for Created<R> {
    const BAD_REQUEST_HANDLER: bool = R::BAD_REQUEST_HANDLER;

    fn meta() -> MetaResponses {
        let mut meta = R::meta();
        for response in &mut meta.responses {
            if response.status == Some(200) {
                response.status = Some(201);
                response.description = "Created.";
            }
        }
        meta
    }

    fn register(registry: &mut Registry) {
        R::register(registry);
    }

    fn from_parse_request_error(err: poem::Error) -> Self {
        Created(R::from_parse_request_error(err))
    }
}

impl<R: IntoResponse> IntoResponse for Created<R> {
    fn into_response(self) -> Response {
        let mut response = self.0.into_response();
        if response.status() == StatusCode::OK {
            response.set_status(StatusCode::CREATED);
        }
        response
    }
}
