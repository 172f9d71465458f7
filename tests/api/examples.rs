//! Every operation's response examples are answers a server gave. The tour below sends
//! each operation of every spec (the five dialects, the sandbox, admin) its success case
//! and its main errors, starting from the operation's own request example, and checks
//! that the committed examples (`openapi/examples/<doc>.json`, which the specs carry)
//! hold, for each answer, one of the same status and name, shaped as it is.
//!
//! After a change to an answer: `PAYBRIDGE_RECORD_EXAMPLES=1 cargo test --test api
//! examples::` rewrites the files from the tour's answers (SQLite), then
//! `cargo run -- openapi --out openapi/` writes the specs that carry them.

use std::collections::BTreeMap;

use paybridge::http::openapi::ApiDoc;
use paybridge::startup::all_docs;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, Backend, Reply, TestApp, spawn_app_with};
use crate::hooks::Hooks;

/// Where the recorded examples live, one file per document.
fn examples_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/examples")
}

/// A JSON value's shape: its objects' keys, all the way down (scalars and nulls alike).
fn shape(value: &Value) -> Value {
    match value {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), shape(v))).collect(),
        Value::Array(items) => items.first().map(shape).into_iter().collect(),
        _ => Value::Null,
    }
}

/// One request of the tour: the operation it documents and how it is sent.
#[derive(Clone)]
struct Call {
    doc: &'static str,
    method: &'static str,
    /// The path as the spec lists it.
    path: &'static str,
    /// The path sent, its parameters filled in, with any query.
    sent_path: String,
    server: String,
    headers: Vec<(String, String)>,
    body: Option<Value>,
    form: bool,
}

impl Call {
    /// Fills in the path parameter `{name}`.
    fn with(mut self, name: &str, value: impl std::fmt::Display) -> Call {
        self.sent_path = self.sent_path.replace(&format!("{{{name}}}"), &value.to_string());
        self
    }

    /// Adds a query string.
    fn query(mut self, query: &str) -> Call {
        self.sent_path = format!("{}?{query}", self.sent_path);
        self
    }

    /// Sends `body` instead of the operation's example.
    fn body(mut self, body: Value) -> Call {
        self.body = Some(body);
        self
    }

