//! StarPay (`../shared/seeds/starpay.txt`), mounted at `/starpay`: the provider's
//! paths under `/starpay/api/v1`, Swagger UI at `/starpay/docs`.
//!
//! - `roles`: the role × endpoint table, data scopes and hourly limits.
//! - `auth`: `X-API-KEY`, the account's status and allow-list, the role's rate limit
//!   and the `X-RateLimit-*` headers.
//! - `api`: the seven operations.
//! - `types`: wire types ⇄ canonical types (`txn_…`, `po_…`, `usr_…` ids).
//! - `errors`: `CoreError` → the seed's error envelope and codes.
//! - `webhook`: notifications to the account's webhook URL.

mod api;
mod auth;
mod errors;
pub mod roles;
mod types;
pub mod webhook;

use poem::Route;
use poem_openapi::{ExtraHeader, OpenApiService};

use super::{ClientKeys, GivenSettings};
use crate::core::{Credential, CredentialSeed, Payment, PaymentStatus};
use crate::http::AppState;
use crate::http::openapi::ApiDoc;

/// Where the dialect is mounted.
pub const BASE: &str = "/starpay";
const API_PREFIX: &str = "/api/v1";

const DESCRIPTION: &str = "\
StarPay's API as paybridge emulates it: point an existing integration at \
`<paybridge>/starpay/api/v1` instead of the provider's `/api/v1`.

* Every request carries your personal `X-API-KEY`. Keys are per user; regenerating a \
key (admin API: `POST /admin/v1/credentials/{id}/rotate`) or suspending its user \
(`POST /admin/v1/credentials/{id}/suspend`) invalidates it at once (`401 invalid_api_key`).
* Roles and what they may do — `insufficient_permissions` (403) otherwise:

| endpoint | super_admin | admin | merchant, partner | api_user |
|---|---|---|---|---|
| `GET /balance` | ✓ | — | ✓ | ✓ |
| `GET /profile` | ✓ | ✓ | ✓ | ✓ |
| `POST /payments` | ✓ | ✓ | ✓ | ✓ |
| `GET /payments`, `/payments/:id` | all | the team's | own | own |
| `POST /payouts` | ✓ | — | ✓ | ✓ |
| `GET /payouts` | all | — | own | own |

  \"Own\" means created with that user's key; the team is every user of the account. \
Users are created, re-roled, suspended and re-keyed through paybridge's admin API.
* Hourly limits per user: super_admin and admin 2,000, merchant and partner 500, \
api_user 100. Every response to a known key of an approved account carries \
`X-RateLimit-Limit` and `X-RateLimit-Remaining`; over the limit: `429 rate_limit_exceeded` with `Retry-After`.
* Amounts are major units of the currency (5000 = 5,000.00 INR); the account's default \
currency applies when `currency` is absent. `order_id` is unique per account \
(`409 duplicate_order_id`).
* Payouts reserve their amount from the available balance at once \
(`422 insufficient_balance` otherwise) and stay `pending` until paybridge's admin \
processes (`payout.processed`) or rejects them (`payout.rejected`, the amount is \
available again).
* Errors: `{\"success\": false, \"error\": {\"code\", \"message\", \"status\", \
\"timestamp\"}}` with the seed's codes and no other (clients switch on them): a field \
absent, malformed or not valid, or a body that is not JSON, is `400 missing_fields` \
with `details` naming each field.
* Webhooks (payment.completed, payment.failed, payout.processed, payout.rejected, \
user.created, user.suspended) go to the account's webhook URL; only HTTP 200 \
acknowledges. paybridge signs them `X-StarPay-Signature: sha256=<hex HMAC-SHA256(api_key, \
raw body)>` with the account owner's key (its `merchant` user).
* Any POST may carry `Idempotency-Key`: a retry with the same body replays the first \
response (`Idempotent-Replayed: true`).";

fn service() -> OpenApiService<api::StarApi, ()> {
    crate::http::openapi::dialect_service(api::StarApi, "StarPay API (paybridge)", DESCRIPTION)
        .server(BASE.to_owned() + API_PREFIX)
        .extra_response_header::<Option<u32>, _>(
            ExtraHeader::new("X-RateLimit-Limit").description("Requests your role may make per hour."),
        )
        .extra_response_header::<Option<u32>, _>(
            ExtraHeader::new("X-RateLimit-Remaining").description("Requests left in the current hour."),
        )
}

/// The OpenAPI document.
pub fn doc() -> ApiDoc {
    ApiDoc::from_service("starpay", &service()).require_all_security().request_examples(&examples())
}

/// Request examples in the seed's terms (its TXN-2026-001 of 5000 INR), for "Try it out".
fn examples() -> Vec<crate::http::openapi::RequestExample> {
    use serde_json::json;
    vec![
        (
            "post",
            "/payments",
            json!({
                "order_id": "TXN-2026-001", "amount": 5000, "currency": "INR", "payer": "Jane Smith",
                "payer_email": "jane@example.com", "payer_phone": "+919876543210", "description": "Order TXN-2026-001",
                "payment_method": "upi", "return_url": "https://shop.example.com/thanks"
            }),
        ),
        (
            "post",
            "/payouts",
            json!({
                "amount": 1000, "currency": "INR", "account_holder_name": "Jane Smith", "account_number": "123456789012",
                "bank_name": "State Bank of India", "ifsc_code": "SBIN0001234", "reference": "PAYOUT-2026-001"
            }),
        ),
    ]
}

/// The API, relative to the dialect's root (the provider's host).
pub fn routes(state: &AppState) -> Route {
    let admission = auth::StarAuth::new(state.clone());
    let unknown_routes = Some(errors::no_such_endpoint as fn(_) -> _);
    let api = crate::http::dialect_api::<errors::Errors, _, _>(service(), state, admission, unknown_routes);
    Route::new().nest(API_PREFIX, api)
}

/// How a client presents a StarPay user's key: `X-API-KEY`; in its conformance suite,
/// `api_key` for the merchant-role user (the account owner, whose key signs the
/// webhooks) and `<role>_key` for the others.
pub fn client_keys(seed: &CredentialSeed) -> ClientKeys {
    let name = match seed.role.as_deref() {
        None | Some("merchant") => "api_key".to_owned(),
        Some(role) => format!("{role}_key"),
    };
    ClientKeys { headers: vec![("X-API-KEY", seed.key_id.clone())], suite: vec![(name, seed.key_id.clone())] }
}

/// StarPay key material: one API key per user, used as both parts.
pub fn new_keys(hex: &mut dyn FnMut(usize) -> String, _settings: &mut GivenSettings) -> (String, String) {
    let key = format!("sp_live_{}", hex(20));
    (key.clone(), key)
}

/// Where the checkout returns the payer: the order's `return_url`, with `order_id` and
/// `status` added, once the payment is decided.
pub fn return_url(payment: &Payment, _: Option<&Credential>) -> Option<String> {
    let target = match payment.status {
        PaymentStatus::Created | PaymentStatus::AwaitingProcessor | PaymentStatus::Processing => None,
        _ => payment.urls.success.as_deref(),
    }?;
    let status = crate::http::wire::enum_text(&types::PaymentState::from(payment.status));
    crate::adapters::with_query(target, &[("order_id", &payment.reference), ("status", &status)])
}
