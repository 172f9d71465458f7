//! Configuration: built-in defaults < `paybridge.toml` (or `--config FILE`) <
//! `PAYBRIDGE_*` environment variables (`__` separates sections).
//!
//! A configuration may declare fixture merchants and their dialect credentials (the
//! format in ARCHITECTURE.md, which QA scripts rely on). The built-in default declares
//! one demo merchant with credentials for every dialect.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::adapters::starpay::roles::Role;
use crate::core::{
    CredentialSeed, Currency, DialectSettings, MerchantSeed, MerchantStatus, PayrequestSettings, QrmoneySettings,
    ShadhinpaySettings,
};

pub use crate::core::Secret;

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// `sqlite://FILE?mode=rwc` or `postgres://…`.
    pub database_url: String,
    /// Bearer token of the admin API.
    pub admin_token: Secret,
    /// Key of the hosted checkout's CSRF tokens; instances behind one load balancer
    /// need the same. Derived from `admin_token` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_secret: Option<Secret>,
    /// Base of checkout links and of the URLs printed at start-up.
    pub public_url: String,
    /// Proxies (IPs or CIDR ranges) whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
    /// How long a payment can be paid, in seconds.
    pub payment_ttl_secs: u64,
    /// How often unpaid payments past their expiry are expired, in seconds.
    pub expiry_sweep_secs: u64,
    /// How long the processor may take to answer a charge, in milliseconds, before the
    /// charge is recorded as declined (`bank_error`, QR Money 001).
    pub processor_timeout_ms: u64,
    /// How long authenticated credentials are cached, in milliseconds.
    pub auth_cache_ttl_ms: u64,
    /// Database connections for reads.
    pub db_max_connections: u32,
    /// When a SQLite commit is acknowledged: `full` (the default) once it is fsynced,
    /// so an acknowledged payment survives a power loss; `normal` once it is written,
    /// which a power loss or OS crash may undo (faster; for tests and demos only).
    /// Postgres keeps its server's `synchronous_commit`.
    pub sqlite_synchronous: crate::core::SqliteSynchronous,
    /// Print the fixture merchants' credentials at start-up (for demos and QA).
    pub log_credentials: bool,
    /// Let the sandbox API move the core's clock forward (`POST /sandbox/v1/clock/advance`),
    /// so expiry, webhook retries, idempotency retention, rate-limit windows and daily
    /// limits act at once. When unset: on for the built-in demo configuration only —
    /// never leave it on in production.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_clock: Option<bool>,
    /// Fixture merchants, created at start-up when missing.
    pub merchants: Vec<MerchantFixture>,
    /// Webhook delivery.
    pub webhooks: WebhookConfig,
    /// `[dialects.<name>]`: where each dialect is served at a root, besides under
    /// `/<name>` on the main listener.
    #[serde(default)]
    pub dialects: BTreeMap<String, DialectMounts>,
    /// `[http]`: the limits of every listener.
    #[serde(default)]
    pub http: HttpLimits,
    /// `[rate_limits]`: where the rate-limit buckets are counted.
    #[serde(default)]
    pub rate_limits: RateLimitsConfig,
    /// `[dashboard]`: the operators' dashboard at `/dashboard`.
    #[serde(default)]
    pub dashboard: DashboardConfig,
    /// Whether this configuration is the built-in one alone (no file, no environment).
    #[serde(skip)]
    pub built_in: bool,
}

/// `[webhooks]`: how notifications are delivered.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Deliver at all (off: events stay in the outbox).
    pub enabled: bool,
    /// Per-attempt timeout, in milliseconds.
    pub timeout_ms: u64,
    /// First retry delay, doubled on every failure (with ±20 % jitter).
    pub backoff_initial_ms: u64,
    /// Longest retry delay.
    pub backoff_max_ms: u64,
    /// How long after its creation a delivery is retried before it is marked dead.
    pub retry_window_secs: u64,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// How often the queue is looked at when nothing wakes the worker, in milliseconds.
    pub poll_ms: u64,
    /// Refuse receivers on loopback, private, link-local and other non-public
    /// addresses (checked after DNS resolution) — a guard against SSRF. When unset: on,
    /// except for the built-in demo configuration, whose receiver is on loopback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_private_targets: Option<bool>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            enabled: true,
            timeout_ms: 10_000,
            backoff_initial_ms: 5_000,
            backoff_max_ms: 3_600_000,
            retry_window_secs: 24 * 3600,
            concurrency: 64,
            poll_ms: 250,
            block_private_targets: None,
        }
    }
}

