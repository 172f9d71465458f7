//! Wire helpers shared by dialects: a JSON body that reports what is wrong with it field
//! by field, and an exact decimal JSON number.
//!
//! poem-openapi's own parser stops at the first error and does not name the field, so
//! dialect bodies are [`Wire<T>`]: the schema is `T`'s (documented by
//! `#[derive(Object)]`), the parsing is serde's (`#[derive(Deserialize)]`), and a body
//! that does not fit becomes a list of [`FieldIssue`]s for the dialect's own
//! validation error — never poem's default 400.

use std::borrow::Cow;
use std::str::FromStr;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::core::FieldIssue;

/// A JSON request body: `Ok(T)` or the field issues that kept it from being a `T`.
pub struct Wire<T>(pub Result<T, Vec<FieldIssue>>);

impl<T> Wire<T> {
    /// The parsed body, or the issues as a validation error.
    pub fn into_result(self) -> Result<T, crate::core::CoreError> {
        self.0.map_err(crate::core::CoreError::Validation)
    }
}

impl<T: Type> Type for Wire<T> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl<T: Type + DeserializeOwned + 'static> ParseFromJSON for Wire<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let value = value.unwrap_or(Value::Null);
        if !value.is_object() {
            return Ok(Wire(Err(vec![FieldIssue::new("body", "must be a JSON object")])));
        }
        if let Some(path) = nul_path(&value, String::new()) {
            return Ok(Wire(Err(vec![FieldIssue::new(path, "must not contain NUL characters")])));
        }
        let mut issues = Vec::new();
        check_lengths(&value, &bounds_of::<T>(), String::new(), &mut issues);
        if !issues.is_empty() {
            return Ok(Wire(Err(issues)));
        }
        Ok(Wire(parse_value(value)))
    }
}

/// The string lengths a type's schema allows (its `maxLength`s), field by field: what
/// the spec says is what a [`Wire`] body is held to, before anything else reads it.
#[derive(Debug, Default)]
pub struct Bounds {
    /// The longest string this value may be, in characters.
    pub max_length: Option<usize>,
    /// Each property's bounds, by wire name.
    pub fields: Vec<(&'static str, Bounds)>,
    /// An array's elements' bounds.
    pub items: Option<Box<Bounds>>,
    /// The most elements an array may have.
    pub max_items: Option<usize>,
}

/// `T`'s bounds, read from its schema once per type.
pub fn bounds_of<T: Type + 'static>() -> std::sync::Arc<Bounds> {
    use std::any::TypeId;
    use std::collections::HashMap;
    use std::sync::{Arc, OnceLock, RwLock};
    static CACHE: OnceLock<RwLock<HashMap<TypeId, Arc<Bounds>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(bounds) = cache.read().expect("bounds cache").get(&TypeId::of::<T>()) {
        return bounds.clone();
    }
    let mut registry = Registry::new();
    T::register(&mut registry);
    let bounds = Arc::new(bounds_in(&T::schema_ref(), &registry, 0));
    cache.write().expect("bounds cache").insert(TypeId::of::<T>(), bounds.clone());
    bounds
}

fn bounds_in(schema: &MetaSchemaRef, registry: &Registry, depth: usize) -> Bounds {
    let schema = match schema {
        MetaSchemaRef::Inline(schema) => schema.as_ref(),
        MetaSchemaRef::Reference(name) => match registry.schemas.get(name) {
            Some(schema) => schema,
            None => return Bounds::default(),
        },
    };
    if depth > 16 {
        return Bounds::default();
    }
    let mut bounds = Bounds {
        max_length: schema.max_length,
        fields: schema.properties.iter().map(|(name, s)| (*name, bounds_in(s, registry, depth + 1))).collect(),
        items: schema.items.as_ref().map(|items| Box::new(bounds_in(items, registry, depth + 1))),
        max_items: schema.max_items,
    };
    // A described reference is `allOf: [$ref]`.
    for part in schema.all_of.iter().chain(&schema.any_of).chain(&schema.one_of) {
        let inner = bounds_in(part, registry, depth + 1);
        bounds.max_length = bounds.max_length.or(inner.max_length);
        bounds.items = bounds.items.or(inner.items);
        bounds.max_items = bounds.max_items.or(inner.max_items);
        bounds.fields.extend(inner.fields);
    }
    bounds
}

