//! The sandbox processor, and the control API QA uses to drive payments without a
//! browser (`POST /sandbox/v1/checkout/{token}/complete`).
//!
//! [`Sandbox`] is the [`Processor`] paybridge's own binary gives the core: every charge
//! — host-to-host, the hosted checkout, its 3-D Secure challenge, this control API —
//! reaches it through the core. It is deterministic — magic test values pick the
//! outcome, its response codes ([`DECLINES`]) numbered like QR Money's so a QR Money
//! integration sees the code it asked for:
//!
//! | instrument | outcome |
//! |---|---|
//! | card `4000 0000 0000 000C` | pending (the processor decides later: the sandbox API, or the checkout's 3-D Secure challenge page) |
//! | card `4000 0000 0000 NNNC`, NNN a response code of [`DECLINES`] (001–024, 998, 999) | declined with that code and its reason |
//! | wallet `01700000001` | failed: insufficient balance (005) |
//! | wallet `01700000002` | failed: wrong PIN (006) |
//! | wallet `01700000003` | failed: timed out (013) |
//! | any other valid card or wallet, or none | approved |
//!
//! `C` is the Luhn check digit ([`test_card`] computes the numbers). Every attempt gets a
//! processor transaction id with the method's prefix (`BKS…` for bKash). The sandbox reads a
//! card's number only to find its magic; the core keeps its brand and last four digits.

pub mod api;

use rand::Rng;

use crate::core::{Decline, Payment, PaymentInstrument, Processor, ProcessorError, Verdict};

/// The deterministic sandbox processor.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sandbox;

/// The sandbox's response codes: the `NNN` of a magic card, and what it declines with.
pub const DECLINES: &[(&str, Decline)] = &[
    ("001", Decline::BankError),
    ("002", Decline::InvalidCard),
    ("003", Decline::CardRestricted),
    ("004", Decline::AuthenticationFailed),
    ("005", Decline::InsufficientFunds),
    ("006", Decline::IncorrectSecurityCode),
    ("007", Decline::RiskControl),
    ("008", Decline::UnsupportedCard),
    ("009", Decline::InvalidEmail),
    ("010", Decline::InvalidPostalCode),
    ("011", Decline::CredentialsRefused),
    ("012", Decline::Cancelled),
    ("013", Decline::AuthenticationTimeout),
    ("014", Decline::OriginBlocked),
    ("015", Decline::CallbackNotAllowed),
    ("016", Decline::EmailBlocked),
    ("017", Decline::CardBlocked),
    ("018", Decline::AboveMaxAmount),
    ("019", Decline::BelowMinAmount),
    ("020", Decline::CurrencyNotAllowed),
    ("021", Decline::DailyCountExceeded),
    ("022", Decline::MonthlyCountExceeded),
    ("023", Decline::DailyTotalExceeded),
    ("024", Decline::MonthlyTotalExceeded),
    ("998", Decline::ProcessorError),
    ("999", Decline::IssuerDeclined),
];

/// Wallet numbers with a fixed outcome: (number, response code).
pub const TEST_WALLETS: &[(&str, &str)] = &[("01700000001", "005"), ("01700000002", "006"), ("01700000003", "013")];

/// What a sandbox test number asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Magic {
    /// The processor has not decided yet.
    Pending,
    /// Declined with this response code and reason.
    Decline(&'static str, Decline),
}

/// The card number for a magic `NNN` (`000` pending, or a decline code).
pub fn test_card(nnn: &str) -> String {
    let body = format!("400000000000{nnn}");
    let check = (0..10).find(|d| crate::core::instrument::luhn(&format!("{body}{d}"))).unwrap_or(0);
    format!("{body}{check}")
}

fn decline_of(code: &str) -> Option<Magic> {
    DECLINES.iter().find(|(c, _)| *c == code).map(|(c, reason)| Magic::Decline(c, *reason))
}

/// What a magic card number asks for, if it is one.
pub fn card_magic(digits: &str) -> Option<Magic> {
    let nnn = digits.strip_prefix("400000000000").filter(|rest| rest.len() == 4)?.get(..3)?;
    if nnn == "000" {
        return Some(Magic::Pending);
    }
    decline_of(nnn)
}

/// What a magic wallet number asks for (`+880` and `880` prefixes are ignored).
pub fn wallet_magic(digits: &str) -> Option<Magic> {
    let national = digits.strip_prefix("88").filter(|d| d.len() == 11).unwrap_or(digits);
    TEST_WALLETS.iter().find(|(number, _)| *number == national).and_then(|(_, code)| decline_of(code))
}

