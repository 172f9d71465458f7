//! Charging in the core: limits that hold across instances, an injected processor
//! whose failures and silences become recorded declines, limit declines told apart
//! from the processor's, and fees posted at capture and returned by refunds.

use std::sync::Arc;
use std::time::Duration;

use paybridge::core::{Decline, Payment, PaymentInstrument, Processor, ProcessorError, Verdict};
use paybridge::sandbox::test_card;
use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Backend, TestApp, spawn_app_with, spawn_app_with_processor};
use crate::qrmoney::{create, request};

/// A processor that answers as scripted.
enum Scripted {
    /// Fails.
    Fails,
    /// Answers after this long.
    Slow(Duration),
    /// Declines with its own response code.
    Declines(Decline, &'static str),
    /// Panics.
    Panics,
}

#[async_trait::async_trait]
impl Processor for Scripted {
    async fn charge(&self, _payment: &Payment, _instrument: &PaymentInstrument) -> Result<Verdict, ProcessorError> {
        match self {
            Scripted::Fails => Err(ProcessorError("acquirer unreachable".into())),
            Scripted::Slow(delay) => {
                tokio::time::sleep(*delay).await;
                Ok(Verdict::Approved { processor_txn_id: "LATE1".into(), method: "card".into() })
            }
            Scripted::Panics => panic!("scripted processor panic"),
            Scripted::Declines(reason, code) => Ok(Verdict::Declined {
                processor_txn_id: Some("SCR000001".into()),
                method: "card".into(),
                reason: *reason,
                code: (*code).into(),
            }),
        }
    }

