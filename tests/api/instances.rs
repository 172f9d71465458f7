//! Several instances on one database, as behind a load balancer: rate limits counted in
//! the shared store hold across them, and a store that fails is not a refusal.

use std::time::{Duration, Instant};

use reqwest::Method;

use crate::helpers::{Backend, TestApp, spawn_app_with, with_redis_limits};

/// Sends `/balance` round-robin through `apps` until the first 429; how many passed.
async fn balance_until_limited(apps: &[&TestApp]) -> (usize, crate::helpers::Reply) {
    for n in 0..200 {
        let app = apps[n % apps.len()];
        let reply = app.send(app.reborn(Method::GET, "/balance")).await;
        if reply.status != 200 {
            return (n, reply);
        }
    }
    panic!("no limit in 200 requests");
}

/// A merchant's 6 a minute through three instances is 6, not 18: REBORNPAY's
/// merchant bucket and StarPay's per-user hourly budget (its `X-RateLimit-Remaining`
/// counts down across instances). Fails with the buckets in each instance's memory.
async fn a_merchants_limit_holds_across_instances(backend: Backend) {
    let first = spawn_app_with(backend, |c| c.merchants[0].rate_limit_per_minute = 6).await;
    let (second, third) = (first.spawn_peer().await, first.spawn_peer().await);
    let (passed, refused) = balance_until_limited(&[&first, &second, &third]).await;
    // One request comes back every 10 s: a slow run may see one more.
    assert!((6..=7).contains(&passed), "{passed} let through by three instances");
    assert_eq!((refused.status, refused.code()), (429, "rate_limited"), "{}", refused.body);
    for app in [&first, &second, &third] {
        assert_eq!(app.send(app.reborn(Method::GET, "/balance")).await.status, 429, "every instance refuses");
    }
    let mut seen = Vec::new();
    for app in [&first, &second, &third, &first] {
        let profile = app.request(Method::GET, "/starpay/api/v1/profile").header("X-API-KEY", "sp_test_api_user");
        let reply = app.send(profile).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        seen.push(reply.header("X-RateLimit-Remaining").unwrap_or_default().to_owned());
    }
    assert_eq!(seen, ["99", "98", "97", "96"], "one hourly budget, wherever the user's requests land");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(paybridge_redis), ignore = "set PAYBRIDGE_TEST_REDIS_URL to run it")]
async fn a_merchants_limit_holds_across_instances_sqlite() {
    with_redis_limits(a_merchants_limit_holds_across_instances(Backend::Sqlite)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(paybridge_redis, paybridge_postgres)),
    ignore = "set PAYBRIDGE_TEST_REDIS_URL and PAYBRIDGE_TEST_POSTGRES_URL to run it"
)]
async fn a_merchants_limit_holds_across_instances_postgres() {
    with_redis_limits(a_merchants_limit_holds_across_instances(Backend::postgres_or_panic())).await
}

/// A listener that takes connections and never answers: a Redis that hangs.
async fn black_hole() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("redis://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (url, task)
}

/// A store that refuses connections, or takes them and never answers, is not a 500 or
/// a 429 storm: requests are answered in time and counted in the instance's memory
/// (its limit still holds), the log warns, and `/metrics` counts the fallbacks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_counts_in_memory() {
    let (hanging, _hole) = black_hole().await;
    // Port 9 (discard) on loopback: nothing listens there.
    for store in ["redis://127.0.0.1:9".to_owned(), hanging] {
        let app = spawn_app_with(Backend::Sqlite, |c| {
            c.merchants[0].rate_limit_per_minute = 4;
            c.rate_limits.store = store.clone();
            c.rate_limits.timeout_ms = 500;
        })
        .await;
        // A first request of the other merchant (not limited, so not counted): the server's
        // first answer (in a debug build, a second or two) is not the store's wait.
        let other = app.reborn_as(crate::helpers::OTHER_KEY, crate::helpers::OTHER_SECRET, Method::GET, "/balance");
        assert_eq!(app.send(other).await.status, 200);
        // Each request waits for the store at most its timeout (0.5 s), never longer.
        let mut answers = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            let reply = app.send(app.reborn(Method::GET, "/balance")).await;
            let took = started.elapsed();
            assert!(took < Duration::from_secs(2), "{store}: {took:?} for one request");
            answers.push(reply);
        }
        let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
        assert_eq!(statuses, [200, 200, 200, 200, 429], "{store}: the instance's own limit of 4 holds");
        assert_eq!(answers[4].code(), "rate_limited", "{store}: {}", answers[4].body);
        let metrics = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
        let fallbacks = metrics
            .lines()
            .find_map(|l| l.strip_prefix("paybridge_rate_limit_store_fallbacks_total "))
            .and_then(|n| n.trim().parse::<u64>().ok());
        assert_eq!(fallbacks, Some(5), "{store}: every request counted in memory");
        assert!(crate::helpers::captured_logs().contains("rate-limit store (Redis) failed"), "{store}: a warning");
    }
}

