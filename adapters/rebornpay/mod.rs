//! REBORNPAY (`../shared/seeds/rebornpay.txt`), mounted at `/rebornpay`: the provider's
//! paths under `/rebornpay/api/v1`, Swagger UI at `/rebornpay/docs`.
//!
//! - `auth`: keys, signature, allow-list and rate limit (middleware).
//! - `api`: the nine operations.
//! - `types`: wire types ⇄ canonical types.
//! - `errors`: `CoreError` → REBORNPAY error body.
//! - `webhook`: its notifications, formatted and signed.

mod api;
mod auth;
mod errors;
mod types;
pub mod webhook;

use poem::Route;
use poem_openapi::{ExtraHeader, OpenApiService};

use super::{ClientKeys, GivenSettings};
use crate::core::CredentialSeed;
use crate::http::AppState;
use crate::http::openapi::{ApiDoc, HeaderText};

/// Where the dialect is mounted.
pub const BASE: &str = "/rebornpay";
const API_PREFIX: &str = "/api/v1";

const DESCRIPTION: &str = "\
REBORNPAY's payment API as paybridge emulates it: point an existing integration at \
`<paybridge>/rebornpay` instead of `https://paycore.app`.

* Authenticate every request with `X-Api-Key` and `X-Api-Secret`.
* Optional request signing: `X-Timestamp` (Unix seconds) and `X-Signature` = lowercase hex \
HMAC-SHA256(secret, \"{timestamp}.{body}\"). A merchant setting makes it mandatory; a \
timestamp more than 300 s from the server's clock is rejected, and so is a signature \
used before: sign each request (each retry too) anew.
* 120 requests per minute per merchant (`429 rate_limited`, with `Retry-After`); an IP \
allow-list answers `403 ip_not_allowed` to other addresses.
* Amounts are major units of the currency (2500 = 2500.00 BDT) with at most the \
currency's decimals.
* `verify` trusts only the processor's record of the transaction and credits the balance \
once; refunds wait in an admin queue and are funded from the available balance \
(`422 insufficient_balance` once it was settled out).
* Any POST may carry `Idempotency-Key`: a retry with the same body replays the first \
response (`Idempotent-Replayed: true`); the same key with another body is `invalid_body`.
* Where the provider documents no response shape, paybridge answers \
`{\"success\": true, \"message\"?, \"data\": …}` and errors \
`{\"success\": false, \"error\": code, \"message\", \"details\"?}`.";

fn service() -> OpenApiService<api::RebornApi, ()> {
    crate::http::openapi::dialect_service(api::RebornApi, "REBORNPAY Payment API (paybridge)", DESCRIPTION)
        .server(BASE)
        .url_prefix(API_PREFIX)
        .extra_request_header::<HeaderText<20>, _>(
            ExtraHeader::new("X-Timestamp").description("Unix seconds, for a signed request."),
        )
        .extra_request_header::<HeaderText<64>, _>(
            ExtraHeader::new("X-Signature")
                .description("Lowercase hex HMAC-SHA256(secret, \"{X-Timestamp}.{body}\"), for a signed request."),
        )
}

/// The OpenAPI document.
pub fn doc() -> ApiDoc {
    ApiDoc::from_service("rebornpay", &service())
        .require_all_security()
        .request_examples(&examples())
        .parameter_examples(&[("invoice_id", serde_json::json!("INV-1001"))])
}

/// The seed's request examples (its INV-1001), for "Try it out".
fn examples() -> Vec<crate::http::openapi::RequestExample> {
    use serde_json::json;
    vec![
        (
            "post",
            "/api/v1/payment/create",
            json!({
                "invoice_id": "INV-1001", "amount": 2500, "currency": "BDT", "customer_name": "Karim Rahman",
                "customer_phone": "+8801711000000", "customer_email": "karim@example.com", "payment_method": "bkash",
                "metadata": { "order_id": "ORD-42" }
            }),
        ),
        (
            "post",
            "/api/v1/payment/verify",
            json!({ "invoice_id": "INV-1001", "transaction_id": "BKS123456789", "status": "success" }),
        ),
        (
            "post",
            "/api/v1/refund/request",
            json!({ "invoice_id": "INV-1001", "amount": 2500, "reason": "Customer requested cancellation" }),
        ),
        ("post", "/api/v1/webhook/test", json!({ "event": "test.ping", "data": { "hello": "world" } })),
    ]
}

/// The API, relative to the dialect's root (the provider's host).
pub fn routes(state: &AppState) -> Route {
    let admission = auth::RebornAuth::new(state.clone());
    let api = crate::http::dialect_api::<errors::Errors, _, _>(service(), state, admission, None);
    Route::new().nest(API_PREFIX, api)
}

/// How a client presents a REBORNPAY credential: `X-Api-Key` and `X-Api-Secret`;
/// `api_key` and `api_secret` in its conformance suite.
pub fn client_keys(seed: &CredentialSeed) -> ClientKeys {
    let (key, secret) = (seed.key_id.clone(), seed.secret.expose().to_owned());
    ClientKeys {
        headers: vec![("X-Api-Key", key.clone()), ("X-Api-Secret", secret.clone())],
        suite: vec![("api_key".into(), key), ("api_secret".into(), secret)],
    }
}

/// REBORNPAY key material: `pk_live_…` and `sk_live_…`.
pub fn new_keys(hex: &mut dyn FnMut(usize) -> String, _settings: &mut GivenSettings) -> (String, String) {
    (format!("pk_live_{}", hex(12)), format!("sk_live_{}", hex(16)))
}

/// Where REBORNPAY's checkout returns the customer: the payment's `success_url`,
/// `fail_url` or `cancel_url` (paybridge's extension to the create request), with
/// `invoice_id`, `status` and `transaction_id` added. The status is REBORNPAY's, so a
/// paid payment awaiting `verify` returns `status=processing`: the redirect is no proof
/// of payment, verify is.
pub fn return_url(payment: &crate::core::Payment, _: Option<&crate::core::Credential>) -> Option<String> {
    use crate::core::PaymentStatus as S;
    let target = match payment.status {
        // REBORNPAY's `processing` (paid, or still with the processor) returns as a success.
        S::AwaitingProcessor | S::Processing | S::Succeeded | S::PartiallyRefunded | S::Refunded => {
            payment.urls.success.as_ref()
        }
        S::Failed | S::Expired => payment.urls.failure.as_ref(),
        S::Cancelled => payment.urls.cancel.as_ref(),
        S::Created => None,
    }?;
    let status = crate::http::wire::enum_text(&types::Status::from(payment.status));
    let mut params = vec![("invoice_id", payment.reference.as_str()), ("status", status.as_str())];
    if let Some(txn) = &payment.processor_txn_id {
        params.push(("transaction_id", txn));
    }
    crate::adapters::with_query(target, &params)
}
