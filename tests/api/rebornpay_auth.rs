//! REBORNPAY authentication: credentials, merchant status, IP allow-list, rate limit
//! and request signing.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, KEY, SECRET, spawn_app, spawn_app_with};
use crate::{db_test, limits_test};
use paybridge::crypto::hmac_sha256_hex;

async fn missing_or_wrong_credentials_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let path = "/rebornpay/api/v1/balance";
    let cases = [
        (None, None, "missing_credentials"),
        (Some(KEY), None, "missing_credentials"),
        (None, Some(SECRET), "missing_credentials"),
        (Some("pk_test_nobody"), Some(SECRET), "invalid_credentials"),
        (Some(KEY), Some("sk_wrong"), "invalid_credentials"),
    ];
    for (key, secret, code) in cases {
        let mut request = app.request(Method::GET, path);
        if let Some(key) = key {
            request = request.header("X-Api-Key", key);
        }
        if let Some(secret) = secret {
            request = request.header("X-Api-Secret", secret);
        }
        let reply = app.send(request).await;
        assert_eq!((reply.status, reply.code()), (401, code), "key {key:?} secret {secret:?}");
    }
    // Authentication comes before parsing: a bad body without credentials is a 401.
    let reply = app.send(app.request(Method::POST, "/rebornpay/api/v1/payment/create").body("{")).await;
    assert_eq!((reply.status, reply.code()), (401, "missing_credentials"));
}

async fn pending_and_suspended_merchants_are_not_approved(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.merchants[0].status = paybridge::core::MerchantStatus::Pending).await;
    let reply = app.send(app.reborn(Method::GET, "/balance")).await;
    assert_eq!((reply.status, reply.code()), (403, "merchant_not_approved"));

    let reply = app.send(app.admin(Method::POST, "/merchants/1/approve")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(app.send(app.reborn(Method::GET, "/balance")).await.status, 200);

    let reply = app.send(app.admin(Method::POST, "/merchants/1/suspend")).await;
    assert_eq!(reply.body["status"], "suspended");
    let reply = app.send(app.reborn(Method::GET, "/balance")).await;
    assert_eq!((reply.status, reply.code()), (403, "merchant_not_approved"), "suspension applies at once");
}

