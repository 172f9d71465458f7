//! The credentials file: TOML sections whose keys become `{{section.key}}` variables.
//!
//! ```toml
//! [credentials]            # the merchant the suite runs as
//! api_key = "pk_test_demo"            # REBORNPAY: X-Api-Key, X-Api-Secret
//! api_secret = "sk_test_demo"
//! client_id = "demo_client_id"        # ShadhinPay: Client-Id, Business-Id,
//! business_id = "demo_business_id"    # Secret-Key
//! secret_key = "demo_secret_key"
//!
//! [starpay]                # a dialect's own section: while that dialect's suite
//! api_key = "sp_test_merchant"        # runs, its keys replace [credentials]' keys of
//! api_user_key = "sp_test_api_user"   # the same name (StarPay: X-API-KEY per user)
//!
//! [admin]                  # paybridge only (scenarios tagged `admin`)
//! base_url = "http://127.0.0.1:8080/admin/v1"
//! token = "change-me"
//!
//! [sandbox]                # paybridge only (scenarios tagged `sandbox`)
//! base_url = "http://127.0.0.1:8080/sandbox/v1"
//!
//! [webhooks]               # where the runner's receiver listens; the merchant's
//! listen = "127.0.0.1:9000"  # webhook URL must point here
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;

/// Every value of the file, by `section.key`.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    values: BTreeMap<String, String>,
}

impl Credentials {
    /// Reads a credentials file.
    pub fn load(path: &Path) -> anyhow::Result<Credentials> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        Credentials::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    /// Parses credentials TOML.
    pub fn parse(text: &str) -> anyhow::Result<Credentials> {
        let table: toml::Table = toml::from_str(text)?;
        let mut values = BTreeMap::new();
        for (section, inner) in table {
            let toml::Value::Table(inner) = inner else {
                anyhow::bail!("`{section}` must be a [section]");
            };
            for (key, value) in inner {
                let text = match value {
                    toml::Value::String(s) => s,
                    other => other.to_string(),
                };
                values.insert(format!("{section}.{key}"), text);
            }
        }
        Ok(Credentials { values })
    }

    /// The values a `dialect`'s suite runs with: the file's, where the dialect's own
    /// section (`[starpay]`) replaces `[credentials]` keys of the same name (one file
    /// can then hold every dialect's demo credentials although several call their key
    /// `api_key`).
    pub fn for_dialect(&self, dialect: &str) -> Credentials {
        let mut out = self.clone();
        let prefix = format!("{dialect}.");
        for (key, value) in &self.values {
            if let Some(name) = key.strip_prefix(&prefix) {
                out.values.insert(format!("credentials.{name}"), value.clone());
            }
        }
        out
    }

    /// Sets a value (`section.key`).
    pub fn set(&mut self, key: &str, value: &str) {
        self.values.insert(key.to_owned(), value.to_owned());
    }

    /// A value, or an error naming what the file lacks.
    pub fn get(&self, key: &str) -> Result<String, String> {
        self.values.get(key).cloned().ok_or_else(|| format!("the credentials file has no {key}"))
    }

    /// Every value.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.values.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_become_dotted_keys() {
        let c = Credentials::parse("[credentials]\napi_key = \"pk\"\n[webhooks]\nlisten = \"127.0.0.1:9\"\n").unwrap();
        assert_eq!(c.get("credentials.api_key").unwrap(), "pk");
        assert!(c.get("admin.token").unwrap_err().contains("admin.token"));
        assert!(Credentials::parse("api_key = \"pk\"").is_err());
    }

    #[test]
    fn a_dialect_section_replaces_credentials_keys() {
        let c = Credentials::parse(
            "[credentials]\napi_key = \"pk\"\napi_secret = \"sk\"\n[starpay]\napi_key = \"sp\"\nadmin_key = \"spa\"\n",
        )
        .unwrap();
        let star = c.for_dialect("starpay");
        assert_eq!(star.get("credentials.api_key").unwrap(), "sp");
        assert_eq!(star.get("credentials.admin_key").unwrap(), "spa");
        assert_eq!(star.get("credentials.api_secret").unwrap(), "sk");
        assert_eq!(c.for_dialect("rebornpay").get("credentials.api_key").unwrap(), "pk");
    }
}
