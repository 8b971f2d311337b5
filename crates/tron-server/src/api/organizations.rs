//! Organizations and their members.
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tron_core::ids::MemberId;
use tron_core::principal::PrincipalKind;
use tron_core::settings::SettingsPatch;
use tron_core::values::{DisplayName, Email};
use tron_core::Error;
use tron_store::models::PrincipalType;
use tron_store::models::{Member, Organization};
use tron_store::Page;
use utoipa::ToSchema;

use crate::access::OrgCtx;
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateOrganization)]
struct CreateBody {
    name: DisplayName,
}

#[utoipa::path(post, path = "/organizations", tag = "organizations", request_body = CreateBody,
    responses((status = 201, description = "The new organization; the caller is in its Administrators group.", body = Organization)))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let user = caller.auth().require_user()?;
    let org = state
        .store
        .create_organization(&caller.meta, state.now(), body.name.into(), user)
        .await?;
    Ok((StatusCode::CREATED, Json(json!(org))))
}

#[utoipa::path(get, path = "/organizations/{org}", tag = "organizations",
    responses((status = 200, description = "The organization.", body = Organization)))]
async fn get_one(ctx: OrgCtx) -> ApiResult<Json<Value>> {
    Ok(Json(json!(ops::organization::get(&ctx)?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UpdateOrganization)]
struct PatchBody {
    name: Option<DisplayName>,
    /// Merged into the current settings.
    #[schema(value_type = Option<SettingsPatch>)]
    settings: Option<serde_json::Map<String, Value>>,
}

#[utoipa::path(patch, path = "/organizations/{org}", tag = "organizations", request_body = PatchBody,
    responses((status = 200, description = "The updated organization.", body = Organization)))]
async fn update(ctx: OrgCtx, ApiJson(body): ApiJson<PatchBody>) -> ApiResult<Json<Value>> {
    // An object only: serde would read the struct from an array too.
    let settings: Option<SettingsPatch> = body
        .settings
        .map(|m| {
            serde_json::from_value(Value::Object(m))
                .map_err(|e| Error::validation("settings", format!("settings is not valid: {e}")))
        })
        .transpose()?;
    let org = ops::organization::update(&ctx, body.name, settings.as_ref()).await?;
    Ok(Json(json!(org)))
}

#[utoipa::path(delete, path = "/organizations/{org}", tag = "organizations",
    responses((status = 204, description = "Deleted with everything in it.")))]
async fn remove(ctx: OrgCtx) -> ApiResult<StatusCode> {
    ops::organization::delete(&ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/organizations/{org}/members", tag = "members",
    params(crate::openapi::ListQuery, ("principal_type" = inline(Option<tron_store::models::PrincipalType>), Query, description = "Only users or only service accounts.")),
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
    let page = ops::members::list(&ctx, principal_type, None, &params.page()?).await?;
    Ok(Json(json!(page)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AddMemberBody {
    /// An existing user's email.
    email: Email,
}

#[utoipa::path(post, path = "/organizations/{org}/members", tag = "members", request_body = AddMemberBody,
    responses(
        (status = 201, description = "The new member.", body = Member),
        (status = 409, description = "Already a member.", body = crate::openapi::ErrorBody),
    ))]
async fn add_member(
    ctx: OrgCtx,
    ApiJson(body): ApiJson<AddMemberBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let member = ops::members::add(&ctx, &body.email).await?;
    Ok((StatusCode::CREATED, Json(json!(member))))
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