/// `[http]`: how much a client may send and how long it may take, on every listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpLimits {
    /// Largest request body, in bytes; a larger one is answered 413 in the API's own
    /// error shape (counted while it is read, chunked bodies too).
    pub max_body_bytes: usize,
    /// Largest request head (request line and headers), in bytes, at least 8192; a
    /// larger one is answered 431.
    pub max_header_bytes: usize,
    /// From a request's first byte to the end of its headers, in milliseconds; then
    /// the connection is closed.
    pub header_read_timeout_ms: u64,
    /// How long reading a request body may take, in milliseconds; then 408 in the
    /// API's own error shape.
    pub body_read_timeout_ms: u64,
    /// What all the request bodies held at once may add up to, across the process, in
    /// bytes; past it a body waits for room (within its read timeout) instead of
    /// growing memory.
    pub max_buffered_body_bytes: usize,
    /// How long a connection may stay open with no request in flight (a keep-alive one
    /// between requests, or a new one that sends nothing), in seconds.
    pub idle_timeout_secs: u64,
    /// Connections open at once across all listeners; lowered to what the open-file
    /// limit allows. At the cap the longest-quiet connection is closed for a new one;
    /// when all are busy, the new one gets 503.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_body_bytes: 1024 * 1024,
            max_header_bytes: 16 * 1024,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 30_000,
            max_buffered_body_bytes: 256 * 1024 * 1024,
            idle_timeout_secs: 60,
            max_connections: 10_000,
        }
    }
}

impl HttpLimits {
    /// The listeners' share of these limits.
    pub fn edge(&self) -> crate::http::server::EdgeLimits {
        crate::http::server::EdgeLimits {
            max_header_bytes: self.max_header_bytes,
            header_read_timeout: std::time::Duration::from_millis(self.header_read_timeout_ms),
            idle_timeout: std::time::Duration::from_secs(self.idle_timeout_secs),
            max_connections: self.max_connections,
        }
    }

    /// The body readers' share.
    pub fn body(&self) -> crate::http::body::BodyLimits {
        crate::http::body::BodyLimits::new(
            self.max_body_bytes,
            std::time::Duration::from_millis(self.body_read_timeout_ms),
            self.max_buffered_body_bytes,
        )
    }
}

/// `[dashboard]`: the operators' dashboard at `/dashboard` (sign in with the admin token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardConfig {
    /// How long a sign-in lasts, in seconds (default 8 hours): the session cookie's
    /// `Max-Age`, and when the server forgets it.
    pub session_ttl_secs: u64,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        DashboardConfig { session_ttl_secs: 8 * 3600 }
    }
}

/// `[rate_limits]`: where requests are counted against the merchants' and dialects' rate
/// limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitsConfig {
    /// `"memory"` (the default: this instance counts alone, right for one instance) or
    /// a Redis URL (`"redis://127.0.0.1:6379"`, `rediss://` for TLS), which every
    /// instance behind one load balancer names, so a limit holds across all of them.
    pub store: String,
    /// How long a request waits for Redis, in milliseconds. A store that does not
    /// answer in time (or at all) is not a refusal: the request is counted in this
    /// instance's own memory instead, with a warning in the log and
    /// `paybridge_rate_limit_store_fallbacks_total` counting it, until Redis answers
    /// again (asked again at most once a second).
    pub timeout_ms: u64,
    /// Prefix of every Redis key, for deployments (or test runs) that share one Redis.
    pub prefix: String,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        RateLimitsConfig { store: "memory".to_owned(), timeout_ms: 100, prefix: "paybridge".to_owned() }
    }
}

