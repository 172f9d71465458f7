//! The dialects: one module per provider, each a thin translation between the
//! provider's wire format and the core's [`Gateway`](crate::core::Gateway) API.
//!
//! A dialect sees only `core`'s public API, `http` helpers and `crypto`; never the
//! store, and never another dialect.

pub mod payrequest;
pub mod qrmoney;
pub mod rebornpay;
pub mod shadhinpay;
pub mod starpay;

use poem::Route;
use rand::Rng;

use crate::core::{Credential, Dialect, Event, Merchant, Payment};
use crate::http::AppState;
use crate::http::openapi::ApiDoc;

/// Every dialect's OpenAPI document.
pub fn docs() -> Vec<ApiDoc> {
    vec![rebornpay::doc(), shadhinpay::doc(), starpay::doc(), payrequest::doc(), qrmoney::doc()]
}

/// Mounts every dialect.
pub fn mount(route: Route, state: &AppState) -> Route {
    let route = rebornpay::mount(route, state, &rebornpay::doc());
    let route = shadhinpay::mount(route, state, &shadhinpay::doc());
    let route = starpay::mount(route, state, &starpay::doc());
    let route = payrequest::mount(route, state, &payrequest::doc());
    qrmoney::mount(route, state, &qrmoney::doc())
}

/// A notification a dialect sends for an event.
pub struct Formatted {
    /// The dialect's event name (`payment.success`).
    pub event_type: String,
    /// Where it goes.
    pub url: String,
    /// The body's content type.
    pub content_type: &'static str,
    /// The body, exactly as sent and signed.
    pub body: Vec<u8>,
}

/// How a dialect notifies merchants: the webhook engine dispatches each canonical event
/// to the dialect it belongs to, which decides whether and how it is sent.
pub trait WebhookDialect: Sync {
    /// The notification `event` makes, or `None` when this dialect does not send one
    /// (or the merchant has nowhere to receive it).
    fn format(&self, event: &Event, merchant: &Merchant, credential: &Credential) -> Option<Formatted>;

    /// Which of the merchant's active credentials of this dialect signs the
    /// notifications of `event` (the first, unless the dialect says otherwise).
    fn signer<'a>(&self, event: &Event, credentials: &[&'a Credential]) -> Option<&'a Credential> {
        let _ = event;
        credentials.first().copied()
    }

    /// For a body that signs itself (ShadhinPay's `signature` field): the body signed
    /// with `credential` as it is now, so a delivery queued before a key rotation is
    /// still signed consistently when sent. `None` sends the body as queued.
    fn resign(&self, body: &[u8], credential: &Credential) -> Option<Vec<u8>> {
        let _ = (body, credential);
        None
    }

    /// The headers that sign `body`.
    fn sign(&self, body: &[u8], credential: &Credential) -> Vec<(&'static str, String)>;

    /// Whether the receiver's status acknowledges the delivery (2xx unless the dialect
    /// says otherwise).
    fn acknowledged(&self, status: u16) -> bool {
        (200..300).contains(&status)
    }
}

/// The webhook side of a dialect; `None` for dialects not built yet.
pub fn webhooks(dialect: Dialect) -> Option<&'static dyn WebhookDialect> {
    match dialect {
        Dialect::Rebornpay => Some(&rebornpay::webhook::Webhooks),
        Dialect::Shadhinpay => Some(&shadhinpay::webhook::Webhooks),
        Dialect::Starpay => Some(&starpay::webhook::Webhooks),
        // PayRequest V1 documents no notifications.
        Dialect::Payrequest => None,
        Dialect::Qrmoney => Some(&qrmoney::webhook::Webhooks),
    }
}

/// Where the hosted checkout sends the customer once `payment` is decided, with the
/// parameters its dialect adds; `None` when the merchant gave no URL for that outcome
/// (the checkout then shows its own result page). `credential` is the one
/// the payment was created with, for dialects that sign their return.
pub fn return_url(payment: &Payment, credential: Option<&Credential>) -> Option<String> {
    match payment.namespace {
        Dialect::Rebornpay => rebornpay::return_url(payment),
        Dialect::Shadhinpay => shadhinpay::return_url(payment),
        Dialect::Starpay => starpay::return_url(payment),
        Dialect::Payrequest => payrequest::return_url(payment, credential),
        Dialect::Qrmoney => qrmoney::return_url(payment),
    }
}

/// Checks the dialect identifiers and settings a credential's `extra` holds (QR Money's
/// `settings`), before the admin API stores them.
pub fn check_extra(
    dialect: Dialect,
    extra: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), crate::core::CoreError> {
    let text = |key: &str| match extra.get(key) {
        None => Ok(()),
        Some(serde_json::Value::String(v)) if !v.trim().is_empty() => Ok(()),
        Some(_) => Err(crate::core::CoreError::invalid(format!("extra.{key}"), "must be a non-empty string")),
    };
    match dialect {
        Dialect::Qrmoney => qrmoney::check_extra(extra),
        // Identifiers their auth or checkout reads.
        Dialect::Shadhinpay => text("business_id"),
        Dialect::Payrequest => text("psp"),
        Dialect::Rebornpay | Dialect::Starpay => Ok(()),
    }
}

/// A part of an event's canonical payload (`payment`, `refund`, `payout`…).
pub(crate) fn event_part<T: serde::de::DeserializeOwned>(event: &Event, key: &str) -> Option<T> {
    serde_json::from_value(event.payload.get(key)?.clone()).ok()
}

/// An amount in major units as a JSON number (`2500.5`).
pub(crate) fn major_number(money: &crate::core::Money) -> serde_json::Value {
    money
        .to_major()
        .to_string()
        .parse::<serde_json::Number>()
        .map_or(serde_json::Value::Null, serde_json::Value::Number)
}

/// `target` with `params` appended to its query; `None` when it is not a URL.
pub(crate) fn with_query(target: &str, params: &[(&str, &str)]) -> Option<String> {
    let mut url = url::Url::parse(target).ok()?;
    url.query_pairs_mut().extend_pairs(params);
    Some(url.into())
}

/// Fresh key material for a dialect credential, in the provider's customary form:
/// `(public key, secret, dialect identifiers)`. `given` identifiers are kept; missing
/// ones are generated. Single-token dialects use one value for both parts.
pub fn new_credential(
    dialect: Dialect,
    given: serde_json::Map<String, serde_json::Value>,
) -> (String, String, serde_json::Value) {
    let account_id = rand::rng().random_range(1000..1_000_000u32);
    let mut rng = rand::rng();
    let mut hex = |bytes: usize| (0..bytes).map(|_| format!("{:02x}", rng.random::<u8>())).collect::<String>();
    let mut extra = given;
    let (key, secret) = match dialect {
        Dialect::Rebornpay => rebornpay::new_keys(&mut hex),
        Dialect::Shadhinpay => shadhinpay::new_keys(&mut hex, &mut extra),
        Dialect::Qrmoney => qrmoney::new_keys(&mut hex, &mut extra, account_id),
        Dialect::Starpay => starpay::new_key(&mut hex),
        Dialect::Payrequest => {
            let token = hex(20);
            (token.clone(), token)
        }
    };
    (key, secret, serde_json::Value::Object(extra))
}
