//! What the dashboard's pages show, rendered with askama from `templates/dashboard/`.
//! Everything is turned into display text here (amounts per currency as the checkout
//! writes them, times in UTC with a relative time), so the templates only lay it out.

use askama::Template;
use chrono::{DateTime, Utc};

use crate::checkout::view::{format_amount, format_minor};
use crate::core::{
    Attempt, Balance, Credential, Delivery, EventRecord, LedgerTransaction, Merchant, Payment, Payout, Refund,
};

/// A message for the page after a form, kept in a cookie for one redirect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    /// `ok` or `bad`.
    pub tone: &'static str,
    /// What happened.
    pub text: String,
}

impl Flash {
    /// The longest message kept: encoded, it stays well inside a cookie's 4 KB.
    const MAX_CHARS: usize = 300;

    /// Something done.
    pub fn ok(text: impl Into<String>) -> Flash {
        Flash { tone: "ok", text: Flash::cut(text.into()) }
    }

    /// Something refused.
    pub fn bad(text: impl Into<String>) -> Flash {
        Flash { tone: "bad", text: Flash::cut(text.into()) }
    }

    fn cut(text: String) -> String {
        if text.chars().count() <= Flash::MAX_CHARS {
            return text;
        }
        let mut cut: String = text.chars().take(Flash::MAX_CHARS - 1).collect();
        cut.push('…');
        cut
    }

    /// As the cookie carries it.
    pub fn encode(&self) -> String {
        super::cookie_text(&format!("{}:{}", self.tone, self.text))
    }

    /// From the cookie.
    pub fn decode(cookie: &str) -> Option<Flash> {
        let text = super::from_cookie_text(cookie)?;
        let (tone, text) = text.split_once(':')?;
        let tone = match tone {
            "ok" => "ok",
            "bad" => "bad",
            _ => return None,
        };
        Some(Flash { tone, text: Flash::cut(text.to_owned()) })
    }
}

/// What every signed-in page shares: its title, the navigation, the CSRF token of its
/// forms, a message from the last form.
pub struct Chrome {
    /// Page title.
    pub title: String,
    /// Which navigation entry is this page's.
    pub nav: &'static str,
    /// The session's CSRF token.
    pub csrf: String,
    /// The last form's message.
    pub flash: Option<Flash>,
    /// The core's time, in UTC.
    pub now: String,
}

/// A time in UTC with how long ago it was.
pub struct When {
    /// RFC 3339, for `<time datetime>`.
    pub iso: String,
    /// `2026-12-03 10:24:42 UTC`.
    pub utc: String,
    /// `3 min ago`, `in 14 min`.
    pub ago: String,
}

impl When {
    /// `at` seen at `now`.
    pub fn new(at: DateTime<Utc>, now: DateTime<Utc>) -> When {
        When {
            iso: at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            utc: at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            ago: relative(at, now),
        }
    }
}

/// How far `at` is from `now`, in words.
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - at).num_seconds();
    let span = secs.unsigned_abs();
    let words = match span {
        0..=9 => return "just now".to_owned(),
        10..=59 => format!("{span} s"),
        60..=3599 => format!("{} min", span / 60),
        3600..=86_399 => format!("{} h", span / 3600),
        _ => format!("{} d", span / 86_400),
    };
    if secs >= 0 { format!("{words} ago") } else { format!("in {words}") }
}

/// The tone of a status badge.
pub fn tone(status: &str) -> &'static str {
    match status {
        "succeeded" | "approved" | "delivered" | "processed" | "paid" | "active" => "ok",
        "failed" | "dead" | "rejected" | "suspended" | "cancelled" | "expired" => "bad",
        _ => "wait",
    }
}

/// A payment in a list.
pub struct PaymentRow {
    pub id: i64,
    pub reference: String,
    pub merchant: String,
    pub dialect: &'static str,
    pub amount: String,
    pub status: &'static str,
    pub tone: &'static str,
    pub created: When,
}

impl PaymentRow {
    pub fn new(p: &Payment, merchant: String, now: DateTime<Utc>) -> PaymentRow {
        PaymentRow {
            id: p.id,
            reference: p.reference.clone(),
            merchant,
            dialect: p.namespace.as_str(),
            amount: format_amount(&p.amount),
            status: p.status.as_str(),
            tone: tone(p.status.as_str()),
            created: When::new(p.created_at, now),
        }
    }
}

