//! StarPay: every role × every endpoint, data scopes, hourly limits and their headers,
//! payouts (reserved, processed, rejected, never overdrawn under a 50-way race), users
//! managed through the admin API, and the webhooks.

use std::time::Duration;

use paybridge_conformance::Credentials;
use paybridge_conformance::signing::verify_webhook;
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use crate::helpers::{Backend, Reply, TestApp, spawn_app, spawn_app_with};
use crate::hooks::{Answer, Hooks};
use crate::{db_test, limits_test};

const ROLES: [&str; 5] = ["super_admin", "admin", "merchant", "partner", "api_user"];

fn key(role: &str) -> String {
    format!("sp_test_{role}")
}

pub(crate) fn star(app: &TestApp, role: &str, method: Method, path: &str) -> RequestBuilder {
    app.request(method, &format!("/starpay/api/v1{path}")).header("X-API-KEY", key(role))
}

fn code(reply: &Reply) -> &str {
    reply.body["error"]["code"].as_str().unwrap_or_default()
}

fn order(id: &str, amount: Value) -> Value {
    json!({ "order_id": id, "amount": amount, "currency": "INR", "payer": "Jane Smith" })
}

pub(crate) fn bank(amount: Value) -> Value {
    json!({
        "amount": amount, "currency": "INR", "account_holder_name": "Asha Rao",
        "account_number": "50100123456789", "bank_name": "HDFC Bank", "ifsc_code": "HDFC0001234"
    })
}

/// Creates a payment as `role` and pays it: `amount` INR credited to the account.
pub(crate) async fn funded(app: &TestApp, role: &str, id: &str, amount: Value) -> Value {
    let reply = app.send(star(app, role, Method::POST, "/payments").json(&order(id, amount))).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let url = reply.body["data"]["payment_url"].as_str().unwrap().to_owned();
    let paid = app.complete(&url, json!({ "outcome": "success", "wallet": { "phone": "01711000000" } })).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    reply.body["data"].clone()
}

async fn inr_available(app: &TestApp) -> Value {
    let reply = app.send(star(app, "super_admin", Method::GET, "/balance")).await;
    let wallets = reply.body["data"]["wallets"].as_array().cloned().unwrap_or_default();
    wallets.iter().find(|w| w["currency"] == "INR").map_or(json!(0), |w| w["available_balance"].clone())
}

async fn the_seed_example_works_with_rate_limit_headers(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app
        .send(
            app.request(Method::GET, "/starpay/api/v1/balance")
                .header("X-API-KEY", key("merchant"))
                .header("Content-Type", "application/json"),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["success"], true);
    assert_eq!(reply.body["data"]["currency"], "BDT");
    assert_eq!(reply.header("X-RateLimit-Limit"), Some("500"));
    assert_eq!(reply.header("X-RateLimit-Remaining"), Some("499"));
    let again = app.send(star(&app, "merchant", Method::GET, "/profile")).await;
    assert_eq!(again.header("X-RateLimit-Remaining"), Some("498"), "one hourly budget per user");
    // Errors of a known key carry them too; an unknown key has no budget to show.
    let denied = app.send(star(&app, "admin", Method::GET, "/balance")).await;
    assert_eq!((denied.status, denied.header("X-RateLimit-Limit")), (403, Some("2000")));
    let unknown = app.send(app.request(Method::GET, "/starpay/api/v1/balance").header("X-API-KEY", "nope")).await;
    assert_eq!((unknown.status, code(&unknown)), (401, "invalid_api_key"));
    let error = &unknown.body["error"];
    assert_eq!(error["status"], 401);
    assert!(error["timestamp"].as_str().unwrap().ends_with('Z'));
    let missing = app.send(app.request(Method::GET, "/starpay/api/v1/balance")).await;
    assert_eq!((missing.status, code(&missing)), (401, "invalid_api_key"));
}

