//! The admin API: its token, merchants, credentials, events.

use reqwest::Method;
use serde_json::json;

use crate::db_test;
use crate::helpers::{Backend, spawn_app};

async fn the_admin_token_is_required(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app.send(app.request(Method::GET, "/admin/v1/merchants")).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.body["error"]["code"], "invalid_credentials");
    let reply = app.send(app.request(Method::GET, "/admin/v1/merchants").bearer_auth("wrong-token")).await;
    assert_eq!(reply.status, 401);
    let reply = app.send(app.request(Method::GET, "/admin/v1/merchants").bearer_auth(crate::helpers::KEY)).await;
    assert_eq!(reply.status, 401, "a dialect key is not the admin token");
}

async fn a_new_merchant_transacts_once_approved(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app
        .send(
            app.admin(Method::POST, "/merchants")
                .json(&json!({ "name": "New Shop", "webhook_url": "https://shop.example/hooks" })),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["status"], "pending");
    let id = created.body["id"].as_i64().unwrap();

    let dup = app.send(app.admin(Method::POST, "/merchants").json(&json!({ "name": "New Shop" }))).await;
    assert_eq!(dup.status, 400, "names are unique");

    let cred = app
        .send(app.admin(Method::POST, &format!("/merchants/{id}/credentials")).json(&json!({ "dialect": "rebornpay" })))
        .await;
    assert_eq!(cred.status, 201, "{}", cred.body);
    let key = cred.body["key_id"].as_str().unwrap().to_owned();
    let secret = cred.body["secret"].as_str().unwrap().to_owned();
    assert!(key.starts_with("pk_") && secret.starts_with("sk_"), "{key} {secret}");

    let reply = app.send(app.reborn_as(&key, &secret, Method::GET, "/balance")).await;
    assert_eq!((reply.status, reply.code()), (403, "merchant_not_approved"));
    app.send(app.admin(Method::POST, &format!("/merchants/{id}/approve"))).await;
    let reply = app.send(app.reborn_as(&key, &secret, Method::GET, "/balance")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    let list = app.send(app.admin(Method::GET, "/merchants")).await;
    let names: Vec<_> = list.body.as_array().unwrap().iter().map(|m| m["name"].clone()).collect();
    assert_eq!(names, [json!("Demo Shop"), json!("Other Shop"), json!("New Shop")]);
}

async fn admin_input_is_validated(backend: Backend) {
    let app = spawn_app(backend).await;
    let cases = [
        (Method::PATCH, "/merchants/1", json!({ "webhook_url": "ftp://x" }), 400),
        (Method::PATCH, "/merchants/1", json!({ "ip_allowlist": ["not-an-ip"] }), 400),
        (Method::PATCH, "/merchants/1", json!({ "default_currency": "ZZZ" }), 400),
        (Method::PATCH, "/merchants/999", json!({ "rate_limit_per_minute": 5 }), 404),
        (Method::POST, "/merchants", json!({ "name": "" }), 400),
        (Method::POST, "/merchants/1/credentials", json!({ "dialect": "nope" }), 400),
        (Method::POST, "/merchants/1/credentials", json!({ "dialect": "starpay", "role": "king" }), 400),
        (Method::POST, "/merchants/999/credentials", json!({ "dialect": "rebornpay" }), 404),
        (Method::POST, "/refunds/999/approve", json!({}), 404),
        (Method::POST, "/refunds/rf_999/approve", json!({}), 404),
        (Method::POST, "/refunds/RF_999/reject", json!({}), 404),
        (Method::POST, "/refunds/sp_999/approve", json!({}), 400),
        (Method::POST, "/refunds/rf_/approve", json!({}), 400),
        (Method::POST, "/refunds/99999999999999999999/reject", json!({}), 400),
        (Method::POST, "/merchants/1/settlements", json!({ "currency": "ZZZ" }), 400),
    ];
    for (method, path, body, status) in cases {
        let reply = app.send(app.admin(method.clone(), path).json(&body)).await;
        assert_eq!(reply.status, status, "{method} {path} {body}: {}", reply.body);
        assert!(reply.body["error"]["code"].is_string(), "{path}: {}", reply.body);
    }
    let reply = app.send(app.admin(Method::GET, "/merchants/abc")).await;
    assert_eq!(reply.status, 400);
}

async fn starpay_users_and_other_dialects_can_be_issued(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app
        .send(
            app.admin(Method::POST, "/merchants/1/credentials")
                .json(&json!({ "dialect": "starpay", "role": "api_user", "label": "bot" })),
        )
        .await;
    assert_eq!((user.status, user.body["role"].clone()), (201, json!("api_user")));
    assert_eq!(user.body["key_id"], user.body["secret"], "single-token dialect");
    let shadhin =
        app.send(app.admin(Method::POST, "/merchants/1/credentials").json(&json!({ "dialect": "shadhinpay" }))).await;
    assert!(shadhin.body["extra"]["business_id"].is_string(), "{}", shadhin.body);
    let rotated = app.send(app.admin(Method::POST, &format!("/credentials/{}/rotate", user.body["id"]))).await;
    assert_ne!(rotated.body["key_id"], user.body["key_id"], "a single-token key rotates whole");
}

async fn the_ledger_check_finds_nothing_wrong(backend: Backend) {
    let app = spawn_app(backend).await;
    app.captured_payment("INV-1", json!(10)).await;
    let check = app.send(app.admin(Method::GET, "/ledger/check")).await;
    assert_eq!(check.body, json!({ "transactions": 1, "unbalanced": [] }));
}

db_test!(
    the_admin_token_is_required,
    a_new_merchant_transacts_once_approved,
    admin_input_is_validated,
    starpay_users_and_other_dialects_can_be_issued,
    the_ledger_check_finds_nothing_wrong,
);
