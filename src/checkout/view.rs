//! What the checkout pages show, rendered with askama from `templates/checkout/`.

use askama::Template;
use chrono::{DateTime, Utc};

use super::form::{CheckoutForm, FieldErrors, METHODS, method_name};
use crate::core::{Merchant, Money, Payment};

/// The payment as the customer sees it.
pub struct Summary {
    /// Merchant name.
    pub merchant: String,
    /// Amount with its currency, grouped: "2,500.00 BDT".
    pub amount: String,
    /// The merchant's reference.
    pub reference: String,
    /// What is paid for.
    pub description: Option<String>,
    /// "Expires in 14 minutes".
    pub expiry: String,
}

impl Summary {
    /// The summary of `payment` at `now`.
    pub fn new(payment: &Payment, merchant: &Merchant, now: DateTime<Utc>) -> Summary {
        Summary {
            merchant: merchant.name.clone(),
            amount: format_amount(&payment.amount),
            reference: payment.reference.clone(),
            description: payment.description.clone(),
            expiry: expiry_text(payment.expires_at, now),
        }
    }
}

/// An amount grouped by thousands with the currency's decimals: "2,500.00 BDT".
pub fn format_amount(money: &Money) -> String {
    format_minor(money.minor(), money.currency())
}

/// Signed minor units of `currency` as [`format_amount`] writes them ("-12.50 BDT").
pub fn format_minor(minor: i64, currency: crate::core::Currency) -> String {
    let exponent = usize::from(currency.exponent());
    let digits = minor.unsigned_abs().to_string();
    let digits = format!("{digits:0>width$}", width = exponent + 1);
    let (whole, fraction) = digits.split_at(digits.len() - exponent);
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if minor < 0 { "-" } else { "" };
    if fraction.is_empty() {
        format!("{sign}{grouped} {currency}")
    } else {
        format!("{sign}{grouped}.{fraction} {currency}")
    }
}

/// How long is left, in words.
pub fn expiry_text(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let left = (expires_at - now).num_seconds();
    let at = expires_at.format("%H:%M UTC");
    match left {
        ..=0 => "This payment link has expired.".to_owned(),
        1..=59 => format!("Expires in {left} seconds (at {at})."),
        60..=119 => format!("Expires in 1 minute (at {at})."),
        _ if left < 7200 => format!("Expires in {} minutes (at {at}).", left / 60),
        _ => format!("Expires in {} hours (at {at}).", left / 3600),
    }
}

/// A form field.
pub struct Field {
    /// Input name.
    pub name: &'static str,
    /// Label.
    pub label: &'static str,
    /// Input type.
    pub kind: &'static str,
    /// Autocomplete hint.
    pub autocomplete: &'static str,
    /// Placeholder.
    pub placeholder: &'static str,
    /// Value to show again (never a card number or CVV).
    pub value: String,
    /// Error message, or empty.
    pub error: String,
}

/// The payment form.
#[derive(Template)]
#[template(path = "checkout/pay.html")]
pub struct PayPage {
    /// Summary.
    pub summary: Summary,
    /// Checkout token.
    pub token: String,
    /// CSRF token.
    pub csrf: String,
    /// The method shown.
    pub method: String,
    /// Its display name.
    pub method_name: &'static str,
    /// Whether the merchant fixed the method (no picker).
    pub fixed_method: bool,
    /// (method, name, selected) for the picker.
    pub methods: Vec<(&'static str, &'static str, bool)>,
    /// The method's fields.
    pub fields: Vec<Field>,
}