async fn every_role_on_every_endpoint(backend: Backend) {
    let app = spawn_app(backend).await;
    // (method, path, body, expected status per role in ROLES order)
    let table: Vec<(Method, &str, Option<Value>, [u16; 5])> = vec![
        (Method::GET, "/balance", None, [200, 403, 200, 200, 200]),
        (Method::GET, "/profile", None, [200, 200, 200, 200, 200]),
        (Method::POST, "/payments", Some(json!("order")), [201, 201, 201, 201, 201]),
        (Method::GET, "/payments", None, [200, 200, 200, 200, 200]),
        (Method::GET, "/payments/{own}", None, [200, 200, 200, 200, 200]),
        (Method::POST, "/payouts", Some(bank(json!(1))), [201, 403, 201, 201, 201]),
        (Method::GET, "/payouts", None, [200, 403, 200, 200, 200]),
    ];
    funded(&app, "super_admin", "FUND", json!(100)).await;
    for (method, path, body, expected) in table {
        for (role, want) in ROLES.iter().zip(expected) {
            let own = funded(&app, role, &format!("OWN-{role}-{path}-{method}"), json!(1)).await;
            let path = path.replace("{own}", own["transaction_id"].as_str().unwrap());
            let mut request = star(&app, role, method.clone(), &path);
            match &body {
                Some(Value::String(_)) => request = request.json(&order(&format!("M-{role}"), json!(10))),
                Some(body) => request = request.json(body),
                None => {}
            }
            let reply = app.send(request).await;
            assert_eq!(reply.status, want, "{role} {method} {path}: {}", reply.body);
            if want == 403 {
                assert_eq!(code(&reply), "insufficient_permissions");
            }
        }
    }
    app.assert_ledger_invariants().await;
}

async fn each_role_sees_its_scope(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut ids = std::collections::BTreeMap::new();
    for role in ROLES {
        ids.insert(role, funded(&app, role, &format!("ORD-{role}"), json!(10)).await["transaction_id"].clone());
    }
    let total = |role: &'static str| {
        let app = &app;
        async move { app.send(star(app, role, Method::GET, "/payments")).await.body["pagination"]["total"].clone() }
    };
    assert_eq!(total("super_admin").await, 5);
    assert_eq!(total("admin").await, 5, "the team's history");
    for role in ["merchant", "partner", "api_user"] {
        assert_eq!(total(role).await, 1, "{role} sees its own");
    }
    let merchants = ids["merchant"].as_str().unwrap();
    let reply = app.send(star(&app, "api_user", Method::GET, &format!("/payments/{merchants}"))).await;
    assert_eq!((reply.status, code(&reply)), (404, "not_found"));
    let reply = app.send(star(&app, "admin", Method::GET, &format!("/payments/{merchants}"))).await;
    assert_eq!(reply.body["data"]["order_id"], "ORD-merchant");

    // Payouts the same way.
    app.send(star(&app, "merchant", Method::POST, "/payouts").json(&bank(json!(5)))).await;
    app.send(star(&app, "api_user", Method::POST, "/payouts").json(&bank(json!(5)))).await;
    let count = |role: &'static str| {
        let app = &app;
        async move { app.send(star(app, role, Method::GET, "/payouts")).await.body["pagination"]["total"].clone() }
    };
    assert_eq!(
        (count("super_admin").await, count("merchant").await, count("api_user").await),
        (json!(2), json!(1), json!(1))
    );
    let filtered = app.send(star(&app, "super_admin", Method::GET, "/payouts?status=processed")).await;
    assert_eq!(filtered.body["pagination"]["total"], 0);
    // A page far beyond the end (an offset past i64) is an empty page, not a crash.
    for list in ["/payouts", "/payments"] {
        let far =
            app.send(star(&app, "super_admin", Method::GET, &format!("{list}?limit=94&page=98120979115476340"))).await;
        assert_eq!(far.status, 200, "{list}: {}", far.body);
        assert_eq!(far.body["data"], json!([]));
    }
    let bad = app.send(star(&app, "super_admin", Method::GET, "/payouts?status=paid")).await;
    assert_eq!((bad.status, code(&bad)), (400, "missing_fields"), "{}", bad.body);
}

