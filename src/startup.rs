//! Building and running the server: [`Application::build`] connects the core, loads
//! the fixture merchants and binds the listeners — the main one (port 0 picks a free
//! port, which [`Application::port`] reports) and each dialect's own, which serves it
//! at the root ([`Application::dialect_port`]); [`Application::run_until_stopped`]
//! serves until the given shutdown future completes.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use poem::endpoint::make_sync;
use poem::web::Html;
use poem::{EndpointExt, Response, Route, get};
use tokio::net::TcpListener;

use crate::adapters::{DIALECTS, DialectEntry};
use crate::checkout::ProcessorState;
use crate::config::{Config, OwnListener};
use crate::core::{AdminGateway, Clock, Core, CoreSettings, Scopes, parse_allowlist_entry};
use crate::http::AppState;
use crate::http::mount::{HostMounts, Mount, ROOT_DOCS_PATH};
use crate::http::openapi::ApiDoc;
use crate::http::server::Connections;
use crate::metrics::{Metrics, Track};

/// A built, bound, not yet running paybridge.
pub struct Application {
    listener: TcpListener,
    port: u16,
    roots: Vec<RootListener>,
    /// What the dialects reach (`state.gateway`: the merchants' door).
    state: AppState,
    /// The core's other doors: the admin API's, the checkout's, the webhook engine's.
    scopes: Scopes,
    config: Config,
    metrics: Arc<Metrics>,
}

/// A dialect's own listener, serving it at the root.
struct RootListener {
    entry: &'static DialectEntry,
    listener: TcpListener,
    port: u16,
    /// What its links start with: `http://127.0.0.1:8085`.
    base_url: String,
}

/// Where a dialect is served: under `/<name>` on the main listener, at the root of
/// its own port (if it has one) and of its hosts.
#[derive(Debug, Clone)]
pub struct DialectUrls {
    /// The dialect.
    pub name: &'static str,
    /// Its mount on the main listener, standing for the provider's host:
    /// `http://127.0.0.1:8080/shadhinpay`.
    pub main_root: String,
    /// Its own port's root: `http://127.0.0.1:8082`.
    pub own_root: Option<String>,
    /// The provider's base path under its host (`/api/v1` for ShadhinPay, else empty).
    pub api_path: String,
    /// The hosts it is served at the root of.
    pub hosts: Vec<String>,
}

impl DialectUrls {
    /// The base URL a merchant configures, on the main listener:
    /// `http://127.0.0.1:8080/shadhinpay/api/v1`.
    pub fn main_base(&self) -> String {
        format!("{}{}", self.main_root, self.api_path)
    }

    /// The same at the root of its own port: `http://127.0.0.1:8082/api/v1`.
    pub fn own_base(&self) -> Option<String> {
        self.own_root.as_ref().map(|root| format!("{root}{}", self.api_path))
    }

    /// Swagger UI on the main listener.
    pub fn main_docs(&self) -> String {
        format!("{}/docs", self.main_root)
    }

    /// Swagger UI on its own port.
    pub fn own_docs(&self) -> Option<String> {
        self.own_root.as_ref().map(|root| format!("{root}{ROOT_DOCS_PATH}/docs"))
    }
}

