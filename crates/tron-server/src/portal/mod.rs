//! The web portal: server-rendered pages (askama) from the same binary.
//!
//! Invariants:
//! - A page is served only to a user holding a *session* token, read from
//!   the `tron_session` cookie by [`session::session_layer`]. Personal and
//!   service tokens never open the portal, and the JSON API never reads the
//!   cookie (it stays header-only, so it needs no CSRF defence).
//! - Every POST carries a CSRF token (an HMAC of the session's token id
//!   under the server secret), checked in constant time by that same layer
//!   before any handler runs; the login form is covered by a pre-session
//!   cookie (double submit).
//! - Every page under `/orgs/{org}` goes through the API's
//!   OrganizationAccessContext ([`org_layer`]): a non-member gets the 404
//!   page, and each handler calls `ctx.require` before reading or changing
//!   anything. Templates only hide what `require` would refuse. The
//!   platform's pages (`/users`, `/audit`) refuse a non-superuser before
//!   reading anything; `/profile` reaches only the session's own user.
//! - Every page carries a Content-Security-Policy without inline script or
//!   style, and no page is cached (a new token is shown in the response to
//!   the POST that minted it, never in a URL or a cookie).
mod audit;
mod denied;
mod error;
mod form;
mod groups;
mod orgs;
mod permissions;
mod profile;
mod service_accounts;
mod session;
mod users;
mod view;
mod webhooks;

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tron_core::ids::OrganizationId;

use crate::access::{OrgCtx, OrganizationAccessContext};
use crate::state::AppState;

use error::PortalError;
pub use error::{method_not_allowed_page, not_found_page};
use session::PortalSession;

pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const CSS: &str = include_str!("../../static/portal.css");
const JS: &str = include_str!("../../static/portal.js");
const FAVICON: &str = include_str!("../../static/favicon.svg");

/// The portal's routes, merged at the root by [`crate::app`].
pub fn router(state: &AppState) -> Router<AppState> {
    let org = Router::new()
        .route("/", get(orgs::show))
        .route(
            "/settings",
            get(orgs::settings_page).post(orgs::update_settings),
        )
        .route("/audit", get(audit::org_page))
        .route("/delete", get(orgs::delete_page).post(orgs::delete))
        .route("/members", get(orgs::members_page).post(orgs::add_member))
        .route("/members/{member_id}", get(orgs::member_page))
        .route(
            "/members/{member_id}/remove",
            get(orgs::remove_member_page).post(orgs::remove_member),
        )
        .route(
            "/environments",
            get(orgs::environments_page).post(orgs::create_environment),
        )
        .route("/environments/{env_id}", get(orgs::environment_page))
        .route(
            "/environments/{env_id}/delete",
            get(orgs::delete_environment_page).post(orgs::delete_environment),
        )
        .route(
            "/applications",
            get(orgs::applications_page).post(orgs::create_application),
        )
        .route("/applications/{app_id}", get(orgs::application_page))
        .route(
            "/applications/{app_id}/delete",
            get(orgs::delete_application_page).post(orgs::delete_application),
        )
        .route("/applications/{app_id}/instances", post(orgs::first_deploy))
        .route(
            "/applications/{app_id}/instances/{env_id}",
            get(orgs::instance_page),
        )
        .route(
            "/applications/{app_id}/instances/{env_id}/deployments",
            post(orgs::deploy),
        )
        .route("/groups", get(groups::list_page).post(groups::create))
        .route("/groups/{group_id}", get(groups::show).post(groups::update))
        .route(
            "/groups/{group_id}/delete",
            get(groups::delete_page).post(groups::delete),
        )
        .route("/groups/{group_id}/members", post(groups::add_member))
        .route(
            "/groups/{group_id}/members/{member_id}/remove",
            get(groups::remove_member_page).post(groups::remove_member),
        )
        .merge(service_accounts::router())
        .merge(webhooks::router())
        .route_layer(middleware::from_fn_with_state(state.clone(), org_layer));
    let signed_in = Router::new()
        .route("/", get(orgs::home))
        .route("/orgs", post(orgs::create))
        .route("/logout", post(session::logout))
        .route("/audit", get(audit::platform_page))
        .merge(users::router())
        .merge(profile::router())
        .nest("/orgs/{org}", org)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            session::session_layer,
        ));
    Router::new()
        .route("/login", get(session::login_page).post(session::login))
        .route("/static/portal.css", get(css))
        .route("/static/portal.js", get(js))
        .route("/static/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
        .merge(signed_in)
        .layer(middleware::map_response(security_headers))
}

/// Resolves the OrganizationAccessContext of the session's user for
/// `/orgs/{org}/…`, the same way the API's layer does, with HTML errors.
async fn org_layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let result = async {
        let session = PortalSession::from_request_parts(&mut parts, &state).await?;
        let path = form::Ids::from_request_parts(&mut parts, &state).await?;
        let org: OrganizationId = path.id("org")?;
        let ctx = OrganizationAccessContext::resolve(
            &state,
            session.principal,
            org,
            session.client,
            None,
        )
        .await?;
        Ok::<_, PortalError>(ctx)
    }
    .await;
    match result {
        Ok(ctx) => {
            let ctx = OrgCtx(Arc::new(ctx));
            parts.extensions.insert(ctx.clone());
            let resp = next.run(Request::from_parts(parts, body)).await;
            denied::explain(&ctx, resp).await
        }
        Err(e) => e.into_response(),
    }
}

pub(crate) fn set_security_headers(headers: &mut axum::http::HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

async fn security_headers(mut resp: Response) -> Response {
    set_security_headers(resp.headers_mut());
    resp
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

async fn favicon() -> Response {
    asset("image/svg+xml", FAVICON)
}
