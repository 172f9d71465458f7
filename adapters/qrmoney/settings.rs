//! A QR Money account's settings: the fee its notifications report and the limits its
//! decline codes name. They live in the credential's `extra.settings` (set in the
//! fixture's `[merchants.qrmoney.settings]` or with the admin API's
//! `PATCH /admin/v1/credentials/{id}` `{"extra": {"settings": {…}}}`); every field is
//! optional.
//!
//! | setting | decline when it fails |
//! |---|---|
//! | `blocked_origin_domains` (a domain blocks its subdomains too) | 014 |
//! | `allowed_currencies` (empty: any) | 020 |
//! | `allowed_countries` (payer's country; empty: any) | 047 |
//! | `max_amount`, `min_amount` | 018, 019 |
//! | `daily_count`, `monthly_count` | 021, 022 |
//! | `daily_total`, `monthly_total` | 023, 024 |
//!
//! Amounts are in the payment's own unit: a `max_amount` of 500 allows 500 USD in a
//! USD payment and 500 BTC in a BTC one, and the totals add up the account's day's
//! (month's, UTC) payments in that unit. Counts and totals include payments approved or
//! awaiting the issuer, not declined ones; a merchant's other QR Money accounts have
//! their own settings and their own counts. The fee is `fee_percent` of the amount plus
//! `fee_fixed` (in the payment's unit), rounded half away from zero to the unit's
//! precision and never more than the amount.

use std::str::FromStr;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::core::{CoreError, Credential, Currency, FieldIssue, Money};

/// A decimal in settings: a JSON/TOML number or a numeric string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Amount(pub Decimal);

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Amount, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            Number(serde_json::Number),
            Text(String),
        }
        let text = match Given::deserialize(d)? {
            Given::Number(n) => n.to_string(),
            Given::Text(t) => t,
        };
        Decimal::from_str(text.trim())
            .or_else(|_| Decimal::from_scientific(text.trim()))
            .map(Amount)
            .map_err(|_| serde::de::Error::custom(format!("{text} is not a decimal number")))
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.normalize().to_string())
    }
}

/// The largest amount a setting may name (far above any payment, far below where
/// decimal arithmetic on it could overflow).
const MAX_SETTING: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0);

/// The settings; see the module documentation.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Fee, percent of the amount (0–100).
    pub fee_percent: Amount,
    /// Fee, fixed part in the payment's unit.
    pub fee_fixed: Amount,
    /// Smallest amount allowed (019).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_amount: Option<Amount>,
    /// Largest amount allowed (018).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_amount: Option<Amount>,
    /// Payments a day (021).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daily_count: Option<u64>,
    /// Payments a month (022).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_count: Option<u64>,
    /// Total a day (023).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daily_total: Option<Amount>,
    /// Total a month (024).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_total: Option<Amount>,
    /// Units accepted; empty accepts any (020).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_currencies: Vec<String>,
    /// Payer countries accepted (alpha-2); empty accepts any (047).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_countries: Vec<String>,
    /// Origin domains refused, with their subdomains (014).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocked_origin_domains: Vec<String>,
}

/// What a payment asks of the limits.
pub struct Attempt<'a> {
    /// The amount.
    pub amount: Money,
    /// The payer's country (alpha-2).
    pub country: &'a str,
    /// The request's origin domain, if given.
    pub origin_domain: Option<&'a str>,
}

/// The account's approved (or pending) payments in one unit so far: (count, total in
/// minor units) today and this month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Today (UTC).
    pub day: (u64, i64),
    /// This month (UTC).
    pub month: (u64, i64),
}

impl Settings {
    /// The settings of a QR Money credential (defaults when it has none).
    pub fn of(credential: &Credential) -> Result<Settings, CoreError> {
        match credential.extra.get("settings") {
            None | Some(serde_json::Value::Null) => Ok(Settings::default()),
            Some(value) => serde_json::from_value(value.clone())
                .map_err(|e| CoreError::Internal(format!("QR Money settings of credential {}: {e}", credential.id))),
        }
    }

    /// Parses and checks settings given to the admin API or a fixture.
    pub fn parse(value: &serde_json::Value) -> Result<Settings, CoreError> {
        let settings: Settings =
            serde_json::from_value(value.clone()).map_err(|e| CoreError::invalid("extra.settings", e.to_string()))?;
        let issues = settings.issues();
        if issues.is_empty() { Ok(settings) } else { Err(CoreError::Validation(issues)) }
    }

