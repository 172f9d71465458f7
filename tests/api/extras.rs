//! Integrations send fields a provider's document does not list (the public QR Money
//! client's `browserInfo`, WHMCS's `website`, SDK versions, tracking ids): every
//! dialect ignores what it does not know, so the request works as without them.

use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Backend, TestApp, spawn_app};

/// `body` with fields no dialect knows, flat and nested.
fn with_extras(mut body: Value) -> Value {
    let extras = json!({
        "sdk_version": "4.2.1",
        "x_tracking": { "campaign": "winter", "ids": [1, 2, 3] },
        "browserInfo": { "browserIP": "203.0.113.7", "browserTZ": "-300" },
        "unknown_null": null,
    });
    for (key, value) in extras.as_object().unwrap() {
        body[key] = value.clone();
    }
    body
}

async fn created(app: &TestApp, request: reqwest::RequestBuilder, body: Value, ok: u16) -> Value {
    let reply = app.send(request.json(&with_extras(body))).await;
    assert_eq!(reply.status, ok, "{}", reply.body);
    reply.body
}

async fn every_dialect_ignores_fields_it_does_not_know(backend: Backend) {
    let app = spawn_app(backend).await;
    let reborn = app.reborn(Method::POST, "/payment/create");
    let body = created(&app, reborn, json!({ "invoice_id": "EXTRA-1", "amount": 25, "currency": "BDT" }), 200).await;
    assert_eq!(body["data"]["invoice_id"], "EXTRA-1");

    let shadhin = app
        .request(Method::POST, "/shadhinpay/api/v1/payments")
        .header("Client-Id", "demo_client_id")
        .header("Business-Id", "demo_business_id")
        .header("Secret-Key", "demo_secret_key");
    let body = json!({ "amount": 1500, "currency": "BDT", "customer_phone": "8801712345678",
        "callback_url": "https://shop.example/hook" });
    assert_eq!(created(&app, shadhin, body, 201).await["data"]["status"], "INITIATED");

    let star = app.request(Method::POST, "/starpay/api/v1/payments").header("X-API-KEY", "sp_test_merchant");
    let body = created(&app, star, json!({ "order_id": "EXTRA-3", "amount": 50 }), 201).await;
    assert_eq!(body["data"]["order_id"], "EXTRA-3");

    let payrequest = app.request(Method::POST, "/payrequest/api/create/");
    let body = json!({ "token": "pr_test_demo", "id": "EXTRA-4", "title": "Extras", "amount": "1,00" });
    assert_eq!(created(&app, payrequest, body, 200).await["status"], "success");

    let qr = app.request(Method::POST, "/qrmoney/payments/h2h/1001").header("X-API-Key", "qr_test_demo");
    let body = created(&app, qr, crate::qrmoney::request("4242424242424242"), 200).await;
    assert_eq!(body["transactionStatusId"], 1, "{body}");
    // The extras change nothing that is stored: the metadata is the merchant's own.
    let status = app.send(app.reborn(Method::GET, "/payment/status/EXTRA-1")).await;
    assert_eq!(status.body["data"]["metadata"], Value::Null, "{}", status.body);
}

db_test!(every_dialect_ignores_fields_it_does_not_know);
