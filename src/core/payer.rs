//! The payer's details a card payment carries, checked the same way wherever they
//! arrive: the hosted checkout's card form, a host-to-host charge (QR Money's request),
//! an account policy's lists. Dialects map a failed rule to their own codes.

/// A card holder or payer name: 2–100 letters, spaces, `.`, `'` or `-`.
pub fn valid_name(name: &str) -> bool {
    (2..=100).contains(&name.chars().count()) && name.chars().all(|c| c.is_alphabetic() || " .'-".contains(c))
}

/// An email address: `user@host.tld`, at most 254 characters.
pub fn valid_email(email: &str) -> bool {
    email.len() <= 254
        && email.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty() && host.contains('.') && !host.ends_with('.') && !host.contains('@')
        })
}

/// A phone number: 6–20 digits, optionally with spaces, `+`, `-` or brackets.
pub fn valid_phone(phone: &str) -> bool {
    if phone.chars().count() > 30 {
        return false;
    }
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    (6..=20).contains(&digits) && phone.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c))
}

/// An address line, city or state: 2–100 characters.
pub fn valid_line(text: &str) -> bool {
    (2..=100).contains(&text.chars().count()) && !text.chars().any(char::is_control)
}

/// A postal code: 2–12 letters, digits, spaces or `-`.
pub fn valid_postal_code(code: &str) -> bool {
    (2..=12).contains(&code.len()) && code.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
}

/// An ISO 3166-1 alpha-2 country code, either case.
pub fn valid_country(code: &str) -> bool {
    code.len() == 2 && code.to_ascii_uppercase().parse::<iso_country::Country>().is_ok()
}

/// A domain name: dot-separated labels of letters, digits and `-`, at most 253
/// characters, with at least one dot.
pub fn valid_domain(domain: &str) -> bool {
    domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
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

    #[test]
    fn domains_need_a_dot_and_clean_labels() {
        assert!(valid_domain("shop.example.com") && !valid_domain("localhost") && !valid_domain("-a.com"));
        assert!(!valid_domain("not a domain") && !valid_domain(&format!("{}.com", "a".repeat(64))));
    }
}
