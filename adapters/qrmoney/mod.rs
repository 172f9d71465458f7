//! QR Money H2H (`../shared/seeds/qrmoney-h2h.txt`), mounted at `/qrmoney` (the
//! provider's paths under it), Swagger UI at `/qrmoney/docs`.
//!
//! - `auth`: `X-API-Key`, the merchant's status, allow-list and rate limit.
//! - `api`: the card payment request (charged at once), its status, its refund.
//! - `types`: the request and its checks, the status object, the seed's status ids.
//! - `codes`: the seed's result codes, each decline a core `Decline` reason.
//! - `errors`: `CoreError` → problem details with the seed's codes.
//! - `webhook`: form-encoded notifications signed with `X-Signature`.

mod api;
mod auth;
pub mod codes;
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
pub const BASE: &str = "/qrmoney";

const DESCRIPTION: &str = "\
QR Money Solutions' host-to-host card payments as paybridge emulates them: point an \
existing integration at `<paybridge>/qrmoney` instead of `https://apay.qrmoneysolutions.com`.

* Authenticate with `X-API-Key`; a missing or unknown key answers `401` with code `048`. \
`{accountId}` in the create path is your account id; another answers `404` `043`.
* `POST /payments/h2h/{accountId}` charges the card at once (sandbox: see the README's \
test cards). Approved: `200` with the payment request's status plus `paymentRequestId`, \
`data` (the same id), `redirectUrl` and `challengeRequired`. Card \
`4000 0000 0000 0002` needs 3-D Secure: `200` with `transactionStatusId` 3, \
`challengeRequired` true and the challenge page — where the customer approves or fails \
it — in both `redirectUrl` and `transactionId` (where integrations read it). Declined \
(001–024, 047, 998, 999, the account's limits included): `402` problem details with \
the code, the seed's message as `title`, and the stored request's `id` and \
`paymentRequestId`; `/payment-requests/status/{id}` reports it with `lastLog`.
* Status ids as QR Money's table: `paymentRequestStatusId` 1 paid, 2 unpaid, 3 cancelled; \
`transactionStatusId` 0 waiting, 1 approved, 2 declined, 3 pending.
* Units USD, EUR, BTC (8 decimals), USDT (6) and other ISO 4217 codes at their precision.
* A bad field answers `400` problem details: `code` is QR Money's (025–048; 009 email, \
010 postal code) and `errors` lists every bad field with its code.
* Your account's limits decline with their codes: blocked origin domain 014, max/min \
amount 018/019, currency 020, daily/monthly count 021/022 and total 023/024, country 047 \
(set by paybridge's admin API, see the README).
* Notifications: `POST application/x-www-form-urlencoded` to `notifyUrl` once a payment \
is approved, declined, cancelled or expired — the seed's fields, then \
`paymentRequestStatus` (= `paymentRequestStatusId`) — with `X-Signature` = \
Base64(hex(HMAC-SHA512(API key, raw body))).
* `GET /payments/h2h/refund/{id}` refunds a paid request in full; the refund is \
`pending` until reviewed in paybridge's admin queue, and asking again answers the same \
refund. Any POST may carry `Idempotency-Key`.";

fn service() -> OpenApiService<api::QrApi, ()> {
    crate::http::openapi::dialect_service(api::QrApi, "QR Money H2H API (paybridge)", DESCRIPTION).server(BASE)
}

/// The OpenAPI document.
pub fn doc() -> ApiDoc {
    ApiDoc::from_service("qrmoney", &service())
        .require_all_security()
        .nullable_optionals(&["PaymentRequestStatus", "CreateResponse", "Client", "LastLog"])
        .request_examples(&examples())
        .parameter_examples(&[("accountId", serde_json::json!("1001"))])
}

/// A card payment with the sandbox's approving test card, for "Try it out".
fn examples() -> Vec<crate::http::openapi::RequestExample> {
    use serde_json::json;
    vec![(
        "post",
        "/payments/h2h/{accountId}",
        json!({
            "name": "John Doe", "number": "4242424242424242", "expiration": "12/40", "cvv": "123",
            "email": "john.doe@example.com", "phoneNumber": "13055550100", "address": "1 Ocean Drive",
            "city": "Miami", "state": "FL", "postalCode": "33101", "country": "US", "birthDate": "19800131",
            "amount": 10.50, "unit": "USD", "referenceId": "ORDER-42", "originDomain": "shop.example.com",
            "notifyUrl": "https://shop.example.com/qr/notify", "successUrl": "https://shop.example.com/paid",
            "failureUrl": "https://shop.example.com/failed",
            "browserInfo": { "browserLanguage": "en-US", "browserJavaEnabled": false }
        }),
    )]
}

/// The API, relative to the dialect's root (the provider's host): every path, so
/// unknown ones answer in QR Money's error body.
pub fn routes(state: &AppState) -> Route {
    let admission = auth::QrAuth::new(state.clone());
    let unknown_routes = Some(errors::no_such_endpoint as fn(_) -> _);
    let api = crate::http::dialect_api::<errors::Errors, _, _>(service(), state, admission, unknown_routes);
    Route::new().nest("/", api)
}

/// How a client presents a QR Money key: `X-API-Key` (the account id travels in the
/// path); `api_key`, `account_id` and `merchant_id` in its conformance suite.
pub fn client_keys(seed: &CredentialSeed) -> ClientKeys {
    let ids = seed.settings.qrmoney();
    let account = ids.map(|s| s.account_id.clone()).unwrap_or_default();
    let merchant = ids.map(|s| s.merchant_id.clone()).unwrap_or_default();
    ClientKeys {
        headers: vec![("X-API-Key", seed.key_id.clone())],
        suite: vec![
            ("api_key".into(), seed.key_id.clone()),
            ("account_id".into(), account),
            ("merchant_id".into(), merchant),
        ],
    }
}

/// QR Money key material: one API key, plus the account and merchant ids.
pub fn new_keys(hex: &mut dyn FnMut(usize) -> String, extra: &mut GivenSettings) -> (String, String) {
    use rand::Rng;
    extra.entry("account_id").or_insert_with(|| rand::rng().random_range(1000..1_000_000u32).to_string().into());
    extra.entry("merchant_id").or_insert_with(|| format!("m-{}", hex(4)).into());
    let key = format!("qr_{}", hex(20));
    (key.clone(), key)
}

/// Where the customer goes once `payment` is decided: `successUrl` after an approval,
/// `failureUrl` after a decline, cancellation or expiry, as given.
pub fn return_url(payment: &Payment, _: Option<&Credential>) -> Option<String> {
    match payment.status {
        PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded | PaymentStatus::Refunded => {
            payment.urls.success.clone()
        }
        PaymentStatus::Failed | PaymentStatus::Cancelled | PaymentStatus::Expired => payment.urls.failure.clone(),
        PaymentStatus::Created | PaymentStatus::AwaitingProcessor | PaymentStatus::Processing => None,
    }
}
