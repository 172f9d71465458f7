//! An account's policy: the fee its captures pay and the limits its charges are held
//! to, one per credential (an account: a merchant's QR Money accounts each have their
//! own), in its own table. Set with the admin API's `PATCH /admin/v1/credentials/{id}`
//! `{"extra": {"settings": {…}}}` or a fixture's `settings`, validated when set; every
//! field is optional.
//!
//! | setting | declines with ([`Decline`]) |
//! |---|---|
//! | `blocked_origin_domains` (a domain blocks its subdomains too) | `origin_blocked` |
//! | `allowed_currencies` (empty: any) | `currency_not_allowed` |
//! | `allowed_countries` (payer's country; empty: any) | `country_not_allowed` |
//! | `max_amount`, `min_amount` | `above_max_amount`, `below_min_amount` |
//! | `daily_count`, `monthly_count` | `daily_count_exceeded`, `monthly_count_exceeded` |
//! | `daily_total`, `monthly_total` | `daily_total_exceeded`, `monthly_total_exceeded` |
//!
//! Amounts are in the payment's own unit: a `max_amount` of 500 allows 500 USD in a
//! USD payment and 500 BTC in a BTC one, and the totals add up the account's day's
//! (month's, UTC) payments in that unit. Counts and totals include payments approved or
//! awaiting the issuer, not declined ones. The fee is `fee_percent` of the amount plus
//! `fee_fixed` (in the payment's unit), rounded half away from zero to the unit's
//! precision and never more than the amount; it is posted at capture from the policy in
//! force then (see `ledger`).
//!
//! Limits hold across instances: a charge reads the usage and writes its payment in
//! one transaction that holds the policy's row lock (Postgres) or the single writer
//! (SQLite).

use std::str::FromStr;

use std::collections::HashMap;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::PaymentStatus;
use super::store::entities::{account_policy, payment};

use super::{CoreError, Currency, Decline, FieldIssue, Money};

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

/// An account's policy; see the module documentation.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountPolicy {
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

/// What a charge asks of the limits.
pub struct Attempt<'a> {
    /// The amount.
    pub amount: Money,
    /// The payer's country (alpha-2), if known.
    pub country: Option<&'a str>,
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

impl AccountPolicy {
    /// Parses and checks a policy given as JSON (to the admin API or in a fixture);
    /// issues name their fields under `prefix` (`extra.settings`).
    pub fn parse(value: &serde_json::Value, prefix: &str) -> Result<AccountPolicy, CoreError> {
        let policy: AccountPolicy =
            serde_json::from_value(value.clone()).map_err(|e| CoreError::invalid(prefix, e.to_string()))?;
        let issues = policy.issues(prefix);
        if issues.is_empty() { Ok(policy) } else { Err(CoreError::Validation(issues)) }
    }

