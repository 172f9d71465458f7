//! The checkout form: what the customer submits, checked field by field with QR Money's
//! validation codes shown as readable messages. The card number and CVV are turned into
//! a [`Card`] here, which the processor charges; only its brand and last four digits
//! are kept.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::adapters::qrmoney::codes;
use crate::core::PaymentInstrument;
use crate::core::instrument::{Card, Wallet};
use crate::core::payer;

/// The methods a customer can pick, with their display names.
pub const METHODS: &[(&str, &str)] =
    &[("bkash", "bKash"), ("nagad", "Nagad"), ("rocket", "Rocket"), ("upay", "Upay"), ("upi", "UPI"), ("card", "Card")];

/// A method's display name.
pub fn method_name(method: &str) -> &'static str {
    METHODS.iter().find(|(m, _)| *m == method).map_or("Wallet", |(_, name)| name)
}

/// The submitted form. Everything is optional here; [`CheckoutForm::instrument`] says
/// what is missing.
#[derive(Debug, Default, Deserialize)]
pub struct CheckoutForm {
    /// The CSRF token of the page.
    #[serde(default)]
    pub csrf: String,
    /// `pay` or `cancel`.
    #[serde(default)]
    pub action: String,
    /// The method paid with.
    pub method: Option<String>,
    /// Wallet number.
    pub wallet_phone: Option<String>,
    /// Wallet PIN or OTP.
    pub wallet_pin: Option<String>,
    /// Card holder name.
    pub card_name: Option<String>,
    /// Card number.
    pub card_number: Option<String>,
    /// Expiry, MM/YY.
    pub card_expiry: Option<String>,
    /// CVV.
    pub card_cvv: Option<String>,
    /// Payer email.
    pub email: Option<String>,
    /// Payer phone.
    pub phone: Option<String>,
    /// Payer address.
    pub address: Option<String>,
    /// Payer city.
    pub city: Option<String>,
    /// Payer state.
    pub state: Option<String>,
    /// Payer postal code.
    pub postal_code: Option<String>,
    /// Payer country, ISO 3166-1 alpha-2.
    pub country: Option<String>,
}

/// Messages by form field name: "Invalid card number (040)".
pub type FieldErrors = BTreeMap<&'static str, String>;

fn error(code: &str) -> String {
    format!("{} ({code})", codes::known(code))
}

fn text(value: &Option<String>) -> &str {
    value.as_deref().map(str::trim).unwrap_or_default()
}

impl CheckoutForm {
    /// The instrument for `method`, or the message of every field that is wrong.
    pub fn instrument(&self, method: &str) -> Result<PaymentInstrument, FieldErrors> {
        let mut errors = FieldErrors::new();
        if method == "card" {
            let checks = [
                ("card_name", payer::valid_name(text(&self.card_name)), "025"),
                ("email", payer::valid_email(text(&self.email)), "009"),
                ("phone", payer::valid_phone(text(&self.phone)), "033"),
                ("address", payer::valid_line(text(&self.address)), "034"),
                ("city", payer::valid_line(text(&self.city)), "035"),
                ("state", payer::valid_line(text(&self.state)), "036"),
                ("postal_code", payer::valid_postal_code(text(&self.postal_code)), "010"),
                ("country", payer::valid_country(text(&self.country)), "037"),
            ];
            for (field, valid, code) in checks {
                if !valid {
                    errors.insert(field, error(code));
                }
            }
            match Card::parse(text(&self.card_number), text(&self.card_expiry), text(&self.card_cvv), "") {
                Ok(card) if errors.is_empty() => return Ok(PaymentInstrument::Card(card)),
                Ok(_) => {}
                Err(issues) => {
                    for issue in issues {
                        let (field, code) = match issue.field.as_str() {
                            "number" => ("card_number", "040"),
                            "expiry" => ("card_expiry", "041"),
                            _ => ("card_cvv", "042"),
                        };
                        errors.insert(field, error(code));
                    }
                }
            }
            return Err(errors);
        }
        let pin = text(&self.wallet_pin);
        if !(4..=6).contains(&pin.len()) || !pin.chars().all(|c| c.is_ascii_digit()) {
            errors.insert("wallet_pin", error("006"));
        }
        match Wallet::parse(text(&self.wallet_phone), "wallet_phone") {
            Ok(wallet) if errors.is_empty() => Ok(PaymentInstrument::Wallet(wallet)),
            Ok(_) => Err(errors),
            Err(_) => {
                errors.insert("wallet_phone", error("033"));
                Err(errors)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card_form() -> CheckoutForm {
        CheckoutForm {
            card_name: Some("Karim Rahman".into()),
            card_number: Some("4242 4242 4242 4242".into()),
            card_expiry: Some("12/99".into()),
            card_cvv: Some("123".into()),
            email: Some("karim@example.com".into()),
            phone: Some("+8801711000000".into()),
            address: Some("1 Road".into()),
            city: Some("Dhaka".into()),
            state: Some("Dhaka".into()),
            postal_code: Some("1207".into()),
            country: Some("BD".into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_complete_card_form_gives_brand_and_last_four_only() {
        let instrument = card_form().instrument("card").unwrap();
        assert!(matches!(instrument, PaymentInstrument::Card(ref c) if c.last4 == "4242" && c.brand == "visa"));
    }

    #[test]
    fn each_bad_card_field_gets_its_qr_money_code() {
        let form = CheckoutForm {
            card_name: Some("1".into()),
            card_number: Some("4242424242424241".into()),
            card_expiry: Some("01/20".into()),
            card_cvv: Some("1".into()),
            country: Some("XX".into()),
            ..card_form()
        };
        let errors = form.instrument("card").unwrap_err();
        assert_eq!(errors["card_name"], "Invalid name (025)");
        assert_eq!(errors["card_number"], "Invalid card number (040)");
        assert_eq!(errors["card_expiry"], "Invalid card expiration (041)");
        assert_eq!(errors["card_cvv"], "Invalid card CVV (042)");
        assert_eq!(errors["country"], "Invalid country (037)");
    }

    #[test]
    fn wallets_need_a_number_and_a_pin() {
        let form = CheckoutForm {
            wallet_phone: Some("01711000000".into()),
            wallet_pin: Some("12".into()),
            ..Default::default()
        };
        let errors = form.instrument("bkash").unwrap_err();
        assert_eq!(errors.keys().copied().collect::<Vec<_>>(), ["wallet_pin"]);
        let form = CheckoutForm {
            wallet_phone: Some("01711000000".into()),
            wallet_pin: Some("1234".into()),
            ..Default::default()
        };
        assert!(form.instrument("bkash").is_ok());
    }
}
