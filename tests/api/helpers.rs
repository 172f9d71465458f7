//! The test harness: a paybridge spawned on port 0 with its own database (a temporary
//! SQLite file, or a fresh schema in the Postgres named by
//! `PAYBRIDGE_TEST_POSTGRES_URL`), and typed helpers per endpoint.

use std::time::Duration;

use paybridge::config::{Config, MerchantFixture, RebornpayFixture, demo_merchant};
use paybridge::startup::Application;
use reqwest::{Client, Method, RequestBuilder, Response};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// Which database a test runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    /// A temporary SQLite file.
    Sqlite,
    /// A fresh schema in this Postgres database.
    Postgres(String),
}

impl Backend {
    /// The Postgres backend of `PAYBRIDGE_TEST_POSTGRES_URL`. The Postgres half of a
    /// `db_test!` runs only in a build that saw the variable (`build.rs`); without it,
    /// it is reported as ignored, never as passed.
    pub fn postgres_or_panic() -> Backend {
        match std::env::var("PAYBRIDGE_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => Backend::Postgres(url),
            _ => panic!("built with PAYBRIDGE_TEST_POSTGRES_URL set, run without it: set it again or rebuild"),
        }
    }
}

/// Runs each named `async fn(Backend)` as two tests: `<name>::sqlite` and
/// `<name>::postgres` (ignored unless the build saw `PAYBRIDGE_TEST_POSTGRES_URL`).
#[macro_export]
macro_rules! db_test {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            $crate::db_test_halves!($name);
        }
    )*};
}

/// Runs each named `async fn(Backend)` as [`db_test!`] does, and a third time as
/// `<name>::sqlite_redis`: with the rate limits counted in the Redis of
/// `PAYBRIDGE_TEST_REDIS_URL` (ignored unless the build saw it), under a key prefix of
/// the test's own — every server the test starts from [`test_config`] (and its peers)
/// shares those buckets.
#[macro_export]
macro_rules! limits_test {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            $crate::db_test_halves!($name);

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(paybridge_redis), ignore = "set PAYBRIDGE_TEST_REDIS_URL to run it")]
            async fn sqlite_redis() {
                $crate::helpers::with_redis_limits(super::$name($crate::helpers::Backend::Sqlite)).await
            }
        }
    )*};
}

/// The `sqlite` and `postgres` tests of `$name`, inside its module.
#[macro_export]
macro_rules! db_test_halves {
    ($name:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn sqlite() {
            super::$name($crate::helpers::Backend::Sqlite).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[cfg_attr(not(paybridge_postgres), ignore = "set PAYBRIDGE_TEST_POSTGRES_URL to run it")]
        async fn postgres() {
            super::$name($crate::helpers::Backend::postgres_or_panic()).await
        }
    };
}

tokio::task_local! {
    /// The Redis URL every [`test_config`] of the running test counts its rate limits
    /// in, with the test's key prefix.
    static REDIS_LIMITS: (String, String);
}

/// The Redis of `PAYBRIDGE_TEST_REDIS_URL`; a test that needs it is built only when
/// the build saw the variable (`build.rs`), so here it must be set.
pub fn redis_url_or_panic() -> String {
    match std::env::var("PAYBRIDGE_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!("built with PAYBRIDGE_TEST_REDIS_URL set, run without it: set it again or rebuild"),
    }
}

/// Runs `test` with every [`test_config`] it makes counting rate limits in Redis,
/// under a key prefix no other test uses.
pub async fn with_redis_limits<F: std::future::Future>(test: F) -> F::Output {
    REDIS_LIMITS.scope((redis_url_or_panic(), format!("pbtest_{}", uuid_like())), test).await
}

pub const ADMIN_TOKEN: &str = "test-admin-token";
pub const KEY: &str = "pk_test_demo";
pub const SECRET: &str = "sk_test_demo";
pub const OTHER_KEY: &str = "pk_test_other";
pub const OTHER_SECRET: &str = "sk_test_other";

/// The configuration every test starts from: the demo merchant without a rate limit,
/// and a second merchant, "Other Shop", for cross-merchant checks.
pub fn test_config() -> Config {
    let mut demo = demo_merchant();
    demo.rate_limit_per_minute = 0;
    let other = MerchantFixture {
        name: "Other Shop".into(),
        rebornpay: Some(RebornpayFixture {
            api_key: OTHER_KEY.into(),
            api_secret: OTHER_SECRET.into(),
            require_signature: false,
        }),
        shadhinpay: None,
        starpay_users: Vec::new(),
        payrequest: None,
        qrmoney: None,
        ..demo.clone()
    };
    let mut webhooks = paybridge::config::WebhookConfig {
        backoff_initial_ms: 200,
        backoff_max_ms: 1000,
        poll_ms: 50,
        ..Default::default()
    };
    // Test receivers listen on loopback.
    webhooks.block_private_targets = Some(false);
    let rate_limits = REDIS_LIMITS
        .try_with(|(url, prefix)| paybridge::config::RateLimitsConfig {
            store: url.clone(),
            prefix: prefix.clone(),
            ..Default::default()
        })
        .unwrap_or_default();
    Config {
        rate_limits,
        listen: "127.0.0.1:0".into(),
        webhooks,
        admin_token: ADMIN_TOKEN.into(),
        public_url: "http://127.0.0.1:0".into(),
        log_credentials: false,
        // Tests move time with the sandbox's test clock rather than sleep.
        test_clock: Some(true),
        merchants: vec![demo, other],
        ..Config::default()
    }
}

/// Everything every in-process server logged, at the most verbose level paybridge and
/// its HTTP and database layers have: for tests that check what never reaches the logs.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

static LOGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct LogSink;

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn capture_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::new("info,paybridge=trace,poem=trace,sea_orm=trace,sqlx=trace");
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(|| LogSink).with_ansi(false).try_init();
    });
}

