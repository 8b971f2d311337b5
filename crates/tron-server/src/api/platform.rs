//! Environments, applications, instances and deployments: JSON adapters
//! of `ops::environments`, `ops::applications` and `ops::instances`.
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use serde_json::{json, Value};
use tron_api::{
    Application, CreateApplication, CreateDeployment, CreateEnvironment, Deployment, Environment,
    Instance, Page, PutInstance, UpdateApplication, UpdateEnvironment,
};
use tron_core::ids::{ApplicationId, EnvironmentId};

use crate::access::OrgCtx;
use crate::api::wire;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Params, PathParams};
use crate::ops;
use crate::ops::instances::Spec;
use crate::routes::{Org, Routes};

pub fn router() -> Routes<Org> {
    Routes::new()
        .route("/environments", get(list_envs).post(create_env))
        .route(
            "/environments/{env_id}",
            get(get_env).patch(update_env).delete(delete_env),
        )
        .route("/environments/{env_id}/instances", get(env_instances))
        .route("/applications", get(list_apps).post(create_app))
        .route(
            "/applications/{app_id}",
            get(get_app).patch(update_app).delete(delete_app),
        )
        .route("/applications/{app_id}/instances", get(app_instances))
        .route(
            "/applications/{app_id}/instances/{env_id}",
            get(get_instance).put(put_instance).delete(delete_instance),
        )
        .route(
            "/applications/{app_id}/instances/{env_id}/deployments",
            get(list_deployments).post(create_deployment),
        )
}

#[utoipa::path(get, path = "/organizations/{org}/environments", tag = "environments", params(crate::openapi::ListQuery),
    responses(
        (status = 200, description = "Environments the caller may view.", body = Page<Environment>),
    ))]
async fn list_envs(ctx: OrgCtx, params: Params) -> ApiResult<Json<Value>> {
    let page = params.page()?;
    Ok(Json(json!(wire::page::<_, Environment>(
        ops::environments::list(&ctx, &page).await?
    ))))
}

#[utoipa::path(post, path = "/organizations/{org}/environments", tag = "environments", request_body = CreateEnvironment,
    responses(
        (status = 201, description = "The new environment.", body = Environment),
        (status = 409, description = "The name is taken.", body = crate::openapi::ErrorBody),
    ))]
async fn create_env(
    ctx: OrgCtx,
    ApiJson(body): ApiJson<CreateEnvironment>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let env = ops::environments::create(&ctx, body.name).await?;
    Ok((StatusCode::CREATED, Json(json!(Environment::from(env)))))
}

#[utoipa::path(get, path = "/organizations/{org}/environments/{env_id}", tag = "environments",
    responses(
        (status = 200, description = "The environment.", body = Environment),
    ))]
async fn get_env(ctx: OrgCtx, path: PathParams) -> ApiResult<Json<Value>> {
    let id: EnvironmentId = path.id("env_id")?;
    Ok(Json(json!(Environment::from(
        ops::environments::get(&ctx, id).await?
    ))))
}

#[utoipa::path(patch, path = "/organizations/{org}/environments/{env_id}", tag = "environments", request_body = UpdateEnvironment,
    responses(
        (status = 200, description = "The updated environment.", body = Environment),
        (status = 409, description = "The name is taken.", body = crate::openapi::ErrorBody),
    ))]
async fn update_env(
    ctx: OrgCtx,
    path: PathParams,
    ApiJson(body): ApiJson<UpdateEnvironment>,
) -> ApiResult<Json<Value>> {
    let id: EnvironmentId = path.id("env_id")?;
    Ok(Json(json!(Environment::from(
        ops::environments::rename(&ctx, id, body.name).await?
    ))))
}

#[utoipa::path(delete, path = "/organizations/{org}/environments/{env_id}", tag = "environments",
    responses(
        (status = 204, description = "Deleted, with its instances."),
    ))]
async fn delete_env(ctx: OrgCtx, path: PathParams) -> ApiResult<StatusCode> {
    let id: EnvironmentId = path.id("env_id")?;
    ops::environments::delete(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/organizations/{org}/applications", tag = "applications", params(crate::openapi::ListQuery),
    responses(
        (status = 200, description = "Applications the caller may view.", body = Page<Application>),
    ))]
async fn list_apps(ctx: OrgCtx, params: Params) -> ApiResult<Json<Value>> {
    let page = params.page()?;
    Ok(Json(json!(wire::page::<_, Application>(
        ops::applications::list(&ctx, &page).await?
    ))))
}

#[utoipa::path(post, path = "/organizations/{org}/applications", tag = "applications", request_body = CreateApplication,
    responses(
        (status = 201, description = "The new application.", body = Application),
        (status = 409, description = "The name is taken.", body = crate::openapi::ErrorBody),
    ))]
async fn create_app(
    ctx: OrgCtx,
    ApiJson(body): ApiJson<CreateApplication>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let app = ops::applications::create(&ctx, body.name, body.repository).await?;
    Ok((StatusCode::CREATED, Json(json!(Application::from(app)))))
}

#[utoipa::path(get, path = "/organizations/{org}/applications/{app_id}", tag = "applications",
    responses(
        (status = 200, description = "The application.", body = Application),
    ))]
async fn get_app(ctx: OrgCtx, path: PathParams) -> ApiResult<Json<Value>> {
    let id: ApplicationId = path.id("app_id")?;
    Ok(Json(json!(Application::from(
        ops::applications::get(&ctx, id).await?
    ))))
}

