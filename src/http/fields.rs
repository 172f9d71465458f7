//! The request fields several dialects share, as types that parse themselves:
//! [`Reference`], [`Email`], [`HttpUrl`], [`Phone`], [`CurrencyCode`], [`Amount`],
//! [`PaymentMethod`] and [`JsonObject`]. Each one's schema (its pattern, length or list of values) is
//! built from the same constants its parser checks, so the spec says exactly what the
//! server accepts; a wire struct that uses them is parsed by [`crate::http::wire::Wire`],
//! which reports every bad field at once. The checks below them are for what is not a
//! type of its own (lengths of free text, metadata, paging).

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use regex::Regex;
use serde_json::Value;

use crate::core::payer::valid_email;
use crate::core::{AmountError, CoreError, Currency, FieldIssue, MAX_URL_LEN, Money};
use crate::http::wire::JsonDecimal;

/// A request string that parses into `Self`: its schema and its parser in one place.
pub trait TextField: TextWrapper {
    /// The schema's name in error messages (`string(email)`).
    const NAME: &'static str;
    /// The pattern its text must match, in the syntax JSON Schema and the `regex` crate
    /// share (anchored, no look-around).
    const PATTERN: &'static str;
    /// The most characters it may have.
    const MAX_LENGTH: usize;
    /// What is wrong with a text it refuses, as the field issue's message.
    const EXPECTED: &'static str;
    /// A further check beyond [`TextField::PATTERN`] and [`TextField::MAX_LENGTH`]
    /// (the schema cannot say it; keep it to what a pattern can only approximate).
    fn also_valid(_text: &str) -> bool {
        true
    }
    /// The form checked text is kept in (as sent, unless a type says otherwise).
    fn normalized(text: String) -> String {
        text
    }

    /// Parses `text`: the pattern, the length and [`TextField::also_valid`].
    fn parse(text: String) -> Result<Self, &'static str> {
        let fits =
            text.chars().count() <= Self::MAX_LENGTH && Self::pattern().is_match(&text) && Self::also_valid(&text);
        if fits { Ok(Self::wrap(Self::normalized(text))) } else { Err(Self::EXPECTED) }
    }

    /// The schema: a string with the pattern and length.
    fn schema() -> MetaSchema {
        MetaSchema {
            pattern: Some(Self::PATTERN.to_owned()),
            max_length: Some(Self::MAX_LENGTH),
            ..MetaSchema::new("string")
        }
    }
}

/// A tuple struct over `String`: what [`text_field!`] implements for a [`TextField`].
pub trait TextWrapper: Sized {
    /// Wraps checked text.
    fn wrap(text: String) -> Self;
    /// The text.
    fn text(&self) -> &str;
    /// [`TextField::PATTERN`], compiled once for the type.
    fn pattern() -> &'static Regex;
}

/// Implements poem-openapi's `Type` for a type that is its own raw value and has an
/// inline schema: `inline_type!(Amount, "number(amount)", MetaSchema { … })`, the
/// schema an expression of `MetaSchema`.
#[macro_export]
macro_rules! inline_type {
    ($name:ty, $label:expr, $schema:expr) => {
        impl poem_openapi::types::Type for $name {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> std::borrow::Cow<'static, str> {
                ($label).into()
            }

            fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
                poem_openapi::registry::MetaSchemaRef::Inline(Box::new($schema))
            }

            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                Some(self)
            }

            fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                Box::new(std::iter::once(self))
            }
        }
    };
}