impl PayPage {
    /// The form for `method`, refilled from `form` (card number and CVV excepted) with
    /// `errors` beside their fields.
    pub fn new(
        summary: Summary,
        token: &str,
        csrf: String,
        method: &str,
        fixed: bool,
        form: &CheckoutForm,
        errors: &FieldErrors,
    ) -> PayPage {
        let field = |name, label, kind, autocomplete, placeholder, value: &Option<String>| Field {
            name,
            label,
            kind,
            autocomplete,
            placeholder,
            value: value.clone().unwrap_or_default(),
            error: errors.get(name).cloned().unwrap_or_default(),
        };
        let none = None;
        let fields = if method == "card" {
            vec![
                field("card_name", "Card holder name", "text", "cc-name", "", &form.card_name),
                field("card_number", "Card number", "text", "cc-number", "4242 4242 4242 4242", &none),
                field("card_expiry", "Expiry (MM/YY)", "text", "cc-exp", "MM/YY", &form.card_expiry),
                field("card_cvv", "CVV", "password", "cc-csc", "", &none),
                field("email", "Email", "email", "email", "", &form.email),
                field("phone", "Phone", "tel", "tel", "", &form.phone),
                field("address", "Address", "text", "street-address", "", &form.address),
                field("city", "City", "text", "address-level2", "", &form.city),
                field("state", "State", "text", "address-level1", "", &form.state),
                field("postal_code", "Postal code", "text", "postal-code", "", &form.postal_code),
                field("country", "Country (2 letters)", "text", "country", "BD", &form.country),
            ]
        } else {
            vec![
                field("wallet_phone", "Wallet number", "tel", "tel", "01XXXXXXXXX", &form.wallet_phone),
                field("wallet_pin", "PIN / OTP", "password", "one-time-code", "", &none),
            ]
        };
        PayPage {
            summary,
            token: token.to_owned(),
            csrf,
            method: method.to_owned(),
            method_name: method_name(method),
            fixed_method: fixed,
            methods: METHODS.iter().map(|(m, name)| (*m, *name, *m == method)).collect(),
            fields,
        }
    }
}

/// The page of a decided (or undecidable) payment.
#[derive(Template)]
#[template(path = "checkout/result.html")]
pub struct ResultPage {
    /// Summary.
    pub summary: Summary,
    /// Headline.
    pub title: String,
    /// Explanation.
    pub message: String,
    /// `ok`, `wait` or `bad`.
    pub tone: &'static str,
    /// Back to the merchant.
    pub return_url: Option<String>,
}

/// The sandbox's 3-D Secure challenge of a card payment awaiting its issuer.
#[derive(Template)]
#[template(path = "checkout/challenge.html")]
pub struct ChallengePage {
    /// Summary.
    pub summary: Summary,
    /// Checkout token.
    pub token: String,
    /// CSRF token.
    pub csrf: String,
    /// "visa •••• 0002", or empty.
    pub card: String,
}

/// A page with no payment behind it.
#[derive(Template)]
#[template(path = "checkout/missing.html")]
pub struct MissingPage {
    /// Headline.
    pub title: String,
    /// Explanation.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Currency;

    fn money(minor: i64, code: &str) -> Money {
        Money::from_minor(minor, Currency::parse(code).unwrap()).unwrap()
    }

    #[test]
    fn amounts_are_grouped_with_their_currency_decimals() {
        assert_eq!(format_amount(&money(250_000, "BDT")), "2,500.00 BDT");
        assert_eq!(format_amount(&money(5, "BDT")), "0.05 BDT");
        assert_eq!(format_amount(&money(1_234_567, "JPY")), "1,234,567 JPY");
        assert_eq!(format_amount(&money(1_500, "KWD")), "1.500 KWD");
        assert_eq!(format_amount(&money(123_456_789, "BTC")), "1.23456789 BTC");
    }

    #[test]
    fn expiry_reads_in_words() {
        let now = Utc::now();
        assert!(expiry_text(now + chrono::Duration::minutes(15), now).starts_with("Expires in 15 minutes"));
        assert!(expiry_text(now + chrono::Duration::seconds(30), now).starts_with("Expires in 30 seconds"));
        assert_eq!(expiry_text(now, now), "This payment link has expired.");
    }
}
