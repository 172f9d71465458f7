//! Which dialect speaks for an event: a payment's or refund's event goes to the dialect
//! the payment was created through, a test ping to the dialect that asked for it, and a
//! merchant-level event (a settlement) to every dialect the merchant has credentials
//! for. Each dialect then decides whether and what it sends.

use serde_json::Value;

use crate::core::{Credential, Dialect, Event, Merchant, NewDelivery};

/// The deliveries `event` makes for `merchant`.
pub fn deliveries(event: &Event, merchant: &Merchant, credentials: &[Credential]) -> Vec<NewDelivery> {
    let payment = event.payload.get("payment");
    let namespace = payment
        .and_then(|p| p.get("namespace"))
        .or_else(|| event.payload.get("dialect"))
        .and_then(Value::as_str)
        .and_then(Dialect::parse);
    let mut dialects: Vec<Dialect> = match namespace {
        Some(dialect) => vec![dialect],
        None => credentials.iter().map(|c| c.dialect).collect(),
    };
    dialects.sort_by_key(|d| d.as_str());
    dialects.dedup();
    let id_of = |key: &str| event.payload.get(key).and_then(|v| v.get("id")).and_then(Value::as_i64);
    let subject_key = ["payment", "settlement", "payout", "user"]
        .into_iter()
        .find_map(|kind| id_of(kind).map(|id| format!("{kind}:{id}")))
        .unwrap_or_else(|| format!("event:{}", event.id));
    let mut out = Vec::new();
    for dialect in dialects {
        let Some(hooks) = crate::adapters::webhooks(dialect) else { continue };
        let theirs: Vec<&Credential> = credentials.iter().filter(|c| c.dialect == dialect && c.active).collect();
        let Some(credential) = hooks.signer(&theirs) else { continue };
        if let Some(formatted) = hooks.format(event, merchant, credential) {
            out.push(NewDelivery {
                dialect,
                credential_id: Some(credential.id),
                event_type: formatted.event_type,
                subject_key: subject_key.clone(),
                url: formatted.url,
                content_type: formatted.content_type.to_owned(),
                body: formatted.body,
            });
        }
    }
    out
}
