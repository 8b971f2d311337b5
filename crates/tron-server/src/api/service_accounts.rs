//! Service accounts and service tokens: JSON adapters of
//! `ops::service_accounts` and `ops::tokens`.
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::Json;
use serde_json::{json, Value};
use tron_api::{
    CreateServiceAccount, CreateToken, Page, RotateOwnToken, RotateToken, ServiceAccount,
    TokenView, UpdateServiceAccount, WithToken,
};
use tron_core::ids::{ServiceAccountId, TokenId};
use tron_core::principal::PrincipalKind;
use tron_core::token::SecretToken;
use tron_core::values::Timestamp;
use tron_core::Error;

use crate::access::{OrgCtx, OrganizationAccessContext};
use crate::api::me::OptionalRotate;
use crate::api::wire;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{ApiJson, OptionalJson, Params, PathParams};
use crate::ops;
use crate::ops::service_accounts::Change;
use crate::ops::tokens::Rotation;
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
async fn list(ctx: OrgCtx, params: Params) -> ApiResult<Json<Value>> {
    let page = params.page()?;
    Ok(Json(json!(wire::page::<_, ServiceAccount>(
        ops::service_accounts::list(&ctx, &page).await?
    ))))
}

#[utoipa::path(post, path = "/organizations/{org}/service-accounts", tag = "service accounts", request_body = CreateServiceAccount,
    responses(
        (status = 201, description = "The new service account.", body = ServiceAccount),
        (status = 409, description = "The name is taken.", body = crate::openapi::ErrorBody),
    ))]
async fn create(
    ctx: OrgCtx,
    ApiJson(body): ApiJson<CreateServiceAccount>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let sa = ops::service_accounts::create(&ctx, body.name, body.description.unwrap_or_default())
        .await?;
    Ok((StatusCode::CREATED, Json(json!(ServiceAccount::from(sa)))))
}

#[utoipa::path(get, path = "/organizations/{org}/service-accounts/{sa_id}", tag = "service accounts",
    responses(
        (status = 200, description = "The service account.", body = ServiceAccount),
    ))]
async fn get_one(ctx: OrgCtx, path: PathParams) -> ApiResult<Json<Value>> {
    let id: ServiceAccountId = path.id("sa_id")?;
    Ok(Json(json!(ServiceAccount::from(
        ops::service_accounts::get(&ctx, id).await?
    ))))
}

#[utoipa::path(patch, path = "/organizations/{org}/service-accounts/{sa_id}", tag = "service accounts", request_body = UpdateServiceAccount,
    responses(
        (status = 200, description = "The updated service account.", body = ServiceAccount),
        (status = 409, description = "The name is taken.", body = crate::openapi::ErrorBody),
    ))]
async fn update(
    ctx: OrgCtx,
    path: PathParams,
    ApiJson(body): ApiJson<UpdateServiceAccount>,
) -> ApiResult<Json<Value>> {
    let id: ServiceAccountId = path.id("sa_id")?;
    let change = Change {
        name: body.name,
        description: body.description,
        status: body.status.map(Into::into),
    };
    Ok(Json(json!(ServiceAccount::from(
        ops::service_accounts::update(&ctx, id, change).await?
    ))))
}

#[utoipa::path(delete, path = "/organizations/{org}/service-accounts/{sa_id}", tag = "service accounts",
    responses(
        (status = 204, description = "Deleted: its tokens are revoked and its member removed."),
    ))]
async fn remove(ctx: OrgCtx, path: PathParams) -> ApiResult<StatusCode> {
    let id: ServiceAccountId = path.id("sa_id")?;
    ops::service_accounts::delete(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/organizations/{org}/service-accounts/{sa_id}/tokens", tag = "service tokens", params(crate::openapi::ListQuery),
    responses(
        (status = 200, description = "The service account's tokens.", body = Page<TokenView>),
    ))]
