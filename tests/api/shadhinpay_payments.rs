//! ShadhinPay payments: the seed's examples, the three auth headers, validation,
//! pagination, rate-limit classes, checkout redirects and the balance shared with
//! REBORNPAY.

use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use crate::helpers::{Backend, Reply, TestApp, spawn_app, spawn_app_with};
use crate::{db_test, limits_test};

pub const CLIENT_ID: &str = "demo_client_id";
pub const BUSINESS_ID: &str = "demo_business_id";
pub const SECRET_KEY: &str = "demo_secret_key";

/// A ShadhinPay request as the demo business.
pub fn shadhin(app: &TestApp, method: Method, path: &str) -> RequestBuilder {
    app.request(method, &format!("/shadhinpay/api/v1{path}"))
        .header("Client-Id", CLIENT_ID)
        .header("Business-Id", BUSINESS_ID)
        .header("Secret-Key", SECRET_KEY)
}

/// The seed's example create request, with its own URLs.
pub fn seed_body(callback: &str) -> Value {
    json!({
        "amount": 1500,
        "currency": "BDT",
        "customer_phone": "8801712345678",
        "customer_name": "John Doe",
        "customer_email": "john@example.com",
        "callback_url": callback,
        "success_url": "https://yoursite.com/success",
        "cancel_url": "https://yoursite.com/cancel",
        "metadata": { "order_id": "ORD-12345", "product": "Premium Plan" }
    })
}