impl RateLimitsConfig {
    /// The core's setting.
    pub fn store(&self) -> crate::core::RateLimitStore {
        if self.store == "memory" {
            return crate::core::RateLimitStore::Memory;
        }
        crate::core::RateLimitStore::Redis {
            url: self.store.clone(),
            prefix: self.prefix.clone(),
            timeout: std::time::Duration::from_millis(self.timeout_ms),
        }
    }
}

/// `[dialects.<name>]`: a dialect served at the root of its own port and of the hosts
/// named here, for clients that resolve absolute paths against their base URL (which
/// loses its path, as .NET's `new Uri(base, "/x")` and Python's `urljoin` do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialectMounts {
    /// `ADDR:PORT` of the dialect's own listener, or `off` for none. Unset: its
    /// built-in port (8081–8085; a free one when `listen` asks for port 0) on the main
    /// listener's interface, skipped with a warning when taken. A port set here that is
    /// taken stops start-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Host names (without port) whose requests to the main listener are served this
    /// dialect at `/`, compared without case and port; for deployments behind a
    /// reverse proxy or DNS, which must pass the `Host` header on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// Base of the links the dialect's own listener hands out (checkout pages, payment
    /// links). Default: `public_url` with that listener's port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}

/// Where a dialect's own listener binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnListener {
    /// None (`listen = "off"`).
    Off,
    /// The built-in port: a taken one is skipped with a warning.
    Default(SocketAddr),
    /// Set in the configuration: a taken one stops start-up.
    Explicit(SocketAddr),
}

/// A merchant declared in the configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantFixture {
    /// Unique name.
    pub name: String,
    /// `pending`, `approved` or `suspended`.
    #[serde(default = "approved")]
    pub status: MerchantStatus,
    /// Where webhooks go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// Allowed client IPs or CIDR ranges; empty = any.
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
    /// Requests per minute; 0 = unlimited.
    #[serde(default = "default_rate_limit")]
    pub rate_limit_per_minute: u32,
    /// Currency for dialects whose requests name none.
    #[serde(default = "default_currency")]
    pub default_currency: String,
    /// REBORNPAY credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebornpay: Option<RebornpayFixture>,
    /// ShadhinPay credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadhinpay: Option<ShadhinpayFixture>,
    /// StarPay users.
    #[serde(default)]
    pub starpay_users: Vec<StarpayUserFixture>,
    /// PayRequest token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payrequest: Option<PayrequestFixture>,
    /// QR Money credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qrmoney: Option<QrmoneyFixture>,
}

fn approved() -> MerchantStatus {
    MerchantStatus::Approved
}

fn default_rate_limit() -> u32 {
    120
}

fn default_currency() -> String {
    "BDT".to_owned()
}

/// `rebornpay = { api_key, api_secret, require_signature }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RebornpayFixture {
    /// `X-Api-Key`.
    pub api_key: String,
    /// `X-Api-Secret`.
    pub api_secret: String,
    /// Whether requests must be signed.
    #[serde(default)]
    pub require_signature: bool,
}

/// `shadhinpay = { client_id, business_id, secret_key }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShadhinpayFixture {
    /// `Client-Id`.
    pub client_id: String,
    /// `Business-Id`.
    pub business_id: String,
    /// `Secret-Key`.
    pub secret_key: String,
}

/// `starpay_users = [ { api_key, role, name } ]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StarpayUserFixture {
    /// `X-API-KEY`.
    pub api_key: String,
    /// super_admin, admin, merchant, partner or api_user.
    pub role: String,
    /// The user's name.
    #[serde(default)]
    pub name: String,
}

/// `payrequest = { token }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayrequestFixture {
    /// The token sent in the body.
    pub token: String,
    /// The payment service provider the account is connected to: `sandbox` (the
    /// default), `none` (answers `nointegration`) or another name (answers
    /// `pspnotsupported`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psp: Option<String>,
}

