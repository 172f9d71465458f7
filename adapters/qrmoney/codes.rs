//! QR Money's result codes (shared/seeds/qrmoney-h2h.txt): 001–024, 047, 998 and 999
//! name a payment attempt's decline — each a core [`Decline`] reason, whose message is
//! the seed's — and 025–048 (047 aside) name a request's validation failures (the
//! hosted checkout shows them beside its fields too).

use crate::core::Decline;

/// Declines, by code.
pub const DECLINES: &[(&str, Decline)] = &[
    ("001", Decline::BankError),
    ("002", Decline::InvalidCard),
    ("003", Decline::CardRestricted),
    ("004", Decline::AuthenticationFailed),
    ("005", Decline::InsufficientFunds),
    ("006", Decline::IncorrectSecurityCode),
    ("007", Decline::RiskControl),
    ("008", Decline::UnsupportedCard),
    ("009", Decline::InvalidEmail),
    ("010", Decline::InvalidPostalCode),
    ("011", Decline::CredentialsRefused),
    ("012", Decline::Cancelled),
    ("013", Decline::AuthenticationTimeout),
    ("014", Decline::OriginBlocked),
    ("015", Decline::CallbackNotAllowed),
    ("016", Decline::EmailBlocked),
    ("017", Decline::CardBlocked),
    ("018", Decline::AboveMaxAmount),
    ("019", Decline::BelowMinAmount),
    ("020", Decline::CurrencyNotAllowed),
    ("021", Decline::DailyCountExceeded),
    ("022", Decline::MonthlyCountExceeded),
    ("023", Decline::DailyTotalExceeded),
    ("024", Decline::MonthlyTotalExceeded),
    ("047", Decline::CountryNotAllowed),
    ("998", Decline::ProcessorError),
    ("999", Decline::IssuerDeclined),
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
    ("048", "Invalid token"),
];

/// The code of a decline reason.
pub fn code_of(reason: Decline) -> &'static str {
    DECLINES.iter().find(|(_, r)| *r == reason).map_or("999", |(code, _)| code)
}

/// The message of a code, decline or validation.
pub fn message(code: &str) -> Option<&'static str> {
    DECLINES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, reason)| reason.message())
        .or_else(|| VALIDATION.iter().find(|(c, _)| *c == code).map(|(_, m)| *m))
}

/// The message of a code known to be in the tables.
pub fn known(code: &str) -> &'static str {
    message(code).unwrap_or(Decline::IssuerDeclined.message())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_of_the_seed_is_here_once() {
        let mut codes: Vec<u16> = DECLINES
            .iter()
            .map(|(c, _)| *c)
            .chain(VALIDATION.iter().map(|(c, _)| *c))
            .map(|c| c.parse().unwrap())
            .collect();
        codes.sort_unstable();
        let expected: Vec<u16> = (1..=48).chain([998, 999]).collect();
        assert_eq!(codes, expected);
        assert_eq!(message("040"), Some("Invalid card number"));
        assert_eq!(message("047"), Some("Declined: Country is not allowed"));
    }

    #[test]
    fn every_decline_reason_has_one_code() {
        for reason in Decline::ALL {
            assert_eq!(DECLINES.iter().filter(|(_, r)| r == reason).count(), 1, "{reason}");
        }
    }
}