/// Creates a payment; returns `data`.
pub async fn create(app: &TestApp, body: &Value) -> Value {
    let reply = app.send(shadhin(app, Method::POST, "/payments").json(body)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["data"].clone()
}

/// Creates a payment of `amount` and pays it with bKash; returns its id.
pub async fn completed(app: &TestApp, amount: i64) -> String {
    let mut body = seed_body("https://yoursite.com/webhook");
    body["amount"] = amount.into();
    let data = create(app, &body).await;
    let paid = app
        .complete(
            data["payment_url"].as_str().unwrap(),
            json!({ "outcome": "success", "wallet": { "phone": "01711000000" } }),
        )
        .await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    data["payment_id"].as_str().unwrap().to_owned()
}

pub async fn get(app: &TestApp, id: &str) -> Reply {
    app.send(shadhin(app, Method::GET, &format!("/payments/{id}"))).await
}

pub fn code(reply: &Reply) -> &str {
    reply.body["error"]["code"].as_str().unwrap_or_default()
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value.as_object().expect("an object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

async fn total(app: &TestApp) -> u64 {
    let reply = app.send(shadhin(app, Method::GET, "/payments")).await;
    reply.body["data"]["pagination"]["total_items"].as_u64().expect("total_items")
}

async fn the_seeds_examples_answer_as_documented(backend: Backend) {
    let app = spawn_app(backend).await;
    // Create: 201, the example response's fields and types.
    let reply =
        app.send(shadhin(&app, Method::POST, "/payments").json(&seed_body("https://yoursite.com/webhook"))).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(
        (reply.body["success"].clone(), reply.body["message"].clone()),
        (json!(true), json!("Payment initiated successfully"))
    );
    let data = &reply.body["data"];
    assert_eq!(keys(data), ["amount", "created_at", "currency", "expires_at", "payment_id", "payment_url", "status"]);
    let id = data["payment_id"].as_str().unwrap().to_owned();
    assert!(id.strip_prefix("SP_").is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit())), "{id}");
    assert_eq!(
        (data["status"].clone(), data["amount"].clone(), data["currency"].clone()),
        (json!("INITIATED"), json!(1500), json!("BDT"))
    );
    let created = chrono::DateTime::parse_from_rfc3339(data["created_at"].as_str().unwrap()).unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(data["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_minutes(), 15);
    let url = data["payment_url"].as_str().unwrap().to_owned();
    assert_eq!(app.checkout_page(&url).await.0, 200, "payment_url opens the hosted checkout");

    // Pay, then Get: the example's fields.
    let paid = app.complete(&url, json!({ "outcome": "success", "wallet": { "phone": "01711000000" } })).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    let reply = get(&app, &id).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["success"], true);
    let data = &reply.body["data"];
    for field in [
        "payment_id",
        "status",
        "amount",
        "currency",
        "customer_phone",
        "customer_name",
        "transaction_id",
        "payment_method",
        "completed_at",
        "created_at",
        "metadata",
    ] {
        assert!(data.get(field).is_some(), "GET lacks {field}: {data}");
    }
    assert_eq!(data["status"], "COMPLETED");
    assert_eq!(data["payment_method"], "bkash");
    assert!(data["transaction_id"].as_str().unwrap().starts_with("BKS"));
    assert_eq!(data["metadata"], json!({ "order_id": "ORD-12345", "product": "Premium Plan" }));
    assert_eq!((data["customer_phone"].clone(), data["amount"].clone()), (json!("8801712345678"), json!(1500)));

    // List: `?status=COMPLETED&limit=10`, the pagination block exactly.
    create(&app, &seed_body("https://yoursite.com/webhook")).await;
    let reply = app.send(shadhin(&app, Method::GET, "/payments?status=COMPLETED&limit=10")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let payments = reply.body["data"]["payments"].as_array().unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(keys(&payments[0]), ["amount", "created_at", "currency", "payment_id", "status"]);
    assert_eq!(payments[0]["payment_id"], id.as_str());
    assert_eq!(
        reply.body["data"]["pagination"],
        json!({ "current_page": 1, "total_pages": 1, "total_items": 1, "items_per_page": 10 })
    );

    // Refund 500: the example response's fields.
    let body = json!({ "amount": 500, "reason": "Customer requested partial refund" });
    let reply = app.send(shadhin(&app, Method::POST, &format!("/payments/{id}/refund")).json(&body)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["message"], "Refund initiated successfully");
    let data = &reply.body["data"];
    assert!(data["refund_id"].as_str().unwrap().strip_prefix("RF_").unwrap().parse::<u64>().is_ok(), "{data}");
    assert_eq!(
        (data["payment_id"].as_str(), data["amount"].clone(), data["status"].clone()),
        (Some(id.as_str()), json!(500), json!("PROCESSING"))
    );
    assert!(data["created_at"].is_string());
    app.assert_ledger_invariants().await;
}

async fn each_header_has_its_own_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = seed_body("https://yoursite.com/webhook");
    let attempt = |client: Option<&str>, business: Option<&str>, secret: Option<&str>| {
        let mut request = app.request(Method::POST, "/shadhinpay/api/v1/payments").json(&body);
        for (name, value) in [("Client-Id", client), ("Business-Id", business), ("Secret-Key", secret)] {
            if let Some(value) = value {
                request = request.header(name, value);
            }
        }
        app.send(request)
    };
    let (c, b, s) = (Some(CLIENT_ID), Some(BUSINESS_ID), Some(SECRET_KEY));
    let cases = [
        (attempt(None, b, s).await, 401, "MISSING_CLIENT_ID"),
        (attempt(Some(""), b, s).await, 401, "MISSING_CLIENT_ID"),
        (attempt(c, None, s).await, 401, "MISSING_BUSINESS_ID"),
        (attempt(c, b, None).await, 401, "MISSING_SECRET_KEY"),
        (attempt(Some("nobody"), b, s).await, 401, "INVALID_CLIENT_ID"),
        (attempt(c, b, Some("wrong")).await, 401, "INVALID_SECRET_KEY"),
        (attempt(c, Some("other_business"), s).await, 403, "BUSINESS_NOT_AUTHORIZED"),
        // A wrong business id is only told to a caller whose secret is right.
        (attempt(c, Some("other_business"), Some("wrong")).await, 401, "INVALID_SECRET_KEY"),
    ];
    for (i, (reply, status, expected)) in cases.iter().enumerate() {
        assert_eq!((reply.status, code(reply)), (*status, *expected), "case {i}: {}", reply.body);
        assert_eq!(reply.body["success"], false);
        assert!(reply.body["error"]["message"].is_string());
    }
    assert_eq!(total(&app).await, 0, "no rejected request created anything");

    // A suspended business is not authorized, whatever its headers.
    let merchants = app.send(app.admin(Method::GET, "/merchants")).await.body;
    let demo = merchants.as_array().unwrap().iter().find(|m| m["name"] == app.config.merchants[0].name.as_str());
    let merchant = demo.expect("the demo merchant")["id"].clone();
    let suspended = app.send(app.admin(Method::POST, &format!("/merchants/{merchant}/suspend"))).await;
    assert_eq!(suspended.body["status"], "suspended", "{}", suspended.body);
    let reply = attempt(c, b, s).await;
    assert_eq!((reply.status, code(&reply)), (403, "BUSINESS_NOT_AUTHORIZED"), "{}", reply.body);
}

async fn bad_fields_are_validation_errors_that_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let with = |change: &dyn Fn(&mut Value)| {
        let mut body = seed_body("https://yoursite.com/webhook");
        change(&mut body);
        body
    };
    let cases: Vec<(Value, &str)> = vec![
        (with(&|b| b["amount"] = json!(15.5)), "amount"),
        (with(&|b| b["amount"] = json!(1500.0)), "amount"),
        (with(&|b| b["amount"] = json!("1500")), "amount"),
        (with(&|b| b["amount"] = json!(0)), "amount"),
        (with(&|b| b["amount"] = json!(-5)), "amount"),
        (with(&|b| b["currency"] = json!("XYZ")), "currency"),
        (with(&|b| b["customer_phone"] = json!("12")), "customer_phone"),
        (with(&|b| b["customer_email"] = json!("not-an-email")), "customer_email"),
        (with(&|b| b["callback_url"] = json!("not a url")), "callback_url"),
        (with(&|b| b["success_url"] = json!("ftp://x")), "success_url"),
        (with(&|b| b["metadata"] = json!([1, 2])), "metadata"),
        (
            with(&|b| {
                b.as_object_mut().unwrap().remove("callback_url");
            }),
            "callback_url",
        ),
        (
            with(&|b| {
                b.as_object_mut().unwrap().remove("customer_phone");
            }),
            "customer_phone",
        ),
    ];
    for (body, field) in cases {
        let reply = app.send(shadhin(&app, Method::POST, "/payments").json(&body)).await;
        assert_eq!((reply.status, code(&reply)), (400, "VALIDATION_ERROR"), "{body}: {}", reply.body);
        let details = reply.body["error"]["details"].as_array().expect("details");
        assert!(details.iter().any(|d| d["field"] == field), "{field} not named: {}", reply.body);
    }
    // Several bad fields are reported together.
    let body = json!({ "amount": 1, "currency": "XYZ", "customer_phone": "1", "callback_url": "x" });
    let reply = app.send(shadhin(&app, Method::POST, "/payments").json(&body)).await;
    assert_eq!(reply.body["error"]["details"].as_array().unwrap().len(), 3, "{}", reply.body);
    // Not JSON at all.
    let reply =
        app.send(shadhin(&app, Method::POST, "/payments").header("Content-Type", "application/json").body("{")).await;
    assert_eq!((reply.status, code(&reply)), (400, "VALIDATION_ERROR"));
    let reply = app.send(shadhin(&app, Method::POST, "/payments")).await;
    assert_eq!((reply.status, code(&reply)), (400, "VALIDATION_ERROR"), "an empty body: {}", reply.body);
    assert_eq!(total(&app).await, 0);
    let reply = get(&app, "SP_123").await;
    assert_eq!((reply.status, code(&reply)), (404, "PAYMENT_NOT_FOUND"));
    // Paths and methods the API lacks answer in its own error body too.
    let reply = app.send(shadhin(&app, Method::GET, "/payments/SP_1/receipt")).await;
    assert_eq!((reply.status, code(&reply)), (404, "NOT_FOUND"), "{}", reply.body);
    let reply = app.send(shadhin(&app, Method::DELETE, "/payments")).await;
    assert_eq!((reply.status, code(&reply)), (405, "METHOD_NOT_ALLOWED"), "{}", reply.body);
}

async fn pages_and_filters_count_exactly(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(
            create(&app, &seed_body("https://yoursite.com/webhook")).await["payment_id"].as_str().unwrap().to_owned(),
        );
    }
    let cancelled = create(&app, &seed_body("https://yoursite.com/webhook")).await;
    app.complete(cancelled["payment_url"].as_str().unwrap(), json!({ "outcome": "cancelled" })).await;
    let list = |query: &str| app.send(shadhin(&app, Method::GET, &format!("/payments?{query}")));
    let page = |reply: &Reply| -> (Vec<String>, Value) {
        assert_eq!(reply.status, 200, "{}", reply.body);
        let ids = reply.body["data"]["payments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["payment_id"].as_str().unwrap().to_owned())
            .collect();
        (ids, reply.body["data"]["pagination"].clone())
    };
    let (first, pagination) = page(&list("limit=4").await);
    assert_eq!(pagination, json!({ "current_page": 1, "total_pages": 2, "total_items": 6, "items_per_page": 4 }));
    assert_eq!(first[0], cancelled["payment_id"].as_str().unwrap(), "most recent first");
    let (second, pagination) = page(&list("limit=4&page=2").await);
    assert_eq!((second.len(), pagination["current_page"].clone()), (2, json!(2)));
    let mut all: Vec<String> = first.into_iter().chain(second).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 6, "pages neither overlap nor skip");
    let (beyond, pagination) = page(&list("limit=4&page=3").await);
    assert!(beyond.is_empty());
    assert_eq!(pagination, json!({ "current_page": 3, "total_pages": 2, "total_items": 6, "items_per_page": 4 }));
    let (_, pagination) = page(&list("limit=100").await);
    assert_eq!(pagination["total_pages"], 1);

    let (only, pagination) = page(&list("status=CANCELLED").await);
    assert_eq!((only.len(), pagination["total_items"].clone()), (1, json!(1)));
    let (initiated, _) = page(&list("status=INITIATED").await);
    assert_eq!(initiated.len(), 5);
    let today = chrono::Utc::now().date_naive();
    let (dated, _) = page(&list(&format!("from_date={today}&to_date={today}")).await);
    assert_eq!(dated.len(), 6, "a date means the whole day");
    let tomorrow = today.succ_opt().unwrap();
    let (none, pagination) = page(&list(&format!("from_date={tomorrow}")).await);
    assert!(none.is_empty());
    assert_eq!(pagination["total_pages"], 0);
    let (until, _) = page(&list("to_date=2020-01-01T00:00:00Z").await);
    assert!(until.is_empty());

    for query in [
        "limit=101",
        "limit=0",
        "page=0",
        "page=-1",
        "status=PAID",
        "from_date=yesterday",
        &format!("from_date={tomorrow}&to_date={today}"),
        "limit=abc",
    ] {
        let reply = list(query).await;
        assert_eq!((reply.status, code(&reply)), (400, "VALIDATION_ERROR"), "{query}: {}", reply.body);
    }
}