    /// What is wrong with the settings, field by field.
    pub fn issues(&self) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        let field = |name: &str| format!("extra.settings.{name}");
        if self.fee_percent.0 < Decimal::ZERO || self.fee_percent.0 > Decimal::ONE_HUNDRED {
            issues.push(FieldIssue::new(field("fee_percent"), "must be between 0 and 100"));
        }
        let amounts = [
            ("fee_fixed", Some(self.fee_fixed)),
            ("min_amount", self.min_amount),
            ("max_amount", self.max_amount),
            ("daily_total", self.daily_total),
            ("monthly_total", self.monthly_total),
        ];
        for (name, amount) in amounts {
            if amount.is_some_and(|a| a.0 < Decimal::ZERO || a.0 > MAX_SETTING) {
                issues.push(FieldIssue::new(field(name), "must be between 0 and 10^12"));
            }
        }
        if let (Some(min), Some(max)) = (self.min_amount, self.max_amount)
            && min.0 > max.0
        {
            issues.push(FieldIssue::new(field("min_amount"), "must not exceed max_amount"));
        }
        for (i, code) in self.allowed_currencies.iter().enumerate() {
            if Currency::parse(code).is_none() {
                issues.push(FieldIssue::new(field(&format!("allowed_currencies[{i}]")), "is not a known currency"));
            }
        }
        for (i, code) in self.allowed_countries.iter().enumerate() {
            if !crate::http::fields::valid_country(code) {
                issues.push(FieldIssue::new(field(&format!("allowed_countries[{i}]")), "is not an alpha-2 country"));
            }
        }
        for (i, domain) in self.blocked_origin_domains.iter().enumerate() {
            if !valid_domain(domain) {
                issues.push(FieldIssue::new(field(&format!("blocked_origin_domains[{i}]")), "is not a domain name"));
            }
        }
        issues
    }

    /// True when a decision needs the merchant's usage so far.
    pub fn counts_usage(&self) -> bool {
        self.daily_count.is_some()
            || self.monthly_count.is_some()
            || self.daily_total.is_some()
            || self.monthly_total.is_some()
    }

    /// The decline code of the first limit `attempt` breaks, in the table's order;
    /// `usage` is consulted only for the count and total limits.
    pub fn decline(&self, attempt: &Attempt<'_>, usage: Usage) -> Option<&'static str> {
        let unit = attempt.amount.currency();
        let amount = attempt.amount.to_major();
        if let Some(origin) = attempt.origin_domain.map(str::to_ascii_lowercase)
            && self.blocked_origin_domains.iter().any(|blocked| {
                let blocked = blocked.to_ascii_lowercase();
                origin == blocked || origin.ends_with(&format!(".{blocked}"))
            })
        {
            return Some("014");
        }
        if !self.allowed_currencies.is_empty()
            && !self.allowed_currencies.iter().any(|c| Currency::parse(c) == Some(unit))
        {
            return Some("020");
        }
        if !self.allowed_countries.is_empty()
            && !self.allowed_countries.iter().any(|c| c.eq_ignore_ascii_case(attempt.country))
        {
            return Some("047");
        }
        if self.max_amount.is_some_and(|max| amount > max.0) {
            return Some("018");
        }
        if self.min_amount.is_some_and(|min| amount < min.0) {
            return Some("019");
        }
        let major = |minor: i64| crate::core::money::major_of(minor, unit);
        if self.daily_count.is_some_and(|limit| usage.day.0 >= limit) {
            return Some("021");
        }
        if self.monthly_count.is_some_and(|limit| usage.month.0 >= limit) {
            return Some("022");
        }
        if self.daily_total.is_some_and(|limit| major(usage.day.1) + amount > limit.0) {
            return Some("023");
        }
        if self.monthly_total.is_some_and(|limit| major(usage.month.1) + amount > limit.0) {
            return Some("024");
        }
        None
    }

    /// The fee on `gross`, in minor units of its currency; never more than `gross`
    /// (and `gross` itself should the arithmetic overflow).
    pub fn fee(&self, gross: Money) -> i64 {
        let exponent = u32::from(gross.currency().exponent());
        let fee = gross
            .to_major()
            .checked_mul(self.fee_percent.0)
            .and_then(|f| f.checked_div(Decimal::ONE_HUNDRED))
            .and_then(|f| f.checked_add(self.fee_fixed.0))
            .map(|f| f.round_dp_with_strategy(exponent, RoundingStrategy::MidpointAwayFromZero))
            .and_then(|f| f.checked_mul(Decimal::from(10i64.pow(exponent))))
            .and_then(|minor| i64::try_from(minor.trunc()).ok());
        fee.unwrap_or(i64::MAX).clamp(0, gross.minor())
    }
}

