//! Service accounts and service tokens.
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use tron_core::authz::{Action, Resource};
use tron_core::ids::{OrganizationId, ServiceAccountId, TokenId};
use tron_core::principal::PrincipalKind;
use tron_core::settings::OrganizationSettings;
use tron_core::token::{SecretToken, TokenKind};
use tron_core::values::Timestamp;
use tron_core::{validate, Error};
use tron_store::models::ServiceAccount;
use tron_store::models::{RequestMeta, ServiceAccountStatus, TokenRecord, TokenView};
use tron_store::service_accounts::ServiceAccountPatch;
use tron_store::tokens::NewTokenOwner;
use tron_store::Page;
use utoipa::ToSchema;

use crate::access::OrgCtx;
use crate::api::me::{mint, CreateTokenBody, OptionalRotate, RotateBody, WithToken};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, OptionalJson, Params, PathParams};
use crate::routes::{Org, Routes};
use crate::state::AppState;

pub fn router() -> Routes<Org> {
    Routes::new()
        .route("/service-accounts", get(list).post(create))
        .route(
            "/service-accounts/{sa_id}",
            get(get_one).patch(update).delete(remove),
        )
        .route(
            "/service-accounts/{sa_id}/tokens",
            get(list_tokens).post(create_token),
        )
        .route(
            "/service-accounts/{sa_id}/tokens/{token_id}",
            delete(revoke_token),
        )
        .route(
            "/service-accounts/{sa_id}/tokens/{token_id}/rotate",
            post(rotate_token),
        )
}

#[utoipa::path(get, path = "/organizations/{org}/service-accounts", tag = "service accounts", params(crate::openapi::ListQuery),
    responses(
        (status = 200, description = "Service accounts.", body = Page<ServiceAccount>),
    ))]
async fn list(
    State(state): State<AppState>,
    ctx: OrgCtx,
    params: Params,
) -> ApiResult<Json<Value>> {
    ctx.require(Action::View, &Resource::ServiceAccounts)?;
    Ok(Json(json!(
        state
            .store
            .list_service_accounts(state.now(), ctx.org_id(), &params.page()?)
            .await?
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateServiceAccount)]
struct CreateBody {
    #[schema(
        min_length = 1,
        max_length = 63,
        pattern = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
    )]
    name: String,
    #[serde(default)]
    #[schema(
        max_length = 1000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    description: Option<String>,
}

#[utoipa::path(post, path = "/organizations/{org}/service-accounts", tag = "service accounts", request_body = CreateBody,
    responses(
        (status = 201, description = "The new service account.", body = ServiceAccount),
        (status = 409, description = "The name is taken.", body = crate::openapi::ErrorBody),
    ))]
async fn create(
    State(state): State<AppState>,
    ctx: OrgCtx,
    ApiJson(body): ApiJson<CreateBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Action::Create, &Resource::ServiceAccounts)?;
    let name = validate::slug_name("name", &body.name)?;
    let description =
        validate::description("description", body.description.as_deref().unwrap_or(""))?;
    let sa = state
        .store
        .create_service_account(ctx.meta(), state.now(), ctx.org_id(), name, description)
        .await?;
    Ok((StatusCode::CREATED, Json(json!(sa))))
}

#[utoipa::path(get, path = "/organizations/{org}/service-accounts/{sa_id}", tag = "service accounts",
    responses(
        (status = 200, description = "The service account.", body = ServiceAccount),
    ))]
async fn get_one(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
) -> ApiResult<Json<Value>> {
    ctx.require(Action::View, &Resource::ServiceAccounts)?;
    let id: ServiceAccountId = path.id("sa_id")?;
    Ok(Json(json!(
        state
            .store
            .get_service_account(state.now(), ctx.org_id(), id)
            .await?
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UpdateServiceAccount)]
struct PatchBody {
    #[schema(
        min_length = 1,
        max_length = 63,
        pattern = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
    )]
    name: Option<String>,
    #[schema(
        max_length = 1000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    description: Option<String>,
    #[schema(value_type = Option<ServiceAccountStatus>)]
    status: Option<String>,
}

#[utoipa::path(patch, path = "/organizations/{org}/service-accounts/{sa_id}", tag = "service accounts", request_body = PatchBody,
    responses(
        (status = 200, description = "The updated service account.", body = ServiceAccount),
        (status = 409, description = "The name is taken.", body = crate::openapi::ErrorBody),
    ))]
