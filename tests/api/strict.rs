//! Strict, consistent parsing on every API: every text field bounded as its spec says
//! and checked before the database sees it, every URL field held to one rule, no
//! repeated JSON keys, no form text that is not UTF-8.

use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Backend, TestApp, spawn_app};

/// One JSON operation: how to call it and a body it accepts.
struct Op {
    spec: &'static str,
    schema: &'static str,
    build: fn(&TestApp) -> RequestBuilder,
    body: Value,
}

fn ops() -> Vec<Op> {
    vec![
        Op {
            spec: "rebornpay",
            schema: "CreatePaymentRequest",
            build: |app| app.reborn(Method::POST, "/payment/create"),
            body: json!({"invoice_id": "B-1", "amount": 100, "currency": "BDT"}),
        },
        Op {
            spec: "shadhinpay",
            schema: "CreatePaymentRequest",
            build: |app| {
                app.request(Method::POST, "/shadhinpay/api/v1/payments")
                    .header("Client-Id", "demo_client_id")
                    .header("Business-Id", "demo_business_id")
                    .header("Secret-Key", "demo_secret_key")
            },
            body: json!({"amount": 1500, "currency": "BDT", "customer_phone": "8801712345678",
                         "callback_url": "https://shop.example/cb"}),
        },
        Op {
            spec: "starpay",
            schema: "CreatePaymentRequest",
            build: |app| app.request(Method::POST, "/starpay/api/v1/payments").header("X-API-KEY", "sp_test_merchant"),
            body: json!({"order_id": "B-1", "amount": 100, "currency": "INR"}),
        },
        Op {
            spec: "starpay",
            schema: "CreatePayoutRequest",
            build: |app| app.request(Method::POST, "/starpay/api/v1/payouts").header("X-API-KEY", "sp_test_merchant"),
            body: json!({"amount": 1, "currency": "INR", "account_holder_name": "Asha Rao",
                         "account_number": "50100123456789", "bank_name": "HDFC Bank"}),
        },
        Op {
            spec: "qrmoney",
            schema: "CreatePaymentRequest",
            build: |app| app.request(Method::POST, "/qrmoney/payments/h2h/1001").header("X-API-Key", "qr_test_demo"),
            body: crate::qrmoney::request("4111111111111111"),
        },
        Op {
            spec: "admin",
            schema: "CreateMerchant",
            build: |app| app.admin(Method::POST, "/merchants"),
            body: json!({"name": "Bounded Shop"}),
        },
        Op {
            spec: "payrequest",
            schema: "CreateRequest",
            build: |app| app.request(Method::POST, "/payrequest/api/create/"),
            body: json!({"token": "pr_test_demo", "title": "T", "amount": "12,25"}),
        },
    ]
}

