//! Organizations and their members.
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::Json;
use serde_json::{json, Value};
use tron_api::{
    AddMember, CreateOrganization, Member, Organization, Page, PrincipalType, UpdateOrganization,
};
use tron_core::ids::MemberId;
use tron_core::principal::PrincipalKind;
use tron_core::settings::SettingsPatch;
use tron_core::Error;

use crate::access::OrgCtx;
use crate::api::wire;
use crate::auth::{Auth, Caller};
use crate::error::ApiResult;
use crate::extract::{ApiJson, Params, PathParams};
use crate::ops;
use crate::routes::{Api, Org, Routes};
use crate::state::AppState;

pub fn router() -> Routes<Api> {
    Routes::new().route("/organizations", get(list).post(create))
}

/// Mounted under `/organizations/{org}` behind the access context.
pub fn org_router() -> Routes<Org> {
    Routes::new()
        .route("/", get(get_one).patch(update).delete(remove))
        .route("/members", get(list_members).post(add_member))
        .route("/members/{member_id}", delete(remove_member))
}

#[utoipa::path(get, path = "/organizations", tag = "organizations",
    params(crate::openapi::ListQuery, ("all" = Option<bool>, Query, description = "Every organization (superusers).")),
    responses((status = 200, description = "The caller's organizations.", body = Page<Organization>)))]
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
            let items = if first_page {
                vec![Organization::from(org)]
            } else {
                Vec::new()
            };
            Ok(Json(json!({"items": items, "next_cursor": null})))
        }
        PrincipalKind::User { id, .. } => {
            let member = if all { None } else { Some(id) };
            Ok(Json(json!(wire::page::<_, Organization>(
                state.store.list_organizations(member, &page).await?
            ))))
        }
    }
}

#[utoipa::path(post, path = "/organizations", tag = "organizations", request_body = CreateOrganization,
    responses((status = 201, description = "The new organization; the caller is in its Administrators group.", body = Organization)))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateOrganization>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let user = caller.auth().require_user()?;
    let org = state
        .store
        .create_organization(&caller.meta, state.now(), body.name.into(), user)
        .await?;
    Ok((StatusCode::CREATED, Json(json!(Organization::from(org)))))
}

#[utoipa::path(get, path = "/organizations/{org}", tag = "organizations",
    responses((status = 200, description = "The organization.", body = Organization)))]
async fn get_one(ctx: OrgCtx) -> ApiResult<Json<Value>> {
    Ok(Json(json!(Organization::from(
        ops::organization::get(&ctx)?.clone()
    ))))
}

#[utoipa::path(patch, path = "/organizations/{org}", tag = "organizations", request_body = UpdateOrganization,
    responses((status = 200, description = "The updated organization.", body = Organization)))]
async fn update(ctx: OrgCtx, ApiJson(body): ApiJson<UpdateOrganization>) -> ApiResult<Json<Value>> {
    // An object only: serde would read the struct from an array too.
    let settings: Option<SettingsPatch> = body
        .settings
        .map(|m| {
            serde_json::from_value(Value::Object(m))
                .map_err(|e| Error::validation("settings", format!("settings is not valid: {e}")))
        })
        .transpose()?;
    let org = ops::organization::update(&ctx, body.name, settings.as_ref()).await?;
    Ok(Json(json!(Organization::from(org))))
}

#[utoipa::path(delete, path = "/organizations/{org}", tag = "organizations",
    responses((status = 204, description = "Deleted with everything in it.")))]
async fn remove(ctx: OrgCtx) -> ApiResult<StatusCode> {
    ops::organization::delete(&ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/organizations/{org}/members", tag = "members",
    params(crate::openapi::ListQuery, ("principal_type" = inline(Option<PrincipalType>), Query, description = "Only users or only service accounts.")),
    responses((status = 200, description = "Members.", body = Page<Member>)))]
async fn list_members(ctx: OrgCtx, params: Params) -> ApiResult<Json<Value>> {
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
    let page =
        ops::members::list(&ctx, principal_type.map(Into::into), None, &params.page()?).await?;
    Ok(Json(json!(wire::page::<_, Member>(page))))
}

#[utoipa::path(post, path = "/organizations/{org}/members", tag = "members", request_body = AddMember,
    responses(
        (status = 201, description = "The new member.", body = Member),
        (status = 409, description = "Already a member.", body = crate::openapi::ErrorBody),
    ))]
async fn add_member(
    ctx: OrgCtx,
    ApiJson(body): ApiJson<AddMember>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let member = ops::members::add(&ctx, &body.email).await?;
    Ok((StatusCode::CREATED, Json(json!(Member::from(member)))))
}

#[utoipa::path(delete, path = "/organizations/{org}/members/{member_id}", tag = "members",
    responses(
        (status = 204, description = "Removed."),
        (status = 409, description = "`last_admin`, or a service account's member (`conflict`).", body = crate::openapi::ErrorBody),
    ))]
async fn remove_member(ctx: OrgCtx, path: PathParams) -> ApiResult<StatusCode> {
    let id: MemberId = path.id("member_id")?;
    ops::members::remove(&ctx, id).await?;
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