async fn payouts_reserve_then_process_or_return(backend: Backend) {
    let app = spawn_app(backend).await;
    funded(&app, "merchant", "ORD-1", json!(1000)).await;
    assert_eq!(inr_available(&app).await, json!(1000));
    let payout = app.send(star(&app, "merchant", Method::POST, "/payouts").json(&bank(json!(400)))).await;
    assert_eq!(payout.status, 201, "{}", payout.body);
    let data = &payout.body["data"];
    assert_eq!((data["status"].clone(), data["account_number"].clone()), (json!("pending"), json!("XXXXXXXXXX6789")));
    assert_eq!(inr_available(&app).await, json!(600));
    let id = data["payout_id"].as_str().unwrap().trim_start_matches("po_").to_owned();
    let approved = app.send(app.admin(Method::POST, &format!("/payouts/{id}/approve")).json(&json!({}))).await;
    assert_eq!(approved.body["status"], "processed", "{}", approved.body);
    let again = app.send(app.admin(Method::POST, &format!("/payouts/{id}/reject")).json(&json!({}))).await;
    assert_eq!(again.status, 409, "a decided payout stays decided: {}", again.body);

    let second = app.send(star(&app, "merchant", Method::POST, "/payouts").json(&bank(json!(600)))).await;
    let id = second.body["data"]["payout_id"].as_str().unwrap().trim_start_matches("po_").to_owned();
    assert_eq!(inr_available(&app).await, json!(0));
    let over = app.send(star(&app, "merchant", Method::POST, "/payouts").json(&bank(json!(1)))).await;
    assert_eq!((over.status, code(&over)), (422, "insufficient_balance"));
    let rejected =
        app.send(app.admin(Method::POST, &format!("/payouts/{id}/reject")).json(&json!({ "note": "KYC" }))).await;
    assert_eq!(rejected.body["status"], "rejected");
    assert_eq!(inr_available(&app).await, json!(600), "the reservation returned");
    let list = app.send(star(&app, "merchant", Method::GET, "/payouts?status=rejected")).await;
    assert_eq!(list.body["data"][0]["note"], "KYC");

    for (body, field) in [
        (json!({ "amount": 1, "currency": "INR" }), "missing_fields"),
        (bank(json!(-1)), "missing_fields"),
        (
            {
                let mut b = bank(json!(1));
                b["ifsc_code"] = json!("NOPE");
                b
            },
            "missing_fields",
        ),
        (
            {
                let mut b = bank(json!(1));
                b.as_object_mut().unwrap().remove("ifsc_code");
                b
            },
            "missing_fields",
        ),
    ] {
        let reply = app.send(star(&app, "merchant", Method::POST, "/payouts").json(&body)).await;
        assert_eq!((reply.status, code(&reply)), (400, field), "{body}: {}", reply.body);
    }
    app.assert_ledger_invariants().await;
}

async fn a_payout_key_is_one_users_one_payout(backend: Backend) {
    let app = spawn_app(backend).await;
    funded(&app, "merchant", "ORD-1", json!(100)).await;
    let keyed = |role: &str, amount: Value| {
        star(&app, role, Method::POST, "/payouts").header("Idempotency-Key", "po-1").json(&bank(amount))
    };
    let first = app.send(keyed("api_user", json!(10))).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let replay = app.send(keyed("api_user", json!(10))).await;
    assert_eq!((replay.header("Idempotent-Replayed"), &replay.body["data"]), (Some("true"), &first.body["data"]));
    // Another user with the same key: not answered with the first user's payout.
    let other = app.send(keyed("partner", json!(10))).await;
    assert_eq!((other.status, code(&other)), (400, "missing_fields"), "{}", other.body);
    assert_eq!(inr_available(&app).await, json!(90), "one payout reserved");
    app.assert_ledger_invariants().await;
}

async fn fifty_racing_payouts_never_overdraw(backend: Backend) {
    let app = spawn_app(backend).await;
    funded(&app, "merchant", "ORD-1", json!(1000)).await;
    let replies = futures_util::future::join_all(
        (0..50).map(|_| app.send(star(&app, "merchant", Method::POST, "/payouts").json(&bank(json!(70))))),
    )
    .await;
    let accepted = replies.iter().filter(|r| r.status == 201).count();
    let refused = replies.iter().filter(|r| code(r) == "insufficient_balance").count();
    assert_eq!((accepted, refused), (14, 36), "{:?}", replies.iter().map(|r| &r.body).collect::<Vec<_>>());
    assert_eq!(inr_available(&app).await, json!(20));
    app.assert_ledger_invariants().await;
}

