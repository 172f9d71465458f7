//! End to end in headless Chromium: a customer opens a REBORNPAY payment's checkout
//! link (or a PayRequest payment link), pays, and lands where the merchant said. Screenshots of every page go to
//! `target/browser-screenshots/`. Without Chromium and chromedriver the tests say so and
//! skip, unless PAYBRIDGE_TEST_REQUIRE_BROWSER is set (CI).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Html;
use poem::{Request, Route, Server, get, handler};
use serde_json::json;

use crate::db_test;
use crate::helpers::{Backend, TestApp, spawn_app};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A headless Chromium driven over WebDriver; the driver stops when this is dropped.
struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    shots: PathBuf,
    taken: usize,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    async fn start(test: &str) -> Option<Browser> {
        let chromium = std::env::var("PAYBRIDGE_CHROMIUM").unwrap_or_else(|_| CHROMIUM.into());
        let chromedriver = std::env::var("PAYBRIDGE_CHROMEDRIVER").unwrap_or_else(|_| CHROMEDRIVER.into());
        if !std::path::Path::new(&chromium).exists() || !std::path::Path::new(&chromedriver).exists() {
            assert!(
                std::env::var_os("PAYBRIDGE_TEST_REQUIRE_BROWSER").is_none(),
                "PAYBRIDGE_TEST_REQUIRE_BROWSER is set but {chromium} or {chromedriver} is missing"
            );
            eprintln!("skipped: Chromium or chromedriver is not installed (apt-get install chromium chromium-driver)");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().expect("profile directory");
        let mut caps = fantoccini::wd::Capabilities::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--window-size=412,915", format!("--user-data-dir={}", profile.path().display()),
                ]
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let mut client = None;
        for _ in 0..50 {
            match ClientBuilder::new(connector.clone())
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(c) => {
                    client = Some(c);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser-screenshots").join(test);
        std::fs::create_dir_all(&shots).expect("screenshot directory");
        Some(Browser { client: client.expect("chromedriver answers"), driver, _profile: profile, shots, taken: 0 })
    }

    /// Saves a screenshot of the page as `NN-name.png`.
    async fn screenshot(&mut self, name: &str) {
        self.taken += 1;
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(self.shots.join(format!("{:02}-{name}.png", self.taken)), png).expect("saved");
    }

    async fn fill(&self, id: &str, text: &str) {
        self.client
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("no #{id}: {e}"))
            .send_keys(text)
            .await
            .expect("typed");
    }

    async fn text_of(&self, id: &str) -> String {
        let element = self.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Id(id)).await;
        element.unwrap_or_else(|e| panic!("no #{id}: {e}")).text().await.expect("text")
    }

    /// Waits until the address starts with `prefix`; returns it.
    async fn wait_for_url(&self, prefix: &str) -> String {
        for _ in 0..100 {
            let url = self.client.current_url().await.expect("url").to_string();
            if url.starts_with(prefix) {
                return url;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "never reached {prefix}: at {}",
            self.client.current_url().await.map(|u| u.to_string()).unwrap_or_default()
        );
    }
}

/// The merchant's shop: its thank-you page records the query it was sent.
async fn shop() -> (String, Arc<Mutex<Vec<String>>>) {
    #[handler]
    fn done(req: &Request, seen: poem::web::Data<&Arc<Mutex<Vec<String>>>>) -> Html<&'static str> {
        seen.lock().unwrap().push(req.uri().query().unwrap_or_default().to_owned());
        Html("<!doctype html><title>Shop</title><h1 id=\"thanks\">Thank you for your order</h1>")
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.unwrap();
    let port = acceptor.local_addr()[0].as_socket_addr().unwrap().port();
    let app = poem::EndpointExt::data(Route::new().at("/done", get(done)), seen.clone());
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    (format!("http://127.0.0.1:{port}"), seen)
}

