//! Request bodies, bounded where they are read: every API (each dialect, admin,
//! sandbox, checkout) reads its body through [`BoundedBody`], which refuses a body over
//! [`BodyLimits::max_bytes`] — at once when `Content-Length` says so, otherwise as soon
//! as the bytes read pass it (chunked bodies too), never holding more than the cap —
//! and one that takes longer than [`BodyLimits::read_timeout`] to arrive. It also
//! refuses what the parsers behind it would let through: a JSON object with a key
//! given twice (serde keeps the last one silently) and a form whose decoded text is
//! not UTF-8 (decoded with replacement characters). The API answers the refusal in its
//! own error shape: 413 or 408, or its validation error.

use std::borrow::Cow;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use poem::http::header;
use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response, Result};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::core::CoreError;

/// How much a body may hold and how long it may take, and what all the bodies held
/// at once may add up to.
#[derive(Debug, Clone)]
pub struct BodyLimits {
    /// Largest body, in bytes.
    pub max_bytes: usize,
    /// Longest time to read it.
    pub read_timeout: Duration,
    /// The bytes every body being held may add up to (`http.max_buffered_body_bytes`),
    /// as KiB permits: past it a read waits for room, within its timeout, instead of
    /// growing memory.
    pub budget: Arc<Semaphore>,
}

impl BodyLimits {
    /// Limits with a budget of `budget_bytes` of bodies held at once.
    pub fn new(max_bytes: usize, read_timeout: Duration, budget_bytes: usize) -> BodyLimits {
        let permits = budget_bytes.div_ceil(1024).min(Semaphore::MAX_PERMITS);
        BodyLimits { max_bytes, read_timeout, budget: Arc::new(Semaphore::new(permits)) }
    }
}

impl Default for BodyLimits {
    fn default() -> Self {
        BodyLimits::new(1024 * 1024, Duration::from_secs(30), 256 * 1024 * 1024)
    }
}

/// Why a body was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyRejection {
    /// Over the cap (413).
    #[error("the request body is larger than {limit} bytes")]
    TooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// Not complete within the read timeout (408).
    #[error("the request body did not arrive within {} seconds", .after.as_secs_f32())]
    Timeout {
        /// The timeout.
        after: Duration,
    },
    /// The connection failed while it was read (400).
    #[error("the request body could not be read")]
    Unreadable,
    /// A JSON object names the key at `path` more than once (400).
    #[error("`{path}` appears more than once in the body")]
    DuplicateKey {
        /// Where: `amount`, `customer.email`, `items[1].name`.
        path: String,
    },
    /// A form field's decoded name or value is not UTF-8 (400).
    #[error("`{field}` is not valid UTF-8")]
    InvalidUtf8 {
        /// The field's name (as far as it can be read).
        field: String,
    },
}

impl From<BodyRejection> for CoreError {
    fn from(rejection: BodyRejection) -> CoreError {
        match rejection {
            BodyRejection::TooLarge { limit } => CoreError::BodyTooLarge { limit_bytes: limit },
            BodyRejection::Timeout { after } => CoreError::BodyTimeout { after_secs: after.as_secs().max(1) },
            BodyRejection::Unreadable => CoreError::invalid("body", "could not be read"),
            BodyRejection::DuplicateKey { path } => CoreError::invalid(path, "appears more than once in the body"),
            BodyRejection::InvalidUtf8 { field } => CoreError::invalid(field, "is not valid UTF-8"),
        }
    }
}

/// Renders a rejection of a request in an API's own error shape.
pub type Reject = Arc<dyn Fn(&Request, BodyRejection) -> Response + Send + Sync>;

/// Reads `body` whole within `limits` (a body already read, as a reader behind
/// [`BoundedBody`] gets it, is handed on at once).
pub async fn read(body: Body, limits: &BodyLimits) -> std::result::Result<Bytes, BodyRejection> {
    read_held(body, limits, None, None).await.map(|(bytes, _)| bytes)
}

/// A body's share of the budget, held while its request is.
#[derive(Clone)]
pub struct Held {
    _permit: Arc<OwnedSemaphorePermit>,
}

async fn read_held(
    body: Body,
    limits: &BodyLimits,
    budget: Option<Arc<Semaphore>>,
    declared: Option<u64>,
) -> std::result::Result<(Bytes, Option<OwnedSemaphorePermit>), BodyRejection> {
    let body: BoxBody<Bytes, io::Error> = body.into();
    let declared = declared.map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX).min(limits.max_bytes));
    match tokio::time::timeout(limits.read_timeout, collect(body, limits.max_bytes, budget, declared)).await {
        Ok(read) => read,
        Err(_) => Err(BodyRejection::Timeout { after: limits.read_timeout }),
    }
}

