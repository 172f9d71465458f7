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
    let rejected = app
        .send(app.admin(Method::POST, &format!("/refunds/{}/reject", admin_id(&id))).json(&json!({ "note": "no" })))
        .await;
    assert_eq!(rejected.body["status"], "rejected");
    let status = app.send(app.reborn(Method::GET, &format!("/refund/status/{id}"))).await;
    assert_eq!(
        (status.body["data"]["status"].clone(), status.body["data"]["note"].clone()),
        (json!("rejected"), json!("no"))
    );
    let balance = app.balance().await;
    assert_eq!((balance["available"].clone(), balance["reserved"].clone()), (json!(100), json!(0)));
    assert_eq!(app.payment_status("INV-1").await.body["data"]["status"], "success");

    let twice =
        app.send(app.admin(Method::POST, &format!("/refunds/{}/approve", admin_id(&id))).json(&json!({}))).await;
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

db_test!(
    partial_then_full_refund_through_the_admin_queue,
    rejected_refund_returns_the_reservation,
    refunds_are_refused_when_they_cannot_be_paid,
    unknown_refunds_are_refund_not_found,
    merchants_cannot_see_or_refund_each_others_payments,
);
