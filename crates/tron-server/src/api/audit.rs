//! The audit log: the organization's (admins) and the platform's
//! (superusers).
use axum::extract::State;
use axum::routing::get;
use axum::Json;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tron_api::{AuditEvent, Page};
use tron_core::values::Timestamp;
use tron_core::Error;
use tron_store::audit::AuditFilter;

use crate::access::OrgCtx;
use crate::api::wire;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::Params;
use crate::ops;
use crate::routes::{Api, Org, Routes};
use crate::state::AppState;

pub fn router() -> Routes<Api> {
    Routes::new().route("/audit-events", get(platform))
}

pub fn org_router() -> Routes<Org> {
    Routes::new().route("/audit-events", get(organization))
}

fn filter(params: &Params) -> Result<AuditFilter, ApiError> {
    let time = |name: &str| -> Result<Option<DateTime<Utc>>, ApiError> {
        params
            .get(name)
            .map(|s| {
                Timestamp::parse(s).map(Timestamp::get).ok_or_else(|| {
                    ApiError(Error::validation(
                        name,
                        format!("{name} {}", Timestamp::EXPECTED),
                    ))
                })
            })
            .transpose()
    };
    Ok(ops::audit::Query {
        actor_type: params.get("actor_type"),
        actor_id: params.get("actor_id"),
        action: params.get("action"),
        target_id: params.get("target_id"),
        since: time("since")?,
        until: time("until")?,
    }
    .filter()?)
}

#[utoipa::path(get, path = "/organizations/{org}/audit-events", tag = "audit",
    params(crate::openapi::ListQuery,
        ("actor_type" = inline(Option<tron_core::principal::ActorType>), Query, description = "Only events by this kind of actor."),
        ("actor_id" = Option<String>, Query, description = "Only events by this actor."),
        ("action" = Option<String>, Query, description = "An exact action, or a prefix ending in `.*`."),
        ("target_id" = Option<String>, Query, description = "Only events about this target."),
        ("since" = Option<tron_core::values::Timestamp>, Query, description = "From this time, inclusive."),
        ("until" = Option<tron_core::values::Timestamp>, Query, description = "Before this time."),),
    responses((status = 200, description = "The organization's events, newest first.", body = Page<AuditEvent>)))]
async fn organization(ctx: OrgCtx, params: Params) -> ApiResult<Json<Value>> {
    let f = filter(&params)?;
    let page = params.page()?;
    let events = ops::audit::list(&ctx, &f, &page).await?;
    Ok(Json(json!(wire::page::<_, AuditEvent>(events))))
}

#[utoipa::path(get, path = "/audit-events", tag = "audit",
    params(crate::openapi::ListQuery,
        ("actor_type" = inline(Option<tron_core::principal::ActorType>), Query, description = "Only events by this kind of actor."),
        ("actor_id" = Option<String>, Query, description = "Only events by this actor."),
        ("action" = Option<String>, Query, description = "An exact action, or a prefix ending in `.*`."),
        ("target_id" = Option<String>, Query, description = "Only events about this target."),
        ("since" = Option<tron_core::values::Timestamp>, Query, description = "From this time, inclusive."),
        ("until" = Option<tron_core::values::Timestamp>, Query, description = "Before this time."),),
    responses((status = 200, description = "Platform events (users, personal tokens, logins), newest first.", body = Page<AuditEvent>)))]
async fn platform(
    State(state): State<AppState>,
    auth: Auth,
    params: Params,
) -> ApiResult<Json<Value>> {
    auth.require_superuser()?;
    let f = filter(&params)?;
    let page = ops::audit::list_platform(&state.store, &auth.0, &f, &params.page()?).await?;
    Ok(Json(json!(wire::page::<_, AuditEvent>(page))))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(organization, platform))]
pub struct Doc;
