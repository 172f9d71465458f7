//! Money: an `i64` count of minor units and its currency. Never `f64`.
//!
//! Every dialect parses its own amount form (a JSON number of major units, an integer of
//! minor units, "12,25") into [`Money`] through [`Money::from_major`] or
//! [`Money::from_minor`]; both reject what the currency cannot hold exactly.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

/// A currency the gateway can hold: an ISO 4217 code with a defined minor-unit
/// exponent, or one of the crypto units QR Money accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: &'static str,
    exponent: u8,
}

/// Crypto units with their precision (not in ISO 4217).
const CRYPTO: &[(&str, u8)] = &[("BTC", 8), ("USDT", 6)];

impl Currency {
    /// Looks a currency up by its code, case-insensitively. ISO codes without a minor
    /// unit (gold, test codes) are not currencies a payment can be made in.
    pub fn parse(code: &str) -> Option<Currency> {
        let upper = code.trim().to_ascii_uppercase();
        if let Some((code, exponent)) = CRYPTO.iter().find(|(c, _)| *c == upper) {
            return Some(Currency { code, exponent: *exponent });
        }
        let iso = iso_currency::Currency::from_code(&upper)?;
        let exponent = u8::try_from(iso.exponent()?).ok()?;
        Some(Currency { code: iso.code(), exponent })
    }

    /// Every currency [`Currency::parse`] knows, in code order: each three-letter code
    /// it accepts, then the crypto codes. Found by asking `parse` itself, once.
    pub fn all() -> &'static [Currency] {
        static ALL: std::sync::OnceLock<Vec<Currency>> = std::sync::OnceLock::new();
        ALL.get_or_init(|| {
            let letters = b'A'..=b'Z';
            let mut all: Vec<Currency> = letters
                .clone()
                .flat_map(|a| letters.clone().flat_map(move |b| (b'A'..=b'Z').map(move |c| [a, b, c])))
                .filter_map(|code| Currency::parse(std::str::from_utf8(&code).ok()?))
                .filter(|c| !CRYPTO.iter().any(|(code, _)| *code == c.code))
                .collect();
            all.extend(CRYPTO.iter().filter_map(|(code, _)| Currency::parse(code)));
            all
        })
    }

    /// The upper-case code, e.g. `BDT`.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// How many decimal places the minor unit has (BDT 2, JPY 0, BTC 8).
    pub fn exponent(&self) -> u8 {
        self.exponent
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

/// Why an amount cannot be turned into [`Money`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// The text is not a decimal number.
    #[error("is not a number")]
    NotANumber,
    /// Zero or below.
    #[error("must be greater than zero")]
    NotPositive,
    /// More decimal places than the currency's minor unit.
    #[error("has more decimal places than {currency} allows ({exponent})")]
    TooPrecise { currency: &'static str, exponent: u8 },
    /// Does not fit in 64-bit minor units.
    #[error("is too large")]
    TooLarge,
    /// More digits than any decimal can hold exactly.
    #[error("has more digits than can be represented exactly")]
    TooManyDigits,
}

/// The largest amount one payment, refund or settlement may have, in minor units
/// (10¹⁵: ten trillion BDT, ten million BTC). Far below `i64::MAX`, so balances summed
/// over millions of payments cannot overflow.
pub const MAX_MINOR: i64 = 1_000_000_000_000_000;

/// An amount of money: minor units and a currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// Money from a count of minor units; must be positive and at most [`MAX_MINOR`].
    pub fn from_minor(minor: i64, currency: Currency) -> Result<Money, AmountError> {
        if minor <= 0 {
            return Err(AmountError::NotPositive);
        }
        if minor > MAX_MINOR {
            return Err(AmountError::TooLarge);
        }
        Ok(Money { minor, currency })
    }

    /// Money from a decimal amount of major units (2500.50 BDT → 250050 paisa),
    /// exactly: a value with more decimals than the currency has is rejected, not
    /// rounded.
    pub fn from_major(amount: Decimal, currency: Currency) -> Result<Money, AmountError> {
        if amount <= Decimal::ZERO {
            return Err(AmountError::NotPositive);
        }
        let normalized = amount.normalize();
        if normalized.scale() > u32::from(currency.exponent) {
            return Err(AmountError::TooPrecise { currency: currency.code, exponent: currency.exponent });
        }
        let factor = Decimal::from(10i64.pow(u32::from(currency.exponent)));
        let minor = normalized.checked_mul(factor).ok_or(AmountError::TooLarge)?;
        let minor = i64::try_from(minor.trunc()).map_err(|_| AmountError::TooLarge)?;
        Money::from_minor(minor, currency)
    }

    /// Parses decimal text of major units ("2500", "12.25", "1e3").
    pub fn parse_major(text: &str, currency: Currency) -> Result<Money, AmountError> {
        Money::from_major(parse_decimal(text)?, currency)
    }

    /// Minor units.
    pub fn minor(&self) -> i64 {
        self.minor
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The amount in major units as an exact decimal.
    pub fn to_major(&self) -> Decimal {
        major_of(self.minor, self.currency)
    }
}

/// Converts a signed minor-unit sum (a balance, which may be zero or negative) to major
/// units.
pub fn major_of(minor: i64, currency: Currency) -> Decimal {
    major_at_precision(minor, currency).normalize()
}

/// A minor-unit amount in major units written at the currency's precision (`10.50`,
/// `0.00`, `0.00100000`), for providers that print every decimal.
pub fn major_at_precision(minor: i64, currency: Currency) -> Decimal {
    Decimal::new(minor, u32::from(currency.exponent))
}

/// Parses decimal text exactly, accepting the exponent forms JSON allows.
pub fn parse_decimal(text: &str) -> Result<Decimal, AmountError> {
    let text = text.trim();
    let parsed = if text.contains(['e', 'E']) { Decimal::from_scientific(text) } else { Decimal::from_str_exact(text) };
    let positive_exponent = text.split(['e', 'E']).nth(1).is_some_and(|exp| !exp.starts_with('-'));
    parsed.map_err(|e| match e {
        rust_decimal::Error::ExceedsMaximumPossibleValue | rust_decimal::Error::LessThanMinimumPossibleValue => {
            AmountError::TooLarge
        }
        rust_decimal::Error::Underflow | rust_decimal::Error::ScaleExceedsMaximumPrecision(_) if positive_exponent => {
            AmountError::TooLarge
        }
        rust_decimal::Error::Underflow | rust_decimal::Error::ScaleExceedsMaximumPrecision(_) => {
            AmountError::TooManyDigits
        }
        _ => AmountError::NotANumber,
    })
}

/// Stored form of [`Money`] in events and snapshots: minor units and the code.
#[derive(serde::Serialize, serde::Deserialize)]
struct MoneyRepr {
    minor: i64,
    currency: String,
}

impl serde::Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        MoneyRepr { minor: self.minor, currency: self.currency.code.to_owned() }.serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let repr = MoneyRepr::deserialize(d)?;
        let currency = Currency::parse(&repr.currency)
            .ok_or_else(|| D::Error::custom(format!("unknown currency {}", repr.currency)))?;
        Money::from_minor(repr.minor, currency).map_err(D::Error::custom)
    }
}

