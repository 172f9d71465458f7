//! PayRequest V1: the seed's example, JSON and form bodies on either path form, every
//! error code in the body with HTTP 200, links that reach the checkout, and the MD5
//! return codes checked the way a merchant's return handler checks them.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Backend, Reply, TestApp, spawn_app, spawn_app_with};
use crate::hooks::{Answer, Hit, Hooks};

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

fn md5(text: &str) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(text.as_bytes()))
}

/// The form PayRequest's WHMCS module posts to `{base}/create`
/// (payrequestio/whmcs-gateway, modules/gateways/payrequest.php): no `id`, the invoice
/// number as `title`, WHMCS's amount, `return` naming the field of the return URL.
fn whmcs_form(invoice: &str, callback: &str) -> Vec<(&'static str, String)> {
    vec![
        ("token", TOKEN.into()),
        ("type", "paymentlink".into()),
        ("title", invoice.into()),
        ("amount", "10.00".into()),
        ("currency", "EUR".into()),
        ("name", "Jane Doe".into()),
        ("email", "jane@example.com".into()),
        ("description", format!("Invoice #{invoice}")),
        ("return", "response".into()),
        ("response", format!("https://billing.example/viewinvoice.php?id={invoice}")),
        ("testmode", "on".into()),
        ("website", "https://billing.example".into()),
        ("callback", callback.into()),
    ]
}

fn form_fields(hit: &Hit) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(&hit.body).expect("a form")
}