/// `qrmoney = { api_key, account_id, merchant_id, settings = { fee_percent, max_amount, … } }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QrmoneyFixture {
    /// `X-API-Key`.
    pub api_key: String,
    /// The account id in `/payments/h2h/{accountId}`.
    pub account_id: String,
    /// The merchant id QR Money reports.
    pub merchant_id: String,
    /// Fees and limits: the account's policy (`core::policy`).
    #[serde(default)]
    pub settings: Option<serde_json::Value>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".to_owned(),
            database_url: "sqlite://paybridge.db?mode=rwc".to_owned(),
            admin_token: "change-me".into(),
            checkout_secret: None,
            public_url: "http://127.0.0.1:8080".to_owned(),
            trusted_proxies: Vec::new(),
            payment_ttl_secs: 15 * 60,
            expiry_sweep_secs: 15,
            processor_timeout_ms: 10_000,
            auth_cache_ttl_ms: 2000,
            db_max_connections: 8,
            sqlite_synchronous: crate::core::SqliteSynchronous::Full,
            log_credentials: true,
            test_clock: None,
            merchants: vec![demo_merchant()],
            webhooks: WebhookConfig::default(),
            dialects: BTreeMap::new(),
            http: HttpLimits::default(),
            rate_limits: RateLimitsConfig::default(),
            dashboard: DashboardConfig::default(),
            built_in: true,
        }
    }
}

/// The demo merchant of the built-in configuration.
pub fn demo_merchant() -> MerchantFixture {
    MerchantFixture {
        name: "Demo Shop".to_owned(),
        status: MerchantStatus::Approved,
        webhook_url: Some("http://127.0.0.1:9000/hooks".to_owned()),
        ip_allowlist: Vec::new(),
        rate_limit_per_minute: 120,
        default_currency: "BDT".to_owned(),
        rebornpay: Some(RebornpayFixture {
            api_key: "pk_test_demo".to_owned(),
            api_secret: "sk_test_demo".to_owned(),
            require_signature: false,
        }),
        shadhinpay: Some(ShadhinpayFixture {
            client_id: "demo_client_id".to_owned(),
            business_id: "demo_business_id".to_owned(),
            secret_key: "demo_secret_key".to_owned(),
        }),
        starpay_users: Role::ALL
            .iter()
            .map(|role| role.name())
            .map(|role| StarpayUserFixture {
                api_key: format!("sp_test_{role}"),
                role: role.to_owned(),
                name: format!("Demo {role}"),
            })
            .collect(),
        payrequest: Some(PayrequestFixture { token: "pr_test_demo".to_owned(), psp: None }),
        qrmoney: Some(QrmoneyFixture {
            api_key: "qr_test_demo".to_owned(),
            account_id: "1001".to_owned(),
            merchant_id: "demo-merchant".to_owned(),
            settings: None,
        }),
    }
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Unreadable, or a key has the wrong type or name.
    #[error("invalid configuration: {0}")]
    Load(Box<figment::Error>),
    /// A value is of the right type but not usable.
    #[error("invalid configuration: `{key}` {problem}")]
    Invalid {
        /// The key, e.g. `merchants[0].default_currency`.
        key: String,
        /// What is wrong.
        problem: String,
    },
}

impl From<Box<figment::Error>> for ConfigError {
    fn from(err: Box<figment::Error>) -> Self {
        ConfigError::Load(err)
    }
}

/// Top-level keys that `PAYBRIDGE_*` variables may set (others, such as the test
/// suite's `PAYBRIDGE_TEST_POSTGRES_URL`, are not configuration).
const ENV_KEYS: &[&str] = &[
    "listen",
    "database_url",
    "admin_token",
    "checkout_secret",
    "public_url",
    "trusted_proxies",
    "payment_ttl_secs",
    "expiry_sweep_secs",
    "processor_timeout_ms",
    "auth_cache_ttl_ms",
    "db_max_connections",
    "log_credentials",
    "webhooks",
    "dialects",
    "http",
    "rate_limits",
    "dashboard",
];

