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

use poem::{EndpointExt, Route};
use rand::Rng;

use crate::core::{Credential, CredentialSeed, Dialect, DialectSettings, Event, Merchant, Payment};
use crate::http::AppState;
use crate::http::mount::{Mount, ROOT_DOCS_PATH};
use crate::http::openapi::ApiDoc;

/// A dialect: how the server mounts it, how it notifies merchants, where its checkout
/// returns customers and what its key material looks like. The main listener's
/// `/<name>` mount, the root mounts (`[dialects.<name>]`), the docs, the committed
/// specs, webhook dispatch, checkout returns and credential issuance all derive from
/// [`DIALECTS`].
pub struct DialectEntry {
    /// The dialect.
    pub dialect: Dialect,
    /// Where it is mounted on the main listener (`/qrmoney`).
    pub base: &'static str,
    /// The port the built-in configuration serves it at the root of.
    pub demo_port: u16,
    /// Its OpenAPI document, with its main-listener server.
    doc: fn() -> ApiDoc,
    /// Its routes, relative to its root (the provider's host).
    pub routes: fn(&AppState) -> Route,
    /// How it formats and signs notifications.
    pub webhooks: &'static dyn WebhookDialect,
    /// Where the hosted checkout sends the customer once a payment is decided (see
    /// [`return_url`]).
    return_url: fn(&Payment, Option<&Credential>) -> Option<String>,
    /// Fresh key material in the provider's form, `(public key, secret)`; missing
    /// settings (business id, account ids) are generated into the map given.
    new_keys: NewKeys,
    /// How a client presents a credential (see [`client_keys`]).
    client_keys: fn(&CredentialSeed) -> ClientKeys,
}

/// How a client presents one credential of its dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKeys {
    /// The headers it sends (none where the credential travels in the body).
    pub headers: Vec<(&'static str, String)>,
    /// The names its dialect's conformance suite gives the credential's parts
    /// (`credentials.<name>` in conformance/demo.toml), with their values.
    pub suite: Vec<(String, String)>,
}

/// A dialect's key maker: random hex of `n` bytes in, and the settings given so far.
type NewKeys = fn(&mut dyn FnMut(usize) -> String, &mut GivenSettings) -> (String, String);

/// A credential's settings as an admin sent them (its `extra`), before they are typed.
pub type GivenSettings = serde_json::Map<String, serde_json::Value>;

/// Every dialect, in `Dialect`'s order (the order the docs list them): a dialect
/// without its entry, or out of place, does not compile.
const ENTRIES: [DialectEntry; Dialect::ALL.len()] = [
    DialectEntry {
        dialect: Dialect::Rebornpay,
        base: rebornpay::BASE,
        demo_port: 8081,
        doc: rebornpay::doc,
        routes: rebornpay::routes,
        webhooks: &rebornpay::webhook::Webhooks,
        return_url: rebornpay::return_url,
        new_keys: rebornpay::new_keys,
        client_keys: rebornpay::client_keys,
    },
    DialectEntry {
        dialect: Dialect::Shadhinpay,
        base: shadhinpay::BASE,
        demo_port: 8082,
        doc: shadhinpay::doc,
        routes: shadhinpay::routes,
        webhooks: &shadhinpay::webhook::Webhooks,
        return_url: shadhinpay::return_url,
        new_keys: shadhinpay::new_keys,
        client_keys: shadhinpay::client_keys,
    },
    DialectEntry {
        dialect: Dialect::Starpay,
        base: starpay::BASE,
        demo_port: 8083,
        doc: starpay::doc,
        routes: starpay::routes,
        webhooks: &starpay::webhook::Webhooks,
        return_url: starpay::return_url,
        new_keys: starpay::new_keys,
        client_keys: starpay::client_keys,
    },
    DialectEntry {
        dialect: Dialect::Payrequest,
        base: payrequest::BASE,
        demo_port: 8084,
        doc: payrequest::doc,
        routes: payrequest::routes,
        webhooks: &payrequest::webhook::Webhooks,
        return_url: payrequest::return_url,
        new_keys: payrequest::new_keys,
        client_keys: payrequest::client_keys,
    },
    DialectEntry {
        dialect: Dialect::Qrmoney,
        base: qrmoney::BASE,
        demo_port: 8085,
        doc: qrmoney::doc,
        routes: qrmoney::routes,
        webhooks: &qrmoney::webhook::Webhooks,
        return_url: qrmoney::return_url,
        new_keys: qrmoney::new_keys,
        client_keys: qrmoney::client_keys,
    },
];

const _: () = {
    let mut i = 0;
    while i < ENTRIES.len() {
        assert!(ENTRIES[i].dialect as usize == i, "DIALECTS lists each dialect in its place");
        i += 1;
    }
};

