//! PayRequest V1: the seed's example, JSON and form bodies on either path form, every
//! error code in the body with HTTP 200, links that reach the checkout, and the MD5
//! return codes checked the way a merchant's return handler checks them.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Backend, Reply, TestApp, spawn_app};

pub const TOKEN: &str = "pr_test_demo";

/// The seed's example request, with the demo token.
pub fn seed_example() -> Value {
    json!({
        "token": TOKEN,
        "id": "PR-000012457",
        "title": "Invoice #15123-14",
        "amount": "12,25",
        "type": "direct",
        "response": "https://payrequest.io/responsehandler"
    })
}

async fn post(app: &TestApp, path: &str, body: &Value) -> Reply {
    app.send(app.request(Method::POST, &format!("/payrequest/api/{path}")).json(body)).await
}

async fn post_form(app: &TestApp, path: &str, form: &[(&str, &str)]) -> Reply {
    app.send(app.request(Method::POST, &format!("/payrequest/api/{path}")).form(form)).await
}

fn error(reply: &Reply) -> (u16, &str, &str) {
    (reply.status, reply.body["status"].as_str().unwrap_or_default(), reply.body["error"].as_str().unwrap_or_default())
}

/// What a merchant's return handler does: recompute both MD5 values from its token and
/// its id, and compare.
pub fn merchant_checks(return_url: &str, token: &str, id: &str) -> Option<&'static str> {
    let params: HashMap<String, String> = url::Url::parse(return_url).ok()?.query_pairs().into_owned().collect();
    let md5 = |text: String| {
        use md5::Digest;
        hex::encode(md5::Md5::digest(text.as_bytes()))
    };
    if params.get("return_id")? != &md5(format!("{token}{id}")) {
        return None;
    }
    let response = params.get("response")?;
    if response == &md5(format!("success{id}")) {
        Some("success")
    } else if response == &md5(format!("failed{id}")) {
        Some("failed")
    } else {
        None
    }
}

async fn the_seed_example_pays_and_returns_md5_codes(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = post(&app, "create/", &seed_example()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["status"], "success", "{}", reply.body);
    let keys: Vec<&str> = reply.body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["status", "url"], "exactly the provider's answer");
    let url = reply.body["url"].as_str().unwrap().to_owned();
    assert!(url.contains("/checkout/"), "direct: the checkout itself: {url}");
    let (status, html) = app.checkout_page(&url).await;
    assert_eq!(status, 200);
    assert!(html.contains("12.25"), "the amount 12,25 in the default currency");
    let got = post(&app, "get/", &json!({ "token": TOKEN, "id": "PR-000012457" })).await;
    assert_eq!(got.body, json!({ "status": "pending" }));

    let (status, location, _) =
        app.submit_checkout(&url, &[("action", "pay"), ("wallet_phone", "01711000000"), ("wallet_pin", "1234")]).await;
    assert_eq!(status, 303);
    let location = location.expect("redirected to response");
    assert!(location.starts_with("https://payrequest.io/responsehandler?"), "{location}");
    assert_eq!(merchant_checks(&location, TOKEN, "PR-000012457"), Some("success"), "{location}");
    assert_eq!(merchant_checks(&location, "another-token", "PR-000012457"), None, "return_id binds the token");
    // md5("successPR-000012457") and md5("pr_test_demoPR-000012457"), computed with Python.
    assert_eq!(
        location,
        "https://payrequest.io/responsehandler?response=4dc28dc5ea70ecea7aca23ec1e0c40d1\
         &return_id=de705bc0b7572d9ff69381c6476dbe9c"
    );
    let got = post(&app, "get/", &json!({ "token": TOKEN, "id": "PR-000012457" })).await;
    assert_eq!(got.body, json!({ "status": "paid" }));
    app.assert_ledger_invariants().await;
}

async fn a_failed_payment_returns_failed_codes(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut body = seed_example();
    body["id"] = json!("PR-FAIL-1");
    let url = post(&app, "create", &body).await.body["url"].as_str().unwrap().to_owned();
    let (_, location, _) =
        app.submit_checkout(&url, &[("action", "pay"), ("wallet_phone", "01700000001"), ("wallet_pin", "1234")]).await;
    assert_eq!(merchant_checks(&location.unwrap(), TOKEN, "PR-FAIL-1"), Some("failed"));
    assert_eq!(post(&app, "get", &json!({ "token": TOKEN, "id": "PR-FAIL-1" })).await.body["status"], "failed");
}