async fn ip_allow_list_refuses_other_addresses(backend: Backend) {
    let app = spawn_app_with(backend.clone(), |c| c.merchants[0].ip_allowlist = vec!["10.9.9.9".into()]).await;
    let reply = app.send(app.reborn(Method::GET, "/balance")).await;
    assert_eq!((reply.status, reply.code()), (403, "ip_not_allowed"));
    // X-Forwarded-For from an untrusted peer is ignored.
    let reply = app.send(app.reborn(Method::GET, "/balance").header("X-Forwarded-For", "10.9.9.9")).await;
    assert_eq!((reply.status, reply.code()), (403, "ip_not_allowed"));
    // The admin can widen the list; the change applies at once.
    let patch = json!({ "ip_allowlist": ["10.9.9.9", "127.0.0.0/8"] });
    assert_eq!(app.send(app.admin(Method::PATCH, "/merchants/1").json(&patch)).await.status, 200);
    assert_eq!(app.send(app.reborn(Method::GET, "/balance")).await.status, 200);

    let behind_proxy = spawn_app_with(backend, |c| {
        c.merchants[0].ip_allowlist = vec!["203.0.113.7".into()];
        c.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let reply =
        behind_proxy.send(behind_proxy.reborn(Method::GET, "/balance").header("X-Forwarded-For", "203.0.113.7")).await;
    assert_eq!(reply.status, 200, "a trusted proxy's X-Forwarded-For names the client: {}", reply.body);
    let reply =
        behind_proxy.send(behind_proxy.reborn(Method::GET, "/balance").header("X-Forwarded-For", "198.51.100.1")).await;
    assert_eq!((reply.status, reply.code()), (403, "ip_not_allowed"));
}

async fn rate_limit_answers_429_with_retry_after(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.merchants[0].rate_limit_per_minute = 5).await;
    for i in 0..5 {
        let reply = app.send(app.reborn(Method::GET, "/balance")).await;
        assert_eq!(reply.status, 200, "request {i}");
    }
    let reply = app.send(app.reborn(Method::GET, "/balance")).await;
    assert_eq!((reply.status, reply.code()), (429, "rate_limited"));
    let retry: u64 = reply.header("Retry-After").expect("Retry-After").parse().expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    // The limit is per merchant.
    let other = app.reborn_as(crate::helpers::OTHER_KEY, crate::helpers::OTHER_SECRET, Method::GET, "/balance");
    assert_eq!(app.send(other).await.status, 200);
    // A minute later (by the test clock) the window has refilled.
    app.advance_clock(61).await;
    for i in 0..5 {
        let reply = app.send(app.reborn(Method::GET, "/balance")).await;
        assert_eq!(reply.status, 200, "request {i} of the next minute");
    }
    assert_eq!(app.send(app.reborn(Method::GET, "/balance")).await.status, 429);
}

pub(crate) fn signed(
    app: &crate::helpers::TestApp,
    path: &str,
    body: &str,
    timestamp: i64,
    secret: &str,
) -> reqwest::RequestBuilder {
    let signature = hmac_sha256_hex(secret.as_bytes(), format!("{timestamp}.{body}").as_bytes());
    app.reborn(Method::POST, path)
        .header("Content-Type", "application/json")
        .header("X-Timestamp", timestamp.to_string())
        .header("X-Signature", signature)
        .body(body.to_owned())
}

async fn signed_requests_are_verified(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = chrono::Utc::now().timestamp();
    let body = json!({ "invoice_id": "SIG-1", "amount": 10, "currency": "BDT" }).to_string();
    let reply = app.send(signed(&app, "/payment/create", &body, now, SECRET)).await;
    assert_eq!(reply.status, 200, "a good signature passes: {}", reply.body);

    let body2 = json!({ "invoice_id": "SIG-2", "amount": 10, "currency": "BDT" }).to_string();
    let cases = [
        ("wrong secret", signed(&app, "/payment/create", &body2, now, "sk_other")),
        ("stale timestamp", signed(&app, "/payment/create", &body2, now - 310, SECRET)),
        ("future timestamp", signed(&app, "/payment/create", &body2, now + 310, SECRET)),
        ("signature replayed on another body", signed(&app, "/payment/create", &body, now, SECRET).body(body2.clone())),
        (
            "timestamp without signature",
            app.reborn(Method::POST, "/payment/create").header("X-Timestamp", now.to_string()),
        ),
        (
            "not hex",
            app.reborn(Method::POST, "/payment/create")
                .header("X-Timestamp", now.to_string())
                .header("X-Signature", "zz")
                .json(&serde_json::from_str::<serde_json::Value>(&body2).unwrap()),
        ),
    ];
    for (name, request) in cases {
        let reply = app.send(request).await;
        assert_eq!((reply.status, reply.code()), (401, "invalid_signature"), "{name}");
    }
    assert_eq!(app.payment_status("SIG-2").await.status, 404, "no refused request created a payment");

    // A GET signs an empty body.
    let signature = hmac_sha256_hex(SECRET.as_bytes(), format!("{now}.").as_bytes());
    let request =
        app.reborn(Method::GET, "/balance").header("X-Timestamp", now.to_string()).header("X-Signature", signature);
    assert_eq!(app.send(request).await.status, 200);
}

async fn mandatory_signing_refuses_unsigned_requests(backend: Backend) {
    let app = spawn_app_with(backend, |c| {
        if let Some(r) = c.merchants[0].rebornpay.as_mut() {
            r.require_signature = true;
        }
    })
    .await;
    let reply = app.send(app.reborn(Method::GET, "/balance")).await;
    assert_eq!((reply.status, reply.code()), (401, "invalid_signature"));
    let now = chrono::Utc::now().timestamp();
    let body = json!({ "invoice_id": "S", "amount": 1, "currency": "BDT" }).to_string();
    assert_eq!(app.send(signed(&app, "/payment/create", &body, now, SECRET)).await.status, 200);

    // The admin can turn the requirement off.
    let creds = app.send(app.admin(Method::GET, "/merchants/1/credentials")).await;
    let id = creds.body.as_array().unwrap().iter().find(|c| c["dialect"] == "rebornpay").unwrap()["id"].clone();
    let reply = app
        .send(app.admin(Method::PATCH, &format!("/credentials/{id}")).json(&json!({ "require_signature": false })))
        .await;
    assert_eq!(reply.body["require_signature"], false);
    assert_eq!(app.send(app.reborn(Method::GET, "/balance")).await.status, 200);
}

async fn rotated_secret_replaces_the_old_one_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let creds = app.send(app.admin(Method::GET, "/merchants/1/credentials")).await;
    let id = creds.body.as_array().unwrap().iter().find(|c| c["dialect"] == "rebornpay").unwrap()["id"].clone();
    let rotated = app.send(app.admin(Method::POST, &format!("/credentials/{id}/rotate"))).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    assert_eq!(rotated.body["key_id"], KEY, "the public key stays");
    let secret = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(secret, SECRET);
    let reply = app.send(app.reborn(Method::GET, "/balance")).await;
    assert_eq!((reply.status, reply.code()), (401, "invalid_credentials"));
    let reply = app.send(app.reborn_as(KEY, &secret, Method::GET, "/balance")).await;
    assert_eq!(reply.status, 200);
}