async fn update(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
    ApiJson(body): ApiJson<PatchBody>,
) -> ApiResult<Json<Value>> {
    ctx.require(Action::Update, &Resource::ServiceAccounts)?;
    let id: ServiceAccountId = path.id("sa_id")?;
    let patch = ServiceAccountPatch {
        name: body
            .name
            .as_deref()
            .map(|n| validate::slug_name("name", n))
            .transpose()?,
        description: body
            .description
            .as_deref()
            .map(|d| validate::description("description", d))
            .transpose()?,
        status: body
            .status
            .as_deref()
            .map(|s| {
                ServiceAccountStatus::parse(s).ok_or_else(|| {
                    ApiError(Error::validation(
                        "status",
                        "status must be active or disabled",
                    ))
                })
            })
            .transpose()?,
    };
    let sa = state
        .store
        .update_service_account(ctx.meta(), state.now(), ctx.org_id(), id, patch)
        .await?;
    Ok(Json(json!(sa)))
}

#[utoipa::path(delete, path = "/organizations/{org}/service-accounts/{sa_id}", tag = "service accounts",
    responses(
        (status = 204, description = "Deleted: its tokens are revoked and its member removed."),
    ))]
async fn remove(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
) -> ApiResult<StatusCode> {
    ctx.require(Action::Delete, &Resource::ServiceAccounts)?;
    let id: ServiceAccountId = path.id("sa_id")?;
    state
        .store
        .delete_service_account(ctx.meta(), state.now(), ctx.org_id(), id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/organizations/{org}/service-accounts/{sa_id}/tokens", tag = "service tokens", params(crate::openapi::ListQuery),
    responses(
        (status = 200, description = "The service account's tokens.", body = Page<TokenView>),
    ))]
async fn list_tokens(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
    params: Params,
) -> ApiResult<Json<Value>> {
    ctx.require(Action::View, &Resource::ServiceTokens)?;
    let sa: ServiceAccountId = path.id("sa_id")?;
    let page = params.page()?;
    state
        .store
        .get_service_account(state.now(), ctx.org_id(), sa)
        .await?;
    let now = state.now();
    Ok(Json(json!(state
        .store
        .list_service_tokens(ctx.org_id(), sa, &page)
        .await?
        .map(|t| t.view(now)))))
}

#[utoipa::path(post, path = "/organizations/{org}/service-accounts/{sa_id}/tokens", tag = "service tokens", request_body = CreateTokenBody,
    responses(
        (status = 201, description = "The new token, with its secret shown once.", body = WithToken<TokenView>),
    ))]
async fn create_token(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
    ApiJson(body): ApiJson<CreateTokenBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let sa: ServiceAccountId = path.id("sa_id")?;
    let (view, secret) = issue_token(
        &state,
        &ctx,
        sa,
        &body.name,
        body.expires_at.map(Timestamp::get),
    )
    .await?;
    let body = WithToken {
        inner: view,
        token: secret.reveal(),
    };
    Ok((StatusCode::CREATED, Json(json!(body))))
}

/// Mints a service token under the organization's lifetime policy; shared
/// by the API and the portal. The secret is for the caller to show once.
pub(crate) async fn issue_token(
    state: &AppState,
    ctx: &OrgCtx,
    sa: ServiceAccountId,
    name: &str,
    expires_at: Option<DateTime<Utc>>,
) -> ApiResult<(TokenView, SecretToken)> {
    ctx.require(Action::Create, &Resource::ServiceTokens)?;
    let now = state.now();
    let name = validate::display_name("name", name)?;
    ctx.organization()
        .settings
        .check_service_token_expiry(now, expires_at)?;
    let (secret, new) = mint(
        state,
        TokenKind::Service,
        name,
        NewTokenOwner::ServiceAccount(sa, ctx.org_id()),
        expires_at,
    );
    let rec = state
        .store
        .create_service_token(ctx.meta(), now, ctx.org_id(), sa, new)
        .await?;
    // The new token's own creation time is the clock read under the lock.
    Ok((rec.view(rec.created_at), secret))
}

#[utoipa::path(delete, path = "/organizations/{org}/service-accounts/{sa_id}/tokens/{token_id}", tag = "service tokens",
    responses(
        (status = 204, description = "Revoked (idempotent)."),
    ))]
