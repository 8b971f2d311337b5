//! Groups and their members.
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tron_core::authz::{Action, Resource, Role, Scope};
use tron_core::ids::{GroupId, MemberId};
use tron_core::{validate, Error};
use tron_store::groups::{GroupPatch, NewGroup};
use tron_store::models::{Group, Member};
use tron_store::Page;
use utoipa::ToSchema;

use crate::access::OrgCtx;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Params, PathParams};
use crate::routes::{Org, Routes};
use crate::state::AppState;

pub fn router() -> Routes<Org> {
    Routes::new()
        .route("/groups", get(list).post(create))
        .route(
            "/groups/{group_id}",
            get(get_one).patch(update).delete(remove),
        )
        .route("/groups/{group_id}/members", get(list_members))
        .route(
            "/groups/{group_id}/members/{member_id}",
            put(add_member).delete(remove_member),
        )
}

fn parse_role(s: &str) -> Result<Role, ApiError> {
    Role::parse(s)
        .ok_or_else(|| Error::validation("role", "role must be viewer, editor or admin").into())
}

fn parse_scope(v: serde_json::Value) -> Result<Scope, ApiError> {
    // `deny_unknown_fields` does not reach the unit variant of an internally
    // tagged enum: serde would read `{"type": "organization",
    // "environment_ids": [..]}` as an organization-wide scope, silently
    // widening what the caller asked for. The keys are checked here.
    if let Some(obj) = v.as_object() {
        let (kind, known): (&str, &[&str]) = match obj.get("type").and_then(Value::as_str) {
            Some("organization") => ("organization", &["type"]),
            Some("environment") => ("environment", &["type", "environment_ids"]),
            Some("application") => ("application", &["type", "application_ids"]),
            // Anything else is refused by serde below, with its reason.
            _ => ("", &[]),
        };
        if let Some(k) = obj
            .keys()
            .find(|k| !known.is_empty() && !known.contains(&k.as_str()))
        {
            return Err(Error::validation(
                "scope",
                format!("unknown field {k:?} in an {kind} scope"),
            )
            .into());
        }
    }
    serde_json::from_value::<Scope>(v).map_err(|e| {
        Error::validation(
            "scope",
            format!("scope must be {{\"type\": \"organization\"}}, {{\"type\": \"environment\", \"environment_ids\": [..]}} or {{\"type\": \"application\", \"application_ids\": [..]}}: {e}"),
        )
        .into()
    })
}

#[utoipa::path(get, path = "/organizations/{org}/groups", tag = "groups", params(crate::openapi::ListQuery),
    responses((status = 200, description = "Groups.", body = Page<Group>)))]
async fn list(
    State(state): State<AppState>,
    ctx: OrgCtx,
    params: Params,
) -> ApiResult<Json<Value>> {
    ctx.require(Action::View, &Resource::Groups)?;
    Ok(Json(json!(
        state
            .store
            .list_groups(ctx.org_id(), &params.page()?)
            .await?
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateGroup)]
struct CreateBody {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\s\u0000-\u001F\u007F-\u009F]([^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F])?$"
    )]
    name: String,
    #[serde(default)]
    #[schema(
        max_length = 1000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    description: Option<String>,
    #[schema(value_type = Role)]
    role: String,
    #[schema(value_type = Scope)]
    scope: serde_json::Value,
}

#[utoipa::path(post, path = "/organizations/{org}/groups", tag = "groups", request_body = CreateBody,
    responses(
        (status = 201, description = "The new group.", body = Group),
        (status = 409, description = "The name is taken.", body = crate::openapi::ErrorBody),
    ))]
async fn create(
    State(state): State<AppState>,
    ctx: OrgCtx,
    ApiJson(body): ApiJson<CreateBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Action::Create, &Resource::Groups)?;
    let name = validate::display_name("name", &body.name)?;
    let description =
        validate::description("description", body.description.as_deref().unwrap_or(""))?;
    let role = parse_role(&body.role)?;
    let scope = parse_scope(body.scope)?;
    let group = state
        .store
        .create_group(
            ctx.meta(),
            state.now(),
            ctx.org_id(),
            NewGroup {
                name,
                description,
                role,
                scope,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(json!(group))))
}

