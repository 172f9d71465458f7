//! The dashboard over plain HTTP: who gets in (the admin token's session, nothing
//! else), what its forms refuse (a forged or missing CSRF token, an expired or ended
//! session) with nothing changed, and what its pages find. The browser flows are in
//! `browser.rs`.

use std::time::Duration;

use reqwest::{Client, Method, redirect::Policy};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{ADMIN_TOKEN, Backend, KEY, SECRET, TestApp, spawn_app, spawn_app_with};
use crate::hooks::{Answer, Hooks};

/// An answer of the dashboard: status, `Location`, `Set-Cookie`s, body.
struct Page {
    status: u16,
    location: String,
    cookies: Vec<String>,
    /// `X-Frame-Options` (every dashboard answer carries it).
    framing: String,
    body: String,
}

/// A browser-like client of one app: it keeps the dashboard's cookies by hand (no
/// redirects followed, so each answer can be looked at).
struct Operator {
    base: String,
    client: Client,
    cookies: Vec<(String, String)>,
}

impl Operator {
    fn new(app: &TestApp) -> Operator {
        Operator::at(&app.base)
    }

    fn at(base: &str) -> Operator {
        let client = Client::builder().redirect(Policy::none()).build().expect("client");
        Operator { base: base.to_owned(), client, cookies: Vec::new() }
    }

    /// Signs in with the admin token.
    async fn signed_in(app: &TestApp) -> Operator {
        let mut op = Operator::new(app);
        let page = op.sign_in(ADMIN_TOKEN, "").await;
        assert_eq!(page.status, 303, "signed in: {}", page.body);
        op
    }

