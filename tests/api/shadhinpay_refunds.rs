//! ShadhinPay refunds, races and webhooks: partial and full refunds through the review
//! queue, refunds that never exceed the payment under 50-way races, duplicate creates
//! made once by `Idempotency-Key`, and the doubly signed notifications to
//! `callback_url`.

use std::time::Duration;

use paybridge_conformance::Credentials;
use paybridge_conformance::signing::verify_webhook;
use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};
use crate::hooks::{Hit, Hooks};
use crate::shadhinpay_payments::{SECRET_KEY, code, completed, create, get, seed_body, shadhin};

async fn refund(app: &TestApp, id: &str, body: Option<Value>) -> crate::helpers::Reply {
    let request = shadhin(app, Method::POST, &format!("/payments/{id}/refund"));
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    app.send(request).await
}

/// Approves `refund_id` as ShadhinPay answered it (`RF_12`): the admin API takes it
/// as QA copy it.
async fn approve(app: &TestApp, refund_id: &str) {
    assert!(refund_id.starts_with("RF_"), "{refund_id}");
    let reply = app.send(app.admin(Method::POST, &format!("/refunds/{refund_id}/approve")).json(&json!({}))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

async fn status(app: &TestApp, id: &str) -> Value {
    get(app, id).await.body["data"]["status"].clone()
}

async fn partial_then_full_refund(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = completed(&app, 1500).await;
    let first = refund(&app, &id, Some(json!({ "amount": 500, "reason": "partial" }))).await;
    assert_eq!((first.status, first.body["data"]["status"].clone()), (200, json!("PROCESSING")), "{}", first.body);
    assert_eq!(app.balance().await["reserved"], json!(5), "the refund is reserved from the shared balance");
    approve(&app, first.body["data"]["refund_id"].as_str().unwrap()).await;
    assert_eq!(status(&app, &id).await, "COMPLETED", "a partial refund leaves the payment COMPLETED");
    assert_eq!(app.balance().await["available"], json!(10));

    let too_much = refund(&app, &id, Some(json!({ "amount": 1001 }))).await;
    assert_eq!((too_much.status, code(&too_much)), (400, "REFUND_EXCEEDS_AMOUNT"), "{}", too_much.body);

    // No body at all: the whole rest.
    let rest = refund(&app, &id, None).await;
    assert_eq!(rest.status, 200, "{}", rest.body);
    assert_eq!(rest.body["data"]["amount"], 1000);
    approve(&app, rest.body["data"]["refund_id"].as_str().unwrap()).await;
    assert_eq!(status(&app, &id).await, "REFUNDED");
    assert_eq!(app.balance().await["available"], json!(0));
    let again = refund(&app, &id, Some(json!({}))).await;
    assert_eq!((again.status, code(&again)), (400, "REFUND_EXCEEDS_AMOUNT"));
    let list = app.send(shadhin(&app, Method::GET, "/payments?status=REFUNDED")).await;
    assert_eq!(list.body["data"]["pagination"]["total_items"], 1);
    app.assert_ledger_invariants().await;
}

async fn only_completed_payments_refund(backend: Backend) {
    let app = spawn_app(backend).await;
    let open = create(&app, &seed_body("https://yoursite.com/webhook")).await;
    let reply = refund(&app, open["payment_id"].as_str().unwrap(), Some(json!({ "amount": 100 }))).await;
    assert_eq!((reply.status, code(&reply)), (400, "VALIDATION_ERROR"), "{}", reply.body);
    assert!(reply.body["error"]["details"][0]["message"].as_str().unwrap().contains("INITIATED"));

    let expired = create(&app, &seed_body("https://yoursite.com/webhook")).await;
    app.complete(expired["payment_url"].as_str().unwrap(), json!({ "outcome": "expired" })).await;
    let reply = refund(&app, expired["payment_id"].as_str().unwrap(), Some(json!({ "amount": 100 }))).await;
    assert_eq!((reply.status, code(&reply)), (410, "PAYMENT_EXPIRED"), "{}", reply.body);

    let reply = refund(&app, "SP_404", Some(json!({ "amount": 100 }))).await;
    assert_eq!((reply.status, code(&reply)), (404, "PAYMENT_NOT_FOUND"));
    let id = completed(&app, 1500).await;
    for body in [
        json!({ "amount": 1.5 }),
        json!({ "amount": 0 }),
        json!({ "amount": "100" }),
        json!({ "reason": "x".repeat(501) }),
    ] {
        let reply = refund(&app, &id, Some(body.clone())).await;
        assert_eq!((reply.status, code(&reply)), (400, "VALIDATION_ERROR"), "{body}: {}", reply.body);
    }
    assert_eq!(app.balance().await["reserved"], json!(0), "no refused refund reserved anything");
}

async fn an_overdue_payment_is_expired_before_the_sweep_runs(backend: Backend) {
    let app = spawn_app_with(backend, |c| {
        c.payment_ttl_secs = 1;
        c.expiry_sweep_secs = 3600;
    })
    .await;
    let open = create(&app, &seed_body("https://yoursite.com/webhook")).await;
    // Time passes; the sweep does not run.
    app.clock.advance(Duration::from_secs(2)).expect("a test clock");
    let reply = refund(&app, open["payment_id"].as_str().unwrap(), Some(json!({ "amount": 100 }))).await;
    assert_eq!((reply.status, code(&reply)), (410, "PAYMENT_EXPIRED"), "{}", reply.body);
}

async fn fifty_racing_refunds_never_exceed_the_payment(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = completed(&app, 1500).await;
    let replies =
        futures_util::future::join_all((0..50).map(|_| refund(&app, &id, Some(json!({ "amount": 100 }))))).await;
    let accepted = replies.iter().filter(|r| r.status == 200).count();
    let refused = replies.iter().filter(|r| code(r) == "REFUND_EXCEEDS_AMOUNT").count();
    assert_eq!((accepted, refused), (15, 35), "{:?}", replies.iter().map(|r| &r.body).collect::<Vec<_>>());
    assert_eq!(app.balance().await["reserved"], json!(15));
    app.assert_ledger_invariants().await;
}

async fn fifty_duplicate_creates_make_one_payment(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = seed_body("https://yoursite.com/webhook");
    let send = || app.send(shadhin(&app, Method::POST, "/payments").header("Idempotency-Key", "order-1").json(&body));
    let replies = futures_util::future::join_all((0..50).map(|_| send())).await;
    let ids: std::collections::BTreeSet<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 201, "{}", r.body);
            r.body["data"]["payment_id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(replies.iter().filter(|r| r.header("Idempotent-Replayed") == Some("true")).count(), 49);
    let list = app.send(shadhin(&app, Method::GET, "/payments")).await;
    assert_eq!(list.body["data"]["pagination"]["total_items"], 1);
    // The same key with another body is refused and makes nothing.
    let mut other = body.clone();
    other["amount"] = json!(99);
    let reply =
        app.send(shadhin(&app, Method::POST, "/payments").header("Idempotency-Key", "order-1").json(&other)).await;
    assert_eq!((reply.status, code(&reply)), (400, "VALIDATION_ERROR"), "{}", reply.body);
    // Without a key, each create is a payment of its own.
    create(&app, &body).await;
    assert_eq!(app.send(shadhin(&app, Method::GET, "/payments")).await.body["data"]["pagination"]["total_items"], 2);
}

fn credentials() -> Credentials {
    let mut credentials = Credentials::default();
    credentials.set("credentials.secret_key", SECRET_KEY);
    credentials
}

async fn hit_for(hooks: &Hooks, event: &str, payment_id: &str) -> Hit {
    let hits = hooks
        .wait_for(1, Duration::from_secs(20), |h| {
            h.json["event"] == event && h.json["data"]["payment_id"] == payment_id
        })
        .await;
    hits.into_iter().next().unwrap_or_else(|| panic!("no {event} for {payment_id}"))
}

async fn every_status_change_is_notified_and_doubly_signed(backend: Backend) {
    let hooks = Hooks::start(0).await;
    let merchant_hooks = Hooks::start(0).await;
    let merchant_url = merchant_hooks.url.clone();
    let app = spawn_app_with(backend, move |c| c.merchants[0].webhook_url = Some(merchant_url)).await;
    let callback = format!("{}/shadhinpay", hooks.url);
    let body = seed_body(&callback);

    let paid = create(&app, &body).await;
    let id = paid["payment_id"].as_str().unwrap().to_owned();
    let initiated = hit_for(&hooks, "payment.initiated", &id).await;
    assert_eq!(initiated.path, "/hooks/shadhinpay", "sent to the payment's callback_url");
    app.complete(
        paid["payment_url"].as_str().unwrap(),
        json!({ "outcome": "success", "wallet": { "phone": "01711000000" } }),
    )
    .await;
    let done = hit_for(&hooks, "payment.completed", &id).await;
    let refunded = refund(&app, &id, None).await;
    approve(&app, refunded.body["data"]["refund_id"].as_str().unwrap()).await;
    let refund_hit = hit_for(&hooks, "payment.refunded", &id).await;

    let failed = create(&app, &body).await;
    let card = json!({ "number": "4000000000000051", "expiry": "12/40", "cvv": "123" });
    app.complete(failed["payment_url"].as_str().unwrap(), json!({ "outcome": "success", "card": card })).await;
    let failed_hit = hit_for(&hooks, "payment.failed", failed["payment_id"].as_str().unwrap()).await;
    let cancelled = create(&app, &body).await;
    app.complete(cancelled["payment_url"].as_str().unwrap(), json!({ "outcome": "cancelled" })).await;
    let cancelled_hit = hit_for(&hooks, "payment.cancelled", cancelled["payment_id"].as_str().unwrap()).await;
    let expired = create(&app, &body).await;
    app.complete(expired["payment_url"].as_str().unwrap(), json!({ "outcome": "expired" })).await;
    let expired_hit = hit_for(&hooks, "payment.expired", expired["payment_id"].as_str().unwrap()).await;

    for (hit, status) in [
        (&initiated, "INITIATED"),
        (&done, "COMPLETED"),
        (&refund_hit, "REFUNDED"),
        (&failed_hit, "FAILED"),
        (&cancelled_hit, "CANCELLED"),
        (&expired_hit, "EXPIRED"),
    ] {
        verify_webhook("shadhinpay", &credentials(), &hit.headers, &hit.body)
            .unwrap_or_else(|e| panic!("{status}: {e}: {}", String::from_utf8_lossy(&hit.body)));
        let keys: Vec<&str> = hit.json.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["event", "timestamp", "data", "signature"]);
        assert!(chrono::DateTime::parse_from_rfc3339(hit.json["timestamp"].as_str().unwrap()).is_ok());
        let data = &hit.json["data"];
        assert_eq!(data["status"], status, "{}", hit.json);
        for field in [
            "payment_id",
            "status",
            "amount",
            "currency",
            "transaction_id",
            "payment_method",
            "customer_phone",
            "metadata",
        ] {
            assert!(data.get(field).is_some(), "{status} lacks {field}");
        }
        assert_eq!((data["amount"].clone(), data["currency"].clone()), (json!(1500), json!("BDT")));
        assert_eq!(data["metadata"]["order_id"], "ORD-12345");
    }
    assert!(done.json["data"]["transaction_id"].as_str().unwrap().starts_with("BKS"));
    assert_eq!(done.json["data"]["payment_method"], "bkash");
    assert_eq!(refund_hit.json["data"]["refund_amount"], 1500);
    assert_eq!(failed_hit.json["data"]["payment_method"], "card");

    // A tampered body fails the check a merchant runs.
    let mut tampered = done.body.clone();
    let at = tampered.windows(4).position(|w| w == b"1500").unwrap();
    tampered[at] = b'9';
    assert!(verify_webhook("shadhinpay", &credentials(), &done.headers, &tampered).is_err());
    // Nothing of ShadhinPay's went to the merchant's REBORNPAY webhook URL.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        merchant_hooks.hits().is_empty(),
        "{:?}",
        merchant_hooks.hits().iter().map(|h| &h.json).collect::<Vec<_>>()
    );
}

