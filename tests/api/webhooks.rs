//! The webhook engine end to end: REBORNPAY's signed notifications reach a receiver at
//! least once — through receivers that are down, fail, hang or redirect, through a
//! graceful restart and a crash, and with two instances sharing one queue.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use paybridge_conformance::Credentials;
use paybridge_conformance::signing::verify_webhook;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::time::{Instant, sleep};

use crate::db_test;
use crate::helpers::{ADMIN_TOKEN, Backend, KEY, OTHER_KEY, OTHER_SECRET, SECRET, TestApp, spawn_app_with};
use crate::hooks::{Answer, Hit, Hooks, free_port};

const WAIT: Duration = Duration::from_secs(20);

/// Spawns paybridge sending the demo merchant's webhooks to `url`.
async fn app_for(backend: Backend, url: &str, adjust: impl FnOnce(&mut paybridge::config::Config)) -> TestApp {
    let url = url.to_owned();
    spawn_app_with(backend, move |c| {
        c.merchants[0].webhook_url = Some(url);
        adjust(c);
    })
    .await
}

/// `POST /webhook/test`: queues a test.ping and returns its event id.
async fn ping(app: &TestApp, data: Value) -> i64 {
    let body = json!({ "event": "test.ping", "data": data });
    let reply = app.send(app.reborn(Method::POST, "/webhook/test").json(&body)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["data"]["event_id"].as_i64().expect("event id")
}

fn event_of(hit: &Hit) -> i64 {
    hit.header("x-paybridge-event").parse().expect("X-Paybridge-Event")
}

fn rebornpay_credentials() -> Credentials {
    let mut credentials = Credentials::default();
    credentials.set("credentials.api_key", KEY);
    credentials.set("credentials.api_secret", SECRET);
    credentials
}

async fn deliveries(app: &TestApp, query: &str) -> Vec<Value> {
    let reply = app.send(app.admin(Method::GET, &format!("/webhooks/deliveries?{query}"))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body.as_array().expect("a list").clone()
}

/// Waits until the delivery of `event_id` is in `status`; returns its detail.
async fn delivery_in(app: &TestApp, event_id: i64, status: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let found = deliveries(app, "limit=1000").await.into_iter().find(|d| d["event_id"] == event_id);
        if let Some(d) = &found
            && d["status"] == status
        {
            return app.send(app.admin(Method::GET, &format!("/webhooks/deliveries/{}", d["id"]))).await.body;
        }
        assert!(Instant::now() < deadline, "the delivery of event {event_id} never became {status}: {found:?}");
        sleep(Duration::from_millis(50)).await;
    }
}

/// One line of `/metrics`, as a number (0 when absent).
async fn metric(app: &TestApp, series: &str) -> f64 {
    let text = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or_default()
}

async fn every_rebornpay_event_is_signed_and_shaped(backend: Backend) {
    let hooks = Hooks::start(0).await;
    let app = app_for(backend, &hooks.url, |_| {}).await;

    let txn = app.paid_payment("INV-1", json!(2500)).await;
    assert_eq!(app.verify("INV-1", &txn).await.status, 200);
    let declined = app.new_payment("INV-2", json!(10.5)).await;
    assert_eq!(app.complete(&declined, json!({ "outcome": "failed" })).await.status, 200);
    let refund = app.request_refund("INV-1", json!(1000)).await;
    let refund_id = refund.body["data"]["refund_id"].as_str().expect("refund id").to_owned();
    let approve = format!("/refunds/{}/approve", refund_id.trim_start_matches("rf_"));
    assert_eq!(app.send(app.admin(Method::POST, &approve).json(&json!({}))).await.status, 200);
    let settlement =
        app.send(app.admin(Method::POST, "/merchants/1/settlements").json(&json!({ "amount": "500" }))).await;
    assert_eq!(settlement.status, 201, "{}", settlement.body);
    ping(&app, json!({ "hello": "world" })).await;

    let hits = hooks.wait_for(5, WAIT, |_| true).await;
    let by_event: BTreeMap<&str, &Hit> =
        hits.iter().map(|h| (h.json["event"].as_str().unwrap_or_default(), h)).collect();
    let expected = [
        ("payment.success", json!({ "invoice_id": "INV-1", "transaction_id": txn, "amount": 2500, "currency": "BDT" })),
        (
            "refund.processed",
            json!({ "refund_id": refund_id, "invoice_id": "INV-1", "amount": 1000, "currency": "BDT" }),
        ),
        (
            "settlement.paid",
            json!({ "settlement_id": format!("st_{}", settlement.body["id"]), "amount": 500, "currency": "BDT" }),
        ),
        ("test.ping", json!({ "hello": "world" })),
    ];
    for (event, data) in expected {
        let hit = by_event.get(event).unwrap_or_else(|| panic!("no {event} among {hits:?}"));
        assert_eq!(hit.json, json!({ "event": event, "data": data }));
    }
    let failed = &by_event.get("payment.failed").expect("payment.failed").json["data"];
    assert_eq!(
        (&failed["invoice_id"], &failed["amount"], &failed["currency"]),
        (&json!("INV-2"), &json!(10.5), &json!("BDT"))
    );
    assert_eq!(hits.len(), 5, "one notification per event: {hits:?}");

    let credentials = rebornpay_credentials();
    for hit in &hits {
        assert_eq!(hit.path, "/hooks");
        assert_eq!(hit.header("content-type"), "application/json");
        assert!(hit.header("x-paybridge-delivery").parse::<i64>().is_ok(), "{:?}", hit.headers);
        verify_webhook("rebornpay", &credentials, &hit.headers, &hit.body).expect("the merchant's check passes");
        let mut tampered = hit.body.clone();
        tampered.push(b' ');
        assert!(verify_webhook("rebornpay", &credentials, &hit.headers, &tampered).is_err());
    }
}

async fn a_receiver_that_was_down_gets_it_when_it_is_back(backend: Backend) {
    let port = free_port();
    let app = app_for(backend, &format!("http://127.0.0.1:{port}/hooks"), |_| {}).await;
    let event = ping(&app, json!({})).await;

    let deadline = Instant::now() + WAIT;
    let failing = loop {
        let d = deliveries(&app, "event=test.ping").await;
        if let Some(first) = d.first()
            && first["attempts"].as_u64() >= Some(2)
        {
            break first.clone();
        }
        assert!(Instant::now() < deadline, "never retried: {d:?}");
        sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(failing["status"], "pending", "a refused connection is retried: {failing}");
    assert!(failing["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{failing}");

    let hooks = Hooks::start(port).await;
    let hits = hooks.wait_for(1, WAIT, |_| true).await;
    assert_eq!(hits.iter().map(event_of).collect::<Vec<_>>(), [event]);
    let detail = delivery_in(&app, event, "delivered").await;
    let attempts = detail["attempts"].as_array().unwrap();
    assert!(attempts.len() >= 3, "{detail}");
    assert!(attempts[0]["status_code"].is_null() && attempts[0]["error"].is_string(), "{detail}");
    assert_eq!(attempts.last().unwrap()["status_code"], 200);
}

async fn errors_and_timeouts_are_retried(backend: Backend) {
    let hooks = Hooks::start(0).await;
    let app = app_for(backend, &hooks.url, |c| c.webhooks.timeout_ms = 300).await;
    hooks.script([Answer::status(500), Answer { delay: Duration::from_secs(2), ..Answer::status(200) }]);
    let event = ping(&app, json!({ "n": 1 })).await;

    let hits = hooks.wait_for(3, WAIT, |_| true).await;
    assert_eq!(hits.len(), 3);
    assert!(hits.iter().all(|h| event_of(h) == event && h.body == hits[0].body), "the same notification each time");
    assert!(hits.iter().all(|h| h.header("x-rebornpay-signature") == hits[0].header("x-rebornpay-signature")));
    let detail = delivery_in(&app, event, "delivered").await;
    let attempts = detail["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{detail}");
    assert_eq!(attempts[0]["status_code"], 500);
    assert!(attempts[1]["status_code"].is_null(), "{detail}");
    assert!(attempts[1]["error"].as_str().unwrap().contains("timed out"), "{detail}");
    assert!(attempts[1]["latency_ms"].as_u64().unwrap() < 1500, "the timeout cut the wait: {detail}");
    assert_eq!(attempts[2]["status_code"], 200);
    let gaps: Vec<Duration> = hits.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(gaps.iter().all(|g| *g >= Duration::from_millis(150)), "backed off between attempts: {gaps:?}");
    assert_eq!(metric(&app, "paybridge_webhook_deliveries_total{outcome=\"retry\"}").await, 2.0);
    assert_eq!(metric(&app, "paybridge_webhook_deliveries_total{outcome=\"delivered\"}").await, 1.0);
}

/// A retry falls due with nothing to wake the engine; a stream of new events that make no
/// deliveries (another merchant's payments, no webhook URL) keeps waking it, and the retry
/// still goes out within a few poll intervals of its time.
async fn a_retry_is_not_held_back_by_a_stream_of_other_events(backend: Backend) {
    let hooks = Hooks::start(0).await;
    let app = app_for(backend, &hooks.url, |c| c.merchants[1].webhook_url = None).await;
    hooks.script([Answer::status(500), Answer::status(200)]);
    let event = ping(&app, json!({ "n": 1 })).await;
    hooks.wait_for(1, WAIT, |_| true).await;
    let created = std::cell::Cell::new(0);
    let stream = async {
        loop {
            created.set(created.get() + 1);
            let body = json!({ "invoice_id": format!("STREAM-{}", created.get()), "amount": 10, "currency": "BDT" });
            let reply =
                app.send(app.reborn_as(OTHER_KEY, OTHER_SECRET, Method::POST, "/payment/create").json(&body)).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            sleep(Duration::from_millis(5)).await;
        }
    };
    // Backoff 200 ms (±20 %), poll 50 ms: due well within two seconds.
    let hits = tokio::select! {
        hits = hooks.wait_for(2, Duration::from_secs(2), |_| true) => hits,
        () = stream => unreachable!(),
    };
    assert_eq!(hits.len(), 2, "the retry went out while {} payments were created", created.get());
    assert!(hits.iter().all(|h| event_of(h) == event));
}

async fn redirects_are_not_followed_and_replies_are_cut(backend: Backend) {
    let hooks = Hooks::start(0).await;
    let app = app_for(backend, &hooks.url, |_| {}).await;
    let elsewhere = format!("http://127.0.0.1:{}/elsewhere", hooks.port);
    let redirect = Answer { headers: vec![("Location", elsewhere)], ..Answer::status(302) };
    hooks.script([redirect, Answer { body_len: 100_000, ..Answer::status(200) }]);
    let event = ping(&app, json!({})).await;

    let detail = delivery_in(&app, event, "delivered").await;
    let attempts = detail["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "a redirect is not an acknowledgement: {detail}");
    assert_eq!((attempts[0]["status_code"].clone(), attempts[1]["status_code"].clone()), (json!(302), json!(200)));
    let excerpt = attempts[1]["response_excerpt"].as_str().unwrap();
    assert!(!excerpt.is_empty() && excerpt.len() <= 1024, "kept {} bytes", excerpt.len());
    assert!(hooks.hits().iter().all(|h| h.path == "/hooks"), "never followed to /elsewhere");
}

async fn private_targets_are_refused_when_guarded(backend: Backend) {
    let hooks = Hooks::start(0).await;
    let app = app_for(backend, &hooks.url, |c| c.webhooks.block_private_targets = Some(true)).await;
    let targets = [
        hooks.url.clone(),
        format!("http://localhost:{}/hooks", hooks.port),
        format!("http://[::1]:{}/hooks", hooks.port),
        "http://10.1.2.3/hooks".to_owned(),
        "http://169.254.169.254/latest/meta-data".to_owned(),
    ];
    for target in &targets {
        let patch = app.send(app.admin(Method::PATCH, "/merchants/1").json(&json!({ "webhook_url": target }))).await;
        assert_eq!(patch.status, 200, "{}", patch.body);
        let event = ping(&app, json!({})).await;
        let detail = delivery_in(&app, event, "dead").await;
        let attempts = detail["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 1, "refused at once, not retried: {detail}");
        assert!(attempts[0]["error"].as_str().unwrap().contains("refused"), "{detail}");
    }
    assert!(hooks.hits().is_empty(), "the receiver was never reached");
    assert_eq!(metric(&app, "paybridge_webhook_deliveries_total{outcome=\"refused\"}").await, targets.len() as f64);
}

async fn admins_list_inspect_and_replay_deliveries(backend: Backend) {
    let hooks = Hooks::start(0).await;
    let app = app_for(backend, &hooks.url, |_| {}).await;
    let event = ping(&app, json!({ "replay": "me" })).await;
    let detail = delivery_in(&app, event, "delivered").await;
    let id = detail["delivery"]["id"].as_i64().unwrap();
    assert_eq!(detail["delivery"]["event"], "test.ping");
    assert_eq!(detail["delivery"]["dialect"], "rebornpay");
    assert_eq!(detail["delivery"]["url"], hooks.url);
    assert_eq!(detail["delivery"]["origin"], "event");

    let listed = |query: &'static str| {
        let app = &app;
        async move { deliveries(app, query).await.iter().map(|d| d["id"].as_i64().unwrap()).collect::<Vec<_>>() }
    };
    assert_eq!(listed("merchant_id=1&event=test.ping&status=delivered").await, [id]);
    assert_eq!(listed("status=dead").await, Vec::<i64>::new());
    assert_eq!(listed("merchant_id=2").await, Vec::<i64>::new());
    assert_eq!(listed("event=payment.success").await, Vec::<i64>::new());

    let replay = app.send(app.admin(Method::POST, &format!("/webhooks/deliveries/{id}/replay"))).await;
    assert_eq!(replay.status, 201, "{}", replay.body);
    let copy = replay.body["id"].as_i64().unwrap();
    assert_ne!(copy, id);
    assert_eq!(replay.body["event_id"], event);
    assert!(replay.body["origin"].as_str().unwrap().starts_with("replay"), "{}", replay.body);
    let hits = hooks.wait_for(2, WAIT, |_| true).await;
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].body, hits[1].body, "the same body");
    assert_eq!(hits[0].header("x-rebornpay-signature"), hits[1].header("x-rebornpay-signature"));
    assert_eq!(hits[1].header("x-paybridge-delivery"), copy.to_string());
    assert_eq!(event_of(&hits[1]), event, "the same event: receivers can tell it is a repeat");
    assert_eq!(deliveries(&app, "event=test.ping").await.len(), 2);

    let missing = app.send(app.admin(Method::POST, "/webhooks/deliveries/999999/replay")).await;
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert_eq!(app.send(app.admin(Method::GET, "/webhooks/deliveries/999999")).await.status, 404);
    let anonymous = app.send(app.request(Method::GET, "/admin/v1/webhooks/deliveries")).await;
    assert_eq!(anonymous.status, 401);
    let wrong = app.request(Method::POST, &format!("/admin/v1/webhooks/deliveries/{id}/replay"));
    assert_eq!(app.send(wrong.bearer_auth(format!("{ADMIN_TOKEN}x"))).await.status, 401);
    assert_eq!(deliveries(&app, "event=test.ping").await.len(), 2, "refused replays queue nothing");
    assert_eq!(metric(&app, "paybridge_webhook_deliveries_total{outcome=\"delivered\"}").await, 2.0);
}

async fn a_payments_notifications_go_one_at_a_time_in_order(backend: Backend) {
    let hooks = Hooks::start(0).await;
    // Events pile up while delivery is off, then go out together.
    let mut app = app_for(backend, &hooks.url, |c| c.webhooks.enabled = false).await;
    app.captured_payment("INV-A", json!(500)).await;
    for amount in [100, 200] {
        let refund = app.request_refund("INV-A", json!(amount)).await;
        let id = refund.body["data"]["refund_id"].as_str().unwrap().trim_start_matches("rf_").to_owned();
        app.send(app.admin(Method::POST, &format!("/refunds/{id}/approve")).json(&json!({}))).await;
    }
    app.captured_payment("INV-B", json!(700)).await;
    assert!(hooks.hits().is_empty());

    let hold = Duration::from_millis(300);
    hooks.script(vec![Answer { delay: hold, ..Answer::status(200) }; 4]);
    app.config.webhooks.enabled = true;
    let app = app.restart().await;
    let hits = hooks.wait_for(4, WAIT, |_| true).await;
    let of = |invoice: &str| -> Vec<&Hit> { hits.iter().filter(|h| h.json["data"]["invoice_id"] == invoice).collect() };
    let a = of("INV-A");
    let names: Vec<&str> = a.iter().map(|h| h.json["event"].as_str().unwrap()).collect();
    assert_eq!(names, ["payment.success", "refund.processed", "refund.processed"]);
    assert_eq!(
        a.iter().map(|h| h.json["data"]["amount"].clone()).collect::<Vec<_>>(),
        [json!(500), json!(100), json!(200)]
    );
    for pair in a.windows(2) {
        assert!(pair[1].at - pair[0].at >= hold - Duration::from_millis(20), "sent after the previous was answered");
    }
    let b = of("INV-B");
    assert_eq!(b.len(), 1);
    let apart = if b[0].at > a[0].at { b[0].at - a[0].at } else { a[0].at - b[0].at };
    assert!(apart < hold, "another payment's notification does not wait: {apart:?}");

    let subject = deliveries(&app, "event=payment.success")
        .await
        .iter()
        .find(|d| d["event_id"] == event_of(a[0]))
        .unwrap()["subject"]
        .clone();
    let log = deliveries(&app, &format!("subject={}", subject.as_str().unwrap())).await;
    let mut events: Vec<i64> = log.iter().map(|d| d["event_id"].as_i64().unwrap()).collect();
    events.reverse();
    assert_eq!(events, a.iter().map(|h| event_of(h)).collect::<Vec<_>>(), "the log keeps the payment's order");
}

async fn stopping_lets_a_delivery_in_flight_finish(backend: Backend) {
    let hooks = Hooks::start(0).await;
    let app = app_for(backend, &hooks.url, |_| {}).await;
    hooks.script([Answer { delay: Duration::from_millis(800), ..Answer::status(200) }]);
    let event = ping(&app, json!({})).await;
    assert_eq!(hooks.wait_for(1, WAIT, |_| true).await.len(), 1);

    let app = app.restart().await;
    let detail = delivery_in(&app, event, "delivered").await;
    assert_eq!(detail["attempts"].as_array().unwrap().len(), 1, "recorded before stopping: {detail}");
    sleep(Duration::from_millis(500)).await;
    assert_eq!(hooks.hits().len(), 1, "not sent again after the restart");
}

async fn two_instances_deliver_each_event_once(backend: Backend) {
    const EVENTS: usize = 1000;
    let hooks = Hooks::start(0).await;
    let first = app_for(backend, &hooks.url, |_| {}).await;
    let second = first.spawn_peer().await;
    let apps = [&first, &second];
    use futures_util::StreamExt;
    futures_util::stream::iter(0..EVENTS)
        .map(|n| ping(apps[n % 2], json!({ "n": n })))
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;

    let hits = hooks.wait_for(EVENTS, Duration::from_secs(120), |_| true).await;
    sleep(Duration::from_millis(500)).await;
    let hits_after = hooks.hits();
    let distinct: BTreeSet<i64> = hits_after.iter().map(event_of).collect();
    assert_eq!(distinct.len(), EVENTS, "every event delivered ({} hits)", hits.len());
    assert_eq!(hits_after.len(), EVENTS, "and none twice");
    let series = "paybridge_webhook_deliveries_total{outcome=\"delivered\"}";
    let (a, b) = (metric(&first, series).await, metric(&second, series).await);
    assert_eq!(a + b, EVENTS as f64);
    assert!(a > 0.0 && b > 0.0, "both instances delivered: {a} and {b}");
}

/// The real binary, killed with SIGKILL while deliveries are in flight, delivers them
/// after it starts again.
async fn deliveries_survive_a_crash(backend: Backend) {
    const EVENTS: usize = 10;
    let hooks = Hooks::start(0).await;
    // An in-process instance with delivery off only holds the database (a temporary
    // SQLite file, or a Postgres schema) for the binary, with the merchant the binary's
    // fixture names, and removes it afterwards.
    let holder = app_for(backend, &hooks.url, |c| c.webhooks.enabled = false).await;
    let dir = tempfile::tempdir().unwrap();
    // Every first attempt hangs until the crash.
    hooks.script(vec![Answer { delay: Duration::from_secs(60), ..Answer::status(200) }; EVENTS]);
    let port = free_port();
    let config = dir.path().join("paybridge.toml");
    std::fs::write(
        &config,
        format!(
            r#"
listen = "127.0.0.1:{port}"
database_url = "{database}"
admin_token = "{ADMIN_TOKEN}"
public_url = "http://127.0.0.1:{port}"

[webhooks]
timeout_ms = 2000
backoff_initial_ms = 200
backoff_max_ms = 1000
poll_ms = 50
block_private_targets = false

[[merchants]]
name = "Demo Shop"
webhook_url = "{hooks}"
rate_limit_per_minute = 0
rebornpay = {{ api_key = "{KEY}", api_secret = "{SECRET}", require_signature = false }}
"#,
            database = holder.db_url,
            hooks = hooks.url,
        ),
    )
    .unwrap();
    let start = || crate::helpers::Binary::start(&config, None);
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let ready = |client: reqwest::Client, base: String| async move {
        let deadline = Instant::now() + WAIT;
        while client.get(format!("{base}/readyz")).send().await.map(|r| r.status() != 200).unwrap_or(true) {
            assert!(Instant::now() < deadline, "paybridge never became ready");
            sleep(Duration::from_millis(50)).await;
        }
    };

    let mut server = start();
    ready(client.clone(), base.clone()).await;
    let mut events = BTreeSet::new();
    for n in 0..EVENTS {
        let reply = client
            .post(format!("{base}/rebornpay/api/v1/webhook/test"))
            .header("X-Api-Key", KEY)
            .header("X-Api-Secret", SECRET)
            .json(&json!({ "event": "test.ping", "data": { "n": n } }))
            .send()
            .await
            .unwrap();
        let body: Value = reply.json().await.unwrap();
        events.insert(body["data"]["event_id"].as_i64().expect("event id"));
    }
    assert_eq!(hooks.wait_for(EVENTS, WAIT, |_| true).await.len(), EVENTS, "all in flight");
    server.0.kill().unwrap();
    server.0.wait().unwrap();

    let _server = start();
    ready(client.clone(), base.clone()).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let delivered: BTreeSet<i64> = hooks.hits().iter().skip(EVENTS).map(event_of).collect();
        if delivered == events {
            break;
        }
        assert!(Instant::now() < deadline, "after the crash only {delivered:?} of {events:?} arrived");
        sleep(Duration::from_millis(100)).await;
    }
    // And the log says so, once the results are written.
    loop {
        let list: Value = client
            .get(format!("{base}/admin/v1/webhooks/deliveries?status=delivered"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if list.as_array().unwrap().len() == EVENTS {
            break;
        }
        assert!(Instant::now() < deadline, "not all recorded as delivered: {list}");
        sleep(Duration::from_millis(100)).await;
    }
}

async fn a_delivery_is_dead_when_its_retry_window_closes(backend: Backend) {
    let hooks = Hooks::start(0).await;
    let app = app_for(backend, &hooks.url, |c| c.webhooks.retry_window_secs = 1).await;
    hooks.script(vec![Answer::status(500); 100]);
    let event = ping(&app, json!({})).await;

    let detail = delivery_in(&app, event, "dead").await;
    let attempts = detail["attempts"].as_array().unwrap();
    assert!(attempts.len() >= 2, "retried within the window first: {detail}");
    assert!(attempts.iter().all(|a| a["status_code"] == 500), "{detail}");
    let created = chrono::DateTime::parse_from_rfc3339(detail["delivery"]["created_at"].as_str().unwrap()).unwrap();
    let last = attempts.last().unwrap()["attempted_at"].as_str().unwrap();
    let last = chrono::DateTime::parse_from_rfc3339(last).unwrap();
    assert!(last - created < chrono::TimeDelta::seconds(1), "no attempt after the window: {detail}");
    let hits = hooks.hits().len();
    // Past any backoff: the worker wakes, and a delivery still queued would go now.
    app.advance_clock(3600).await;
    sleep(Duration::from_millis(300)).await;
    assert_eq!(hooks.hits().len(), hits, "a dead delivery is not sent again");
    assert_eq!(metric(&app, "paybridge_webhook_deliveries_total{outcome=\"dead\"}").await, 1.0);
}

/// The test clock brings a retry due in ten minutes forward, and past the retry window
/// the next attempt is the last.
async fn the_test_clock_brings_retries_forward_and_closes_their_window(backend: Backend) {
    let hooks = Hooks::start(0).await;
    let app = app_for(backend, &hooks.url, |c| {
        c.webhooks.backoff_initial_ms = 600_000;
        c.webhooks.backoff_max_ms = 600_000;
        c.webhooks.retry_window_secs = 3600;
    })
    .await;
    hooks.script(vec![Answer::status(500); 100]);
    let event = ping(&app, json!({})).await;
    assert_eq!(hooks.wait_for(1, WAIT, |_| true).await.len(), 1);
    // Ten minutes (±20 %) away: a real wait would be that long.
    app.advance_clock(13 * 60).await;
    assert_eq!(hooks.wait_for(2, WAIT, |_| true).await.len(), 2, "retried at once");
    let detail = delivery_in(&app, event, "pending").await;
    assert_eq!(detail["attempts"].as_array().unwrap().len(), 2, "waiting again: {detail}");
    // Two hours on, the due retry goes out, fails, and its next would be past the window.
    app.advance_clock(2 * 3600).await;
    let detail = delivery_in(&app, event, "dead").await;
    assert_eq!(detail["attempts"].as_array().unwrap().len(), 3, "{detail}");
}

/// Advancing the test clock while a send is in flight hands it to no other worker: the
/// lease is timed by the system's clock, so the answer of the first send decides.
async fn advancing_the_clock_leaves_a_send_in_flight_alone(backend: Backend) {
    let hooks = Hooks::start(0).await;
    let app = app_for(backend, &hooks.url, |c| {
        c.webhooks.timeout_ms = 3_000;
        c.webhooks.backoff_initial_ms = 600_000;
        c.webhooks.backoff_max_ms = 600_000;
    })
    .await;
    hooks.script([Answer { delay: Duration::from_millis(1500), ..Answer::status(500) }]);
    let event = ping(&app, json!({})).await;
    assert_eq!(hooks.wait_for(1, WAIT, |_| true).await.len(), 1);
    // Far past the lease (twice the timeout and 5 s) while the receiver still holds it.
    app.advance_clock(60).await;
    let detail = delivery_in(&app, event, "pending").await;
    assert_eq!(detail["attempts"].as_array().unwrap().len(), 1, "one attempt recorded: {detail}");
    sleep(Duration::from_millis(300)).await;
    assert_eq!(hooks.hits().len(), 1, "not sent again while in flight, nor retried before its backoff");
}

/// An event whose payload does not fit its kind (a corrupt row) is dispatched with
/// nothing sent, and holds up nothing behind it.
async fn an_unreadable_event_sends_nothing_and_blocks_nothing(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let hooks = Hooks::start(0).await;
    let mut app = app_for(backend, &hooks.url, |c| c.webhooks.enabled = false).await;
    let bad = ping(&app, json!({ "n": 1 })).await;
    let db = app.db().await;
    let sql = format!("UPDATE outbox_events SET event_type = 'payment.succeeded' WHERE id = {bad}");
    db.execute_unprepared(&sql).await.expect("the event is corrupted");
    app.config.webhooks.enabled = true;
    let app = app.restart().await;
    let good = ping(&app, json!({ "n": 2 })).await;
    let hits = hooks.wait_for(1, WAIT, |_| true).await;
    assert_eq!(event_of(&hits[0]), good, "the next event goes out");
    let deadline = Instant::now() + WAIT;
    while metric(&app, "paybridge_outbox_undispatched").await != 0.0 {
        assert!(Instant::now() < deadline, "the unreadable event was never dispatched");
        sleep(Duration::from_millis(50)).await;
    }
    let made = deliveries(&app, "limit=1000").await;
    assert!(made.iter().all(|d| d["event_id"] != bad), "nothing made of the unreadable event: {made:?}");
    assert_eq!(hooks.hits().len(), 1);
    let logs = crate::helpers::captured_logs();
    assert!(logs.contains("unreadable outbox event"), "and it is logged, not passed over in silence");
}

async fn the_queue_gauges_show_what_waits(backend: Backend) {
    let hooks = Hooks::start(0).await;
    let app = app_for(backend, &hooks.url, |c| {
        c.webhooks.concurrency = 1;
        c.webhooks.timeout_ms = 10_000;
    })
    .await;
    // One delivery at a time, and the receiver holds the first for 4 s: the others wait.
    hooks.script([Answer { delay: Duration::from_secs(4), ..Answer::status(200) }]);
    for n in 0..3 {
        ping(&app, json!({ "n": n })).await;
    }
    let deadline = Instant::now() + WAIT;
    loop {
        let depth = metric(&app, "paybridge_webhook_queue_depth").await;
        let oldest = metric(&app, "paybridge_webhook_oldest_due_seconds").await;
        if depth == 3.0 && oldest >= 1.0 {
            break;
        }
        assert!(Instant::now() < deadline, "queue depth {depth}, oldest due {oldest} s");
        sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(metric(&app, "paybridge_outbox_undispatched").await, 0.0, "all dispatched, waiting to be sent");
    assert_eq!(hooks.wait_for(3, WAIT, |_| true).await.len(), 3);
    let deadline = Instant::now() + WAIT;
    while metric(&app, "paybridge_webhook_queue_depth").await != 0.0 {
        assert!(Instant::now() < deadline, "the queue never emptied in the gauge");
        sleep(Duration::from_millis(100)).await;
    }
}

async fn a_slow_receiver_never_gets_one_notification_twice_at_once(backend: Backend) {
    const EVENTS: usize = 30;
    let hooks = Hooks::start(0).await;
    // A 300 ms timeout makes the lease 5.6 s; one payment's 30 notifications, each
    // timing out, take 9 s to go through one after another. Retries wait a minute, so
    // every notification is sent exactly once within the test.
    let mut app = app_for(backend, &hooks.url, |c| {
        c.webhooks.enabled = false;
        c.webhooks.timeout_ms = 300;
        c.webhooks.backoff_initial_ms = 60_000;
        c.webhooks.backoff_max_ms = 60_000;
    })
    .await;
    app.captured_payment("INV-SLOW", json!(3000)).await;
    for _ in 1..EVENTS {
        let refund = app.request_refund("INV-SLOW", json!(100)).await;
        let id = refund.body["data"]["refund_id"].as_str().unwrap().trim_start_matches("rf_").to_owned();
        let approved = app.send(app.admin(Method::POST, &format!("/refunds/{id}/approve")).json(&json!({}))).await;
        assert_eq!(approved.status, 200, "{}", approved.body);
    }
    hooks.script(vec![Answer { delay: Duration::from_secs(1), ..Answer::status(200) }; 100]);
    app.config.webhooks.enabled = true;
    let _app = app.restart().await;

    let deadline = Instant::now() + Duration::from_secs(30);
    while hooks.hits().iter().map(event_of).collect::<BTreeSet<_>>().len() < EVENTS {
        assert!(Instant::now() < deadline, "not every notification was sent");
        sleep(Duration::from_millis(100)).await;
    }
    sleep(Duration::from_millis(600)).await;
    let mut sent: BTreeMap<i64, usize> = BTreeMap::new();
    for hit in hooks.hits() {
        *sent.entry(event_of(&hit)).or_default() += 1;
    }
    let twice: Vec<_> = sent.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent again while the first attempt was still in flight: {twice:?}");
}

async fn a_merchant_event_goes_once_per_dialect(backend: Backend) {
    let hooks = Hooks::start(0).await;
    let app = app_for(backend, &hooks.url, |_| {}).await;
    // A second REBORNPAY key, issued after the merchant's other dialects' credentials.
    let issued =
        app.send(app.admin(Method::POST, "/merchants/1/credentials").json(&json!({ "dialect": "rebornpay" }))).await;
    assert_eq!(issued.status, 201, "{}", issued.body);
    app.captured_payment("INV-1", json!(1000)).await;
    let settlement =
        app.send(app.admin(Method::POST, "/merchants/1/settlements").json(&json!({ "amount": "500" }))).await;
    let id = settlement.body["id"].clone();
    app.send(app.admin(Method::POST, &format!("/settlements/{id}/pay"))).await;
    hooks.wait_for(1, WAIT, |h| h.json["event"] == "settlement.paid").await;
    sleep(Duration::from_millis(500)).await;
    let paid = hooks.hits().into_iter().filter(|h| h.json["event"] == "settlement.paid").count();
    assert_eq!(paid, 1, "one REBORNPAY notification, whatever the number of its keys");
}

db_test!(
    an_unreadable_event_sends_nothing_and_blocks_nothing,
    the_test_clock_brings_retries_forward_and_closes_their_window,
    advancing_the_clock_leaves_a_send_in_flight_alone,
    a_merchant_event_goes_once_per_dialect,
    every_rebornpay_event_is_signed_and_shaped,
    a_receiver_that_was_down_gets_it_when_it_is_back,
    errors_and_timeouts_are_retried,
    a_retry_is_not_held_back_by_a_stream_of_other_events,
    redirects_are_not_followed_and_replies_are_cut,
    private_targets_are_refused_when_guarded,
    admins_list_inspect_and_replay_deliveries,
    a_payments_notifications_go_one_at_a_time_in_order,
    stopping_lets_a_delivery_in_flight_finish,
    two_instances_deliver_each_event_once,
    deliveries_survive_a_crash,
    a_delivery_is_dead_when_its_retry_window_closes,
    the_queue_gauges_show_what_waits,
    a_slow_receiver_never_gets_one_notification_twice_at_once,
);