/// What one instance accepted or handed out, another honours or refuses alike: a signed
/// request replayed to another instance is refused, an `Idempotency-Key` retried
/// through another instance replays the first answer, and a checkout page served by
/// one instance is paid through another (its CSRF token and link hold everywhere).
async fn what_one_instance_saw_every_instance_knows(backend: Backend) {
    let first = crate::helpers::spawn_app(backend).await;
    let second = first.spawn_peer().await;
    // A signed REBORNPAY create, replayed to the other instance.
    let now = chrono::Utc::now().timestamp();
    let body = serde_json::json!({ "invoice_id": "SIG-SPAN", "amount": 10, "currency": "BDT" }).to_string();
    let signed = crate::rebornpay_auth::signed(&first, "/payment/create", &body, now, crate::helpers::SECRET);
    let accepted = first.send(signed).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let replayed = second
        .send(crate::rebornpay_auth::signed(&second, "/payment/create", &body, now, crate::helpers::SECRET))
        .await;
    assert_eq!((replayed.status, replayed.code()), (401, "invalid_signature"), "{}", replayed.body);
    assert!(replayed.body["message"].as_str().unwrap_or_default().contains("already used"), "{}", replayed.body);
    // An idempotent retry that lands on the other instance.
    let order = serde_json::json!({ "invoice_id": "IDEM-SPAN", "amount": 10, "currency": "BDT" });
    let keyed =
        |app: &TestApp| app.reborn(Method::POST, "/payment/create").header("Idempotency-Key", "span-1").json(&order);
    let original = first.send(keyed(&first)).await;
    assert_eq!(original.status, 200, "{}", original.body);
    let retry = second.send(keyed(&second)).await;
    assert_eq!((retry.status, retry.header("Idempotent-Replayed")), (200, Some("true")), "{}", retry.body);
    assert_eq!(retry.body, original.body, "the very same answer");
    // A checkout page from the first, its form posted to the second.
    let url = first.new_payment("CHECKOUT-SPAN", serde_json::json!(25)).await;
    let (status, html) = first.checkout_page(&url).await;
    assert_eq!(status, 200);
    let csrf = crate::helpers::csrf_of(&html).unwrap_or_default();
    assert!(!csrf.is_empty(), "the page carries a CSRF token");
    let elsewhere = url.replacen(&first.base, &second.base, 1);
    assert_ne!(elsewhere, url);
    let form = [("csrf", csrf.as_str()), ("action", "pay"), ("wallet_phone", "01712345678"), ("wallet_pin", "1234")];
    let (status, location, page) = second.post_checkout(&elsewhere, &form).await;
    assert!(status == 303 || status == 302, "paid through the other instance: {status} {page}");
    assert!(location.is_some(), "sent back to the merchant");
    let paid = first.payment_status("CHECKOUT-SPAN").await;
    assert_eq!(paid.body["data"]["status"], "processing", "{}", paid.body);
}

/// Three instances sweeping the same overdue payments at once expire each one once: one
/// `payment.expired` event each, however the sweeps interleave.
async fn a_sweep_on_every_instance_expires_each_payment_once(backend: Backend) {
    let first = crate::helpers::spawn_app(backend).await;
    let (second, third) = (first.spawn_peer().await, first.spawn_peer().await);
    for i in 0..40 {
        first.new_payment(&format!("EXP-{i}"), serde_json::json!(10)).await;
    }
    // Each instance's test clock moves past the payments' expiry, and each sweeps at once.
    let sweeps = [&first, &second, &third].map(|app| app.advance_clock(16 * 60));
    for reply in futures_util::future::join_all(sweeps).await {
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let events = first.send(first.admin(Method::GET, "/events?limit=1000")).await;
    let expired: Vec<i64> = events
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event_type"] == "payment.expired")
        .map(|e| e["subject_id"].as_i64().unwrap())
        .collect();
    let mut once = expired.clone();
    once.sort_unstable();
    once.dedup();
    assert_eq!((expired.len(), once.len()), (40, 40), "each of the 40 expired once: {expired:?}");
    for i in [0, 39] {
        let status = third.payment_status(&format!("EXP-{i}")).await;
        assert_eq!(status.body["data"]["status"], "expired", "{}", status.body);
    }
}

crate::db_test!(what_one_instance_saw_every_instance_knows, a_sweep_on_every_instance_expires_each_payment_once);

/// On Postgres a merchant suspended through one instance is refused by another at
/// once (the change is announced as it commits), not once the other's credential cache
/// — a minute here — runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(paybridge_postgres), ignore = "set PAYBRIDGE_TEST_POSTGRES_URL to run it")]
async fn a_suspension_reaches_every_instance_at_once() {
    let first = spawn_app_with(Backend::postgres_or_panic(), |c| c.auth_cache_ttl_ms = 60_000).await;
    let second = first.spawn_peer().await;
    // The second instance has the demo merchant's key cached.
    assert_eq!(second.send(second.reborn(Method::GET, "/balance")).await.status, 200);
    let suspended = first.send(first.admin(Method::POST, "/merchants/1/suspend").json(&serde_json::json!({}))).await;
    assert_eq!(suspended.status, 200, "{}", suspended.body);
    let started = Instant::now();
    loop {
        let reply = second.send(second.reborn(Method::GET, "/balance")).await;
        if reply.status != 200 {
            assert_eq!(reply.code(), "merchant_not_approved", "{}", reply.body);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still admitted {:?} after the suspension",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