async fn orders_are_unique_and_fields_checked(backend: Backend) {
    let app = spawn_app(backend).await;
    let first =
        app.send(star(&app, "merchant", Method::POST, "/payments").json(&order("TXN-2026-001", json!(5000)))).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let data = &first.body["data"];
    assert_eq!(
        (data["status"].clone(), data["amount"].clone(), data["currency"].clone()),
        (json!("pending"), json!(5000), json!("INR"))
    );
    let again =
        app.send(star(&app, "api_user", Method::POST, "/payments").json(&order("TXN-2026-001", json!(1)))).await;
    assert_eq!((again.status, code(&again)), (409, "duplicate_order_id"));
    let missing = app.send(star(&app, "merchant", Method::POST, "/payments").json(&json!({ "amount": 5 }))).await;
    assert_eq!((missing.status, code(&missing)), (400, "missing_fields"), "{}", missing.body);
    assert_eq!(missing.body["error"]["details"][0]["field"], "order_id");
    let bad = app.send(star(&app, "merchant", Method::POST, "/payments").json(&order("X", json!(1.234)))).await;
    assert_eq!((bad.status, code(&bad)), (400, "missing_fields"), "INR has two decimals: {}", bad.body);
    let default_currency = app
        .send(star(&app, "merchant", Method::POST, "/payments").json(&json!({ "order_id": "Y", "amount": 10 })))
        .await;
    assert_eq!(default_currency.body["data"]["currency"], "BDT", "the account's default currency");
    let list = app.send(star(&app, "merchant", Method::GET, "/payments?status=pending&limit=1&page=2")).await;
    assert_eq!(list.body["pagination"], json!({ "page": 2, "limit": 1, "total": 2, "pages": 2 }));
    let future = app.send(star(&app, "merchant", Method::GET, "/payments?from=2999-01-01T00:00:00Z")).await;
    assert_eq!(future.body["pagination"]["total"], 0);
    let not_txn = app.send(star(&app, "merchant", Method::GET, "/payments/TXN-2026-001")).await;
    assert_eq!((not_txn.status, code(&not_txn)), (404, "not_found"));
    // Years no database stores are refused, not a crash or a 500.
    for query in ["to=%2B262142-12-31T23:59:59.999999999Z", "from=-262143-01-01T00:00:00Z"] {
        let reply = app.send(star(&app, "api_user", Method::GET, &format!("/payments?{query}"))).await;
        assert_eq!((reply.status, code(&reply)), (400, "missing_fields"), "{query}: {}", reply.body);
    }
    // Payment methods by their listed lower-case names only, as the spec lists them.
    let mut shouted = order("M-1", json!(10));
    shouted["payment_method"] = json!("BKASH");
    let refused = app.send(star(&app, "merchant", Method::POST, "/payments").json(&shouted)).await;
    assert_eq!((refused.status, code(&refused)), (400, "missing_fields"), "{}", refused.body);
    assert_eq!(refused.body["error"]["details"][0]["field"], "payment_method");
    shouted["payment_method"] = json!("bkash");
    let taken = app.send(star(&app, "merchant", Method::POST, "/payments").json(&shouted)).await;
    assert_eq!((taken.status, &taken.body["data"]["payment_method"]), (201, &json!("bkash")), "{}", taken.body);
    // An Idempotency-Key is the user's own: another user's same key replays nothing.
    let keyed = |role: &str| {
        star(&app, role, Method::POST, "/payments").header("Idempotency-Key", "k-1").json(&order("IDEM-1", json!(5)))
    };
    let first_try = app.send(keyed("api_user")).await;
    assert_eq!(app.send(keyed("api_user")).await.header("Idempotent-Replayed"), Some("true"));
    let other_user = app.send(keyed("partner")).await;
    assert_eq!(
        (other_user.status, code(&other_user), other_user.header("Idempotent-Replayed")),
        (409, "duplicate_order_id", None)
    );
    assert_eq!(first_try.status, 201);
    // `to` set to a payment's shown created_at includes it.
    let shown = first.body["data"]["created_at"].as_str().unwrap().to_owned();
    let upto = app.send(star(&app, "merchant", Method::GET, &format!("/payments?to={shown}"))).await;
    assert_eq!(upto.body["pagination"]["total"], 1, "{}", upto.body);
    // Paths and methods the API lacks answer in its envelope.
    let reply = app.send(star(&app, "merchant", Method::GET, "/refunds")).await;
    assert_eq!((reply.status, code(&reply)), (404, "not_found"), "{}", reply.body);
    let reply = app.send(star(&app, "merchant", Method::DELETE, "/payments")).await;
    assert_eq!((reply.status, code(&reply), reply.body["error"]["status"].clone()), (405, "not_found", json!(405)));
}