/// Implements [`TextWrapper`], serde and poem-openapi for a [`TextField`] tuple struct
/// over `String`.
#[macro_export]
macro_rules! text_field {
    ($name:ident) => {
        impl $crate::http::fields::TextWrapper for $name {
            fn wrap(text: String) -> Self {
                $name(text)
            }
            fn text(&self) -> &str {
                &self.0
            }
            fn pattern() -> &'static regex::Regex {
                static PATTERN: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
                PATTERN.get_or_init(|| {
                    regex::Regex::new(<$name as $crate::http::fields::TextField>::PATTERN).expect("a field pattern")
                })
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                <$name as $crate::http::fields::TextField>::parse(text).map_err(serde::de::Error::custom)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str($crate::http::fields::TextWrapper::text(self))
            }
        }

        $crate::inline_type!(
            $name,
            <$name as $crate::http::fields::TextField>::NAME,
            <$name as $crate::http::fields::TextField>::schema()
        );

        impl poem_openapi::types::ParseFromJSON for $name {
            fn parse_from_json(value: Option<serde_json::Value>) -> poem_openapi::types::ParseResult<Self> {
                match value {
                    Some(serde_json::Value::String(text)) => <$name as $crate::http::fields::TextField>::parse(text)
                        .map_err(poem_openapi::types::ParseError::custom),
                    other => Err(poem_openapi::types::ParseError::expected_type(other.unwrap_or_default())),
                }
            }
        }

        impl poem_openapi::types::ToJSON for $name {
            fn to_json(&self) -> Option<serde_json::Value> {
                Some(serde_json::Value::String($crate::http::fields::TextWrapper::text(self).to_owned()))
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({:?})", stringify!($name), $crate::http::fields::TextWrapper::text(self))
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

/// Printable characters, not all blank: `[^\x00-\x1f\x7f-\x9f]` is a character
/// that is not a control one (`char::is_control`).
const PRINTABLE: &str = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";

/// A merchant's reference for a payment or order (an invoice id, an order id): 1 to
/// 100 printable characters, not all blank, kept exactly as sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Reference(String);

impl TextField for Reference {
    const NAME: &'static str = "string(reference)";
    const PATTERN: &'static str = PRINTABLE;
    const MAX_LENGTH: usize = 100;
    const EXPECTED: &'static str = "must be 1 to 100 printable characters";
}
crate::text_field!(Reference);

/// An email address: `user@host` where the host has a dot and does not end with one
/// (at most 254 characters).
#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

impl TextField for Email {
    const NAME: &'static str = "string(email)";
    const PATTERN: &'static str = r"^[^@]+@[^@]*\.[^@]*[^@.]$";
    const MAX_LENGTH: usize = 254;
    const EXPECTED: &'static str = "must be an email address";
    fn also_valid(text: &str) -> bool {
        valid_email(text)
    }
}
crate::text_field!(Email);

/// A phone number: 6 to 20 digits, with spaces, `+`, `-` and brackets allowed between
/// them (at most 30 characters).
#[derive(Clone, PartialEq, Eq)]
pub struct Phone(String);

impl TextField for Phone {
    const NAME: &'static str = "string(phone)";
    const PATTERN: &'static str = r"^[ +()-]*([0-9][ +()-]*){6,20}$";
    const MAX_LENGTH: usize = 30;
    const EXPECTED: &'static str = "must be a phone number of 6 to 20 digits";
}
crate::text_field!(Phone);

/// An absolute http(s) URL with a host name, without spaces or control characters (at
/// most 2048 characters). The pattern keeps hosts to letters, digits, dots and dashes
/// with an optional port, which every URL parser agrees on: a name whose last label
/// starts with a letter (a last label of digits makes URL parsers read the host as an
/// IPv4 address), or an IPv4 address.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpUrl(String);

impl TextField for HttpUrl {
    const NAME: &'static str = "string(url)";
    const PATTERN: &'static str = r"^[Hh][Tt][Tt][Pp][Ss]?://(([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?|(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3})(:([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?([/?#][^\s\x00-\x1f\x7f-\x9f]*)?$";
    const MAX_LENGTH: usize = MAX_URL_LEN;
    const EXPECTED: &'static str =
        "must be an absolute http(s) URL of at most 2048 characters, without spaces or control characters";
    fn also_valid(text: &str) -> bool {
        crate::core::valid_url(text)
    }
}
crate::text_field!(HttpUrl);

/// A currency paybridge settles in, by its upper-case ISO 4217 code (`BDT`, `USD`) or
/// crypto code (`BTC`, `USDT`). The schema lists them all.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CurrencyCode(pub Currency);

impl CurrencyCode {
    /// Parses an upper-case code exactly as listed.
    pub fn parse(code: &str) -> Option<CurrencyCode> {
        Currency::parse(code).filter(|c| c.code() == code).map(CurrencyCode)
    }
}

impl std::fmt::Debug for CurrencyCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CurrencyCode({})", self.0.code())
    }
}

impl<'de> serde::Deserialize<'de> for CurrencyCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        CurrencyCode::parse(&code).ok_or_else(|| serde::de::Error::custom("is not a supported currency code"))
    }
}

