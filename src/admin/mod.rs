//! The admin API at `/admin/v1` (Bearer `admin_token`), with Swagger UI at
//! `/admin/docs`: merchants, credentials, the refund queue, settlements, outbox events
//! and a ledger check.

mod api;
mod types;

use poem::{EndpointExt, Route};
use poem_openapi::OpenApiService;

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
    ApiDoc::from_service("admin", &service())
}

/// Mounts the API and its docs.
pub fn mount(route: Route, state: &AppState) -> Route {
    let bounded = crate::http::problem::bounded_body(&state.body_limits);
    doc().mount(route.nest("/admin/v1", service().with(bounded).data(state.clone())), "/admin")
}
