//! The HTTP edge: bounded bodies and headers, timeouts, the connection cap — on every
//! API, in each one's own error shape.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::db_test;
use crate::helpers::{ADMIN_TOKEN, Backend, KEY, SECRET, TestApp, spawn_app, spawn_app_with};

/// One API that reads a body: where to send it, how to authenticate, and what its
/// error looks like.
struct BodyApi {
    name: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    content_type: &'static str,
    /// A check of the error body: the API's own shape.
    shape: fn(&Value) -> bool,
}

async fn body_apis(app: &TestApp) -> Vec<BodyApi> {
    let json = "application/json";
    let checkout = app.checkout_url(&json!({"invoice_id": "EDGE-CHK", "amount": 100, "currency": "BDT"})).await;
    let checkout_path = checkout.trim_start_matches(&app.base).to_owned();
    let token = checkout.rsplit('/').next().unwrap().to_owned();
    vec![
        BodyApi {
            name: "rebornpay",
            path: "/rebornpay/api/v1/payment/create".into(),
            headers: vec![("X-Api-Key", KEY.into()), ("X-Api-Secret", SECRET.into())],
            content_type: json,
            shape: |b| b["success"] == false && b["error"] == "invalid_body" && b["details"][0]["field"] == "body",
        },
        BodyApi {
            name: "shadhinpay",
            path: "/shadhinpay/api/v1/payments".into(),
            headers: vec![
                ("Client-Id", "demo_client_id".into()),
                ("Business-Id", "demo_business_id".into()),
                ("Secret-Key", "demo_secret_key".into()),
            ],
            content_type: json,
            shape: |b| b["success"] == false && b["error"]["code"] == "VALIDATION_ERROR",
        },
        BodyApi {
            name: "starpay",
            path: "/starpay/api/v1/payments".into(),
            headers: vec![("X-API-KEY", "sp_test_merchant".into())],
            content_type: json,
            shape: |b| b["success"] == false && b["error"]["code"] == "missing_fields" && b["error"]["status"] == 413,
        },
        BodyApi {
            name: "payrequest",
            path: "/payrequest/api/create/".into(),
            headers: vec![],
            content_type: "application/x-www-form-urlencoded",
            shape: |b| b["status"] == "error" && b["error"] == "unknown",
        },
        BodyApi {
            name: "qrmoney",
            path: "/qrmoney/payments/h2h/1001".into(),
            headers: vec![("X-API-Key", "qr_test_demo".into())],
            content_type: json,
            shape: |b| b["status"] == 413 && b["title"].as_str().is_some_and(|t| t.contains("larger")),
        },
        BodyApi {
            name: "admin",
            path: "/admin/v1/merchants".into(),
            headers: vec![("Authorization", format!("Bearer {ADMIN_TOKEN}"))],
            content_type: json,
            shape: |b| b["error"]["code"] == "payload_too_large",
        },
        BodyApi {
            name: "sandbox",
            path: format!("/sandbox/v1/checkout/{token}/complete"),
            headers: vec![("Authorization", format!("Bearer {ADMIN_TOKEN}"))],
            content_type: json,
            shape: |b| b["error"]["code"] == "payload_too_large",
        },
        BodyApi {
            name: "checkout",
            path: checkout_path,
            headers: vec![],
            content_type: "application/x-www-form-urlencoded",
            shape: |_| true,
        },
    ]
}

