//! StarPay's webhooks (seed sample, DIALECTS.md): JSON to the account's webhook URL,
//! acknowledged only by HTTP 200, signed with paybridge's addition
//! `X-StarPay-Signature: sha256=<hex HMAC-SHA256(api_key, raw body)>`, where the key is
//! the account owner's: its `merchant` user (else its first `super_admin`, else its
//! first user).
//!
//! | canonical event | StarPay event | body |
//! |---|---|---|
//! | payment.succeeded | payment.completed | event, order_id, amount, currency, status, payer, timestamp, transaction_id |
//! | payment.failed | payment.failed | likewise |
//! | payout.processed | payout.processed | event, payout_id, amount, currency, status, reference, timestamp |
//! | payout.rejected | payout.rejected | likewise |
//! | user.created | user.created | event, user_id, name, role, status, timestamp |
//! | user.suspended | user.suspended | likewise |

use serde_json::{Value, json};

use super::types::{PaymentState, payout_id, transaction_id};
use crate::adapters::{Formatted, WebhookDialect, major_number};
use crate::core::{Credential, Event, EventType as E, Merchant, Payload, PayoutStatus};
use crate::crypto::hmac_sha256_hex;
use crate::http::wire::{UtcMillis, enum_text};

/// StarPay's formatter and signer.
pub struct Webhooks;

/// The event's StarPay name and body.
fn body(event: &Event) -> Option<(&'static str, Value)> {
    let timestamp = UtcMillis::from(event.created_at).to_string();
    let name = match event.kind {
        E::PaymentSucceeded => "payment.completed",
        E::PaymentFailed => "payment.failed",
        E::PayoutProcessed => "payout.processed",
        E::PayoutRejected => "payout.rejected",
        E::UserCreated => "user.created",
        E::UserSuspended => "user.suspended",
        // The seed's sample and DIALECTS.md name no others.
        E::PaymentCreated | E::PaymentProcessing | E::PaymentPending | E::PaymentCancelled | E::PaymentExpired => {
            return None;
        }
        E::RefundRequested | E::RefundSucceeded | E::RefundRejected => return None,
        E::SettlementCreated | E::SettlementPaid | E::PayoutRequested | E::TestPing => return None,
    };
    let body = match &event.payload {
        Payload::Payment(p) => {
            json!({
                "event": name,
                "order_id": p.reference,
                "amount": major_number(&p.amount),
                "currency": p.amount.currency().code(),
                "status": enum_text(&PaymentState::from(p.status)),
                "payer": p.customer.name,
                "timestamp": timestamp,
                "transaction_id": transaction_id(p.id),
            })
        }
        Payload::Payout(p) => {
            let status = if p.status == PayoutStatus::Processed { "processed" } else { "rejected" };
            json!({
                "event": name,
                "payout_id": payout_id(p.id),
                "amount": major_number(&p.amount),
                "currency": p.amount.currency().code(),
                "status": status,
                "reference": p.reference,
                "timestamp": timestamp,
            })
        }
        Payload::User { user, .. } => json!({
            "event": name,
            "user_id": format!("usr_{}", user.id),
            "name": user.name,
            "role": user.role,
            "status": user.status,
            "timestamp": timestamp,
        }),
        Payload::Refund { .. } | Payload::Settlement(_) | Payload::Ping { .. } => return None,
    };
    Some((name, body))
}

impl WebhookDialect for Webhooks {
    fn format(&self, event: &Event, merchant: &Merchant, _credential: &Credential) -> Option<Formatted> {
        let url = merchant.webhook_url.clone()?;
        let (event_type, body) = body(event)?;
        Some(Formatted { event_type, url, content_type: "application/json", body: serde_json::to_vec(&body).ok()? })
    }

    fn signer<'a>(&self, _event: &Event, credentials: &[&'a Credential]) -> Option<&'a Credential> {
        let with_role = |role: &str| credentials.iter().find(|c| c.role.as_deref() == Some(role)).copied();
        with_role("merchant").or_else(|| with_role("super_admin")).or_else(|| credentials.first().copied())
    }

    fn sign(&self, body: &[u8], credential: &Credential) -> Vec<(&'static str, String)> {
        vec![("X-StarPay-Signature", format!("sha256={}", hmac_sha256_hex(credential.key_id.as_bytes(), body)))]
    }

    fn acknowledged(&self, status: u16) -> bool {
        status == 200
    }
}
