//! REBORNPAY payments: create, status, verify, and validation of every kind of bad
//! input.

use reqwest::Method;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{Backend, spawn_app};

/// The seed's own example body.
fn seed_body() -> Value {
    json!({
        "invoice_id": "INV-1001",
        "amount": 2500,
        "currency": "BDT",
        "customer_name": "Karim Rahman",
        "customer_phone": "+8801711000000",
        "customer_email": "karim@example.com",
        "payment_method": "bkash",
        "metadata": { "order_id": "ORD-42" }
    })
}

async fn seed_create_example_returns_a_checkout_url(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app.create_payment(&seed_body()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["success"], true);
    let data = &reply.body["data"];
    assert_eq!(data["invoice_id"], "INV-1001");
    assert_eq!(data["amount"], json!(2500));
    assert_eq!(data["currency"], "BDT");
    assert_eq!(data["status"], "pending");
    assert_eq!(data["payment_method"], "bkash");
    assert_eq!(data["customer_name"], "Karim Rahman");
    assert_eq!(data["metadata"], json!({ "order_id": "ORD-42" }));
    assert_eq!(data["transaction_id"], Value::Null);
    let url = data["checkout_url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/checkout/", app.base)), "{url}");

    let status = app.payment_status("INV-1001").await;
    assert_eq!(status.status, 200);
    assert_eq!(status.body["data"], reply.body["data"], "status shows the payment as created");
}

async fn unknown_invoice_is_payment_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app.payment_status("INV-NOPE").await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.code(), "payment_not_found");
    assert_eq!(reply.body["success"], false);
}

async fn reusing_an_invoice_id_is_a_conflict(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.create_payment(&seed_body()).await.status, 200);
    let mut other = seed_body();
    other["amount"] = json!(10);
    let reply = app.create_payment(&other).await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.code(), "duplicate_invoice_id");
    assert_eq!(
        app.payment_status("INV-1001").await.body["data"]["amount"],
        json!(2500),
        "the first payment is untouched"
    );
}

async fn decimal_amounts_keep_their_precision(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app.create_payment(&json!({ "invoice_id": "A", "amount": 2500.5, "currency": "BDT" })).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["data"]["amount"], json!(2500.5));
    let reply = app.create_payment(&json!({ "invoice_id": "B", "amount": 1000, "currency": "JPY" })).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = app.create_payment(&json!({ "invoice_id": "C", "amount": 0.125, "currency": "KWD" })).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["data"]["amount"], json!(0.125));
}

async fn bad_bodies_get_invalid_body_with_details_and_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let ok = seed_body();
    let with = |field: &str, value: Value| {
        let mut body = ok.clone();
        body[field] = value;
        body.to_string()
    };
    let without = |field: &str| {
        let mut body = ok.clone();
        body.as_object_mut().unwrap().remove(field);
        body.to_string()
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("malformed JSON", "{\"invoice_id\": ".into(), "body"),
        ("not an object", "[1, 2]".into(), "body"),
        ("empty body", String::new(), "body"),
        ("missing amount", without("amount"), "amount"),
        ("missing invoice_id", without("invoice_id"), "invoice_id"),
        ("missing currency", without("currency"), "currency"),
        ("amount as string", with("amount", json!("2500")), "amount"),
        ("negative amount", with("amount", json!(-5)), "amount"),
        ("zero amount", with("amount", json!(0)), "amount"),
        ("over-precise amount", with("amount", json!(25.001)), "amount"),
        ("huge amount", with("amount", serde_json::from_str("1e30").unwrap()), "amount"),
        ("unknown currency", with("currency", json!("XYZ")), "currency"),
        ("invoice_id as number", with("invoice_id", json!(1001)), "invoice_id"),
        ("empty invoice_id", with("invoice_id", json!("  ")), "invoice_id"),
        ("bad email", with("customer_email", json!("karim")), "customer_email"),
        ("bad phone", with("customer_phone", json!("call me")), "customer_phone"),
        ("unknown method", with("payment_method", json!("cash")), "payment_method"),
        ("metadata not an object", with("metadata", json!("x")), "metadata"),
        ("metadata an array", with("metadata", json!([1])), "metadata"),
        ("method in upper case", with("payment_method", json!("BKASH")), "payment_method"),
        ("currency in lower case", with("currency", json!("bdt")), "currency"),
        ("bad success_url", with("success_url", json!("javascript:alert(1)")), "success_url"),
    ];
    for (name, body, field) in cases {
        let request = app.reborn(Method::POST, "/payment/create").header("Content-Type", "application/json").body(body);
        let reply = app.send(request).await;
        assert_eq!(reply.status, 400, "{name}: {}", reply.body);
        assert_eq!(reply.code(), "invalid_body", "{name}");
        let details = reply.body["details"].as_array().unwrap_or_else(|| panic!("{name}: no details"));
        assert!(details.iter().any(|d| d["field"] == field), "{name}: details {details:?} do not name {field}");
    }
    // JPY has no minor unit: 1.5 JPY is over-precise.
    let reply = app.create_payment(&json!({ "invoice_id": "J", "amount": 1.5, "currency": "JPY" })).await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_body"));
    // A JSON body sent without a JSON content type.
    let reply = app.send(app.reborn(Method::POST, "/payment/create").body(ok.to_string())).await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_body"));

    let list = app.send(app.reborn(Method::GET, "/transactions")).await;
    assert_eq!(list.body["data"], json!([]), "no bad request created a payment");

    // Every listed method, UPI included, in its lower-case name.
    let body = json!({ "invoice_id": "U", "amount": 10, "currency": "INR", "payment_method": "upi" });
    let upi = app.create_payment(&body).await;
    assert_eq!((upi.status, &upi.body["data"]["payment_method"]), (200, &json!("upi")), "{}", upi.body);
}