impl FromStr for Currency {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s).ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bdt() -> Currency {
        Currency::parse("BDT").unwrap()
    }

    #[test]
    fn major_units_convert_exactly() {
        assert_eq!(Money::parse_major("2500", bdt()).unwrap().minor(), 250_000);
        assert_eq!(Money::parse_major("2500.5", bdt()).unwrap().minor(), 250_050);
        assert_eq!(Money::parse_major("0.01", bdt()).unwrap().minor(), 1);
        assert_eq!(Money::parse_major("2.5e3", bdt()).unwrap().minor(), 250_000);
        assert_eq!(Money::parse_major("12.250", bdt()).unwrap().minor(), 1225);
    }

    #[test]
    fn over_precise_negative_and_huge_amounts_are_rejected() {
        assert!(matches!(Money::parse_major("0.001", bdt()), Err(AmountError::TooPrecise { .. })));
        assert!(matches!(Money::parse_major("12.250000000000000001", bdt()), Err(AmountError::TooPrecise { .. })));
        assert_eq!(Money::parse_major("-1", bdt()), Err(AmountError::NotPositive));
        assert_eq!(Money::parse_major("0", bdt()), Err(AmountError::NotPositive));
        assert_eq!(Money::parse_major("1e30", bdt()), Err(AmountError::TooLarge));
        assert_eq!(Money::parse_major("10000000000000", bdt()).map(|m| m.minor()), Ok(MAX_MINOR));
        assert_eq!(Money::parse_major("10000000000000.01", bdt()), Err(AmountError::TooLarge));
        assert_eq!(Money::parse_major("abc", bdt()), Err(AmountError::NotANumber));
        assert_eq!(Money::parse_major("1e-40", bdt()), Err(AmountError::TooManyDigits));
    }

    #[test]
    fn currencies_carry_their_exponent() {
        assert_eq!(Currency::parse("jpy").unwrap().exponent(), 0);
        assert_eq!(Currency::parse("KWD").unwrap().exponent(), 3);
        assert_eq!(Currency::parse("BTC").unwrap().exponent(), 8);
        assert_eq!(Currency::parse("USDT").unwrap().exponent(), 6);
        assert!(Currency::parse("XAU").is_none());
        assert!(Currency::parse("ZZZ").is_none());
        assert_eq!(
            Money::parse_major("1.5", Currency::parse("JPY").unwrap()).unwrap_err(),
            AmountError::TooPrecise { currency: "JPY", exponent: 0 }
        );
    }

    #[test]
    fn balances_render_in_major_units() {
        assert_eq!(major_of(250_050, bdt()).to_string(), "2500.5");
        assert_eq!(major_of(-100, bdt()).to_string(), "-1");
        assert_eq!(major_of(0, bdt()).to_string(), "0");
    }
}