impl Type for CurrencyCode {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "CurrencyCode".into()
    }

    /// A named schema, listed once per document.
    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference("CurrencyCode".into())
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        registry.create_schema::<Self, _>("CurrencyCode".into(), |_| {
            let codes = Currency::all().iter().map(|c| Value::String(c.code().to_owned())).collect();
            MetaSchema {
                description: Some("A supported currency, by its upper-case ISO 4217 (or crypto) code."),
                enum_items: codes,
                ..MetaSchema::new("string")
            }
        });
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ParseFromJSON for CurrencyCode {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(code)) => {
                CurrencyCode::parse(&code).ok_or_else(|| ParseError::custom("is not a supported currency code"))
            }
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl ToJSON for CurrencyCode {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.code().to_owned()))
    }
}

/// An amount in major units of a currency (`2500`, `12.25`): a JSON number greater
/// than zero, kept exactly as written. How many decimals it may have, and how large it
/// may be, depend on its currency: [`Amount::of`] checks them once the currency is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Amount(JsonDecimal);

impl Amount {
    /// The amount as an exact decimal (greater than zero).
    pub fn decimal(&self) -> rust_decimal::Decimal {
        crate::core::money::parse_decimal(self.0.as_str()).unwrap_or_default()
    }

    /// The amount in `currency`, or why it is not one.
    pub fn of(&self, currency: Currency) -> Result<Money, AmountError> {
        Money::parse_major(self.0.as_str(), currency)
    }

    /// [`Amount::of`], recording the issue under `amount`.
    pub fn checked(&self, currency: Currency, issues: &mut Vec<FieldIssue>) -> Option<Money> {
        self.of(currency).map_err(|e| issues.push(FieldIssue::new("amount", e.to_string()))).ok()
    }
}

impl<'de> serde::Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let number = JsonDecimal::deserialize(d)?;
        match crate::core::money::parse_decimal(number.as_str()) {
            Ok(value) if value > rust_decimal::Decimal::ZERO => Ok(Amount(number)),
            Ok(_) => Err(serde::de::Error::custom(AmountError::NotPositive)),
            Err(e) => Err(serde::de::Error::custom(e)),
        }
    }
}

crate::inline_type!(
    Amount,
    "number(amount)",
    MetaSchema {
        minimum: Some(0.0),
        exclusive_minimum: Some(true),
        ..MetaSchema::new_with_format("number", "decimal")
    }
);

impl ParseFromJSON for Amount {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let number = JsonDecimal::parse_from_json(value).map_err(ParseError::propagate)?;
        serde_json::from_value(number.to_json().unwrap_or_default()).map_err(|e| ParseError::custom(e.to_string()))
    }
}

impl ToJSON for Amount {
    fn to_json(&self) -> Option<Value> {
        self.0.to_json()
    }
}

/// A JSON object, whatever its members (a merchant's metadata, a credential's settings):
/// the schema says `object`, and anything else is refused as not one. Its size and
/// contents are for whoever reads it to check.
#[derive(Debug, Clone, PartialEq, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct JsonObject(pub serde_json::Map<String, Value>);

impl JsonObject {
    /// The object as a JSON value.
    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}

crate::inline_type!(
    JsonObject,
    "object",
    MetaSchema {
        additional_properties: Some(Box::new(MetaSchemaRef::Inline(Box::new(MetaSchema::ANY)))),
        ..MetaSchema::new("object")
    }
);

impl ParseFromJSON for JsonObject {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::Object(map)) => Ok(JsonObject(map)),
            _ => Err(ParseError::custom("must be a JSON object")),
        }
    }
}

impl ToJSON for JsonObject {
    fn to_json(&self) -> Option<Value> {
        Some(Value::Object(self.0.clone()))
    }
}

/// How the customer pays, where a dialect lets the merchant choose: the checkout's
/// methods, in lower case as the providers write them.
#[derive(poem_openapi::Enum, serde::Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum PaymentMethod {
    /// bKash wallet.
    Bkash,
    /// Nagad wallet.
    Nagad,
    /// Rocket wallet.
    Rocket,
    /// Upay wallet.
    Upay,
    /// UPI.
    Upi,
    /// A card.
    Card,
}

