//! The hosted checkout over plain HTTP: the page, the forms and their validation, the
//! sandbox's magic values, redirects, double submission, CSRF and expiry.

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::json;

use crate::db_test;
use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};
use paybridge::sandbox::test_card;

const SHOP: &str = "https://shop.example";

fn payment(invoice: &str, method: &str) -> serde_json::Value {
    json!({
        "invoice_id": invoice, "amount": 2500, "currency": "BDT", "payment_method": method,
        "success_url": format!("{SHOP}/paid"), "fail_url": format!("{SHOP}/failed"), "cancel_url": format!("{SHOP}/cancelled"),
    })
}

fn card(number: &str) -> Vec<(&'static str, String)> {
    [
        ("action", "pay"),
        ("card_name", "Karim Rahman"),
        ("card_expiry", "12/35"),
        ("card_cvv", "731"),
        ("email", "karim@example.com"),
        ("phone", "+8801711000000"),
        ("address", "12 Road 5"),
        ("city", "Dhaka"),
        ("state", "Dhaka"),
        ("postal_code", "1207"),
        ("country", "BD"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .chain([("card_number", number.to_owned())])
    .collect()
}

async fn pay_wallet(app: &TestApp, url: &str, phone: &str) -> (u16, Option<String>, String) {
    app.submit_checkout(url, &[("action", "pay"), ("wallet_phone", phone), ("wallet_pin", "1234")]).await
}

async fn pay_card(app: &TestApp, url: &str, number: &str) -> (u16, Option<String>, String) {
    let fields = card(number);
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.submit_checkout(url, &refs).await
}

fn query(location: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(location).unwrap().query_pairs().into_owned().collect()
}

async fn the_page_shows_the_payment_and_the_wallet_form(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = app.checkout_url(&payment("PAGE-1", "bkash")).await;
    let (status, html) = app.checkout_page(&url).await;
    assert_eq!(status, 200);
    for expected in [
        "Demo Shop",
        "2,500.00 BDT",
        "PAGE-1",
        "Expires in 1",
        "Pay with bKash",
        "name=\"wallet_phone\"",
        "name=\"wallet_pin\"",
        "name=\"csrf\"",
    ] {
        assert!(html.contains(expected), "page lacks {expected:?}");
    }
    assert!(!html.contains("<script"), "works without JavaScript");
    assert!(html.contains("width=device-width"), "readable on a phone");
    assert!(!html.contains("class=\"methods\""), "the merchant fixed the method");

    let open = app.checkout_url(&json!({ "invoice_id": "PAGE-2", "amount": 1, "currency": "BDT" })).await;
    let (_, html) = app.checkout_page(&format!("{open}?method=card")).await;
    assert!(
        html.contains("class=\"methods\"") && html.contains("Pay with Card") && html.contains("name=\"card_number\"")
    );
    let (status, _) = app.checkout_page(&format!("{}/checkout/nope", app.base)).await;
    assert_eq!(status, 404);
}

async fn paying_with_a_wallet_redirects_to_the_success_url(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = app.checkout_url(&payment("W-1", "bkash")).await;
    let (status, location, _) = pay_wallet(&app, &url, "01711000000").await;
    assert_eq!(status, 303);
    let location = location.expect("redirect");
    assert!(location.starts_with(&format!("{SHOP}/paid?")), "{location}");
    let params = query(&location);
    assert_eq!((params["invoice_id"].as_str(), params["status"].as_str()), ("W-1", "processing"));
    assert!(params["transaction_id"].starts_with("BKS"));
    let verified = app.verify("W-1", &params["transaction_id"]).await;
    assert_eq!(verified.body["data"]["verified"], true, "{}", verified.body);
    let (_, html) = app.checkout_page(&url).await;
    assert!(html.contains("Payment received") && !html.contains("name=\"wallet_pin\""), "a paid payment shows no form");
}

async fn a_double_submission_charges_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = app.checkout_url(&payment("TWICE", "bkash")).await;
    let (_, html) = app.checkout_page(&url).await;
    let csrf = crate::helpers::csrf_of(&html).expect("a CSRF token");
    let form = [("csrf", csrf.as_str()), ("action", "pay"), ("wallet_phone", "01711000000"), ("wallet_pin", "1234")];
    let replies = join_all((0..5).map(|_| app.post_checkout(&url, &form))).await;
    let txns: Vec<String> = replies
        .iter()
        .map(|(s, l, _)| {
            assert_eq!(*s, 303);
            query(l.as_deref().unwrap())["transaction_id"].clone()
        })
        .collect();
    assert!(txns.iter().all(|t| *t == txns[0]), "every submission lands on the one charge: {txns:?}");
    let events = app.send(app.admin(Method::GET, "/events?merchant_id=1")).await;
    let charged = events.body.as_array().unwrap().iter().filter(|e| e["event_type"] == "payment.processing").count();
    assert_eq!(charged, 1);
}

async fn a_form_without_its_csrf_token_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = app.checkout_url(&payment("CSRF", "bkash")).await;
    for csrf in ["", "00", "not-the-token"] {
        let (status, _, _) = app
            .post_checkout(
                &url,
                &[("csrf", csrf), ("action", "pay"), ("wallet_phone", "01711000000"), ("wallet_pin", "1234")],
            )
            .await;
        assert_eq!(status, 403, "csrf {csrf:?}");
    }
    assert_eq!(app.payment_status("CSRF").await.body["data"]["status"], "pending", "nothing was charged");
}