async fn each_endpoint_class_has_its_own_limit(backend: Backend) {
    // The demo business, at the default merchant limit (120/min, REBORNPAY's): the
    // provider's published classes apply as published.
    let app = spawn_app_with(backend, |c| c.merchants[0].rate_limit_per_minute = 120).await;
    let body = seed_body("https://yoursite.com/webhook");
    // A burst of 100, then one more every 0.6 s: creations until the first 429.
    let every = |per_minute: u64| std::time::Duration::from_millis(60_000 / per_minute);
    let create = || shadhin(&app, Method::POST, "/payments").json(&body);
    let (reply, last, made) = app.exhaust(100, every(100), 201, create).await;
    assert_eq!((reply.status, code(&reply)), (429, "RATE_LIMIT_EXCEEDED"), "{}", reply.body);
    let last = last.expect("payments were made").body["data"]["payment_id"].as_str().unwrap().to_owned();
    // Lists are counted apart from creations.
    assert_eq!(app.send(shadhin(&app, Method::GET, "/payments")).await.status, 200);
    assert_eq!(total(&app).await, made as u64, "the refused create made nothing");
    // Status reads: 300 a minute, not the merchant's 120.
    let status = format!("/payments/{last}");
    let (reply, _, _) = app.exhaust(300, every(300), 200, || shadhin(&app, Method::GET, &status)).await;
    assert_eq!((reply.status, code(&reply)), (429, "RATE_LIMIT_EXCEEDED"), "{}", reply.body);
    assert!(reply.header("Retry-After").is_some());
    // Creation and the other class are still their own.
    assert_eq!(app.send(shadhin(&app, Method::GET, "/payments")).await.status, 200);
}

