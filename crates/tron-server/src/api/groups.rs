//! Groups and their members.
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::Json;
use serde_json::{json, Value};
use tron_api::{CreateGroup, Group, Member, Page, UpdateGroup};
use tron_core::authz::{Role, Scope};
use tron_core::ids::{GroupId, MemberId};
use tron_core::Error;

use crate::access::OrgCtx;
use crate::api::wire;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Params, PathParams};
use crate::ops;
use crate::ops::groups::{Change, Draft};
use crate::routes::{Org, Routes};

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
async fn list(ctx: OrgCtx, params: Params) -> ApiResult<Json<Value>> {
    let page = params.page()?;
    Ok(Json(json!(wire::page::<_, Group>(
        ops::groups::list(&ctx, &page).await?
    ))))
}

#[utoipa::path(post, path = "/organizations/{org}/groups", tag = "groups", request_body = CreateGroup,
    responses(
        (status = 201, description = "The new group.", body = Group),
        (status = 409, description = "The name is taken.", body = crate::openapi::ErrorBody),
    ))]
async fn create(
    ctx: OrgCtx,
    ApiJson(body): ApiJson<CreateGroup>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let draft = Draft {
        name: body.name,
        description: body.description.unwrap_or_default(),
        role: parse_role(&body.role)?,
        scope: parse_scope(body.scope)?,
    };
    let group = ops::groups::create(&ctx, draft).await?;
    Ok((StatusCode::CREATED, Json(json!(Group::from(group)))))
}

#[utoipa::path(get, path = "/organizations/{org}/groups/{group_id}", tag = "groups",
    responses((status = 200, description = "The group.", body = Group)))]
async fn get_one(ctx: OrgCtx, path: PathParams) -> ApiResult<Json<Value>> {
    let id: GroupId = path.id("group_id")?;
    Ok(Json(json!(Group::from(ops::groups::get(&ctx, id).await?))))
}

#[utoipa::path(patch, path = "/organizations/{org}/groups/{group_id}", tag = "groups", request_body = UpdateGroup,
    responses(
        (status = 200, description = "The updated group.", body = Group),
        (status = 409, description = "The name is taken (`conflict`), or `last_admin`.", body = crate::openapi::ErrorBody),
    ))]
async fn update(
    ctx: OrgCtx,
    path: PathParams,
    ApiJson(body): ApiJson<UpdateGroup>,
) -> ApiResult<Json<Value>> {
    let id: GroupId = path.id("group_id")?;
    let change = Change {
        name: body.name,
        description: body.description,
        role: body.role.as_deref().map(parse_role).transpose()?,
        scope: body.scope.map(parse_scope).transpose()?,
    };
    Ok(Json(json!(Group::from(
        ops::groups::update(&ctx, id, change).await?
    ))))
}

#[utoipa::path(delete, path = "/organizations/{org}/groups/{group_id}", tag = "groups",
    responses(
        (status = 204, description = "Deleted."),
        (status = 409, description = "`last_admin`.", body = crate::openapi::ErrorBody),
    ))]
async fn remove(ctx: OrgCtx, path: PathParams) -> ApiResult<StatusCode> {
    let id: GroupId = path.id("group_id")?;
    ops::groups::delete(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/organizations/{org}/groups/{group_id}/members", tag = "groups", params(crate::openapi::ListQuery),
    responses((status = 200, description = "The group's members.", body = Page<Member>)))]
async fn list_members(ctx: OrgCtx, path: PathParams, params: Params) -> ApiResult<Json<Value>> {
    let id: GroupId = path.id("group_id")?;
    let page = params.page()?;
    Ok(Json(json!(wire::page::<_, Member>(
        ops::groups::members(&ctx, id, &page).await?
    ))))
}

#[utoipa::path(put, path = "/organizations/{org}/groups/{group_id}/members/{member_id}", tag = "groups",
    responses((status = 204, description = "The member is in the group (idempotent).")))]
async fn add_member(ctx: OrgCtx, path: PathParams) -> ApiResult<StatusCode> {
    let group: GroupId = path.id("group_id")?;
    let member: MemberId = path.id("member_id")?;
    ops::groups::add_member(&ctx, group, member).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/organizations/{org}/groups/{group_id}/members/{member_id}", tag = "groups",
    responses(
        (status = 204, description = "The member is not in the group (idempotent)."),
        (status = 409, description = "`last_admin`.", body = crate::openapi::ErrorBody),
    ))]
async fn remove_member(ctx: OrgCtx, path: PathParams) -> ApiResult<StatusCode> {
    let group: GroupId = path.id("group_id")?;
    let member: MemberId = path.id("member_id")?;
    ops::groups::remove_member(&ctx, group, member).await?;
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
