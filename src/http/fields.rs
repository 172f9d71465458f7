//! Checks of the request fields several dialects share (customer contact details,
//! metadata, URLs), each recording a [`FieldIssue`] under the dialect's field name so
//! a request reports every bad field at once.

use crate::core::payer::{valid_email, valid_phone};
use crate::core::{CoreError, Currency, FieldIssue, Money, check_url};
use crate::http::wire::JsonDecimal;

/// At most `max` characters.
pub fn check_len(field: &str, value: Option<&str>, max: usize, issues: &mut Vec<FieldIssue>) {
    if value.is_some_and(|v| v.chars().count() > max) {
        issues.push(FieldIssue::new(field, format!("must be at most {max} characters")));
    }
}

/// A phone number: 6 to 20 digits, with `+`, spaces, dashes and parentheses allowed.
pub fn check_phone(field: &str, phone: Option<&str>, issues: &mut Vec<FieldIssue>) {
    if phone.is_some_and(|p| !valid_phone(p)) {
        issues.push(FieldIssue::new(field, "must be a phone number of 6 to 20 digits"));
    }
}

/// An email address (`user@host.tld`, at most 254 characters).
pub fn check_email(field: &str, email: Option<&str>, issues: &mut Vec<FieldIssue>) {
    if email.is_some_and(|e| !valid_email(e)) {
        issues.push(FieldIssue::new(field, "must be an email address"));
    }
}

/// The merchant's metadata: a JSON object of at most 8 KiB.
pub fn check_metadata(field: &str, metadata: Option<&serde_json::Value>, issues: &mut Vec<FieldIssue>) {
    let Some(metadata) = metadata else { return };
    if !metadata.is_object() {
        issues.push(FieldIssue::new(field, "must be a JSON object"));
    } else {
        check_json_size(field, metadata, issues);
    }
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

/// Optional absolute http(s) URLs, by field name.
pub fn check_urls(urls: &[(&str, &Option<String>)], issues: &mut Vec<FieldIssue>) {
    for (field, url) in urls {
        if let Some(url) = url {
            check_url(field, url, issues);
        }
    }
}

/// `amount`: major units of `currency` (a JSON number as written), recording an issue
/// when it is not one.
pub fn major_amount(amount: &JsonDecimal, currency: Currency, issues: &mut Vec<FieldIssue>) -> Option<Money> {
    match Money::parse_major(amount.as_str(), currency) {
        Ok(money) => Some(money),
        Err(e) => {
            issues.push(FieldIssue::new("amount", e.to_string()));
            None
        }
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
        assert!(issues(|i| check_phone("p", Some("+880 1712-345678"), i)).is_empty());
        assert_eq!(issues(|i| check_phone("p", Some("12345"), i)), ["p"]);
        assert_eq!(issues(|i| check_phone("p", Some("0171234567x"), i)), ["p"]);
        assert!(issues(|i| check_email("e", Some("a@b.co"), i)).is_empty());
        assert_eq!(issues(|i| check_email("e", Some("a@b"), i)), ["e"]);
        assert_eq!(issues(|i| check_metadata("m", Some(&serde_json::json!([1])), i)), ["m"]);
        assert_eq!(issues(|i| check_len("n", Some("abcd"), 3, i)), ["n"]);
        assert!(issues(|i| check_len("n", Some("abc"), 3, i)).is_empty());
        assert_eq!(issues(|i| check_urls(&[("u", &Some("ftp://x".into())), ("v", &None)], i)), ["u"]);
        assert_eq!(paging(None, None).unwrap(), (1, 20));
        assert_eq!(paging(Some(3), Some(100)).unwrap(), (3, 100));
        for (page, limit) in [(Some(0), None), (Some(-1), None), (None, Some(0)), (None, Some(101))] {
            assert!(paging(page, limit).is_err(), "{page:?} {limit:?}");
        }
    }
}
