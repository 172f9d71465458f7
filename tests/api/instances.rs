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
            c.rate_limits.timeout_ms = 1000;
        })
        .await;
        let started = Instant::now();
        let (passed, refused) = balance_until_limited(&[&app]).await;
        assert_eq!(passed, 4, "{store}: the instance's own limit holds");
        assert_eq!((refused.status, refused.code()), (429, "rate_limited"), "{store}: {}", refused.body);
        // The first request waits for the store at most its timeout (1 s); the rest do
        // not wait (it is left alone for a second after it failed), or five would take 5 s.
        assert!(started.elapsed() < Duration::from_secs(4), "{store}: {:?} for five requests", started.elapsed());
        let metrics = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
        let fallbacks = metrics
            .lines()
            .find_map(|l| l.strip_prefix("paybridge_rate_limit_store_fallbacks_total "))
            .and_then(|n| n.trim().parse::<u64>().ok());
        assert_eq!(fallbacks, Some(5), "{store}: every request counted in memory");
        assert!(crate::helpers::captured_logs().contains("rate-limit store (Redis) failed"), "{store}: a warning");
    }
}
