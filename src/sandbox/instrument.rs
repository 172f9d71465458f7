//! Payment instruments as the processor receives them, validated and reduced at once to
//! what may be kept: a card's brand and last four digits, a wallet's last four digits.
//! The card number and CVV are never stored, logged or returned.

use chrono::{Datelike, Utc};

use crate::core::{FieldIssue, Instrument};

/// A validated instrument with its secrets already dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentInstrument {
    /// A card.
    Card(Card),
    /// A mobile wallet (bKash, Nagad…).
    Wallet(Wallet),
    /// Nothing given (the control API driving an outcome directly).
    None,
}

/// A card: brand and last four digits, and what a sandbox test number asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// visa, mastercard, amex or card.
    pub brand: &'static str,
    /// Last four digits.
    pub last4: String,
    /// The outcome a magic test card asks for.
    pub magic: Option<Magic>,
}

/// A wallet account: last four digits of its number, and what a test number asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wallet {
    /// Last four digits.
    pub last4: String,
    /// The outcome a magic test number asks for.
    pub magic: Option<Magic>,
}

/// An outcome a sandbox test number asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Magic {
    /// The processor has not decided yet.
    Pending,
    /// Declined with this code.
    Decline(&'static str),
}

impl PaymentInstrument {
    /// The record kept on the payment.
    pub fn describe(&self, method: &str) -> Option<Instrument> {
        match self {
            PaymentInstrument::Card(card) => Some(super::describe("card", card.brand, &card.last4)),
            PaymentInstrument::Wallet(wallet) => Some(super::describe("wallet", method, &wallet.last4)),
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
        Ok(Card {
            brand: brand(&digits),
            last4: digits[digits.len() - 4..].to_owned(),
            magic: super::card_magic(&digits),
        })
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
        let magic = super::wallet_magic(&digits);
        Ok(Wallet { last4: digits[digits.len() - 4..].to_owned(), magic })
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

fn expiry_in_future(expiry: &str) -> bool {
    let Some((mm, yy)) = expiry.trim().split_once('/') else { return false };
    let (Ok(month), Ok(year)) = (mm.trim().parse::<u32>(), yy.trim().parse::<i32>()) else { return false };
    if !(1..=12).contains(&month) || yy.trim().len() != 2 {
        return false;
    }
    let now = Utc::now();
    let year = 2000 + year;
    (year, month) >= (now.year(), now.month())
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
        assert_eq!(card, Card { brand: "visa", last4: "4242".into(), magic: None });
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
