//! The runner against a deliberately broken REBORNPAY: it must fail, readably, with a
//! curl command and a JUnit file that CI servers accept; and its webhook receiver must
//! tell a good signature from a bad one.

use std::collections::HashSet;
use std::process::Command;
use std::sync::{Arc, Mutex};

use hmac::{Hmac, KeyInit, Mac};
use paybridge_conformance::{Credentials, Options, Receiver, Resolve, Suite, default_suites_dir, run};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, Json};
use poem::{EndpointExt, Response, Route, Server, handler, http::StatusCode, post};
use serde_json::{Value, json};
use sha2::Sha256;

#[derive(Clone)]
struct Fake {
    invoices: Arc<Mutex<HashSet<String>>>,
    hook_url: String,
    sign_with: &'static str,
}

/// Creates payments, but answers a duplicate with the wrong error code.
#[handler]
fn create(Json(body): Json<Value>, fake: Data<&Fake>) -> Response {
    let invoice = body["invoice_id"].as_str().unwrap_or_default().to_owned();
    if !fake.invoices.lock().unwrap().insert(invoice.clone()) {
        let body = json!({ "success": false, "error": "duplicate", "message": "exists" });
        return Response::builder()
            .status(StatusCode::CONFLICT)
            .content_type("application/json")
            .body(body.to_string());
    }
    let body = json!({ "success": true, "data": { "invoice_id": invoice, "status": "pending" } });
    Response::builder().content_type("application/json").body(body.to_string())
}