    /// What is wrong with the policy, field by field (named under `prefix`).
    pub fn issues(&self, prefix: &str) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        let field = |name: &str| format!("{prefix}.{name}");
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
            if !super::payer::valid_country(code) {
                issues.push(FieldIssue::new(field(&format!("allowed_countries[{i}]")), "is not an alpha-2 country"));
            }
        }
        for (i, domain) in self.blocked_origin_domains.iter().enumerate() {
            if !super::payer::valid_domain(domain) {
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

    /// The first limit `attempt` breaks, in the table's order; `usage` is consulted
    /// only for the count and total limits.
    pub fn decline(&self, attempt: &Attempt<'_>, usage: Usage) -> Option<Decline> {
        let unit = attempt.amount.currency();
        let amount = attempt.amount.to_major();
        if let Some(origin) = attempt.origin_domain.map(str::to_ascii_lowercase)
            && self.blocked_origin_domains.iter().any(|blocked| {
                let blocked = blocked.to_ascii_lowercase();
                origin == blocked || origin.ends_with(&format!(".{blocked}"))
            })
        {
            return Some(Decline::OriginBlocked);
        }
        if !self.allowed_currencies.is_empty()
            && !self.allowed_currencies.iter().any(|c| Currency::parse(c) == Some(unit))
        {
            return Some(Decline::CurrencyNotAllowed);
        }
        if !self.allowed_countries.is_empty()
            && !attempt
                .country
                .is_some_and(|country| self.allowed_countries.iter().any(|c| c.eq_ignore_ascii_case(country)))
        {
            return Some(Decline::CountryNotAllowed);
        }
        if self.max_amount.is_some_and(|max| amount > max.0) {
            return Some(Decline::AboveMaxAmount);
        }
        if self.min_amount.is_some_and(|min| amount < min.0) {
            return Some(Decline::BelowMinAmount);
        }
        let major = |minor: i64| super::money::major_of(minor, unit);
        if self.daily_count.is_some_and(|limit| usage.day.0 >= limit) {
            return Some(Decline::DailyCountExceeded);
        }
        if self.monthly_count.is_some_and(|limit| usage.month.0 >= limit) {
            return Some(Decline::MonthlyCountExceeded);
        }
        if self.daily_total.is_some_and(|limit| major(usage.day.1) + amount > limit.0) {
            return Some(Decline::DailyTotalExceeded);
        }
        if self.monthly_total.is_some_and(|limit| major(usage.month.1) + amount > limit.0) {
            return Some(Decline::MonthlyTotalExceeded);
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

/// The rows of the `account_policies` table.
mod rows {
    use std::str::FromStr;

    use rust_decimal::Decimal;
    use sea_orm::ActiveValue::Set;

    use super::{AccountPolicy, Amount};
    use crate::core::CoreError;
    use crate::core::store::entities::account_policy;

    fn corrupt(credential_id: i64, field: &str) -> CoreError {
        CoreError::Internal(format!("account policy of credential {credential_id}: {field} is not valid"))
    }

    pub(in crate::core) fn policy(row: account_policy::Model) -> Result<AccountPolicy, CoreError> {
        let id = row.credential_id;
        let amount = |field: &str, text: &str| {
            Decimal::from_str(text)
                .or_else(|_| Decimal::from_scientific(text))
                .map(Amount)
                .map_err(|_| corrupt(id, field))
        };
        let optional = |field: &str, text: Option<String>| text.map(|t| amount(field, &t)).transpose();
        let count =
            |field: &str, n: Option<i64>| n.map(|n| u64::try_from(n).map_err(|_| corrupt(id, field))).transpose();
        let list = |field: &str, value: serde_json::Value| {
            serde_json::from_value::<Vec<String>>(value).map_err(|_| corrupt(id, field))
        };
        let policy = AccountPolicy {
            fee_percent: amount("fee_percent", &row.fee_percent)?,
            fee_fixed: amount("fee_fixed", &row.fee_fixed)?,
            min_amount: optional("min_amount", row.min_amount)?,
            max_amount: optional("max_amount", row.max_amount)?,
            daily_count: count("daily_count", row.daily_count)?,
            monthly_count: count("monthly_count", row.monthly_count)?,
            daily_total: optional("daily_total", row.daily_total)?,
            monthly_total: optional("monthly_total", row.monthly_total)?,
            allowed_currencies: list("allowed_currencies", row.allowed_currencies)?,
            allowed_countries: list("allowed_countries", row.allowed_countries)?,
            blocked_origin_domains: list("blocked_origin_domains", row.blocked_origin_domains)?,
        };
        // Stored only after passing these checks: a row that fails them was changed
        // behind paybridge's back, and is refused rather than read as zero.
        match policy.issues("policy").first() {
            Some(issue) => Err(corrupt(id, &issue.field)),
            None => Ok(policy),
        }
    }

    pub(in crate::core) fn row(
        credential_id: i64,
        p: &AccountPolicy,
        now: chrono::DateTime<chrono::Utc>,
    ) -> account_policy::ActiveModel {
        let text = |a: Amount| a.0.normalize().to_string();
        let count = |n: Option<u64>| n.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        account_policy::ActiveModel {
            credential_id: Set(credential_id),
            fee_percent: Set(text(p.fee_percent)),
            fee_fixed: Set(text(p.fee_fixed)),
            min_amount: Set(p.min_amount.map(text)),
            max_amount: Set(p.max_amount.map(text)),
            daily_count: Set(count(p.daily_count)),
            monthly_count: Set(count(p.monthly_count)),
            daily_total: Set(p.daily_total.map(text)),
            monthly_total: Set(p.monthly_total.map(text)),
            allowed_currencies: Set(serde_json::json!(p.allowed_currencies)),
            allowed_countries: Set(serde_json::json!(p.allowed_countries)),
            blocked_origin_domains: Set(serde_json::json!(p.blocked_origin_domains)),
            updated_at: Set(now),
        }
    }
}

/// The policies of `credential_ids` (those that have one), locked for the rest of the
/// transaction when `lock` is set and the backend needs it (Postgres; taken in id
/// order, so two transactions locking several cannot deadlock).
pub(super) async fn load<C: ConnectionTrait>(
    conn: &C,
    store: &super::store::Store,
    credential_ids: &[i64],
    lock: bool,
) -> Result<HashMap<i64, AccountPolicy>, CoreError> {
    if credential_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let query = account_policy::Entity::find()
        .filter(account_policy::Column::CredentialId.is_in(credential_ids.iter().copied()))
        .order_by_asc(account_policy::Column::CredentialId);
    let query = if lock { store.for_update(query) } else { query };
    query.all(conn).await?.into_iter().map(|row| Ok((row.credential_id, rows::policy(row)?))).collect()
}

/// Sets (or with `None` removes) a credential's policy, checked first.
pub(super) async fn save<C: ConnectionTrait>(
    conn: &C,
    credential_id: i64,
    policy: Option<&AccountPolicy>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), CoreError> {
    let Some(policy) = policy else {
        account_policy::Entity::delete_many()
            .filter(account_policy::Column::CredentialId.eq(credential_id))
            .exec(conn)
            .await?;
        return Ok(());
    };
    let issues = policy.issues("settings");
    if !issues.is_empty() {
        return Err(CoreError::Validation(issues));
    }
    // Changed in place: a charge waiting on the row's lock then reads the new policy
    // (a deleted and re-inserted row would be skipped by it, as if there were none).
    use sea_orm::Iterable;
    let others = account_policy::Column::iter().filter(|c| !matches!(c, account_policy::Column::CredentialId));
    let upsert =
        sea_orm::sea_query::OnConflict::column(account_policy::Column::CredentialId).update_columns(others).to_owned();
    account_policy::Entity::insert(rows::row(credential_id, policy, now))
        .on_conflict(upsert)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// The account's usage so far in `unit`, of payments that count (approved or awaiting
/// the issuer), today and this month as of `now` (UTC).
pub(super) async fn usage<C: ConnectionTrait>(
    conn: &C,
    credential_id: i64,
    unit: Currency,
    now: DateTime<Utc>,
) -> Result<Usage, CoreError> {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func};
    let (day, month) = periods(now);
    let today = Expr::col(payment::Column::CreatedAt).gte(day);
    let when_today = |then: Expr| Expr::case(today.clone(), then).finally(0);
    let bigint = |e: sea_orm::sea_query::SimpleExpr| Func::cast_as(e, Alias::new("BIGINT"));
    // This month's count and total, then today's.
    type Sums = (Option<i64>, Option<i64>, Option<i64>, Option<i64>);
    let row: Option<Sums> = payment::Entity::find()
        .select_only()
        .expr(bigint(Func::count(Expr::col(payment::Column::Id)).into()))
        .expr(bigint(Func::sum(Expr::col(payment::Column::Amount)).into()))
        .expr(bigint(Func::sum(when_today(Expr::val(1))).into()))
        .expr(bigint(Func::sum(when_today(Expr::col(payment::Column::Amount))).into()))
        .filter(payment::Column::CreatedBy.eq(credential_id))
        .filter(payment::Column::Currency.eq(unit.code()))
        .filter(payment::Column::Status.is_in(COUNTED.iter().map(|s| s.as_str())))
        .filter(payment::Column::CreatedAt.gte(month))
        .into_tuple()
        .one(conn)
        .await?;
    let (month_count, month_total, day_count, day_total) = row.unwrap_or_default();
    let count = |n: Option<i64>| u64::try_from(n.unwrap_or_default()).unwrap_or_default();
    Ok(Usage {
        day: (count(day_count), day_total.unwrap_or_default()),
        month: (count(month_count), month_total.unwrap_or_default()),
    })
}

/// Payments that count towards the daily and monthly limits: approved or awaiting the
/// issuer.
const COUNTED: &[PaymentStatus] = &[
    PaymentStatus::AwaitingProcessor,
    PaymentStatus::Processing,
    PaymentStatus::Succeeded,
    PaymentStatus::PartiallyRefunded,
    PaymentStatus::Refunded,
];

impl super::AdminGateway {
    /// The policies of these credentials (those that have one).
    pub async fn account_policies(&self, credential_ids: &[i64]) -> Result<HashMap<i64, AccountPolicy>, CoreError> {
        load(&self.store().reader, self.store(), credential_ids, false).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(text: &str) -> Money {
        Money::parse_major(text, Currency::parse("USD").unwrap()).unwrap()
    }

    fn attempt(amount: &str) -> Attempt<'static> {
        Attempt { amount: usd(amount), country: Some("US"), origin_domain: Some("shop.example.com") }
    }

    #[test]
    fn each_limit_declines_with_its_code() {
        let none = Usage::default();
        let cases: Vec<(serde_json::Value, &str, Usage, Option<&str>)> = vec![
            (serde_json::json!({"blocked_origin_domains": ["example.com"]}), "10", none, Some("origin_blocked")),
            (serde_json::json!({"blocked_origin_domains": ["other.com"]}), "10", none, None),
            (serde_json::json!({"allowed_currencies": ["EUR"]}), "10", none, Some("currency_not_allowed")),
            (serde_json::json!({"allowed_currencies": ["usd"]}), "10", none, None),
            (serde_json::json!({"allowed_countries": ["GB"]}), "10", none, Some("country_not_allowed")),
            (serde_json::json!({"max_amount": 100}), "100.01", none, Some("above_max_amount")),
            (serde_json::json!({"max_amount": "100"}), "100", none, None),
            (serde_json::json!({"min_amount": 5}), "4.99", none, Some("below_min_amount")),
            (
                serde_json::json!({"daily_count": 2}),
                "1",
                Usage { day: (2, 200), month: (2, 200) },
                Some("daily_count_exceeded"),
            ),
            (serde_json::json!({"daily_count": 2}), "1", Usage { day: (1, 100), month: (9, 900) }, None),
            (
                serde_json::json!({"monthly_count": 9}),
                "1",
                Usage { day: (1, 100), month: (9, 900) },
                Some("monthly_count_exceeded"),
            ),
            (
                serde_json::json!({"daily_total": 10}),
                "8.01",
                Usage { day: (1, 200), month: (1, 200) },
                Some("daily_total_exceeded"),
            ),
            (serde_json::json!({"daily_total": 10}), "8", Usage { day: (1, 200), month: (1, 200) }, None),
            (
                serde_json::json!({"monthly_total": 10}),
                "1",
                Usage { day: (0, 0), month: (3, 901) },
                Some("monthly_total_exceeded"),
            ),
        ];
        for (given, amount, usage, expected) in cases {
            let policy = AccountPolicy::parse(&given, "p").unwrap();
            let decline = policy.decline(&attempt(amount), usage);
            assert_eq!(decline.map(Decline::as_str), expected, "{given} {amount}");
        }
    }

    #[test]
    fn fees_round_to_the_units_precision_and_never_exceed_the_amount() {
        let settings =
            AccountPolicy::parse(&serde_json::json!({"fee_percent": 2.5, "fee_fixed": "0.30"}), "p").unwrap();
        assert_eq!(settings.fee(usd("10.50")), 56, "0.2625 + 0.30 = 0.5625 → 0.56");
        assert_eq!(settings.fee(usd("0.10")), 10, "capped at the amount");
        let btc = Money::parse_major("0.001", Currency::parse("BTC").unwrap()).unwrap();
        assert_eq!(AccountPolicy::parse(&serde_json::json!({"fee_percent": 1}), "p").unwrap().fee(btc), 1_000);
        assert_eq!(AccountPolicy::default().fee(usd("10")), 0);
        let huge = AccountPolicy { fee_fixed: Amount(Decimal::MAX), ..AccountPolicy::default() };
        assert_eq!(huge.fee(btc), btc.minor(), "no overflow panic: capped at the amount");
        assert!(AccountPolicy::parse(&serde_json::json!({"fee_fixed": "1e21"}), "p").is_err(), "bounded");
    }

    #[test]
    fn bad_settings_are_refused_field_by_field() {
        let err = AccountPolicy::parse(
            &serde_json::json!({
                "fee_percent": 120, "min_amount": 10, "max_amount": 5, "allowed_currencies": ["XYZ"],
                "allowed_countries": ["ZZ"], "blocked_origin_domains": ["not a domain"]
            }),
            "extra.settings",
        )
        .unwrap_err();
        let fields: Vec<_> = err.details().iter().map(|i| i.field.clone()).collect();
        assert_eq!(fields.len(), 5, "{fields:?}");
        assert!(AccountPolicy::parse(&serde_json::json!({"fee": 1}), "p").is_err(), "unknown settings are refused");
    }
}
