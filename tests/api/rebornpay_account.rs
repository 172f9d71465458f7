//! REBORNPAY account endpoints: balance, settlements, transactions, webhook test.

use reqwest::Method;
use serde_json::json;

use crate::db_test;
use crate::helpers::{Backend, spawn_app, spawn_app_with};

async fn balance_starts_at_zero_in_the_default_currency(backend: Backend) {
    let app = spawn_app(backend).await;
    let balance = app.balance().await;
    assert_eq!(
        balance,
        json!({ "currency": "BDT", "available": 0, "reserved": 0, "pending_settlement": 0, "balances": [] })
    );
}

async fn balance_lists_every_currency(backend: Backend) {
    let app = spawn_app(backend).await;
    app.captured_payment("B-1", json!(10.5)).await;
    let url = {
        let body = json!({ "invoice_id": "U-1", "amount": 3, "currency": "USD" });
        app.create_payment(&body).await.body["data"]["checkout_url"].as_str().unwrap().to_owned()
    };
    let txn =
        app.complete(&url, json!({ "outcome": "success" })).await.body["transaction_id"].as_str().unwrap().to_owned();
    assert_eq!(app.verify("U-1", &txn).await.status, 200);
    let balance = app.balance().await;
    assert_eq!(balance["available"], json!(10.5));
    let currencies: Vec<_> = balance["balances"].as_array().unwrap().iter().map(|b| b["currency"].clone()).collect();
    assert_eq!(currencies, [json!("BDT"), json!("USD")]);
    app.assert_ledger_invariants().await;
}

async fn settlements_move_the_available_balance_out(backend: Backend) {
    let app = spawn_app(backend).await;
    app.captured_payment("INV-1", json!(1000)).await;

    let too_much =
        app.send(app.admin(Method::POST, "/merchants/1/settlements").json(&json!({ "amount": "1000.01" }))).await;
    assert_eq!(too_much.status, 422, "{}", too_much.body);
    assert_eq!(too_much.body["error"]["code"], "insufficient_balance");

    let held = app
        .send(app.admin(Method::POST, "/merchants/1/settlements").json(&json!({ "amount": "400", "pay_now": false })))
        .await;
    assert_eq!((held.status, held.body["status"].clone()), (201, json!("processing")), "{}", held.body);
    let balance = app.balance().await;
    assert_eq!((balance["available"].clone(), balance["pending_settlement"].clone()), (json!(600), json!(400)));

    let paid = app.send(app.admin(Method::POST, &format!("/settlements/{}/pay", held.body["id"]))).await;
    assert_eq!(paid.body["status"], "paid");
    assert_eq!(app.balance().await["pending_settlement"], json!(0));

    let rest = app.send(app.admin(Method::POST, "/merchants/1/settlements").json(&json!({}))).await;
    assert_eq!((rest.body["amount"].clone(), rest.body["status"].clone()), (json!("600"), json!("paid")));
    let events = app.send(app.admin(Method::GET, "/events?merchant_id=1")).await;
    let paid: Vec<_> = events
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event_type"] == "settlement.paid")
        .map(|e| e["payload"]["settlement"]["amount"]["minor"].clone())
        .collect();
    assert_eq!(paid, [json!(40000), json!(60000)], "settlement.paid for each paid settlement, in order");
    assert_eq!(app.balance().await["available"], json!(0));

    let empty = app.send(app.admin(Method::POST, "/merchants/1/settlements").json(&json!({}))).await;
    assert_eq!(empty.status, 422, "nothing left to settle");

    let list = app.send(app.reborn(Method::GET, "/settlements")).await;
    let data = list.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["amount"], json!(600), "most recent first");
    assert_eq!(data[1]["amount"], json!(400));
    assert!(data[0]["settlement_id"].as_str().unwrap().starts_with("st_"));
    let one = app.send(app.reborn(Method::GET, "/settlements?limit=1")).await;
    assert_eq!(one.body["data"].as_array().unwrap().len(), 1);
    for bad in ["0", "101", "abc"] {
        let reply = app.send(app.reborn(Method::GET, &format!("/settlements?limit={bad}"))).await;
        assert_eq!((reply.status, reply.code()), (400, "invalid_body"), "limit={bad}");
    }
    app.assert_ledger_invariants().await;
}

async fn transactions_filter_by_status_and_limit(backend: Backend) {
    let app = spawn_app(backend).await;
    app.captured_payment("T-1", json!(10)).await;
    app.new_payment("T-2", json!(20)).await;
    app.new_payment("T-3", json!(30)).await;
    let all = app.send(app.reborn(Method::GET, "/transactions")).await;
    let ids: Vec<_> = all.body["data"].as_array().unwrap().iter().map(|p| p["invoice_id"].clone()).collect();
    assert_eq!(ids, [json!("T-3"), json!("T-2"), json!("T-1")], "most recent first");
    let success = app.send(app.reborn(Method::GET, "/transactions?limit=50&status=success")).await;
    let ids: Vec<_> = success.body["data"].as_array().unwrap().iter().map(|p| p["invoice_id"].clone()).collect();
    assert_eq!(ids, [json!("T-1")]);
    let pending = app.send(app.reborn(Method::GET, "/transactions?status=pending&limit=1")).await;
    assert_eq!(pending.body["data"].as_array().unwrap().len(), 1);
    let bad = app.send(app.reborn(Method::GET, "/transactions?status=bogus")).await;
    assert_eq!((bad.status, bad.code()), (400, "invalid_body"));
    assert_eq!(bad.body["details"][0]["field"], "status");
}

async fn webhook_test_queues_a_test_ping(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = json!({ "event": "test.ping", "data": { "hello": "world" } });
    let reply = app.send(app.reborn(Method::POST, "/webhook/test").json(&body)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["data"]["event"], "test.ping");
    assert_eq!(reply.body["data"]["webhook_url"], "http://127.0.0.1:9000/hooks");
    let events = app.send(app.admin(Method::GET, "/events?merchant_id=1")).await;
    let ping = events
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_type"] == "test.ping")
        .expect("test.ping in the outbox");
    assert_eq!(ping["id"], reply.body["data"]["event_id"]);
    assert_eq!(ping["payload"]["data"], json!({ "hello": "world" }));

    let other = json!({ "event": "payment.success" });
    let reply = app.send(app.reborn(Method::POST, "/webhook/test").json(&other)).await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_body"));
}

async fn webhook_test_needs_a_webhook_url(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.merchants[0].webhook_url = None).await;
    let reply = app.send(app.reborn(Method::POST, "/webhook/test").json(&json!({ "event": "test.ping" }))).await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_body"));
    assert_eq!(reply.body["details"][0]["field"], "webhook_url");
}

db_test!(
    balance_starts_at_zero_in_the_default_currency,
    balance_lists_every_currency,
    settlements_move_the_available_balance_out,
    transactions_filter_by_status_and_limit,
    webhook_test_queues_a_test_ping,
    webhook_test_needs_a_webhook_url,
);
