//! REBORNPAY refunds: the admin queue, partial and full refunds, limits, and the
//! balances they move.

use reqwest::Method;
use serde_json::json;

use crate::db_test;
use crate::helpers::{Backend, OTHER_KEY, OTHER_SECRET, TestApp, spawn_app};

async fn refund_id(app: &TestApp, invoice: &str, amount: serde_json::Value) -> String {
    let reply = app.request_refund(invoice, amount).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["data"]["status"], "pending");
    reply.body["data"]["refund_id"].as_str().unwrap().to_owned()
}

fn admin_id(refund_id: &str) -> &str {
    refund_id.trim_start_matches("rf_")
}

async fn partial_then_full_refund_through_the_admin_queue(backend: Backend) {
    let app = spawn_app(backend).await;
    app.captured_payment("INV-1", json!(2500)).await;

    let first = refund_id(&app, "INV-1", json!(1000)).await;
    let balance = app.balance().await;
    assert_eq!((balance["available"].clone(), balance["reserved"].clone()), (json!(1500), json!(1000)));

    let queue = app.send(app.admin(Method::GET, "/refunds")).await;
    assert_eq!(queue.body.as_array().unwrap().len(), 1);
    assert_eq!(queue.body[0]["payment_reference"], "INV-1");

    let approved =
        app.send(app.admin(Method::POST, &format!("/refunds/{}/approve", admin_id(&first))).json(&json!({}))).await;
    assert_eq!(approved.body["status"], "succeeded", "{}", approved.body);
    let status = app.send(app.reborn(Method::GET, &format!("/refund/status/{first}"))).await;
    assert_eq!(status.body["data"]["status"], "processed");
    assert!(status.body["data"]["processed_at"].is_string());
    assert_eq!(app.payment_status("INV-1").await.body["data"]["status"], "partially_refunded");
    let balance = app.balance().await;
    assert_eq!((balance["available"].clone(), balance["reserved"].clone()), (json!(1500), json!(0)));

    let second = refund_id(&app, "INV-1", json!(1500)).await;
    app.send(app.admin(Method::POST, &format!("/refunds/{}/approve", admin_id(&second))).json(&json!({}))).await;
    assert_eq!(app.payment_status("INV-1").await.body["data"]["status"], "refunded");
    assert_eq!(app.balance().await["available"], json!(0));

    let more = app.request_refund("INV-1", json!(1)).await;
    assert_eq!((more.status, more.code()), (422, "refund_exceeds_payment"));
    app.assert_ledger_invariants().await;
}

async fn rejected_refund_returns_the_reservation(backend: Backend) {
    let app = spawn_app(backend).await;
    app.captured_payment("INV-1", json!(100)).await;
    let id = refund_id(&app, "INV-1", json!(40.5)).await;
    assert_eq!(app.balance().await["reserved"], json!(40.5));
    // The admin API takes the id as REBORNPAY answered it (`rf_12`), as QA copy it.
    assert!(id.starts_with("rf_"), "{id}");
    let rejected =
        app.send(app.admin(Method::POST, &format!("/refunds/{id}/reject")).json(&json!({ "note": "no" }))).await;
    assert_eq!(rejected.body["status"], "rejected");
    let status = app.send(app.reborn(Method::GET, &format!("/refund/status/{id}"))).await;
    assert_eq!(
        (status.body["data"]["status"].clone(), status.body["data"]["note"].clone()),
        (json!("rejected"), json!("no"))
    );
    let balance = app.balance().await;
    assert_eq!((balance["available"].clone(), balance["reserved"].clone()), (json!(100), json!(0)));
    assert_eq!(app.payment_status("INV-1").await.body["data"]["status"], "success");

    let twice = app.send(app.admin(Method::POST, &format!("/refunds/{id}/approve")).json(&json!({}))).await;
    assert_eq!(twice.status, 409, "a decided refund cannot be decided again");
    app.assert_ledger_invariants().await;
}

async fn refunds_are_refused_when_they_cannot_be_paid(backend: Backend) {
    let app = spawn_app(backend).await;
    app.new_payment("UNPAID", json!(100)).await;
    let reply = app.request_refund("UNPAID", json!(10)).await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_body"), "an unpaid payment has nothing to refund");

    app.paid_payment("UNVERIFIED", json!(100)).await;
    let reply = app.request_refund("UNVERIFIED", json!(10)).await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_body"), "an unverified payment is not captured");

    app.captured_payment("INV-1", json!(100)).await;
    for (amount, status, code) in [
        (json!(100.01), 422, "refund_exceeds_payment"),
        (json!(0), 400, "invalid_body"),
        (json!(-1), 400, "invalid_body"),
        (json!(1.001), 400, "invalid_body"),
        (json!("10"), 400, "invalid_body"),
    ] {
        let reply = app.request_refund("INV-1", amount.clone()).await;
        assert_eq!((reply.status, reply.code()), (status, code), "amount {amount}");
    }
    let reply = app.request_refund("NOPE", json!(1)).await;
    assert_eq!((reply.status, reply.code()), (404, "payment_not_found"));
    assert_eq!(app.balance().await["reserved"], json!(0), "no refused refund reserved anything");
}

async fn unknown_refunds_are_refund_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    for id in ["rf_999", "999", "garbage", "rf_-1"] {
        let reply = app.send(app.reborn(Method::GET, &format!("/refund/status/{id}"))).await;
        assert_eq!((reply.status, reply.code()), (404, "refund_not_found"), "{id}");
    }
}