#[utoipa::path(patch, path = "/organizations/{org}/applications/{app_id}", tag = "applications", request_body = UpdateApplication,
    responses(
        (status = 200, description = "The updated application.", body = Application),
        (status = 409, description = "The name is taken.", body = crate::openapi::ErrorBody),
    ))]
async fn update_app(
    ctx: OrgCtx,
    path: PathParams,
    ApiJson(body): ApiJson<UpdateApplication>,
) -> ApiResult<Json<Value>> {
    let id: ApplicationId = path.id("app_id")?;
    let change = ops::applications::Change {
        name: body.name,
        repository: body.repository,
    };
    Ok(Json(json!(Application::from(
        ops::applications::update(&ctx, id, change).await?
    ))))
}

#[utoipa::path(delete, path = "/organizations/{org}/applications/{app_id}", tag = "applications",
    responses(
        (status = 204, description = "Deleted, with its instances."),
    ))]
async fn delete_app(ctx: OrgCtx, path: PathParams) -> ApiResult<StatusCode> {
    let id: ApplicationId = path.id("app_id")?;
    ops::applications::delete(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Instances of an application: all of them when the caller covers the
/// application, else those in environments it covers.
#[utoipa::path(get, path = "/organizations/{org}/applications/{app_id}/instances", tag = "instances", params(crate::openapi::ListQuery),
    responses(
        (status = 200, description = "Instances of the application the caller may view.", body = Page<Instance>),
    ))]
async fn app_instances(ctx: OrgCtx, path: PathParams, params: Params) -> ApiResult<Json<Value>> {
    let app: ApplicationId = path.id("app_id")?;
    let page = params.page()?;
    Ok(Json(json!(wire::page::<_, Instance>(
        ops::instances::of_application(&ctx, app, &page).await?
    ))))
}

#[utoipa::path(get, path = "/organizations/{org}/environments/{env_id}/instances", tag = "instances", params(crate::openapi::ListQuery),
    responses(
        (status = 200, description = "Instances in the environment the caller may view.", body = Page<Instance>),
    ))]
async fn env_instances(ctx: OrgCtx, path: PathParams, params: Params) -> ApiResult<Json<Value>> {
    let env: EnvironmentId = path.id("env_id")?;
    let page = params.page()?;
    Ok(Json(json!(wire::page::<_, Instance>(
        ops::instances::of_environment(&ctx, env, &page).await?
    ))))
}

fn instance_ids(path: &PathParams) -> Result<(ApplicationId, EnvironmentId), ApiError> {
    Ok((path.id("app_id")?, path.id("env_id")?))
}

#[utoipa::path(get, path = "/organizations/{org}/applications/{app_id}/instances/{env_id}", tag = "instances",
    responses(
        (status = 200, description = "The instance.", body = Instance),
    ))]
async fn get_instance(ctx: OrgCtx, path: PathParams) -> ApiResult<Response> {
    let (app, env) = instance_ids(&path)?;
    let body = ops::instances::get_json(&ctx, app, env).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

#[utoipa::path(put, path = "/organizations/{org}/applications/{app_id}/instances/{env_id}", tag = "instances", request_body = PutInstance,
    responses(
        (status = 200, description = "Updated.", body = Instance),
        (status = 201, description = "Created.", body = Instance),
    ))]
async fn put_instance(
    ctx: OrgCtx,
    path: PathParams,
    ApiJson(body): ApiJson<PutInstance>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (app, env) = instance_ids(&path)?;
    let spec = Spec::new(body.image, body.replicas)?;
    let (inst, created) = ops::instances::put(&ctx, app, env, spec).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json!(Instance::from(inst)))))
}

#[utoipa::path(delete, path = "/organizations/{org}/applications/{app_id}/instances/{env_id}", tag = "instances",
    responses(
        (status = 204, description = "Deleted."),
    ))]
async fn delete_instance(ctx: OrgCtx, path: PathParams) -> ApiResult<StatusCode> {
    let (app, env) = instance_ids(&path)?;
    ops::instances::delete(&ctx, app, env).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/organizations/{org}/applications/{app_id}/instances/{env_id}/deployments", tag = "instances", params(crate::openapi::ListQuery),
    responses(
        (status = 200, description = "Deployments, newest first.", body = Page<Deployment>),
    ))]
async fn list_deployments(ctx: OrgCtx, path: PathParams, params: Params) -> ApiResult<Json<Value>> {
    let (app, env) = instance_ids(&path)?;
    let page = params.page()?;
    Ok(Json(json!(wire::page::<_, Deployment>(
        ops::instances::deployments(&ctx, app, env, &page).await?
    ))))
}

#[utoipa::path(post, path = "/organizations/{org}/applications/{app_id}/instances/{env_id}/deployments", tag = "instances", request_body = CreateDeployment,
    responses(
        (status = 201, description = "The deployment; the instance now runs its image.", body = Deployment),
    ))]
async fn create_deployment(
    ctx: OrgCtx,
    path: PathParams,
    ApiJson(body): ApiJson<CreateDeployment>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (app, env) = instance_ids(&path)?;
    let d = ops::instances::deploy(&ctx, app, env, body.image, body.version).await?;
    Ok((StatusCode::CREATED, Json(json!(Deployment::from(d)))))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list_envs,
    create_env,
    get_env,
    update_env,
    delete_env,
    env_instances,
    list_apps,
    create_app,
    get_app,
    update_app,
    delete_app,
    app_instances,
    get_instance,
    put_instance,
    delete_instance,
    list_deployments,
    create_deployment
))]
pub struct Doc;