async fn card_fields_show_qr_money_codes_and_never_echo_the_card(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = app.checkout_url(&payment("C-1", "card")).await;
    let fields = [
        ("action", "pay"),
        ("card_name", "K"),
        ("card_number", "4242424242424241"),
        ("card_expiry", "01/20"),
        ("card_cvv", "1"),
        ("email", "nope"),
        ("phone", "x"),
        ("address", ""),
        ("city", ""),
        ("state", ""),
        ("postal_code", ""),
        ("country", "ZZ"),
    ];
    let (status, _, html) = app.submit_checkout(&url, &fields).await;
    assert_eq!(status, 422);
    for message in [
        "Invalid name (025)",
        "Invalid card number (040)",
        "Invalid card expiration (041)",
        "Invalid card CVV (042)",
        "Invalid email address format (009)",
        "Invalid phone number (033)",
        "Invalid address (034)",
        "Invalid city (035)",
        "Invalid state (036)",
        "Invalid postal/zip code (010)",
        "Invalid country (037)",
    ] {
        assert!(html.contains(message), "no {message:?} beside its field");
    }
    assert!(!html.contains("4242424242424241"), "the card number is not shown again");
    assert_eq!(app.payment_status("C-1").await.body["data"]["status"], "pending");
}

async fn test_cards_decline_with_their_code_or_go_pending(backend: Backend) {
    let app = spawn_app(backend).await;
    for code in ["001", "005", "017", "024", "998", "999"] {
        let invoice = format!("D-{code}");
        let url = app.checkout_url(&payment(&invoice, "card")).await;
        let (status, location, _) = pay_card(&app, &url, &test_card(code)).await;
        assert_eq!(status, 303);
        let params = query(&location.unwrap());
        assert_eq!(params["status"], "failed", "{code}");
        let (_, html) = app.checkout_page(&url).await;
        let reason = paybridge::sandbox::DECLINES.iter().find(|(c, _)| *c == code).unwrap().1;
        let message = reason.message();
        assert!(html.contains(&format!("{message} ({code})")), "{code}: page shows the decline");
    }
    let url = app.checkout_url(&payment("PEND", "card")).await;
    let (_, location, _) = pay_card(&app, &url, &test_card("000")).await;
    let txn = query(&location.unwrap())["transaction_id"].clone();
    let (_, html) = app.checkout_page(&url).await;
    assert!(html.contains("being processed"));
    let early = app.verify("PEND", &txn).await;
    assert_eq!(early.body["data"]["verified"], false, "a pending card is not captured by verify");
    // The processor decides later (the sandbox control API stands in for it).
    let decided = app.complete(&url, json!({ "outcome": "success" })).await;
    assert_eq!((decided.status, decided.body["transaction_id"].clone()), (200, json!(txn)), "{}", decided.body);
    assert_eq!(app.verify("PEND", &txn).await.body["data"]["verified"], true);
    app.assert_ledger_invariants().await;
}

async fn test_wallet_numbers_fail_as_documented(backend: Backend) {
    let app = spawn_app(backend).await;
    for (number, code) in
        [("01700000001", "005"), ("01700000002", "006"), ("01700000003", "013"), ("+8801700000001", "005")]
    {
        let invoice = format!("WAL-{}", number.trim_start_matches('+'));
        let url = app.checkout_url(&payment(&invoice, "nagad")).await;
        let (_, location, _) = pay_wallet(&app, &url, number).await;
        let params = query(&location.unwrap());
        assert_eq!(params["status"], "failed", "{number}");
        assert!(params["transaction_id"].starts_with("NGD"));
        let status = app.payment_status(&invoice).await;
        assert!(status.body["data"]["status"] == "failed");
        let (_, html) = app.checkout_page(&url).await;
        assert!(html.contains(&format!("({code})")), "{number}");
    }
}

async fn cancelling_redirects_to_the_cancel_url(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = app.checkout_url(&payment("CX", "bkash")).await;
    let (status, location, _) = app.submit_checkout(&url, &[("action", "cancel")]).await;
    assert_eq!(status, 303);
    let location = location.unwrap();
    assert!(location.starts_with(&format!("{SHOP}/cancelled?")), "{location}");
    assert_eq!(query(&location)["status"], "cancelled");
}