impl PaymentMethod {
    /// Its wire name, as the core stores it (`bkash`).
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Bkash => "bkash",
            PaymentMethod::Nagad => "nagad",
            PaymentMethod::Rocket => "rocket",
            PaymentMethod::Upay => "upay",
            PaymentMethod::Upi => "upi",
            PaymentMethod::Card => "card",
        }
    }
}

/// At most `max` characters.
pub fn check_len(field: &str, value: Option<&str>, max: usize, issues: &mut Vec<FieldIssue>) {
    if value.is_some_and(|v| v.chars().count() > max) {
        issues.push(FieldIssue::new(field, format!("must be at most {max} characters")));
    }
}

/// An email address (`user@host.tld`, at most 254 characters).
pub fn check_email(field: &str, email: Option<&str>, issues: &mut Vec<FieldIssue>) {
    if email.is_some_and(|e| !valid_email(e)) {
        issues.push(FieldIssue::new(field, "must be an email address"));
    }
}

/// A metadata object of at most [`MAX_JSON_FIELD_BYTES`]: the value, as the core keeps it.
pub fn check_metadata(field: &str, metadata: Option<JsonObject>, issues: &mut Vec<FieldIssue>) -> Option<Value> {
    let metadata = metadata?.into_value();
    check_json_size(field, &metadata, issues);
    Some(metadata)
}

/// The most any free-form JSON field (metadata, a test event's data, a credential's
/// settings) may hold, as compact JSON.
pub const MAX_JSON_FIELD_BYTES: usize = 8 * 1024;

/// Free-form JSON of at most [`MAX_JSON_FIELD_BYTES`].
pub fn check_json_size(field: &str, value: &serde_json::Value, issues: &mut Vec<FieldIssue>) {
    if value.to_string().len() > MAX_JSON_FIELD_BYTES {
        issues.push(FieldIssue::new(field, "must be at most 8 KiB as compact JSON"));
    }
}

