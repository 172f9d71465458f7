//! Races that must not lose or double-count money: 50 concurrent refunds, creates and
//! verifies. The ledger invariants are checked after each.

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::json;

use crate::db_test;
use crate::helpers::{Backend, spawn_app};

async fn concurrent_refunds_never_reserve_more_than_the_payment(backend: Backend) {
    let app = spawn_app(backend).await;
    app.captured_payment("INV-1", json!(2500)).await;
    // 50 requests of 70 BDT: at most 35 fit (2450); the 36th would exceed 2500.
    let replies = join_all((0..50).map(|_| app.request_refund("INV-1", json!(70)))).await;
    let accepted = replies.iter().filter(|r| r.status == 200).count();
    let refused = replies.iter().filter(|r| r.status == 422 && r.code() == "refund_exceeds_payment").count();
    assert_eq!((accepted, refused), (35, 15), "statuses: {:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    let balance = app.balance().await;
    assert_eq!((balance["reserved"].clone(), balance["available"].clone()), (json!(2450), json!(50)));
    app.assert_ledger_invariants().await;
}

async fn concurrent_creates_with_one_invoice_id_succeed_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = json!({ "invoice_id": "SAME", "amount": 10, "currency": "BDT" });
    let replies = join_all((0..50).map(|_| app.create_payment(&body))).await;
    let created = replies.iter().filter(|r| r.status == 200).count();
    let conflicts = replies.iter().filter(|r| r.status == 409 && r.code() == "duplicate_invoice_id").count();
    assert_eq!((created, conflicts), (1, 49));
    let list = app.send(app.reborn(Method::GET, "/transactions")).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
    app.assert_ledger_invariants().await;
}

async fn concurrent_verifies_credit_the_balance_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let txn = app.paid_payment("INV-1", json!(2500)).await;
    let replies = join_all((0..50).map(|_| app.verify("INV-1", &txn))).await;
    assert!(replies.iter().all(|r| r.status == 200 && r.body["data"]["verified"] == true), "every verify succeeds");
    assert_eq!(app.balance().await["available"], json!(2500), "credited exactly once");

    let db = app.db().await;
    use sea_orm::ConnectionTrait;
    let captures = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT id FROM ledger_transactions WHERE kind = 'capture'",
        ))
        .await
        .expect("query");
    assert_eq!(captures.len(), 1, "one capture in the ledger");
    let events = app.send(app.admin(Method::GET, "/events?merchant_id=1")).await;
    let succeeded = events.body.as_array().unwrap().iter().filter(|e| e["event_type"] == "payment.succeeded").count();
    assert_eq!(succeeded, 1, "one payment.succeeded event");
    app.assert_ledger_invariants().await;
}

async fn concurrent_creates_of_distinct_invoices_all_succeed(backend: Backend) {
    let app = spawn_app(backend).await;
    let bodies: Vec<_> =
        (0..200).map(|i| json!({ "invoice_id": format!("N-{i}"), "amount": 1, "currency": "BDT" })).collect();
    let replies = join_all(bodies.iter().map(|b| app.create_payment(b))).await;
    assert!(replies.iter().all(|r| r.status == 200), "every distinct invoice is created");
    let mut invoices: Vec<_> =
        replies.iter().map(|r| r.body["data"]["invoice_id"].as_str().unwrap().to_owned()).collect();
    invoices.sort();
    invoices.dedup();
    assert_eq!(invoices.len(), 200, "each reply is its own payment");
}

async fn a_failing_row_fails_only_its_own_create(backend: Backend) {
    let app = spawn_app(backend.clone()).await;
    // A test-only trigger makes one reference fail inside the database, as a row the
    // validation missed would.
    let poison = match backend {
        Backend::Sqlite => "CREATE TRIGGER poison BEFORE INSERT ON payments WHEN NEW.reference = 'POISON' \
                           BEGIN SELECT RAISE(ABORT, 'poison'); END;"
            .to_owned(),
        Backend::Postgres(_) => "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN \
             IF NEW.reference = 'POISON' THEN RAISE EXCEPTION 'poison'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER poison BEFORE INSERT ON payments FOR EACH ROW EXECUTE FUNCTION poison();"
            .to_owned(),
    };
    use sea_orm::ConnectionTrait;
    app.db().await.execute_unprepared(&poison).await.expect("trigger");
    let bodies: Vec<_> = (0..40)
        .map(|i| {
            let invoice = if i == 20 { "POISON".to_owned() } else { format!("OK-{i}") };
            json!({ "invoice_id": invoice, "amount": 1, "currency": "BDT" })
        })
        .collect();
    let replies = join_all(bodies.iter().map(|b| app.create_payment(b))).await;
    for (i, reply) in replies.iter().enumerate() {
        if i == 20 {
            assert_eq!((reply.status, reply.code()), (500, "internal_error"), "{}", reply.body);
        } else {
            assert_eq!(reply.status, 200, "OK-{i} was in a batch with the poisoned row: {}", reply.body);
        }
    }
    let list = app.send(app.reborn(Method::GET, "/transactions?limit=100")).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 39);
    let events = app.send(app.admin(Method::GET, "/events?limit=1000")).await;
    let created = events.body.as_array().unwrap().iter().filter(|e| e["event_type"] == "payment.created").count();
    assert_eq!(created, 39, "one payment.created per payment, none for the failed row");
}

db_test!(
    a_failing_row_fails_only_its_own_create,
    concurrent_refunds_never_reserve_more_than_the_payment,
    concurrent_creates_with_one_invoice_id_succeed_once,
    concurrent_verifies_credit_the_balance_once,
    concurrent_creates_of_distinct_invoices_all_succeed,
);