/// Sends a test.ping to the receiver, signed with `sign_with`.
#[handler]
async fn webhook_test(Json(body): Json<Value>, fake: Data<&Fake>) -> Response {
    let payload = json!({ "event": "test.ping", "data": body["data"] }).to_string();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(fake.sign_with.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    reqwest::Client::new()
        .post(&fake.hook_url)
        .header("X-REBORNPAY-Signature", signature)
        .body(payload)
        .send()
        .await
        .unwrap();
    Response::builder().content_type("application/json").body(r#"{"success":true}"#)
}

async fn start_fake(hook_url: String, sign_with: &'static str) -> String {
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.unwrap();
    let port = acceptor.local_addr()[0].as_socket_addr().unwrap().port();
    let fake = Fake { invoices: Arc::default(), hook_url, sign_with };
    let app = Route::new()
        .at("/api/v1/payment/create", post(create))
        .at("/api/v1/webhook/test", post(webhook_test))
        .data(fake);
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    format!("http://127.0.0.1:{port}")
}

fn credentials(receiver: &Receiver) -> Credentials {
    let mut c = Credentials::default();
    c.set("credentials.api_key", "pk_test_demo");
    c.set("credentials.api_secret", "sk_test_demo");
    c.set("webhooks.listen", &receiver.addr().to_string());
    c
}

/// Validates JUnit XML against conformance/junit.xsd with xmllint. Skips (saying so)
/// when xmllint is absent, unless PAYBRIDGE_TEST_REQUIRE_XMLLINT is set (CI).
fn assert_valid_junit(xml: &str) {
    if Command::new("xmllint").arg("--version").output().is_err() {
        assert!(std::env::var_os("PAYBRIDGE_TEST_REQUIRE_XMLLINT").is_none(), "xmllint is required here");
        eprintln!("skipped JUnit schema validation: xmllint is not installed (apt-get install libxml2-utils)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("junit.xml");
    std::fs::write(&file, xml).unwrap();
    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("junit.xsd");
    let out = Command::new("xmllint").arg("--noout").arg("--schema").arg(schema).arg(&file).output().unwrap();
    assert!(out.status.success(), "JUnit XML does not validate:\n{}\n{xml}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn a_changed_error_code_fails_with_a_readable_report_and_junit() {
    let receiver = Receiver::start("127.0.0.1:0").await.unwrap();
    let base_url = start_fake(String::new(), "").await;
    let suite = Suite::load(&default_suites_dir(), "rebornpay").unwrap();
    let options = Options {
        base_url: base_url.clone(),
        credentials: credentials(&receiver),
        filters: vec!["duplicate-invoice-id".into()],
        skips: vec![],
        resolve: vec![],
    };
    let report = run(&suite, &options, Some(&receiver)).await;
    assert_eq!((report.failed(), report.passed()), (1, 0));
    let summary = report.summary();
    for expected in [
        "FAIL  duplicate-invoice-id",
        r#"step 2 "create it again": $.error is "duplicate", expected "duplicate_invoice_id""#,
        "POST http://127.0.0.1:",
        "HTTP 409",
        "curl -i -X POST",
        "0 passed, 1 failed",
    ] {
        assert!(summary.contains(expected), "summary lacks {expected:?}:\n{summary}");
    }
    let junit = report.junit();
    assert!(junit.contains("<failure message=\"step 2"), "{junit}");
    assert_valid_junit(&junit);
}

#[tokio::test]
async fn a_base_url_with_a_host_name_is_reached_through_resolve() {
    let receiver = Receiver::start("127.0.0.1:0").await.unwrap();
    let direct = start_fake(String::new(), "").await;
    let port = direct.rsplit(':').next().unwrap();
    // `.invalid` never resolves: only --resolve can reach the server.
    let base_url = format!("http://rebornpay.pay.invalid:{port}");
    let suite = Suite::load(&default_suites_dir(), "rebornpay").unwrap();
    let resolve: Resolve = format!("rebornpay.pay.invalid:{port}:127.0.0.1").parse().unwrap();
    let options = Options {
        base_url,
        credentials: credentials(&receiver),
        filters: vec!["duplicate-invoice-id".into()],
        skips: vec![],
        resolve: vec![resolve],
    };
    let summary = run(&suite, &options, Some(&receiver)).await.summary();
    // Step 1 reached the fake (it creates); step 2 fails on its wrong code, and the
    // reproduction resolves the name the same way.
    assert!(summary.contains(r#"step 2 "create it again""#), "{summary}");
    assert!(
        summary.contains(&format!("curl -i --resolve 'rebornpay.pay.invalid:{port}:127.0.0.1' -X POST")),
        "{summary}"
    );
    assert!("qrmoney.pay.example:8080".parse::<Resolve>().is_err());
    assert_eq!("H:1:[::1]".parse::<Resolve>().unwrap().to_string(), "h:1:[::1]");
}

#[tokio::test]
async fn webhook_signatures_are_verified() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rebornpay")).unwrap();
    std::fs::write(
        dir.path().join("rebornpay/ping.yaml"),
        r#"
name: ping
steps:
  - request: { method: POST, path: /api/v1/webhook/test, json: { data: { run: "{{run_id}}" } } }
    expect: { status: 200 }
  - webhook: { event: test.ping, within: 5, match: [{ path: $.data.run, equals: "{{run_id}}" }] }
"#,
    )
    .unwrap();
    let suite = Suite::load(dir.path(), "rebornpay").unwrap();
    for (secret, passes) in [("sk_test_demo", true), ("sk_other", false)] {
        let receiver = Receiver::start("127.0.0.1:0").await.unwrap();
        let base_url = start_fake(format!("http://{}/hooks", receiver.addr()), secret).await;
        let options =
            Options { base_url, credentials: credentials(&receiver), filters: vec![], skips: vec![], resolve: vec![] };
        let report = run(&suite, &options, Some(&receiver)).await;
        assert_eq!(report.passed() == 1, passes, "signed with {secret}:\n{}", report.summary());
        if !passes {
            assert!(report.summary().contains("webhook signature does not verify"), "{}", report.summary());
        }
    }
}

#[tokio::test]
async fn the_command_exits_1_and_writes_junit_on_failure() {
    let base_url = start_fake(String::new(), "").await;
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("creds.toml");
    std::fs::write(&creds, "[credentials]\napi_key = \"pk\"\napi_secret = \"sk\"\n").unwrap();
    let junit = dir.path().join("out.xml");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_paybridge-conformance"))
        .args([
            "run",
            "--dialect",
            "rebornpay",
            "--base-url",
            &base_url,
            "--filter",
            "duplicate-invoice-id",
            "--credentials",
        ])
        .arg(&creds)
        .arg("--junit")
        .arg(&junit)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("failures=\"1\""), "{xml}");
    assert_valid_junit(&xml);
}
