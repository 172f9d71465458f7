//! The sandbox processor, and the control API QA uses to drive payments without a
//! browser (`POST /sandbox/v1/checkout/{token}/complete`).
//!
//! [`Processor`] is what the hosted checkout and the control API charge through; the
//! sandbox is its only implementation, so real acquirers can be added beside it. It is
//! deterministic — magic test values pick the outcome:
//!
//! | instrument | outcome |
//! |---|---|
//! | card `4000 0000 0000 000C` | pending (the processor decides later: the sandbox API, or the checkout's 3-D Secure challenge page) |
//! | card `4000 0000 0000 NNNC`, NNN a decline code (001–024, 998, 999) | declined with that code and message |
//! | wallet `01700000001` | failed: insufficient balance (005) |
//! | wallet `01700000002` | failed: wrong PIN (006) |
//! | wallet `01700000003` | failed: timed out (013) |
//! | any other valid card or wallet, or none | approved |
//!
//! `C` is the Luhn check digit ([`test_card`] computes the numbers). Every attempt gets a
//! processor transaction id with the method's prefix (`BKS…` for bKash). Nothing secret
//! is kept: a card becomes its brand and last four digits before anything is stored.

pub mod api;
pub mod codes;
pub mod instrument;

use rand::Rng;

use crate::core::{AttemptLog, CheckoutOutcome, Instrument, Payment};
use instrument::{Magic, PaymentInstrument, luhn};

/// A payment processor: turns a customer's instrument into an outcome.
pub trait Processor: Send + Sync {
    /// Charges `instrument` for `payment`.
    fn charge(&self, payment: &Payment, instrument: &PaymentInstrument) -> CheckoutOutcome;
}

/// The deterministic sandbox processor.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sandbox;

/// Wallet numbers with a fixed outcome: (number, code).
pub const TEST_WALLETS: &[(&str, &str)] = &[("01700000001", "005"), ("01700000002", "006"), ("01700000003", "013")];

/// The card number for a magic `NNN` (`000` pending, or a decline code).
pub fn test_card(nnn: &str) -> String {
    let body = format!("400000000000{nnn}");
    let check = (0..10).find(|d| luhn(&format!("{body}{d}"))).unwrap_or(0);
    format!("{body}{check}")
}

/// What a magic card number asks for, if it is one.
pub(crate) fn card_magic(digits: &str) -> Option<Magic> {
    let nnn = digits.strip_prefix("400000000000").filter(|rest| rest.len() == 4)?.get(..3)?;
    if nnn == "000" {
        return Some(Magic::Pending);
    }
    codes::DECLINES.iter().find(|(code, _)| *code == nnn).map(|(code, _)| Magic::Decline(code))
}

/// What a magic wallet number asks for (`+880` and `880` prefixes are ignored).
pub(crate) fn wallet_magic(digits: &str) -> Option<Magic> {
    let national = digits.strip_prefix("88").filter(|d| d.len() == 11).unwrap_or(digits);
    TEST_WALLETS.iter().find(|(number, _)| *number == national).map(|(_, code)| Magic::Decline(code))
}

impl Processor for Sandbox {
    fn charge(&self, payment: &Payment, instrument: &PaymentInstrument) -> CheckoutOutcome {
        let method = method_of(payment, instrument);
        let described = instrument.describe(&method);
        let magic = match instrument {
            PaymentInstrument::Card(card) => card.magic,
            PaymentInstrument::Wallet(wallet) => wallet.magic,
            PaymentInstrument::None => None,
        };
        let rule = match magic {
            Some(Magic::Pending) => {
                let attempt = AttemptLog { code: "pending".into(), message: "Awaiting the card issuer".into() };
                return CheckoutOutcome::Pending {
                    processor_txn_id: transaction_id(&method),
                    method,
                    instrument: described,
                    attempt,
                };
            }
            Some(Magic::Decline(code)) => Some(code),
            None => None,
        };
        match rule {
            Some(code) => CheckoutOutcome::Declined {
                processor_txn_id: Some(transaction_id(&method)),
                method: Some(method),
                instrument: described,
                attempt: codes::attempt(code),
            },
            None => {
                CheckoutOutcome::Approved { processor_txn_id: transaction_id(&method), method, instrument: described }
            }
        }
    }
}

impl Sandbox {
    /// A decline the caller asked for (the control API's `failed`).
    pub fn decline(&self, payment: &Payment, instrument: &PaymentInstrument) -> CheckoutOutcome {
        let method = method_of(payment, instrument);
        CheckoutOutcome::Declined {
            processor_txn_id: Some(transaction_id(&method)),
            instrument: instrument.describe(&method),
            method: Some(method),
            attempt: codes::attempt("999"),
        }
    }
}

/// The method a charge uses: a card is `card`; a wallet the wallet method the payment
/// was created with, or bKash; nothing given, the payment's method so far (a pending
/// card payment decided later stays a card payment), or bKash.
fn method_of(payment: &Payment, instrument: &PaymentInstrument) -> String {
    match instrument {
        PaymentInstrument::Card(_) => "card".to_owned(),
        PaymentInstrument::Wallet(_) => {
            payment.method.clone().filter(|m| m != "card").unwrap_or_else(|| "bkash".to_owned())
        }
        PaymentInstrument::None => payment.method.clone().unwrap_or_else(|| "bkash".to_owned()),
    }
}

/// A processor transaction id: the method's prefix and nine digits (`BKS123456789`).
pub fn transaction_id(method: &str) -> String {
    let prefix = match method {
        "bkash" => "BKS",
        "nagad" => "NGD",
        "rocket" => "RKT",
        "upay" => "UPY",
        "upi" => "UPI",
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

    #[test]
    fn test_cards_follow_the_documented_rule() {
        assert_eq!(test_card("005"), "4000000000000051");
        for (code, _) in codes::DECLINES {
            let card = test_card(code);
            assert!(luhn(&card), "{card}");
            assert_eq!(card_magic(&card), Some(Magic::Decline(code)));
        }
        assert_eq!(card_magic(&test_card("000")), Some(Magic::Pending));
        assert_eq!(card_magic(&test_card("500")), None, "not a decline code: approves");
        assert_eq!(card_magic("4242424242424242"), None);
        assert_eq!(wallet_magic("8801700000002"), Some(Magic::Decline("006")));
        assert_eq!(wallet_magic("01711000000"), None);
    }
}