async fn list_tokens(ctx: OrgCtx, path: PathParams, params: Params) -> ApiResult<Json<Value>> {
    let sa: ServiceAccountId = path.id("sa_id")?;
    let page = params.page()?;
    let now = ctx.now();
    let tokens = ops::tokens::list(&ctx, sa, &page).await?;
    Ok(Json(json!(wire::page::<_, TokenView>(
        tokens.map(|t| t.view(now))
    ))))
}

#[utoipa::path(post, path = "/organizations/{org}/service-accounts/{sa_id}/tokens", tag = "service tokens", request_body = CreateToken,
    responses(
        (status = 201, description = "The new token, with its secret shown once.", body = WithToken<TokenView>),
    ))]
async fn create_token(
    ctx: OrgCtx,
    path: PathParams,
    ApiJson(body): ApiJson<CreateToken>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let sa: ServiceAccountId = path.id("sa_id")?;
    let minted =
        ops::tokens::issue(&ctx, sa, body.name, body.expires_at.map(Timestamp::get)).await?;
    Ok(created_with_token(minted))
}

/// `201` with the new token's object and its secret, shown once.
fn created_with_token(
    (view, secret): (tron_store::models::TokenView, SecretToken),
) -> (StatusCode, Json<Value>) {
    let body = WithToken {
        inner: TokenView::from(view),
        token: secret.reveal(),
    };
    (StatusCode::CREATED, Json(json!(body)))
}

#[utoipa::path(delete, path = "/organizations/{org}/service-accounts/{sa_id}/tokens/{token_id}", tag = "service tokens",
    responses(
        (status = 204, description = "Revoked (idempotent)."),
    ))]
async fn revoke_token(ctx: OrgCtx, path: PathParams) -> ApiResult<StatusCode> {
    let sa: ServiceAccountId = path.id("sa_id")?;
    let token: TokenId = path.id("token_id")?;
    ops::tokens::revoke(&ctx, sa, token).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/organizations/{org}/service-accounts/{sa_id}/tokens/{token_id}/rotate", tag = "service tokens", request_body = RotateToken,
    responses(
        (status = 201, description = "The new token, with its secret shown once.", body = WithToken<TokenView>),
        (status = 409, description = "The token is revoked or expired, or was already rotated (it has its successor).", body = crate::openapi::ErrorBody),
    ))]
async fn rotate_token(
    ctx: OrgCtx,
    path: PathParams,
    OptionalJson(body): OptionalRotate,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let sa: ServiceAccountId = path.id("sa_id")?;
    let token: TokenId = path.id("token_id")?;
    let rotation = Rotation::new(
        "grace_period_seconds",
        body.grace_period_seconds,
        body.expires_at.map(Timestamp::get),
    )?;
    Ok(created_with_token(
        ops::tokens::rotate(&ctx, sa, token, rotation).await?,
    ))
}

/// `POST /me/token/rotate`: a service token rotates itself.
#[utoipa::path(post, path = "/me/token/rotate", tag = "service tokens", request_body = RotateOwnToken,
    responses(
        (status = 201, description = "The new token, with its secret shown once.", body = WithToken<TokenView>),
        (status = 409, description = "The token is revoked or expired, or was already rotated (it has its successor).", body = crate::openapi::ErrorBody),
    ))]
pub async fn rotate_self(
    State(state): State<AppState>,
    caller: Caller,
    OptionalJson(body): OptionalJson<RotateOwnToken>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let PrincipalKind::ServiceAccount {
        organization_id, ..
    } = caller.principal.kind
    else {
        return Err(Error::Forbidden.into());
    };
    let grace = Rotation::new("grace_period_seconds", body.grace_period_seconds, None)?;
    // The account's own organization, opened through the access path like
    // any other request's.
    let ctx = OrganizationAccessContext::resolve(
        &state,
        caller.principal,
        organization_id,
        caller.client,
        None,
    )
    .await?;
    Ok(created_with_token(
        ops::tokens::rotate_self(&ctx, grace.grace_seconds).await?,
    ))
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