/// Every string in `value` longer than its bound, as an issue naming its path.
fn check_lengths(value: &Value, bounds: &Bounds, path: String, issues: &mut Vec<FieldIssue>) {
    match value {
        Value::String(text) => {
            if let Some(max) = bounds.max_length
                && text.chars().count() > max
            {
                let field = if path.is_empty() { "body".to_owned() } else { path };
                issues.push(FieldIssue::new(field, format!("must be at most {max} characters")));
            }
        }
        Value::Object(map) => {
            for (name, field) in &bounds.fields {
                if let Some(v) = map.get(*name) {
                    let at = if path.is_empty() { (*name).to_owned() } else { format!("{path}.{name}") };
                    check_lengths(v, field, at, issues);
                }
            }
        }
        Value::Array(items) => {
            if let Some(max) = bounds.max_items
                && items.len() > max
            {
                let field = if path.is_empty() { "body".to_owned() } else { path.clone() };
                issues.push(FieldIssue::new(field, format!("must have at most {max} entries")));
            }
            if let Some(each) = &bounds.items {
                for (i, item) in items.iter().enumerate() {
                    check_lengths(item, each, format!("{path}[{i}]"), issues);
                }
            }
        }
        _ => {}
    }
}

/// The path of the first string or key holding a NUL character, which no database
/// column can store.
fn nul_path(value: &Value, path: String) -> Option<String> {
    let join = |key: &str| if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
    match value {
        Value::String(s) if s.contains('\0') => Some(if path.is_empty() { "body".to_owned() } else { path }),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| nul_path(v, format!("{path}[{i}]"))),
        Value::Object(map) => map
            .iter()
            .find_map(|(k, v)| if k.contains('\0') { Some(join(&k.replace('\0', ""))) } else { nul_path(v, join(k)) }),
        _ => None,
    }
}

/// Deserializes `value` into `T`, naming every field that does not fit.
///
/// serde stops at the first bad field, so each one found is taken out of the body and
/// the rest parsed again, until what remains parses or only the removed fields are
/// missing (serde checks for missing fields after reading every present one): the
/// fields' own types ([`crate::http::fields`]) are the whole of their validation and
/// still report all at once.
pub fn parse_value<T: DeserializeOwned>(mut value: Value) -> Result<T, Vec<FieldIssue>> {
    let mut issues: Vec<FieldIssue> = Vec::new();
    let mut removed: Vec<String> = Vec::new();
    loop {
        // Read by reference: the body stays whole for the next attempt, uncopied.
        match serde_path_to_error::deserialize(&value) {
            Ok(parsed) if issues.is_empty() => return Ok(parsed),
            Ok(_) => return Err(issues),
            Err(err) => {
                let issue = issue_from(&err);
                let missing_removed = issue.message == "is required" && removed.contains(&issue.field);
                let segments: Vec<_> = err.path().iter().cloned().collect();
                if missing_removed || issues.len() >= 32 || !remove_at(&mut value, &segments) {
                    if !missing_removed {
                        issues.push(issue);
                    }
                    return Err(issues);
                }
                removed.push(issue.field.clone());
                issues.push(issue);
            }
        }
    }
}

/// Removes the value at `path` from `value`; false when there is none to remove (the
/// body itself, or an array element, which cannot go without renumbering the rest).
fn remove_at(value: &mut Value, path: &[serde_path_to_error::Segment]) -> bool {
    use serde_path_to_error::Segment;
    let Some((last, parents)) = path.split_last() else { return false };
    let mut at = value;
    for segment in parents {
        at = match (segment, at) {
            (Segment::Map { key }, Value::Object(map)) => match map.get_mut(key) {
                Some(v) => v,
                None => return false,
            },
            (Segment::Seq { index }, Value::Array(items)) => match items.get_mut(*index) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, at) {
        (Segment::Map { key }, Value::Object(map)) => map.shift_remove(key).is_some(),
        _ => false,
    }
}

fn issue_from(err: &serde_path_to_error::Error<serde_json::Error>) -> FieldIssue {
    let path = err.path().to_string();
    let message = err.inner().to_string();
    // serde reports a missing field at its parent: "missing field `amount`".
    if let Some(name) = message.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
        let field = if path == "." { name.to_owned() } else { format!("{path}.{name}") };
        return FieldIssue::new(field, "is required");
    }
    let field = if path == "." { "body".to_owned() } else { path };
    let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
    FieldIssue::new(field, message)
}

/// What poem-openapi could not parse (malformed JSON, a wrong content type, a bad
/// query or path parameter), as a field issue naming the parameter when there is one.
pub fn request_issue(err: &poem::Error) -> FieldIssue {
    let reason = err.to_string();
    let field =
        reason.split_once("parameter `").and_then(|(_, rest)| rest.split('`').next()).unwrap_or("body").to_owned();
    FieldIssue::new(field, reason)
}

/// Whether poem rejected the request for want of credentials (a security scheme's
/// checker), rather than for its shape.
pub fn is_auth_error(err: &poem::Error) -> bool {
    err.status() == poem::http::StatusCode::UNAUTHORIZED
}