async fn several_bad_fields_are_all_reported(backend: Backend) {
    let app = spawn_app(backend).await;
    let body =
        json!({ "invoice_id": "X", "amount": 1, "currency": "BDT", "customer_email": "no", "payment_method": "cash" });
    let reply = app.create_payment(&body).await;
    let fields: Vec<&str> =
        reply.body["details"].as_array().unwrap().iter().filter_map(|d| d["field"].as_str()).collect();
    assert_eq!(fields, ["customer_email", "payment_method"]);
}

async fn verify_credits_only_the_processors_transaction(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = app.new_payment("INV-1", json!(2500)).await;

    let early = app.verify("INV-1", "BKS123456789").await;
    assert_eq!((early.status, early.code()), (400, "invalid_body"), "nothing to verify before checkout");
    assert_eq!(early.body["details"][0]["field"], "transaction_id");

    let paid = app.complete(&url, json!({ "outcome": "success" })).await;
    let txn = paid.body["transaction_id"].as_str().unwrap().to_owned();
    assert!(txn.starts_with("BKS"), "{txn}");
    assert_eq!(app.payment_status("INV-1").await.body["data"]["status"], "processing");
    assert_eq!(app.balance().await["available"], json!(0), "paid but not verified: nothing credited");

    let forged = app.verify("INV-1", "BKS000000000").await;
    assert_eq!((forged.status, forged.code()), (400, "invalid_body"));
    assert_eq!(app.balance().await["available"], json!(0), "a forged transaction credits nothing");

    let verified = app.verify("INV-1", &txn).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert_eq!(verified.body["data"]["verified"], true);
    assert_eq!(verified.body["data"]["status"], "success");
    assert_eq!(verified.body["data"]["transaction_id"], json!(txn));
    assert_eq!(app.balance().await["available"], json!(2500));

    let again = app.verify("INV-1", &txn).await;
    assert_eq!((again.status, again.body["data"]["verified"].clone()), (200, json!(true)));
    assert_eq!(app.balance().await["available"], json!(2500), "a second verify credits nothing");
    app.assert_ledger_invariants().await;
}

async fn verify_reports_a_failed_payment_without_crediting(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = app.new_payment("INV-F", json!(700)).await;
    let failed = app.complete(&url, json!({ "outcome": "failed" })).await;
    assert_eq!(failed.body["status"], "failed");
    let txn = failed.body["transaction_id"].as_str().unwrap().to_owned();
    let reply = app.verify("INV-F", &txn).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["data"]["verified"], false);
    assert_eq!(reply.body["data"]["status"], "failed");
    assert_eq!(app.balance().await["available"], json!(0));
}

