//! PayRequest V1 (`../shared/seeds/payrequest-v1.txt`), mounted at `/payrequest`: the
//! provider's `POST /api/create/` and `POST /api/get/` (with or without the trailing
//! slash, JSON or form bodies), `POST /create` where its WHMCS module posts, payment
//! links at `/payrequest/l/{token}`, Swagger UI at `/payrequest/docs`.
//!
//! - `api`: the operations, authenticated by the token in the body.
//! - `types`: the lenient request fields, amounts with a decimal comma, error codes.
//! - `webhook`: the server-to-server `callback` form of PayRequest's later API.
//!
//! PayRequest V1 documents no notifications: the merchant learns the outcome from the
//! return redirect (`response`, `return_id`) and `get`; a create with `callback` (as
//! the WHMCS module sends) is also notified there, through the webhook engine.

mod api;
mod types;
pub mod webhook;

use poem::middleware::{NormalizePath, TrailingSlash};
use poem::web::{Path, Redirect};
use poem::{EndpointExt, IntoResponse, Response, Route, handler};
use poem_openapi::OpenApiService;

use super::{ClientKeys, GivenSettings};
use crate::core::{Credential, CredentialSeed, Payment, PaymentStatus};
use crate::crypto::md5_hex;
use crate::http::AppState;
use crate::http::body::BoundedBody;
use crate::http::mount::CHECKOUT_PATH;
use crate::http::openapi::ApiDoc;

/// Where the dialect is mounted.
pub const BASE: &str = "/payrequest";

const DESCRIPTION: &str = "\
PayRequest's V1 API (deprecated by the provider, still in use) as paybridge emulates it: \
point an existing integration at `<paybridge>/payrequest` instead of \
`https://link.payrequest.io`.

* The token goes in the body of every request, JSON or `application/x-www-form-urlencoded` \
alike; both `/api/create/` and `/api/create` work (likewise `get`), and `/create` is the \
same create at the path PayRequest's WHMCS module posts to.
* `create`: `title` and `amount` are required; `amount` is `12,25`, `\"12.25\"` or `12.25` \
in the account's default currency; `id` is generated (`PR-…`, returned as `id`) when \
absent; `currency` (ISO 4217) overrides the account's. `type` `link` (default; \
`paymentlink` is the same) answers a shareable payment link, `direct` the checkout to \
redirect the customer to; both as `{\"status\": \"success\", \"url\": …}`. The same \
request with the same `id` again answers the same link. Fields paybridge has no use for \
(`return`, `testmode`, `website`) are accepted.
* With `callback`, the outcome is also POSTed there (a form: `status` `PAID` or \
`FAILED`, `id`, `title`, `link`, `amount`, `response`, `return_id`) once the payment is \
paid or failed, retried until acknowledged with a 2xx.
* After paying (or failing) the customer is sent to `response` with `response` = \
md5(\"success\" + id) or md5(\"failed\" + id) and `return_id` = md5(token + id), lowercase \
hex: check both before trusting the return, then confirm with `get`.
* `get` answers `{\"status\": \"paid\" | \"failed\" | \"pending\"}`.
* Errors are `{\"status\": \"error\", \"error\": code}` with HTTP 200, as the provider \
answered: `notoken`, `noid`, `novalidtoken`, `nosuchlink`, `notitle`, `noamount`, \
`notvalidamount`, `nointegration` (the account has no payment provider connected), \
`pspnotsupported`, and `unknown` with `realerror`. A rate-limited request (the \
account's per-minute limit) is the exception: 429, `unknown`, `Retry-After`.";

fn service() -> OpenApiService<api::PayRequestApi, ()> {
    OpenApiService::new(api::PayRequestApi, "PayRequest V1 API (paybridge)", env!("CARGO_PKG_VERSION"))
        .description(DESCRIPTION)
        .server(BASE)
}

/// The OpenAPI document.
pub fn doc() -> ApiDoc {
    ApiDoc::from_service("payrequest", &service()).request_examples(&examples())
}

/// The seed's request examples (its "12,25"), with the demo token, for "Try it out".
fn examples() -> Vec<crate::http::openapi::RequestExample> {
    use serde_json::json;
    let create = json!({
        "token": "pr_test_demo", "id": "PR-000012457", "title": "Invoice #15123-14", "amount": "12,25",
        "type": "direct", "response": "https://shop.example.com/responsehandler"
    });
    vec![
        ("post", "/api/create", create.clone()),
        ("post", "/create", create),
        ("post", "/api/get", json!({ "token": "pr_test_demo", "id": "PR-000012457" })),
    ]
}

/// The path of the shareable link of the payment with `checkout_token`, under the
/// dialect's root.
pub fn link_path(checkout_token: &str) -> String {
    format!("{LINK_PATH}/{checkout_token}")
}

const LINK_PATH: &str = "/l";

/// A payment link: sends the customer on to the hosted checkout, on the same origin.
#[handler]
fn link(Path(token): Path<String>) -> Response {
    Redirect::see_other(format!("{CHECKOUT_PATH}/{token}")).into_response()
}

/// The API and the payment links, relative to the dialect's root (the provider's
/// host).
pub fn routes(state: &AppState) -> Route {
    let bounded = BoundedBody::new(state.body_limits.clone(), std::sync::Arc::new(api::refused));
    let api = service().with(bounded).data(state.clone()).with(NormalizePath::new(TrailingSlash::Trim));
    Route::new().at(format!("{LINK_PATH}/:token"), link).nest("/", api)
}

/// A decided payment's proof for the merchant: `response` = md5("success"+id) or
/// md5("failed"+id), `return_id` = md5(token+id) under the token it was created with;
/// `None` while undecided.
pub struct Proof {
    /// Paid (`success`), or not (`failed`).
    pub paid: bool,
    /// md5(outcome + id).
    pub response: String,
    /// md5(token + id).
    pub return_id: String,
}

impl Proof {
    /// The proof of `payment`, created with `credential`.
    pub fn of(payment: &Payment, credential: &Credential) -> Option<Proof> {
        let paid = match payment.status {
            PaymentStatus::Created | PaymentStatus::AwaitingProcessor | PaymentStatus::Processing => return None,
            PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded | PaymentStatus::Refunded => true,
            PaymentStatus::Failed | PaymentStatus::Cancelled | PaymentStatus::Expired => false,
        };
        let id = &payment.reference;
        let outcome = if paid { "success" } else { "failed" };
        let response = md5_hex(&format!("{outcome}{id}"));
        let return_id = md5_hex(&format!("{}{id}", credential.key_id));
        Some(Proof { paid, response, return_id })
    }
}

/// How a client presents a PayRequest token: in the body, no header; `token` in its
/// conformance suite.
pub fn client_keys(seed: &CredentialSeed) -> ClientKeys {
    ClientKeys { headers: Vec::new(), suite: vec![("token".into(), seed.key_id.clone())] }
}

/// PayRequest key material: one token, sent in the body.
pub fn new_keys(hex: &mut dyn FnMut(usize) -> String, _settings: &mut GivenSettings) -> (String, String) {
    let token = hex(20);
    (token.clone(), token)
}

/// Where the checkout returns the customer: `response` with the [`Proof`]'s `response`
/// and `return_id` added, once the payment is decided.
pub fn return_url(payment: &Payment, credential: Option<&Credential>) -> Option<String> {
    let target = payment.urls.success.as_deref()?;
    let proof = Proof::of(payment, credential?)?;
    crate::adapters::with_query(target, &[("response", &proof.response), ("return_id", &proof.return_id)])
}
