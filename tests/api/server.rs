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

db_test!(health_readiness_and_metrics_answer, index_and_swagger_ui_are_served);

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
