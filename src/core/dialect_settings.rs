//! A credential's dialect settings: the identifiers and choices a dialect's auth,
//! checkout and notifications read (ShadhinPay's business id, PayRequest's payment
//! provider, QR Money's account and merchant ids), one type per dialect.
//!
//! They are checked when they are written — [`DialectSettings::parse`] for what an
//! admin or a config file sends, [`DialectSettings::check`] in the core before any row
//! is written — and stored as the JSON object the admin API shows as `extra` (a
//! credential's account policy, which that API also spells under `extra`, is the
//! core's [`AccountPolicy`](super::AccountPolicy), kept apart).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{CoreError, Dialect, FieldIssue};

/// The longest identifier a setting holds.
pub const MAX_SETTING_LEN: usize = 64;

/// The most a credential's settings may take as compact JSON, as sent.
const MAX_SETTINGS_BYTES: usize = 8 * 1024;

/// One credential's settings, of its dialect's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialectSettings {
    /// REBORNPAY: none.
    Rebornpay,
    /// ShadhinPay.
    Shadhinpay(ShadhinpaySettings),
    /// StarPay: none (a user's role and name are the credential's own).
    Starpay,
    /// PayRequest V1.
    Payrequest(PayrequestSettings),
    /// QR Money H2H.
    Qrmoney(QrmoneySettings),
}

/// ShadhinPay: the business the client id acts for (its `X-Business-ID` header must
/// name it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadhinpaySettings {
    /// The business id.
    pub business_id: String,
}

/// PayRequest V1: the payment provider the token's account uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayrequestSettings {
    /// `sandbox` (the one paybridge runs), `none` (no provider connected) or another
    /// provider's name (not supported here).
    pub psp: String,
}

impl Default for PayrequestSettings {
    fn default() -> Self {
        PayrequestSettings { psp: "sandbox".to_owned() }
    }
}

/// QR Money H2H: the account the API key belongs to and the merchant id its
/// notifications carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QrmoneySettings {
    /// The account id (`accountId` on the wire).
    pub account_id: String,
    /// The merchant id (`merchantId` in notifications).
    pub merchant_id: String,
}

impl DialectSettings {
    /// The dialect these settings belong to.
    pub fn dialect(&self) -> Dialect {
        match self {
            DialectSettings::Rebornpay => Dialect::Rebornpay,
            DialectSettings::Shadhinpay(_) => Dialect::Shadhinpay,
            DialectSettings::Starpay => Dialect::Starpay,
            DialectSettings::Payrequest(_) => Dialect::Payrequest,
            DialectSettings::Qrmoney(_) => Dialect::Qrmoney,
        }
    }

    /// The names a dialect's settings have.
    fn keys(dialect: Dialect) -> &'static [&'static str] {
        match dialect {
            Dialect::Rebornpay | Dialect::Starpay => &[],
            Dialect::Shadhinpay => &["business_id"],
            Dialect::Payrequest => &["psp"],
            Dialect::Qrmoney => &["account_id", "merchant_id"],
        }
    }

    /// Settings as sent (an admin's `extra`, a config file's table), checked: each of
    /// the dialect's keys a string of 1 to [`MAX_SETTING_LEN`] characters, required
    /// unless it has a default (PayRequest's `psp`: `sandbox`), and no other key.
    /// Issues name their fields `extra.<key>`.
    pub fn parse(dialect: Dialect, given: &Map<String, Value>) -> Result<DialectSettings, CoreError> {
        if serde_json::to_string(given).map_or(0, |t| t.len()) > MAX_SETTINGS_BYTES {
            return Err(CoreError::invalid("extra", "must be at most 8 KiB as compact JSON"));
        }
        let known = Self::keys(dialect);
        let mut issues: Vec<FieldIssue> = given
            .keys()
            .filter(|key| !known.contains(&key.as_str()))
            .map(|key| FieldIssue::new(format!("extra.{key}"), format!("is not a {dialect} setting")))
            .collect();
        match Self::read(dialect, given) {
            Ok(settings) if issues.is_empty() => Ok(settings),
            Ok(_) => Err(CoreError::Validation(issues)),
            Err(CoreError::Validation(found)) => {
                issues.extend(found);
                Err(CoreError::Validation(issues))
            }
            Err(other) => Err(other),
        }
    }

    /// Settings as stored: keys it does not know are passed over (a row written before
    /// settings were typed may hold some).
    fn read(dialect: Dialect, given: &Map<String, Value>) -> Result<DialectSettings, CoreError> {
        let mut issues = Vec::new();
        let mut text = |key: &str| match given.get(key) {
            Some(Value::String(value)) if checked(value) => value.clone(),
            _ => {
                issues.push(FieldIssue::new(format!("extra.{key}"), SETTING_RULE));
                String::new()
            }
        };
        let settings = match dialect {
            Dialect::Rebornpay => DialectSettings::Rebornpay,
            Dialect::Starpay => DialectSettings::Starpay,
            Dialect::Shadhinpay => DialectSettings::Shadhinpay(ShadhinpaySettings { business_id: text("business_id") }),
            Dialect::Payrequest => DialectSettings::Payrequest(match given.contains_key("psp") {
                true => PayrequestSettings { psp: text("psp") },
                false => PayrequestSettings::default(),
            }),
            Dialect::Qrmoney => {
                let account_id = text("account_id");
                DialectSettings::Qrmoney(QrmoneySettings { account_id, merchant_id: text("merchant_id") })
            }
        };
        if issues.is_empty() { Ok(settings) } else { Err(CoreError::Validation(issues)) }
    }

    /// Settings read from a stored row; a row the checks would refuse is corrupt.
    pub(crate) fn stored(dialect: Dialect, value: &Value) -> Result<DialectSettings, CoreError> {
        let empty = Map::new();
        let map = value.as_object().unwrap_or(&empty);
        Self::read(dialect, map).map_err(|err| {
            let detail = err.details().iter().map(|i| format!("{}: {}", i.field, i.message)).collect::<Vec<_>>();
            CoreError::Internal(format!("stored {dialect} credential settings: {}", detail.join("; ")))
        })
    }

    /// Checks settings built in code (a config fixture, a generated credential) by the
    /// rules [`parse`](Self::parse) holds sent ones to.
    pub fn check(&self) -> Result<(), CoreError> {
        Self::parse(self.dialect(), &self.to_json()).map(|_| ())
    }

    /// The settings as the JSON object they are stored and shown as.
    pub fn to_json(&self) -> Map<String, Value> {
        let value = match self {
            DialectSettings::Rebornpay | DialectSettings::Starpay => Ok(Value::Object(Map::new())),
            DialectSettings::Shadhinpay(s) => serde_json::to_value(s),
            DialectSettings::Payrequest(s) => serde_json::to_value(s),
            DialectSettings::Qrmoney(s) => serde_json::to_value(s),
        };
        match value {
            Ok(Value::Object(map)) => map,
            // Plain structs of strings serialize to objects.
            _ => Map::new(),
        }
    }

    /// ShadhinPay's settings, for a ShadhinPay credential.
    pub fn shadhinpay(&self) -> Option<&ShadhinpaySettings> {
        match self {
            DialectSettings::Shadhinpay(s) => Some(s),
            _ => None,
        }
    }

    /// PayRequest's settings, for a PayRequest credential.
    pub fn payrequest(&self) -> Option<&PayrequestSettings> {
        match self {
            DialectSettings::Payrequest(s) => Some(s),
            _ => None,
        }
    }

    /// QR Money's settings, for a QR Money credential.
    pub fn qrmoney(&self) -> Option<&QrmoneySettings> {
        match self {
            DialectSettings::Qrmoney(s) => Some(s),
            _ => None,
        }
    }
}

