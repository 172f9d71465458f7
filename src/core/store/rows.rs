//! Row → canonical type conversions. A row that does not convert is corrupt data and
//! becomes [`CoreError::Internal`], never a panic.

use super::entities::{credential, merchant, payment, payout, refund, settlement};
use crate::core::error::CoreError;
use crate::core::money::{Currency, Money};
use crate::core::types::{
    AttemptLog, CaptureMode, Credential, Decline, DeclinedBy, Dialect, Merchant, MerchantStatus, Payment,
    PaymentStatus, Payout, PayoutStatus, Refund, RefundStatus, Settlement, SettlementStatus,
};

fn corrupt(what: &str, value: &str) -> CoreError {
    CoreError::Internal(format!("stored {what} {value:?} is not valid"))
}

fn parse<T>(what: &str, value: &str, f: impl Fn(&str) -> Option<T>) -> Result<T, CoreError> {
    f(value).ok_or_else(|| corrupt(what, value))
}

fn json<T: serde::de::DeserializeOwned>(what: &str, value: serde_json::Value) -> Result<T, CoreError> {
    serde_json::from_value(value).map_err(|e| corrupt(what, &e.to_string()))
}

/// Rebuilds stored money.
pub(crate) fn money(minor: i64, currency: &str) -> Result<Money, CoreError> {
    let currency = parse("currency", currency, Currency::parse)?;
    Money::from_minor(minor, currency).map_err(|_| corrupt("amount", &minor.to_string()))
}

/// A payment row.
pub(crate) fn payment(row: payment::Model) -> Result<Payment, CoreError> {
    let reason = row.attempt_reason.as_deref().map(|r| parse("decline reason", r, Decline::parse)).transpose()?;
    let declined_by = row.declined_by.as_deref().map(|b| parse("declined by", b, DeclinedBy::parse)).transpose()?;
    let last_attempt = match (row.attempt_code, row.attempt_message) {
        (Some(code), Some(message)) => Some(AttemptLog { code, message, reason, declined_by }),
        _ => None,
    };
    Ok(Payment {
        id: row.id,
        merchant_id: row.merchant_id,
        namespace: parse("namespace", &row.namespace, Dialect::parse)?,
        amount: money(row.amount, &row.currency)?,
        reference: row.reference,
        status: parse("payment status", &row.status, PaymentStatus::parse)?,
        capture_mode: parse("capture mode", &row.capture_mode, CaptureMode::parse)?,
        method: row.method,
        description: row.description,
        customer: json("customer", row.customer)?,
        metadata: row.metadata,
        urls: json("urls", row.urls)?,
        checkout_token: row.checkout_token,
        processor_txn_id: row.processor_txn_id,
        instrument: row.instrument.map(|i| json("instrument", i)).transpose()?,
        last_attempt,
        fee: row.fee,
        created_at: row.created_at,
        updated_at: row.updated_at,
        expires_at: row.expires_at,
        authorized_at: row.authorized_at,
        captured_at: row.captured_at,
        created_by: row.created_by,
    })
}

/// A refund row; `payment_reference` comes from its payment.
pub(crate) fn refund(row: refund::Model, payment_reference: String) -> Result<Refund, CoreError> {
    Ok(Refund {
        id: row.id,
        payment_id: row.payment_id,
        payment_reference,
        merchant_id: row.merchant_id,
        amount: money(row.amount, &row.currency)?,
        fee_returned: row.fee,
        status: parse("refund status", &row.status, RefundStatus::parse)?,
        reason: row.reason,
        note: row.note,
        created_at: row.created_at,
        decided_at: row.decided_at,
    })
}

/// A payout row.
pub(crate) fn payout(row: payout::Model) -> Result<Payout, CoreError> {
    Ok(Payout {
        id: row.id,
        merchant_id: row.merchant_id,
        created_by: row.created_by,
        namespace: parse("namespace", &row.namespace, Dialect::parse)?,
        amount: money(row.amount, &row.currency)?,
        status: parse("payout status", &row.status, PayoutStatus::parse)?,
        destination: row.destination,
        reference: row.reference,
        note: row.note,
        created_at: row.created_at,
        decided_at: row.decided_at,
    })
}

/// A settlement row.
pub(crate) fn settlement(row: settlement::Model) -> Result<Settlement, CoreError> {
    Ok(Settlement {
        id: row.id,
        merchant_id: row.merchant_id,
        amount: money(row.amount, &row.currency)?,
        status: parse("settlement status", &row.status, SettlementStatus::parse)?,
        created_at: row.created_at,
        paid_at: row.paid_at,
    })
}

/// A merchant row.
pub(crate) fn merchant(row: merchant::Model) -> Result<Merchant, CoreError> {
    Ok(Merchant {
        id: row.id,
        status: parse("merchant status", &row.status, MerchantStatus::parse)?,
        name: row.name,
        webhook_url: row.webhook_url,
        ip_allowlist: json("ip allow-list", row.ip_allowlist)?,
        rate_limit_per_minute: u32::try_from(row.rate_limit_per_minute)
            .map_err(|_| corrupt("rate limit", &row.rate_limit_per_minute.to_string()))?,
        default_currency: row.default_currency,
        created_at: row.created_at,
    })
}

/// A credential row.
pub(crate) fn credential(row: credential::Model) -> Result<Credential, CoreError> {
    let dialect = parse("dialect", &row.dialect, Dialect::parse)?;
    Ok(Credential {
        id: row.id,
        merchant_id: row.merchant_id,
        dialect,
        key_id: row.key_id,
        secret: row.secret.into(),
        role: row.role,
        label: row.label,
        settings: crate::core::DialectSettings::stored(dialect, &row.extra)?,
        require_signature: row.require_signature,
        active: row.status == "active",
    })
}