async fn verify_validates_its_body(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app.verify("NOPE", "BKS1").await;
    assert_eq!((reply.status, reply.code()), (404, "payment_not_found"));
    let body = json!({ "invoice_id": "NOPE", "transaction_id": "BKS1", "status": "bogus" });
    let reply = app.send(app.reborn(Method::POST, "/payment/verify").json(&body)).await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_body"));
    let reply = app.send(app.reborn(Method::POST, "/payment/verify").json(&json!({ "invoice_id": "NOPE" }))).await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_body"));
}

async fn merchants_cannot_see_each_others_payments(backend: Backend) {
    let app = spawn_app(backend).await;
    let txn = app.paid_payment("INV-1", json!(100)).await;
    let other =
        |method, path: &str| app.reborn_as(crate::helpers::OTHER_KEY, crate::helpers::OTHER_SECRET, method, path);
    let reply = app.send(other(Method::GET, "/payment/status/INV-1")).await;
    assert_eq!((reply.status, reply.code()), (404, "payment_not_found"));
    let body = json!({ "invoice_id": "INV-1", "transaction_id": txn, "status": "success" });
    let reply = app.send(other(Method::POST, "/payment/verify").json(&body)).await;
    assert_eq!((reply.status, reply.code()), (404, "payment_not_found"));
    let reply = app.send(other(Method::GET, "/transactions")).await;
    assert_eq!(reply.body["data"], json!([]));
    // The same invoice id is free for another merchant.
    let body = json!({ "invoice_id": "INV-1", "amount": 5, "currency": "BDT" });
    let reply = app.send(other(Method::POST, "/payment/create").json(&body)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(app.payment_status("INV-1").await.body["data"]["amount"], json!(100));
}

async fn nul_characters_are_invalid_input_not_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    let nul = "\u{0}";
    for (field, value) in [
        ("customer_name", json!(format!("Karim{nul}"))),
        ("invoice_id", json!(format!("INV{nul}"))),
        ("metadata", json!({ "note": format!("x{nul}") })),
    ] {
        let mut body = seed_body();
        body[field] = value;
        let reply = app.create_payment(&body).await;
        assert_eq!((reply.status, reply.code()), (400, "invalid_body"), "{field}: {}", reply.body);
    }
    let reply = app.payment_status("INV%00").await;
    assert_eq!((reply.status, reply.code()), (404, "payment_not_found"));
    let ping = json!({ "event": "test.ping", "data": { "k": format!("v{nul}") } });
    let reply = app.send(app.reborn(Method::POST, "/webhook/test").json(&ping)).await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_body"));
    app.captured_payment("INV-1", json!(10)).await;
    let refund = json!({ "invoice_id": "INV-1", "amount": 1, "reason": format!("r{nul}") });
    let reply = app.send(app.reborn(Method::POST, "/refund/request").json(&refund)).await;
    assert_eq!((reply.status, reply.code()), (400, "invalid_body"));
}

async fn invoice_ids_are_kept_exactly_as_sent(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app.create_payment(&json!({ "invoice_id": " INV 7 ", "amount": 1, "currency": "BDT" })).await;
    assert_eq!(reply.body["data"]["invoice_id"], " INV 7 ");
    assert_eq!(app.payment_status("%20INV%207%20").await.status, 200);
    assert_eq!(app.payment_status("INV%207").await.status, 404, "no silent trimming");
}

db_test!(
    nul_characters_are_invalid_input_not_errors,
    invoice_ids_are_kept_exactly_as_sent,
    seed_create_example_returns_a_checkout_url,
    unknown_invoice_is_payment_not_found,
    reusing_an_invoice_id_is_a_conflict,
    decimal_amounts_keep_their_precision,
    bad_bodies_get_invalid_body_with_details_and_change_nothing,
    several_bad_fields_are_all_reported,
    verify_credits_only_the_processors_transaction,
    verify_reports_a_failed_payment_without_crediting,
    verify_validates_its_body,
    merchants_cannot_see_each_others_payments,
);