async fn collect(
    mut body: BoxBody<Bytes, io::Error>,
    limit: usize,
    budget: Option<Arc<Semaphore>>,
    declared: usize,
) -> std::result::Result<(Bytes, Option<OwnedSemaphorePermit>), BodyRejection> {
    let too_large = BodyRejection::TooLarge { limit };
    let mut permit: Option<OwnedSemaphorePermit> = None;
    let mut held_kib = 0u32;
    // Most bodies arrive as one frame: hand it on without a copy.
    let mut first: Option<Bytes> = None;
    let mut rest: Option<BytesMut> = None;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(|_| BodyRejection::Unreadable)?.into_data() else { continue };
        let held = first.as_ref().map_or(0, Bytes::len) + rest.as_ref().map_or(0, BytesMut::len);
        if held + data.len() > limit {
            return Err(too_large);
        }
        if let Some(budget) = &budget {
            let need = u32::try_from((held + data.len()).div_ceil(1024)).unwrap_or(u32::MAX);
            if need > held_kib {
                let more =
                    budget.clone().acquire_many_owned(need - held_kib).await.map_err(|_| BodyRejection::Unreadable)?;
                match &mut permit {
                    Some(permit) => permit.merge(more),
                    None => permit = Some(more),
                }
                held_kib = need;
            }
        }
        match (&mut first, &mut rest) {
            (None, _) => first = Some(data),
            (Some(head), None) => {
                let mut joined = BytesMut::with_capacity(declared.max(head.len() + data.len()));
                joined.extend_from_slice(head);
                joined.extend_from_slice(&data);
                rest = Some(joined);
            }
            (Some(_), Some(joined)) => joined.extend_from_slice(&data),
        }
    }
    let bytes = match (first, rest) {
        (_, Some(joined)) => joined.freeze(),
        (Some(only), None) => only,
        (None, None) => Bytes::new(),
    };
    Ok((bytes, permit))
}

/// The middleware: reads the body before the API sees it.
pub struct BoundedBody {
    limits: BodyLimits,
    reject: Reject,
}

impl BoundedBody {
    /// Bodies within `limits`, refusals rendered by `reject`.
    pub fn new(limits: BodyLimits, reject: Reject) -> BoundedBody {
        BoundedBody { limits, reject }
    }
}

impl<E: Endpoint> Middleware<E> for BoundedBody {
    type Output = BoundedBodyEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        BoundedBodyEndpoint { inner, limits: self.limits.clone(), reject: self.reject.clone() }
    }
}

/// The endpoint [`BoundedBody`] wraps.
pub struct BoundedBodyEndpoint<E> {
    inner: E,
    limits: BodyLimits,
    reject: Reject,
}

impl<E: Endpoint> Endpoint for BoundedBodyEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Response> {
        let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.limits.max_bytes as u64) {
            return Ok((self.reject)(&req, BodyRejection::TooLarge { limit: self.limits.max_bytes }));
        }
        let body = req.take_body();
        if !body.is_empty() {
            let read =
                read_held(body, &self.limits, Some(self.limits.budget.clone()), declared).await.and_then(|read| {
                    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
                    check_syntax(content_type, &read.0)?;
                    Ok(read)
                });
            match read {
                Ok((bytes, held)) => {
                    if let Some(held) = held {
                        req.extensions_mut().insert(Held { _permit: Arc::new(held) });
                    }
                    req.set_body(bytes);
                }
                Err(rejection) => return Ok((self.reject)(&req, rejection)),
            }
        }
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}

/// What the parsers would accept but the body must not hold, by content type: a
/// repeated JSON key, or a form field that is not UTF-8. Malformed JSON passes, for the
/// API's own parser to report.
pub fn check_syntax(content_type: Option<&str>, bytes: &[u8]) -> std::result::Result<(), BodyRejection> {
    let essence = content_type.unwrap_or_default().split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        return match duplicate_key(bytes) {
            Some(path) => Err(BodyRejection::DuplicateKey { path }),
            None => Ok(()),
        };
    }
    if essence == "application/x-www-form-urlencoded" || essence.ends_with("+x-www-form-urlencoded") {
        return check_form(bytes);
    }
    Ok(())
}

/// Every name and value of a form, decoded (`+` and `%XX`), must be UTF-8 (for
/// readers that take a body as a form whatever its content type says).
pub fn check_form(bytes: &[u8]) -> std::result::Result<(), BodyRejection> {
    for pair in bytes.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let mut parts = pair.splitn(2, |b| *b == b'=');
        let name = decode_form(parts.next().unwrap_or_default());
        let value = decode_form(parts.next().unwrap_or_default());
        let name_text = std::str::from_utf8(&name).ok();
        if name_text.is_none() || std::str::from_utf8(&value).is_err() {
            let field = name_text.map_or_else(|| String::from_utf8_lossy(&name).into_owned(), str::to_owned);
            return Err(BodyRejection::InvalidUtf8 { field: if field.is_empty() { "body".into() } else { field } });
        }
    }
    Ok(())
}

