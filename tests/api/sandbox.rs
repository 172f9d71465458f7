//! The sandbox control API: every outcome, double completion, expiry, instruments.

use reqwest::Method;
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::db_test;
use crate::helpers::{Backend, spawn_app, spawn_app_with};

async fn every_outcome_can_be_driven(backend: Backend) {
    let app = spawn_app(backend).await;
    for (invoice, outcome, status, reborn_status) in [
        ("S", "success", "processing", "processing"),
        ("F", "failed", "failed", "failed"),
        ("C", "cancelled", "cancelled", "cancelled"),
        ("E", "expired", "expired", "expired"),
    ] {
        let url = app.new_payment(invoice, json!(10)).await;
        let reply = app.complete(&url, json!({ "outcome": outcome })).await;
        assert_eq!(reply.status, 200, "{outcome}: {}", reply.body);
        assert_eq!(reply.body["status"], status);
        assert_eq!(reply.body["merchant_reference"], invoice);
        assert_eq!(reply.body["dialect"], "rebornpay");
        assert_eq!(app.payment_status(invoice).await.body["data"]["status"], reborn_status);
    }
    let failed = app.payment_status("F").await;
    assert!(failed.body["data"]["transaction_id"].as_str().unwrap().starts_with("BKS"));
}

async fn a_checkout_completes_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = app.new_payment("ONCE", json!(10)).await;
    let first = app.complete(&url, json!({ "outcome": "success" })).await;
    assert_eq!(first.status, 200);
    for outcome in ["success", "failed", "cancelled"] {
        let again = app.complete(&url, json!({ "outcome": outcome })).await;
        assert_eq!(again.status, 409, "{outcome}");
        assert_eq!(again.body["error"]["code"], "payment_already_completed");
    }
    let status = app.payment_status("ONCE").await;
    assert_eq!(status.body["data"]["transaction_id"], first.body["transaction_id"], "the first charge stands");
}

async fn an_expired_payment_cannot_be_paid(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = app.new_payment("LATE", json!(10)).await;
    // Past the 15 minutes a payment can be paid.
    app.advance_clock(16 * 60).await;
    let reply = app.complete(&url, json!({ "outcome": "success" })).await;
    assert_eq!((reply.status, reply.body["error"]["code"].clone()), (410, json!("payment_expired")));
    assert_eq!(app.payment_status("LATE").await.body["data"]["status"], "expired");
    let again = app.complete(&url, json!({ "outcome": "success" })).await;
    assert_eq!(again.status, 410);
}

async fn cards_keep_only_brand_and_last_four(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = app.new_payment("CARD", json!(10)).await;
    let bad = app
        .complete(
            &url,
            json!({ "outcome": "success", "card": { "number": "4242424242424241", "expiry": "01/20", "cvv": "1" } }),
        )
        .await;
    assert_eq!(bad.status, 400);
    let fields: Vec<_> = bad.body["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].clone()).collect();
    assert_eq!(fields, [json!("card.number"), json!("card.expiry"), json!("card.cvv")]);

    let card = json!({ "number": "4242 4242 4242 4242", "expiry": "12/99", "cvv": "987" });
    let reply = app.complete(&url, json!({ "outcome": "success", "card": card })).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body["transaction_id"].as_str().unwrap().starts_with("CRD"));
    assert_eq!(reply.body["method"], "card");

    let db = app.db().await;
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT CAST(instrument AS TEXT) FROM payments WHERE reference = 'CARD'",
        ))
        .await
        .unwrap();
    let instrument: String = rows[0].try_get_by_index(0).unwrap();
    assert!(instrument.contains("4242") && instrument.contains("visa"), "{instrument}");
    assert!(!instrument.contains("424242424242") && !instrument.contains("987"), "{instrument}");
}