async fn a_retry_after_a_key_rotation_is_signed_with_the_new_key_twice(backend: Backend) {
    let hooks = Hooks::start(0).await;
    hooks.script([crate::hooks::Answer::status(500)]);
    let app = spawn_app(backend).await;
    let data = create(&app, &seed_body(&format!("{}/rotated", hooks.url))).await;
    let id = data["payment_id"].as_str().unwrap().to_owned();
    let first = hooks.wait_for(1, Duration::from_secs(20), |h| h.json["event"] == "payment.initiated").await;
    verify_webhook("shadhinpay", &credentials(), &first[0].headers, &first[0].body).expect("signed with the old key");
    // Rotate while the delivery waits for its retry.
    let merchants = app.send(app.admin(Method::GET, "/merchants")).await.body;
    let demo = merchants.as_array().unwrap().iter().find(|m| m["name"] == "Demo Shop").unwrap()["id"].clone();
    let creds = app.send(app.admin(Method::GET, &format!("/merchants/{demo}/credentials"))).await.body;
    let cred = creds.as_array().unwrap().iter().find(|c| c["dialect"] == "shadhinpay").unwrap()["id"].clone();
    let rotated = app.send(app.admin(Method::POST, &format!("/credentials/{cred}/rotate"))).await;
    let secret = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(secret, SECRET_KEY);
    let hits = hooks.wait_for(2, Duration::from_secs(20), |h| h.json["data"]["payment_id"] == id.as_str()).await;
    let mut new_key = Credentials::default();
    new_key.set("credentials.secret_key", &secret);
    verify_webhook("shadhinpay", &new_key, &hits[1].headers, &hits[1].body).expect("header and body both signed anew");
}

db_test!(
    a_retry_after_a_key_rotation_is_signed_with_the_new_key_twice,
    partial_then_full_refund,
    only_completed_payments_refund,
    an_overdue_payment_is_expired_before_the_sweep_runs,
    fifty_racing_refunds_never_exceed_the_payment,
    fifty_duplicate_creates_make_one_payment,
    every_status_change_is_notified_and_doubly_signed,
);
