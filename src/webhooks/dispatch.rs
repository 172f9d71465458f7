//! Which dialect speaks for an event: a payment's or refund's event goes to the dialect
//! the payment was created through, a test ping to the dialect that asked for it, and a
//! merchant-level event (a settlement) to every dialect the merchant has credentials
//! for. Each dialect then decides whether and what it sends.

use crate::core::{Credential, Dialect, Event, Merchant, NewDelivery};

/// The deliveries `event` makes for `merchant`.
pub fn deliveries(event: &Event, merchant: &Merchant, credentials: &[Credential]) -> Vec<NewDelivery> {
    let mut dialects: Vec<Dialect> = match event.origin {
        Some(dialect) => vec![dialect],
        None => credentials.iter().map(|c| c.dialect).collect(),
    };
    dialects.sort_by_key(|d| d.as_str());
    dialects.dedup();
    let subject_key = event.subject_key();
    let mut out = Vec::new();
    for dialect in dialects {
        let hooks = crate::adapters::webhooks(dialect);
        let theirs: Vec<&Credential> = credentials.iter().filter(|c| c.dialect == dialect && c.active).collect();
        let Some(credential) = hooks.signer(event, &theirs) else { continue };
        if let Some(formatted) = hooks.format(event, merchant, credential) {
            out.push(NewDelivery {
                dialect,
                credential_id: Some(credential.id),
                event_type: formatted.event_type.to_owned(),
                subject_key: subject_key.clone(),
                url: formatted.url,
                content_type: formatted.content_type.to_owned(),
                body: formatted.body,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{DialectSettings, MerchantStatus, PayrequestSettings, QrmoneySettings, ShadhinpaySettings};

    fn settings(dialect: Dialect) -> DialectSettings {
        match dialect {
            Dialect::Rebornpay => DialectSettings::Rebornpay,
            Dialect::Starpay => DialectSettings::Starpay,
            Dialect::Shadhinpay => DialectSettings::Shadhinpay(ShadhinpaySettings { business_id: "biz_1".into() }),
            Dialect::Payrequest => DialectSettings::Payrequest(PayrequestSettings::default()),
            Dialect::Qrmoney => {
                DialectSettings::Qrmoney(QrmoneySettings { account_id: "1001".into(), merchant_id: "m-1".into() })
            }
        }
    }

    fn credential(id: i64, dialect: Dialect) -> Credential {
        Credential {
            id,
            merchant_id: 1,
            dialect,
            key_id: format!("key{id}"),
            secret: format!("secret{id}").into(),
            role: None,
            label: None,
            settings: settings(dialect),
            require_signature: false,
            active: true,
        }
    }

    #[test]
    fn a_merchant_event_makes_one_delivery_per_dialect() {
        let merchant = Merchant {
            id: 1,
            name: "Shop".into(),
            status: MerchantStatus::Approved,
            webhook_url: Some("https://shop.example/hooks".into()),
            ip_allowlist: vec![],
            rate_limit_per_minute: 0,
            default_currency: "BDT".into(),
            created_at: chrono::Utc::now(),
        };
        // A merchant-level event: every dialect of the merchant hears it.
        let settlement = crate::core::Settlement {
            id: 4,
            merchant_id: 1,
            amount: crate::core::Money::from_minor(500, crate::core::Currency::parse("BDT").unwrap()).unwrap(),
            status: crate::core::SettlementStatus::Paid,
            created_at: chrono::Utc::now(),
            paid_at: Some(chrono::Utc::now()),
        };
        let event = Event {
            id: 7,
            merchant_id: 1,
            kind: crate::core::EventType::SettlementPaid,
            origin: None,
            payload: crate::core::Payload::Settlement(settlement),
            created_at: chrono::Utc::now(),
        };
        // A second REBORNPAY key issued after another dialect's credential.
        let credentials =
            [credential(1, Dialect::Rebornpay), credential(2, Dialect::Shadhinpay), credential(3, Dialect::Rebornpay)];
        let made = deliveries(&event, &merchant, &credentials);
        let rebornpay = made.iter().filter(|d| d.dialect == Dialect::Rebornpay).count();
        assert_eq!(rebornpay, 1, "{made:?}");
        assert_eq!(made[0].credential_id, Some(1), "the dialect's first credential signs");
    }
}