async fn unknown_tokens_and_bad_bodies(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app.complete("http://x/checkout/nope", json!({ "outcome": "success" })).await;
    assert_eq!((reply.status, reply.body["error"]["code"].clone()), (404, json!("not_found")));
    let url = app.new_payment("X", json!(10)).await;
    for body in [
        json!({ "outcome": "maybe" }),
        json!({}),
        json!({ "outcome": "success", "card": {"number": "4242424242424242", "expiry": "12/99", "cvv": "123"}, "wallet": {"phone": "01711000000"} }),
    ] {
        let reply = app.complete(&url, body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
    }
    let token = url.rsplit('/').next().unwrap();
    let shown = app.send(app.request(Method::GET, &format!("/sandbox/v1/checkout/{token}"))).await;
    assert_eq!((shown.status, shown.body["status"].clone()), (200, json!("created")));
}

/// The test clock: shown, advanced, bounded, and refused where the configuration keeps
/// it off.
async fn the_test_clock_moves_forward_only_where_allowed(backend: Backend) {
    let app = spawn_app(backend.clone()).await;
    let shown = app.send(app.request(Method::GET, "/sandbox/v1/clock")).await;
    assert_eq!(
        (shown.status, &shown.body["offset_seconds"], &shown.body["controllable"]),
        (200, &json!(0.0), &json!(true))
    );
    let before = chrono::DateTime::parse_from_rfc3339(shown.body["now"].as_str().unwrap()).unwrap();
    let moved = app.advance_clock(3 * 86_400).await;
    assert_eq!(moved.body["offset_seconds"], json!(259_200.0));
    let now = chrono::DateTime::parse_from_rfc3339(moved.body["now"].as_str().unwrap()).unwrap();
    assert!(now - before >= chrono::TimeDelta::days(3), "{before} → {now}");
    let again = app.send(app.request(Method::GET, "/sandbox/v1/clock")).await;
    assert_eq!(again.body["offset_seconds"], json!(259_200.0), "it stays moved");
    for bad in [json!({ "seconds": 0 }), json!({ "seconds": -5 }), json!({ "seconds": 40_000_000 }), json!({})] {
        let reply = app.send(app.request(Method::POST, "/sandbox/v1/clock/advance").json(&bad)).await;
        assert_eq!((reply.status, reply.body["error"]["code"].clone()), (400, json!("validation_error")), "{bad}");
    }
    assert_eq!(app.send(app.request(Method::GET, "/sandbox/v1/clock")).await.body["offset_seconds"], json!(259_200.0));

    let production = spawn_app_with(backend, |c| c.test_clock = Some(false)).await;
    let reply = production
        .send(production.request(Method::POST, "/sandbox/v1/clock/advance").json(&json!({ "seconds": 60 })))
        .await;
    assert_eq!((reply.status, reply.body["error"]["code"].clone()), (403, json!("test_clock_off")), "{}", reply.body);
    let shown = production.send(production.request(Method::GET, "/sandbox/v1/clock")).await;
    assert_eq!((&shown.body["offset_seconds"], &shown.body["controllable"]), (&json!(0.0), &json!(false)));
}

/// Advancing the clock expires what is overdue at once, without waiting for the sweep,
/// and notifies it.
async fn an_unpaid_payment_expires_when_the_clock_passes_its_expiry(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.expiry_sweep_secs = 3600).await;
    let url = app.new_payment("TTL", json!(10)).await;
    let _kept = app.new_payment("KEPT", json!(10)).await;
    app.advance_clock(10 * 60).await;
    assert_eq!(app.payment_status("TTL").await.body["data"]["status"], "pending", "10 of its 15 minutes");
    let token = url.rsplit('/').next().unwrap();
    app.advance_clock(6 * 60).await;
    let view = app.send(app.request(Method::GET, &format!("/sandbox/v1/checkout/{token}"))).await;
    assert_eq!(view.body["status"], "expired", "{}", view.body);
    assert_eq!(app.payment_status("KEPT").await.body["data"]["status"], "expired");
    let events = app.send(app.admin(Method::GET, "/events?limit=1000")).await;
    let expired = events.body.as_array().unwrap().iter().filter(|e| e["event_type"] == "payment.expired").count();
    assert_eq!(expired, 2, "each expiry written as its event");
}

/// A payment the processor has not decided is `awaiting_processor` — one stored before
/// that status existed, as `processing` without an authorization, too — and its
/// decision still comes.
async fn a_payment_the_processor_has_not_decided_awaits_it(backend: Backend) {
    use migration::MigratorTrait;
    let app = spawn_app(backend).await;
    let url = app.checkout_url(&json!({ "invoice_id": "WAIT", "amount": 10, "currency": "BDT" })).await;
    let card = json!({ "number": paybridge::sandbox::test_card("000"), "expiry": "12/35", "cvv": "123" });
    let paid = app.complete(&url, json!({ "outcome": "success", "card": card })).await;
    assert_eq!((paid.status, paid.body["status"].as_str()), (200, Some("awaiting_processor")), "{}", paid.body);
    assert_eq!(app.payment_status("WAIT").await.body["data"]["status"], "processing", "REBORNPAY's word for it");
    // The database as the release before this status left it.
    let db = app.db().await;
    let steps = crate::helpers::migrations_since("m20261201_000006_awaiting_processor");
    migration::Migrator::down(&db, Some(steps)).await.expect("the status migration reverts");
    let status = || async {
        let sql = "SELECT status FROM payments WHERE reference = 'WAIT'";
        let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
        row.unwrap().try_get_by_index::<String>(0).unwrap()
    };
    assert_eq!(status().await, "processing");
    let app = app.restart().await;
    assert_eq!(status().await, "awaiting_processor", "migrated again at start-up");
    let token = url.rsplit('/').next().unwrap();
    let view = app.send(app.request(Method::GET, &format!("/sandbox/v1/checkout/{token}"))).await;
    assert_eq!(view.body["status"], "awaiting_processor");
    let decided = app.complete(&url, json!({ "outcome": "success" })).await;
    assert_eq!((decided.status, decided.body["status"].as_str()), (200, Some("processing")), "{}", decided.body);
    app.assert_ledger_invariants().await;
}

db_test!(
    a_payment_the_processor_has_not_decided_awaits_it,
    the_test_clock_moves_forward_only_where_allowed,
    an_unpaid_payment_expires_when_the_clock_passes_its_expiry,
    every_outcome_can_be_driven,
    a_checkout_completes_once,
    an_expired_payment_cannot_be_paid,
    cards_keep_only_brand_and_last_four,
    unknown_tokens_and_bad_bodies,
);