    async fn sign_in(&mut self, token: &str, next: &str) -> Page {
        let form = self.get("/dashboard/signin").await;
        assert_eq!(form.status, 200);
        let csrf = csrf_of(&form.body);
        self.post("/dashboard/signin", &[("csrf", &csrf), ("token", token), ("next", next)]).await
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn session(&self) -> Option<String> {
        self.cookies.iter().find(|(k, _)| k == "paybridge_dashboard").map(|(_, v)| v.clone())
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let request = if self.cookies.is_empty() { request } else { request.header("Cookie", self.cookie_header()) };
        let response = request.send().await.expect("answer");
        let status = response.status().as_u16();
        let header = |name: &str| {
            response.headers().get_all(name).iter().map(|v| v.to_str().unwrap_or_default().to_owned()).collect()
        };
        let location: Vec<String> = header("location");
        let cookies: Vec<String> = header("set-cookie");
        let framing: Vec<String> = header("x-frame-options");
        for cookie in &cookies {
            let pair = cookie.split(';').next().unwrap_or_default();
            let (name, value) = pair.split_once('=').unwrap_or_default();
            self.cookies.retain(|(k, _)| k != name);
            if !value.is_empty() && !cookie.contains("Max-Age=0") {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
        let body = response.text().await.unwrap_or_default();
        let framing = framing.into_iter().next().unwrap_or_default();
        Page { status, location: location.into_iter().next().unwrap_or_default(), cookies, framing, body }
    }

    async fn get(&mut self, path: &str) -> Page {
        let request = self.client.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self.client.post(format!("{}{path}", self.base)).form(form);
        self.send(request).await
    }

    /// A form posted with the CSRF token of the page it is on.
    async fn submit(&mut self, page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = csrf_of(&self.get(page).await.body);
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        self.post(action, &form).await
    }
}

fn csrf_of(html: &str) -> String {
    crate::helpers::csrf_of(html).expect("a form with a CSRF token")
}

/// The text of the element with `id`, tags removed.
fn text_by_id(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let start = at + html[at..].find('>')? + 1;
    let end = start + html[start..].find("</")?;
    Some(html[start..end].trim().to_owned())
}

async fn payment_status(app: &TestApp, invoice: &str) -> Value {
    app.payment_status(invoice).await.body["data"]["status"].clone()
}

/// The id of the demo merchant's payment `invoice`, as its dashboard list shows it.
async fn payment_id(op: &mut Operator, invoice: &str) -> i64 {
    let page = op.get(&format!("/dashboard/payments?q={invoice}")).await;
    let at = page.body.find("href=\"/dashboard/payments/").expect("a payment in the list") + 26;
    page.body[at..].split('"').next().unwrap().parse().unwrap()
}

async fn every_page_needs_a_session(backend: Backend) {
    let app = spawn_app(backend).await;
    app.new_payment("DASH-1", json!(100)).await;
    let pages = [
        "/dashboard",
        "/dashboard/payments",
        "/dashboard/payments?q=DASH-1",
        "/dashboard/payments/1",
        "/dashboard/queues",
        "/dashboard/merchants",
        "/dashboard/merchants/1",
        "/dashboard/webhooks",
    ];
    for path in pages {
        let mut anyone = Operator::new(&app);
        let page = anyone.get(path).await;
        assert_eq!(page.status, 303, "{path}");
        assert!(page.location.starts_with("/dashboard/signin"), "{path}: {}", page.location);
        assert!(!page.body.contains("DASH-1"), "{path} shows nothing");
        // A merchant's keys, and the admin token as an API bearer, open nothing either.
        let mut merchant_client = Operator::new(&app);
        let merchant = merchant_client
            .client
            .get(format!("{}{path}", app.base))
            .header("X-Api-Key", KEY)
            .header("X-Api-Secret", SECRET)
            .header("Authorization", format!("Bearer {ADMIN_TOKEN}"));
        let page = merchant_client.send(merchant).await;
        assert_eq!((page.status, page.location.starts_with("/dashboard/signin")), (303, true), "{path}");
    }
    let mut anyone = Operator::new(&app);
    let page = anyone.get("/dashboard/payments?q=DASH-1").await;
    assert_eq!(page.location, "/dashboard/signin?next=%2Fdashboard%2Fpayments%3Fq%3DDASH-1", "and back after");
    // A form without a session does nothing.
    let page = anyone.post("/dashboard/payments/1/sandbox", &[("csrf", "x"), ("action", "complete")]).await;
    assert_eq!((page.status, page.location.as_str()), (303, "/dashboard/signin"));
    assert_eq!(payment_status(&app, "DASH-1").await, "pending");
    let page = anyone.post("/dashboard/credentials/1/rotate", &[]).await;
    assert_eq!(page.status, 303);
    assert_eq!(app.balance().await["currency"], "BDT", "the demo key still works");
}

async fn signing_in_takes_the_admin_token_alone(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut op = Operator::new(&app);
    for wrong in ["", "not-the-token", SECRET, &format!("{ADMIN_TOKEN}x")] {
        let page = op.sign_in(wrong, "").await;
        assert_eq!(page.status, 401, "{wrong:?}");
        assert_eq!(text_by_id(&page.body, "error").as_deref(), Some("That is not the admin token."));
        assert!(op.session().is_none(), "no session for {wrong:?}");
    }
    // The sign-in form's token is tied to its cookie.
    let mut forger = Operator::new(&app);
    let page = forger.post("/dashboard/signin", &[("csrf", "0".repeat(64).as_str()), ("token", ADMIN_TOKEN)]).await;
    assert_eq!(page.status, 403);
    assert!(forger.session().is_none());

    let page = op.sign_in(ADMIN_TOKEN, "/dashboard/queues").await;
    assert_eq!((page.status, page.location.as_str()), (303, "/dashboard/queues"), "back where it was going");
    let cookie = page.cookies.iter().find(|c| c.starts_with("paybridge_dashboard=")).expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/dashboard", "Max-Age=28800"] {
        assert!(cookie.contains(attribute), "{attribute}: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "served over http here");
    assert_eq!(op.get("/dashboard/queues").await.status, 200);
    // Never sent off the dashboard.
    let page = op.sign_in(ADMIN_TOKEN, "//evil.example/x").await;
    assert_eq!(page.location, "/dashboard/payments");
    let page = op.sign_in(ADMIN_TOKEN, "https://evil.example/dashboard").await;
    assert_eq!(page.location, "/dashboard/payments");
}

async fn a_forged_or_missing_csrf_token_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    app.new_payment("DASH-2", json!(100)).await;
    let txn = app.paid_payment("DASH-3", json!(300)).await;
    assert_eq!(app.verify("DASH-3", &txn).await.status, 200);
    assert_eq!(app.request_refund("DASH-3", json!(100)).await.status, 200);
    let mut op = Operator::signed_in(&app).await;
    let mut other = Operator::signed_in(&app).await;
    let id = payment_id(&mut op, "DASH-2").await;
    let theirs = csrf_of(&other.get("/dashboard/queues").await.body);
    let mine = csrf_of(&op.get("/dashboard/queues").await.body);
    assert_ne!(theirs, mine, "each session has its own token");
    let sandbox = format!("/dashboard/payments/{id}/sandbox");
    let forged: [&[(&str, &str)]; 3] = [
        &[("action", "complete")],
        &[("csrf", &theirs), ("action", "complete")],
        &[("csrf", ""), ("action", "complete")],
    ];
    for form in forged {
        let page = op.post(&sandbox, form).await;
        assert_eq!(page.status, 403, "{form:?}");
        assert!(page.body.contains("security token does not match"), "{}", page.body);
        assert_eq!(page.framing, "DENY", "a refusal is never framed either");
    }
    assert_eq!(payment_status(&app, "DASH-2").await, "pending", "not completed");
    let refund = app.send(app.admin(Method::GET, "/refunds")).await.body[0]["id"].as_i64().unwrap();
    let page = op.post(&format!("/dashboard/refunds/{refund}/approve"), &[("csrf", &theirs)]).await;
    assert_eq!(page.status, 403);
    assert_eq!(app.send(app.admin(Method::GET, "/refunds")).await.body.as_array().unwrap().len(), 1, "still queued");
    let page = op.post("/dashboard/signout", &[("csrf", &theirs)]).await;
    assert_eq!(page.status, 403, "signing out is a form too");
    assert_eq!(op.get("/dashboard/payments").await.status, 200, "still signed in");
    // With its own token, the same form acts.
    let page = op.post(&sandbox, &[("csrf", &mine), ("action", "complete")]).await;
    assert_eq!((page.status, page.location.as_str()), (303, sandbox.trim_end_matches("/sandbox")));
    assert_eq!(payment_status(&app, "DASH-2").await, "processing");
}

async fn an_expired_session_is_refused(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.dashboard.session_ttl_secs = 6).await;
    let mut op = Operator::signed_in(&app).await;
    // The session expires at most 6 s from now (it was opened before this instant).
    let signed_in = tokio::time::Instant::now();
    assert_eq!(op.get("/dashboard/payments").await.status, 200);
    // The test clock is not the session's: a day on, still signed in.
    app.advance_clock(86_400).await;
    assert_eq!(op.get("/dashboard/payments").await.status, 200);
    let csrf = csrf_of(&op.get("/dashboard/payments").await.body);
    let expired_session = op.cookies.clone();
    tokio::time::sleep_until(signed_in + Duration::from_millis(6300)).await;
    let page = op.get("/dashboard/merchants").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location, "/dashboard/signin?expired=1&next=%2Fdashboard%2Fmerchants");
    assert!(page.cookies.iter().any(|c| c.starts_with("paybridge_dashboard=;") && c.contains("Max-Age=0")), "cleared");
    let notice = op.get(&page.location).await;
    assert_eq!(text_by_id(&notice.body, "notice").as_deref(), Some("Your session has expired. Sign in again."));
    // Its forms are refused too, with the session's old cookie and token.
    let mut stale = Operator::new(&app);
    stale.cookies = expired_session;
    let page = stale.post("/dashboard/merchants/1/status", &[("csrf", &csrf), ("status", "suspended")]).await;
    assert_eq!(page.status, 303);
    assert_eq!(app.balance().await["currency"], "BDT", "the merchant was not suspended");
}

async fn signing_out_ends_the_session_on_every_instance(backend: Backend) {
    let app = spawn_app(backend).await;
    let peer = app.spawn_peer().await;
    let mut op = Operator::signed_in(&app).await;
    let session = op.cookies.clone();
    let mut there = Operator::at(&peer.base);
    there.cookies = session.clone();
    assert_eq!(there.get("/dashboard/merchants").await.status, 200, "another instance knows the session");
    let page = op.submit("/dashboard/payments", "/dashboard/signout", &[]).await;
    assert_eq!((page.status, page.location.as_str()), (303, "/dashboard/signin?out=1"));
    assert!(op.session().is_none(), "the cookie is cleared");
    let mut replayed = Operator::at(&peer.base);
    replayed.cookies = session;
    let page = replayed.get("/dashboard/merchants").await;
    assert_eq!(page.status, 303, "the old cookie opens nothing, anywhere");
    assert!(page.location.starts_with("/dashboard/signin"));
}

async fn payments_are_found_by_their_filters(backend: Backend) {
    let app = spawn_app(backend).await;
    let today = app.clock.now().date_naive();
    for n in 0..27 {
        app.new_payment(&format!("PAGE-{n:02}"), json!(10 + n)).await;
    }
    let other = app
        .send(
            app.reborn_as(crate::helpers::OTHER_KEY, crate::helpers::OTHER_SECRET, Method::POST, "/payment/create")
                .json(&json!({ "invoice_id": "OTHER_1", "amount": 5, "currency": "BDT" })),
        )
        .await;
    assert_eq!(other.status, 200, "{}", other.body);
    let mut op = Operator::signed_in(&app).await;
    let rows = |page: &Page| page.body.matches("<tr class=\"payment\">").count();
    let page = op.get("/dashboard/payments").await;
    assert_eq!(rows(&page), 25);
    assert_eq!(text_by_id(&page.body, "shown").as_deref(), Some("1–25 of 28"));
    assert!(page.body.find("OTHER_1").unwrap() < page.body.find("PAGE-26").unwrap(), "newest first");
    let next = text_attr(&page.body, "next");
    let page = op.get(&next.replace("&amp;", "&")).await;
    assert_eq!((rows(&page), text_by_id(&page.body, "shown").as_deref()), (3, Some("26–28 of 28")));
    assert!(page.body.contains("PAGE-00"));

    let page = op.get("/dashboard/payments?q=PAGE-07").await;
    assert_eq!(rows(&page), 1);
    assert!(page.body.contains("PAGE-07"));
    let page = op.get("/dashboard/payments?q=_").await;
    assert_eq!(rows(&page), 1, "`_` is a character, not a wildcard: {}", page.body.matches("reference\">").count());
    let page = op.get("/dashboard/payments?merchant=2").await;
    assert_eq!((rows(&page), page.body.contains("OTHER_1")), (1, true));
    assert_eq!(rows(&op.get("/dashboard/payments?dialect=shadhinpay").await), 0);
    let page = op.get("/dashboard/payments?dialect=rebornpay&status=created&merchant=1").await;
    assert_eq!(text_by_id(&page.body, "shown").as_deref(), Some("1–25 of 27"), "the other shop's left out");
    let page = op.get("/dashboard/payments?q=page-07").await;
    assert_eq!((rows(&page), page.body.contains("PAGE-07")), (1, true), "any case");
    let page = op.get("/dashboard/payments?q=%235").await;
    assert_eq!((rows(&page), page.body.contains("PAGE-04")), (1, true), "#5 is payment 5");
    let id = payment_id(&mut op, "PAGE-03").await;
    op.submit(
        &format!("/dashboard/payments/{id}"),
        &format!("/dashboard/payments/{id}/sandbox"),
        &[("action", "fail"), ("decline", "005")],
    )
    .await;
    let page = op.get("/dashboard/payments?status=failed").await;
    assert_eq!((rows(&page), page.body.contains("PAGE-03")), (1, true));
    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let yesterday = day(today.pred_opt().unwrap());
    assert_eq!(rows(&op.get(&format!("/dashboard/payments?to={yesterday}")).await), 0);
    let page = op.get(&format!("/dashboard/payments?from={}&to={}", day(today), day(today))).await;
    assert_eq!(text_by_id(&page.body, "shown").as_deref(), Some("1–25 of 28"));
    let tomorrow = day(today.succ_opt().unwrap());
    assert_eq!(rows(&op.get(&format!("/dashboard/payments?from={tomorrow}")).await), 0);
    for (query, problem) in [
        ("from=31-12-2026", "“from” is not a date"),
        ("to=%2B262142-12-31", "“to” is not a date"),
        ("from=%2B10000-01-01", "“from” is not a date"),
        ("from=2026-12-05&to=2026-12-01", "“from” is after “to”"),
    ] {
        let page = op.get(&format!("/dashboard/payments?{query}")).await;
        assert_eq!((page.status, rows(&page)), (200, 0), "{query}");
        let error = text_by_id(&page.body, "filter-error").unwrap_or_default();
        assert!(error.contains(problem), "{query}: {error}");
    }
}

/// The `href` of the link with `id`.
fn text_attr(html: &str, id: &str) -> String {
    let at = html.find(&format!("id=\"{id}\"")).expect(id);
    let tag_start = html[..at].rfind('<').unwrap();
    let tag = &html[tag_start..at + html[at..].find('>').unwrap()];
    let href = tag.find("href=\"").unwrap() + 6;
    tag[href..].split('"').next().unwrap().to_owned()
}

async fn the_webhooks_chart_counts_the_last_hours_attempts(backend: Backend) {
    let hooks = Hooks::start(0).await;
    let url = hooks.url.clone();
    let app = spawn_app_with(backend, move |c| c.merchants[0].webhook_url = Some(url)).await;
    hooks.script([Answer::status(500)]);
    let ping = json!({ "event": "test.ping", "data": {} });
    assert_eq!(app.send(app.reborn(Method::POST, "/webhook/test").json(&ping)).await.status, 200);
    assert_eq!(hooks.wait_for(2, Duration::from_secs(10), |_| true).await.len(), 2, "failed, then delivered");
    let mut op = Operator::signed_in(&app).await;
    // The receiver has answered; the attempts are recorded a moment later.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let page = loop {
        let page = op.get("/dashboard/webhooks").await;
        if page.body.contains(">1 delivered</span>") || tokio::time::Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(page.body.contains("<svg id=\"chart\""));
    assert_eq!(page.body.matches("<g class=\"minute\">").count(), 60, "an hour of minutes");
    let totals =
        page.body.split("id=\"chart-totals\"").nth(1).unwrap_or_default().split("</p>").next().unwrap_or_default();
    assert!(page.body.contains(">1 delivered</span>") && page.body.contains(">1 failed</span>"), "{totals}");
    assert_eq!(op.get("/dashboard/webhooks?status=dead").await.body.matches("class=\"ledger delivery\"").count(), 0);
    let delivered = op.get("/dashboard/webhooks?status=delivered&event=test.ping").await;
    assert_eq!(delivered.body.matches("class=\"ledger delivery\"").count(), 1, "{}", delivered.body);
    assert_eq!(op.get("/dashboard/webhooks?status=nonsense").await.status, 400);
    // An hour on, the attempts have left the chart.
    app.advance_clock(3700).await;
    let page = op.get("/dashboard/webhooks").await;
    assert!(page.body.contains(">0 delivered</span>") && page.body.contains(">0 failed</span>"));
}

async fn two_operators_deciding_one_refund_decide_it_once(backend: Backend) {
    let app = spawn_app(backend).await;
    app.captured_payment("RACE-1", json!(500)).await;
    assert_eq!(app.request_refund("RACE-1", json!(200)).await.status, 200);
    let refund = app.send(app.admin(Method::GET, "/refunds")).await.body[0]["id"].as_i64().unwrap();
    let mut approver = Operator::signed_in(&app).await;
    let mut rejecter = Operator::signed_in(&app).await;
    let approve_csrf = csrf_of(&approver.get("/dashboard/queues").await.body);
    let reject_csrf = csrf_of(&rejecter.get("/dashboard/queues").await.body);
    let approve = format!("/dashboard/refunds/{refund}/approve");
    let reject = format!("/dashboard/refunds/{refund}/reject");
    let approving = [("csrf", approve_csrf.as_str())];
    let rejecting = [("csrf", reject_csrf.as_str()), ("note", "duplicate")];
    let (a, r) = tokio::join!(approver.post(&approve, &approving), rejecter.post(&reject, &rejecting));
    assert_eq!((a.status, r.status), (303, 303));
    let flashes: Vec<String> = [&a, &r]
        .iter()
        .map(|p| p.cookies.iter().find(|c| c.starts_with("paybridge_flash=")).cloned().unwrap_or_default())
        .collect();
    let decided = flashes.iter().filter(|f| f.starts_with("paybridge_flash=ok")).count();
    assert_eq!(decided, 1, "one decision wins, the other is told: {flashes:?}");
    let status = app.send(app.admin(Method::GET, "/refunds?status=succeeded")).await.body;
    let available = app.balance().await["available"].clone();
    match status.as_array().unwrap().len() {
        1 => assert_eq!(available, json!(300), "approved: the refund left"),
        _ => assert_eq!(available, json!(500), "rejected: the reservation came back"),
    }
    app.assert_ledger_invariants().await;
    // A reject without a reason is refused.
    let page = rejecter.submit("/dashboard/queues", &reject, &[("note", " ")]).await;
    assert!(page.cookies.iter().any(|c| c.starts_with("paybridge_flash=bad")), "{:?}", page.cookies);
}

async fn a_new_admin_token_ends_every_session(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let mut op = Operator::signed_in(&app).await;
    assert_eq!(op.get("/dashboard/merchants").await.status, 200);
    app.config.admin_token = "a-new-admin-token".into();
    let app = app.restart().await;
    let mut again = Operator::at(&app.base);
    again.cookies = op.cookies.clone();
    let page = again.get("/dashboard/merchants").await;
    assert_eq!(page.status, 303, "the old session opens nothing");
    assert_eq!(again.sign_in(ADMIN_TOKEN, "").await.status, 401, "nor the old token");
    assert_eq!(again.sign_in("a-new-admin-token", "").await.status, 303);
}

/// QR Money's demo account's policy, as the admin API shows it.
async fn account_settings(app: &TestApp) -> Value {
    let all = app.send(app.admin(Method::GET, "/merchants/1/credentials")).await.body;
    all.as_array().unwrap().iter().find(|c| c["key_id"] == "qr_test_demo").unwrap()["extra"]["settings"].clone()
}

/// The id of the merchant's credential whose key is `key`, from its page.
fn credential_id(html: &str, key: &str) -> i64 {
    let at = html.find(&format!("<code>{key}</code>")).expect(key);
    let row = html[..at].rfind("id=\"credential-").expect("its row") + 15;
    html[row..].split('"').next().unwrap().parse().unwrap()
}

async fn merchant_forms_act_through_the_core(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut op = Operator::signed_in(&app).await;
    let page = "/dashboard/merchants/1";
    let starpay = || app.request(Method::GET, "/starpay/api/v1/balance").header("X-API-KEY", "sp_test_merchant");
    assert_eq!(app.send(starpay()).await.status, 200);
    // Suspend a StarPay user: its key is refused at once; reinstated, it works again.
    let user = credential_id(&op.get(page).await.body, "sp_test_merchant");
    let done = op.submit(page, &format!("/dashboard/credentials/{user}/suspension"), &[("suspended", "true")]).await;
    assert_eq!(done.location, page);
    assert_ne!(app.send(starpay()).await.status, 200, "a suspended user's key is refused");
    let unclear = op.submit(page, &format!("/dashboard/credentials/{user}/suspension"), &[("suspended", "yes")]).await;
    assert_eq!(unclear.status, 400, "neither suspend nor reinstate");
    assert_ne!(app.send(starpay()).await.status, 200, "still suspended");
    op.submit(page, &format!("/dashboard/credentials/{user}/suspension"), &[("suspended", "false")]).await;
    assert_eq!(app.send(starpay()).await.status, 200);
    // A QR Money account's policy: a bad one is refused and changes nothing.
    let account = credential_id(&op.get(page).await.body, "qr_test_demo");
    let policy = format!("/dashboard/credentials/{account}/policy");
    let refused = op.submit(page, &policy, &[("policy", "{\"max_amount\": \"lots\"}")]).await;
    assert!(refused.cookies.iter().any(|c| c.starts_with("paybridge_flash=bad")), "{:?}", refused.cookies);
    assert_eq!(account_settings(&app).await, Value::Null);
    op.submit(page, &policy, &[("policy", "{\"max_amount\": 100, \"fee_percent\": 2.5}")]).await;
    assert_eq!(account_settings(&app).await["max_amount"], "100", "saved through the core");
    assert!(op.get(page).await.body.contains("fee_percent"), "and shown");
    // The merchant's webhook URL and status.
    op.submit(page, "/dashboard/merchants/1/webhook", &[("webhook_url", "https://shop.example/hooks")]).await;
    assert_eq!(
        app.send(app.admin(Method::GET, "/merchants/1")).await.body["webhook_url"],
        "https://shop.example/hooks"
    );
    let bad = op.submit(page, "/dashboard/merchants/1/webhook", &[("webhook_url", "not a url")]).await;
    assert!(bad.cookies.iter().any(|c| c.starts_with("paybridge_flash=bad")));
    assert_eq!(
        app.send(app.admin(Method::GET, "/merchants/1")).await.body["webhook_url"],
        "https://shop.example/hooks"
    );
    op.submit(page, "/dashboard/merchants/1/status", &[("status", "suspended")]).await;
    let refused = app.send(app.reborn(Method::GET, "/balance")).await;
    assert_eq!(refused.status, 403, "a suspended merchant is refused: {}", refused.body);
    op.submit(page, "/dashboard/merchants/1/status", &[("status", "approved")]).await;
    assert_eq!(app.balance().await["currency"], "BDT");
}

/// The demo merchant's INR balance row on its dashboard page: (available, reserved).
async fn inr_balance(op: &mut Operator) -> (String, String) {
    let page = op.get("/dashboard/merchants/1").await.body;
    let row =
        page.split("id=\"balance-INR\"").nth(1).expect("an INR balance").split("</tr>").next().unwrap().to_owned();
    let cell = |class: &str| {
        let at = row.find(&format!("num {class}\">")).expect(class) + class.len() + 6;
        row[at..].split('<').next().unwrap().to_owned()
    };
    (cell("available"), cell("reserved"))
}

async fn payouts_are_decided_from_the_queue(backend: Backend) {
    let app = spawn_app(backend).await;
    use crate::starpay::{bank, funded, star};
    funded(&app, "merchant", "PO-1", json!(1000)).await;
    let mut ids = Vec::new();
    for amount in [400, 100] {
        let payout = app.send(star(&app, "merchant", Method::POST, "/payouts").json(&bank(json!(amount)))).await;
        assert_eq!(payout.status, 201, "{}", payout.body);
        ids.push(payout.body["data"]["payout_id"].as_str().unwrap().trim_start_matches("po_").to_owned());
    }
    let mut op = Operator::signed_in(&app).await;
    let queue = op.get("/dashboard/queues").await.body;
    assert_eq!(queue.matches("<tr class=\"payout\"").count(), 2, "both wait");
    assert_eq!(inr_balance(&mut op).await, ("500.00 INR".to_owned(), "500.00 INR".to_owned()));
    let paid = op.submit("/dashboard/queues", &format!("/dashboard/payouts/{}/approve", ids[0]), &[]).await;
    assert!(paid.cookies.iter().any(|c| c.starts_with("paybridge_flash=ok")), "{:?}", paid.cookies);
    let no_reason = op.submit("/dashboard/queues", &format!("/dashboard/payouts/{}/reject", ids[1]), &[]).await;
    assert!(no_reason.cookies.iter().any(|c| c.starts_with("paybridge_flash=bad")), "a rejection needs a reason");
    assert_eq!(inr_balance(&mut op).await, ("500.00 INR".to_owned(), "100.00 INR".to_owned()), "unchanged");
    op.submit("/dashboard/queues", &format!("/dashboard/payouts/{}/reject", ids[1]), &[("note", "wrong account")])
        .await;
    assert_eq!(inr_balance(&mut op).await, ("600.00 INR".to_owned(), "0.00 INR".to_owned()), "the rejected came back");
    assert!(op.get("/dashboard/queues").await.body.contains("No payout waits for a decision."));
    let again = op.submit("/dashboard/queues", &format!("/dashboard/payouts/{}/approve", ids[1]), &[]).await;
    assert!(again.cookies.iter().any(|c| c.starts_with("paybridge_flash=bad")), "decided once");
    app.assert_ledger_invariants().await;
}

async fn sandbox_actions_decide_an_open_payment(backend: Backend) {
    let app = spawn_app(backend).await;
    for invoice in ["ACT-1", "ACT-2", "ACT-3"] {
        app.new_payment(invoice, json!(10)).await;
    }
    let mut op = Operator::signed_in(&app).await;
    let act = |id: i64| (format!("/dashboard/payments/{id}"), format!("/dashboard/payments/{id}/sandbox"));
    let (page, action) = act(payment_id(&mut op, "ACT-1").await);
    op.submit(&page, &action, &[("action", "cancel")]).await;
    assert_eq!(payment_status(&app, "ACT-1").await, "cancelled");
    assert!(!op.get(&page).await.body.contains("id=\"sandbox\""), "a closed payment has no sandbox actions");
    let done = op.submit(&page, &action, &[("action", "complete")]).await;
    assert!(done.cookies.iter().any(|c| c.starts_with("paybridge_flash=bad")), "a closed payment is not completed");
    assert_eq!(payment_status(&app, "ACT-1").await, "cancelled");
    let (page, action) = act(payment_id(&mut op, "ACT-2").await);
    op.submit(&page, &action, &[("action", "expire")]).await;
    assert_eq!(payment_status(&app, "ACT-2").await, "expired");
    let (page, action) = act(payment_id(&mut op, "ACT-3").await);
    for bad in [&[("action", "fail"), ("decline", "555")][..], &[("action", "refund")][..]] {
        let refused = op.submit(&page, &action, bad).await;
        let flash = refused.cookies.iter().find(|c| c.starts_with("paybridge_flash=bad")).cloned();
        assert!(flash.is_some(), "{bad:?}: {:?}", refused.cookies);
    }
    let shown = op.submit(&page, &action, &[("action", "fail"), ("decline", "555")]).await;
    let flash = op.get(&shown.location).await.body;
    assert!(flash.contains("decline is not one of the sandbox"), "the field's problem is said");
    assert_eq!(payment_status(&app, "ACT-3").await, "pending", "nothing changed");
    op.submit(&page, &action, &[("action", "fail"), ("decline", "017")]).await;
    assert!(op.get(&page).await.body.contains("Card is blocked due high CHB history (017)"));
}

async fn the_failing_filter_shows_what_will_be_retried(backend: Backend) {
    let hooks = Hooks::start(0).await;
    let url = hooks.url.clone();
    let app = spawn_app_with(backend, move |c| {
        c.merchants[0].webhook_url = Some(url);
        c.webhooks.backoff_initial_ms = 600_000;
        c.webhooks.backoff_max_ms = 600_000;
    })
    .await;
    hooks.script([Answer::status(500)]);
    let ping = json!({ "event": "test.ping", "data": {} });
    assert_eq!(app.send(app.reborn(Method::POST, "/webhook/test").json(&ping)).await.status, 200);
    hooks.wait_for(1, Duration::from_secs(10), |_| true).await;
    // A second one, delivered: the filter must tell them apart.
    assert_eq!(app.send(app.reborn(Method::POST, "/webhook/test").json(&ping)).await.status, 200);
    hooks.wait_for(2, Duration::from_secs(10), |_| true).await;
    let mut op = Operator::signed_in(&app).await;
    let listed = |page: &Page| page.body.matches("class=\"ledger delivery\"").count();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while listed(&op.get("/dashboard/webhooks?status=failing").await) == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the failed delivery is never listed as failing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let failing = op.get("/dashboard/webhooks?status=failing").await;
    assert!(failing.body.contains("HTTP 500"), "with its attempt");
    assert_eq!(listed(&op.get("/dashboard/webhooks?status=pending").await), 1, "pending includes it");
    assert_eq!(listed(&failing), 1, "only the one that failed");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while listed(&op.get("/dashboard/webhooks?status=delivered").await) != 1 {
        assert!(tokio::time::Instant::now() < deadline, "the second delivery is never listed as delivered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(listed(&op.get("/dashboard/webhooks?status=dead").await), 0);
}

db_test!(
    every_page_needs_a_session,
    signing_in_takes_the_admin_token_alone,
    a_forged_or_missing_csrf_token_changes_nothing,
    an_expired_session_is_refused,
    signing_out_ends_the_session_on_every_instance,
    payments_are_found_by_their_filters,
    the_webhooks_chart_counts_the_last_hours_attempts,
    two_operators_deciding_one_refund_decide_it_once,
    a_new_admin_token_ends_every_session,
    merchant_forms_act_through_the_core,
    payouts_are_decided_from_the_queue,
    sandbox_actions_decide_an_open_payment,
    the_failing_filter_shows_what_will_be_retried,
);