/// A running paybridge.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The HTTP client.
    pub client: Client,
    /// Its database URL.
    pub db_url: String,
    /// The configuration it runs with.
    pub config: Config,
    /// Each dialect's own port, serving it at the root.
    pub dialect_ports: Vec<(&'static str, u16)>,
    /// The server's clock (a test clock in the test configuration): moving it here
    /// moves time and nothing else — no sweep runs, no worker wakes — where the
    /// sandbox's `clock/advance` also runs what came due.
    pub clock: paybridge::core::Clock,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
    schema: Option<(String, String)>,
}

/// Spawns paybridge with the test configuration.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Spawns paybridge with the test configuration changed by `adjust`.
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = test_config();
    let (db_url, dir, schema) = prepare_database(&backend).await;
    config.database_url = db_url.clone();
    adjust(&mut config);
    spawn_config(config, db_url, dir, schema, None).await
}

/// Spawns paybridge with the test configuration changed by `adjust`, charging through
/// `processor` instead of the sandbox.
pub async fn spawn_app_with_processor(
    backend: Backend,
    adjust: impl FnOnce(&mut Config),
    processor: std::sync::Arc<dyn paybridge::core::Processor>,
) -> TestApp {
    let mut config = test_config();
    let (db_url, dir, schema) = prepare_database(&backend).await;
    config.database_url = db_url.clone();
    adjust(&mut config);
    spawn_config(config, db_url, dir, schema, Some(processor)).await
}

async fn prepare_database(backend: &Backend) -> (String, Option<tempfile::TempDir>, Option<(String, String)>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temporary directory");
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("paybridge.db").display());
            (url, Some(dir), None)
        }
        Backend::Postgres(base) => {
            let schema = format!("t_{}", uuid_like());
            let admin = Database::connect(base.as_str()).await.expect("PAYBRIDGE_TEST_POSTGRES_URL must connect");
            admin.execute_unprepared(&format!("CREATE SCHEMA \"{schema}\"")).await.expect("create schema");
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
            (url, None, Some((base.clone(), schema)))
        }
    }
}

async fn spawn_config(
    config: Config,
    db_url: String,
    dir: Option<tempfile::TempDir>,
    schema: Option<(String, String)>,
    processor: Option<std::sync::Arc<dyn paybridge::core::Processor>>,
) -> TestApp {
    capture_logs();
    let app = match processor {
        Some(processor) => Application::build_with(config.clone(), processor).await,
        None => Application::build(config.clone()).await,
    };
    let app = app.expect("application builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let clock = app.clock();
    let dialect_ports = paybridge::adapters::DIALECTS
        .iter()
        .filter_map(|d| app.dialect_port(d.name()).map(|port| (d.name(), port)))
        .collect();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = app
            .run_until_stopped(async {
                let _ = rx.await;
            })
            .await;
    });
    let client = Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
    let shutdown = Some(tx);
    TestApp { base, client, db_url, config, dialect_ports, clock, shutdown, server: Some(server), _dir: dir, schema }
}