async fn a_customer_pays_with_bkash_and_returns_to_the_shop(backend: Backend) {
    let Some(mut browser) = Browser::start("bkash").await else { return };
    let app: TestApp = spawn_app(backend).await;
    let (shop, seen) = shop().await;
    let body = json!({
        "invoice_id": "WEB-1", "amount": 2500, "currency": "BDT", "payment_method": "bkash",
        "customer_name": "Karim Rahman", "success_url": format!("{shop}/done"),
    });
    let url = app.checkout_url(&body).await;
    browser.client.goto(&url).await.expect("checkout opens");
    assert_eq!(browser.text_of("amount").await, "2,500.00 BDT");
    browser.screenshot("checkout").await;
    browser.fill("wallet_phone", "01711000000").await;
    browser.fill("wallet_pin", "12345").await;
    browser.screenshot("filled").await;
    browser.client.find(Locator::Id("pay")).await.unwrap().click().await.expect("pay");
    let landed = browser.wait_for_url(&format!("{shop}/done")).await;
    assert_eq!(browser.text_of("thanks").await, "Thank you for your order");
    browser.screenshot("returned").await;

    let params: std::collections::HashMap<String, String> =
        url::Url::parse(&landed).unwrap().query_pairs().into_owned().collect();
    assert_eq!(params["invoice_id"], "WEB-1");
    assert_eq!(seen.lock().unwrap().len(), 1, "the shop saw one return");
    let verified = app.verify("WEB-1", &params["transaction_id"]).await;
    assert_eq!(verified.body["data"]["verified"], true, "{}", verified.body);
    assert_eq!(app.balance().await["available"], json!(2500));
    browser.client.goto(&url).await.unwrap();
    assert_eq!(browser.text_of("result").await.lines().next(), Some("Payment received"));
    browser.screenshot("paid-link").await;
    browser.client.clone().close().await.ok();
}

async fn a_declined_card_shows_the_decline(backend: Backend) {
    let Some(mut browser) = Browser::start("declined-card").await else { return };
    let app = spawn_app(backend).await;
    let body = json!({ "invoice_id": "WEB-2", "amount": 99.5, "currency": "BDT", "payment_method": "card" });
    let url = app.checkout_url(&body).await;
    browser.client.goto(&url).await.expect("checkout opens");
    browser.screenshot("card-form").await;
    for (id, value) in [
        ("card_name", "Karim Rahman"),
        ("card_number", "4000 0000 0000 0051"),
        ("card_expiry", "12/35"),
        ("card_cvv", "123"),
        ("email", "karim@example.com"),
        ("phone", "+8801711000000"),
        ("address", "12 Road 5"),
        ("city", "Dhaka"),
        ("state", "Dhaka"),
        ("postal_code", "1207"),
        ("country", "BD"),
    ] {
        browser.fill(id, value).await;
    }
    browser.client.find(Locator::Id("pay")).await.unwrap().click().await.expect("pay");
    let message = browser.text_of("message").await;
    assert_eq!(message, "Insufficient funds (005)");
    browser.screenshot("declined").await;
    assert_eq!(app.payment_status("WEB-2").await.body["data"]["status"], "failed");

    // A card the validation refuses shows the QR Money code beside its field.
    let url = app
        .checkout_url(&json!({ "invoice_id": "WEB-3", "amount": 1, "currency": "BDT", "payment_method": "card" }))
        .await;
    browser.client.goto(&url).await.unwrap();
    browser.fill("card_number", "4242 4242 4242 4241").await;
    browser.client.find(Locator::Id("pay")).await.unwrap().click().await.unwrap();
    assert_eq!(browser.text_of("card_number-error").await, "Invalid card number (040)");
    browser.screenshot("invalid-card").await;
    browser.client.clone().close().await.ok();
}

