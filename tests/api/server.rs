//! The server around the APIs: health, readiness, metrics, the index and docs pages.

use reqwest::Method;

use crate::db_test;
use crate::helpers::{Backend, spawn_app};

async fn health_readiness_and_metrics_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let health = app.send(app.request(Method::GET, "/healthz")).await;
    assert_eq!((health.status, health.body["status"].clone()), (200, serde_json::json!("ok")));
    let ready = app.send(app.request(Method::GET, "/readyz")).await;
    assert_eq!(ready.status, 200);
    app.send(app.reborn(Method::GET, "/balance")).await;
    let metrics = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("paybridge_http_requests_total{service=\"rebornpay\",status=\"200\"} 1"), "{metrics}");
    assert!(metrics.contains("paybridge_http_request_duration_seconds"), "{metrics}");
}

async fn index_and_swagger_ui_are_served(backend: Backend) {
    let app = spawn_app(backend).await;
    let index = app.client.get(&app.base).send().await.unwrap().text().await.unwrap();
    for service in ["rebornpay", "shadhinpay", "starpay", "payrequest", "admin", "sandbox"] {
        assert!(index.contains(&format!("/{service}/docs")), "index links {service}");
        let docs = app.client.get(format!("{}/{service}/docs", app.base)).send().await.unwrap();
        assert_eq!(docs.status().as_u16(), 200, "{service}/docs");
        let html = docs.text().await.unwrap();
        assert!(html.contains("SwaggerUIBundle"), "{service}/docs is Swagger UI");
        let yaml = app.client.get(format!("{}/{service}/openapi.yaml", app.base)).send().await.unwrap();
        assert_eq!(yaml.status().as_u16(), 200);
        assert!(yaml.text().await.unwrap().starts_with("openapi: 3"), "{service}/openapi.yaml");
    }
    let html = app.client.get(format!("{}/rebornpay/docs", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("X-Api-Secret"), "Swagger UI offers both REBORNPAY headers");
    let html = app.client.get(format!("{}/shadhinpay/docs", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Secret-Key") && html.contains("Business-Id"), "Swagger UI offers ShadhinPay's headers");
}

/// With the built-in demo configuration, each dialect's docs page comes with Authorize
/// filled in with the demo merchant's keys, at both of its mounts; with a configured
/// deployment, never.
async fn the_demo_docs_come_authorized(backend: Backend) {
    let docs = |app: &crate::helpers::TestApp, url: String| {
        let client = app.client.clone();
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let prefill = |scheme: &str, key: &str| format!("preauthorizeApiKey(\"{scheme}\", \"{key}\")");
    let app = spawn_app(backend.clone()).await;
    let expected = [
        ("rebornpay", vec![("ApiKeyAuth", "pk_test_demo"), ("ApiSecretAuth", "sk_test_demo")]),
        ("shadhinpay", vec![("ClientIdAuth", "demo_client_id"), ("BusinessIdAuth", "demo_business_id")]),
        ("starpay", vec![("ApiKeyAuth", "sp_test_merchant")]),
        ("qrmoney", vec![("ApiKeyAuth", "qr_test_demo")]),
    ];
    for (dialect, schemes) in &expected {
        let at_path = docs(&app, format!("{}/{dialect}/docs", app.base)).await;
        let at_root = docs(&app, format!("{}/_paybridge/docs", app.root_url(dialect))).await;
        for (scheme, key) in schemes {
            assert!(at_path.contains(&prefill(scheme, key)), "{dialect}/docs fills {scheme}");
            assert!(at_root.contains(&prefill(scheme, key)), "{dialect}'s own port's docs fill {scheme}");
        }
    }
    let configured = crate::helpers::spawn_app_with(backend, |c| c.built_in = false).await;
    for (dialect, schemes) in &expected {
        let html = docs(&configured, format!("{}/{dialect}/docs", configured.base)).await;
        assert!(
            !html.contains("window.ui.preauthorizeApiKey("),
            "{dialect}: a configured deployment's docs hold no keys"
        );
        for (_, key) in schemes {
            assert!(!html.contains(key), "{dialect}: no key in the page");
        }
    }
}

db_test!(health_readiness_and_metrics_answer, index_and_swagger_ui_are_served, the_demo_docs_come_authorized);

#[test]
fn the_cli_writes_every_spec() {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_paybridge"))
        .args(["openapi", "--out"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    for name in ["rebornpay", "shadhinpay", "starpay", "payrequest", "admin", "sandbox"] {
        assert!(dir.path().join(format!("{name}.yaml")).exists(), "{name}.yaml");
    }
}