async fn a_business_without_a_limit_is_not_limited(backend: Backend) {
    let app = spawn_app_with(backend, |c| c.merchants[0].rate_limit_per_minute = 0).await;
    for _ in 0..320 {
        assert_eq!(get(&app, "SP_1").await.status, 404);
    }
}

async fn checkout_returns_to_success_and_cancel_urls(backend: Backend) {
    let app = spawn_app(backend).await;
    let paid = create(&app, &seed_body("https://yoursite.com/webhook")).await;
    let (status, location, _) = app
        .submit_checkout(
            paid["payment_url"].as_str().unwrap(),
            &[("action", "pay"), ("wallet_phone", "01711000000"), ("wallet_pin", "1234")],
        )
        .await;
    assert_eq!(status, 303);
    let expected =
        format!("https://yoursite.com/success?payment_id={}&status=COMPLETED", paid["payment_id"].as_str().unwrap());
    assert_eq!(location.as_deref(), Some(expected.as_str()));

    let cancelled = create(&app, &seed_body("https://yoursite.com/webhook")).await;
    let (status, location, _) =
        app.submit_checkout(cancelled["payment_url"].as_str().unwrap(), &[("action", "cancel")]).await;
    assert_eq!(status, 303);
    let expected = format!(
        "https://yoursite.com/cancel?payment_id={}&status=CANCELLED",
        cancelled["payment_id"].as_str().unwrap()
    );
    assert_eq!(location.as_deref(), Some(expected.as_str()));

    // A decline goes back to the shop too (ShadhinPay has no failure URL).
    let declined = create(&app, &seed_body("https://yoursite.com/webhook")).await;
    let (_, location, _) = app
        .submit_checkout(
            declined["payment_url"].as_str().unwrap(),
            &[("action", "pay"), ("wallet_phone", "01700000001"), ("wallet_pin", "1234")],
        )
        .await;
    assert!(location.is_some_and(|l| l.starts_with("https://yoursite.com/cancel?") && l.ends_with("status=FAILED")));
    assert_eq!(get(&app, declined["payment_id"].as_str().unwrap()).await.body["data"]["status"], "FAILED");
}

