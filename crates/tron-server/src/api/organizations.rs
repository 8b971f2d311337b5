//! Organizations and their members.
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tron_core::authz::{Action, Resource};
use tron_core::ids::MemberId;
use tron_core::principal::PrincipalKind;
use tron_core::settings::SettingsPatch;
use tron_core::{validate, Error};
use tron_store::models::PrincipalType;

use crate::access::OrgCtx;
use crate::auth::{Auth, Caller};
use crate::error::ApiResult;
use crate::extract::{ApiJson, Params, PathParams};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/organizations", get(list).post(create))
}

/// Mounted under `/organizations/{org}` behind the access context.
pub fn org_router() -> Router<AppState> {
    Router::new()
        .route("/", get(get_one).patch(update).delete(remove))
        .route("/members", get(list_members).post(add_member))
        .route("/members/{member_id}", delete(remove_member))
}

async fn list(State(state): State<AppState>, auth: Auth, params: Params) -> ApiResult<Json<Value>> {
    let page = params.page()?;
    let all = params.bool("all")?;
    // Listing every organization is for superusers (never a service
    // account), whoever asks.
    if all {
        auth.require_superuser()?;
    }
    match auth.0.kind {
        PrincipalKind::ServiceAccount {
            organization_id, ..
        } => {
            // A service account belongs to exactly one organization.
            let org = state.store.get_organization(organization_id).await?;
            let first_page = page.after.is_none_or(|a| a < organization_id.0);
            let items = if first_page { vec![org] } else { Vec::new() };
            Ok(Json(json!({"items": items, "next_cursor": null})))
        }
        PrincipalKind::User { id, .. } => {
            let member = if all { None } else { Some(id) };
            Ok(Json(json!(
                state.store.list_organizations(member, &page).await?
            )))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let user = caller.auth().require_user()?;
    let name = validate::display_name("name", &body.name)?;
    let org = state
        .store
        .create_organization(&caller.meta, state.now(), name, user)
        .await?;
    Ok((StatusCode::CREATED, Json(json!(org))))
}

async fn get_one(ctx: OrgCtx) -> ApiResult<Json<Value>> {
    ctx.require(Action::View, &Resource::Organization)?;
    Ok(Json(json!(ctx.organization())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    name: Option<String>,
    settings: Option<SettingsPatch>,
}

async fn update(
    State(state): State<AppState>,
    ctx: OrgCtx,
    ApiJson(body): ApiJson<PatchBody>,
) -> ApiResult<Json<Value>> {
    ctx.require(Action::Update, &Resource::Organization)?;
    let name = body
        .name
        .as_deref()
        .map(|n| validate::display_name("name", n))
        .transpose()?;
    if let Some(s) = &body.settings {
        // Validate before writing, so the error names the field.
        ctx.organization().settings.merge(s)?;
    }
    let org = state
        .store
        .update_organization(
            ctx.meta(),
            state.now(),
            ctx.org_id(),
            name,
            body.settings.as_ref(),
        )
        .await?;
    Ok(Json(json!(org)))
}

async fn remove(State(state): State<AppState>, ctx: OrgCtx) -> ApiResult<StatusCode> {
    ctx.require(Action::Delete, &Resource::Organization)?;
    state
        .store
        .delete_organization(ctx.meta(), state.now(), ctx.org_id())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_members(
    State(state): State<AppState>,
    ctx: OrgCtx,
    params: Params,
) -> ApiResult<Json<Value>> {
    ctx.require(Action::View, &Resource::Members)?;
    let principal_type = match params.get("principal_type") {
        None => None,
        Some("user") => Some(PrincipalType::User),
        Some("service_account") => Some(PrincipalType::ServiceAccount),
        Some(_) => {
            return Err(Error::validation(
                "principal_type",
                "principal_type must be user or service_account",
            )
            .into())
        }
    };
    let page = state
        .store
        .list_members(ctx.org_id(), principal_type, None, &params.page()?)
        .await?;
    Ok(Json(json!(page)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddMemberBody {
    email: String,
}

async fn add_member(
    State(state): State<AppState>,
    ctx: OrgCtx,
    ApiJson(body): ApiJson<AddMemberBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Action::Create, &Resource::Members)?;
    let email = validate::email("email", &body.email)?;
    // Only admins get here, so saying that no such user exists is fine.
    let user = state
        .store
        .find_user_by_email(&email)
        .await?
        .ok_or(Error::NotFound)?;
    let member = state
        .store
        .add_member(ctx.meta(), state.now(), ctx.org_id(), &user)
        .await?;
    Ok((StatusCode::CREATED, Json(json!(member))))
}

async fn remove_member(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
) -> ApiResult<StatusCode> {
    ctx.require(Action::Delete, &Resource::Members)?;
    let id: MemberId = path.id("member_id")?;
    state
        .store
        .remove_member(ctx.meta(), state.now(), ctx.org_id(), id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
