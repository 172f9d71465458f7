//! Checks of the request fields several dialects share (customer contact details,
//! metadata, URLs), each recording a [`FieldIssue`] under the dialect's field name so
//! a request reports every bad field at once.

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

// The payer's details a card payment carries (QR Money's fields), checked the same way
// wherever they arrive: in the hosted checkout's card form and in QR Money's
// host-to-host request. Each rule is the one behind a QR Money code.

/// A card holder or payer name (QR Money 025): 2–100 letters, spaces, `.`, `'` or `-`.
pub fn valid_name(name: &str) -> bool {
    (2..=100).contains(&name.chars().count()) && name.chars().all(|c| c.is_alphabetic() || " .'-".contains(c))
}

/// An email address (009): `user@host.tld`, at most 254 characters.
pub fn valid_email(email: &str) -> bool {
    email.len() <= 254
        && email.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty() && host.contains('.') && !host.ends_with('.') && !host.contains('@')
        })
}

/// A phone number (033): 6–20 digits, optionally with spaces, `+`, `-` or brackets.
pub fn valid_phone(phone: &str) -> bool {
    if phone.chars().count() > 30 {
        return false;
    }
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    (6..=20).contains(&digits) && phone.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c))
}

/// An address line, city or state (034, 035, 036): 2–100 characters.
pub fn valid_line(text: &str) -> bool {
    (2..=100).contains(&text.chars().count()) && !text.chars().any(char::is_control)
}

/// A postal code (010): 2–12 letters, digits, spaces or `-`.
pub fn valid_postal_code(code: &str) -> bool {
    (2..=12).contains(&code.len()) && code.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
}

/// An ISO 3166-1 alpha-2 country code (037), either case.
pub fn valid_country(code: &str) -> bool {
    code.len() == 2 && code.to_ascii_uppercase().parse::<iso_country::Country>().is_ok()
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

    #[test]
    fn each_rule_accepts_the_ordinary_and_refuses_the_wrong() {
        assert!(valid_name("John O'Neil-Smith") && !valid_name("J") && !valid_name("R2D2"));
        assert!(valid_email("a@b.co") && !valid_email("a@b") && !valid_email("@b.co") && !valid_email("a@b@c.d"));
        assert!(valid_phone("+1 (305) 555-0100") && !valid_phone("12345") && !valid_phone("555-CALL-NOW"));
        assert!(valid_line("Miami") && !valid_line("M") && !valid_line("a\nb"));
        assert!(valid_postal_code("33101") && valid_postal_code("SW1A 1AA") && !valid_postal_code("3"));
        assert!(valid_country("US") && valid_country("bd") && !valid_country("XX") && !valid_country("USA"));
    }

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