/// What every setting must be.
const SETTING_RULE: &str = "must be a string of 1 to 64 characters, not blank";

fn checked(value: &str) -> bool {
    !value.trim().is_empty() && value.chars().count() <= MAX_SETTING_LEN
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    fn fields(err: CoreError) -> Vec<String> {
        err.details().iter().map(|i| i.field.clone()).collect()
    }

    #[test]
    fn each_dialect_takes_its_own_keys_and_nothing_else() {
        let qr = DialectSettings::parse(Dialect::Qrmoney, &map(json!({"account_id": "1001", "merchant_id": "m-1"})));
        let expected = QrmoneySettings { account_id: "1001".into(), merchant_id: "m-1".into() };
        assert_eq!(qr.unwrap(), DialectSettings::Qrmoney(expected));
        let err = DialectSettings::parse(Dialect::Qrmoney, &map(json!({"account_id": "1001", "colour": "red"})));
        assert_eq!(fields(err.unwrap_err()), ["extra.colour", "extra.merchant_id"]);
        let err = DialectSettings::parse(Dialect::Rebornpay, &map(json!({"business_id": "b"})));
        assert_eq!(fields(err.unwrap_err()), ["extra.business_id"], "REBORNPAY has no settings");
        assert_eq!(DialectSettings::parse(Dialect::Starpay, &Map::new()).unwrap(), DialectSettings::Starpay);
    }

    #[test]
    fn values_are_short_non_blank_strings() {
        for bad in [json!(null), json!(7), json!(""), json!("  "), json!("x".repeat(65))] {
            let err = DialectSettings::parse(Dialect::Shadhinpay, &map(json!({ "business_id": bad })));
            assert_eq!(fields(err.unwrap_err()), ["extra.business_id"], "{bad}");
        }
        let ok = DialectSettings::parse(Dialect::Shadhinpay, &map(json!({ "business_id": "x".repeat(64) })));
        assert!(ok.is_ok());
    }

    #[test]
    fn payrequest_defaults_to_the_sandbox_provider() {
        let settings = DialectSettings::parse(Dialect::Payrequest, &Map::new()).unwrap();
        assert_eq!(settings.payrequest().map(|s| s.psp.as_str()), Some("sandbox"));
        assert_eq!(settings.to_json(), map(json!({"psp": "sandbox"})));
    }

    #[test]
    fn stored_rows_pass_over_unknown_keys_and_refuse_broken_ones() {
        let stored = json!({"business_id": "biz_1", "note": "written before settings were typed"});
        let settings = DialectSettings::stored(Dialect::Shadhinpay, &stored).unwrap();
        assert_eq!(settings.shadhinpay().unwrap().business_id, "biz_1");
        assert_eq!(settings.to_json(), map(json!({"business_id": "biz_1"})));
        let broken = DialectSettings::stored(Dialect::Qrmoney, &json!({"account_id": 5}));
        assert!(matches!(broken, Err(CoreError::Internal(_))), "{broken:?}");
    }

    #[test]
    fn what_is_built_in_code_is_checked_by_the_same_rules() {
        let blank = DialectSettings::Qrmoney(QrmoneySettings { account_id: " ".into(), merchant_id: "m".into() });
        assert_eq!(fields(blank.check().unwrap_err()), ["extra.account_id"]);
        assert!(DialectSettings::Rebornpay.check().is_ok());
    }
}