impl TestApp {
    /// `dialect`'s own port's root: `http://127.0.0.1:<port>`.
    pub fn root_url(&self, dialect: &str) -> String {
        let port = self.dialect_ports.iter().find(|(d, _)| *d == dialect).map(|(_, p)| *p);
        format!("http://127.0.0.1:{}", port.unwrap_or_else(|| panic!("{dialect} has no port of its own")))
    }

    /// Starts a second instance on the same database and configuration, as another
    /// server behind the same load balancer would be.
    pub async fn spawn_peer(&self) -> TestApp {
        spawn_config(self.config.clone(), self.db_url.clone(), None, None, None).await
    }

    /// Stops this server and starts another on the same database and configuration,
    /// as a restart would.
    pub async fn restart(mut self) -> TestApp {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        let (dir, schema) = (self._dir.take(), self.schema.take());
        spawn_config(self.config.clone(), self.db_url.clone(), dir, schema, None).await
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("{}_{}_{}", std::process::id(), nanos % 1_000_000_000, COUNTER.fetch_add(1, Ordering::Relaxed))
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
        if let Some((base, schema)) = self.schema.take() {
            // Dropping the schema needs async I/O; do it on a runtime of its own.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
                rt.block_on(async {
                    if let Ok(db) = Database::connect(base.as_str()).await {
                        let _ = db.execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await;
                    }
                });
            })
            .join();
        }
    }
}

/// The real `paybridge` binary running `config`, killed when this is dropped
/// (however the test ends); with `open_files`, under that open-file limit.
pub struct Binary(pub std::process::Child);

impl Binary {
    /// Starts it, quiet (warnings only, and not shown).
    pub fn start(config: &std::path::Path, open_files: Option<u32>) -> Binary {
        let binary = env!("CARGO_BIN_EXE_paybridge");
        let mut command = match open_files {
            None => std::process::Command::new(binary),
            Some(limit) => {
                let mut sh = std::process::Command::new("sh");
                sh.args(["-c", &format!("ulimit -n {limit} && exec \"$0\" \"$@\""), binary]);
                sh
            }
        };
        let child = command
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("paybridge starts");
        Binary(child)
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A response read as status, headers and JSON.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    async fn read(response: Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, headers, body }
    }

    /// The REBORNPAY error code.
    pub fn code(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestApp {
    /// Sends `request()` until it answers other than `ok`, and checks that a rate limit
    /// with `left` requests left, which gives one back every `refill`, let exactly
    /// those through, plus what refilled while the run went on. Returns the answer
    /// that ended it, the last `ok` one and how many were `ok`.
    pub async fn exhaust(
        &self,
        left: usize,
        refill: Duration,
        ok: u16,
        request: impl Fn() -> RequestBuilder,
    ) -> (Reply, Option<Reply>, usize) {
        let started = std::time::Instant::now();
        let (mut passed, mut last) = (0, None);
        let ended = loop {
            let reply = self.send(request()).await;
            if reply.status != ok {
                break reply;
            }
            passed += 1;
            last = Some(reply);
            assert!(passed <= left * 2, "no limit at {left}");
        };
        let refilled = (started.elapsed().as_secs_f64() / refill.as_secs_f64()).ceil() as usize;
        assert!((left..=left + refilled).contains(&passed), "{passed} let through in {:?}", started.elapsed());
        (ended, last, passed)
    }

    /// A request with no credentials.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    /// Sends and reads a request.
    pub async fn send(&self, request: RequestBuilder) -> Reply {
        Reply::read(request.send().await.expect("request is sent")).await
    }

    /// A REBORNPAY request with the demo merchant's key and secret.
    pub fn reborn(&self, method: Method, path: &str) -> RequestBuilder {
        self.reborn_as(KEY, SECRET, method, path)
    }

    /// A REBORNPAY request with the given key and secret.
    pub fn reborn_as(&self, key: &str, secret: &str, method: Method, path: &str) -> RequestBuilder {
        self.request(method, &format!("/rebornpay/api/v1{path}"))
            .header("X-Api-Key", key)
            .header("X-Api-Secret", secret)
    }

    /// `POST /payment/create` as the demo merchant.
    pub async fn create_payment(&self, body: &Value) -> Reply {
        self.send(self.reborn(Method::POST, "/payment/create").json(body)).await
    }

    /// `GET /payment/status/{invoice}` as the demo merchant.
    pub async fn payment_status(&self, invoice: &str) -> Reply {
        self.send(self.reborn(Method::GET, &format!("/payment/status/{invoice}"))).await
    }

    /// `POST /payment/verify` as the demo merchant.
    pub async fn verify(&self, invoice: &str, txn: &str) -> Reply {
        let body = json!({ "invoice_id": invoice, "transaction_id": txn, "status": "success" });
        self.send(self.reborn(Method::POST, "/payment/verify").json(&body)).await
    }

    /// `POST /refund/request` as the demo merchant.
    pub async fn request_refund(&self, invoice: &str, amount: Value) -> Reply {
        let body = json!({ "invoice_id": invoice, "amount": amount, "reason": "test" });
        self.send(self.reborn(Method::POST, "/refund/request").json(&body)).await
    }

    /// `GET /balance` as the demo merchant.
    pub async fn balance(&self) -> Value {
        let reply = self.send(self.reborn(Method::GET, "/balance")).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["data"].clone()
    }

    /// An admin request.
    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, &format!("/admin/v1{path}")).bearer_auth(ADMIN_TOKEN)
    }

