//! `{{variables}}` in paths, headers and bodies.
//!
//! Variables: everything in the credentials file as `{{section.key}}` (e.g.
//! `{{credentials.api_key}}`, `{{admin.token}}`), values captured by earlier steps by
//! their name, `{{run_id}}` (unique per scenario run, stable within it), `{{uuid}}` (a
//! fresh UUID at every use), `{{now}}` / `{{now+N}}` / `{{now-N}}` (Unix seconds) and
//! `{{md5('literal', variable, …)}}`: the lowercase hex MD5 of its arguments joined
//! (PayRequest's return codes, computed the way a merchant's handler computes them).

use std::collections::BTreeMap;

use serde_json::Value;

/// The variables of one scenario run.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: BTreeMap<String, Value>,
}

impl Vars {
    /// Sets a variable.
    pub fn set(&mut self, name: impl Into<String>, value: Value) {
        self.values.insert(name.into(), value);
    }

    /// A variable's value.
    pub fn get(&self, name: &str) -> Option<Value> {
        match name {
            "uuid" => Some(Value::String(uuid::Uuid::new_v4().to_string())),
            _ if name == "now" || name.starts_with("now+") || name.starts_with("now-") => {
                let offset: i64 = match name.get(3..).filter(|s| !s.is_empty()) {
                    Some(s) => s.trim_start_matches('+').parse().ok()?,
                    None => 0,
                };
                Some(Value::from(chrono::Utc::now().timestamp() + offset))
            }
            _ if name.starts_with("md5(") && name.ends_with(')') => {
                let mut text = String::new();
                for arg in name[4..name.len() - 1].split(',').map(str::trim) {
                    match arg.strip_prefix('\'').and_then(|a| a.strip_suffix('\'')) {
                        Some(literal) => text.push_str(literal),
                        None => text.push_str(&as_text(&self.get(arg)?)),
                    }
                }
                use md5::Digest;
                Some(Value::String(hex::encode(md5::Md5::digest(text.as_bytes()))))
            }
            _ => self.values.get(name).cloned(),
        }
    }

    /// Replaces every `{{name}}` in `text`.
    pub fn render(&self, text: &str) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or_else(|| format!("unclosed {{{{ in {text:?}"))?;
            let name = after[..end].trim();
            let value = self.get(name).ok_or_else(|| format!("unknown variable {{{{{name}}}}}"))?;
            out.push_str(&as_text(&value));
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Renders every string leaf of a JSON value; a leaf that is exactly `{{name}}`
    /// takes the variable's JSON value (so numbers stay numbers).
    pub fn render_json(&self, value: &Value) -> Result<Value, String> {
        Ok(match value {
            Value::String(s) => {
                let trimmed = s.trim();
                let whole = trimmed.strip_prefix("{{").and_then(|r| r.strip_suffix("}}"));
                match whole.filter(|name| !name.contains("{{") && !name.contains("}}")) {
                    Some(name) => self.get(name.trim()).ok_or_else(|| format!("unknown variable {{{{{name}}}}}"))?,
                    None => Value::String(self.render(s)?),
                }
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| self.render_json(v)).collect::<Result<_, _>>()?),
            Value::Object(map) => Value::Object(
                map.iter().map(|(k, v)| Ok((k.clone(), self.render_json(v)?))).collect::<Result<_, String>>()?,
            ),
            other => other.clone(),
        })
    }
}

/// A value as text: strings without quotes, everything else as JSON.
pub fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Vars {
        let mut v = Vars::default();
        v.set("credentials.api_key", json!("pk_1"));
        v.set("amount", json!(2500));
        v
    }

    #[test]
    fn strings_and_json_leaves_are_rendered() {
        let v = vars();
        assert_eq!(v.render("key={{credentials.api_key}}").unwrap(), "key=pk_1");
        assert_eq!(
            v.render_json(&json!({"a": "{{amount}}", "b": "x{{amount}}"})).unwrap(),
            json!({"a": 2500, "b": "x2500"})
        );
        assert!(v.render("{{nope}}").is_err());
        let now = chrono::Utc::now().timestamp();
        let past: i64 = v.render("{{now-400}}").unwrap().parse().unwrap();
        assert!((now - 402..=now - 398).contains(&past));
        assert_ne!(v.render("{{uuid}}").unwrap(), v.render("{{uuid}}").unwrap());
        // md5("successpk_1"), computed with Python.
        assert_eq!(v.render("{{md5('success', credentials.api_key)}}").unwrap(), "1c21b7321c8cebd47a6b2bd63c5110c4");
        assert!(v.render("{{md5('a', nope)}}").is_err());
    }
}