/// The start of the UTC day and month of `now`.
pub fn periods(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let day = Utc.with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0).single().unwrap_or(now);
    let month = Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0).single().unwrap_or(now);
    (day, month)
}

/// A domain name: dot-separated labels of letters, digits and `-`, at most 253
/// characters, with at least one dot.
pub fn valid_domain(domain: &str) -> bool {
    domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(text: &str) -> Money {
        Money::parse_major(text, Currency::parse("USD").unwrap()).unwrap()
    }

    fn attempt(amount: &str) -> Attempt<'static> {
        Attempt { amount: usd(amount), country: "US", origin_domain: Some("shop.example.com") }
    }

    #[test]
    fn each_limit_declines_with_its_code() {
        let none = Usage::default();
        let cases: Vec<(serde_json::Value, &str, Usage, Option<&str>)> = vec![
            (serde_json::json!({"blocked_origin_domains": ["example.com"]}), "10", none, Some("014")),
            (serde_json::json!({"blocked_origin_domains": ["other.com"]}), "10", none, None),
            (serde_json::json!({"allowed_currencies": ["EUR"]}), "10", none, Some("020")),
            (serde_json::json!({"allowed_currencies": ["usd"]}), "10", none, None),
            (serde_json::json!({"allowed_countries": ["GB"]}), "10", none, Some("047")),
            (serde_json::json!({"max_amount": 100}), "100.01", none, Some("018")),
            (serde_json::json!({"max_amount": "100"}), "100", none, None),
            (serde_json::json!({"min_amount": 5}), "4.99", none, Some("019")),
            (serde_json::json!({"daily_count": 2}), "1", Usage { day: (2, 200), month: (2, 200) }, Some("021")),
            (serde_json::json!({"daily_count": 2}), "1", Usage { day: (1, 100), month: (9, 900) }, None),
            (serde_json::json!({"monthly_count": 9}), "1", Usage { day: (1, 100), month: (9, 900) }, Some("022")),
            (serde_json::json!({"daily_total": 10}), "8.01", Usage { day: (1, 200), month: (1, 200) }, Some("023")),
            (serde_json::json!({"daily_total": 10}), "8", Usage { day: (1, 200), month: (1, 200) }, None),
            (serde_json::json!({"monthly_total": 10}), "1", Usage { day: (0, 0), month: (3, 901) }, Some("024")),
        ];
        for (given, amount, usage, expected) in cases {
            let settings = Settings::parse(&given).unwrap();
            assert_eq!(settings.decline(&attempt(amount), usage), expected, "{given} {amount}");
        }
    }

    #[test]
    fn fees_round_to_the_units_precision_and_never_exceed_the_amount() {
        let settings = Settings::parse(&serde_json::json!({"fee_percent": 2.5, "fee_fixed": "0.30"})).unwrap();
        assert_eq!(settings.fee(usd("10.50")), 56, "0.2625 + 0.30 = 0.5625 → 0.56");
        assert_eq!(settings.fee(usd("0.10")), 10, "capped at the amount");
        let btc = Money::parse_major("0.001", Currency::parse("BTC").unwrap()).unwrap();
        assert_eq!(Settings::parse(&serde_json::json!({"fee_percent": 1})).unwrap().fee(btc), 1_000);
        assert_eq!(Settings::default().fee(usd("10")), 0);
        let huge = Settings { fee_fixed: Amount(Decimal::MAX), ..Settings::default() };
        assert_eq!(huge.fee(btc), btc.minor(), "no overflow panic: capped at the amount");
        assert!(Settings::parse(&serde_json::json!({"fee_fixed": "1e21"})).is_err(), "bounded");
    }

    #[test]
    fn bad_settings_are_refused_field_by_field() {
        let err = Settings::parse(&serde_json::json!({
            "fee_percent": 120, "min_amount": 10, "max_amount": 5, "allowed_currencies": ["XYZ"],
            "allowed_countries": ["ZZ"], "blocked_origin_domains": ["not a domain"]
        }))
        .unwrap_err();
        let fields: Vec<_> = err.details().iter().map(|i| i.field.clone()).collect();
        assert_eq!(fields.len(), 5, "{fields:?}");
        assert!(Settings::parse(&serde_json::json!({"fee": 1})).is_err(), "unknown settings are refused");
    }
}
