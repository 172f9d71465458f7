//! The admin API at `/admin/v1` (Bearer `admin_token`), with Swagger UI at
//! `/admin/docs`: merchants, credentials, the refund queue, settlements, outbox events
//! and a ledger check.

mod api;
mod types;

use poem::{EndpointExt, Route};
use poem_openapi::OpenApiService;

use crate::core::AdminGateway;
use crate::http::AppState;
use crate::http::openapi::ApiDoc;

fn service() -> OpenApiService<api::AdminApi, ()> {
    OpenApiService::new(api::AdminApi, "paybridge admin API", env!("CARGO_PKG_VERSION"))
        .description(
            "Operate paybridge: approve or suspend merchants, issue and rotate dialect credentials, \
             decide queued refunds, settle balances, and read the event outbox. \
             Authenticate with `Authorization: Bearer <admin_token>` from the configuration.",
        )
        .server("/admin")
        .url_prefix("/v1")
}

/// The OpenAPI document.
pub fn doc() -> ApiDoc {
    ApiDoc::from_service("admin", &service()).request_examples(&examples())
}

/// Request examples, for "Try it out".
fn examples() -> Vec<crate::http::openapi::RequestExample> {
    use serde_json::json;
    let note = json!({ "note": "Checked with the customer" });
    vec![
        (
            "post",
            "/v1/merchants",
            json!({
                "name": "Corner Shop", "webhook_url": "https://corner.example.com/hooks",
                "rate_limit_per_minute": 120, "default_currency": "BDT"
            }),
        ),
        (
            "patch",
            "/v1/merchants/{id}",
            json!({ "webhook_url": "https://corner.example.com/hooks/v2", "rate_limit_per_minute": 60 }),
        ),
        (
            "post",
            "/v1/merchants/{id}/credentials",
            json!({ "dialect": "starpay", "role": "api_user", "label": "Reporting bot" }),
        ),
        ("patch", "/v1/credentials/{id}", json!({ "require_signature": true })),
        ("post", "/v1/refunds/{id}/approve", note.clone()),
        ("post", "/v1/refunds/{id}/reject", note.clone()),
        ("post", "/v1/payouts/{id}/approve", note.clone()),
        ("post", "/v1/payouts/{id}/reject", note),
        ("post", "/v1/merchants/{id}/settlements", json!({ "currency": "BDT" })),
    ]
}

/// What the admin API's operations reach: the operator's door to the core, and the
/// token that opens it.
#[derive(Clone)]
pub struct AdminState {
    /// The core, as the operator sees it.
    pub gateway: AdminGateway,
    /// The bearer token of the admin API.
    pub admin_token: std::sync::Arc<str>,
}

/// Rotates a credential's secret (and, for single-token dialects, its key): the old
/// material stops working at once. The admin API and the dashboard both rotate here.
pub async fn rotate_credential(
    gateway: &AdminGateway,
    id: i64,
) -> Result<crate::core::Credential, crate::core::CoreError> {
    let current = gateway.credential(id).await?;
    let (key_id, secret, _) = crate::adapters::new_credential(current.dialect, serde_json::Map::new())?;
    let single_token = key_id == secret;
    let change = crate::core::CredentialPatch {
        key_id: single_token.then(|| key_id.clone()),
        secret: Some(secret.into()),
        ..Default::default()
    };
    gateway.update_credential(id, change).await
}

/// Mounts the API and its docs, its operations reaching the core through `admin`.
pub fn mount(route: Route, state: &AppState, admin: AdminGateway) -> Route {
    let bounded = crate::http::problem::bounded_body(&state.body_limits);
    let admin = AdminState { gateway: admin, admin_token: state.admin_token.clone() };
    doc().mount(route.nest("/admin/v1", service().with(bounded).data(admin)), "/admin")
}