fn spec(name: &str) -> serde_yaml::Value {
    let path = format!("{}/openapi/{name}.yaml", env!("CARGO_MANIFEST_DIR"));
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every string property of `schema` with its `maxLength`.
fn bounded_strings(spec: &serde_yaml::Value, schema: &str) -> Vec<(String, usize)> {
    let props = &spec["components"]["schemas"][schema]["properties"];
    let mut out = Vec::new();
    for (name, prop) in props.as_mapping().expect("properties") {
        if let Some(max) = prop["maxLength"].as_u64() {
            out.push((name.as_str().unwrap().to_owned(), max as usize));
        }
    }
    assert!(!out.is_empty(), "{schema} has bounded fields");
    out
}

/// A field one character over its spec's bound is refused with the API's own
/// validation error naming it — never stored, never a 500; at the bound, the length
/// is not what is refused.
async fn every_text_field_is_held_to_its_specs_bound(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = app.row_counts().await;
    for op in ops() {
        let spec = spec(op.spec);
        for (field, max) in bounded_strings(&spec, op.schema) {
            let mut body = op.body.clone();
            body[&field] = json!("a".repeat(max + 1));
            let reply = app.send((op.build)(&app).json(&body)).await;
            let text = reply.body.to_string();
            let refused = if op.spec == "payrequest" {
                reply.status == 200 && reply.body["status"] == "error"
            } else {
                (400..500).contains(&reply.status)
            };
            assert!(
                refused && text.contains(&field),
                "{} {}.{field} over {max}: {} {text}",
                op.spec,
                op.schema,
                reply.status
            );
            // (QR Money words some fields' messages its own way, with their codes.)
            if !matches!(op.spec, "payrequest" | "qrmoney") {
                assert!(text.contains(&format!("at most {max}")), "{} {field}: the bound is named: {text}", op.spec);
            }
        }
    }
    assert_eq!(app.row_counts().await, before, "nothing over a bound was stored");
    // The issue's own example.
    let reply = app.send(app.admin(Method::POST, "/merchants").json(&json!({"name": "n".repeat(3000)}))).await;
    assert_eq!((reply.status, reply.body["error"]["code"].as_str()), (400, Some("validation_error")), "{}", reply.body);
    // Free-form JSON is bounded too (8 KiB compact).
    let big = json!({"k": "v".repeat(9000)});
    let reply = app
        .send(
            app.reborn(Method::POST, "/payment/create")
                .json(&json!({"invoice_id": "B-2", "amount": 1, "currency": "BDT", "metadata": big})),
        )
        .await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_body"), "{}", reply.body);
    let reply =
        app.send(app.reborn(Method::POST, "/webhook/test").json(&json!({"event": "test.ping", "data": big}))).await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_body"), "{}", reply.body);
    let reply = app.send(app.admin(Method::POST, "/merchants").json(&json!({"name": "Extra Shop"}))).await;
    let id = reply.body["id"].as_i64().expect("merchant id");
    let reply = app
        .send(
            app.admin(Method::POST, &format!("/merchants/{id}/credentials"))
                .json(&json!({"dialect": "rebornpay", "extra": big})),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    // Path parameters: bounded before the lookup.
    let reply = app.send(app.reborn(Method::GET, &format!("/payment/status/{}", "x".repeat(101)))).await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_body"), "{}", reply.body);
}

/// Every URL field of every API: absolute http(s), no control characters, at most
/// 2048 characters — a CR/LF would otherwise end up raw in a `Location` header.
async fn every_url_field_follows_one_rule(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = app.row_counts().await;
    let bad = [
        "https://shop.example/ok\r\nSet-Cookie: x=1".to_owned(),
        "https://shop.example/ok\nx".to_owned(),
        "https://shop.example/a b".to_owned(),
        format!("https://shop.example/{}", "a".repeat(2040)),
        "javascript:alert(1)".to_owned(),
        "/relative/path".to_owned(),
    ];
    let url_fields: &[(&str, &str, &[&str])] = &[
        ("rebornpay", "CreatePaymentRequest", &["success_url", "fail_url", "cancel_url"]),
        ("shadhinpay", "CreatePaymentRequest", &["callback_url", "success_url", "cancel_url"]),
        ("starpay", "CreatePaymentRequest", &["return_url"]),
        ("qrmoney", "CreatePaymentRequest", &["notifyUrl", "successUrl", "failureUrl"]),
        ("admin", "CreateMerchant", &["webhook_url"]),
        ("payrequest", "CreateRequest", &["response", "callback"]),
    ];
    let qr_codes = [("notifyUrl", "029"), ("successUrl", "030"), ("failureUrl", "031")];
    for (name, schema, fields) in url_fields {
        let op = ops().into_iter().find(|o| o.spec == *name && o.schema == *schema).unwrap();
        for field in *fields {
            for url in &bad {
                let mut body = op.body.clone();
                body[*field] = json!(url);
                let reply = app.send((op.build)(&app).json(&body)).await;
                let text = reply.body.to_string();
                match *name {
                    "payrequest" => assert!(
                        reply.status == 200 && reply.body["error"] == "unknown" && text.contains(field),
                        "{name}.{field} {url:?}: {text}"
                    ),
                    "qrmoney" => {
                        let code = qr_codes.iter().find(|(f, _)| f == field).unwrap().1;
                        assert_eq!(
                            (reply.status, reply.body["code"].as_str()),
                            (400, Some(code)),
                            "{field} {url:?}: {text}"
                        );
                    }
                    _ => assert!(reply.status == 400 && text.contains(field), "{name}.{field} {url:?}: {text}"),
                }
            }
        }
    }
    // The admin's PATCH holds to the same rule.
    let reply = app.send(app.admin(Method::POST, "/merchants").json(&json!({"name": "Url Shop"}))).await;
    let id = reply.body["id"].as_i64().expect("merchant id");
    let reply = app
        .send(
            app.admin(Method::PATCH, &format!("/merchants/{id}"))
                .json(&json!({"webhook_url": "https://a.example/\r\n"})),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    let mut after = app.row_counts().await;
    // Only the two merchants this test created, and their credentials.
    after.retain(|(t, _)| !matches!(*t, "merchants" | "credentials"));
    let mut expected = before.clone();
    expected.retain(|(t, _)| !matches!(*t, "merchants" | "credentials"));
    assert_eq!(after, expected, "no payment with a bad URL was stored");
    // A good URL still works.
    let mut body = ops()[0].body.clone();
    body["invoice_id"] = json!("URL-OK");
    body["success_url"] = json!("https://shop.example/thanks?order=1&x=%20");
    assert_eq!(app.send(app.reborn(Method::POST, "/payment/create").json(&body)).await.status, 200);
}

/// `{"amount": 2500, …, "amount": 7777}`: the last value does not win; the body is
/// refused with the dialect's validation error, and nothing is created.
async fn a_key_given_twice_is_refused_by_every_dialect(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = app.row_counts().await;
    for op in ops() {
        let Value::Object(map) = &op.body else { unreachable!() };
        let (key, value) = map.iter().find(|(k, _)| k.as_str() != "token").unwrap();
        let whole = op.body.to_string();
        let text = format!("{}, {:?}: {value}}}", &whole[..whole.len() - 1], key);
        let reply = app.send((op.build)(&app).header("Content-Type", "application/json").body(text)).await;
        let shown = reply.body.to_string();
        if op.spec == "payrequest" {
            assert!(reply.status == 200 && reply.body["error"] == "unknown", "{shown}");
        } else {
            assert_eq!(reply.status, 400, "{} {}: {shown}", op.spec, op.schema);
        }
        assert!(shown.contains(key.as_str()) && shown.contains("more than once"), "{} names {key}: {shown}", op.spec);
    }
    // Nested too.
    let body = r#"{"invoice_id":"D-1","amount":1,"currency":"BDT","metadata":{"a":1,"a":2}}"#;
    let reply = app
        .send(app.reborn(Method::POST, "/payment/create").header("Content-Type", "application/json").body(body))
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["details"][0]["field"], "metadata.a", "{}", reply.body);
    assert_eq!(app.row_counts().await, before);
    // The sandbox API too, and its nested card bounded by its spec.
    let url = app.checkout_url(&json!({"invoice_id": "D-SBX", "amount": 1, "currency": "BDT"})).await;
    let token = url.rsplit('/').next().unwrap().to_owned();
    let sandbox = |body: String| {
        app.request(Method::POST, &format!("/sandbox/v1/checkout/{token}/complete"))
            .header("Content-Type", "application/json")
            .body(body)
    };
    let reply = app.send(sandbox(r#"{"outcome":"success","outcome":"failed"}"#.to_owned())).await;
    assert_eq!(
        (reply.status, reply.body["error"]["details"][0]["field"].as_str()),
        (400, Some("outcome")),
        "{}",
        reply.body
    );
    let long_card =
        format!(r#"{{"outcome":"success","card":{{"number":"{}","expiry":"12/40","cvv":"123"}}}}"#, "4".repeat(65));
    let reply = app.send(sandbox(long_card)).await;
    assert_eq!(
        (reply.status, reply.body["error"]["details"][0]["field"].as_str()),
        (400, Some("card.number")),
        "{}",
        reply.body
    );
}

/// Form text that is not UTF-8 is refused, not stored as replacement characters.
async fn form_text_that_is_not_utf8_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = app.row_counts().await;
    let form = |body: &'static str| {
        app.request(Method::POST, "/payrequest/api/create/")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
    };
    let reply = app.send(form("token=pr_test_demo&title=T%FF%FEx&amount=12,25")).await;
    assert_eq!((reply.status, reply.body["error"].as_str()), (200, Some("unknown")), "{}", reply.body);
    assert!(reply.body["realerror"].as_str().unwrap_or_default().contains("title"), "{}", reply.body);
    assert_eq!(app.row_counts().await, before);
    // The same form in UTF-8 is taken.
    let reply = app.send(form("token=pr_test_demo&title=T%C3%A9x&amount=12,25")).await;
    assert_eq!(reply.body["status"], "success", "{}", reply.body);
    // The checkout's form too.
    let url = app.checkout_url(&json!({"invoice_id": "U-1", "amount": 1, "currency": "BDT"})).await;
    let response = app
        .client
        .post(&url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("method=card&card_name=J%FFD")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
}

db_test!(
    every_text_field_is_held_to_its_specs_bound,
    every_url_field_follows_one_rule,
    a_key_given_twice_is_refused_by_every_dialect,
    form_text_that_is_not_utf8_is_refused,
);

/// Every string a request can carry — body properties, path, query and header
/// parameters — has a `maxLength` in its spec (or is an enum or a date); free-form
/// JSON says its bound. A new field without one fails here.
#[test]
fn every_request_text_field_in_every_spec_has_a_bound() {
    fn refs(v: &serde_yaml::Value, out: &mut Vec<String>) {
        match v {
            serde_yaml::Value::Mapping(m) => {
                for (k, v) in m {
                    if k.as_str() == Some("$ref") {
                        out.push(v.as_str().unwrap().rsplit('/').next().unwrap().to_owned());
                    } else {
                        refs(v, out);
                    }
                }
            }
            serde_yaml::Value::Sequence(s) => s.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let bounded = |s: &serde_yaml::Value| {
        s["type"].as_str() != Some("string")
            || s.get("maxLength").is_some()
            || s.get("enum").is_some()
            || matches!(s["format"].as_str(), Some("date" | "date-time"))
    };
    let mut unbounded = Vec::new();
    for doc in paybridge::startup::all_docs() {
        let spec = spec(doc.name);
        let schemas = &spec["components"]["schemas"];
        let mut todo = Vec::new();
        for (path, ops) in spec["paths"].as_mapping().unwrap() {
            for (method, op) in ops.as_mapping().unwrap() {
                refs(&op["requestBody"], &mut todo);
                for param in op["parameters"].as_sequence().into_iter().flatten() {
                    if !bounded(&param["schema"]) {
                        unbounded.push(format!("{} {path:?} {method:?} {}", doc.name, param["name"].as_str().unwrap()));
                    }
                }
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        while let Some(name) = todo.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            refs(&schemas[name.as_str()], &mut todo);
            for (field, prop) in schemas[name.as_str()]["properties"].as_mapping().into_iter().flatten() {
                let field = field.as_str().unwrap();
                let items_ok = prop["type"].as_str() != Some("array") || bounded(&prop["items"]);
                let free = prop.get("type").is_none_or(|t| t.as_str() == Some("object"))
                    && prop.get("$ref").is_none()
                    && prop.get("allOf").is_none();
                let described = prop["description"].as_str().is_some_and(|d| d.contains("at most"));
                if !bounded(prop) || !items_ok || (free && !described) {
                    unbounded.push(format!("{} {name}.{field}", doc.name));
                }
            }
        }
    }
    assert!(unbounded.is_empty(), "request text without a bound: {unbounded:#?}");
}