async fn without_return_urls_the_checkout_shows_the_result(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = app.checkout_url(&json!({ "invoice_id": "NR", "amount": 1, "currency": "BDT" })).await;
    let mut fields = card(&test_card("005"));
    fields.push(("method", "card".to_owned()));
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, location, _) = app.submit_checkout(&url, &refs).await;
    assert_eq!(status, 303);
    assert_eq!(location.as_deref(), Some(url.trim_start_matches(&app.base)));
    let (_, html) = app.checkout_page(&url).await;
    assert!(html.contains("Payment failed") && html.contains("Insufficient funds (005)"));
}

async fn unpaid_payments_expire_by_themselves(backend: Backend) {
    let app = spawn_app_with(backend, |c| {
        c.payment_ttl_secs = 1;
        c.expiry_sweep_secs = 1;
    })
    .await;
    let url = app.checkout_url(&payment("EXP", "bkash")).await;
    // The customer opened the form before the link ran out.
    let (_, form) = app.checkout_page(&url).await;
    let csrf = crate::helpers::csrf_of(&form).expect("a CSRF token");
    let mut status = String::new();
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        status = app.payment_status("EXP").await.body["data"]["status"].as_str().unwrap().to_owned();
        if status == "expired" {
            break;
        }
    }
    assert_eq!(status, "expired", "the sweep expired it without anyone opening the page");
    let events = app.send(app.admin(Method::GET, "/events?merchant_id=1")).await;
    assert!(events.body.as_array().unwrap().iter().any(|e| e["event_type"] == "payment.expired"));
    let (_, html) = app.checkout_page(&url).await;
    assert!(html.contains("expired") && !html.contains("name=\"wallet_pin\""));
    let late = [("csrf", csrf.as_str()), ("action", "pay"), ("wallet_phone", "01711000000"), ("wallet_pin", "1234")];
    let (status, location, _) = app.post_checkout(&url, &late).await;
    assert_eq!(status, 303);
    assert!(location.unwrap().starts_with(&format!("{SHOP}/failed")), "paying an expired link charges nothing");
    assert_eq!(app.payment_status("EXP").await.body["data"]["status"], "expired");
}

async fn card_numbers_and_cvvs_reach_neither_the_database_nor_the_logs(backend: Backend) {
    let app = spawn_app(backend).await;
    let pan = "4539148803436467";
    let url = app.checkout_url(&payment("PAN", "card")).await;
    let (status, _, _) = pay_card(&app, &url, "4539 1488 0343 6467").await;
    assert_eq!(status, 303);
    // And once through the sandbox control API, and once refused by validation.
    let api = app.checkout_url(&payment("PAN-API", "card")).await;
    let card = json!({ "number": "5425233430109903", "expiry": "12/35", "cvv": "731" });
    assert_eq!(app.complete(&api, json!({ "outcome": "success", "card": card })).await.status, 200);
    let refused = app.checkout_url(&payment("PAN-BAD", "card")).await;
    pay_card(&app, &refused, "4539148803436468").await;

    let status = app.payment_status("PAN").await;
    assert_eq!(status.body["data"]["status"], "processing", "{}", status.body);
    let db = app.database_dump().await;
    assert!(db.contains("6467") && db.contains("visa"), "brand and last four are kept");
    let logs = crate::helpers::captured_logs();
    assert!(logs.contains("paybridge"), "logs were captured");
    for (place, text) in [("database", &db), ("logs", &logs)] {
        for secret in [pan, "4539 1488 0343 6467", "5425233430109903", "4539148803436468"] {
            assert!(!text.contains(secret), "a card number is in the {place}");
        }
        assert!(!text.to_lowercase().contains("cvv"), "a CVV field is in the {place}");
    }
}

db_test!(
    card_numbers_and_cvvs_reach_neither_the_database_nor_the_logs,
    the_page_shows_the_payment_and_the_wallet_form,
    paying_with_a_wallet_redirects_to_the_success_url,
    a_double_submission_charges_once,
    a_form_without_its_csrf_token_is_refused,
    card_fields_show_qr_money_codes_and_never_echo_the_card,
    test_cards_decline_with_their_code_or_go_pending,
    test_wallet_numbers_fail_as_documented,
    cancelling_redirects_to_the_cancel_url,
    without_return_urls_the_checkout_shows_the_result,
    unpaid_payments_expire_by_themselves,
);

#[test]
fn the_readme_lists_every_test_card_by_the_rule() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let spaced = |n: String| {
        n.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
    };
    for (code, reason) in paybridge::sandbox::DECLINES {
        let message = reason.message();
        let row = format!("| `{}` | declined {code}: {message} |", spaced(test_card(code)));
        assert!(readme.contains(&row), "README lacks {row}");
    }
    assert!(readme.contains(&format!("| `{}` | pending", spaced(test_card("000")))));
    for (number, code) in paybridge::sandbox::TEST_WALLETS {
        assert!(readme.contains(&format!("| `{number}` | failed {code}")), "README lacks wallet {number}");
    }
}
