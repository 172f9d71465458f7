//! The admin API: its token, merchants, credentials, events.

use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Backend, Reply, spawn_app};

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

/// The `extra.<key>` fields a refusal names.
fn refused_fields(reply: &Reply) -> Vec<String> {
    let details = reply.body["error"]["details"].as_array().cloned().unwrap_or_default();
    details.iter().filter_map(|d| d["field"].as_str().map(str::to_owned)).collect()
}

async fn each_dialects_settings_are_checked_when_written(backend: Backend) {
    let app = spawn_app(backend).await;
    let issue = |body: Value| app.send(app.admin(Method::POST, "/merchants/1/credentials").json(&body));
    let before = app.send(app.admin(Method::GET, "/merchants/1/credentials")).await.body;
    for (body, field) in [
        (json!({ "dialect": "rebornpay", "extra": { "business_id": "b" } }), "extra.business_id"),
        (json!({ "dialect": "shadhinpay", "extra": { "business_id": "" } }), "extra.business_id"),
        (json!({ "dialect": "shadhinpay", "extra": { "business_id": 7 } }), "extra.business_id"),
        (json!({ "dialect": "payrequest", "extra": { "psp": "x".repeat(65) } }), "extra.psp"),
        (json!({ "dialect": "starpay", "role": "admin", "extra": { "colour": "red" } }), "extra.colour"),
    ] {
        let reply = issue(body.clone()).await;
        assert_eq!((reply.status, refused_fields(&reply)), (400, vec![field.to_owned()]), "{body}: {}", reply.body);
    }
    let after = app.send(app.admin(Method::GET, "/merchants/1/credentials")).await.body;
    assert_eq!(before, after, "nothing refused was issued");

    // Given settings are kept; a patch changes the keys it names, checked the same way.
    let shadhin = issue(json!({ "dialect": "shadhinpay", "extra": { "business_id": "biz_given" } })).await;
    assert_eq!((shadhin.status, &shadhin.body["extra"]), (201, &json!({ "business_id": "biz_given" })));
    let path = format!("/credentials/{}", shadhin.body["id"]);
    let refused = app.send(app.admin(Method::PATCH, &path).json(&json!({ "extra": { "business_id": "  " } }))).await;
    assert_eq!((refused.status, refused_fields(&refused)), (400, vec!["extra.business_id".to_owned()]));
    let ask = |business: &'static str| {
        app.request(Method::GET, "/shadhinpay/api/v1/payments/missing")
            .header("Client-Id", shadhin.body["key_id"].as_str().unwrap())
            .header("Business-Id", business)
            .header("Secret-Key", shadhin.body["secret"].as_str().unwrap())
    };
    assert_eq!(app.send(ask("biz_given")).await.status, 404, "the refused patch changed nothing");
    let moved = app.send(app.admin(Method::PATCH, &path).json(&json!({ "extra": { "business_id": "biz_new" } }))).await;
    assert_eq!((moved.status, &moved.body["extra"]), (200, &json!({ "business_id": "biz_new" })));
    assert_eq!(app.send(ask("biz_new")).await.status, 404, "the client acts for the new business");
    let old = app.send(ask("biz_given")).await;
    assert_eq!(
        (old.status, old.body["error"]["code"].as_str()),
        (403, Some("BUSINESS_NOT_AUTHORIZED")),
        "{}",
        old.body
    );
}

/// Patches of different settings keys, sent at once, both land: the merge with what is
/// stored happens in the core's transaction, on the locked row.
async fn racing_settings_patches_both_land(backend: Backend) {
    let app = spawn_app(backend).await;
    let creds = app.send(app.admin(Method::GET, "/merchants/1/credentials")).await.body;
    let qr = creds.as_array().unwrap().iter().find(|c| c["dialect"] == "qrmoney").unwrap()["id"].clone();
    let path = format!("/credentials/{qr}");
    for round in 0..10 {
        let (account, merchant) = (format!("acc-{round}"), format!("m-{round}"));
        let (a, b) = tokio::join!(
            app.send(app.admin(Method::PATCH, &path).json(&json!({ "extra": { "account_id": account } }))),
            app.send(app.admin(Method::PATCH, &path).json(&json!({ "extra": { "merchant_id": merchant } }))),
        );
        assert_eq!((a.status, b.status), (200, 200), "{} {}", a.body, b.body);
        let now = app.send(app.admin(Method::GET, "/merchants/1/credentials")).await.body;
        let now = now.as_array().unwrap().iter().find(|c| c["id"] == qr).unwrap()["extra"].clone();
        assert_eq!(now, json!({ "account_id": account, "merchant_id": merchant }), "round {round}");
    }
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
    each_dialects_settings_are_checked_when_written,
    racing_settings_patches_both_land,
    the_ledger_check_finds_nothing_wrong,
);