#[utoipa::path(get, path = "/organizations/{org}/groups/{group_id}", tag = "groups",
    responses((status = 200, description = "The group.", body = Group)))]
async fn get_one(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
) -> ApiResult<Json<Value>> {
    ctx.require(Action::View, &Resource::Groups)?;
    let id: GroupId = path.id("group_id")?;
    Ok(Json(json!(state.store.get_group(ctx.org_id(), id).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UpdateGroup)]
struct PatchBody {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\s\u0000-\u001F\u007F-\u009F]([^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F])?$"
    )]
    name: Option<String>,
    #[schema(
        max_length = 1000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    description: Option<String>,
    #[schema(value_type = Option<Role>)]
    role: Option<String>,
    #[schema(value_type = Option<Scope>)]
    scope: Option<serde_json::Value>,
}

#[utoipa::path(patch, path = "/organizations/{org}/groups/{group_id}", tag = "groups", request_body = PatchBody,
    responses(
        (status = 200, description = "The updated group.", body = Group),
        (status = 409, description = "The name is taken (`conflict`), or `last_admin`.", body = crate::openapi::ErrorBody),
    ))]
async fn update(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
    ApiJson(body): ApiJson<PatchBody>,
) -> ApiResult<Json<Value>> {
    ctx.require(Action::Update, &Resource::Groups)?;
    let id: GroupId = path.id("group_id")?;
    let patch = GroupPatch {
        name: body
            .name
            .as_deref()
            .map(|n| validate::display_name("name", n))
            .transpose()?,
        description: body
            .description
            .as_deref()
            .map(|d| validate::description("description", d))
            .transpose()?,
        role: body.role.as_deref().map(parse_role).transpose()?,
        scope: body.scope.map(parse_scope).transpose()?,
    };
    Ok(Json(json!(
        state
            .store
            .update_group(ctx.meta(), state.now(), ctx.org_id(), id, patch)
            .await?
    )))
}

#[utoipa::path(delete, path = "/organizations/{org}/groups/{group_id}", tag = "groups",
    responses(
        (status = 204, description = "Deleted."),
        (status = 409, description = "`last_admin`.", body = crate::openapi::ErrorBody),
    ))]
async fn remove(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
) -> ApiResult<StatusCode> {
    ctx.require(Action::Delete, &Resource::Groups)?;
    let id: GroupId = path.id("group_id")?;
    state
        .store
        .delete_group(ctx.meta(), state.now(), ctx.org_id(), id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/organizations/{org}/groups/{group_id}/members", tag = "groups", params(crate::openapi::ListQuery),
    responses((status = 200, description = "The group's members.", body = Page<Member>)))]
async fn list_members(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
    params: Params,
) -> ApiResult<Json<Value>> {
    ctx.require(Action::View, &Resource::Groups)?;
    let id: GroupId = path.id("group_id")?;
    state.store.get_group(ctx.org_id(), id).await?;
    Ok(Json(json!(
        state
            .store
            .list_members(ctx.org_id(), None, Some(id), &params.page()?)
            .await?
    )))
}

#[utoipa::path(put, path = "/organizations/{org}/groups/{group_id}/members/{member_id}", tag = "groups",
    responses((status = 204, description = "The member is in the group (idempotent).")))]
async fn add_member(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
) -> ApiResult<StatusCode> {
    ctx.require(Action::Update, &Resource::Groups)?;
    let group: GroupId = path.id("group_id")?;
    let member: MemberId = path.id("member_id")?;
    state
        .store
        .add_group_member(ctx.meta(), state.now(), ctx.org_id(), group, member)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/organizations/{org}/groups/{group_id}/members/{member_id}", tag = "groups",
    responses(
        (status = 204, description = "The member is not in the group (idempotent)."),
        (status = 409, description = "`last_admin`.", body = crate::openapi::ErrorBody),
    ))]
async fn remove_member(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
) -> ApiResult<StatusCode> {
    ctx.require(Action::Update, &Resource::Groups)?;
    let group: GroupId = path.id("group_id")?;
    let member: MemberId = path.id("member_id")?;
    state
        .store
        .remove_group_member(ctx.meta(), state.now(), ctx.org_id(), group, member)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list,
    create,
    get_one,
    update,
    remove,
    list_members,
    add_member,
    remove_member
))]
pub struct Doc;
