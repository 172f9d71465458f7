//! The hosted checkout page at `/checkout/{token}`.
//!
//! Not built yet (issue 4): the page answers `501 Not Implemented` with the payment's
//! summary and how to complete it through the sandbox control API instead.

use poem::http::StatusCode;
use poem::web::{Data, Html, Path};
use poem::{IntoResponse, Response, handler};

use crate::core::CoreError;
use crate::http::AppState;

/// `GET /checkout/{token}`.
#[handler]
pub async fn page(state: Data<&AppState>, Path(token): Path<String>) -> Response {
    match state.gateway.payment_by_checkout_token(&token).await {
        Ok(payment) => {
            let body = format!(
                "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
                 content=\"width=device-width\"><title>paybridge checkout</title></head><body>\
                 <h1>Checkout is not built yet</h1><p>Payment {} for {} {} is <b>{}</b>.</p>\
                 <p>The hosted checkout page is not implemented in this paybridge. Complete the \
                 payment with <code>POST /sandbox/v1/checkout/{}/complete</code>.</p></body></html>",
                escape(&payment.reference),
                payment.amount.to_major(),
                payment.amount.currency(),
                payment.status,
                escape(&token),
            );
            Html(body).with_status(StatusCode::NOT_IMPLEMENTED).into_response()
        }
        Err(CoreError::NotFound(_)) => {
            Html("<!doctype html><h1>No such checkout</h1>").with_status(StatusCode::NOT_FOUND).into_response()
        }
        Err(err) => crate::http::problem::render(&err),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