impl Application {
    /// Binds the listener, connects and migrates the database and creates the fixture
    /// merchants that do not exist yet; charges go through the sandbox processor.
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        Application::build_with(config, std::sync::Arc::new(crate::sandbox::Sandbox)).await
    }

    /// [`Application::build`] with another processor (a test's scripted one).
    pub async fn build_with(
        mut config: Config,
        processor: std::sync::Arc<dyn crate::core::Processor>,
    ) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(config.listen_addr())
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let port = bound_port(&listener);
        if config.listen_addr().port() == 0 {
            // A random port was asked for: checkout links must point at the real one.
            config.public_url = with_port(&config.public_url, port);
        }
        let roots = bind_roots(&config).await?;
        let settings = CoreSettings {
            payment_ttl: Duration::from_secs(config.payment_ttl_secs),
            auth_cache_ttl: Duration::from_millis(config.auth_cache_ttl_ms),
            max_connections: config.db_max_connections,
            processor_timeout: Duration::from_millis(config.processor_timeout_ms),
            clock: if config.test_clock_enabled() { Clock::test() } else { Clock::system() },
            sqlite_synchronous: config.sqlite_synchronous,
            rate_limits: config.rate_limits.store(),
        };
        let scopes = Core::connect(&config.database_url, settings, processor)
            .await
            .with_context(|| format!("cannot open the database at {}", redact(&config.database_url)))?;
        let seeds: Vec<_> = config.merchants.iter().map(|m| m.to_seed()).collect();
        scopes.admin.apply_seeds(&seeds).await.context("cannot create the configured merchants")?;
        let state = AppState {
            gateway: scopes.gateway.clone(),
            trusted_proxies: config.trusted_proxies.iter().filter_map(|p| parse_allowlist_entry(p)).collect(),
            admin_token: config.admin_token.expose().into(),
            checkout_secret: config.checkout_key().into(),
            body_limits: config.http.body(),
            docs_keys: Arc::new(docs_keys(&config)),
        };
        Ok(Application { listener, port, roots, state, scopes, config, metrics: Metrics::new() })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The clock the core reads (for tests that move a test clock themselves).
    pub fn clock(&self) -> crate::core::Clock {
        self.state.gateway.clock().clone()
    }

    /// The port `dialect` is served at the root of, if it has its own listener.
    pub fn dialect_port(&self, dialect: &str) -> Option<u16> {
        self.roots.iter().find(|r| r.entry.name() == dialect).map(|r| r.port)
    }

    /// Every dialect's base URLs.
    pub fn dialect_urls(&self) -> Vec<DialectUrls> {
        dialect_urls(&self.config, &self.roots)
    }

    /// The configuration in effect (with the real public URL when the port was 0).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Logs every dialect's base and Swagger UI URL and, when configured, the fixture
    /// merchants' credentials.
    pub fn log_banner(&self) {
        let base = self.config.public_url.trim_end_matches('/');
        tracing::info!("paybridge listening on {} — index at {base}/", self.config.listen);
        for urls in self.dialect_urls() {
            let (own, own_docs) = match (urls.own_base(), urls.own_docs()) {
                (Some(own), Some(docs)) => (format!(" · {own}"), format!(" · {docs}")),
                _ => (String::new(), String::new()),
            };
            let hosts =
                if urls.hosts.is_empty() { String::new() } else { format!("   hosts {}", urls.hosts.join(", ")) };
            tracing::info!(
                "dialect {:<11} base {}{own}   docs {}{own_docs}{hosts}",
                urls.name,
                urls.main_base(),
                urls.main_docs()
            );
        }
        tracing::info!("admin API   base {base}/admin/v1   docs {base}/admin/docs");
        tracing::info!("sandbox API base {base}/sandbox/v1 docs {base}/sandbox/docs");
        if self.config.log_credentials {
            tracing::info!("admin token: {}", self.config.admin_token.expose());
            for merchant in &self.config.merchants {
                for cred in merchant.to_seed().credentials {
                    let secret = if cred.secret.expose() == cred.key_id {
                        String::new()
                    } else {
                        format!(" secret {}", cred.secret.expose())
                    };
                    let role = cred.role.as_ref().map(|r| format!(" role {r}")).unwrap_or_default();
                    tracing::info!(
                        "merchant {:?} {}: key {}{secret}{role} {}",
                        merchant.name,
                        cred.dialect(),
                        cred.key_id,
                        serde_json::Value::Object(cred.settings.to_json())
                    );
                }
            }
        }
    }

    /// Serves (and delivers webhooks) until `shutdown` completes, then lets in-flight
    /// requests finish (up to ten seconds) and in-flight webhook deliveries finish or
    /// go back to the queue.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let maintenance = tokio::spawn(maintenance(self.scopes.admin.clone()));
        let sweep = Duration::from_secs(self.config.expiry_sweep_secs);
        let expiry = tokio::spawn(expire_payments(self.scopes.admin.clone(), sweep));
        let engine = self.config.webhooks.enabled.then(|| {
            let settings =
                crate::webhooks::Settings::new(&self.config.webhooks, self.config.blocks_private_webhook_targets());
            crate::webhooks::Engine::start(self.scopes.delivery.clone(), settings, self.metrics.clone())
        });
        let urls = self.dialect_urls();
        let public_url = self.config.public_url.trim_end_matches('/').to_owned();
        // One connection cap for every listener: they share the process's file descriptors.
        // What else holds descriptors: each database connection (SQLite: file, WAL and
        // shared memory), each webhook delivery in flight, the listeners, the runtime.
        let reserved = 32 + self.config.webhooks.concurrency + 4 * (self.config.db_max_connections as usize + 1);
        let connections = Connections::new(self.config.http.edge(), reserved);
        let grace = Duration::from_secs(10);
        // Every listener stops when `shutdown` completes.
        let (stop, stopped) = tokio::sync::watch::channel(());
        let mut servers = Vec::new();
        for root in self.roots {
            let main_url = format!("{public_url}{}", root.entry.base);
            let app = root_endpoint(root.entry, &self.state, &self.scopes, &main_url, self.metrics.clone())
                .data(Mount::at_root(&root.base_url));
            let mut stopped = stopped.clone();
            let connections = connections.clone();
            servers.push(tokio::spawn(async move {
                let stopped = async move {
                    let _ = stopped.changed().await;
                };
                connections.serve(root.listener, app, stopped, grace).await
            }));
        }
        let shutdown = async move {
            shutdown.await;
            let _ = stop.send(());
        };
        let dashboard_ttl = Duration::from_secs(self.config.dashboard.session_ttl_secs);
        let app = routes(&self.state, &self.scopes, &public_url, &urls, dashboard_ttl, self.metrics.clone());
        let hosts = host_mounts(&self.config, &self.state, &self.scopes, &public_url, &self.metrics);
        // Links on a host mount take public_url's scheme (config validation: http or https).
        let scheme = if public_url.starts_with("https:") { "https" } else { "http" };
        let result = if hosts.is_empty() {
            connections.serve(self.listener, app, shutdown, grace).await
        } else {
            connections.serve(self.listener, HostMounts::new(hosts, scheme, app), shutdown, grace).await
        };
        for server in servers {
            match server.await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::warn!(error = %err, "a dialect's own listener failed"),
                Err(err) => tracing::error!(error = %err, "a dialect's own listener stopped abnormally"),
            }
        }
        if let Some(engine) = engine {
            engine.stop().await;
        }
        maintenance.abort();
        expiry.abort();
        result
    }
}

