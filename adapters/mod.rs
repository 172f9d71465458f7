//! The dialects: one module per provider, each a thin translation between the
//! provider's wire format and the core's [`Gateway`](crate::core::Gateway) API.
//!
//! A dialect sees only `core`'s public API, `http` helpers and `crypto`; never the
//! store, and never another dialect.

pub mod rebornpay;

use poem::Route;

use crate::http::AppState;
use crate::http::openapi::ApiDoc;

/// Every dialect's OpenAPI document.
pub fn docs() -> Vec<ApiDoc> {
    vec![rebornpay::doc()]
}

/// Mounts every dialect.
pub fn mount(route: Route, state: &AppState) -> Route {
    rebornpay::mount(route, state, &rebornpay::doc())
}
