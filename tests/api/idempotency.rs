//! `Idempotency-Key`: replays, mismatches, concurrent retries.

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::json;

use crate::db_test;
use crate::helpers::{Backend, OTHER_KEY, OTHER_SECRET, spawn_app};

async fn a_retry_replays_the_first_response(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = json!({ "invoice_id": "IDEM-1", "amount": 10, "currency": "BDT" });
    let send = || app.send(app.reborn(Method::POST, "/payment/create").header("Idempotency-Key", "key-1").json(&body));
    let first = send().await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("Idempotent-Replayed"), None);
    let second = send().await;
    assert_eq!(second.status, 200, "not a duplicate_invoice_id: {}", second.body);
    assert_eq!(second.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(second.body, first.body, "the very same response");

    // Errors are replayed too.
    let dup = json!({ "invoice_id": "IDEM-1", "amount": 10, "currency": "BDT", "customer_name": "x" });
    let send_dup =
        || app.send(app.reborn(Method::POST, "/payment/create").header("Idempotency-Key", "key-2").json(&dup));
    assert_eq!(send_dup().await.status, 409);
    let replayed = send_dup().await;
    assert_eq!((replayed.status, replayed.header("Idempotent-Replayed")), (409, Some("true")));
}

async fn the_same_key_with_another_body_is_invalid(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = json!({ "invoice_id": "IDEM-1", "amount": 10, "currency": "BDT" });
    let reply = app.send(app.reborn(Method::POST, "/payment/create").header("Idempotency-Key", "k").json(&first)).await;
    assert_eq!(reply.status, 200);
    let other = json!({ "invoice_id": "IDEM-2", "amount": 10, "currency": "BDT" });
    let reply = app.send(app.reborn(Method::POST, "/payment/create").header("Idempotency-Key", "k").json(&other)).await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_body"));
    assert_eq!(reply.body["details"][0]["field"], "Idempotency-Key");
    assert_eq!(app.payment_status("IDEM-2").await.status, 404, "the mismatched request did nothing");
}

/// A key is kept 24 hours, then forgotten: it can start another request.
async fn a_key_is_forgotten_after_a_day(backend: Backend) {
    let app = spawn_app(backend).await;
    let send = |body: serde_json::Value| {
        app.send(app.reborn(Method::POST, "/payment/create").header("Idempotency-Key", "daily").json(&body))
    };
    let first = json!({ "invoice_id": "IDEM-D1", "amount": 10, "currency": "BDT" });
    let other = json!({ "invoice_id": "IDEM-D2", "amount": 10, "currency": "BDT" });
    assert_eq!(send(first.clone()).await.status, 200);
    app.advance_clock(23 * 3600).await;
    assert_eq!(send(other.clone()).await.status, 400, "still held after 23 hours");
    assert_eq!(send(first).await.header("Idempotent-Replayed"), Some("true"));
    app.advance_clock(2 * 3600).await;
    let reply = send(other).await;
    assert_eq!((reply.status, reply.header("Idempotent-Replayed")), (200, None), "{}", reply.body);
    assert_eq!(app.payment_status("IDEM-D2").await.status, 200, "the second request ran");
}

async fn concurrent_retries_create_one_payment(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = json!({ "invoice_id": "IDEM-C", "amount": 10, "currency": "BDT" });
    let replies =
        join_all((0..10).map(|_| {
            app.send(app.reborn(Method::POST, "/payment/create").header("Idempotency-Key", "same").json(&body))
        }))
        .await;
    assert!(replies.iter().all(|r| r.status == 200), "{:?}", replies.iter().map(|r| &r.body).collect::<Vec<_>>());
    assert!(replies.iter().all(|r| r.body == replies[0].body), "every retry sees the one payment");
    let replayed = replies.iter().filter(|r| r.header("Idempotent-Replayed") == Some("true")).count();
    assert_eq!(replayed, 9);
}

async fn keys_belong_to_one_merchant(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = json!({ "invoice_id": "IDEM-1", "amount": 10, "currency": "BDT" });
    let mine =
        app.send(app.reborn(Method::POST, "/payment/create").header("Idempotency-Key", "shared").json(&body)).await;
    let theirs = app
        .send(
            app.reborn_as(OTHER_KEY, OTHER_SECRET, Method::POST, "/payment/create")
                .header("Idempotency-Key", "shared")
                .json(&body),
        )
        .await;
    assert_eq!((mine.status, theirs.status), (200, 200));
    assert_eq!(theirs.header("Idempotent-Replayed"), None, "another merchant's key is not ours");
}

async fn refunds_are_idempotent_too(backend: Backend) {
    let app = spawn_app(backend).await;
    app.captured_payment("INV-1", json!(100)).await;
    let body = json!({ "invoice_id": "INV-1", "amount": 60, "reason": "r" });
    let send =
        || app.send(app.reborn(Method::POST, "/refund/request").header("Idempotency-Key", "refund-1").json(&body));
    let (a, b) = (send().await, send().await);
    assert_eq!((a.status, b.status), (200, 200), "the second would exceed the payment if it ran");
    assert_eq!(a.body["data"]["refund_id"], b.body["data"]["refund_id"]);
    assert_eq!(app.balance().await["reserved"], json!(60), "reserved once");
}

async fn keys_are_forgotten_after_24_hours(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = json!({ "invoice_id": "OLD-1", "amount": 10, "currency": "BDT" });
    let reply =
        app.send(app.reborn(Method::POST, "/payment/create").header("Idempotency-Key", "old").json(&first)).await;
    assert_eq!(reply.status, 200);
    use sea_orm::ConnectionTrait;
    let db = app.db().await;
    let stale = (chrono::Utc::now() - chrono::Duration::hours(25)).to_rfc3339();
    let sql = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => {
            format!("UPDATE idempotency_keys SET created_at = '{stale}'::timestamptz")
        }
        _ => format!("UPDATE idempotency_keys SET created_at = '{stale}'"),
    };
    db.execute_unprepared(&sql).await.unwrap();
    let second = json!({ "invoice_id": "OLD-2", "amount": 10, "currency": "BDT" });
    let reply =
        app.send(app.reborn(Method::POST, "/payment/create").header("Idempotency-Key", "old").json(&second)).await;
    assert_eq!(reply.status, 200, "a 25-hour-old key is free again: {}", reply.body);
    assert_eq!(reply.body["data"]["invoice_id"], "OLD-2");
}

db_test!(
    a_key_is_forgotten_after_a_day,
    keys_are_forgotten_after_24_hours,
    a_retry_replays_the_first_response,
    the_same_key_with_another_body_is_invalid,
    concurrent_retries_create_one_payment,
    keys_belong_to_one_merchant,
    refunds_are_idempotent_too,
);
