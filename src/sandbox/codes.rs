//! QR Money's result codes (shared/seeds/qrmoney-h2h.txt), the sandbox processor's
//! vocabulary: 001–024, 998 and 999 are declines of a payment attempt; 025–048 are
//! validation failures of the request (shown beside the checkout page's fields).

/// Declines, by code.
pub const DECLINES: &[(&str, &str)] = &[
    ("001", "Bank system error. Try again later"),
    ("002", "Invalid or expired card"),
    ("003", "Card is blocked or restricted"),
    ("004", "3DS system decline"),
    ("005", "Insufficient funds"),
    ("006", "Security code (CVV/PIN) incorrect"),
    ("007", "Transaction blocked due to risk control"),
    ("008", "Unsupported card type"),
    ("009", "Invalid email address format"),
    ("010", "Invalid postal/zip code"),
    ("011", "Invalid credentials or encryption error"),
    ("012", "Transaction was cancelled"),
    ("013", "Authentication timed out"),
    ("014", "Declined: Origin domain is blocked"),
    ("015", "Declined: Callback URL is not allowed"),
    ("016", "Declined: Email is blocked due high CHB history"),
    ("017", "Declined: Card is blocked due high CHB history"),
    ("018", "Declined: Transaction exceeds max amount"),
    ("019", "Declined: Transaction less than min amount"),
    ("020", "Declined: Currency is not allowed"),
    ("021", "Declined: Number of transactions exceeded for today"),
    ("022", "Declined: Number of transactions exceeded this month"),
    ("023", "Declined: Total transaction amount exceeded for today"),
    ("024", "Declined: Total transaction amount exceeded this month"),
    ("998", "System internal error. Contact system administrator"),
    ("999", "Transaction declined. Contact your card issuer"),
];

/// Validation failures, by code.
pub const VALIDATION: &[(&str, &str)] = &[
    ("025", "Invalid name"),
    ("026", "Invalid total amount"),
    ("027", "Invalid currency"),
    ("028", "Invalid reference"),
    ("029", "Invalid notify URL"),
    ("030", "Invalid success URL"),
    ("031", "Invalid failure URL"),
    ("032", "Invalid origin domain"),
    ("033", "Invalid phone number"),
    ("034", "Invalid address"),
    ("035", "Invalid city"),
    ("036", "Invalid state"),
    ("037", "Invalid country"),
    ("038", "Invalid UPI"),
    ("039", "Invalid capture delay hours"),
    ("040", "Invalid card number"),
    ("041", "Invalid card expiration"),
    ("042", "Invalid card CVV"),
    ("043", "Entity not found"),
    ("044", "Invalid customer"),
    ("045", "Invalid payment method"),
    ("046", "Invalid payment provider"),
    ("047", "Declined: Country is not allowed"),
    ("048", "Invalid token"),
];

/// The message of a code, decline or validation.
pub fn message(code: &str) -> Option<&'static str> {
    DECLINES.iter().chain(VALIDATION).find(|(c, _)| *c == code).map(|(_, m)| *m)
}

/// A processor attempt with this code and its message from the tables.
pub fn attempt(code: &str) -> crate::core::AttemptLog {
    crate::core::AttemptLog { code: code.to_owned(), message: known(code).to_owned() }
}

/// The message of a code known to be in the tables.
pub fn known(code: &str) -> &'static str {
    message(code).unwrap_or("Transaction declined. Contact your card issuer")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_of_the_seed_is_here_once() {
        let mut codes: Vec<u16> = DECLINES.iter().chain(VALIDATION).map(|(c, _)| c.parse().unwrap()).collect();
        codes.sort_unstable();
        let expected: Vec<u16> = (1..=48).chain([998, 999]).collect();
        assert_eq!(codes, expected);
        assert_eq!(message("040"), Some("Invalid card number"));
    }
}
