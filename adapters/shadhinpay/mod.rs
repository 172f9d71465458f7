//! ShadhinPay (`../shared/seeds/shadhinpay.txt`), mounted at `/shadhinpay`: the
//! provider's paths under `/shadhinpay/api/v1`, Swagger UI at `/shadhinpay/docs`.
//!
//! - `auth`: the three headers, business status, allow-list, rate-limit classes.
//! - `api`: the four operations.
//! - `types`: wire types ⇄ canonical types, `SP_…`/`RF_…` ids, pagination.
//! - `errors`: `CoreError` → ShadhinPay's error codes.
//! - `webhook`: notifications to the payment's `callback_url`, signed twice.

mod api;
mod auth;
mod errors;
mod types;
pub mod webhook;

use poem::Route;
use poem_openapi::OpenApiService;

use super::{ClientKeys, GivenSettings};
use crate::core::{Credential, CredentialSeed, Payment, PaymentStatus};
use crate::http::AppState;
use crate::http::openapi::ApiDoc;

/// Where the dialect is mounted.
pub const BASE: &str = "/shadhinpay";
const API_PREFIX: &str = "/api/v1";

const DESCRIPTION: &str = "\
ShadhinPay's Payments API as paybridge emulates it: point an existing integration at \
`<paybridge>/shadhinpay/api/v1` instead of `https://api.shadhinpay.com/api/v1`.

* Authenticate every request with `Client-Id`, `Business-Id` and `Secret-Key`. Each \
missing header has its own code (`MISSING_CLIENT_ID`, `MISSING_BUSINESS_ID`, \
`MISSING_SECRET_KEY`); a wrong one too (`INVALID_CLIENT_ID`, `INVALID_SECRET_KEY`, \
`403 BUSINESS_NOT_AUTHORIZED`).
* Rate limits per business and endpoint class, as the provider publishes them: 100 \
payment creations, 300 status reads and 120 other requests per minute, each counted on \
its own (a business whose limit in paybridge is 0 is not limited). Over a limit: \
`429 RATE_LIMIT_EXCEEDED` with `Retry-After`.
* Amounts are integers in the smallest currency unit (1500 = 15.00 BDT); a decimal is a \
`VALIDATION_ERROR`. Payment ids are `SP_<digits>`, refund ids `RF_<digits>`.
* `payment_url` opens paybridge's hosted checkout (sandbox: see the README's magic \
numbers); the link expires after 15 minutes. After paying the customer goes to \
`success_url`; after cancelling, a decline or expiry to `cancel_url`; both get \
`payment_id` and `status` added to the query.
* Webhooks go to the payment's `callback_url` on every status change (payment.initiated, \
.processing, .completed, .failed, .cancelled, .expired, .refunded) with the body's \
`signature` and the `X-ShadhinPay-Signature` header, both HMAC-SHA256 with your secret key.
* Refunds (partial with `amount`, full without) are `PROCESSING` until reviewed in \
paybridge's admin refund queue; the payment is `REFUNDED` once its whole amount is \
refunded, and stays `COMPLETED` after a partial refund. A refund is funded from the \
available balance, which the business shares with its other dialects \
(`422 INSUFFICIENT_BALANCE` once the money was settled out).
* Any POST may carry `Idempotency-Key`: a retry with the same body replays the first \
response (`Idempotent-Replayed: true`), so a retried create makes one payment.
* `PAYMENT_ALREADY_COMPLETED` (409) is in the provider's table but none of these four \
operations acts on a decided payment in a way that could produce it; `PAYMENT_EXPIRED` \
(410) answers a refund of an expired payment.";

fn service() -> OpenApiService<api::ShadhinApi, ()> {
    crate::http::openapi::dialect_service(api::ShadhinApi, "ShadhinPay Payments API (paybridge)", DESCRIPTION)
        .server(BASE.to_owned() + API_PREFIX)
}

/// The OpenAPI document.
pub fn doc() -> ApiDoc {
    ApiDoc::from_service("shadhinpay", &service()).require_all_security().request_examples(&examples())
}

/// The seed's request examples (its 1500 BDT payment and 500 refund), for "Try it out".
fn examples() -> Vec<crate::http::openapi::RequestExample> {
    use serde_json::json;
    vec![
        (
            "post",
            "/payments",
            json!({
                "amount": 1500, "currency": "BDT", "customer_phone": "8801712345678", "customer_name": "John Doe",
                "customer_email": "john@example.com", "callback_url": "https://yoursite.com/webhook",
                "success_url": "https://yoursite.com/success", "cancel_url": "https://yoursite.com/cancel",
                "metadata": { "order_id": "ORD-12345", "product": "Premium Plan" }
            }),
        ),
        (
            "post",
            "/payments/{payment_id}/refund",
            json!({ "amount": 500, "reason": "Customer requested partial refund" }),
        ),
    ]
}

/// The API, relative to the dialect's root (the provider's host).
pub fn routes(state: &AppState) -> Route {
    let admission = auth::ShadhinAuth::new(state.clone());
    let unknown_routes = Some(errors::no_such_endpoint as fn(_) -> _);
    let api = crate::http::dialect_api::<errors::Errors, _, _>(service(), state, admission, unknown_routes);
    Route::new().nest(API_PREFIX, api)
}

/// How a client presents a ShadhinPay credential: `Client-Id`, `Business-Id` and
/// `Secret-Key`; `client_id`, `business_id` and `secret_key` in its conformance suite.
pub fn client_keys(seed: &CredentialSeed) -> ClientKeys {
    let business = seed.settings.shadhinpay().map(|s| s.business_id.clone()).unwrap_or_default();
    let (key, secret) = (seed.key_id.clone(), seed.secret.expose().to_owned());
    ClientKeys {
        headers: vec![("Client-Id", key.clone()), ("Business-Id", business.clone()), ("Secret-Key", secret.clone())],
        suite: vec![("client_id".into(), key), ("business_id".into(), business), ("secret_key".into(), secret)],
    }
}

/// ShadhinPay key material: a client id and a secret key, plus a business id.
pub fn new_keys(hex: &mut dyn FnMut(usize) -> String, extra: &mut GivenSettings) -> (String, String) {
    extra.entry("business_id").or_insert_with(|| format!("biz_{}", hex(6)).into());
    (format!("cl_{}", hex(10)), format!("sk_{}", hex(16)))
}

/// Where the checkout returns the customer: `success_url` after a completed payment,
/// `cancel_url` after a cancellation, decline or expiry; with `payment_id` and
/// `status` added. An undecided payment stays on paybridge's page.
pub fn return_url(payment: &Payment, _: Option<&Credential>) -> Option<String> {
    let target = match payment.status {
        PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded | PaymentStatus::Refunded => &payment.urls.success,
        PaymentStatus::Failed | PaymentStatus::Expired => &payment.urls.failure,
        PaymentStatus::Cancelled => &payment.urls.cancel,
        PaymentStatus::Created | PaymentStatus::AwaitingProcessor | PaymentStatus::Processing => &None,
    };
    let status = crate::http::wire::enum_text(&types::Status::from(payment.status));
    crate::adapters::with_query(target.as_deref()?, &[("payment_id", &payment.reference), ("status", &status)])
}