/// Every dialect, in the order the docs list them.
pub static DIALECTS: &[DialectEntry] = &ENTRIES;

impl DialectEntry {
    /// Its name: its config section, spec file and path mount.
    pub fn name(&self) -> &'static str {
        self.dialect.as_str()
    }

    /// The entry of `name`.
    pub fn named(name: &str) -> Option<&'static DialectEntry> {
        DIALECTS.iter().find(|d| d.name() == name)
    }

    /// The entry of `dialect`.
    pub fn of(dialect: Dialect) -> &'static DialectEntry {
        &DIALECTS[dialect as usize]
    }

    /// The path of its API's server under its root: empty, or the provider's own base
    /// path (`/api/v1` for ShadhinPay).
    fn server_path(doc: &ApiDoc, base: &str) -> String {
        let first = doc.spec["servers"][0]["url"].as_str().unwrap_or(base);
        first.strip_prefix(base).unwrap_or_default().to_owned()
    }

    /// The server of a root mount: the provider's base path, or `/`.
    fn root_server(root: &str) -> String {
        if root.is_empty() { "/".to_owned() } else { root.to_owned() }
    }

    /// The provider's base path under its host, which a merchant's base URL ends with:
    /// `/api/v1` for ShadhinPay and StarPay, else empty.
    pub fn api_path(&self) -> String {
        Self::server_path(&(self.doc)(), self.base)
    }

    /// The dialect's document, its description ending with where it is served.
    fn described(&self) -> ApiDoc {
        let mut doc = (self.doc)();
        let root = Self::server_path(&doc, self.base);
        let note = format!(
            "\n\n**Base URLs.** At the root of the dialect's own port — `http://<paybridge>:{port}{root}` \
             in the demo — or of a host named in `[dialects.{name}] hosts`: this works with every \
             client, including those that resolve absolute paths against their base URL (.NET's \
             `new Uri(base, \"/…\")`, Python's `urljoin`), which drop its path. Or \
             `<paybridge>{base}{root}` on the main listener, for clients that append paths to \
             their base URL as text. Both are the same API; links point back at the one called.",
            port = self.demo_port,
            name = self.name(),
            base = self.base,
        );
        if let Some(description) = doc.spec.pointer_mut("/info/description")
            && let Some(text) = description.as_str()
        {
            *description = serde_json::Value::String(format!("{text}{note}"));
        }
        doc
    }

    /// Its OpenAPI document as committed: the server under `/<name>` on the main
    /// listener, then the same at the root of its own port or host.
    pub fn doc(&self) -> ApiDoc {
        let doc = self.described();
        let root = Self::server_path(&doc, self.base);
        let first = format!("{}{root}", self.base);
        let servers = vec![
            (first, format!("under `{}` on paybridge's main listener", self.base)),
            (
                Self::root_server(&root),
                format!(
                    "at the root of the dialect's own port (the demo's: {}) or of a host named in \
                     `[dialects.{}] hosts`, for clients that resolve absolute paths against their base URL",
                    self.demo_port,
                    self.name()
                ),
            ),
        ];
        doc.with_servers(servers)
    }

    /// The document a mount serves (at a root, or under `/<name>`), its own server
    /// first, so Swagger UI's "Try it out" calls the mount it was opened on; `other`,
    /// the dialect's other base URL (if it has one), is listed second.
    pub fn served_doc(&self, at_root: bool, other: Option<&str>) -> ApiDoc {
        let doc = self.described();
        let root = Self::server_path(&doc, self.base);
        let mut servers = Vec::new();
        if at_root {
            servers.push((Self::root_server(&root), "this root mount".to_owned()));
            if let Some(main) = other {
                servers.push((format!("{main}{root}"), format!("under `{}` on the main listener", self.base)));
            }
        } else {
            servers.push((format!("{}{root}", self.base), "this listener".to_owned()));
            if let Some(port) = other {
                servers.push((format!("{port}{root}"), "at the root of the dialect's own port".to_owned()));
            }
        }
        doc.with_servers(servers)
    }

    /// The demo keys its docs fill Authorize with (none outside the built-in demo).
    fn demo_keys<'a>(&self, state: &'a AppState) -> &'a [(&'static str, String)] {
        state.docs_keys.get(&self.dialect).map_or(&[], Vec::as_slice)
    }

    /// Mounts it under `/<name>` of `route` (the main listener), links built on
    /// `public_url`; `root_url` is its own port's base URL, listed in its spec.
    pub fn mount_at_path(&self, route: Route, state: &AppState, public_url: &str, root_url: Option<&str>) -> Route {
        let mount = Mount::at_path(public_url, self.base);
        let route = route.nest(self.base, (self.routes)(state).data(mount));
        self.served_doc(false, root_url).authorized(self.demo_keys(state)).mount(route, self.base)
    }

    /// Its routes at `/`, as a root mount serves them: the API, the hosted checkout
    /// (so links stay on the mount's origin) and the docs under `/_paybridge`. The
    /// caller puts the request's [`Mount`] in place; `main_url` is its base URL on the
    /// main listener, listed in its spec.
    pub fn root_routes(&self, state: &AppState, checkout: &crate::checkout::ProcessorState, main_url: &str) -> Route {
        let route = crate::checkout::mount((self.routes)(state), checkout);
        self.served_doc(true, Some(main_url)).authorized(self.demo_keys(state)).mount(route, ROOT_DOCS_PATH)
    }
}