/// What the docs pages fill Authorize with: the built-in demo merchant's keys, in the
/// headers each dialect takes them in (StarPay's: its merchant-role user's); nothing for
/// any configured deployment.
fn docs_keys(config: &Config) -> std::collections::HashMap<crate::core::Dialect, Vec<(&'static str, String)>> {
    let mut keys = std::collections::HashMap::new();
    let Some(demo) = config.merchants.first().filter(|_| config.built_in) else { return keys };
    for seed in demo.to_seed().credentials {
        let preferred = seed.role.as_deref().is_none_or(|role| role == "merchant");
        if preferred || !keys.contains_key(&seed.dialect()) {
            keys.insert(seed.dialect(), crate::adapters::client_keys(&seed).headers);
        }
    }
    keys
}

/// Housekeeping every minute: forget idempotency records past their retention and
/// request signatures past their replay window.
async fn maintenance(gateway: AdminGateway) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        match gateway.purge_idempotency().await {
            Ok(n) if n > 0 => tracing::info!(purged = n, "expired idempotency records removed"),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "idempotency purge failed"),
        }
        if let Err(err) = gateway.purge_used_signatures().await {
            tracing::warn!(error = %err, "signature purge failed");
        }
    }
}

/// Expires unpaid payments past their expiry every `every`, in batches.
async fn expire_payments(gateway: AdminGateway, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        loop {
            match gateway.expire_overdue(500).await {
                Ok(500) => continue,
                Ok(n) => {
                    if n > 0 {
                        tracing::info!(expired = n, "unpaid payments expired");
                    }
                    break;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "expiry sweep failed");
                    break;
                }
            }
        }
    }
}

/// Every OpenAPI document paybridge serves: each dialect's, the admin's and the
/// sandbox's.
pub fn all_docs() -> Vec<ApiDoc> {
    let mut docs = crate::adapters::docs();
    docs.push(crate::admin::doc());
    docs.push(crate::sandbox::api::doc());
    docs
}

/// The port `listener` is bound to.
fn bound_port(listener: &TcpListener) -> u16 {
    listener.local_addr().map_or(0, |a| a.port())
}