async fn merchants_cannot_see_or_refund_each_others_payments(backend: Backend) {
    let app = spawn_app(backend).await;
    app.captured_payment("INV-1", json!(100)).await;
    let id = refund_id(&app, "INV-1", json!(10)).await;
    let other = |method, path: &str| app.reborn_as(OTHER_KEY, OTHER_SECRET, method, path);
    let reply = app.send(other(Method::GET, &format!("/refund/status/{id}"))).await;
    assert_eq!((reply.status, reply.code()), (404, "refund_not_found"));
    let body = json!({ "invoice_id": "INV-1", "amount": 10 });
    let reply = app.send(other(Method::POST, "/refund/request").json(&body)).await;
    assert_eq!((reply.status, reply.code()), (404, "payment_not_found"));
}

async fn refunds_are_funded_from_the_available_balance(backend: Backend) {
    let app = spawn_app(backend).await;
    app.captured_payment("INV-1", json!(100)).await;
    let settled = app.send(app.admin(Method::POST, "/merchants/1/settlements").json(&json!({ "amount": "70" }))).await;
    assert_eq!(settled.status, 201, "{}", settled.body);
    let reply = app.request_refund("INV-1", json!(40)).await;
    assert_eq!((reply.status, reply.code()), (422, "insufficient_balance"), "only 30 is left to fund it");
    assert_eq!(app.balance().await["reserved"], json!(0));
    let reply = app.request_refund("INV-1", json!(30)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    app.assert_ledger_invariants().await;
}

async fn a_settlement_and_a_refund_cannot_both_take_the_money(backend: Backend) {
    let app = spawn_app(backend).await;
    for round in 0..5 {
        let invoice = format!("RACE-{round}");
        app.captured_payment(&invoice, json!(100)).await;
        let settle = app.send(app.admin(Method::POST, "/merchants/1/settlements").json(&json!({ "amount": "100" })));
        let refund = app.request_refund(&invoice, json!(100));
        let (settle, refund) = tokio::join!(settle, refund);
        let won = [settle.status == 201, refund.status == 200];
        assert_eq!(
            won.iter().filter(|w| **w).count(),
            1,
            "round {round}: settlement {settle_body} refund {refund_body}",
            settle_body = settle.body,
            refund_body = refund.body
        );
        app.assert_ledger_invariants().await;
        // Clear the balance for the next round.
        if refund.status == 200 {
            let id = refund.body["data"]["refund_id"].as_str().unwrap().trim_start_matches("rf_").to_owned();
            app.send(app.admin(Method::POST, &format!("/refunds/{id}/approve")).json(&json!({}))).await;
        }
    }
}

async fn a_lost_idempotent_response_does_not_refund_twice(backend: Backend) {
    let app = spawn_app(backend).await;
    app.captured_payment("INV-1", json!(100)).await;
    let body = json!({ "invoice_id": "INV-1", "amount": 60 });
    let send = || app.send(app.reborn(Method::POST, "/refund/request").header("Idempotency-Key", "r-1").json(&body));
    let first = send().await;
    assert_eq!(first.status, 200);
    // As if the server died between committing the refund and storing the response.
    use sea_orm::ConnectionTrait;
    app.db().await.execute_unprepared("DELETE FROM idempotency_keys").await.unwrap();
    let retry = send().await;
    assert_eq!(retry.status, 200, "{}", retry.body);
    assert_eq!(retry.header("Idempotent-Replayed"), None, "the request ran again");
    assert_eq!(retry.body["data"]["refund_id"], first.body["data"]["refund_id"], "and found the same refund");
    assert_eq!(app.balance().await["reserved"], json!(60), "reserved once");
    // The key cannot be spent on another payment.
    app.captured_payment("INV-2", json!(100)).await;
    app.db().await.execute_unprepared("DELETE FROM idempotency_keys").await.unwrap();
    let other = json!({ "invoice_id": "INV-2", "amount": 5 });
    let reply =
        app.send(app.reborn(Method::POST, "/refund/request").header("Idempotency-Key", "r-1").json(&other)).await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_body"));
    app.assert_ledger_invariants().await;
}

async fn a_refund_reason_has_a_limit(backend: Backend) {
    let app = spawn_app(backend).await;
    app.captured_payment("INV-1", json!(100)).await;
    let body = json!({ "invoice_id": "INV-1", "amount": 1, "reason": "x".repeat(501) });
    let reply = app.send(app.reborn(Method::POST, "/refund/request").json(&body)).await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_body"));
    assert_eq!(reply.body["details"][0]["field"], "reason");
    let body = json!({ "invoice_id": "INV-1", "amount": 1, "reason": "x".repeat(500) });
    assert_eq!(app.send(app.reborn(Method::POST, "/refund/request").json(&body)).await.status, 200);
}

db_test!(
    refunds_are_funded_from_the_available_balance,
    a_settlement_and_a_refund_cannot_both_take_the_money,
    a_lost_idempotent_response_does_not_refund_twice,
    a_refund_reason_has_a_limit,
    partial_then_full_refund_through_the_admin_queue,
    rejected_refund_returns_the_reservation,
    refunds_are_refused_when_they_cannot_be_paid,
    unknown_refunds_are_refund_not_found,
    merchants_cannot_see_or_refund_each_others_payments,
);
