//! QR Money's notifications: `POST application/x-www-form-urlencoded` to the payment's
//! `notifyUrl` once a payment request is decided —
//! approved, declined, cancelled or expired — with every field of the seed's table, in
//! its order:
//!
//! `id, transactionId, transactionStatusId, paymentRequestStatusId, merchantId, unit,
//! grossAmount, fee, netAmount, referenceId, notes, clientId, clientName, clientEmail,
//! clientPhone, clientMemberId, message, code` — then `paymentRequestStatus`, the same
//! value as `paymentRequestStatusId`, under the name the public C# client reads.
//!
//! Status ids as the status endpoint reports them (see `types`); amounts in major
//! units at the unit's precision, the fee the capture posted to the ledger (fee and net
//! are zero unless the payment was approved); `message` and
//! `code` name a failure's reason and are empty for an approval; `clientId` is a
//! stable identifier of the payer's email at this merchant; `clientMemberId` is empty
//! (paybridge has no member accounts). The header `X-Signature` is
//! Base64(UTF-8 bytes of the lowercase hex HMAC-SHA512 of the raw body, keyed with the
//! API key) — DIALECTS.md; the encoding is the one the public C# client checks.

use base64::Engine;
use sha2::Digest;

use super::types::{TransactionStatus, meta_text, status_ids};
use crate::adapters::{Formatted, WebhookDialect};
use crate::core::{Credential, Event, EventType as E, Merchant, Payment};

/// QR Money's formatter and signer.
pub struct Webhooks;

/// An amount at its unit's precision (`10.50`, `0.00`, `0.00100000`).
fn major_text(minor: i64, unit: crate::core::Currency) -> String {
    crate::core::money::major_at_precision(minor, unit).to_string()
}

/// A stable identifier of a payer at a merchant: the first 16 hex digits of
/// SHA-256(merchant id, lower-case email).
fn client_id(payment: &Payment) -> String {
    let email = payment.customer.email.as_deref().unwrap_or_default().to_ascii_lowercase();
    let digest = sha2::Sha256::digest(format!("{}:{email}", payment.merchant_id).as_bytes());
    hex::encode(digest)[..16].to_owned()
}

/// The notification's fields, in the seed's order.
pub fn fields(payment: &Payment, credential: &Credential) -> Vec<(&'static str, String)> {
    let (request_status, transaction_status, last_log) = status_ids(payment);
    let unit = payment.amount.currency();
    // Only an approved payment deposits anything: a decline's fee and net are zero.
    let approved = transaction_status == TransactionStatus::Approved;
    let fee = if approved { payment.fee } else { 0 };
    let net = if approved { payment.amount.minor() - fee } else { 0 };
    let (message, code) = match transaction_status {
        TransactionStatus::Declined => (last_log.message, last_log.code.unwrap_or_default()),
        TransactionStatus::Waiting | TransactionStatus::Approved | TransactionStatus::Pending => {
            (String::new(), String::new())
        }
    };
    let text = |value: Option<String>| value.unwrap_or_default();
    let merchant_id = credential.settings.qrmoney().map(|s| s.merchant_id.as_str()).unwrap_or_default();
    vec![
        ("id", payment.id.to_string()),
        ("transactionId", payment.id.to_string()),
        ("transactionStatusId", transaction_status.id().to_string()),
        ("paymentRequestStatusId", request_status.id().to_string()),
        ("merchantId", merchant_id.to_owned()),
        ("unit", unit.code().to_owned()),
        ("grossAmount", major_text(payment.amount.minor(), unit)),
        ("fee", major_text(fee, unit)),
        ("netAmount", major_text(net, unit)),
        ("referenceId", text(meta_text(payment, &["referenceId"]))),
        ("notes", text(meta_text(payment, &["notes"]))),
        ("clientId", client_id(payment)),
        ("clientName", text(payment.customer.name.clone())),
        ("clientEmail", text(payment.customer.email.clone())),
        ("clientPhone", text(payment.customer.phone.clone())),
        ("clientMemberId", String::new()),
        ("message", message),
        ("code", code),
        // Not in the seed's table: the public C# client reads this name.
        ("paymentRequestStatus", request_status.id().to_string()),
    ]
}

/// The `X-Signature` of `body` under `api_key`.
pub fn signature(api_key: &str, body: &[u8]) -> String {
    let hex = crate::crypto::hmac_sha512_hex(api_key.as_bytes(), body);
    base64::engine::general_purpose::STANDARD.encode(hex.as_bytes())
}

impl WebhookDialect for Webhooks {
    fn format(&self, event: &Event, _merchant: &Merchant, credential: &Credential) -> Option<Formatted> {
        let name = match event.kind {
            E::PaymentSucceeded => "payment.approved",
            E::PaymentFailed => "payment.declined",
            E::PaymentCancelled => "payment.cancelled",
            E::PaymentExpired => "payment.expired",
            // The seed notifies a decided payment request only.
            E::PaymentCreated | E::PaymentProcessing | E::PaymentPending => return None,
            E::RefundRequested | E::RefundSucceeded | E::RefundRejected => return None,
            E::SettlementCreated | E::SettlementPaid => return None,
            E::PayoutRequested | E::PayoutProcessed | E::PayoutRejected => return None,
            E::UserCreated | E::UserSuspended | E::TestPing => return None,
        };
        let payment = event.payload.payment()?;
        let url = payment.urls.notify.clone()?;
        let body = serde_urlencoded::to_string(fields(payment, credential)).ok()?.into_bytes();
        Some(Formatted { event_type: name, url, content_type: "application/x-www-form-urlencoded", body })
    }

    /// The account (API key) the payment was made through: its merchant id, fee and key
    /// belong in the notification, whatever other QR Money accounts the merchant has.
    fn signer<'a>(&self, event: &Event, credentials: &[&'a Credential]) -> Option<&'a Credential> {
        crate::adapters::creator_of(event, credentials)
    }

    fn sign(&self, body: &[u8], credential: &Credential) -> Vec<(&'static str, String)> {
        vec![("X-Signature", signature(credential.secret.expose(), body))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected value computed with Python: base64(hmac.new(key, body, sha512).hexdigest()).
    #[test]
    fn signature_is_base64_of_the_hex_hmac_sha512() {
        assert_eq!(
            signature("qr_test_demo", b"id=1&transactionStatusId=1"),
            "MGQ1ODY5MWU5N2RiYmIzMWU5YmYwOTViNDQ5NDc0MDRkNDhkOGQ3YzJmZjJiYjAwZTYwYzcwMTgyZjhhMWRlMjI4NjgwOWEwNTg4ZDhjN2M1Y2UwYzhjYWQ4ZDNmOGVmYmVhZjE4ZTNkYWNmYzM2MWJhODM4NTg0OTc1ZjQ4OTY="
        );
    }

    #[test]
    fn amounts_keep_the_units_precision() {
        let usd = crate::core::Currency::parse("USD").unwrap();
        let btc = crate::core::Currency::parse("BTC").unwrap();
        assert_eq!(major_text(1050, usd), "10.50");
        assert_eq!(major_text(100_000, btc), "0.00100000");
        assert_eq!((major_text(0, usd), major_text(0, btc)), ("0.00".to_owned(), "0.00000000".to_owned()));
    }
}