    /// Changes the example body with `change`.
    fn edit(mut self, change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Call {
        if let Some(Value::Object(body)) = &mut self.body {
            change(body);
        }
        self
    }

    /// Sends the body as a form (`application/x-www-form-urlencoded`).
    fn form(mut self) -> Call {
        self.form = true;
        self
    }

    /// Without the credentials.
    fn anonymous(mut self) -> Call {
        self.headers.clear();
        self
    }

    /// With `name: value` instead of that header's credential.
    fn header(mut self, name: &str, value: &str) -> Call {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// A document's examples of one operation: status → example name → answer.
type ByStatus = BTreeMap<String, BTreeMap<String, Value>>;

/// An answer the tour got: which operation, status and example name it documents.
struct Recorded {
    doc: &'static str,
    operation: String,
    status: u16,
    name: String,
    body: Value,
}

struct Tour<'a> {
    app: &'a TestApp,
    /// The demo merchant's webhook receiver.
    hooks: &'a Hooks,
    docs: Vec<ApiDoc>,
    recorded: Vec<Recorded>,
}

impl<'a> Tour<'a> {
    fn new(app: &'a TestApp, hooks: &'a Hooks) -> Tour<'a> {
        Tour { app, hooks, docs: all_docs(), recorded: Vec::new() }
    }

    /// `method path` of `doc`, with the demo credentials in the headers its clients
    /// send them in and the operation's request example as its body.
    fn op(&self, doc: &'static str, method: &'static str, path: &'static str) -> Call {
        let spec = &self.docs.iter().find(|d| d.name == doc).unwrap_or_else(|| panic!("no doc {doc}")).spec;
        let operation = &spec["paths"][path][method];
        assert!(operation.is_object(), "{doc} has no {method} {path}");
        let content = operation["requestBody"]["content"].as_object();
        let body = content.and_then(|c| c.iter().find(|(m, _)| m.starts_with("application/json")));
        let body = body.map(|(_, media)| media["example"].clone()).filter(|b| !b.is_null());
        let headers = match doc {
            "admin" => vec![("Authorization".to_owned(), format!("Bearer {ADMIN_TOKEN}"))],
            "sandbox" | "payrequest" => Vec::new(),
            dialect => {
                let seeds = self.app.config.merchants[0].to_seed().credentials;
                let seed =
                    seeds.iter().find(|s| s.dialect().as_str() == dialect && s.role.as_deref() != Some("partner"));
                let keys = paybridge::adapters::client_keys(seed.expect("a demo credential"));
                keys.headers.iter().map(|(n, v)| ((*n).to_owned(), v.clone())).collect()
            }
        };
        Call {
            doc,
            method,
            path,
            sent_path: path.to_owned(),
            server: spec["servers"][0]["url"].as_str().unwrap_or_default().to_owned(),
            headers,
            body,
            form: false,
        }
    }

    /// Sends `call`; its answer, which must have status `expect`, becomes the example
    /// `name` of that status.
    async fn send(&mut self, name: &str, expect: u16, call: Call) -> Reply {
        let method = Method::from_bytes(call.method.to_uppercase().as_bytes()).unwrap();
        let mut request = self.app.request(method, &format!("{}{}", call.server, call.sent_path));
        for (name, value) in &call.headers {
            request = request.header(name, value);
        }
        if let Some(body) = &call.body {
            request = if call.form {
                let fields: Vec<(String, String)> = body
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                    .collect();
                request.form(&fields)
            } else {
                request.json(body)
            };
        }
        let reply = self.app.send(request).await;
        assert_eq!(reply.status, expect, "{} {} {} ({name}): {}", call.doc, call.method, call.sent_path, reply.body);
        self.recorded.push(Recorded {
            doc: call.doc,
            operation: format!("{} {}", call.method, call.path),
            status: reply.status,
            name: name.to_owned(),
            body: reply.body.clone(),
        });
        reply
    }

    /// Writes the recorded answers, one file per document: operation → status → name →
    /// answer, with the test server's address as the demo's and the receiver's as the
    /// demo merchant's.
    fn write(&self) {
        let mut files: BTreeMap<&str, BTreeMap<String, ByStatus>> = BTreeMap::new();
        for r in &self.recorded {
            let file = files.entry(r.doc).or_default();
            let statuses = file.entry(r.operation.clone()).or_default();
            let named = statuses.entry(r.status.to_string()).or_default();
            let kept = named.entry(r.name.clone()).or_insert_with(|| r.body.clone());
            assert_eq!(shape(kept), shape(&r.body), "{} {} {}: two shapes under one name", r.doc, r.operation, r.name);
        }
        std::fs::create_dir_all(examples_dir()).unwrap();
        for (doc, examples) in files {
            let text = serde_json::to_string_pretty(&examples)
                .unwrap()
                .replace(&self.app.base, DEMO_URL)
                .replace(&self.hooks.url, DEMO_HOOKS);
            // An example whose answer kept its shape keeps its committed values, so that
            // recording again changes only what changed.
            let path = examples_dir().join(format!("{doc}.json"));
            let committed: Value =
                std::fs::read_to_string(&path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
            let mut fresh: Value = serde_json::from_str(&text).unwrap();
            for (operation, statuses) in fresh.as_object_mut().unwrap() {
                for (status, named) in statuses.as_object_mut().unwrap() {
                    for (name, value) in named.as_object_mut().unwrap() {
                        let kept = &committed[operation][status][name];
                        if !kept.is_null() && shape(kept) == shape(value) {
                            *value = kept.clone();
                        }
                    }
                }
            }
            std::fs::write(path, serde_json::to_string_pretty(&fresh).unwrap() + "\n").unwrap();
        }
    }

    /// Checks every recorded answer against the committed examples the specs carry.
    fn check(&self) {
        let mut missing = Vec::new();
        for r in &self.recorded {
            let spec = &self.docs.iter().find(|d| d.name == r.doc).unwrap().spec;
            let (method, path) = r.operation.split_once(' ').unwrap();
            let content = &spec["paths"][path][method]["responses"][r.status.to_string()]["content"];
            let documented = content
                .as_object()
                .into_iter()
                .flat_map(|c| c.values())
                .find_map(|media| media["examples"][&r.name].get("value").cloned());
            match documented {
                Some(example) if shape(&example) == shape(&r.body) => {}
                Some(example) => missing.push(format!(
                    "{} {} {} {}: documented {example}, answered {}",
                    r.doc, r.operation, r.status, r.name, r.body
                )),
                None => missing.push(format!("{} {} {} {}: not documented", r.doc, r.operation, r.status, r.name)),
            }
        }
        assert!(
            missing.is_empty(),
            "answers unlike the committed examples (PAYBRIDGE_RECORD_EXAMPLES=1 rewrites them): {missing:#?}"
        );
    }
}

/// The address recorded examples show for the server: the demo's.
const DEMO_URL: &str = "http://127.0.0.1:8080";
/// The webhook URL recorded examples show for the demo merchant: the demo's.
const DEMO_HOOKS: &str = "http://127.0.0.1:9000/hooks";

/// Waits until the webhook engine has delivered everything queued to the receiver at
/// `url` (which answers `200`), so that the deliveries listed are in the same state on
/// every run. (Those to the example's own callback URLs stay queued: their hosts do not
/// resolve here.)
async fn all_delivered(app: &TestApp, url: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let listed = app.send(app.admin(Method::GET, "/webhooks/deliveries?limit=1000")).await.body;
        let listed: Vec<Value> = listed.as_array().into_iter().flatten().filter(|d| d["url"] == url).cloned().collect();
        if !listed.is_empty() && listed.iter().all(|d| d["status"] == "delivered") {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "deliveries still queued: {listed:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The checkout token at the end of a checkout URL.
fn token(url: &Value) -> String {
    url.as_str().and_then(|u| u.rsplit('/').next()).expect("a checkout URL").to_owned()
}

/// Pays a sandbox checkout with the approving bKash wallet, the example `name` of the
/// sandbox's answer: its transaction id.
async fn pay(tour: &mut Tour<'_>, name: &str, url: &Value) -> String {
    let wallet = json!({ "outcome": "success", "wallet": { "phone": "01711000000" } });
    let call = tour.op("sandbox", "post", "/v1/checkout/{token}/complete").with("token", token(url)).body(wallet);
    let reply = tour.send(name, 200, call).await;
    reply.body["transaction_id"].as_str().unwrap().to_owned()
}

async fn rebornpay(tour: &mut Tour<'_>) {
    const D: &str = "rebornpay";
    let create = tour.op(D, "post", "/api/v1/payment/create");
    let created = tour.send("created", 200, create.clone()).await;
    tour.send("duplicate_invoice_id", 409, create.clone()).await;
    tour.send("invalid_body", 400, create.clone().edit(|b| _ = b.insert("currency".into(), json!("bdt")))).await;
    tour.send("missing_credentials", 401, create.clone().anonymous()).await;
    tour.send("invalid_credentials", 401, create.header("X-Api-Secret", "sk_wrong")).await;

    let status = tour.op(D, "get", "/api/v1/payment/status/{invoice_id}");
    tour.send("pending", 200, status.clone().with("invoice_id", "INV-1001")).await;
    tour.send("payment_not_found", 404, status.clone().with("invoice_id", "INV-404")).await;

    let txn = pay(tour, "paid_with_wallet", &created.body["data"]["checkout_url"]).await;
    let verify = tour.op(D, "post", "/api/v1/payment/verify");
    tour.send(
        "verification_failed",
        400,
        verify.clone().edit(|b| _ = b.insert("transaction_id".into(), json!("BKS0"))),
    )
    .await;
    tour.send("verified", 200, verify.clone().edit(|b| _ = b.insert("transaction_id".into(), json!(txn)))).await;
    tour.send("payment_not_found", 404, verify.edit(|b| _ = b.insert("invoice_id".into(), json!("INV-404")))).await;
    tour.send("success", 200, status.with("invoice_id", "INV-1001")).await;

    let refund = tour.op(D, "post", "/api/v1/refund/request");
    tour.send("refund_exceeds_payment", 422, refund.clone().edit(|b| _ = b.insert("amount".into(), json!(9999)))).await;
    let refunded = tour.send("requested", 200, refund.clone()).await;
    tour.send("payment_not_found", 404, refund.edit(|b| _ = b.insert("invoice_id".into(), json!("INV-404")))).await;
    let refund_status = tour.op(D, "get", "/api/v1/refund/status/{refund_id}");
    let refund_id = refunded.body["data"]["refund_id"].as_str().unwrap().to_owned();
    tour.send("pending", 200, refund_status.clone().with("refund_id", refund_id)).await;
    tour.send("refund_not_found", 404, refund_status.with("refund_id", "RF-404")).await;

    let balance = tour.op(D, "get", "/api/v1/balance");
    tour.send("balance", 200, balance.clone()).await;
    tour.send("missing_credentials", 401, balance.anonymous()).await;
    let settlements = tour.op(D, "get", "/api/v1/settlements");
    tour.send("settlements", 200, settlements.clone()).await;
    tour.send("missing_credentials", 401, settlements.anonymous()).await;
    let transactions = tour.op(D, "get", "/api/v1/transactions");
    tour.send("transactions", 200, transactions.clone()).await;
    tour.send("missing_credentials", 401, transactions.anonymous()).await;
    let ping = tour.op(D, "post", "/api/v1/webhook/test");
    tour.send("queued", 200, ping.clone()).await;
    tour.send("missing_credentials", 401, ping.anonymous()).await;
}

async fn shadhinpay(tour: &mut Tour<'_>) {
    const D: &str = "shadhinpay";
    let create = tour.op(D, "post", "/payments");
    let created = tour.send("created", 201, create.clone()).await;
    tour.send("VALIDATION_ERROR", 400, create.clone().edit(|b| _ = b.insert("amount".into(), json!(0)))).await;
    tour.send("MISSING_CLIENT_ID", 401, create.anonymous()).await;
    let id = created.body["data"]["payment_id"].as_str().unwrap().to_owned();

    let one = tour.op(D, "get", "/payments/{payment_id}");
    tour.send("initiated", 200, one.clone().with("payment_id", &id)).await;
    tour.send("PAYMENT_NOT_FOUND", 404, one.clone().with("payment_id", "SP_404")).await;
    let refund = tour.op(D, "post", "/payments/{payment_id}/refund").with("payment_id", &id);
    tour.send("payment_not_completed", 400, refund.clone()).await;
    pay(tour, "paid_with_a_return_url", &created.body["data"]["payment_url"]).await;
    tour.send("completed", 200, one.with("payment_id", &id)).await;
    tour.send("refund_requested", 200, refund.clone()).await;
    tour.send("REFUND_EXCEEDS_AMOUNT", 400, refund.edit(|b| _ = b.insert("amount".into(), json!(5000)))).await;

    let list = tour.op(D, "get", "/payments");
    tour.send("payments", 200, list.clone().query("status=COMPLETED&limit=10")).await;
    tour.send("VALIDATION_ERROR", 400, list.clone().query("from_date=yesterday")).await;
    tour.send("MISSING_CLIENT_ID", 401, list.anonymous()).await;
}

async fn starpay(tour: &mut Tour<'_>) {
    const D: &str = "starpay";
    let create = tour.op(D, "post", "/payments");
    let created = tour.send("created", 201, create.clone()).await;
    tour.send("duplicate_order_id", 409, create.clone()).await;
    let invalid = create.clone().edit(|b| {
        b.insert("order_id".into(), json!("TXN-2026-002"));
        b.insert("payer_email".into(), json!("jane@"));
    });
    tour.send("missing_fields", 400, invalid).await;
    tour.send("invalid_api_key", 401, create.anonymous()).await;
    let id = created.body["data"]["transaction_id"].as_str().unwrap().to_owned();
    let one = tour.op(D, "get", "/payments/{id}");
    tour.send("pending", 200, one.clone().with("id", &id)).await;
    tour.send("not_found", 404, one.clone().with("id", "txn_404")).await;
    pay(tour, "paid_with_a_return_url", &created.body["data"]["payment_url"]).await;
    tour.send("completed", 200, one.with("id", &id)).await;

    let list = tour.op(D, "get", "/payments");
    tour.send("payments", 200, list.clone().query("status=completed&limit=10")).await;
    tour.send("invalid_api_key", 401, list.anonymous()).await;

    let payout = tour.op(D, "post", "/payouts");
    tour.send("requested", 201, payout.clone()).await;
    let second = payout.clone().edit(|b| {
        b.insert("amount".into(), json!(500));
        b.insert("reference".into(), json!("PAYOUT-2026-002"));
    });
    tour.send("requested", 201, second).await;
    tour.send("insufficient_balance", 422, payout.clone().edit(|b| _ = b.insert("amount".into(), json!(900000)))).await;
    tour.send("invalid_api_key", 401, payout.anonymous()).await;
    let payouts = tour.op(D, "get", "/payouts");
    tour.send("payouts", 200, payouts.clone()).await;
    tour.send("invalid_api_key", 401, payouts.anonymous()).await;

    for path in ["/balance", "/profile"] {
        let call = tour.op(D, "get", path);
        tour.send(path.trim_start_matches('/'), 200, call.clone()).await;
        tour.send("invalid_api_key", 401, call.anonymous()).await;
    }
}

async fn payrequest(tour: &mut Tour<'_>) {
    const D: &str = "payrequest";
    for path in ["/api/create", "/create"] {
        let create = tour.op(D, "post", path);
        let id = format!("PR-{}", path.len());
        let create = create.edit(|b| _ = b.insert("id".into(), json!(id)));
        tour.send("success", 200, create.clone()).await;
        tour.send(
            "success_form",
            200,
            create.clone().edit(|b| _ = b.insert("id".into(), json!(format!("{id}-f")))).form(),
        )
        .await;
        tour.send("notoken", 200, create.clone().edit(|b| _ = b.remove("token"))).await;
        tour.send("invalidamount", 200, create.edit(|b| _ = b.insert("amount".into(), json!("12.5.0")))).await;
    }
    let get = tour.op(D, "post", "/api/get").edit(|b| _ = b.insert("id".into(), json!("PR-11")));
    tour.send("pending", 200, get.clone()).await;
    tour.send("notfound", 200, get.clone().edit(|b| _ = b.insert("id".into(), json!("PR-404")))).await;
    tour.send("notoken", 200, get.edit(|b| _ = b.remove("token"))).await;
}

async fn qrmoney(tour: &mut Tour<'_>) {
    const D: &str = "qrmoney";
    let create = tour.op(D, "post", "/payments/h2h/{accountId}").with("accountId", "1001");
    let approved = tour.send("approved", 200, create.clone()).await;
    let card = |number: &str, reference: &str| {
        let (number, reference) = (json!(number), json!(reference));
        create.clone().edit(|b| {
            b.insert("number".into(), number);
            b.insert("referenceId".into(), reference);
        })
    };
    tour.send("challenge_required", 200, card("4000000000000002", "ORDER-43")).await;
    tour.send("declined", 402, card("4000000000000051", "ORDER-44")).await;
    tour.send("validation_error", 400, create.clone().edit(|b| _ = b.insert("unit".into(), json!("usd")))).await;
    tour.send("invalid_token", 401, create.clone().anonymous()).await;
    let elsewhere = tour.op(D, "post", "/payments/h2h/{accountId}").with("accountId", "9999");
    tour.send("account_not_found", 404, elsewhere).await;
    let id = approved.body["id"].as_str().unwrap().to_owned();

    let status = tour.op(D, "get", "/payment-requests/status/{id}");
    tour.send("approved", 200, status.clone().with("id", &id)).await;
    tour.send("not_found", 404, status.clone().with("id", "999999")).await;
    tour.send("invalid_token", 401, status.with("id", &id).anonymous()).await;
    let refund = tour.op(D, "get", "/payments/h2h/refund/{id}");
    tour.send("refund_requested", 200, refund.clone().with("id", &id)).await;
    tour.send("not_found", 404, refund.clone().with("id", "999999")).await;
    tour.send("invalid_token", 401, refund.with("id", &id).anonymous()).await;
}

async fn sandbox(tour: &mut Tour<'_>) {
    const D: &str = "sandbox";
    let created = tour.op("rebornpay", "post", "/api/v1/payment/create");
    let created =
        tour.send("created", 200, created.edit(|b| _ = b.insert("invoice_id".into(), json!("INV-2002")))).await;
    let token = token(&created.body["data"]["checkout_url"]);
    let checkout = tour.op(D, "get", "/v1/checkout/{token}");
    tour.send("open", 200, checkout.clone().with("token", &token)).await;
    tour.send("not_found", 404, checkout.with("token", "0000")).await;
    let complete = tour.op(D, "post", "/v1/checkout/{token}/complete").with("token", &token);
    tour.send("validation_error", 400, complete.clone().edit(|b| _ = b.insert("outcome".into(), json!("maybe")))).await;
    tour.send("paid_with_card", 200, complete.clone()).await;
    tour.send("payment_already_completed", 409, complete).await;
    tour.send("clock", 200, tour.op(D, "get", "/v1/clock")).await;
    let advance = tour.op(D, "post", "/v1/clock/advance");
    tour.send("advanced", 200, advance.clone().body(json!({ "seconds": 1 }))).await;
    tour.send("validation_error", 400, advance.body(json!({ "seconds": -1 }))).await;
}

async fn admin(tour: &mut Tour<'_>) {
    const D: &str = "admin";
    let merchants = tour.op(D, "get", "/v1/merchants");
    tour.send("merchants", 200, merchants.clone()).await;
    tour.send("invalid_credentials", 401, merchants.anonymous()).await;
    let create = tour.op(D, "post", "/v1/merchants");
    let created = tour.send("created", 201, create.clone()).await;
    tour.send("name_taken", 400, create.clone()).await;
    tour.send("validation_error", 400, create.body(json!({ "name": "" }))).await;
    let id = created.body["id"].clone();

    let one = tour.op(D, "get", "/v1/merchants/{id}");
    tour.send("merchant", 200, one.clone().with("id", 1)).await;
    tour.send("not_found", 404, one.with("id", 999)).await;
    let patch = tour.op(D, "patch", "/v1/merchants/{id}");
    tour.send("updated", 200, patch.clone().with("id", &id)).await;
    tour.send("validation_error", 400, patch.with("id", &id).body(json!({ "webhook_url": "ftp://x" }))).await;
    for action in ["/v1/merchants/{id}/approve", "/v1/merchants/{id}/suspend"] {
        let call = tour.op(D, "post", action);
        tour.send("merchant", 200, call.clone().with("id", &id)).await;
        tour.send("not_found", 404, call.with("id", 999)).await;
    }

    let issue = tour.op(D, "post", "/v1/merchants/{id}/credentials").with("id", &id);
    let issued = tour.send("issued", 201, issue.clone()).await;
    tour.send("validation_error", 400, issue.body(json!({ "dialect": "stripe" }))).await;
    let credential = issued.body["id"].clone();
    let list = tour.op(D, "get", "/v1/merchants/{id}/credentials");
    tour.send("credentials", 200, list.clone().with("id", &id)).await;
    tour.send("not_found", 404, list.with("id", 999)).await;
    let rotate = tour.op(D, "post", "/v1/credentials/{id}/rotate");
    tour.send("rotated", 200, rotate.clone().with("id", &credential)).await;
    tour.send("not_found", 404, rotate.with("id", 999)).await;
    let change = tour.op(D, "patch", "/v1/credentials/{id}").body(json!({ "label": "Reporting bot v2" }));
    tour.send("updated", 200, change.clone().with("id", &credential)).await;
    tour.send("not_found", 404, change.with("id", 999)).await;
    for action in ["/v1/credentials/{id}/suspend", "/v1/credentials/{id}/reinstate"] {
        let call = tour.op(D, "post", action);
        tour.send("credential", 200, call.clone().with("id", &credential)).await;
        tour.send("not_found", 404, call.with("id", 999)).await;
    }

    // The refunds and payouts the dialects' tours asked for wait in the queues.
    let refunds = tour.op(D, "get", "/v1/refunds");
    let pending = tour.send("pending", 200, refunds.clone().query("status=pending")).await;
    let queued: Vec<Value> = pending.body.as_array().unwrap().iter().map(|r| r["id"].clone()).collect();
    tour.send("validation_error", 400, refunds.query("status=maybe")).await;
    let approve = tour.op(D, "post", "/v1/refunds/{id}/approve");
    tour.send("approved", 200, approve.clone().with("id", &queued[0])).await;
    tour.send("already_decided", 409, approve.clone().with("id", &queued[0])).await;
    tour.send("not_found", 404, approve.with("id", 999)).await;
    let reject = tour.op(D, "post", "/v1/refunds/{id}/reject");
    tour.send("rejected", 200, reject.clone().with("id", &queued[1])).await;
    tour.send("not_found", 404, reject.with("id", 999)).await;

    let payouts = tour.op(D, "get", "/v1/payouts");
    let pending = tour.send("pending", 200, payouts.clone().query("status=pending")).await;
    let queued: Vec<Value> = pending.body.as_array().unwrap().iter().map(|p| p["id"].clone()).collect();
    let payout = queued[0].clone();
    tour.send("validation_error", 400, payouts.query("status=maybe")).await;
    let approve = tour.op(D, "post", "/v1/payouts/{id}/approve");
    tour.send("approved", 200, approve.clone().with("id", &payout)).await;
    tour.send("already_decided", 409, approve.with("id", &payout)).await;
    let reject = tour.op(D, "post", "/v1/payouts/{id}/reject");
    tour.send("rejected", 200, reject.clone().with("id", &queued[1])).await;
    tour.send("already_decided", 409, reject.clone().with("id", &payout)).await;
    tour.send("not_found", 404, reject.with("id", 999)).await;

    let balance = tour.op(D, "get", "/v1/merchants/{id}/balance");
    tour.send("balances", 200, balance.clone().with("id", 1)).await;
    tour.send("not_found", 404, balance.with("id", 999)).await;
    let settle = tour.op(D, "post", "/v1/merchants/{id}/settlements").with("id", 1);
    let later = settle.clone().edit(|b| _ = b.insert("pay_now".into(), json!(false)));
    let settlement = tour.send("processing", 201, later).await.body["id"].clone();
    tour.send("insufficient_balance", 422, settle).await;
    let settlements = tour.op(D, "get", "/v1/merchants/{id}/settlements");
    tour.send("settlements", 200, settlements.clone().with("id", 1)).await;
    tour.send("not_found", 404, settlements.with("id", 999)).await;
    let pay = tour.op(D, "post", "/v1/settlements/{id}/pay");
    tour.send("paid", 200, pay.clone().with("id", &settlement)).await;
    tour.send("already_decided", 409, pay.clone().with("id", &settlement)).await;
    tour.send("not_found", 404, pay.with("id", 999)).await;

    let events = tour.op(D, "get", "/v1/events");
    tour.send("events", 200, events.clone().query("merchant_id=1&limit=3")).await;
    tour.send("validation_error", 400, events.query("limit=-1")).await;
    all_delivered(tour.app, &tour.hooks.url).await;
    let deliveries = tour.op(D, "get", "/v1/webhooks/deliveries");
    let listed = tour.send("delivered", 200, deliveries.clone().query("status=delivered&limit=3")).await;
    tour.send("validation_error", 400, deliveries.query("status=maybe")).await;
    let delivery = listed.body.as_array().unwrap()[0]["id"].clone();
    let one = tour.op(D, "get", "/v1/webhooks/deliveries/{id}");
    tour.send("delivery", 200, one.clone().with("id", &delivery)).await;
    tour.send("not_found", 404, one.with("id", 999999)).await;
    let replay = tour.op(D, "post", "/v1/webhooks/deliveries/{id}/replay");
    tour.send("replayed", 201, replay.clone().with("id", &delivery)).await;
    tour.send("not_found", 404, replay.with("id", 999999)).await;
    let ledger = tour.op(D, "get", "/v1/ledger/check");
    tour.send("balanced", 200, ledger.clone()).await;
    tour.send("invalid_credentials", 401, ledger.anonymous()).await;
}

/// The tour: every operation of every spec, its success and main errors, checked against
/// the committed examples (or recording them, with `PAYBRIDGE_RECORD_EXAMPLES=1`).
async fn every_answer_is_a_documented_example(backend: Backend) {
    let hooks = Hooks::start(0).await;
    let app = spawn_app_with(backend.clone(), |c| c.merchants[0].webhook_url = Some(hooks.url.clone())).await;
    let mut tour = Tour::new(&app, &hooks);
    rebornpay(&mut tour).await;
    shadhinpay(&mut tour).await;
    starpay(&mut tour).await;
    payrequest(&mut tour).await;
    qrmoney(&mut tour).await;
    sandbox(&mut tour).await;
    admin(&mut tour).await;
    let record = std::env::var_os("PAYBRIDGE_RECORD_EXAMPLES").is_some();
    if record && matches!(backend, Backend::Sqlite) {
        tour.write();
    } else if !record {
        tour.check();
    }
}

crate::db_test!(every_answer_is_a_documented_example);

/// Every operation of every spec documents a success and at least one refusal, each an
/// answer from the tour above. (PayRequest refuses with `200` and `"status": "error"`.)
#[test]
fn every_operation_has_success_and_error_examples() {
    // Reading the sandbox's clock has no refusal to give: it needs no credentials, takes
    // no input, and answers `"controllable": false` where the test clock is off.
    let infallible = ["sandbox get /v1/clock"];
    let refusal = |v: &Value| v["status"] == "error" || v["success"] == false;
    let mut missing = Vec::new();
    for doc in all_docs() {
        for (path, ops) in doc.spec["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                let examples: Vec<(&String, &Value)> = op["responses"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .flat_map(|(status, r)| {
                        let media = r["content"].as_object().into_iter().flat_map(|c| c.values());
                        media
                            .flat_map(|m| m["examples"].as_object().into_iter().flat_map(|e| e.values()))
                            .map(move |e| (status, &e["value"]))
                    })
                    .collect();
                if !examples.iter().any(|(s, v)| s.starts_with('2') && !refusal(v)) {
                    missing.push(format!("{} {method} {path}: no success example", doc.name));
                }
                let fallible = !infallible.contains(&format!("{} {method} {path}", doc.name).as_str());
                if fallible && !examples.iter().any(|(s, v)| s.starts_with('4') || refusal(v)) {
                    missing.push(format!("{} {method} {path}: no error example", doc.name));
                }
            }
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}