async fn an_api_user_gets_a_hundred_requests_an_hour(backend: Backend) {
    let app = spawn_app(backend).await;
    for n in (0..100).rev() {
        let reply = app.send(star(&app, "api_user", Method::GET, "/profile")).await;
        assert_eq!((reply.status, reply.header("X-RateLimit-Remaining")), (200, Some(n.to_string().as_str())));
    }
    let limited = app.send(star(&app, "api_user", Method::GET, "/profile")).await;
    assert_eq!((limited.status, code(&limited)), (429, "rate_limit_exceeded"));
    assert_eq!(
        (limited.header("X-RateLimit-Limit"), limited.header("X-RateLimit-Remaining")),
        (Some("100"), Some("0"))
    );
    let retry: u64 = limited.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=37).contains(&retry), "one request comes back every 36 s: {retry}");
    // Another user's budget is its own.
    assert_eq!(app.send(star(&app, "partner", Method::GET, "/profile")).await.status, 200);
}

async fn every_answer_carries_the_callers_budget_unknown_keys_included(backend: Backend) {
    let app = spawn_app(backend).await;
    let unknown = |key: Option<&str>| {
        let request = app.request(Method::GET, "/starpay/api/v1/balance");
        match key {
            Some(key) => request.header("X-API-KEY", key),
            None => request,
        }
    };
    // No user is known: the client IP's budget, the highest tier's 2,000 an hour.
    for (n, key) in [(1999, None), (1998, Some("sp_nobody")), (1997, Some(""))] {
        let reply = app.send(unknown(key)).await;
        assert_eq!((reply.status, code(&reply)), (401, "invalid_api_key"), "{key:?}");
        let headers = (reply.header("X-RateLimit-Limit"), reply.header("X-RateLimit-Remaining"));
        assert_eq!(headers, (Some("2000"), Some(n.to_string().as_str())), "{key:?}");
    }
    let merchants = app.send(app.admin(Method::GET, "/merchants")).await.body;
    let demo = merchants.as_array().unwrap().iter().find(|m| m["name"] == "Demo Shop").unwrap()["id"].clone();
    // From an address the account does not allow (a leaked key?): the address's budget
    // is spent and shown, never the user's.
    let allow = |list: Value| {
        app.send(app.admin(Method::PATCH, &format!("/merchants/{demo}")).json(&json!({ "ip_allowlist": list })))
    };
    assert_eq!(allow(json!(["10.9.9.9/32"])).await.status, 200);
    let outside = app.send(star(&app, "merchant", Method::GET, "/balance")).await;
    assert_eq!((outside.status, code(&outside)), (403, "insufficient_permissions"), "{}", outside.body);
    let headers = (outside.header("X-RateLimit-Limit"), outside.header("X-RateLimit-Remaining"));
    assert_eq!(headers, (Some("2000"), Some("1996")), "the address's budget");
    assert_eq!(allow(json!([])).await.status, 200);
    let inside = app.send(star(&app, "merchant", Method::GET, "/balance")).await;
    assert_eq!(inside.header("X-RateLimit-Remaining"), Some("499"), "the user's budget untouched");
    // 1,996 left, one back every 1.8 s.
    let (limited, _, _) = app.exhaust(1996, Duration::from_millis(1800), 401, || unknown(Some("sp_guess"))).await;
    assert_eq!((limited.status, code(&limited)), (429, "rate_limit_exceeded"), "guessing keys is slowed down");
    assert_eq!(limited.header("X-RateLimit-Remaining"), Some("0"));
    assert!(limited.header("Retry-After").is_some());
    // A known user from the same address has its own budget: 498 left, or 499 when
    // the 1,996 requests above took longer than the 7.2 s in which one comes back.
    let own = app.send(star(&app, "merchant", Method::GET, "/balance")).await;
    let left: u32 = own.header("X-RateLimit-Remaining").unwrap().parse().unwrap();
    assert_eq!(own.status, 200);
    assert!((498..=499).contains(&left), "{left}");
    // A malformed body is a field error in the seed's list, with its details.
    let malformed =
        star(&app, "merchant", Method::POST, "/payments").header("Content-Type", "application/json").body("{order_id");
    let reply = app.send(malformed).await;
    assert_eq!((reply.status, code(&reply)), (400, "missing_fields"), "{}", reply.body);
    assert_eq!(reply.body["error"]["details"][0]["field"], "body", "{}", reply.body);
    assert_eq!(reply.header("X-RateLimit-Remaining"), Some((left - 1).to_string().as_str()));
    // Refused before its budget was counted (the account suspended): counted, shown.
    let suspended = app.send(app.admin(Method::POST, &format!("/merchants/{demo}/suspend")).json(&json!({}))).await;
    assert_eq!(suspended.status, 200, "{}", suspended.body);
    let refused = app.send(star(&app, "merchant", Method::GET, "/balance")).await;
    assert_eq!((refused.status, code(&refused)), (403, "insufficient_permissions"), "{}", refused.body);
    let headers = (refused.header("X-RateLimit-Limit"), refused.header("X-RateLimit-Remaining"));
    assert_eq!(headers, (Some("500"), Some((left - 2).to_string().as_str())));
}