/// A list request's paging, checked: `page` from 1 (default 1), `limit` 1–100 (default
/// 20); returns `(page, limit)`.
pub fn paging(page: Option<i64>, limit: Option<i64>) -> Result<(u64, u64), CoreError> {
    let mut issues = Vec::new();
    let page = page.unwrap_or(1);
    if page < 1 {
        issues.push(FieldIssue::new("page", "must be 1 or more"));
    }
    let limit = limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        issues.push(FieldIssue::new("limit", "must be between 1 and 100"));
    }
    if issues.is_empty() { Ok((page as u64, limit as u64)) } else { Err(CoreError::Validation(issues)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues(check: impl FnOnce(&mut Vec<FieldIssue>)) -> Vec<String> {
        let mut issues = Vec::new();
        check(&mut issues);
        issues.into_iter().map(|i| i.field).collect()
    }

    #[test]
    fn each_check_names_its_field() {
        assert_eq!(issues(|i| check_email("e", Some("a@b"), i)), ["e"]);
        assert!(issues(|i| check_email("e", Some("a@b.co"), i)).is_empty());
        let big = JsonObject(serde_json::Map::from_iter([("k".to_owned(), Value::String("x".repeat(9000)))]));
        assert_eq!(issues(|i| _ = check_metadata("m", Some(big), i)), ["m"]);
        assert!(JsonObject::parse_from_json(Some(serde_json::json!([1]))).is_err());
        assert_eq!(issues(|i| check_len("n", Some("abcd"), 3, i)), ["n"]);
        assert!(issues(|i| check_len("n", Some("abc"), 3, i)).is_empty());
        assert_eq!(paging(None, None).unwrap(), (1, 20));
        assert_eq!(paging(Some(3), Some(100)).unwrap(), (3, 100));
        for (page, limit) in [(Some(0), None), (Some(-1), None), (None, Some(0)), (None, Some(101))] {
            assert!(paging(page, limit).is_err(), "{page:?} {limit:?}");
        }
    }

    fn parses<T: TextField>(text: &str) -> bool {
        T::parse(text.to_owned()).is_ok()
    }

    #[test]
    fn text_fields_take_what_their_pattern_says() {
        assert!(parses::<Phone>("+880 1712-345678") && parses::<Phone>("(017) 123456"));
        for bad in ["12345", "0171234567x", "++++++", "1234567890123456789012345", ""] {
            assert!(!parses::<Phone>(bad), "{bad}");
        }
        assert!(parses::<Email>("a@b.co") && parses::<Email>("a b@.c"));
        for bad in ["a@b", "@b.co", "a@b.", "a@b@c.d", ""] {
            assert!(!parses::<Email>(bad), "{bad}");
        }
        for good in ["https://shop.example.com/ok?x=1", "HTTP://127.0.0.1:8080", "http://127.0.0.1:65535/hook"] {
            assert!(parses::<HttpUrl>(good), "{good}");
        }
        let bad_urls = ["ftp://x.example", "https://", "https://a b.example", "shop.example.com", "https://-a.example"];
        for bad in bad_urls.into_iter().chain(["http://127.0.0.1:65536/", "http://a.example:"]) {
            assert!(!parses::<HttpUrl>(bad), "{bad}");
        }
        // The pattern itself refuses what URL parsers read as a bad IPv4 address.
        for bad in ["http://eqc.c.2/", "http://uvy.1:8080", "http://256.1.1.1/", "http://a.b.300/"] {
            assert!(!HttpUrl::pattern().is_match(bad) && !crate::core::valid_url(bad), "{bad}");
        }
        assert!(HttpUrl::pattern().is_match("http://localhost:8080/x") && parses::<HttpUrl>("http://localhost:8080/x"));
        assert!(parses::<Reference>("INV-1001") && parses::<Reference>(" a "));
        for bad in ["", "   ", "a\u{7}b", &"x".repeat(101)] {
            assert!(!parses::<Reference>(bad), "{bad:?}");
        }
    }

    /// Each type's schema carries the very pattern and length its parser checks.
    #[test]
    fn schemas_are_the_parsers_rules() {
        let schema = <Phone as Type>::schema_ref();
        let MetaSchemaRef::Inline(schema) = schema else { panic!("inline") };
        assert_eq!(schema.pattern.as_deref(), Some(Phone::PATTERN));
        assert_eq!(schema.max_length, Some(30));
        let mut registry = poem_openapi::registry::Registry::new();
        CurrencyCode::register(&mut registry);
        let currencies = &registry.schemas["CurrencyCode"];
        let listed: Vec<&str> = currencies.enum_items.iter().filter_map(Value::as_str).collect();
        assert!(listed.contains(&"BDT") && listed.contains(&"USDT") && !listed.contains(&"XAU"), "{listed:?}");
        assert!(listed.iter().all(|code| CurrencyCode::parse(code).is_some()));
        assert!(CurrencyCode::parse("bdt").is_none() && CurrencyCode::parse("XQZ").is_none());
    }

    #[derive(serde::Deserialize, Debug)]
    #[expect(dead_code, reason = "read through Debug")]
    struct Body {
        reference: Reference,
        amount: Amount,
        currency: CurrencyCode,
        email: Option<Email>,
        phone: Option<Phone>,
        method: Option<PaymentMethod>,
    }

    /// A body with several bad fields reports each of them, not only the first.
    #[test]
    fn every_bad_field_is_reported() {
        let body = serde_json::json!({
            "reference": "", "amount": -1, "currency": "bdt", "email": "x", "phone": "1", "method": "BKASH"
        });
        let found = crate::http::wire::parse_value::<Body>(body).unwrap_err();
        let fields: Vec<&str> = found.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(fields, ["reference", "amount", "currency", "email", "phone", "method"], "{found:?}");
        let ok = serde_json::json!({"reference": "INV-1", "amount": 12.5, "currency": "BDT", "method": "bkash"});
        assert!(crate::http::wire::parse_value::<Body>(ok).is_ok());
        let missing = serde_json::json!({"reference": "INV-1", "currency": "BDT", "email": "x"});
        let found = crate::http::wire::parse_value::<Body>(missing).unwrap_err();
        assert_eq!(found.iter().map(|i| i.field.as_str()).collect::<Vec<_>>(), ["email", "amount"], "{found:?}");
    }
}
