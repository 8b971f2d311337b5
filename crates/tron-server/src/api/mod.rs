//! The HTTP API under `/api/v1`. Each area exposes `router()`; they are
//! merged here, with every organization route behind the access context.
use axum::routing::get;
use axum::Router;

use crate::access::organization_routes;
use crate::routes::{Api, Org, RouteError, Routes};
use crate::state::AppState;

pub mod access_check;
pub mod audit;
pub mod groups;
pub mod me;
pub mod oidc;
pub mod organizations;
pub mod platform;
pub mod service_accounts;
pub mod tokens;
pub mod trust_policies;
pub mod users;
pub mod webhooks;
pub mod wire;

/// Every API route, with its full path (see `crate::routes`).
pub fn router(state: &AppState) -> Result<Router<AppState>, RouteError> {
    let org_routes = Routes::<Org>::new()
        .merge(organizations::org_router())
        .merge(groups::router())
        .merge(access_check::router())
        .merge(platform::router())
        .merge(service_accounts::router())
        .merge(trust_policies::router())
        .merge(webhooks::router())
        .merge(audit::org_router());
    Routes::<Api>::new()
        .route("/openapi.json", get(crate::openapi::serve_document))
        .merge(me::router())
        .merge(users::router())
        .merge(tokens::router())
        .merge(oidc::router())
        .merge(organizations::router())
        .merge(audit::router())
        .into_router()
        .map(|api| api.merge(organization_routes(state, org_routes)))
}