/// A (label, value) line of a detail list.
pub type Line = (&'static str, String);

/// The facts of one payment.
pub fn payment_lines(p: &Payment, merchant: &str) -> Vec<Line> {
    let mut lines = vec![
        ("Payment", format!("#{}", p.id)),
        ("Reference", p.reference.clone()),
        ("Dialect", p.namespace.as_str().to_owned()),
        ("Merchant", format!("{merchant} (#{})", p.merchant_id)),
        ("Capture", p.capture_mode.as_str().to_owned()),
    ];
    if let Some(method) = &p.method {
        lines.push(("Method", method.clone()));
    }
    if let Some(instrument) = &p.instrument {
        let brand = instrument.brand.clone().unwrap_or_else(|| instrument.kind.clone());
        let last4 = instrument.last4.as_deref().map(|l| format!(" ···· {l}")).unwrap_or_default();
        lines.push(("Paid with", format!("{brand}{last4}")));
    }
    if let Some(txn) = &p.processor_txn_id {
        lines.push(("Processor transaction", txn.clone()));
    }
    if let Some(attempt) = &p.last_attempt {
        lines.push(("Last attempt", format!("{} ({})", attempt.message, attempt.code)));
    }
    if p.fee > 0 {
        lines.push(("Fee", format_minor(p.fee, p.amount.currency())));
    }
    if let Some(description) = &p.description {
        lines.push(("Description", description.clone()));
    }
    lines
}

/// An event of a payment's timeline.
pub struct EventRow {
    pub id: i64,
    pub kind: String,
    pub tone: &'static str,
    pub at: When,
    pub detail: String,
}

impl EventRow {
    pub fn new(e: &EventRecord, now: DateTime<Utc>) -> EventRow {
        let payment = &e.payload["payment"];
        let refund = &e.payload["refund"];
        let detail = if e.event_type.starts_with("refund.") {
            format!("refund #{} · {}", refund["id"], refund["status"].as_str().unwrap_or_default())
        } else {
            let mut text = payment["status"].as_str().unwrap_or_default().to_owned();
            if let Some(message) = payment["last_attempt"]["message"].as_str() {
                text.push_str(&format!(" · {message} ({})", payment["last_attempt"]["code"].as_str().unwrap_or("")));
            }
            text
        };
        let tone = match e.event_type.rsplit('.').next().unwrap_or_default() {
            "succeeded" | "captured" | "created" => "ok",
            "failed" | "cancelled" | "expired" | "rejected" => "bad",
            _ => "wait",
        };
        EventRow { id: e.id, kind: e.event_type.clone(), tone, at: When::new(e.created_at, now), detail }
    }
}

/// One ledger transaction with its postings.
pub struct LedgerView {
    pub id: i64,
    pub kind: String,
    pub at: When,
    pub postings: Vec<(String, String)>,
    pub balanced: bool,
    pub sum: String,
}

impl LedgerView {
    pub fn new(t: &LedgerTransaction, now: DateTime<Utc>) -> LedgerView {
        LedgerView {
            id: t.id,
            kind: match t.refund_id {
                Some(refund) => format!("{} (refund #{refund})", t.kind),
                None => t.kind.clone(),
            },
            at: When::new(t.created_at, now),
            postings: t
                .postings
                .iter()
                .map(|(account, amount)| (account.clone(), format_minor(*amount, t.currency)))
                .collect(),
            balanced: t.sum() == 0,
            sum: format_minor(t.sum(), t.currency),
        }
    }
}

/// A refund in a table.
pub struct RefundRow {
    pub id: i64,
    pub payment_id: i64,
    pub reference: String,
    pub merchant_id: i64,
    pub amount: String,
    pub status: &'static str,
    pub tone: &'static str,
    pub reason: String,
    pub note: String,
    pub created: When,
}

impl RefundRow {
    pub fn new(r: &Refund, now: DateTime<Utc>) -> RefundRow {
        RefundRow {
            id: r.id,
            payment_id: r.payment_id,
            reference: r.payment_reference.clone(),
            merchant_id: r.merchant_id,
            amount: format_amount(&r.amount),
            status: r.status.as_str(),
            tone: tone(r.status.as_str()),
            reason: r.reason.clone().unwrap_or_default(),
            note: r.note.clone().unwrap_or_default(),
            created: When::new(r.created_at, now),
        }
    }
}

/// A payout in a table.
pub struct PayoutRow {
    pub id: i64,
    pub merchant_id: i64,
    pub dialect: &'static str,
    pub amount: String,
    pub destination: String,
    pub reference: String,
    pub created: When,
}

impl PayoutRow {
    pub fn new(p: &Payout, now: DateTime<Utc>) -> PayoutRow {
        let destination = match &p.destination {
            serde_json::Value::Object(fields) => fields
                .iter()
                .map(|(k, v)| format!("{k}: {}", v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())))
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        };
        PayoutRow {
            id: p.id,
            merchant_id: p.merchant_id,
            dialect: p.namespace.as_str(),
            amount: format_amount(&p.amount),
            destination,
            reference: p.reference.clone().unwrap_or_default(),
            created: When::new(p.created_at, now),
        }
    }
}

