//! Building and running the server: [`Application::build`] connects the core, loads
//! the fixture merchants and binds the listener (port 0 picks a free port, which
//! [`Application::port`] reports); [`Application::run_until_stopped`] serves until the
//! given shutdown future completes.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use poem::endpoint::make_sync;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::web::Html;
use poem::{EndpointExt, Response, Route, Server, get};

use crate::config::Config;
use crate::core::{CoreSettings, Gateway, parse_allowlist_entry};
use crate::http::AppState;
use crate::http::openapi::ApiDoc;
use crate::metrics::{Metrics, Track};

/// A built, bound, not yet running paybridge.
pub struct Application {
    acceptor: TcpAcceptor,
    port: u16,
    state: AppState,
    config: Config,
    metrics: Arc<Metrics>,
}

impl Application {
    /// Binds the listener, connects and migrates the database and creates the fixture
    /// merchants that do not exist yet.
    pub async fn build(mut config: Config) -> anyhow::Result<Application> {
        let acceptor = TcpListener::bind(config.listen_addr())
            .into_acceptor()
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let local = acceptor.local_addr().first().and_then(|a| a.as_socket_addr().copied());
        let port = local.map_or(0, |a| a.port());
        if config.listen_addr().port() == 0 {
            // A random port was asked for: checkout links must point at the real one.
            if let Ok(mut url) = url::Url::parse(&config.public_url) {
                let _ = url.set_port(Some(port));
                config.public_url = url.as_str().trim_end_matches('/').to_owned();
            }
        }
        let settings = CoreSettings {
            public_url: config.public_url.clone(),
            payment_ttl: Duration::from_secs(config.payment_ttl_secs),
            auth_cache_ttl: Duration::from_millis(config.auth_cache_ttl_ms),
            max_connections: config.db_max_connections,
        };
        let gateway = Gateway::connect(&config.database_url, settings)
            .await
            .with_context(|| format!("cannot open the database at {}", redact(&config.database_url)))?;
        let seeds: Vec<_> = config.merchants.iter().map(|m| m.to_seed()).collect();
        gateway.apply_seeds(&seeds).await.context("cannot create the configured merchants")?;
        let state = AppState {
            gateway,
            trusted_proxies: config.trusted_proxies.iter().filter_map(|p| parse_allowlist_entry(p)).collect(),
            admin_token: config.admin_token.expose().into(),
            checkout_secret: config.checkout_key().into(),
        };
        Ok(Application { acceptor, port, state, config, metrics: Metrics::new() })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The payment core this application serves.
    pub fn gateway(&self) -> &Gateway {
        &self.state.gateway
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
        for doc in crate::adapters::docs() {
            tracing::info!("dialect {:<11} base {base}/{}   docs {base}/{}/docs", doc.name, doc.name, doc.name);
        }
        tracing::info!("admin API   base {base}/admin/v1   docs {base}/admin/docs");
        tracing::info!("sandbox API base {base}/sandbox/v1 docs {base}/sandbox/docs");
        if self.config.log_credentials {
            tracing::info!("admin token: {}", self.config.admin_token.expose());
            for merchant in &self.config.merchants {
                for cred in merchant.to_seed().credentials {
                    let secret =
                        if cred.secret == cred.key_id { String::new() } else { format!(" secret {}", cred.secret) };
                    let role = cred.role.map(|r| format!(" role {r}")).unwrap_or_default();
                    tracing::info!(
                        "merchant {:?} {}: key {}{secret}{role} {}",
                        merchant.name,
                        cred.dialect,
                        cred.key_id,
                        cred.extra
                    );
                }
            }
        }
    }

    /// Serves (and delivers webhooks) until `shutdown` completes, then lets in-flight
    /// requests finish (up to ten seconds) and in-flight webhook deliveries finish or
    /// go back to the queue.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let maintenance = tokio::spawn(maintenance(self.state.gateway.clone()));
        let sweep = Duration::from_secs(self.config.expiry_sweep_secs);
        let expiry = tokio::spawn(expire_payments(self.state.gateway.clone(), sweep));
        let engine = self.config.webhooks.enabled.then(|| {
            let settings =
                crate::webhooks::Settings::new(&self.config.webhooks, self.config.blocks_private_webhook_targets());
            crate::webhooks::Engine::start(self.state.gateway.clone(), settings, self.metrics.clone())
        });
        let app = routes(&self.state, self.metrics.clone());
        let result = Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(app, shutdown, Some(Duration::from_secs(10)))
            .await;
        if let Some(engine) = engine {
            engine.stop().await;
        }
        maintenance.abort();
        expiry.abort();
        result
    }
}

/// Housekeeping every minute: forget idempotency records past their retention and
/// request signatures past their replay window.
async fn maintenance(gateway: Gateway) {
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
async fn expire_payments(gateway: Gateway, every: Duration) {
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

fn routes(state: &AppState, metrics: Arc<Metrics>) -> impl poem::Endpoint + use<> {
    let health = state.gateway.clone();
    let metrics_text = metrics.clone();
    let route = Route::new()
        .at("/", get(make_sync(|_| Html(index_html()))))
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
                Response::builder().content_type("text/plain; version=0.0.4").body(metrics_text.render())
            })),
        );
    let route = crate::checkout::mount(route, state);
    let route = crate::admin::mount(route, state);
    let route = crate::sandbox::api::mount(route, state);
    let route = crate::adapters::mount(route, state);
    let services = all_docs().iter().map(|d| d.name).chain(["checkout", "healthz", "readyz", "metrics"]).collect();
    route.with(Track { services, metrics })
}

fn index_html() -> String {
    let rows: String = all_docs()
        .iter()
        .map(|doc| {
            let title = doc.spec["info"]["title"].as_str().unwrap_or(doc.name);
            format!(
                "<li><b>{title}</b> — <a href=\"/{0}/docs\">Swagger UI</a> · <a href=\"/{0}/openapi.yaml\">openapi.yaml</a></li>",
                doc.name
            )
        })
        .collect();
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>paybridge</title></head><body>\
         <h1>paybridge</h1><p>A payment gateway that speaks five providers' HTTP dialects.</p><ul>{rows}</ul>\
         <p><a href=\"/healthz\">/healthz</a> · <a href=\"/readyz\">/readyz</a> · <a href=\"/metrics\">/metrics</a></p>\
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