async fn a_payrequest_link_is_paid_and_returns_md5_codes(backend: Backend) {
    let Some(mut browser) = Browser::start("payrequest").await else { return };
    let app = spawn_app(backend).await;
    let (shop, _) = shop().await;
    // The seed's example, but returning to this test's shop and as a shareable link.
    let mut body = crate::payrequest::seed_example();
    body["response"] = json!(format!("{shop}/done"));
    body["type"] = json!("link");
    let reply = app.send(app.request(reqwest::Method::POST, "/payrequest/api/create/").json(&body)).await;
    let link = reply.body["url"].as_str().expect("a link").to_owned();
    assert!(link.contains("/payrequest/l/"), "{link}");
    browser.client.goto(&link).await.expect("the link opens");
    browser.wait_for_url(&format!("{}/checkout/", app.base)).await;
    assert_eq!(browser.text_of("amount").await, "12.25 BDT");
    browser.screenshot("payrequest-checkout").await;
    browser.fill("wallet_phone", "01711000000").await;
    browser.fill("wallet_pin", "1234").await;
    browser.client.find(Locator::Id("pay")).await.unwrap().click().await.expect("pay");
    let landed = browser.wait_for_url(&format!("{shop}/done")).await;
    browser.screenshot("payrequest-returned").await;
    assert_eq!(crate::payrequest::merchant_checks(&landed, crate::payrequest::TOKEN, "PR-000012457"), Some("success"));
    browser.client.clone().close().await.ok();
}

async fn a_qr_money_challenge_is_passed_at_the_root_of_its_own_port(backend: Backend) {
    let Some(mut browser) = Browser::start("qrmoney-root").await else { return };
    let app = spawn_app(backend).await;
    let (shop, _) = shop().await;
    let root = app.root_url("qrmoney");
    // As the public .NET client builds it: the root base URL and the seed's path.
    let mut body = crate::qrmoney::request("4000000000000002");
    body["successUrl"] = json!(format!("{shop}/done"));
    let reply = app
        .send(
            app.client
                .post(format!("{root}/payments/h2h/1001"))
                .header("X-API-Key", crate::qrmoney::API_KEY)
                .json(&body),
        )
        .await;
    assert_eq!(reply.body["challengeRequired"], true, "{}", reply.body);
    let challenge = reply.body["transactionId"].as_str().expect("the challenge URL").to_owned();
    assert!(challenge.starts_with(&format!("{root}/checkout/")), "on the mount it was asked on: {challenge}");
    browser.client.goto(&challenge).await.expect("the challenge opens");
    browser.screenshot("challenge").await;
    browser.client.find(Locator::Id("approve")).await.expect("approve button").click().await.expect("approve");
    browser.wait_for_url(&format!("{shop}/done")).await;
    browser.screenshot("returned").await;
    let status = app
        .send(
            app.client
                .get(format!("{root}/payment-requests/status/{}", reply.body["id"].as_str().unwrap()))
                .header("X-API-Key", crate::qrmoney::API_KEY),
        )
        .await;
    assert_eq!(status.body["transactionStatusId"], 1, "{}", status.body);
    // Its Swagger UI at the root, out of the provider's paths, trying the root.
    browser.client.goto(&format!("{root}/_paybridge/docs")).await.expect("docs open");
    let operation = browser
        .client
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css("[data-path=\"/payments/h2h/{accountId}\"]"))
        .await;
    assert!(operation.is_ok(), "Swagger UI lists the create operation");
    let servers = browser.client.find(Locator::Css(".servers select")).await.expect("a server choice");
    let chosen = servers.prop("value").await.expect("value").unwrap_or_default();
    assert_eq!(chosen, "/", "the root mount's own server comes first");
    browser.screenshot("docs").await;
    browser.client.clone().close().await.ok();
}