/// An attempt at a delivery.
pub struct AttemptRow {
    pub at: When,
    pub outcome: String,
    pub ok: bool,
    pub latency: String,
    pub excerpt: String,
}

/// A delivery with its attempts.
pub struct DeliveryView {
    pub id: i64,
    pub event: String,
    pub subject: String,
    pub payment_id: Option<i64>,
    pub url: String,
    pub status: &'static str,
    pub tone: &'static str,
    pub created: When,
    pub next: Option<When>,
    pub attempts: Vec<AttemptRow>,
}

impl DeliveryView {
    pub fn new(d: &Delivery, attempts: &[Attempt], now: DateTime<Utc>) -> DeliveryView {
        let status = d.status.as_str();
        DeliveryView {
            id: d.id,
            event: d.event_type.clone(),
            subject: d.subject_key.clone(),
            payment_id: d.subject_key.strip_prefix("payment:").and_then(|id| id.parse().ok()),
            url: d.url.clone(),
            status,
            tone: tone(status),
            created: When::new(d.created_at, now),
            next: (status == "pending").then(|| When::new(d.next_attempt_at, now)),
            attempts: attempts
                .iter()
                .map(|a| AttemptRow {
                    at: When::new(a.attempted_at, now),
                    ok: a.status_code.is_some_and(|c| (200..300).contains(&c)),
                    outcome: match (a.status_code, &a.error) {
                        (Some(code), _) => format!("HTTP {code}"),
                        (None, Some(error)) => error.clone(),
                        (None, None) => "no answer".to_owned(),
                    },
                    latency: format!("{} ms", a.latency_ms),
                    excerpt: a.response_excerpt.clone().unwrap_or_default().chars().take(200).collect(),
                })
                .collect(),
        }
    }
}

/// A merchant's balance in one currency.
pub struct BalanceRow {
    pub currency: &'static str,
    pub available: String,
    pub reserved: String,
    pub pending_settlement: String,
}

impl From<&Balance> for BalanceRow {
    fn from(b: &Balance) -> Self {
        BalanceRow {
            currency: b.currency.code(),
            available: format_minor(b.available, b.currency),
            reserved: format_minor(b.reserved, b.currency),
            pending_settlement: format_minor(b.pending_settlement, b.currency),
        }
    }
}

/// A merchant in the list.
pub struct MerchantRow {
    pub id: i64,
    pub name: String,
    pub status: &'static str,
    pub tone: &'static str,
    pub available: String,
    pub webhook_url: String,
}

impl MerchantRow {
    pub fn new(m: &Merchant, balances: &[Balance]) -> MerchantRow {
        let available = balances.iter().map(|b| format_minor(b.available, b.currency)).collect::<Vec<_>>();
        MerchantRow {
            id: m.id,
            name: m.name.clone(),
            status: m.status.as_str(),
            tone: tone(m.status.as_str()),
            available: if available.is_empty() { "—".to_owned() } else { available.join(" · ") },
            webhook_url: m.webhook_url.clone().unwrap_or_default(),
        }
    }
}

/// A credential of a merchant.
pub struct CredentialRow {
    pub id: i64,
    pub dialect: &'static str,
    pub key_id: String,
    pub role: String,
    pub label: String,
    pub active: bool,
    pub signed: bool,
    /// QR Money's account policy as JSON, when the credential is a QR Money account.
    pub policy: Option<String>,
}

impl CredentialRow {
    pub fn new(c: &Credential, policy: Option<String>) -> CredentialRow {
        CredentialRow {
            id: c.id,
            dialect: c.dialect.as_str(),
            key_id: c.key_id.clone(),
            role: c.role.clone().unwrap_or_default(),
            label: c.label.clone().unwrap_or_default(),
            active: c.active,
            signed: c.require_signature,
            policy,
        }
    }
}