    async fn authenticate(&self, _payment: &Payment, _passed: bool) -> Result<Verdict, ProcessorError> {
        Err(ProcessorError("not scripted".into()))
    }
}

fn with_settings(settings: Value) -> impl FnOnce(&mut paybridge::config::Config) {
    move |c| c.merchants[0].qrmoney.as_mut().unwrap().settings = Some(settings)
}

/// The sandbox API's view of the payment behind a QR Money status's `link`.
async fn sandbox_view(app: &TestApp, id: &Value) -> Value {
    let path = format!("/qrmoney/payment-requests/status/{}", id.as_str().unwrap());
    let status = app.send(app.request(Method::GET, &path).header("X-API-Key", crate::qrmoney::API_KEY)).await;
    let token = status.body["link"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let view = app.send(app.request(Method::GET, &format!("/sandbox/v1/checkout/{token}"))).await;
    assert_eq!(view.status, 200, "{}", view.body);
    view.body
}

/// The demo merchant's `currency` balance, from the admin API.
async fn balance(app: &TestApp, currency: &str) -> Value {
    let balances = app.send(app.admin(Method::GET, "/merchants/1/balance")).await;
    balances.body.as_array().unwrap().iter().find(|b| b["currency"] == currency).cloned().unwrap_or(Value::Null)
}

/// A day's limit starts again the next day (UTC), a month's the next month: moved to by
/// the test clock.
async fn a_new_day_and_a_new_month_lift_the_limits(backend: Backend) {
    let app = spawn_app_with(backend, with_settings(json!({ "daily_count": 1, "monthly_count": 2 }))).await;
    let body = request("4242424242424242");
    let outcome = async || {
        let reply = create(&app, &body).await;
        match (reply.status, reply.body["transactionStatusId"].as_i64(), reply.body["code"].as_str()) {
            (200, Some(1), _) => "approved".to_owned(),
            (402, _, Some(code)) => code.to_owned(),
            _ => panic!("{} {}", reply.status, reply.body),
        }
    };
    assert_eq!(outcome().await, "approved");
    assert_eq!(outcome().await, "021", "today's one is used");
    app.advance_clock(86_400).await;
    assert_eq!(outcome().await, "approved", "a new day");
    app.advance_clock(86_400).await;
    assert_eq!(outcome().await, "022", "the month's two are used");
    app.advance_clock(31 * 86_400).await;
    assert_eq!(outcome().await, "approved", "a new month");
    app.assert_ledger_invariants().await;
}

async fn limits_hold_across_instances(backend: Backend) {
    let first = spawn_app_with(backend, with_settings(json!({ "daily_count": 5 }))).await;
    let second = first.spawn_peer().await;
    let body = request("4242424242424242");
    // Twice (the limit raised by 5 in between), so that a race the lock did not stop
    // would rarely go unseen.
    for (round, limit) in [(1, 5), (2, 10)] {
        if round > 1 {
            let qr = qr_credential(&first).await;
            let patch = json!({ "extra": { "settings": { "daily_count": limit } } });
            assert_eq!(
                first.send(first.admin(Method::PATCH, &format!("/credentials/{qr}")).json(&patch)).await.status,
                200
            );
        }
        let charges = (0..20).map(|i| create(if i % 2 == 0 { &first } else { &second }, &body));
        let replies = futures_util::future::join_all(charges).await;
        let approved = replies.iter().filter(|r| r.status == 200 && r.body["transactionStatusId"] == 1).count();
        let limited = replies.iter().filter(|r| r.status == 402 && r.body["code"] == "021").count();
        let bodies: Vec<_> = replies.iter().map(|r| &r.body).collect();
        assert_eq!((approved, limited), (5, 15), "round {round}: {bodies:?}");
    }
    first.assert_ledger_invariants().await;
}

/// The id of the demo merchant's QR Money credential.
async fn qr_credential(app: &TestApp) -> Value {
    let creds = app.send(app.admin(Method::GET, "/merchants/1/credentials")).await;
    creds.body.as_array().unwrap().iter().find(|c| c["dialect"] == "qrmoney").unwrap()["id"].clone()
}

async fn a_processor_that_fails_or_says_nothing_leaves_a_recorded_decline(backend: Backend) {
    for (processor, code, reason) in [
        (Scripted::Fails, "998", "processor_error"),
        (Scripted::Panics, "998", "processor_error"),
        (Scripted::Slow(Duration::from_secs(30)), "001", "bank_error"),
    ] {
        let app =
            spawn_app_with_processor(backend.clone(), |c| c.processor_timeout_ms = 300, Arc::new(processor)).await;
        let started = std::time::Instant::now();
        let reply = create(&app, &request("4242424242424242")).await;
        // 300 ms against a 30 s silence; the margin is for a loaded machine.
        assert!(started.elapsed() < Duration::from_secs(8), "the timeout bounds the wait");
        assert_eq!((reply.status, reply.body["code"].as_str()), (402, Some(code)), "{}", reply.body);
        let view = sandbox_view(&app, &reply.body["id"]).await;
        assert_eq!(view["status"], "failed", "recorded: {view}");
        assert_eq!(view["last_attempt"]["reason"], reason);
        assert_eq!(view["last_attempt"]["declined_by"], "processor");
        // Through the hosted checkout's door as well: a decline, not a 500.
        let url = app.new_payment(&format!("FAIL-{code}"), json!(10)).await;
        let paid = app.complete(&url, json!({ "outcome": "success", "wallet": { "phone": "01711000000" } })).await;
        assert_eq!((paid.status, paid.body["status"].as_str()), (200, Some("failed")), "{}", paid.body);
        assert_eq!(paid.body["last_attempt"]["reason"], reason);
        app.assert_ledger_invariants().await;
    }
}

async fn a_charge_answered_after_the_checkout_expired_stands(backend: Backend) {
    let processor = Scripted::Slow(Duration::from_millis(1500));
    let app = spawn_app_with_processor(backend, |c| c.payment_ttl_secs = 1, Arc::new(processor)).await;
    let url = app.new_payment("SLOW", json!(10)).await;
    let paid = app.complete(&url, json!({ "outcome": "success", "wallet": { "phone": "01711000000" } })).await;
    // Paid in time, answered after the expiry: the processor charged it, so it stands.
    assert_eq!((paid.status, paid.body["status"].as_str()), (200, Some("processing")), "{}", paid.body);
    assert_eq!(paid.body["transaction_id"], "LATE1");
    app.assert_ledger_invariants().await;
}

async fn the_injected_processor_decides_and_the_dialect_maps_its_reason(backend: Backend) {
    let processor = Scripted::Declines(Decline::InsufficientFunds, "51");
    let app = spawn_app_with_processor(backend, |_| {}, Arc::new(processor)).await;
    let reply = create(&app, &request("4242424242424242")).await;
    assert_eq!((reply.status, reply.body["code"].as_str()), (402, Some("005")), "QR Money's code for the reason");
    let view = sandbox_view(&app, &reply.body["id"]).await;
    assert_eq!(view["transaction_id"], "SCR000001", "the injected processor's transaction");
    assert_eq!(
        (view["last_attempt"]["code"].as_str(), view["last_attempt"]["reason"].as_str()),
        (Some("51"), Some("insufficient_funds"))
    );
}

async fn limit_declines_are_told_apart_from_the_processors(backend: Backend) {
    let app = spawn_app_with(backend, with_settings(json!({ "max_amount": 100 }))).await;
    let mut over = request("4242424242424242");
    over["amount"] = json!(150);
    let limited = create(&app, &over).await;
    assert_eq!(limited.body["code"], "018", "{}", limited.body);
    let view = sandbox_view(&app, &limited.body["id"]).await;
    assert_eq!(view["last_attempt"]["declined_by"], "policy");
    assert_eq!(view["last_attempt"]["reason"], "above_max_amount");
    assert_eq!(view["transaction_id"], Value::Null, "no processor saw it");

    let declined = create(&app, &request(&test_card("018"))).await;
    assert_eq!(declined.body["code"], "018", "the same code, from the processor");
    let view = sandbox_view(&app, &declined.body["id"]).await;
    assert_eq!(view["last_attempt"]["declined_by"], "processor");
    assert!(view["transaction_id"].as_str().is_some_and(|t| t.starts_with("CRD")));
}

async fn fees_are_posted_at_capture_and_returned_by_refunds(backend: Backend) {
    let app = spawn_app_with(backend, with_settings(json!({ "fee_percent": 2.5, "fee_fixed": "0.30" }))).await;
    let paid = create(&app, &request("4242424242424242")).await;
    assert_eq!(paid.body["transactionStatusId"], 1, "{}", paid.body);
    // 2.5 % of 10.50 + 0.30 = 0.5625 → 0.56: the merchant is credited 9.94.
    assert_eq!(balance(&app, "USD").await["available"], "9.94");
    app.assert_ledger_invariants().await;

    // A challenged payment is captured later, at the fee in force then.
    let challenged = create(&app, &request(&test_card("000"))).await;
    let qr = qr_credential(&app).await;
    let patch = json!({ "extra": { "settings": { "fee_percent": 10 } } });
    let patched = app.send(app.admin(Method::PATCH, &format!("/credentials/{qr}")).json(&patch)).await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["extra"]["settings"]["fee_percent"], "10", "the admin API shows the policy");
    let challenge = challenged.body["redirectUrl"].as_str().unwrap().to_owned();
    app.submit_checkout(&challenge, &[("action", "approve")]).await;
    // 10 % of 10.50 = 1.05: 9.94 + 9.45.
    assert_eq!(balance(&app, "USD").await["available"], "19.39");

    // A full refund returns the fee: the merchant pays back exactly what it was credited.
    let id = paid.body["id"].as_str().unwrap();
    let path = format!("/qrmoney/payments/h2h/refund/{id}");
    let refund = app.send(app.request(Method::GET, &path).header("X-API-Key", crate::qrmoney::API_KEY)).await;
    assert_eq!(refund.status, 200, "{}", refund.body);
    let after_request = balance(&app, "USD").await;
    assert_eq!((after_request["available"].as_str(), after_request["reserved"].as_str()), (Some("9.45"), Some("10.5")));
    app.assert_ledger_invariants().await;
    let refund_id = refund.body["refundId"].as_str().unwrap();
    let rejected = app.send(app.admin(Method::POST, &format!("/refunds/{refund_id}/reject")).json(&json!({}))).await;
    assert_eq!(rejected.status, 200, "{}", rejected.body);
    assert_eq!(balance(&app, "USD").await["available"], "19.39", "a rejection reverses the same amounts");
    app.assert_ledger_invariants().await;
    let again = app.send(app.request(Method::GET, &path).header("X-API-Key", crate::qrmoney::API_KEY)).await;
    let approved = app
        .send(
            app.admin(Method::POST, &format!("/refunds/{}/approve", again.body["refundId"].as_str().unwrap()))
                .json(&json!({})),
        )
        .await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(balance(&app, "USD").await["available"], "9.45");
    app.assert_ledger_invariants().await;
}

async fn settings_kept_in_a_credential_move_into_its_policy(backend: Backend) {
    use migration::MigratorTrait;
    use sea_orm::ConnectionTrait;
    let app = spawn_app_with(backend, |_| {}).await;
    // The database as the release before account policies left it: settings in the
    // credential's `extra`.
    let db = app.db().await;
    // (The later migrations revert first.)
    let steps = crate::helpers::migrations_since("m20261201_000005_charging");
    migration::Migrator::down(&db, Some(steps)).await.expect("the policy migration reverts");
    let extra = r#"{"account_id": "1001", "merchant_id": "demo-merchant", "settings": {"max_amount": "100", "fee_percent": 1}}"#;
    let sql = format!(
        "UPDATE credentials SET extra = '{extra}' WHERE dialect = 'qrmoney' AND key_id = '{}'",
        crate::qrmoney::API_KEY
    );
    db.execute_unprepared(&sql).await.expect("old settings written");
    drop(db);
    let app = app.restart().await;
    let mut over = request("4242424242424242");
    over["amount"] = json!(150);
    assert_eq!(create(&app, &over).await.body["code"], "018", "the limit moved with it");
    let creds = app.send(app.admin(Method::GET, "/merchants/1/credentials")).await;
    let qr = creds.body.as_array().unwrap().iter().find(|c| c["dialect"] == "qrmoney").unwrap().clone();
    assert_eq!(qr["extra"]["settings"]["max_amount"], "100", "{qr}");
    assert_eq!(qr["extra"]["account_id"], "1001", "the identifiers stay");
    let paid = create(&app, &request("4242424242424242")).await;
    assert_eq!(paid.body["transactionStatusId"], 1);
    // 1 % of 10.50 = 0.105 → 0.11.
    assert_eq!(balance(&app, "USD").await["available"], "10.39");
}

db_test!(
    a_new_day_and_a_new_month_lift_the_limits,
    settings_kept_in_a_credential_move_into_its_policy,
    limits_hold_across_instances,
    a_processor_that_fails_or_says_nothing_leaves_a_recorded_decline,
    a_charge_answered_after_the_checkout_expired_stands,
    the_injected_processor_decides_and_the_dialect_maps_its_reason,
    limit_declines_are_told_apart_from_the_processors,
    fees_are_posted_at_capture_and_returned_by_refunds,
);