/// As a new developer tries each dialect: its docs page (built-in demo config) comes
/// authorized; "Try it out" then Execute on its create operation, with the spec's own
/// example, answers 2xx in Swagger UI's live response.
async fn each_dialects_docs_create_a_payment_on_the_first_click(backend: Backend) {
    let Some(mut browser) = Browser::start("docs").await else { return };
    let app = spawn_app(backend).await;
    let creates = [
        ("rebornpay", "/api/v1/payment/create", "200"),
        ("shadhinpay", "/payments", "201"),
        ("starpay", "/payments", "201"),
        ("payrequest", "/api/create", "200"),
        ("qrmoney", "/payments/h2h/{accountId}", "200"),
    ];
    for (dialect, path, expected) in creates {
        browser.client.goto(&format!("{}/{dialect}/docs", app.base)).await.expect("the docs open");
        let wait = || browser.client.wait().at_most(Duration::from_secs(20));
        let block = wait()
            .for_element(Locator::XPath(&format!("//div[contains(@class,'opblock-post')][.//*[@data-path='{path}']]")))
            .await
            .unwrap_or_else(|e| panic!("{dialect}: no POST {path} in Swagger UI: {e}"));
        if dialect != "payrequest" {
            // Authorize's lock is closed: the demo keys are filled in.
            let locked = wait().for_element(Locator::Css(".auth-wrapper .authorize.locked")).await;
            assert!(locked.is_ok(), "{dialect}: Authorize is filled in");
        }
        block.find(Locator::Css(".opblock-summary")).await.unwrap().click().await.expect("opens");
        wait().for_element(Locator::Css(".try-out__btn")).await.expect("Try it out").click().await.unwrap();
        wait().for_element(Locator::Css(".opblock .execute")).await.expect("Execute").click().await.unwrap();
        let status = wait()
            .for_element(Locator::Css(".live-responses-table tbody .response-col_status"))
            .await
            .unwrap_or_else(|e| panic!("{dialect}: no live response: {e}"));
        let element = serde_json::to_value(&status).expect("an element reference");
        browser.client.execute("arguments[0].scrollIntoView({block: 'center'})", vec![element]).await.ok();
        let status = status.text().await.unwrap();
        browser.screenshot(&format!("{dialect}-executed")).await;
        assert_eq!(status.split_whitespace().next(), Some(expected), "{dialect}: {status}");
    }
    browser.client.clone().close().await.ok();
}

impl Browser {
    async fn click(&self, id: &str) {
        let element = self.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Id(id)).await;
        element.unwrap_or_else(|e| panic!("no #{id}: {e}")).click().await.unwrap_or_else(|e| panic!("#{id}: {e}"));
    }

    async fn click_css(&self, css: &str) {
        let element = self.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await;
        element.unwrap_or_else(|e| panic!("no {css}: {e}")).click().await.unwrap_or_else(|e| panic!("{css}: {e}"));
    }

    async fn page_text(&self) -> String {
        self.client.find(Locator::Css("body")).await.expect("a body").text().await.expect("text")
    }

    /// Reloads until the page's text contains `wanted`.
    async fn reload_until(&self, wanted: &str) -> String {
        for _ in 0..60 {
            let text = self.page_text().await;
            if text.contains(wanted) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            self.client.refresh().await.expect("reload");
        }
        panic!("never showed {wanted:?}: {}", self.page_text().await);
    }
}