async fn a_pending_card_payment_is_decided_later(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = create(&app, &seed_body("https://yoursite.com/webhook")).await;
    let (url, id) = (data["payment_url"].as_str().unwrap(), data["payment_id"].as_str().unwrap());
    let card = json!({ "number": "4000000000000002", "expiry": "12/40", "cvv": "123" });
    app.complete(url, json!({ "outcome": "success", "card": card })).await;
    let pending = get(&app, id).await.body["data"].clone();
    assert_eq!((pending["status"].clone(), pending["payment_method"].clone()), (json!("PROCESSING"), json!("card")));
    let txn = pending["transaction_id"].clone();
    // The processor decides: the payment completes as the card payment it was.
    let decided = app.complete(url, json!({ "outcome": "success" })).await;
    assert_eq!(decided.status, 200, "{}", decided.body);
    let done = get(&app, id).await.body["data"].clone();
    assert_eq!((done["status"].clone(), done["payment_method"].clone()), (json!("COMPLETED"), json!("card")));
    assert_eq!(done["transaction_id"], txn, "the transaction keeps its id");
}

async fn one_balance_across_dialects(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = app.balance().await["available"].clone();
    assert_eq!(before, json!(0));
    // 1500 poisha through ShadhinPay = 15.00 BDT in REBORNPAY's balance.
    completed(&app, 1500).await;
    assert_eq!(app.balance().await["available"], json!(15));
    // A REBORNPAY payment adds to the same balance…
    app.captured_payment("INV-1", json!(25)).await;
    assert_eq!(app.balance().await["available"], json!(40));
    app.assert_ledger_invariants().await;
}

db_test!(
    the_seeds_examples_answer_as_documented,
    each_header_has_its_own_code,
    bad_fields_are_validation_errors_that_change_nothing,
    pages_and_filters_count_exactly,
    checkout_returns_to_success_and_cancel_urls,
    a_pending_card_payment_is_decided_later,
    one_balance_across_dialects,
);

limits_test!(each_endpoint_class_has_its_own_limit, a_business_without_a_limit_is_not_limited,);