fn signed_by(key: &str) -> Credentials {
    let mut credentials = Credentials::default();
    credentials.set("credentials.api_key", key);
    credentials
}

async fn users_are_managed_through_the_admin_api(backend: Backend) {
    let hooks = Hooks::start(0).await;
    let url = hooks.url.clone();
    let app = spawn_app_with(backend, move |c| c.merchants[0].webhook_url = Some(url)).await;
    let merchants = app.send(app.admin(Method::GET, "/merchants")).await.body;
    let demo = merchants.as_array().unwrap().iter().find(|m| m["name"] == "Demo Shop").unwrap()["id"].clone();
    let created = app
        .send(
            app.admin(Method::POST, &format!("/merchants/{demo}/credentials"))
                .json(&json!({ "dialect": "starpay", "role": "api_user", "label": "Ravi" })),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let (id, api_key) = (created.body["id"].clone(), created.body["key_id"].as_str().unwrap().to_owned());
    let as_new = |key: &str, path: &str| {
        app.request(Method::GET, &format!("/starpay/api/v1{path}")).header("X-API-KEY", key.to_owned())
    };
    let profile = app.send(as_new(&api_key, "/profile")).await;
    assert_eq!(
        (profile.body["data"]["user"]["role"].clone(), profile.body["data"]["user"]["name"].clone()),
        (json!("api_user"), json!("Ravi"))
    );
    let hit = hooks.wait_for(1, Duration::from_secs(20), |h| h.json["event"] == "user.created").await;
    assert_eq!((hit[0].json["name"].clone(), hit[0].json["role"].clone()), (json!("Ravi"), json!("api_user")));
    verify_webhook("starpay", &signed_by(&key("merchant")), &hit[0].headers, &hit[0].body)
        .expect("signed by the owner");

    // A new role applies at once.
    assert_eq!(app.send(as_new(&api_key, "/payouts")).await.status, 200);
    let patch =
        app.send(app.admin(Method::PATCH, &format!("/credentials/{id}")).json(&json!({ "role": "admin" }))).await;
    assert_eq!(patch.body["role"], "admin", "{}", patch.body);
    let denied = app.send(as_new(&api_key, "/payouts")).await;
    assert_eq!((denied.status, code(&denied)), (403, "insufficient_permissions"));
    assert_eq!(denied.header("X-RateLimit-Limit"), Some("2000"));
    let bad_role =
        app.send(app.admin(Method::PATCH, &format!("/credentials/{id}")).json(&json!({ "role": "owner" }))).await;
    assert_eq!(bad_role.status, 400);

    // The owner's key regenerated: the next notification is signed with the new key.
    let users = app.send(app.admin(Method::GET, &format!("/merchants/{demo}/credentials"))).await.body;
    let owner = users.as_array().unwrap().iter().find(|c| c["key_id"] == key("merchant")).unwrap()["id"].clone();
    let owner_key = app.send(app.admin(Method::POST, &format!("/credentials/{owner}/rotate"))).await.body["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.send(
        app.admin(Method::POST, &format!("/merchants/{demo}/credentials"))
            .json(&json!({ "dialect": "starpay", "role": "partner", "label": "Mina" })),
    )
    .await;
    let hit = hooks.wait_for(1, Duration::from_secs(20), |h| h.json["name"] == "Mina").await;
    verify_webhook("starpay", &signed_by(&owner_key), &hit[0].headers, &hit[0].body).expect("signed with the new key");

    // A regenerated key replaces the old one at once.
    let rotated = app.send(app.admin(Method::POST, &format!("/credentials/{id}/rotate"))).await;
    let new_key = rotated.body["key_id"].as_str().unwrap().to_owned();
    assert_ne!(new_key, api_key);
    assert_eq!(code(&app.send(as_new(&api_key, "/profile")).await), "invalid_api_key");
    assert_eq!(app.send(as_new(&new_key, "/profile")).await.status, 200);

    // A suspended user is refused, and the account is told.
    let suspended = app.send(app.admin(Method::POST, &format!("/credentials/{id}/suspend"))).await;
    assert_eq!(suspended.body["active"], false, "{}", suspended.body);
    let refused = app.send(as_new(&new_key, "/profile")).await;
    assert_eq!((refused.status, code(&refused)), (401, "invalid_api_key"));
    let hit = hooks.wait_for(1, Duration::from_secs(20), |h| h.json["event"] == "user.suspended").await;
    assert_eq!(hit[0].json["status"], "suspended");
    app.send(app.admin(Method::POST, &format!("/credentials/{id}/reinstate"))).await;
    assert_eq!(app.send(as_new(&new_key, "/profile")).await.status, 200);
}

async fn payment_and_payout_webhooks_need_a_200(backend: Backend) {
    let hooks = Hooks::start(0).await;
    let url = hooks.url.clone();
    let app = spawn_app_with(backend, move |c| c.merchants[0].webhook_url = Some(url)).await;
    // A 204 is not an acknowledgement: the first delivery is sent again.
    hooks.script([Answer::status(204)]);
    let paid = funded(&app, "api_user", "TXN-2026-001", json!(5000)).await;
    let hits = hooks.wait_for(2, Duration::from_secs(20), |h| h.json["event"] == "payment.completed").await;
    assert_eq!(hits.len(), 2, "retried after a 204");
    let body = &hits[1].json;
    let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["event", "order_id", "amount", "currency", "status", "payer", "timestamp", "transaction_id"]);
    assert_eq!(
        (
            body["order_id"].clone(),
            body["amount"].clone(),
            body["currency"].clone(),
            body["status"].clone(),
            body["payer"].clone()
        ),
        (json!("TXN-2026-001"), json!(5000), json!("INR"), json!("completed"), json!("Jane Smith"))
    );
    assert_eq!(body["transaction_id"], paid["transaction_id"]);
    verify_webhook("starpay", &signed_by(&key("merchant")), &hits[1].headers, &hits[1].body).expect("signature");
    assert!(verify_webhook("starpay", &signed_by(&key("api_user")), &hits[1].headers, &hits[1].body).is_err());

    let failed = app.send(star(&app, "merchant", Method::POST, "/payments").json(&order("ORD-F", json!(10)))).await;
    let url = failed.body["data"]["payment_url"].as_str().unwrap().to_owned();
    app.complete(&url, json!({ "outcome": "failed" })).await;
    let hit = hooks.wait_for(1, Duration::from_secs(20), |h| h.json["event"] == "payment.failed").await;
    assert_eq!(hit[0].json["status"], "failed");

    let payout = app.send(star(&app, "merchant", Method::POST, "/payouts").json(&bank(json!(100)))).await;
    let id = payout.body["data"]["payout_id"].as_str().unwrap().trim_start_matches("po_").to_owned();
    app.send(app.admin(Method::POST, &format!("/payouts/{id}/approve")).json(&json!({}))).await;
    let hit = hooks.wait_for(1, Duration::from_secs(20), |h| h.json["event"] == "payout.processed").await;
    assert_eq!(
        (hit[0].json["payout_id"].clone(), hit[0].json["amount"].clone()),
        (json!(format!("po_{id}")), json!(100))
    );
    let payout = app.send(star(&app, "merchant", Method::POST, "/payouts").json(&bank(json!(100)))).await;
    let id = payout.body["data"]["payout_id"].as_str().unwrap().trim_start_matches("po_").to_owned();
    app.send(app.admin(Method::POST, &format!("/payouts/{id}/reject")).json(&json!({}))).await;
    let hit = hooks.wait_for(1, Duration::from_secs(20), |h| h.json["event"] == "payout.rejected").await;
    assert_eq!(hit[0].json["status"], "rejected");
    app.assert_ledger_invariants().await;
}

db_test!(
    every_role_on_every_endpoint,
    each_role_sees_its_scope,
    payouts_reserve_then_process_or_return,
    fifty_racing_payouts_never_overdraw,
    a_payout_key_is_one_users_one_payout,
    orders_are_unique_and_fields_checked,
    users_are_managed_through_the_admin_api,
    payment_and_payout_webhooks_need_a_200,
);

limits_test!(
    the_seed_example_works_with_rate_limit_headers,
    an_api_user_gets_a_hundred_requests_an_hour,
    every_answer_carries_the_callers_budget_unknown_keys_included,
);