async fn revoke_token(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
) -> ApiResult<StatusCode> {
    ctx.require(Action::Delete, &Resource::ServiceTokens)?;
    let sa: ServiceAccountId = path.id("sa_id")?;
    let token: TokenId = path.id("token_id")?;
    state
        .store
        .revoke_service_token(ctx.meta(), state.now(), ctx.org_id(), sa, token)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The rotation shared by the admin route, self-rotation and the portal.
/// The new secret is for the caller to show once.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn rotate_secret(
    state: &AppState,
    meta: &RequestMeta,
    org: OrganizationId,
    settings: OrganizationSettings,
    sa: ServiceAccountId,
    token: TokenId,
    body: RotateBody,
) -> ApiResult<(TokenView, SecretToken)> {
    let now = state.now();
    let grace = body.grace_period_seconds.unwrap_or(0);
    if !(0..=86_400).contains(&grace) {
        return Err(Error::validation(
            "grace_period_seconds",
            "grace_period_seconds must be from 0 to 86400",
        )
        .into());
    }
    let requested = body.expires_at.map(Timestamp::get);
    if requested.is_some() {
        settings.check_service_token_expiry(now, requested)?;
    }
    let mut secret = None;
    let (_, rec) = state
        .store
        .rotate_service_token(
            meta,
            state.clock.as_ref(),
            org,
            sa,
            token,
            Duration::seconds(grace),
            |old: &TokenRecord, now| {
                let expires_at = requested
                    .or_else(|| settings.rotated_expiry(now, old.created_at, old.expires_at));
                let (s, new) = mint(
                    state,
                    TokenKind::Service,
                    old.name.clone(),
                    NewTokenOwner::ServiceAccount(sa, org),
                    expires_at,
                );
                secret = Some(s);
                Ok(new)
            },
        )
        .await?;
    let secret = secret.ok_or_else(|| Error::internal("rotation minted no token"))?;
    // The new token's own creation time is the clock read under the lock.
    Ok((rec.view(rec.created_at), secret))
}

async fn rotate(
    state: &AppState,
    meta: &RequestMeta,
    org: OrganizationId,
    settings: OrganizationSettings,
    sa: ServiceAccountId,
    token: TokenId,
    body: RotateBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (view, secret) = rotate_secret(state, meta, org, settings, sa, token, body).await?;
    let body = WithToken {
        inner: view,
        token: secret.reveal(),
    };
    Ok((StatusCode::CREATED, Json(json!(body))))
}

#[utoipa::path(post, path = "/organizations/{org}/service-accounts/{sa_id}/tokens/{token_id}/rotate", tag = "service tokens", request_body = RotateBody,
    responses(
        (status = 201, description = "The new token, with its secret shown once.", body = WithToken<TokenView>),
        (status = 409, description = "The token is revoked or expired, or was already rotated (it has its successor).", body = crate::openapi::ErrorBody),
    ))]
async fn rotate_token(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
    OptionalJson(body): OptionalRotate,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Action::Update, &Resource::ServiceTokens)?;
    let sa: ServiceAccountId = path.id("sa_id")?;
    let token: TokenId = path.id("token_id")?;
    rotate(
        &state,
        ctx.meta(),
        ctx.org_id(),
        ctx.organization().settings,
        sa,
        token,
        body,
    )
    .await
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelfRotateBody {
    /// How long the old token stays active (default 0).
    #[serde(default, deserialize_with = "tron_core::validate::opt_int")]
    #[schema(minimum = 0, maximum = 86400)]
    grace_period_seconds: Option<i64>,
}

/// `POST /me/token/rotate`: a service token rotates itself.
#[utoipa::path(post, path = "/me/token/rotate", tag = "service tokens", request_body = SelfRotateBody,
    responses(
        (status = 201, description = "The new token, with its secret shown once.", body = WithToken<TokenView>),
        (status = 409, description = "The token is revoked or expired, or was already rotated (it has its successor).", body = crate::openapi::ErrorBody),
    ))]
pub async fn rotate_self(
    State(state): State<AppState>,
    caller: Caller,
    OptionalJson(body): OptionalJson<SelfRotateBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let PrincipalKind::ServiceAccount {
        id,
        organization_id,
    } = caller.principal.kind
    else {
        return Err(Error::Forbidden.into());
    };
    let settings = state
        .store
        .get_organization(organization_id)
        .await?
        .settings;
    rotate(
        &state,
        &caller.meta,
        organization_id,
        settings,
        id,
        caller.principal.token_id,
        RotateBody {
            grace_period_seconds: body.grace_period_seconds,
            expires_at: None,
        },
    )
    .await
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list,
    create,
    get_one,
    update,
    remove,
    list_tokens,
    create_token,
    revoke_token,
    rotate_token,
    rotate_self
))]
pub struct Doc;