/// Sends `head` and then `body` on a fresh connection and reads what comes back until
/// the server closes or `wait` passes; write errors (the server stopped reading) are
/// expected.
async fn raw(app: &TestApp, head: String, body: impl IntoIterator<Item = Vec<u8>>, wait: Duration) -> String {
    let addr = app.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in body {
        if stream.write_all(&chunk).await.is_err() {
            break;
        }
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

fn json_of(answer: &str) -> Value {
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or(Value::Null)
}

fn request_head(api: &BodyApi, method: &str, extra: &str) -> String {
    let headers: String = api.headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    format!(
        "{method} {} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {}\r\n{headers}{extra}Connection: close\r\n\r\n",
        api.path, api.content_type
    )
}

async fn every_api_refuses_an_oversized_body_with_413_in_its_own_shape(backend: Backend) {
    let app = spawn_app(backend).await;
    let apis = body_apis(&app).await;
    let before = app.row_counts().await;
    for api in apis {
        // Declared too large: refused before a byte of it is read.
        let head = request_head(&api, "POST", &format!("Content-Length: {}\r\n", 2 * 1024 * 1024));
        let answer = raw(&app, head, [], Duration::from_secs(5)).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{}: {answer}", api.name);
        if api.name != "checkout" {
            assert!((api.shape)(&json_of(&answer)), "{}: {answer}", api.name);
        } else {
            assert!(answer.contains("too large"), "checkout: {answer}");
        }
        // Chunked, with no length: refused once the bytes read pass the cap.
        let head = request_head(&api, "POST", "Transfer-Encoding: chunked\r\n");
        let chunk = {
            let data = vec![b'a'; 64 * 1024];
            let mut framed = format!("{:x}\r\n", data.len()).into_bytes();
            framed.extend_from_slice(&data);
            framed.extend_from_slice(b"\r\n");
            framed
        };
        let answer = raw(&app, head, std::iter::repeat_n(chunk, 40), Duration::from_secs(5)).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{} chunked: {answer}", api.name);
        if api.name != "checkout" {
            assert!((api.shape)(&json_of(&answer)), "{} chunked: {answer}", api.name);
        } else {
            assert!(answer.contains("too large"), "checkout chunked: {answer}");
        }
    }
    // Nothing was created or changed by any of them.
    assert_eq!(app.row_counts().await, before);
}

async fn a_body_just_under_the_cap_is_read(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.http.max_body_bytes = 4096).await;
    let padding = "x".repeat(3000);
    let body = json!({"invoice_id": "EDGE-1", "amount": 100, "currency": "BDT", "metadata": {"note": padding}});
    let reply = app.create_payment(&body).await;
    assert_ne!(reply.status, 413, "{:?}", reply.body);
    let big = json!({"invoice_id": "EDGE-2", "amount": 100, "currency": "BDT", "metadata": {"note": "x".repeat(5000)}});
    let reply = app.create_payment(&big).await;
    assert_eq!((reply.status, reply.code()), (413, "invalid_body"), "the cap is configurable: {:?}", reply.body);
}

async fn a_body_that_stalls_gets_408_in_the_apis_shape(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.http.body_read_timeout_ms = 300).await;
    let apis = body_apis(&app).await;
    let api = apis.iter().find(|a| a.name == "rebornpay").unwrap();
    let head = request_head(api, "POST", "Content-Length: 100\r\n");
    let started = Instant::now();
    let answer = raw(&app, head, [b"{\"invoice_id\":".to_vec()], Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(json_of(&answer)["error"], "invalid_body", "{answer}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

async fn headers_over_16_kib_get_431(backend: Backend) {
    let app = spawn_app(backend).await;
    let within = app.client.get(format!("{}/healthz", app.base)).header("X-Filler", "a".repeat(12 * 1024));
    assert_eq!(within.send().await.unwrap().status().as_u16(), 200);
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Filler: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let answer = raw(&app, head, [], Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}

async fn slow_and_silent_connections_are_closed(backend: Backend) {
    let app = spawn_app_with(backend, |c| {
        c.http.header_read_timeout_ms = 300;
        c.http.idle_timeout_secs = 3;
    })
    .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let closed_within = |mut stream: TcpStream, wait: Duration| async move {
        let mut buf = Vec::new();
        let started = Instant::now();
        let closed = tokio::time::timeout(wait, stream.read_to_end(&mut buf)).await.is_ok();
        (closed, started.elapsed())
    };
    // Slowloris: a head that never ends is cut at the header-read timeout, well before
    // the idle timeout (the margin is for a loaded machine).
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n").await.unwrap();
    let (closed, after) = closed_within(slow, Duration::from_secs(5)).await;
    assert!(closed && after < Duration::from_millis(2500), "slowloris closed after {after:?}");
    // Silent: a connection that sends nothing is cut at the idle timeout, not before.
    let silent = TcpStream::connect(&addr).await.unwrap();
    let (closed, after) = closed_within(silent, Duration::from_secs(8)).await;
    assert!(closed && after >= Duration::from_millis(2500) && after < Duration::from_secs(6), "silent: {after:?}");
    // Keep-alive: idle between requests for longer than the header-read timeout is fine.
    let mut kept = TcpStream::connect(&addr).await.unwrap();
    let request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let mut buf = [0u8; 1024];
    kept.write_all(request).await.unwrap();
    let n = kept.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    tokio::time::sleep(Duration::from_millis(900)).await;
    kept.write_all(request).await.unwrap();
    let n = kept.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "a second request on the kept connection");
    let (closed, after) = closed_within(kept, Duration::from_secs(8)).await;
    assert!(closed && after >= Duration::from_millis(2500), "kept-alive closed after {after:?}");
}

async fn at_the_connection_cap_quiet_connections_make_room(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.http.max_connections = 20).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    assert_eq!(app.send(app.request(Method::GET, "/healthz")).await.status, 200, "serving");
    let mut silent = Vec::new();
    for _ in 0..30 {
        silent.push(TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let started = Instant::now();
    let health = app.client.get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    // A burst at the cap never holds more than the cap open: each newcomer takes one
    // victim's place, not the same victim's place over and over.
    tokio::time::sleep(Duration::from_millis(400)).await;
    for _ in 0..40 {
        silent.push(TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut open = 0;
    for stream in &mut silent {
        let mut byte = [0u8; 256];
        if tokio::time::timeout(Duration::from_millis(20), stream.read(&mut byte)).await.is_err() {
            open += 1;
        }
    }
    assert!(open <= 20, "{open} connections open at a cap of 20");
    // When every connection is busy (a body still arriving), a new one is told so.
    drop(silent);
    let apis = body_apis(&app).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let api = apis.iter().find(|a| a.name == "rebornpay").unwrap();
    let mut busy = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        stream.write_all(request_head(api, "POST", "Content-Length: 100\r\n").as_bytes()).await.unwrap();
        stream.write_all(b"{").await.unwrap();
        busy.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let answer = raw(&app, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".into(), [], Duration::from_secs(2)).await;
    assert!(answer.starts_with("HTTP/1.1 503") && answer.contains("retry-after: 1"), "{answer}");
    drop(busy);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let health = app.send(app.request(Method::GET, "/healthz")).await;
    assert_eq!(health.status, 200, "room again once they close");
}

async fn bodies_held_at_once_stay_within_the_budget(backend: Backend) {
    let app = spawn_app_with(backend, |c| {
        c.http.max_body_bytes = 16_000;
        c.http.max_buffered_body_bytes = 32 * 1024;
        c.http.body_read_timeout_ms = 800;
    })
    .await;
    let apis = body_apis(&app).await;
    let api = apis.iter().find(|a| a.name == "rebornpay").unwrap();
    let addr = app.base.trim_start_matches("http://").to_owned();
    // Two bodies that stop short hold 30 of the 32 KiB until they time out.
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        stream.write_all(request_head(api, "POST", "Content-Length: 16000\r\n").as_bytes()).await.unwrap();
        stream.write_all(&vec![b' '; 15 * 1024]).await.unwrap();
        stalled.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    // A third, complete body of 7 KiB waits for room instead of growing memory.
    let started = Instant::now();
    let body =
        json!({"invoice_id": "EDGE-BUDGET", "amount": 1, "currency": "BDT", "metadata": {"pad": "p".repeat(7000)}});
    let reply = app.create_payment(&body).await;
    let waited = started.elapsed();
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert!(waited >= Duration::from_millis(450), "answered after {waited:?}: it did not wait for room");
    for mut stream in stalled {
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut answer)).await;
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408"), "{}", String::from_utf8_lossy(&answer));
    }
}

db_test!(
    bodies_held_at_once_stay_within_the_budget,
    every_api_refuses_an_oversized_body_with_413_in_its_own_shape,
    a_body_just_under_the_cap_is_read,
    a_body_that_stalls_gets_408_in_the_apis_shape,
    headers_over_16_kib_get_431,
    slow_and_silent_connections_are_closed,
    at_the_connection_cap_quiet_connections_make_room,
);

/// CPU seconds the process has used (user + system).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit(") ").next().unwrap().split_whitespace().collect();
    // After the command: state is field 3, utime 14 and stime 15 (1-based, in ticks).
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

/// Resident memory of the process, in MiB.
fn rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
}

/// The real binary, at an open-file limit of 1,024: 1,100 silent connections do not
/// stop `/healthz` or a payment, the accept loop does not spin, and a 100 MB body does
/// not grow its memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_at_1024_open_files_survives_1100_silent_connections_and_a_100_mb_body() {
    let _ = rlimit::increase_nofile_limit(4096);
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = dir.path().join("paybridge.toml");
    let off: String =
        paybridge::adapters::DIALECTS.iter().map(|d| format!("[dialects.{}]\nlisten = \"off\"\n", d.name())).collect();
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\n\
             database_url = \"sqlite://{}?mode=rwc\"\nadmin_token = \"{ADMIN_TOKEN}\"\n\
             [webhooks]\nenabled = false\n{off}",
            dir.path().join("pb.db").display()
        ),
    )
    .unwrap();
    let child = crate::helpers::Binary::start(&config, Some(1024));
    let pid = child.0.id();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.get(format!("{base}/readyz")).send().await.map(|r| r.status() != 200).unwrap_or(true) {
        assert!(Instant::now() < deadline, "paybridge never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    assert!(limits.lines().any(|l| l.starts_with("Max open files") && l.contains("1024")), "{limits}");

    let mut silent = Vec::new();
    for _ in 0..1100 {
        silent.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fresh = || reqwest::Client::builder().timeout(Duration::from_secs(1)).build().unwrap();
    let started = Instant::now();
    let health = fresh().get(format!("{base}/healthz")).send().await.expect("/healthz within 1 s");
    assert_eq!(health.status(), 200);
    let created = fresh()
        .post(format!("{base}/rebornpay/api/v1/payment/create"))
        .header("X-Api-Key", KEY)
        .header("X-Api-Secret", SECRET)
        .json(&json!({"invoice_id": "EDGE-BIN-1", "amount": 100, "currency": "BDT"}))
        .send()
        .await
        .expect("a create within 1 s");
    assert_eq!(created.status(), 200, "{}", created.text().await.unwrap_or_default());
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    // Quiet with the connections still open: it waits, it does not spin.
    let before = cpu_seconds(pid);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let used = cpu_seconds(pid) - before;
    assert!(used < 0.5, "{used} CPU seconds in 2 s while idle");
    drop(silent);

    // 100 MB, chunked: refused at the cap, never held.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before = rss_mib(pid);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "POST /rebornpay/api/v1/payment/create HTTP/1.1\r\nHost: x\r\nX-Api-Key: {KEY}\r\nX-Api-Secret: {SECRET}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = {
        let mut framed = format!("{:x}\r\n", 1 << 20).into_bytes();
        framed.extend(std::iter::repeat_n(b' ', 1 << 20));
        framed.extend_from_slice(b"\r\n");
        framed
    };
    for _ in 0..100 {
        if stream.write_all(&chunk).await.is_err() {
            break;
        }
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 413"), "{}", String::from_utf8_lossy(&answer));
    let grown = rss_mib(pid).saturating_sub(rss_before);
    assert!(grown < 32, "resident memory grew {grown} MiB for a refused 100 MB body");
}