/// The wire name of a value of a dialect's `#[derive(Enum)]` type (`COMPLETED`,
/// `partially_refunded`), as its JSON shows it.
pub fn enum_text<T: ToJSON>(value: &T) -> String {
    match value.to_json() {
        Some(Value::String(text)) => text,
        other => other.map(|v| v.to_string()).unwrap_or_default(),
    }
}

/// A JSON number kept exactly as written (`2500`, `2500.50`, `1e3`), for amounts.
/// Needs serde_json's `arbitrary_precision`, which this crate enables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonDecimal(String);

impl JsonDecimal {
    /// The number as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Decimal> for JsonDecimal {
    fn from(value: Decimal) -> Self {
        JsonDecimal(value.normalize().to_string())
    }
}

impl<'de> serde::Deserialize<'de> for JsonDecimal {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let number = serde_json::Number::deserialize(d)?;
        Ok(JsonDecimal(number.to_string()))
    }
}

crate::inline_type!(JsonDecimal, "number(decimal)", MetaSchema::new_with_format("number", "decimal"));

impl ParseFromJSON for JsonDecimal {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::Number(n)) => Ok(JsonDecimal(n.to_string())),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl ToJSON for JsonDecimal {
    fn to_json(&self) -> Option<Value> {
        serde_json::Number::from_str(&self.0).ok().map(Value::Number)
    }
}

/// A time as providers print it: RFC 3339 in UTC with a `Z`, to the second
/// (`2024-01-01T12:15:00Z`, [`UtcSeconds`]) or to the millisecond
/// (`2026-04-05T06:00:00.000Z`, [`UtcMillis`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime<const MILLIS: bool>(pub chrono::DateTime<chrono::Utc>);

/// `2024-01-01T12:15:00Z`.
pub type UtcSeconds = UtcTime<false>;
/// `2026-04-05T06:00:00.000Z`.
pub type UtcMillis = UtcTime<true>;

impl<const MILLIS: bool> From<chrono::DateTime<chrono::Utc>> for UtcTime<MILLIS> {
    fn from(time: chrono::DateTime<chrono::Utc>) -> Self {
        UtcTime(time)
    }
}

impl<const MILLIS: bool> std::fmt::Display for UtcTime<MILLIS> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let precision = if MILLIS { chrono::SecondsFormat::Millis } else { chrono::SecondsFormat::Secs };
        f.write_str(&self.0.to_rfc3339_opts(precision, true))
    }
}

impl<const MILLIS: bool> Type for UtcTime<MILLIS> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string(date-time)".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "date-time")))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl<const MILLIS: bool> ParseFromJSON for UtcTime<MILLIS> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(text)) => chrono::DateTime::parse_from_rfc3339(&text)
                .map(|t| UtcTime(t.with_timezone(&chrono::Utc)))
                .map_err(|_| ParseError::custom("not an RFC 3339 date-time")),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl<const MILLIS: bool> ToJSON for UtcTime<MILLIS> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[expect(dead_code, reason = "fields are read by the assertions through Debug")]
    struct Body {
        invoice_id: String,
        amount: JsonDecimal,
    }

    #[test]
    fn numbers_keep_their_exact_text() {
        let body: Body =
            parse_value(serde_json::from_str(r#"{"invoice_id":"a","amount":12.250000000000000001}"#).unwrap()).unwrap();
        assert_eq!(body.amount.as_str(), "12.250000000000000001");
    }

    #[test]
    fn times_print_to_the_second_in_utc() {
        let time = chrono::DateTime::parse_from_rfc3339("2024-01-01T18:15:00.123456+06:00").unwrap().to_utc();
        assert_eq!(UtcSeconds::from(time).to_json(), Some(Value::String("2024-01-01T12:15:00Z".into())));
        assert_eq!(UtcMillis::from(time).to_string(), "2024-01-01T12:15:00.123Z");
    }

    #[test]
    fn nul_characters_are_refused_with_their_path() {
        let value = serde_json::json!({"invoice_id": "a", "metadata": {"tags": ["ok", "bad\u{0}"]}});
        assert_eq!(nul_path(&value, String::new()).as_deref(), Some("metadata.tags[1]"));
        assert_eq!(nul_path(&serde_json::json!({"a": "fine"}), String::new()), None);
    }

    #[test]
    fn issues_name_the_field() {
        let err = parse_value::<Body>(serde_json::json!({"invoice_id": "a"})).unwrap_err();
        assert_eq!(err, vec![FieldIssue::new("amount", "is required")]);
        let err = parse_value::<Body>(serde_json::json!({"invoice_id": 5, "amount": 1})).unwrap_err();
        assert_eq!(err[0].field, "invoice_id");
        let err = parse_value::<Body>(serde_json::json!({"invoice_id": "a", "amount": "12"})).unwrap_err();
        assert_eq!(err[0].field, "amount");
    }
}
