//! The sandbox processor, and the control API QA uses to drive payments without a
//! browser (`POST /sandbox/v1/checkout/{token}/complete`).
//!
//! [`Processor`] is what the hosted checkout and the control API charge through; the
//! sandbox is its only implementation, so real acquirers can be added beside it. The
//! sandbox records a processor transaction id per method (`BKS…` for bKash, `NGD…`
//! for Nagad, `CRD…` for cards) and keeps nothing secret: a card becomes its brand and
//! last four digits before anything is stored.
//!
//! Magic test values that pick outcomes by card or wallet number are issue 4's; today
//! the control API names the outcome and the sandbox approves every valid instrument.

pub mod api;
pub mod instrument;

use rand::Rng;

use crate::core::{AttemptLog, CheckoutOutcome, Instrument, Payment};
use instrument::PaymentInstrument;

/// A payment processor: turns a customer's instrument into an outcome.
pub trait Processor: Send + Sync {
    /// Charges `instrument` for `payment`.
    fn charge(&self, payment: &Payment, instrument: &PaymentInstrument) -> CheckoutOutcome;
}

/// The deterministic sandbox processor.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sandbox;

impl Processor for Sandbox {
    fn charge(&self, payment: &Payment, instrument: &PaymentInstrument) -> CheckoutOutcome {
        let method = method_of(payment, instrument);
        CheckoutOutcome::Approved {
            processor_txn_id: transaction_id(&method),
            instrument: instrument.describe(&method),
            method,
        }
    }
}

impl Sandbox {
    /// A decline as the processor would report it.
    pub fn decline(&self, payment: &Payment, instrument: &PaymentInstrument, attempt: AttemptLog) -> CheckoutOutcome {
        let method = method_of(payment, instrument);
        CheckoutOutcome::Declined {
            processor_txn_id: Some(transaction_id(&method)),
            instrument: instrument.describe(&method),
            method: Some(method),
            attempt,
        }
    }
}

/// The method a charge uses: a card is `card`; otherwise the method the payment was
/// created with, or bKash.
fn method_of(payment: &Payment, instrument: &PaymentInstrument) -> String {
    match instrument {
        PaymentInstrument::Card(_) => "card".to_owned(),
        PaymentInstrument::Wallet(_) | PaymentInstrument::None => {
            payment.method.clone().filter(|m| m != "card").unwrap_or_else(|| "bkash".to_owned())
        }
    }
}

/// A processor transaction id: the method's prefix and nine digits (`BKS123456789`).
pub fn transaction_id(method: &str) -> String {
    let prefix = match method {
        "bkash" => "BKS",
        "nagad" => "NGD",
        "rocket" => "RKT",
        "upay" => "UPY",
        "card" => "CRD",
        _ => "TXN",
    };
    format!("{prefix}{:09}", rand::rng().random_range(0..1_000_000_000u32))
}

/// What the customer paid with, for the record: brand and last four only.
pub fn describe(kind: &str, brand: &str, last4: &str) -> Instrument {
    Instrument { kind: kind.to_owned(), brand: Some(brand.to_owned()), last4: Some(last4.to_owned()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_ids_carry_the_method_prefix() {
        let id = transaction_id("bkash");
        assert!(id.starts_with("BKS") && id.len() == 12 && id[3..].chars().all(|c| c.is_ascii_digit()), "{id}");
        assert!(transaction_id("card").starts_with("CRD"));
    }
}