    /// `POST /sandbox/v1/clock/advance`: moves the server's test clock `seconds` forward.
    pub async fn advance_clock(&self, seconds: u64) -> Reply {
        let reply = self
            .send(self.request(Method::POST, "/sandbox/v1/clock/advance").json(&json!({ "seconds": seconds })))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply
    }

    /// `POST /sandbox/v1/checkout/{token}/complete`.
    pub async fn complete(&self, checkout_url: &str, body: Value) -> Reply {
        let token = checkout_url.rsplit('/').next().expect("checkout URL has a token");
        self.send(self.request(Method::POST, &format!("/sandbox/v1/checkout/{token}/complete")).json(&body)).await
    }

    /// Creates a payment of `amount` BDT and returns its checkout URL.
    pub async fn new_payment(&self, invoice: &str, amount: Value) -> String {
        let reply = self
            .create_payment(
                &json!({ "invoice_id": invoice, "amount": amount, "currency": "BDT", "payment_method": "bkash" }),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["data"]["checkout_url"].as_str().expect("checkout_url").to_owned()
    }

    /// Creates a payment, pays it in the sandbox with a bKash wallet and returns the
    /// processor transaction id (not yet verified).
    pub async fn paid_payment(&self, invoice: &str, amount: Value) -> String {
        let url = self.new_payment(invoice, amount).await;
        let reply = self.complete(&url, json!({ "outcome": "success", "wallet": { "phone": "01711000000" } })).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["transaction_id"].as_str().expect("transaction id").to_owned()
    }

    /// Creates, pays and verifies a payment (balance credited).
    pub async fn captured_payment(&self, invoice: &str, amount: Value) {
        let txn = self.paid_payment(invoice, amount).await;
        let reply = self.verify(invoice, &txn).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }

    /// Creates a payment with `body` and returns its checkout URL.
    pub async fn checkout_url(&self, body: &Value) -> String {
        let reply = self.create_payment(body).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["data"]["checkout_url"].as_str().expect("checkout_url").to_owned()
    }

    /// `GET` of a checkout page: status and HTML.
    pub async fn checkout_page(&self, url: &str) -> (u16, String) {
        let response = self.client.get(url).send().await.expect("page");
        (response.status().as_u16(), response.text().await.expect("html"))
    }

    /// Submits the checkout form at `url` (its CSRF token read from the page) with
    /// `fields`, without following the redirect: status, `Location`, body.
    pub async fn submit_checkout(&self, url: &str, fields: &[(&str, &str)]) -> (u16, Option<String>, String) {
        let (_, html) = self.checkout_page(url).await;
        let csrf = csrf_of(&html).unwrap_or_default();
        let mut form: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        self.post_checkout(url, &form).await
    }

    /// Posts a checkout form as given (no CSRF token added).
    pub async fn post_checkout(&self, url: &str, form: &[(&str, &str)]) -> (u16, Option<String>, String) {
        let client = Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        let response = client.post(url).form(form).send().await.expect("submit");
        let status = response.status().as_u16();
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        (status, location, response.text().await.unwrap_or_default())
    }

    /// Every row of every table as text, and for SQLite the raw database and WAL files
    /// too (what a disk image would reveal).
    pub async fn database_dump(&self) -> String {
        let db = self.db().await;
        let mut dump = String::new();
        let tables = [
            "merchants",
            "credentials",
            "payments",
            "refunds",
            "settlements",
            "ledger_transactions",
            "ledger_postings",
            "outbox_events",
            "idempotency_keys",
            "used_signatures",
        ];
        match db.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                for table in tables {
                    let sql = format!("SELECT CAST(t AS TEXT) FROM {table} t");
                    for row in
                        db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.expect("dump")
                    {
                        dump.push_str(&row.try_get_by_index::<String>(0).unwrap_or_default());
                        dump.push('\n');
                    }
                }
            }
            _ => {
                let path = self.db_url.trim_start_matches("sqlite://").split('?').next().unwrap_or_default().to_owned();
                for file in [path.clone(), format!("{path}-wal")] {
                    if let Ok(bytes) = std::fs::read(&file) {
                        dump.push_str(&String::from_utf8_lossy(&bytes));
                    }
                }
            }
        }
        dump
    }

    /// How many rows each business table holds: a request refused at the edge changes
    /// none of them.
    pub async fn row_counts(&self) -> Vec<(&'static str, i64)> {
        let db = self.db().await;
        let mut counts = Vec::new();
        for table in [
            "merchants",
            "credentials",
            "payments",
            "refunds",
            "payouts",
            "ledger_postings",
            "outbox_events",
            "idempotency_keys",
        ] {
            let sql = format!("SELECT COUNT(*) AS n FROM {table}");
            let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.expect("count");
            counts.push((table, row.and_then(|r| r.try_get_by_index::<i64>(0).ok()).unwrap_or(-1)));
        }
        counts
    }

    /// A direct connection to the app's database, for invariant checks written
    /// independently of the core.
    pub async fn db(&self) -> DatabaseConnection {
        Database::connect(self.db_url.as_str()).await.expect("database connects")
    }

    /// Checks the ledger from the database itself, independently of how the core
    /// computes balances: every ledger transaction sums to zero; every captured payment
    /// has exactly one capture and no other payment has any; and every balance the API
    /// reports equals what the business tables say it must be — reserved = pending
    /// refunds, pending_settlement = processing settlements, available = captured
    /// payments − pending and succeeded refunds − settlements.
    pub async fn assert_ledger_invariants(&self) {
        let db = self.db().await;
        let rows = |sql: String| {
            let db = &db;
            async move { db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.expect("query") }
        };
        let unbalanced =
            rows("SELECT transaction_id FROM ledger_postings GROUP BY transaction_id HAVING SUM(amount) <> 0".into())
                .await;
        assert!(unbalanced.is_empty(), "{} ledger transactions do not sum to zero", unbalanced.len());
        let thin = rows(
            "SELECT t.id FROM ledger_transactions t LEFT JOIN ledger_postings p ON p.transaction_id = t.id \
             GROUP BY t.id HAVING COUNT(p.id) < 2"
                .into(),
        )
        .await;
        assert!(thin.is_empty(), "ledger transactions with fewer than two postings");
        let captures = rows(
            "SELECT p.id FROM payments p LEFT JOIN ledger_transactions t ON t.payment_id = p.id AND t.kind = 'capture' \
             GROUP BY p.id, p.captured_at \
             HAVING COUNT(t.id) <> CASE WHEN p.captured_at IS NULL THEN 0 ELSE 1 END"
                .into(),
        )
        .await;
        assert!(captures.is_empty(), "{} payments without exactly one capture per capture", captures.len());

        // `SUM(<of>) FROM <sql>`.
        let sum_of = |of: &'static str, sql: String| {
            let rows = &rows;
            async move {
                let found = rows(format!("SELECT CAST(COALESCE(SUM({of}), 0) AS BIGINT) FROM {sql}")).await;
                found[0].try_get_by_index::<i64>(0).expect("sum")
            }
        };
        let sum = |sql: String| sum_of("amount", sql);
        let merchants = self.send(self.admin(Method::GET, "/merchants")).await;
        for merchant in merchants.body.as_array().expect("merchant list") {
            let id = merchant["id"].as_i64().expect("id");
            let balances = self.send(self.admin(Method::GET, &format!("/merchants/{id}/balance"))).await;
            for balance in balances.body.as_array().expect("balances") {
                let code = balance["currency"].as_str().expect("currency");
                let scope = format!("merchant_id = {id} AND currency = '{code}'");
                // The merchant is credited a capture net of its fee, and pays back a
                // refund net of the fee it returns.
                let captured =
                    sum_of("amount - fee", format!("payments WHERE {scope} AND captured_at IS NOT NULL")).await;
                let reserved_refunds = sum(format!("refunds WHERE {scope} AND status = 'pending'")).await;
                let pending_refunds =
                    sum_of("amount - fee", format!("refunds WHERE {scope} AND status = 'pending'")).await;
                let paid_refunds =
                    sum_of("amount - fee", format!("refunds WHERE {scope} AND status = 'succeeded'")).await;
                let fees = sum_of("fee", format!("payments WHERE {scope} AND captured_at IS NOT NULL")).await;
                let fees_returned =
                    sum_of("fee", format!("refunds WHERE {scope} AND status IN ('pending', 'succeeded')")).await;
                let fee_revenue = sum(format!("ledger_postings WHERE {scope} AND account = 'fee_revenue'")).await;
                assert_eq!(
                    fee_revenue,
                    fees - fees_returned,
                    "merchant {id} {code}: fee revenue is the captures' fees less those refunds returned"
                );
                let refund_sums = rows(format!(
                    "SELECT p.id FROM payments p JOIN refunds r ON r.payment_id = p.id AND r.status <> 'rejected' \
                     WHERE p.merchant_id = {id} GROUP BY p.id, p.fee, p.amount HAVING SUM(r.fee) > p.fee OR \
                     (SUM(r.amount) = p.amount AND SUM(r.fee) <> p.fee)"
                ))
                .await;
                assert!(refund_sums.is_empty(), "refunds return at most the fee, and a full refund all of it");
                let settling = sum(format!("settlements WHERE {scope} AND status = 'processing'")).await;
                let settled = sum(format!("settlements WHERE {scope}")).await;
                let pending_payouts = sum(format!("payouts WHERE {scope} AND status = 'pending'")).await;
                let paid_payouts = sum(format!("payouts WHERE {scope} AND status = 'processed'")).await;
                let expected = [
                    ("available", captured - pending_refunds - paid_refunds - settled - pending_payouts - paid_payouts),
                    ("reserved", reserved_refunds + pending_payouts),
                    ("pending_settlement", settling),
                ];
                let exponent = paybridge::core::Currency::parse(code).expect("known currency").exponent();
                for (account, minor) in expected {
                    let reported: rust_decimal::Decimal =
                        balance[account].as_str().expect("amount").parse().expect("decimal");
                    assert_eq!(
                        reported * rust_decimal::Decimal::from(10i64.pow(u32::from(exponent))),
                        rust_decimal::Decimal::from(minor),
                        "merchant {id} {account} {code}: the API says {reported}, the business tables {minor} minor units"
                    );
                }
                assert!(minor_of(balance, "available", exponent) >= 0, "merchant {id} available went negative");
            }
        }
    }
}

fn minor_of(balance: &Value, account: &str, exponent: u8) -> i64 {
    let reported: rust_decimal::Decimal = balance[account].as_str().expect("amount").parse().expect("decimal");
    i64::try_from(reported * rust_decimal::Decimal::from(10i64.pow(u32::from(exponent)))).expect("fits")
}

/// How many of the newest migrations `Migrator::down` reverts to undo the migration
/// `name` and every later one: tests that rebuild an older release's database count
/// from the migration they are about, whatever was added after it.
pub fn migrations_since(name: &str) -> u32 {
    use migration::MigratorTrait;
    let names: Vec<String> = migration::Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();
    let at = names.iter().position(|n| n == name).unwrap_or_else(|| panic!("no migration {name}: {names:?}"));
    u32::try_from(names.len() - at).expect("a few migrations")
}

/// The CSRF token of the first form on a page (the checkout's, the dashboard's).
pub fn csrf_of(html: &str) -> Option<String> {
    html.split("name=\"csrf\" value=\"").nth(1).and_then(|rest| rest.split('"').next()).map(str::to_owned)
}