#[async_trait::async_trait]
impl Processor for Sandbox {
    async fn charge(&self, payment: &Payment, instrument: &PaymentInstrument) -> Result<Verdict, ProcessorError> {
        let method = method_of(payment, instrument);
        let magic = match instrument {
            PaymentInstrument::Card(card) => card_magic(card.number()),
            PaymentInstrument::Wallet(wallet) => wallet_magic(wallet.number()),
            PaymentInstrument::None => None,
        };
        let processor_txn_id = transaction_id(&method);
        Ok(match magic {
            Some(Magic::Pending) => {
                Verdict::Pending { processor_txn_id, method, message: "Awaiting the card issuer".into() }
            }
            Some(Magic::Decline(code, reason)) => {
                Verdict::Declined { processor_txn_id: Some(processor_txn_id), method, reason, code: code.to_owned() }
            }
            None => Verdict::Approved { processor_txn_id, method },
        })
    }

    /// Passed: approved; failed: declined `004` (3-D Secure), on the transaction the
    /// charge started.
    async fn authenticate(&self, payment: &Payment, passed: bool) -> Result<Verdict, ProcessorError> {
        let method = payment.method.clone().unwrap_or_else(|| "card".to_owned());
        let processor_txn_id = payment.processor_txn_id.clone().unwrap_or_else(|| transaction_id(&method));
        Ok(match passed {
            true => Verdict::Approved { processor_txn_id, method },
            false => Verdict::Declined {
                processor_txn_id: Some(processor_txn_id),
                method,
                reason: Decline::AuthenticationFailed,
                code: "004".into(),
            },
        })
    }
}

/// A decline the caller asked for (the control API's `failed`): `999`.
pub fn forced_decline(payment: &Payment, instrument: &PaymentInstrument) -> crate::core::CheckoutOutcome {
    declined_with(payment, instrument, "999", Decline::IssuerDeclined)
}

/// A decline with one of the sandbox's response codes ([`DECLINES`]), or `None` for a
/// code it does not have.
pub fn decline_by_code(
    payment: &Payment,
    instrument: &PaymentInstrument,
    code: &str,
) -> Option<crate::core::CheckoutOutcome> {
    let Some(Magic::Decline(code, reason)) = decline_of(code) else { return None };
    Some(declined_with(payment, instrument, code, reason))
}

fn declined_with(
    payment: &Payment,
    instrument: &PaymentInstrument,
    code: &str,
    reason: Decline,
) -> crate::core::CheckoutOutcome {
    let method = method_of(payment, instrument);
    crate::core::CheckoutOutcome::Declined {
        processor_txn_id: Some(transaction_id(&method)),
        instrument: instrument.describe(&method),
        method: Some(method),
        attempt: crate::core::AttemptLog::declined(reason, code, crate::core::DeclinedBy::Processor),
    }
}

/// Drives an open checkout to `outcome`, as the control API does (and the dashboard's
/// sandbox actions): `success` pays with `instrument` (a payment awaiting its issuer is
/// approved as its challenge would be), `failed` declines with `decline` (a response
/// code of [`DECLINES`]; `999` when none).
pub async fn drive(
    gateway: &crate::core::ProcessorGateway,
    payment: &Payment,
    outcome: api::Outcome,
    instrument: PaymentInstrument,
    decline: Option<&str>,
) -> Result<Payment, crate::core::CoreError> {
    use crate::core::{CheckoutOutcome, CoreError, PaymentStatus};
    let token = payment.checkout_token.as_str();
    match outcome {
        api::Outcome::Success if payment.status == PaymentStatus::AwaitingProcessor => {
            gateway.complete_authentication(token, true).await
        }
        api::Outcome::Success => gateway.pay_checkout(token, instrument, None).await,
        api::Outcome::Failed => {
            let declined = match decline {
                Some(code) => decline_by_code(payment, &instrument, code)
                    .ok_or_else(|| CoreError::invalid("decline", "is not one of the sandbox's response codes"))?,
                None => forced_decline(payment, &instrument),
            };
            gateway.complete_checkout(token, declined).await
        }
        api::Outcome::Cancelled => gateway.complete_checkout(token, CheckoutOutcome::Cancelled).await,
        api::Outcome::Expired => gateway.complete_checkout(token, CheckoutOutcome::Expired).await,
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
        for (code, reason) in DECLINES {
            let card = test_card(code);
            assert!(crate::core::instrument::luhn(&card), "{card}");
            assert_eq!(card_magic(&card), Some(Magic::Decline(code, *reason)));
        }
        assert_eq!(card_magic(&test_card("000")), Some(Magic::Pending));
        assert_eq!(card_magic(&test_card("500")), None, "not a decline code: approves");
        assert_eq!(card_magic("4242424242424242"), None);
        assert_eq!(wallet_magic("8801700000002"), Some(Magic::Decline("006", Decline::IncorrectSecurityCode)));
        assert_eq!(wallet_magic("01711000000"), None);
    }
}
