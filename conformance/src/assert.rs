//! Checks on response values: JSONPath lookup, equality, regex, prefix, presence, type,
//! length.

use regex::Regex;
use serde_json::Value;
use serde_json_path::JsonPath;

use crate::scenario::Check;
use crate::template::{Vars, as_text};

/// The first value at `path` in `body` (RFC 9535 JSONPath, e.g. `$.data.items[0].id`).
pub fn lookup(body: &Value, path: &str) -> Result<Option<Value>, String> {
    let parsed = JsonPath::parse(path).map_err(|e| format!("bad JSONPath {path:?}: {e}"))?;
    Ok(parsed.query(body).first().cloned())
}

/// Applies every check in `check` to `value` (`None`: the path matched nothing).
pub fn check(value: Option<&Value>, check: &Check, vars: &Vars) -> Result<(), String> {
    let present = value.is_some();
    if let Some(want) = check.exists
        && want != present
    {
        return Err(if want { "is absent, expected present".into() } else { "is present, expected absent".into() });
    }
    if check.absent == Some(true) && present {
        return Err(format!("is {}, expected absent", show(value)));
    }
    if let Some(expected) = &check.equals {
        let expected = vars.render_json(expected)?;
        if !value.is_some_and(|v| json_eq(v, &expected)) {
            return Err(format!("is {}, expected {}", show(value), expected));
        }
    }
    if let Some(pattern) = &check.matches {
        let pattern = vars.render(pattern)?;
        let re = Regex::new(&pattern).map_err(|e| format!("bad regex {pattern:?}: {e}"))?;
        let text = value.filter(|v| v.is_string() || v.is_number()).map(as_text);
        if !text.as_deref().is_some_and(|t| re.is_match(t)) {
            return Err(format!("is {}, expected to match /{pattern}/", show(value)));
        }
    }
    if let Some(prefix) = &check.starts_with {
        let prefix = vars.render(prefix)?;
        if !value.and_then(Value::as_str).is_some_and(|t| t.starts_with(&prefix)) {
            return Err(format!("is {}, expected to start with {prefix:?}", show(value)));
        }
    }
    if let Some(kind) = &check.type_ {
        let ok = match (kind.as_str(), value) {
            ("null", Some(Value::Null)) => true,
            ("string", Some(Value::String(_))) => true,
            ("boolean", Some(Value::Bool(_))) => true,
            ("object", Some(Value::Object(_))) => true,
            ("array", Some(Value::Array(_))) => true,
            ("number", Some(Value::Number(_))) => true,
            ("integer", Some(Value::Number(n))) => n.is_i64() || n.is_u64(),
            _ => false,
        };
        if !ok {
            return Err(format!("is {}, expected a value of type {kind}", show(value)));
        }
    }
    if let Some(length) = check.length {
        let actual = match value {
            Some(Value::Array(items)) => Some(items.len()),
            Some(Value::String(s)) => Some(s.chars().count()),
            _ => None,
        };
        if actual != Some(length) {
            return Err(format!("is {}, expected length {length}", show(value)));
        }
    }
    Ok(())
}

fn show(value: Option<&Value>) -> String {
    match value {
        None => "absent".to_owned(),
        Some(v) => {
            let text = v.to_string();
            if text.len() > 200 { format!("{}…", &text[..text.floor_char_boundary(200)]) } else { text }
        }
    }
}

/// JSON equality where numbers compare by value (2500 = 2500.0).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn c(yaml: &str) -> Check {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn checks_report_what_they_saw() {
        let body = json!({"data": {"id": "rf_1", "amount": 2500, "items": [1, 2]}, "success": true});
        let vars = Vars::default();
        let at = |p: &str| lookup(&body, p).unwrap();
        assert!(check(at("$.success").as_ref(), &c("equals: true"), &vars).is_ok());
        assert!(check(at("$.data.amount").as_ref(), &c("equals: 2500.0"), &vars).is_ok());
        assert!(check(at("$.data.id").as_ref(), &c("matches: '^rf_\\d+$'"), &vars).is_ok());
        assert!(check(at("$.data.items").as_ref(), &c("length: 2"), &vars).is_ok());
        assert!(check(at("$.data.nope").as_ref(), &c("absent: true"), &vars).is_ok());
        assert!(check(at("$.data.amount").as_ref(), &c("type: integer"), &vars).is_ok());
        let err = check(at("$.data.id").as_ref(), &c("equals: rf_2"), &vars).unwrap_err();
        assert_eq!(err, r#"is "rf_1", expected "rf_2""#);
        assert!(check(at("$.data.nope").as_ref(), &c("exists: true"), &vars).is_err());
        assert!(check(at("$.data.id").as_ref(), &c("starts_with: rf_"), &vars).is_ok());
        let err = check(at("$.data.id").as_ref(), &c("starts_with: rf_2"), &vars).unwrap_err();
        assert_eq!(err, r#"is "rf_1", expected to start with "rf_2""#);
        assert!(check(at("$.data.amount").as_ref(), &c("starts_with: '25'"), &vars).is_err(), "strings only");
    }
}