async fn whmcs_create(app: &TestApp, root: &str, form: &[(&'static str, String)]) -> Reply {
    app.send(app.client.post(format!("{root}/create")).form(form)).await
}

async fn the_whmcs_module_posts_to_create_and_is_called_back(backend: Backend) {
    let hooks = Hooks::start(0).await;
    let app = spawn_app(backend).await;
    let roots = [format!("{}/payrequest", app.base), app.root_url("payrequest")];
    for (i, root) in roots.iter().enumerate() {
        for (outcome, phone, status) in [("paid", "01711000000", "PAID"), ("failed", "01700000001", "FAILED")] {
            let invoice = format!("10{i}{}", outcome.len());
            let callback = format!("{}/whmcs/{invoice}", hooks.url);
            let reply = whmcs_create(&app, root, &whmcs_form(&invoice, &callback)).await;
            assert_eq!((reply.status, reply.body["status"].as_str()), (200, Some("success")), "{}", reply.body);
            let link = reply.body["url"].as_str().unwrap().to_owned();
            assert!(link.starts_with(&format!("{root}/l/")), "paymentlink is a link, on this mount: {link}");
            let id = reply.body["id"].as_str().expect("the generated id").to_owned();
            let token = link.rsplit('/').next().unwrap();
            let shown = app.send(app.request(Method::GET, &format!("/sandbox/v1/checkout/{token}"))).await;
            let amount = (shown.body["amount"].as_str(), shown.body["currency"].as_str());
            assert_eq!(amount, (Some("10"), Some("EUR")), "currency honoured: {}", shown.body);
            let paid = app.complete(&link, json!({ "outcome": "success", "wallet": { "phone": phone } })).await;
            assert_eq!(paid.status, 200, "{}", paid.body);

            let hits =
                hooks.wait_for(1, Duration::from_secs(10), |h| h.path == format!("/hooks/whmcs/{invoice}")).await;
            assert_eq!(hits.len(), 1, "one callback for {invoice}");
            let hit = &hits[0];
            assert_eq!(hit.header("content-type"), "application/x-www-form-urlencoded");
            let fields = form_fields(hit);
            let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(keys, ["status", "id", "title", "link", "amount", "response", "return_id"]);
            let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap();
            assert_eq!(get("status"), status);
            assert_eq!((get("id"), get("title"), get("link")), (id.clone(), invoice.clone(), link.clone()));
            assert_eq!(get("amount"), "10.00");
            let word = if status == "PAID" { "success" } else { "failed" };
            assert_eq!(get("response"), md5(&format!("{word}{id}")), "as on the redirect");
            assert_eq!(get("return_id"), md5(&format!("{TOKEN}{id}")));
        }
    }
    // `currency` is the payment's: its precision applies, and an unknown one is refused.
    let mut form = whmcs_form("2001", &hooks.url);
    form[4].1 = "JPY".into();
    form[3].1 = "10.50".into();
    let reply = whmcs_create(&app, &roots[0], &form).await;
    assert_eq!(error(&reply), (200, "error", "notvalidamount"), "JPY has no minor unit: {}", reply.body);
    form[4].1 = "XYZ".into();
    let reply = whmcs_create(&app, &roots[1], &form).await;
    assert_eq!(error(&reply), (200, "error", "unknown"), "{}", reply.body);
    assert!(reply.body["realerror"].as_str().unwrap().contains("currency"), "{}", reply.body);
    form[4].1 = "EUR".into();
    form[12].1 = "ftp://billing.example/callback".into();
    let reply = whmcs_create(&app, &roots[0], &form).await;
    assert_eq!(error(&reply), (200, "error", "unknown"), "a callback must be an http(s) URL: {}", reply.body);
    // `type` direct: the callback's link is the checkout the create answered.
    let mut form = whmcs_form("2002", &format!("{}/whmcs/2002", hooks.url));
    form[1].1 = "direct".into();
    let reply = whmcs_create(&app, &roots[1], &form).await;
    let direct = reply.body["url"].as_str().unwrap().to_owned();
    assert!(direct.starts_with(&format!("{}/checkout/", roots[1])), "{direct}");
    app.complete(&direct, json!({ "outcome": "success", "wallet": { "phone": "01711000000" } })).await;
    let hits = hooks.wait_for(1, Duration::from_secs(10), |h| h.path == "/hooks/whmcs/2002").await;
    let fields = form_fields(&hits[0]);
    assert!(fields.contains(&("link".to_owned(), direct)), "{fields:?}");
    // Without a callback, nothing is queued (PayRequest V1 documents no notifications),
    // not even to the merchant's webhook URL.
    let body = json!({ "token": TOKEN, "id": "PR-NO-CALLBACK", "title": "t", "amount": 1 });
    let url = post(&app, "create/", &body).await.body["url"].as_str().unwrap().to_owned();
    let paid = app.complete(&url, json!({ "outcome": "success", "wallet": { "phone": "01711000000" } })).await;
    let subject = format!("/webhooks/deliveries?subject=payment:{}", paid.body["payment_id"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let queued = app.send(app.admin(Method::GET, &subject)).await;
    assert_eq!(queued.body, json!([]), "{}", queued.body);
    let with_callback = app.send(app.admin(Method::GET, "/webhooks/deliveries?event=payment.paid")).await;
    assert_eq!(with_callback.body.as_array().map(Vec::len), Some(3), "{}", with_callback.body);
}

async fn callbacks_are_retried_logged_replayable_and_guarded(backend: Backend) {
    let hooks = Hooks::start(0).await;
    hooks.script([Answer::status(500)]);
    let app = spawn_app(backend.clone()).await;
    let callback = format!("{}/whmcs/3001", hooks.url);
    let reply = whmcs_create(&app, &format!("{}/payrequest", app.base), &whmcs_form("3001", &callback)).await;
    let link = reply.body["url"].as_str().unwrap().to_owned();
    app.complete(&link, json!({ "outcome": "success", "wallet": { "phone": "01711000000" } })).await;
    let hits = hooks.wait_for(2, Duration::from_secs(15), |_| true).await;
    assert_eq!(hits.len(), 2, "a 500 is retried");
    assert_eq!(hits[0].body, hits[1].body);
    let listed = app.send(app.admin(Method::GET, "/webhooks/deliveries?event=payment.paid")).await;
    let delivery =
        listed.body.as_array().unwrap().iter().find(|d| d["dialect"] == "payrequest").expect("listed").clone();
    assert_eq!(delivery["url"], callback.as_str());
    let id = delivery["id"].as_i64().unwrap();
    // The receiver has the second attempt a moment before its result is written.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let detail = loop {
        let detail = app.send(app.admin(Method::GET, &format!("/webhooks/deliveries/{id}"))).await.body;
        if detail["attempts"].as_array().is_some_and(|a| a.len() >= 2) || std::time::Instant::now() > deadline {
            break detail;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let attempts = detail["attempts"].as_array().unwrap();
    let codes: Vec<&Value> = attempts.iter().map(|a| &a["status_code"]).collect();
    assert_eq!(codes, [&json!(500), &json!(200)], "every attempt is logged: {detail}");
    let replay = app.send(app.admin(Method::POST, &format!("/webhooks/deliveries/{id}/replay"))).await;
    assert_eq!(replay.status, 201, "{}", replay.body);
    let hits = hooks.wait_for(3, Duration::from_secs(10), |_| true).await;
    assert_eq!(hits.len(), 3);
    assert_eq!(hits[2].body, hits[0].body, "the replay sends the same form");

    // A callback on a private address is refused when the guard is on.
    let guarded = spawn_app_with(backend, |c| c.webhooks.block_private_targets = Some(true)).await;
    let reply = whmcs_create(&guarded, &format!("{}/payrequest", guarded.base), &whmcs_form("3002", &callback)).await;
    let link = reply.body["url"].as_str().unwrap().to_owned();
    guarded.complete(&link, json!({ "outcome": "success", "wallet": { "phone": "01711000000" } })).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let refused = loop {
        let listed = guarded.send(guarded.admin(Method::GET, "/webhooks/deliveries?status=dead")).await;
        if let Some(d) = listed.body.as_array().and_then(|l| l.first().cloned()) {
            break d;
        }
        assert!(std::time::Instant::now() < deadline, "the delivery is refused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let detail =
        guarded.send(guarded.admin(Method::GET, &format!("/webhooks/deliveries/{}", refused["id"]))).await.body;
    assert!(detail["attempts"][0]["error"].as_str().unwrap().contains("refused"), "{detail}");
    assert_eq!(hooks.hits().len(), 3, "the guarded instance never reached the receiver");
}

db_test!(
    the_whmcs_module_posts_to_create_and_is_called_back,
    callbacks_are_retried_logged_replayable_and_guarded,
    the_sandbox_api_shows_the_return_url,
    the_seed_example_pays_and_returns_md5_codes,
    a_failed_payment_returns_failed_codes,
    json_and_forms_on_either_path,
    every_error_code_in_the_body,
);
