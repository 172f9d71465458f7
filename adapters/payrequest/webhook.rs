//! The server-to-server notification of PayRequest's later API, which its WHMCS module
//! waits for before it marks an invoice paid: when a create gave `callback`, a
//! `POST application/x-www-form-urlencoded` there once the payment is paid or failed
//! (declined, cancelled or expired — what `get` calls `failed`), with
//!
//! `status` (`PAID` or `FAILED`), `id`, `title` (exactly as given: WHMCS finds its
//! invoice by it), `link` (the URL the first create answered — the payment link, or the
//! checkout for `type` direct — the same on every repeat: WHMCS keeps it as the
//! transaction id), `amount` (major units at the
//! currency's precision), `response` (md5("success"|"failed" + id), as on the return
//! redirect) and `return_id` (md5(token + id)).
//!
//! PayRequest signs nothing; `response` and `return_id` are what a handler can check.
//! Beware that PayRequest's WHMCS module books an invoice on any non-empty `status`,
//! `FAILED` included.

use super::types::Kept;
use super::{Proof, link_path};

use crate::adapters::{Formatted, WebhookDialect};
use crate::core::{Credential, Event, EventType as E, Merchant, Payment};

/// PayRequest's formatter.
pub struct Webhooks;

/// The callback's fields, in the order above; `None` while `payment` is undecided.
pub fn fields(payment: &Payment, credential: &Credential) -> Option<Vec<(&'static str, String)>> {
    let proof = Proof::of(payment, credential)?;
    let kept: Option<Kept> = payment.metadata.clone().and_then(|m| serde_json::from_value(m).ok());
    // Payments created before these were kept have no callback, but say something.
    let (title, link) = match kept {
        Some(kept) => (kept.title, format!("{}{}", kept.link_prefix, payment.checkout_token)),
        None => (payment.description.clone().unwrap_or_default(), link_path(&payment.checkout_token)),
    };
    let amount = crate::core::money::major_at_precision(payment.amount.minor(), payment.amount.currency());
    Some(vec![
        ("status", if proof.paid { "PAID" } else { "FAILED" }.to_owned()),
        ("id", payment.reference.clone()),
        ("title", title),
        ("link", link),
        ("amount", amount.to_string()),
        ("response", proof.response),
        ("return_id", proof.return_id),
    ])
}

impl WebhookDialect for Webhooks {
    fn format(&self, event: &Event, _merchant: &Merchant, credential: &Credential) -> Option<Formatted> {
        let name = match event.kind {
            E::PaymentSucceeded => "payment.paid",
            E::PaymentFailed | E::PaymentCancelled | E::PaymentExpired => "payment.failed",
            // Only the decision is called back (WHMCS books an invoice on any status).
            E::PaymentCreated | E::PaymentProcessing | E::PaymentPending => return None,
            E::RefundRequested | E::RefundSucceeded | E::RefundRejected => return None,
            E::SettlementCreated | E::SettlementPaid => return None,
            E::PayoutRequested | E::PayoutProcessed | E::PayoutRejected => return None,
            E::UserCreated | E::UserSuspended | E::TestPing => return None,
        };
        let payment = event.payload.payment()?;
        let url = payment.urls.notify.clone()?;
        let body = serde_urlencoded::to_string(fields(payment, credential)?).ok()?.into_bytes();
        Some(Formatted { event_type: name, url, content_type: "application/x-www-form-urlencoded", body })
    }

    /// The token the payment was created with: `return_id` is computed from it.
    fn signer<'a>(&self, event: &Event, credentials: &[&'a Credential]) -> Option<&'a Credential> {
        crate::adapters::creator_of(event, credentials)
    }

    fn sign(&self, _body: &[u8], _credential: &Credential) -> Vec<(&'static str, String)> {
        Vec::new()
    }
}