/// Every dialect's OpenAPI document, as committed.
pub fn docs() -> Vec<ApiDoc> {
    DIALECTS.iter().map(DialectEntry::doc).collect()
}

/// A notification a dialect sends for an event.
pub struct Formatted {
    /// The dialect's event name (`payment.success`).
    pub event_type: &'static str,
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

/// How a client presents `seed` to its dialect: the headers of the credential, and its
/// parts' names in the dialect's conformance suite — what `paybridge credentials`
/// prints, for QA tools (`.ci/schemathesis`) and the conformance tests.
pub fn client_keys(seed: &CredentialSeed) -> ClientKeys {
    (DialectEntry::of(seed.dialect()).client_keys)(seed)
}

/// The webhook side of a dialect.
pub fn webhooks(dialect: Dialect) -> &'static dyn WebhookDialect {
    DialectEntry::of(dialect).webhooks
}

/// Where the hosted checkout sends the customer once `payment` is decided, with the
/// parameters its dialect adds; `None` when the merchant gave no URL for that outcome
/// (the checkout then shows its own result page). `credential` is the one
/// the payment was created with, for dialects that sign their return.
pub fn return_url(payment: &Payment, credential: Option<&Credential>) -> Option<String> {
    (DialectEntry::of(payment.namespace).return_url)(payment, credential)
}

/// The credential a payment event's payment was created with, among the merchant's
/// active `credentials`, for dialects whose notifications belong to it (QR Money's
/// account key, PayRequest's token); `None` when it is no longer active (its key is
/// the only one the merchant's handler trusts for the payment, so nothing is sent).
pub(crate) fn creator_of<'a>(event: &Event, credentials: &[&'a Credential]) -> Option<&'a Credential> {
    let created_by = event.payload.payment().and_then(|p| p.created_by);
    let Some(id) = created_by else { return credentials.first().copied() };
    let signer = credentials.iter().find(|c| c.id == id).copied();
    if signer.is_none() {
        tracing::warn!(
            credential = id,
            event = event.id,
            "the payment's credential is suspended: notification not sent"
        );
    }
    signer
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

/// Fresh key material for a dialect credential, in the provider's customary form, and
/// its settings: `(public key, secret, settings)`. `given` settings (an admin's
/// `extra`) are kept and checked; missing identifiers are generated. Single-token
/// dialects use one value for both parts.
pub fn new_credential(
    dialect: Dialect,
    given: serde_json::Map<String, serde_json::Value>,
) -> Result<(String, String, DialectSettings), crate::core::CoreError> {
    let mut rng = rand::rng();
    let mut hex = |bytes: usize| (0..bytes).map(|_| format!("{:02x}", rng.random::<u8>())).collect::<String>();
    let mut extra = given;
    let (key, secret) = (DialectEntry::of(dialect).new_keys)(&mut hex, &mut extra);
    Ok((key, secret, DialectSettings::parse(dialect, &extra)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dialect_issues_credentials_of_its_own_shape() {
        for &dialect in Dialect::ALL {
            let (key, secret, settings) = new_credential(dialect, serde_json::Map::new()).expect("generated settings");
            assert_eq!(settings.dialect(), dialect, "{dialect}: generated settings pass its own checks");
            assert!(!key.is_empty() && !secret.is_empty(), "{dialect}");
            let (again, _, _) = new_credential(dialect, serde_json::Map::new()).unwrap();
            assert_ne!(key, again, "{dialect}: fresh keys each time");
        }
        let given = serde_json::json!({ "business_id": "biz_given" }).as_object().cloned().unwrap();
        let (_, _, settings) = new_credential(Dialect::Shadhinpay, given).unwrap();
        assert_eq!(settings.shadhinpay().map(|s| s.business_id.as_str()), Some("biz_given"), "given ones are kept");
        let (key, secret, _) = new_credential(Dialect::Rebornpay, serde_json::Map::new()).unwrap();
        assert!(key.starts_with("pk_live_") && secret.starts_with("sk_live_"), "the provider's own forms");
    }
}
