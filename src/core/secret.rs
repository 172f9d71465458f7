//! [`Secret`]: key material that never prints.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A secret (an API secret, a signing key, the admin token): `Debug` and `Display`
/// show `Secret(…)`, so it cannot reach a log or an error message by accident; the
/// value is read with [`Secret::expose`]. Serialized as the plain string (stored and
/// configured as such).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True for the empty secret.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_owned())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let secret = Secret::from("sk_live_123");
        assert_eq!((format!("{secret}"), format!("{secret:?}")), ("Secret(…)".to_owned(), "Secret(…)".to_owned()));
        assert_eq!(secret.expose(), "sk_live_123");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"sk_live_123\"", "stored as it is");
    }
}
