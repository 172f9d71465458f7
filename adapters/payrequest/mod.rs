//! PayRequest V1 (`../shared/seeds/payrequest-v1.txt`), mounted at `/payrequest`: the
//! provider's `POST /api/create/` and `POST /api/get/` (with or without the trailing
//! slash, JSON or form bodies), payment links at `/payrequest/l/{token}`, Swagger UI
//! at `/payrequest/docs`.
//!
//! - `api`: the two operations, authenticated by the token in the body.
//! - `types`: the lenient request fields, amounts with a decimal comma, error codes.
//!
//! PayRequest V1 documents no notifications: the merchant learns the outcome from the
//! return redirect (`response`, `return_id`) and `get`.

mod api;
mod types;

use poem::middleware::{NormalizePath, TrailingSlash};
use poem::web::{Path, Redirect};
use poem::{EndpointExt, IntoResponse, Response, Route, handler};
use poem_openapi::OpenApiService;

use crate::core::{Credential, Payment, PaymentStatus};
use crate::crypto::md5_hex;
use crate::http::AppState;
use crate::http::mount::CHECKOUT_PATH;
use crate::http::openapi::ApiDoc;

/// Where the dialect is mounted.
pub const BASE: &str = "/payrequest";
const API_PREFIX: &str = "/api";

const DESCRIPTION: &str = "\
PayRequest's V1 API (deprecated by the provider, still in use) as paybridge emulates it: \
point an existing integration at `<paybridge>/payrequest` instead of \
`https://link.payrequest.io`.

* The token goes in the body of every request, JSON or `application/x-www-form-urlencoded` \
alike; both `/api/create/` and `/api/create` work (likewise `get`).
* `create`: `title` and `amount` are required; `amount` is `12,25`, `\"12.25\"` or `12.25` \
in the account's default currency; `id` is generated (`PR-…`, returned as `id`) when \
absent. `type` `link` (default) answers a shareable payment link, `direct` the checkout \
to redirect the customer to; both as `{\"status\": \"success\", \"url\": …}`. The same \
request with the same `id` again answers the same link.
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
        .url_prefix(API_PREFIX)
}

/// The OpenAPI document.
pub fn doc() -> ApiDoc {
    ApiDoc::from_service("payrequest", &service())
}

/// The path of `payment`'s shareable link, under the dialect's root.
pub fn link_path(payment: &Payment) -> String {
    format!("{LINK_PATH}/{}", payment.checkout_token)
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
    let api = service().data(state.clone()).with(NormalizePath::new(TrailingSlash::Trim));
    Route::new().at(format!("{LINK_PATH}/:token"), link).nest(API_PREFIX, api)
}

/// Where the checkout returns the customer: `response` with `response` =
/// md5("success"+id) or md5("failed"+id) and `return_id` = md5(token+id), once the
/// payment is decided.
pub fn return_url(payment: &Payment, credential: Option<&Credential>) -> Option<String> {
    let outcome = match payment.status {
        PaymentStatus::Created | PaymentStatus::Processing => return None,
        PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded | PaymentStatus::Refunded => "success",
        PaymentStatus::Failed | PaymentStatus::Cancelled | PaymentStatus::Expired => "failed",
    };
    let target = payment.urls.success.as_deref()?;
    let token = &credential?.key_id;
    let id = &payment.reference;
    let response = md5_hex(&format!("{outcome}{id}"));
    let return_id = md5_hex(&format!("{token}{id}"));
    crate::adapters::with_query(target, &[("response", &response), ("return_id", &return_id)])
}