async fn a_signed_request_is_accepted_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = chrono::Utc::now().timestamp();
    let body = json!({ "invoice_id": "INV-1", "amount": 10, "currency": "BDT" }).to_string();
    let first = app.send(signed(&app, "/payment/create", &body, now, SECRET)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let replay = app.send(signed(&app, "/payment/create", &body, now, SECRET)).await;
    assert_eq!((replay.status, replay.code()), (401, "invalid_signature"), "the same signed request again");
    assert!(replay.body["message"].as_str().unwrap().contains("already used"), "{}", replay.body);
    // The same signature in capitals is the same signature.
    let signature = hmac_sha256_hex(SECRET.as_bytes(), format!("{now}.{body}").as_bytes()).to_uppercase();
    let upper = app
        .reborn(Method::POST, "/payment/create")
        .header("Content-Type", "application/json")
        .header("X-Timestamp", now.to_string())
        .header("X-Signature", signature)
        .body(body.clone());
    assert_eq!(app.send(upper).await.status, 401);
    // Replaying a signed refund request cannot reserve twice.
    app.captured_payment("PAID", json!(100)).await;
    let refund = json!({ "invoice_id": "PAID", "amount": 10 }).to_string();
    assert_eq!(app.send(signed(&app, "/refund/request", &refund, now, SECRET)).await.status, 200);
    assert_eq!(app.send(signed(&app, "/refund/request", &refund, now, SECRET)).await.status, 401);
    assert_eq!(app.balance().await["reserved"], json!(10));
    // A fresh signature for the same body is a new request.
    assert_eq!(app.send(signed(&app, "/refund/request", &refund, now + 1, SECRET)).await.status, 200);
}

async fn extreme_timestamps_are_refused_not_crashes(backend: Backend) {
    let app = spawn_app(backend).await;
    for ts in [i64::MIN, i64::MAX, -1, 0] {
        let reply = app.send(signed(&app, "/payment/create", "{}", ts, SECRET)).await;
        assert_eq!((reply.status, reply.code()), (401, "invalid_signature"), "X-Timestamp {ts}");
    }
    let reply = app
        .send(
            app.reborn(Method::GET, "/balance")
                .header("X-Timestamp", "99999999999999999999")
                .header("X-Signature", "00"),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (401, "invalid_signature"));
}

db_test!(
    a_signed_request_is_accepted_once,
    extreme_timestamps_are_refused_not_crashes,
    missing_or_wrong_credentials_are_refused,
    pending_and_suspended_merchants_are_not_approved,
    ip_allow_list_refuses_other_addresses,
    signed_requests_are_verified,
    mandatory_signing_refuses_unsigned_requests,
    rotated_secret_replaces_the_old_one_at_once,
);

limits_test!(rate_limit_answers_429_with_retry_after,);