impl Config {
    /// Loads defaults, then `file` (or `paybridge.toml` when it exists), then the
    /// environment, and validates the result.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                if !path.exists() {
                    return Err(ConfigError::Invalid {
                        key: "--config".into(),
                        problem: format!("file {} does not exist", path.display()),
                    });
                }
                figment = figment.merge(Toml::file(path));
            }
            None => figment = figment.merge(Toml::file("paybridge.toml")),
        }
        let from_env = std::env::vars().any(|(k, _)| {
            k.strip_prefix("PAYBRIDGE_").is_some_and(|rest| {
                let top = rest.split("__").next().unwrap_or_default().to_ascii_lowercase();
                ENV_KEYS.contains(&top.as_str())
            })
        });
        let env = Env::prefixed("PAYBRIDGE_").split("__").filter(|key| {
            let key = key.as_str().to_ascii_lowercase();
            ENV_KEYS.contains(&key.split('.').next().unwrap_or_default())
        });
        let from_file = file.is_some() || Path::new("paybridge.toml").exists();
        let mut config: Config = figment.merge(env).extract().map_err(Box::new)?;
        // Only the built-in demo alone may deliver to loopback: anything configured (a
        // file, or a variable such as a database URL, which makes a deployment) is guarded
        // unless it opts out with `webhooks.block_private_targets = false`.
        config.built_in = !from_file && !from_env;
        config.validate()?;
        Ok(config)
    }

    /// Checks the values that types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: String, problem: &str| Err(ConfigError::Invalid { key, problem: problem.to_owned() });
        if self.listen.parse::<SocketAddr>().is_err() {
            return bad("listen".into(), "must be an address such as 127.0.0.1:8080");
        }
        if !(self.database_url.starts_with("sqlite:") || self.database_url.starts_with("postgres")) {
            return bad("database_url".into(), "must start with sqlite: or postgres://");
        }
        if !url::Url::parse(&self.public_url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
            return bad("public_url".into(), "must be an absolute http(s) URL");
        }
        if self.webhooks.timeout_ms == 0 || self.webhooks.concurrency == 0 || self.webhooks.poll_ms == 0 {
            return bad("webhooks".into(), "timeout_ms, concurrency and poll_ms must be at least 1");
        }
        if self.webhooks.backoff_initial_ms == 0 || self.webhooks.backoff_max_ms < self.webhooks.backoff_initial_ms {
            return bad(
                "webhooks.backoff_max_ms".into(),
                "must be at least backoff_initial_ms, which must be positive",
            );
        }
        if self.processor_timeout_ms == 0 {
            return bad("processor_timeout_ms".into(), "must be at least 1");
        }
        if self.expiry_sweep_secs == 0 {
            return bad("expiry_sweep_secs".into(), "must be at least 1");
        }
        if self.admin_token.expose().len() < 8 {
            return bad("admin_token".into(), "must be at least 8 characters");
        }
        for (i, proxy) in self.trusted_proxies.iter().enumerate() {
            if crate::core::parse_allowlist_entry(proxy).is_none() {
                return bad(format!("trusted_proxies[{i}]"), "must be an IP address or CIDR range");
            }
        }
        self.validate_dialects()?;
        let http = &self.http;
        if http.max_body_bytes < 1024 {
            return bad("http.max_body_bytes".into(), "must be at least 1024");
        }
        if http.max_buffered_body_bytes < http.max_body_bytes {
            return bad("http.max_buffered_body_bytes".into(), "must be at least max_body_bytes");
        }
        if http.max_header_bytes < 8192 {
            return bad("http.max_header_bytes".into(), "must be at least 8192");
        }
        if http.header_read_timeout_ms == 0 || http.body_read_timeout_ms == 0 || http.idle_timeout_secs == 0 {
            return bad(
                "http".into(),
                "header_read_timeout_ms, body_read_timeout_ms and idle_timeout_secs must be at least 1",
            );
        }
        if http.max_connections == 0 {
            return bad("http.max_connections".into(), "must be at least 1");
        }
        if !(1..=30 * 86_400).contains(&self.dashboard.session_ttl_secs) {
            return bad("dashboard.session_ttl_secs".into(), "must be between 1 and 2592000 (30 days)");
        }
        let limits = &self.rate_limits;
        if limits.store != "memory" && !crate::core::RateLimitStore::valid_redis_url(&limits.store) {
            return bad("rate_limits.store".into(), "must be \"memory\" or a redis:// or rediss:// URL");
        }
        if limits.timeout_ms == 0 {
            return bad("rate_limits.timeout_ms".into(), "must be at least 1");
        }
        if limits.prefix.is_empty() || limits.prefix.contains(char::is_whitespace) {
            return bad("rate_limits.prefix".into(), "must be a word without spaces");
        }
        for (i, m) in self.merchants.iter().enumerate() {
            let key = |field: &str| format!("merchants[{i}].{field}");
            if m.name.trim().is_empty() {
                return bad(key("name"), "must not be empty");
            }
            if Currency::parse(&m.default_currency).is_none() {
                return bad(key("default_currency"), "must be a supported currency code");
            }
            if let Some(url) = &m.webhook_url {
                // The one URL rule every API holds a webhook URL to.
                let mut issues = Vec::new();
                crate::core::check_url("webhook_url", url, &mut issues);
                if let Some(issue) = issues.first() {
                    return bad(key("webhook_url"), &issue.message);
                }
            }
            for (j, entry) in m.ip_allowlist.iter().enumerate() {
                if crate::core::parse_allowlist_entry(entry).is_none() {
                    return bad(key(&format!("ip_allowlist[{j}]")), "must be an IP address or CIDR range");
                }
            }
            if let Some(q) = &m.qrmoney {
                if q.api_key.trim().is_empty() {
                    return bad(key("qrmoney.api_key"), "must not be empty");
                }
                if let Err(err) = q.policy() {
                    return bad(key("qrmoney"), &issues(&err));
                }
            }
            // Each dialect's settings, by the rules an admin's are held to.
            for cred in m.to_seed().credentials {
                if let Err(err) = cred.settings.check() {
                    return bad(key(cred.dialect().as_str()), &issues(&err));
                }
            }
            for (j, user) in m.starpay_users.iter().enumerate() {
                if Role::parse(&user.role).is_none() {
                    let names = Role::ALL.map(Role::name).join(", ");
                    return bad(key(&format!("starpay_users[{j}].role")), &format!("must be one of {names}"));
                }
            }
        }
        Ok(())
    }

    fn validate_dialects(&self) -> Result<(), ConfigError> {
        let bad = |key: String, problem: String| Err(ConfigError::Invalid { key, problem });
        let mut hosts: BTreeMap<String, &str> = BTreeMap::new();
        for (name, mounts) in &self.dialects {
            let key = |field: &str| format!("dialects.{name}.{field}");
            if crate::adapters::DialectEntry::named(name).is_none() {
                let known: Vec<_> = crate::adapters::DIALECTS.iter().map(|d| d.name()).collect();
                return bad(format!("dialects.{name}"), format!("is not a dialect (one of {})", known.join(", ")));
            }
            if let Some(listen) = &mounts.listen
                && listen != "off"
                && listen.parse::<SocketAddr>().is_err()
            {
                return bad(key("listen"), "must be an address such as 127.0.0.1:8085, or off".into());
            }
            if let Some(url) = &mounts.public_url
                && !url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.path() == "/")
            {
                return bad(key("public_url"), "must be an absolute http(s) URL without a path".into());
            }
            for (i, host) in mounts.hosts.iter().enumerate() {
                let valid = !host.is_empty()
                    && host.len() <= 253
                    && host.split('.').all(|label| {
                        (1..=63).contains(&label.len())
                            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                            && !label.starts_with('-')
                            && !label.ends_with('-')
                    });
                if !valid {
                    return bad(
                        key(&format!("hosts[{i}]")),
                        "must be a host name such as qrmoney.pay.example, without port or scheme".into(),
                    );
                }
                if let Some(other) = hosts.insert(host.to_ascii_lowercase(), name) {
                    return bad(key(&format!("hosts[{i}]")), format!("is already the {other} dialect's host"));
                }
            }
        }
        if let Some(main) =
            url::Url::parse(&self.public_url).ok().and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            && let Some(dialect) = hosts.get(&main)
        {
            return bad(
                format!("dialects.{dialect}.hosts"),
                format!("names {main}, public_url's host: the main listener would serve only {dialect} there"),
            );
        }
        Ok(())
    }

    /// Where `dialect`'s own listener binds: as configured, else its built-in `port`
    /// on the main listener's interface (a free port when the main listener asks for
    /// port 0).
    pub fn own_listener(&self, dialect: &str, port: u16) -> OwnListener {
        let main = self.listen_addr();
        match self.dialects.get(dialect).and_then(|d| d.listen.as_deref()) {
            Some("off") => OwnListener::Off,
            Some(addr) => addr.parse().map_or(OwnListener::Off, OwnListener::Explicit),
            None => OwnListener::Default(SocketAddr::new(main.ip(), if main.port() == 0 { 0 } else { port })),
        }
    }

    /// Whether the sandbox may advance the clock.
    pub fn test_clock_enabled(&self) -> bool {
        self.test_clock.unwrap_or(self.built_in)
    }

    /// Whether webhooks to non-public addresses are refused.
    pub fn blocks_private_webhook_targets(&self) -> bool {
        self.webhooks.block_private_targets.unwrap_or(!self.built_in)
    }

    /// The key of the checkout's CSRF tokens.
    pub fn checkout_key(&self) -> Vec<u8> {
        match &self.checkout_secret {
            Some(secret) => secret.expose().as_bytes().to_vec(),
            None => crate::crypto::hmac_sha256_hex(self.admin_token.expose().as_bytes(), b"paybridge checkout csrf")
                .into_bytes(),
        }
    }

    /// Socket address to bind.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen.parse().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080)))
    }
}

