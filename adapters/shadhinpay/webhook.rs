//! ShadhinPay's webhooks (DIALECTS.md), to the payment's `callback_url` on every status
//! change:
//!
//! ```json
//! {"event":"payment.completed","timestamp":"…","data":{"payment_id","status","amount",
//!  "currency","transaction_id","payment_method","customer_phone","metadata"},
//!  "signature":"sha256=…"}
//! ```
//!
//! `signature` is "sha256=" + hex HMAC-SHA256(secret_key, the compact JSON of the body
//! without `signature`, keys in the order sent); the `X-ShadhinPay-Signature` header is
//! the same over the exact raw body sent.
//!
//! | canonical event | ShadhinPay event | `data.status` |
//! |---|---|---|
//! | payment.created | payment.initiated | INITIATED |
//! | payment.pending, payment.processing | payment.processing | PROCESSING |
//! | payment.succeeded | payment.completed | COMPLETED |
//! | payment.failed | payment.failed | FAILED |
//! | payment.cancelled | payment.cancelled | CANCELLED |
//! | payment.expired | payment.expired | EXPIRED |
//! | refund.succeeded | payment.refunded | REFUNDED, or COMPLETED after a partial refund |
//!
//! A refund's notification adds `refund_id` and `refund_amount` to `data`.

use serde_json::{Map, Value, json};

use super::types::{Status, refund_id};
use crate::adapters::{Formatted, WebhookDialect};
use crate::core::{Credential, Event, EventType as E, Merchant, Payment};
use crate::crypto::hmac_sha256_hex;
use crate::http::wire::{UtcSeconds, enum_text};

/// ShadhinPay's formatter and signer.
pub struct Webhooks;

fn payment_data(p: &Payment) -> Map<String, Value> {
    let data = json!({
        "payment_id": p.reference,
        "status": enum_text(&Status::from(p.status)),
        "amount": p.amount.minor(),
        "currency": p.amount.currency().code(),
        "transaction_id": p.processor_txn_id,
        "payment_method": p.method,
        "customer_phone": p.customer.phone,
        "metadata": p.metadata,
    });
    match data {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// `body` with its `signature` added last, over its compact JSON without it.
fn signed(mut body: Value, credential: &Credential) -> Option<Vec<u8>> {
    let signature = body_signature(credential.secret.expose(), &serde_json::to_vec(&body).ok()?);
    body.as_object_mut()?.insert("signature".into(), signature.into());
    serde_json::to_vec(&body).ok()
}

/// The body's signature: "sha256=" + hex HMAC-SHA256 of the compact JSON `unsigned`.
pub fn body_signature(secret: &str, unsigned: &[u8]) -> String {
    format!("sha256={}", hmac_sha256_hex(secret.as_bytes(), unsigned))
}

impl WebhookDialect for Webhooks {
    fn format(&self, event: &Event, _merchant: &Merchant, credential: &Credential) -> Option<Formatted> {
        let name = match event.kind {
            E::PaymentCreated => "payment.initiated",
            E::PaymentPending | E::PaymentProcessing => "payment.processing",
            E::PaymentSucceeded => "payment.completed",
            E::PaymentFailed => "payment.failed",
            E::PaymentCancelled => "payment.cancelled",
            E::PaymentExpired => "payment.expired",
            E::RefundSucceeded => "payment.refunded",
            // A payment's status changes only.
            E::RefundRequested | E::RefundRejected => return None,
            E::SettlementCreated | E::SettlementPaid => return None,
            E::PayoutRequested | E::PayoutProcessed | E::PayoutRejected => return None,
            E::UserCreated | E::UserSuspended | E::TestPing => return None,
        };
        let payment = event.payload.payment()?;
        let url = payment.urls.notify.clone()?;
        let mut data = payment_data(payment);
        if let Some(refund) = event.payload.refund() {
            data.insert("refund_id".into(), refund_id(refund.id).into());
            data.insert("refund_amount".into(), refund.amount.minor().into());
        }
        let body = json!({
            "event": name,
            "timestamp": UtcSeconds::from(event.created_at).to_string(),
            "data": data,
        });
        let body = signed(body, credential)?;
        Some(Formatted { event_type: name, url, content_type: "application/json", body })
    }

    fn resign(&self, body: &[u8], credential: &Credential) -> Option<Vec<u8>> {
        let mut body: Value = serde_json::from_slice(body).ok()?;
        body.as_object_mut()?.remove("signature");
        signed(body, credential)
    }

    fn sign(&self, body: &[u8], credential: &Credential) -> Vec<(&'static str, String)> {
        vec![(
            "X-ShadhinPay-Signature",
            format!("sha256={}", hmac_sha256_hex(credential.secret.expose().as_bytes(), body)),
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected value computed with Python's hmac module.
    #[test]
    fn body_signature_is_hmac_of_the_compact_unsigned_body() {
        let unsigned = br#"{"event":"payment.completed","timestamp":"2024-01-01T12:05:00Z","data":{"payment_id":"SP_1","status":"COMPLETED","amount":1500}}"#;
        assert_eq!(
            body_signature("secret", unsigned),
            "sha256=7e98bc91541393e48732ee04294a9af6bee0177115ea4888ed84752eaa08fada"
        );
    }
}