/// QA through the dashboard, as the issue lists it: sign in, find a REBORNPAY payment
/// by its invoice id, complete it with a sandbox action and see its timeline, approve
/// its refund from the queue and see the balance change, replay a webhook and see the
/// new attempt, rotate a key and see the old one refused by the dialect, sign out.
/// Screenshots at a phone's width, and of the main pages at a laptop's.
async fn qa_works_through_the_dashboard(backend: Backend) {
    let Some(mut browser) = Browser::start("dashboard").await else { return };
    let hooks = crate::hooks::Hooks::start(0).await;
    let url = hooks.url.clone();
    let app = crate::helpers::spawn_app_with(backend, move |c| c.merchants[0].webhook_url = Some(url)).await;
    let body = json!({
        "invoice_id": "QA-1001", "amount": 2500, "currency": "BDT", "payment_method": "bkash",
        "customer_name": "Karim Rahman",
    });
    app.checkout_url(&body).await;
    app.new_payment("QA-1000", json!(99.5)).await;

    // Sign in: any page sends there first, and comes back after.
    let dashboard = format!("{}/dashboard", app.base);
    browser.client.goto(&format!("{dashboard}/payments")).await.expect("opens");
    browser.wait_for_url(&format!("{dashboard}/signin")).await;
    browser.screenshot("signin").await;
    browser.fill("token", crate::helpers::ADMIN_TOKEN).await;
    browser.click("signin").await;
    browser.wait_for_url(&format!("{dashboard}/payments")).await;
    browser.screenshot("payments").await;

    // Find the payment by its invoice id, and open it.
    browser.fill("q", "QA-1001").await;
    browser.click("search").await;
    browser.wait_for_url(&format!("{dashboard}/payments?q=QA-1001")).await;
    assert_eq!(browser.text_of("shown").await, "1–1 of 1");
    browser.click_css("a.reference").await;
    assert_eq!(browser.text_of("amount").await, "2,500.00 BDT");
    assert_eq!(browser.text_of("status").await, "created");
    browser.screenshot("payment-open").await;

    // Complete it with a sandbox action: the timeline shows what happened.
    browser.click("complete").await;
    assert_eq!(browser.text_of("flash").await, "Payment #1 is now processing.");
    assert_eq!(browser.text_of("status").await, "processing");
    let timeline = browser.text_of("timeline").await;
    assert!(timeline.contains("payment.created") && timeline.contains("payment.processing"), "{timeline}");
    browser.screenshot("payment-completed").await;

    // The merchant verifies it (captured) and asks for a refund; the queue approves it.
    let status = app.payment_status("QA-1001").await;
    let txn = status.body["data"]["transaction_id"].as_str().expect("a transaction id").to_owned();
    assert_eq!(app.verify("QA-1001", &txn).await.status, 200);
    assert_eq!(app.request_refund("QA-1001", json!(1000)).await.status, 200);
    browser.client.goto(&format!("{dashboard}/merchants/1")).await.unwrap();
    let balance = |b: &Browser| {
        let b = b.client.clone();
        async move {
            let row = b.find(Locator::Id("balance-BDT")).await.expect("a BDT balance");
            let cell = |class: &'static str| {
                let row = row.clone();
                async move { row.find(Locator::Css(class)).await.unwrap().text().await.unwrap() }
            };
            (cell(".available").await, cell(".reserved").await)
        }
    };
    assert_eq!(balance(&browser).await, ("1,500.00 BDT".to_owned(), "1,000.00 BDT".to_owned()));
    browser.screenshot("merchant-refund-reserved").await;
    browser.client.goto(&format!("{dashboard}/queues")).await.unwrap();
    browser.screenshot("queues").await;
    browser.click_css("#refund-queue button.approve").await;
    assert_eq!(browser.text_of("flash").await, "Refund #1 of 1,000.00 BDT is succeeded.");
    assert!(browser.page_text().await.contains("No refund waits for a decision."));
    browser.client.goto(&format!("{dashboard}/merchants/1")).await.unwrap();
    assert_eq!(balance(&browser).await, ("1,500.00 BDT".to_owned(), "0.00 BDT".to_owned()), "the refund has left");
    browser.screenshot("merchant-refund-paid").await;

    // Replay a webhook from the payment's page: a new delivery, and its attempt.
    // Every notification of the payment delivered first, so what follows is the replay's.
    let mut settled = 0;
    for _ in 0..100 {
        let listed = app.send(app.admin(reqwest::Method::GET, "/webhooks/deliveries?subject=payment:1")).await.body;
        let all = listed.as_array().cloned().unwrap_or_default();
        let done = !all.is_empty() && all.iter().all(|d| d["status"] == "delivered");
        settled = if done { settled + 1 } else { 0 };
        if settled == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(settled, 3, "the payment's notifications were delivered");
    browser.client.goto(&format!("{dashboard}/payments/1")).await.unwrap();
    let text = browser.reload_until("HTTP 200").await;
    let (deliveries_before, attempts_before) = (text.matches("Replay").count(), text.matches("HTTP 200").count());
    let hits_before = hooks.hits().len();
    browser.click_css("#deliveries button.replay").await;
    assert!(browser.text_of("flash").await.contains("is sent again as delivery"));
    hooks.wait_for(hits_before + 1, Duration::from_secs(10), |_| true).await;
    let mut text = browser.page_text().await;
    for _ in 0..60 {
        if text.matches("HTTP 200").count() > attempts_before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        browser.client.refresh().await.expect("reload");
        text = browser.page_text().await;
    }
    assert_eq!(text.matches("HTTP 200").count(), attempts_before + 1, "the replay's attempt is shown: {text}");
    assert_eq!(text.matches("Replay").count(), deliveries_before + 1, "one delivery more");
    let ledger = browser.text_of("ledger").await;
    assert!(ledger.contains("capture") && ledger.contains("refund_paid"), "{ledger}");
    assert!(!ledger.contains("off by"), "every transaction balances: {ledger}");
    browser.screenshot("payment-replayed").await;
    let hits = hooks.hits();
    let replay = &hits[hits_before];
    let original =
        hits[..hits_before].iter().find(|h| h.header("x-paybridge-event") == replay.header("x-paybridge-event"));
    assert_eq!(original.map(|h| &h.body), Some(&replay.body), "the same notification again");

    // Rotate the REBORNPAY key: the new secret is shown once, the old one is refused.
    browser.client.goto(&format!("{dashboard}/merchants/1")).await.unwrap();
    let rotate = "//tr[contains(@class,'credential')][td[1]='rebornpay']//button[starts-with(@id,'rotate-')]";
    browser.client.find(Locator::XPath(rotate)).await.expect("REBORNPAY's rotate").click().await.expect("rotate");
    let secret = browser.text_of("revealed-secret").await;
    let key = browser.text_of("revealed-key").await;
    assert_eq!(key, crate::helpers::KEY, "REBORNPAY keeps its key, with a new secret");
    browser.screenshot("key-rotated").await;
    let old = app.send(app.reborn(reqwest::Method::GET, "/balance")).await;
    assert_eq!(old.status, 401, "the old secret is refused: {}", old.body);
    let new = app.send(app.reborn_as(&key, &secret, reqwest::Method::GET, "/balance")).await;
    assert_eq!(new.status, 200, "{}", new.body);
    // Shown once: the page again shows the credential, not its secret, and rotates nothing.
    browser.client.refresh().await.expect("reload");
    browser.text_of("credentials").await;
    assert!(browser.client.find(Locator::Id("revealed-secret")).await.is_err(), "the secret is not shown again");
    assert_eq!(app.send(app.reborn_as(&key, &secret, reqwest::Method::GET, "/balance")).await.status, 200);

    // Laptop-sized looks at the main pages.
    browser.client.set_window_size(1366, 900).await.expect("resized");
    for (page, name) in [
        ("payments", "laptop-payments"),
        ("payments/1", "laptop-payment"),
        ("webhooks", "laptop-webhooks"),
        ("merchants/1", "laptop-merchant"),
    ] {
        browser.client.goto(&format!("{dashboard}/{page}")).await.unwrap();
        browser.screenshot(name).await;
    }
    browser.client.set_window_size(412, 915).await.expect("resized");
    browser.client.goto(&format!("{dashboard}/webhooks")).await.unwrap();
    browser.screenshot("webhooks").await;

    // Sign out: the dashboard is closed again.
    browser.click("signout").await;
    browser.wait_for_url(&format!("{dashboard}/signin?out=1")).await;
    assert_eq!(browser.text_of("notice").await, "You are signed out.");
    browser.screenshot("signed-out").await;
    browser.client.goto(&format!("{dashboard}/payments/1")).await.unwrap();
    browser.wait_for_url(&format!("{dashboard}/signin")).await;
    browser.client.clone().close().await.ok();
}

db_test!(
    each_dialects_docs_create_a_payment_on_the_first_click,
    a_qr_money_challenge_is_passed_at_the_root_of_its_own_port,
    a_customer_pays_with_bkash_and_returns_to_the_shop,
    a_declined_card_shows_the_decline,
    a_payrequest_link_is_paid_and_returns_md5_codes,
    qa_works_through_the_dashboard,
);