fn decode_form(raw: &[u8]) -> Vec<u8> {
    let spaced: Vec<u8> = raw.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect();
    percent_encoding::percent_decode(&spaced).collect()
}

/// The path of the first key a JSON object repeats, if any.
fn duplicate_key(bytes: &[u8]) -> Option<String> {
    use serde::de::DeserializeSeed;
    let found = std::cell::RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let _ = Walk { path: &Path::Root, found: &found }.deserialize(&mut deserializer);
    found.into_inner()
}

/// Where a value sits, built only when a duplicate is reported.
enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn render(&self) -> String {
        match self {
            Path::Root => String::new(),
            Path::Key(parent, key) => match parent.render() {
                p if p.is_empty() => (*key).to_owned(),
                p => format!("{p}.{key}"),
            },
            Path::Index(parent, i) => format!("{}[{i}]", parent.render()),
        }
    }
}

/// Walks a JSON value without keeping it, noting the first repeated key.
struct Walk<'a> {
    path: &'a Path<'a>,
    found: &'a std::cell::RefCell<Option<String>>,
}

impl<'de> serde::de::DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> std::result::Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        let mut i = 0;
        loop {
            let path = Path::Index(self.path, i);
            if seq.next_element_seed(Walk { path: &path, found: self.found })?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        // A list while the object is small (most are), a set past that: a body of
        // 150,000 keys costs linear time, not quadratic.
        let mut few: Vec<Cow<'de, str>> = Vec::new();
        let mut many: std::collections::HashSet<Cow<'de, str>> = std::collections::HashSet::new();
        while let Some(key) = map.next_key_seed(Key)? {
            let repeated = if many.is_empty() { few.contains(&key) } else { many.contains(&key) };
            let path_key: &str = &key;
            let path = Path::Key(self.path, path_key);
            if repeated {
                *self.found.borrow_mut() = Some(path.render());
                return Err(serde::de::Error::custom("duplicate key"));
            }
            map.next_value_seed(Walk { path: &path, found: self.found })?;
            if many.is_empty() && few.len() < 16 {
                few.push(key);
            } else {
                many.extend(few.drain(..));
                many.insert(key);
            }
        }
        Ok(())
    }
}

/// A key, borrowed from the body unless it holds escapes.
struct Key;

impl<'de> serde::de::DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> std::result::Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> std::result::Result<Self::Value, E> {
        Ok(Cow::Borrowed(key))
    }

    fn visit_str<E>(self, key: &str) -> std::result::Result<Self::Value, E> {
        Ok(Cow::Owned(key.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_key_is_found_at_any_depth() {
        assert_eq!(duplicate_key(br#"{"amount":2500,"x":1,"amount":7777}"#).as_deref(), Some("amount"));
        assert_eq!(duplicate_key(br#"{"customer":{"email":"a","email":"b"}}"#).as_deref(), Some("customer.email"));
        assert_eq!(duplicate_key(br#"{"items":[{"n":1},{"n":1,"n":2}]}"#).as_deref(), Some("items[1].n"));
        assert_eq!(duplicate_key(br#"{"a\u0062":1,"ab":2}"#).as_deref(), Some("ab"), "escaped keys compare decoded");
        assert_eq!(duplicate_key(br#"{"a":{"k":1},"b":{"k":1},"amount":12.50}"#), None, "same key, other objects");
        assert_eq!(duplicate_key(b"{not json"), None, "left to the API's parser");
        let many: Vec<String> = (0..50_000).map(|i| format!("\"k{i}\":0")).collect();
        let mut body = format!("{{{}}}", many.join(","));
        let started = std::time::Instant::now();
        assert_eq!(duplicate_key(body.as_bytes()), None);
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "linear in the keys: {:?}", started.elapsed());
        body.insert_str(body.len() - 1, ",\"k7\":1");
        assert_eq!(duplicate_key(body.as_bytes()).as_deref(), Some("k7"), "found past the first sixteen");
    }

    #[test]
    fn forms_must_decode_to_utf8() {
        assert!(check_form(b"title=T%C3%A9st&amount=1").is_ok());
        assert!(check_form(b"a+b=c+d&&x=").is_ok());
        assert_eq!(check_form(b"title=T%FF%FEx"), Err(BodyRejection::InvalidUtf8 { field: "title".into() }));
        assert!(matches!(check_form(b"ti%FFtle=x"), Err(BodyRejection::InvalidUtf8 { .. })));
        assert_eq!(
            check_syntax(Some("application/x-www-form-urlencoded; charset=utf-8"), b"t=%FF"),
            Err(BodyRejection::InvalidUtf8 { field: "t".into() })
        );
        assert_eq!(check_syntax(Some("text/plain"), b"t=%FF"), Ok(()));
    }
}
