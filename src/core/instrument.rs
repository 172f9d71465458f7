//! Payment instruments as a processor receives them: validated, with what a processor
//! needs to charge them (a card's number, expiry and CVV) held in memory only, and
//! [`PaymentInstrument::describe`] reducing them to what may be kept — a card's brand
//! and last four digits, a wallet's last four digits. `Debug` never shows a number or a
//! CVV; nothing here is stored, logged or returned.

use chrono::{Datelike, Utc};

use super::{FieldIssue, Instrument};

/// A validated instrument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentInstrument {
    /// A card.
    Card(Card),
    /// A mobile wallet (bKash, Nagad…).
    Wallet(Wallet),
    /// Nothing given (the sandbox control API driving an outcome directly).
    None,
}

/// A card.
#[derive(Clone, PartialEq, Eq)]
pub struct Card {
    number: String,
    cvv: String,
    /// Expiry month (1–12).
    pub expiry_month: u32,
    /// Expiry year (four digits).
    pub expiry_year: i32,
    /// visa, mastercard, amex or card.
    pub brand: &'static str,
    /// Last four digits.
    pub last4: String,
}

impl std::fmt::Debug for Card {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Card").field("brand", &self.brand).field("last4", &self.last4).finish_non_exhaustive()
    }
}

/// A wallet account.
#[derive(Clone, PartialEq, Eq)]
pub struct Wallet {
    number: String,
    /// Last four digits.
    pub last4: String,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wallet").field("last4", &self.last4).finish_non_exhaustive()
    }
}

impl PaymentInstrument {
    /// The record kept on the payment (`method` names a wallet's provider).
    pub fn describe(&self, method: &str) -> Option<Instrument> {
        let record = |kind: &str, brand: &str, last4: &str| Instrument {
            kind: kind.to_owned(),
            brand: Some(brand.to_owned()),
            last4: Some(last4.to_owned()),
        };
        match self {
            PaymentInstrument::Card(card) => Some(record("card", card.brand, &card.last4)),
            PaymentInstrument::Wallet(wallet) => Some(record("wallet", method, &wallet.last4)),
            PaymentInstrument::None => None,
        }
    }
}

impl Card {
    /// Validates a card number (Luhn), expiry (`MM/YY`, not past) and CVV; `prefix`
    /// names the fields in the issues (`card.`).
    pub fn parse(number: &str, expiry: &str, cvv: &str, prefix: &str) -> Result<Card, Vec<FieldIssue>> {
        let mut issues = Vec::new();
        let digits: String = number.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if !(12..=19).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) || !luhn(&digits) {
            issues.push(FieldIssue::new(format!("{prefix}number"), "is not a valid card number"));
        }
        if !expiry_in_future(expiry) {
            issues.push(FieldIssue::new(format!("{prefix}expiry"), "must be MM/YY and not in the past"));
        }
        if !(3..=4).contains(&cvv.len()) || !cvv.chars().all(|c| c.is_ascii_digit()) {
            issues.push(FieldIssue::new(format!("{prefix}cvv"), "must be 3 or 4 digits"));
        }
        if !issues.is_empty() {
            return Err(issues);
        }
        let (expiry_month, expiry_year) = expiry_parts(expiry).unwrap_or_default();
        Ok(Card {
            brand: brand(&digits),
            last4: digits[digits.len() - 4..].to_owned(),
            number: digits,
            cvv: cvv.to_owned(),
            expiry_month,
            expiry_year,
        })
    }

    /// The card number's digits, for the processor alone.
    pub fn number(&self) -> &str {
        &self.number
    }

    /// The CVV, for the processor alone.
    pub fn cvv(&self) -> &str {
        &self.cvv
    }
}

impl Wallet {
    /// Validates a wallet phone number; keeps its last four digits.
    pub fn parse(phone: &str, field: &str) -> Result<Wallet, Vec<FieldIssue>> {
        let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        let allowed = phone.chars().all(|c| c.is_ascii_digit() || " +-".contains(c));
        if !allowed || !(6..=15).contains(&digits.len()) {
            return Err(vec![FieldIssue::new(field, "must be a phone number")]);
        }
        Ok(Wallet { last4: digits[digits.len() - 4..].to_owned(), number: digits })
    }

    /// The wallet number's digits, for the processor alone.
    pub fn number(&self) -> &str {
        &self.number
    }
}

/// The Luhn check digit test.
pub fn luhn(digits: &str) -> bool {
    let mut sum = 0;
    for (i, c) in digits.chars().rev().enumerate() {
        let Some(mut d) = c.to_digit(10) else { return false };
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

fn brand(digits: &str) -> &'static str {
    let two: u32 = digits[..2].parse().unwrap_or(0);
    let four: u32 = digits[..4].parse().unwrap_or(0);
    match () {
        _ if digits.starts_with('4') => "visa",
        _ if (51..=55).contains(&two) || (2221..=2720).contains(&four) => "mastercard",
        _ if two == 34 || two == 37 => "amex",
        _ => "card",
    }
}

/// `MM/YY` as (month, four-digit year).
fn expiry_parts(expiry: &str) -> Option<(u32, i32)> {
    let (mm, yy) = expiry.trim().split_once('/')?;
    let (month, year) = (mm.trim().parse::<u32>().ok()?, yy.trim().parse::<i32>().ok()?);
    ((1..=12).contains(&month) && yy.trim().len() == 2).then_some((month, 2000 + year))
}

fn expiry_in_future(expiry: &str) -> bool {
    let now = Utc::now();
    expiry_parts(expiry).is_some_and(|(month, year)| (year, month) >= (now.year(), now.month()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_test_cards_and_rejects_typos() {
        assert!(luhn("4242424242424242"));
        assert!(luhn("5555555555554444"));
        assert!(!luhn("4242424242424241"));
    }

    #[test]
    fn cards_keep_only_brand_and_last_four() {
        let card = Card::parse("4242 4242 4242 4242", "12/99", "123", "card.").unwrap();
        assert_eq!((card.brand, card.last4.as_str(), card.number()), ("visa", "4242", "4242424242424242"));
        let shown = format!("{card:?}");
        assert!(!shown.contains("424242424242") && !shown.contains("123"), "{shown}");
        let issues = Card::parse("4242424242424241", "13/20", "12", "card.").unwrap_err();
        let fields: Vec<_> = issues.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(fields, ["card.number", "card.expiry", "card.cvv"]);
    }

    #[test]
    fn past_expiry_is_refused() {
        assert!(!expiry_in_future("01/20"));
        assert!(expiry_in_future("12/99"));
    }
}