/// A rotated credential's new material, shown once.
pub struct Revealed {
    pub credential_id: i64,
    pub dialect: &'static str,
    pub key_id: String,
    pub secret: String,
}

/// The sign-in page.
#[derive(Template)]
#[template(path = "dashboard/signin.html")]
pub struct SigninPage {
    pub csrf: String,
    pub next: String,
    pub notice: Option<String>,
    pub error: Option<String>,
}

/// A message: an error, or a refusal.
#[derive(Template)]
#[template(path = "dashboard/message.html")]
pub struct MessagePage {
    pub title: String,
    pub message: String,
}

/// A choice in a filter.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// The payments list.
#[derive(Template)]
#[template(path = "dashboard/payments.html")]
pub struct PaymentsPage {
    pub chrome: Chrome,
    pub merchants: Vec<Choice>,
    pub dialects: Vec<Choice>,
    pub statuses: Vec<Choice>,
    pub from: String,
    pub to: String,
    pub q: String,
    pub error: Option<String>,
    pub rows: Vec<PaymentRow>,
    pub shown: String,
    pub prev: Option<String>,
    pub next: Option<String>,
}

/// One payment.
#[derive(Template)]
#[template(path = "dashboard/payment.html")]
pub struct PaymentPage {
    pub chrome: Chrome,
    pub id: i64,
    pub amount: String,
    pub status: &'static str,
    pub tone: &'static str,
    pub lines: Vec<Line>,
    pub created: When,
    pub expires: When,
    pub open: bool,
    pub declines: Vec<Choice>,
    pub timeline: Vec<EventRow>,
    pub ledger: Vec<LedgerView>,
    pub refunds: Vec<RefundRow>,
    pub deliveries: Vec<DeliveryView>,
    pub back: String,
}

/// The refund and payout queues.
#[derive(Template)]
#[template(path = "dashboard/queues.html")]
pub struct QueuesPage {
    pub chrome: Chrome,
    pub refunds: Vec<RefundRow>,
    pub payouts: Vec<PayoutRow>,
}

/// The merchants.
#[derive(Template)]
#[template(path = "dashboard/merchants.html")]
pub struct MerchantsPage {
    pub chrome: Chrome,
    pub rows: Vec<MerchantRow>,
}

/// One merchant.
#[derive(Template)]
#[template(path = "dashboard/merchant.html")]
pub struct MerchantPage {
    pub chrome: Chrome,
    pub id: i64,
    pub name: String,
    pub status: &'static str,
    pub tone: &'static str,
    pub lines: Vec<Line>,
    pub webhook_url: String,
    pub balances: Vec<BalanceRow>,
    pub credentials: Vec<CredentialRow>,
    pub revealed: Option<Revealed>,
}

/// Webhook deliveries and their chart.
#[derive(Template)]
#[template(path = "dashboard/webhooks.html")]
pub struct WebhooksPage {
    pub chrome: Chrome,
    pub statuses: Vec<Choice>,
    pub event: String,
    pub chart: String,
    pub delivered: u64,
    pub failed: u64,
    pub rows: Vec<DeliveryView>,
    pub back: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_relative_to_now() {
        let now = DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z").unwrap().to_utc();
        let at = |secs: i64| now - chrono::TimeDelta::seconds(secs);
        assert_eq!(relative(at(3), now), "just now");
        assert_eq!(relative(at(42), now), "42 s ago");
        assert_eq!(relative(at(190), now), "3 min ago");
        assert_eq!(relative(at(-900), now), "in 15 min");
        assert_eq!(relative(at(7300), now), "2 h ago");
        assert_eq!(relative(at(3 * 86_400), now), "3 d ago");
        assert_eq!(When::new(at(0), now).utc, "2026-12-03 10:00:00 UTC");
    }

    #[test]
    fn a_flash_survives_its_cookie() {
        let flash = Flash::bad("Refund #3: already decided; <b>&");
        assert!(flash.encode().chars().all(|c| c.is_ascii_alphanumeric() || c == '%'));
        assert_eq!(Flash::decode(&flash.encode()), Some(flash));
        assert_eq!(Flash::decode("evil%3Ahi"), None, "only our tones");
        let long = Flash::ok("x".repeat(2000));
        assert_eq!(long.text.chars().count(), 300, "cut to fit a cookie");
        assert!(long.encode().len() < 4000);
    }
}