/// `url` with its port set to `port`.
fn with_port(url: &str, port: u16) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_port(Some(port));
            parsed.as_str().trim_end_matches('/').to_owned()
        }
        Err(_) => url.to_owned(),
    }
}

/// The origin of `url` on `port`: a root listener serves its dialect at `/`, whatever
/// path the main listener's `public_url` has (`https://gw.example/pb` →
/// `https://gw.example:8085`).
fn origin_on_port(url: &str, port: u16) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_port(Some(port));
            parsed.set_path("");
            parsed.set_query(None);
            parsed.set_fragment(None);
            parsed.origin().ascii_serialization()
        }
        Err(_) => url.to_owned(),
    }
}

/// Binds every dialect's own listener. A built-in port that is taken is skipped with
/// a warning (the dialect stays reachable under `/<name>`); a configured one stops
/// start-up.
async fn bind_roots(config: &Config) -> anyhow::Result<Vec<RootListener>> {
    let mut roots = Vec::new();
    for entry in DIALECTS {
        let name = entry.name();
        let (addr, explicit) = match config.own_listener(name, entry.demo_port) {
            OwnListener::Off => continue,
            OwnListener::Default(addr) => (addr, false),
            OwnListener::Explicit(addr) => (addr, true),
        };
        let listener = match TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(err) if explicit => {
                anyhow::bail!("cannot listen on {addr} for the {name} dialect (`dialects.{name}.listen`): {err}")
            }
            Err(err) => {
                tracing::warn!(
                    "port {} for the {name} dialect is not available ({err}): it is served under /{name} only \
                     (set `dialects.{name}.listen` to another address, or to off)",
                    addr.port()
                );
                continue;
            }
        };
        let port = bound_port(&listener);
        let configured = config.dialects.get(name).and_then(|d| d.public_url.as_deref());
        let base_url = match configured {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => origin_on_port(&config.public_url, port),
        };
        roots.push(RootListener { entry, listener, port, base_url });
    }
    Ok(roots)
}

fn dialect_urls(config: &Config, roots: &[RootListener]) -> Vec<DialectUrls> {
    let base = config.public_url.trim_end_matches('/');
    DIALECTS
        .iter()
        .map(|entry| DialectUrls {
            name: entry.name(),
            main_root: format!("{base}{}", entry.base),
            own_root: roots.iter().find(|r| r.entry.name() == entry.name()).map(|r| r.base_url.clone()),
            api_path: entry.api_path(),
            hosts: config.dialects.get(entry.name()).map(|d| d.hosts.clone()).unwrap_or_default(),
        })
        .collect()
}

/// A dialect at `/`, as its own listener or a host serves it, counted under its name.
fn root_endpoint(
    entry: &'static DialectEntry,
    state: &AppState,
    scopes: &Scopes,
    main_url: &str,
    metrics: Arc<Metrics>,
) -> impl poem::Endpoint<Output = Response> + use<> {
    let services = vec!["checkout", ROOT_DOCS_PATH.trim_start_matches('/')];
    let checkout = ProcessorState::new(state, scopes.processor.clone());
    entry.root_routes(state, &checkout, main_url).with(Track { services, otherwise: entry.name(), metrics })
}

/// The root endpoints of every host in `[dialects.<name>] hosts`, lower case.
fn host_mounts(
    config: &Config,
    state: &AppState,
    scopes: &Scopes,
    public_url: &str,
    metrics: &Arc<Metrics>,
) -> Vec<(String, poem::endpoint::BoxEndpoint<'static, Response>)> {
    let mut hosts = Vec::new();
    for entry in DIALECTS {
        let main_url = format!("{public_url}{}", entry.base);
        for host in config.dialects.get(entry.name()).map(|d| d.hosts.as_slice()).unwrap_or_default() {
            let endpoint = root_endpoint(entry, state, scopes, &main_url, metrics.clone()).boxed();
            hosts.push((host.to_ascii_lowercase(), endpoint));
        }
    }
    hosts
}

