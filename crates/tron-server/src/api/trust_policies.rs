//! Trust policies of a service account: JSON adapters of
//! `ops::trust_policies`.
use axum::http::StatusCode;
use axum::routing::get;
use axum::Json;
use serde_json::{json, Value};
use tron_api::{CreateTrustPolicy, Page, TrustPolicy, UpdateTrustPolicy};
use tron_core::ids::{ServiceAccountId, TrustPolicyId};

use crate::access::OrgCtx;
use crate::api::wire;
use crate::error::ApiResult;
use crate::extract::{ApiJson, Params, PathParams};
use crate::ops;
use crate::ops::trust_policies::{NewPolicy, PolicyPatch};
use crate::routes::{Org, Routes};

pub fn router() -> Routes<Org> {
    Routes::new()
        .route(
            "/service-accounts/{sa_id}/trust-policies",
            get(list).post(create),
        )
        .route(
            "/service-accounts/{sa_id}/trust-policies/{policy_id}",
            get(get_one).patch(update).delete(remove),
        )
}

#[utoipa::path(get, path = "/organizations/{org}/service-accounts/{sa_id}/trust-policies", tag = "trust policies", params(crate::openapi::ListQuery),
    responses(
        (status = 200, description = "The service account's trust policies.", body = Page<TrustPolicy>),
    ))]
async fn list(ctx: OrgCtx, path: PathParams, params: Params) -> ApiResult<Json<Value>> {
    let sa: ServiceAccountId = path.id("sa_id")?;
    let page = params.page()?;
    Ok(Json(json!(wire::page::<_, TrustPolicy>(
        ops::trust_policies::list(&ctx, sa, &page).await?
    ))))
}

#[utoipa::path(post, path = "/organizations/{org}/service-accounts/{sa_id}/trust-policies", tag = "trust policies", request_body = CreateTrustPolicy,
    responses(
        (status = 201, description = "The new trust policy.", body = TrustPolicy),
        (status = 409, description = "The service account has a policy with this name.", body = crate::openapi::ErrorBody),
    ))]
async fn create(
    ctx: OrgCtx,
    path: PathParams,
    ApiJson(body): ApiJson<CreateTrustPolicy>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let sa: ServiceAccountId = path.id("sa_id")?;
    let policy = NewPolicy {
        name: body.name,
        issuer: body.issuer,
        audience: body.audience,
        conditions: body.conditions,
        token_ttl_seconds: body.token_ttl_seconds,
    };
    let created = ops::trust_policies::create(&ctx, sa, policy).await?;
    Ok((StatusCode::CREATED, Json(json!(TrustPolicy::from(created)))))
}

#[utoipa::path(get, path = "/organizations/{org}/service-accounts/{sa_id}/trust-policies/{policy_id}", tag = "trust policies",
    responses(
        (status = 200, description = "The trust policy.", body = TrustPolicy),
    ))]
async fn get_one(ctx: OrgCtx, path: PathParams) -> ApiResult<Json<Value>> {
    let sa: ServiceAccountId = path.id("sa_id")?;
    let id: TrustPolicyId = path.id("policy_id")?;
    Ok(Json(json!(TrustPolicy::from(
        ops::trust_policies::get(&ctx, sa, id).await?
    ))))
}

#[utoipa::path(patch, path = "/organizations/{org}/service-accounts/{sa_id}/trust-policies/{policy_id}", tag = "trust policies", request_body = UpdateTrustPolicy,
    responses(
        (status = 200, description = "The changed trust policy; it applies to the next exchange.", body = TrustPolicy),
        (status = 409, description = "The service account has a policy with this name.", body = crate::openapi::ErrorBody),
    ))]
async fn update(
    ctx: OrgCtx,
    path: PathParams,
    ApiJson(body): ApiJson<UpdateTrustPolicy>,
) -> ApiResult<Json<Value>> {
    let sa: ServiceAccountId = path.id("sa_id")?;
    let id: TrustPolicyId = path.id("policy_id")?;
    let patch = PolicyPatch {
        name: body.name,
        issuer: body.issuer,
        audience: body.audience,
        conditions: body.conditions,
        token_ttl_seconds: body.token_ttl_seconds,
    };
    Ok(Json(json!(TrustPolicy::from(
        ops::trust_policies::update(&ctx, sa, id, patch).await?
    ))))
}

#[utoipa::path(delete, path = "/organizations/{org}/service-accounts/{sa_id}/trust-policies/{policy_id}", tag = "trust policies",
    responses(
        (status = 204, description = "Deleted; tokens it minted live out their lifetime."),
    ))]
async fn remove(ctx: OrgCtx, path: PathParams) -> ApiResult<StatusCode> {
    let sa: ServiceAccountId = path.id("sa_id")?;
    let id: TrustPolicyId = path.id("policy_id")?;
    ops::trust_policies::delete(&ctx, sa, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, get_one, update, remove))]
pub struct Doc;