async fn json_and_forms_on_either_path(backend: Backend) {
    let app = spawn_app(backend).await;
    // Form-encoded, no trailing slash, amount with a point, no id: one is generated.
    let reply = post_form(&app, "create", &[("token", TOKEN), ("title", "Form"), ("amount", "12.25")]).await;
    assert_eq!(reply.body["status"], "success", "{}", reply.body);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("PR-"));
    let link = reply.body["url"].as_str().unwrap().to_owned();
    assert!(link.contains("/payrequest/l/"), "type link (default): a payment link: {link}");
    // The link leads to the checkout.
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let hop = client.get(&link).send().await.unwrap();
    assert_eq!(hop.status().as_u16(), 303);
    let checkout = hop.headers()["location"].to_str().unwrap().to_owned();
    assert!(checkout.starts_with("/checkout/"));
    assert_eq!(app.checkout_page(&format!("{}{checkout}", app.base)).await.0, 200);
    let got = post_form(&app, "get/", &[("token", TOKEN), ("id", &id)]).await;
    assert_eq!(got.body, json!({ "status": "pending" }));
    // A number amount, and a numeric id.
    let reply = post(&app, "create/", &json!({ "token": TOKEN, "id": 42, "title": "Number", "amount": 12.25 })).await;
    assert_eq!((reply.body["status"].clone(), reply.body.get("id")), (json!("success"), None));
    assert_eq!(post(&app, "get", &json!({ "token": TOKEN, "id": "42" })).await.body["status"], "pending");
    // The same request again is the same link; the id with other details is refused.
    let again = post(&app, "create/", &json!({ "token": TOKEN, "id": 42, "title": "Number", "amount": "12,25" })).await;
    assert_eq!(again.body["url"], reply.body["url"]);
    let other = post(&app, "create/", &json!({ "token": TOKEN, "id": 42, "title": "Number", "amount": 13 })).await;
    assert_eq!(error(&other), (200, "error", "unknown"));
    assert!(other.body["realerror"].as_str().unwrap().contains("already used"));
}

async fn every_error_code_in_the_body(backend: Backend) {
    let app = spawn_app(backend).await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("create/", json!({ "title": "t", "amount": 1 }), "notoken"),
        ("create/", json!({ "token": "", "title": "t", "amount": 1 }), "notoken"),
        ("create/", json!({ "token": "nope", "title": "t", "amount": 1 }), "novalidtoken"),
        ("create/", json!({ "token": TOKEN, "amount": 1 }), "notitle"),
        ("create/", json!({ "token": TOKEN, "title": " ", "amount": 1 }), "notitle"),
        ("create/", json!({ "token": TOKEN, "title": "t" }), "noamount"),
        ("create/", json!({ "token": TOKEN, "title": "t", "amount": "twelve" }), "notvalidamount"),
        ("create/", json!({ "token": TOKEN, "title": "t", "amount": "1,234.56" }), "notvalidamount"),
        ("create/", json!({ "token": TOKEN, "title": "t", "amount": -3 }), "notvalidamount"),
        ("create/", json!({ "token": TOKEN, "title": "t", "amount": 1, "type": "popup" }), "unknown"),
        ("create/", json!({ "token": TOKEN, "title": "t", "amount": 1, "response": "not a url" }), "unknown"),
        ("get/", json!({ "id": "x" }), "notoken"),
        ("get/", json!({ "token": "nope", "id": "x" }), "novalidtoken"),
        ("get/", json!({ "token": TOKEN }), "noid"),
        ("get/", json!({ "token": TOKEN, "id": "PR-404" }), "nosuchlink"),
    ];
    for (path, body, code) in cases {
        let reply = post(&app, path, &body).await;
        assert_eq!(error(&reply), (200, "error", code), "{path} {body}: {}", reply.body);
        if code == "unknown" {
            assert!(reply.body["realerror"].is_string(), "unknown says why");
        }
    }
    let reply = app
        .send(app.request(Method::POST, "/payrequest/api/create/").header("Content-Type", "application/json").body("{"))
        .await;
    assert_eq!(error(&reply), (200, "error", "unknown"));

    // Accounts without a usable payment provider.
    let merchants = app.send(app.admin(Method::GET, "/merchants")).await.body;
    let demo = merchants.as_array().unwrap().iter().find(|m| m["name"] == "Demo Shop").unwrap()["id"].clone();
    for (psp, code) in [("none", "nointegration"), ("stripe", "pspnotsupported")] {
        let issued = app
            .send(
                app.admin(Method::POST, &format!("/merchants/{demo}/credentials"))
                    .json(&json!({ "dialect": "payrequest", "extra": { "psp": psp } })),
            )
            .await;
        assert_eq!(issued.status, 201, "{}", issued.body);
        let token = issued.body["key_id"].as_str().unwrap();
        let reply = post(&app, "create/", &json!({ "token": token, "title": "t", "amount": 1 })).await;
        assert_eq!(error(&reply), (200, "error", code), "{}", reply.body);
    }
    let all = post(&app, "get/", &json!({ "token": TOKEN, "id": "PR-404" })).await;
    assert_eq!(all.body, json!({ "status": "error", "error": "nosuchlink" }), "exactly the documented body");
}

async fn the_sandbox_api_shows_the_return_url(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut body = seed_example();
    body["id"] = json!("PR-SANDBOX-1");
    let url = post(&app, "create/", &body).await.body["url"].as_str().unwrap().to_owned();
    let paid = app.complete(&url, json!({ "outcome": "success", "wallet": { "phone": "01711000000" } })).await;
    let return_url = paid.body["return_url"].as_str().expect("return_url").to_owned();
    assert_eq!(merchant_checks(&return_url, TOKEN, "PR-SANDBOX-1"), Some("success"), "{return_url}");
    // Undecided payments have none yet.
    body["id"] = json!("PR-SANDBOX-2");
    let url = post(&app, "create/", &body).await.body["url"].as_str().unwrap().to_owned();
    let token = url.rsplit('/').next().unwrap();
    let shown = app.send(app.request(Method::GET, &format!("/sandbox/v1/checkout/{token}"))).await;
    assert!(shown.body.get("return_url").is_none(), "{}", shown.body);
}

db_test!(
    the_sandbox_api_shows_the_return_url,
    the_seed_example_pays_and_returns_md5_codes,
    a_failed_payment_returns_failed_codes,
    json_and_forms_on_either_path,
    every_error_code_in_the_body,
);