fn routes(
    state: &AppState,
    scopes: &Scopes,
    public_url: &str,
    urls: &[DialectUrls],
    dashboard_ttl: Duration,
    metrics: Arc<Metrics>,
) -> impl poem::Endpoint<Output = Response> + use<> {
    let health = state.gateway.clone();
    let index = index_html(urls);
    let metrics_text = metrics.clone();
    let counts = state.gateway.clone();
    let route = Route::new()
        .at("/", get(make_sync(move |_| Html(index.clone()))))
        .at(
            "/healthz",
            get(make_sync(|_| Response::builder().content_type("application/json").body("{\"status\":\"ok\"}"))),
        )
        .at(
            "/readyz",
            get(poem::endpoint::make(move |_| {
                let gateway = health.clone();
                async move {
                    if gateway.ready().await {
                        Response::builder().content_type("application/json").body("{\"status\":\"ready\"}")
                    } else {
                        Response::builder()
                            .status(poem::http::StatusCode::SERVICE_UNAVAILABLE)
                            .content_type("application/json")
                            .body("{\"status\":\"database unavailable\"}")
                    }
                }
            })),
        )
        .at(
            "/metrics",
            get(make_sync(move |_| {
                metrics_text.set_rate_limit_fallbacks(counts.rate_limit_fallbacks());
                Response::builder().content_type("text/plain; version=0.0.4").body(metrics_text.render())
            })),
        );
    let processor = ProcessorState::new(state, scopes.processor.clone());
    let route = crate::checkout::mount(route, &processor);
    let route = crate::admin::mount(route, state, scopes.admin.clone());
    let dashboard = crate::dashboard::DashboardState::new(
        scopes.admin.clone(),
        scopes.processor.clone(),
        state.admin_token.clone(),
        dashboard_ttl,
        public_url,
    );
    let route = crate::dashboard::mount(route, dashboard, &state.body_limits);
    let route = crate::sandbox::api::mount(route, &processor);
    let route = DIALECTS.iter().fold(route, |route, entry| {
        let own = urls.iter().find(|u| u.name == entry.name()).and_then(|u| u.own_root.as_deref());
        entry.mount_at_path(route, state, public_url, own)
    });
    let services =
        all_docs().iter().map(|d| d.name).chain(["checkout", "dashboard", "healthz", "readyz", "metrics"]).collect();
    route.map_to_response().with(Track { services, otherwise: "other", metrics })
}

/// The index page: every API with its Swagger UI, each dialect with both its base
/// URLs.
fn index_html(urls: &[DialectUrls]) -> String {
    let link = |href: &str, text: &str| format!("<a href=\"{href}\">{text}</a>");
    let rows: String = all_docs()
        .iter()
        .map(|doc| {
            let title = doc.spec["info"]["title"].as_str().unwrap_or(doc.name);
            let docs = format!(
                "{} · {}",
                link(&format!("/{}/docs", doc.name), "Swagger UI"),
                link(&format!("/{}/openapi.yaml", doc.name), "openapi.yaml")
            );
            let Some(urls) = urls.iter().find(|u| u.name == doc.name) else {
                return format!("<li><b>{title}</b> — {docs}</li>");
            };
            let mut bases = vec![format!("<code>{}</code>", urls.main_base())];
            if let (Some(own), Some(own_docs)) = (urls.own_base(), urls.own_docs()) {
                bases.push(format!("<code>{own}</code> ({})", link(&own_docs, "its Swagger UI")));
            }
            bases.extend(urls.hosts.iter().map(|host| format!("host <code>{host}</code>")));
            format!("<li><b>{title}</b> — {docs}<br>base URL {}</li>", bases.join(" or "))
        })
        .collect();
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>paybridge</title></head><body>\
         <h1>paybridge</h1><p>A payment gateway that speaks five providers' HTTP dialects. Each dialect \
         has two base URLs: under its name on this listener, and at the root of its own port (for \
         clients that resolve absolute paths against the base URL, which drops its path).</p><ul>{rows}</ul>\
         <p><a href=\"/dashboard\">Dashboard</a> (sign in with the admin token) · <a href=\"/healthz\">/healthz</a> · <a href=\"/readyz\">/readyz</a> · <a href=\"/metrics\">/metrics</a></p>\
         </body></html>"
    )
}

fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_listener_links_to_its_own_origin() {
        assert_eq!(origin_on_port("https://gw.example/pb/", 8085), "https://gw.example:8085");
        assert_eq!(origin_on_port("http://127.0.0.1:8080", 8085), "http://127.0.0.1:8085");
        assert_eq!(
            with_port("https://gw.example/pb", 9000),
            "https://gw.example:9000/pb",
            "the main listener keeps its path"
        );
    }
}