/// A core error's field issues on one line, for a configuration error.
fn issues(err: &crate::core::CoreError) -> String {
    err.details().iter().map(|i| format!("{}: {}", i.field, i.message)).collect::<Vec<_>>().join("; ")
}

impl QrmoneyFixture {
    /// The account's policy (fees and limits), checked.
    pub fn policy(&self) -> Result<Option<crate::core::AccountPolicy>, crate::core::CoreError> {
        self.settings.as_ref().map(|s| crate::core::AccountPolicy::parse(s, "extra.settings")).transpose()
    }
}

impl MerchantFixture {
    /// The fixture as the core's seed: each dialect table becomes a credential.
    pub fn to_seed(&self) -> MerchantSeed {
        let mut credentials = Vec::new();
        let cred = |settings, key_id: &str, secret: &str| CredentialSeed {
            settings,
            key_id: key_id.to_owned(),
            secret: secret.into(),
            role: None,
            label: None,
            require_signature: false,
            policy: None,
        };
        if let Some(r) = &self.rebornpay {
            credentials.push(CredentialSeed {
                require_signature: r.require_signature,
                ..cred(DialectSettings::Rebornpay, &r.api_key, &r.api_secret)
            });
        }
        if let Some(s) = &self.shadhinpay {
            let settings = ShadhinpaySettings { business_id: s.business_id.clone() };
            credentials.push(cred(DialectSettings::Shadhinpay(settings), &s.client_id, &s.secret_key));
        }
        for user in &self.starpay_users {
            credentials.push(CredentialSeed {
                role: Some(user.role.clone()),
                label: Some(user.name.clone()),
                ..cred(DialectSettings::Starpay, &user.api_key, &user.api_key)
            });
        }
        if let Some(p) = &self.payrequest {
            let settings = match &p.psp {
                Some(psp) => PayrequestSettings { psp: psp.clone() },
                None => PayrequestSettings::default(),
            };
            credentials.push(cred(DialectSettings::Payrequest(settings), &p.token, &p.token));
        }
        if let Some(q) = &self.qrmoney {
            let settings = QrmoneySettings { account_id: q.account_id.clone(), merchant_id: q.merchant_id.clone() };
            credentials.push(CredentialSeed {
                // Checked when the configuration was loaded.
                policy: q.policy().ok().flatten(),
                ..cred(DialectSettings::Qrmoney(settings), &q.api_key, &q.api_key)
            });
        }
        MerchantSeed {
            name: self.name.clone(),
            status: self.status,
            webhook_url: self.webhook_url.clone(),
            ip_allowlist: self.ip_allowlist.clone(),
            rate_limit_per_minute: self.rate_limit_per_minute,
            default_currency: self.default_currency.clone(),
            credentials,
        }
    }
}
