//! REBORNPAY's webhooks (DIALECTS.md): `{"event", "data"}` to the merchant's webhook URL,
//! signed `X-REBORNPAY-Signature: sha256=<hex HMAC-SHA256(api_secret, raw body)>`.
//!
//! | canonical event | REBORNPAY event | data |
//! |---|---|---|
//! | payment.processing (approved, awaiting verify) | payment.success | invoice_id, transaction_id, amount, currency |
//! | payment.succeeded, when captured automatically | payment.success | likewise |
//! | payment.failed | payment.failed | likewise |
//! | refund.succeeded | refund.processed | refund_id, invoice_id, amount, currency |
//! | settlement.paid | settlement.paid | settlement_id, amount, currency |
//! | test.ping | test.ping | the merchant's data |
//!
//! `payment.success` goes out when the processor approves, carrying the transaction id
//! the merchant then passes to `verify`; verifying does not notify again.

use serde_json::{Value, json};

use super::types::refund_id;
use crate::adapters::{Formatted, WebhookDialect, major_number};
use crate::core::{CaptureMode, Credential, Event, EventType as E, Merchant, Payment};
use crate::crypto::hmac_sha256_hex;

/// REBORNPAY's formatter and signer.
pub struct Webhooks;

fn payment_data(p: &Payment) -> Value {
    json!({
        "invoice_id": p.reference,
        "transaction_id": p.processor_txn_id,
        "amount": major_number(&p.amount),
        "currency": p.amount.currency().code(),
    })
}

impl WebhookDialect for Webhooks {
    fn format(&self, event: &Event, merchant: &Merchant, _credential: &Credential) -> Option<Formatted> {
        let url = merchant.webhook_url.clone()?;
        let (name, data) = match event.kind {
            E::PaymentProcessing => ("payment.success", payment_data(event.payload.payment()?)),
            E::PaymentSucceeded => {
                let payment = event.payload.payment()?;
                if payment.capture_mode != CaptureMode::Automatic {
                    return None;
                }
                ("payment.success", payment_data(payment))
            }
            E::PaymentFailed => ("payment.failed", payment_data(event.payload.payment()?)),
            E::RefundSucceeded => {
                let refund = event.payload.refund()?;
                let data = json!({
                    "refund_id": refund_id(refund.id),
                    "invoice_id": refund.payment_reference,
                    "amount": major_number(&refund.amount),
                    "currency": refund.amount.currency().code(),
                });
                ("refund.processed", data)
            }
            E::SettlementPaid => {
                let settlement = event.payload.settlement()?;
                let data = json!({
                    "settlement_id": format!("st_{}", settlement.id),
                    "amount": major_number(&settlement.amount),
                    "currency": settlement.amount.currency().code(),
                });
                ("settlement.paid", data)
            }
            E::TestPing => ("test.ping", event.payload.ping_data()?.clone()),
            // The seed's table has no others.
            E::PaymentCreated | E::PaymentPending | E::PaymentCancelled | E::PaymentExpired => return None,
            E::RefundRequested | E::RefundRejected | E::SettlementCreated => return None,
            E::PayoutRequested | E::PayoutProcessed | E::PayoutRejected => return None,
            E::UserCreated | E::UserSuspended => return None,
        };
        let body = serde_json::to_vec(&json!({ "event": name, "data": data })).ok()?;
        Some(Formatted { event_type: name, url, content_type: "application/json", body })
    }

    fn sign(&self, body: &[u8], credential: &Credential) -> Vec<(&'static str, String)> {
        vec![(
            "X-REBORNPAY-Signature",
            format!("sha256={}", hmac_sha256_hex(credential.secret.expose().as_bytes(), body)),
        )]
    }
}
