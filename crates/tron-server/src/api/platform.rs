//! Environments, applications, instances and deployments.
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tron_core::authz::{Action, Resource, Visible};
use tron_core::ids::{ApplicationId, EnvironmentId, OrganizationId};
use tron_core::{validate, Error};
use tron_store::models::{Application, Deployment, Environment, Instance};
use tron_store::Page;
use utoipa::ToSchema;

use crate::access::OrgCtx;
use crate::cache::InstanceKey;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Params, PathParams};
use crate::routes::{Org, Routes};
use crate::state::AppState;

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

fn image(field: &str, s: &str) -> Result<String, ApiError> {
    let ok = !s.is_empty()
        && s.chars().count() <= 512
        && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(s.to_owned())
    } else {
        Err(Error::validation(
            field,
            format!("{field} must be 1 to 512 characters without spaces"),
        )
        .into())
    }
}

fn short_text(field: &str, s: &str) -> Result<String, ApiError> {
    if s.is_empty() || s.chars().count() > 512 || s.chars().any(char::is_control) {
        return Err(Error::validation(
            field,
            format!("{field} must be 1 to 512 characters without control characters"),
        )
        .into());
    }
    Ok(s.to_owned())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NameBody {
    #[schema(
        min_length = 1,
        max_length = 63,
        pattern = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
    )]
    name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NamePatch {
    #[schema(
        min_length = 1,
        max_length = 63,
        pattern = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
    )]
    name: Option<String>,
}

#[utoipa::path(get, path = "/organizations/{org}/environments", tag = "environments", params(crate::openapi::ListQuery),
    responses(
        (status = 200, description = "Environments the caller may view.", body = Page<Environment>),
    ))]
async fn list_envs(
    State(state): State<AppState>,
    ctx: OrgCtx,
    params: Params,
) -> ApiResult<Json<Value>> {
    ctx.require(Action::View, &Resource::Environments)?;
    let page = state
        .store
        .list_environments(ctx.org_id(), &ctx.visible_environments(), &params.page()?)
        .await?;
    Ok(Json(json!(page)))
}

#[utoipa::path(post, path = "/organizations/{org}/environments", tag = "environments", request_body = NameBody,
    responses(
        (status = 201, description = "The new environment.", body = Environment),
        (status = 409, description = "The name is taken.", body = crate::openapi::ErrorBody),
    ))]
async fn create_env(
    State(state): State<AppState>,
    ctx: OrgCtx,
    ApiJson(body): ApiJson<NameBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Action::Create, &Resource::Environments)?;
    let name = validate::slug_name("name", &body.name)?;
    let env = state
        .store
        .create_environment(ctx.meta(), state.now(), ctx.org_id(), name)
        .await?;
    Ok((StatusCode::CREATED, Json(json!(env))))
}

#[utoipa::path(get, path = "/organizations/{org}/environments/{env_id}", tag = "environments",
    responses(
        (status = 200, description = "The environment.", body = Environment),
    ))]
async fn get_env(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
) -> ApiResult<Json<Value>> {
    let id: EnvironmentId = path.id("env_id")?;
    ctx.require(Action::View, &Resource::Environment(id))?;
    Ok(Json(json!(
        state.store.get_environment(ctx.org_id(), id).await?
    )))
}

#[utoipa::path(patch, path = "/organizations/{org}/environments/{env_id}", tag = "environments", request_body = NamePatch,
    responses(
        (status = 200, description = "The updated environment.", body = Environment),
        (status = 409, description = "The name is taken.", body = crate::openapi::ErrorBody),
    ))]
async fn update_env(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
    ApiJson(body): ApiJson<NamePatch>,
) -> ApiResult<Json<Value>> {
    let id: EnvironmentId = path.id("env_id")?;
    ctx.require(Action::Update, &Resource::Environment(id))?;
    let name = body
        .name
        .as_deref()
        .map(|n| validate::slug_name("name", n))
        .transpose()?;
    Ok(Json(json!(
        state
            .store
            .update_environment(ctx.meta(), state.now(), ctx.org_id(), id, name)
            .await?
    )))
}

#[utoipa::path(delete, path = "/organizations/{org}/environments/{env_id}", tag = "environments",
    responses(
        (status = 204, description = "Deleted, with its instances."),
    ))]
async fn delete_env(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
) -> ApiResult<StatusCode> {
    let id: EnvironmentId = path.id("env_id")?;
    ctx.require(Action::Delete, &Resource::Environment(id))?;
    state
        .store
        .delete_environment(ctx.meta(), state.now(), ctx.org_id(), id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/organizations/{org}/applications", tag = "applications", params(crate::openapi::ListQuery),
    responses(
        (status = 200, description = "Applications the caller may view.", body = Page<Application>),
    ))]
async fn list_apps(
    State(state): State<AppState>,
    ctx: OrgCtx,
    params: Params,
) -> ApiResult<Json<Value>> {
    ctx.require(Action::View, &Resource::Applications)?;
    let page = state
        .store
        .list_applications(ctx.org_id(), &ctx.visible_applications(), &params.page()?)
        .await?;
    Ok(Json(json!(page)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AppBody {
    #[schema(
        min_length = 1,
        max_length = 63,
        pattern = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
    )]
    name: String,
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 512,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]+$"
    )]
    repository: Option<String>,
}

#[utoipa::path(post, path = "/organizations/{org}/applications", tag = "applications", request_body = AppBody,
    responses(
        (status = 201, description = "The new application.", body = Application),
        (status = 409, description = "The name is taken.", body = crate::openapi::ErrorBody),
    ))]
async fn create_app(
    State(state): State<AppState>,
    ctx: OrgCtx,
    ApiJson(body): ApiJson<AppBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    ctx.require(Action::Create, &Resource::Applications)?;
    let name = validate::slug_name("name", &body.name)?;
    let repository = body
        .repository
        .as_deref()
        .map(|r| short_text("repository", r))
        .transpose()?;
    let app = state
        .store
        .create_application(ctx.meta(), state.now(), ctx.org_id(), name, repository)
        .await?;
    Ok((StatusCode::CREATED, Json(json!(app))))
}

#[utoipa::path(get, path = "/organizations/{org}/applications/{app_id}", tag = "applications",
    responses(
        (status = 200, description = "The application.", body = Application),
    ))]
async fn get_app(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
) -> ApiResult<Json<Value>> {
    let id: ApplicationId = path.id("app_id")?;
    ctx.require(Action::View, &Resource::Application(id))?;
    Ok(Json(json!(
        state.store.get_application(ctx.org_id(), id).await?
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AppPatch {
    #[schema(
        min_length = 1,
        max_length = 63,
        pattern = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
    )]
    name: Option<String>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "tron_core::validate::double_option")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 512, pattern = r"^[^\u0000-\u001F\u007F-\u009F]+$")]
    repository: Option<Option<String>>,
}

#[utoipa::path(patch, path = "/organizations/{org}/applications/{app_id}", tag = "applications", request_body = AppPatch,
    responses(
        (status = 200, description = "The updated application.", body = Application),
        (status = 409, description = "The name is taken.", body = crate::openapi::ErrorBody),
    ))]
async fn update_app(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
    ApiJson(body): ApiJson<AppPatch>,
) -> ApiResult<Json<Value>> {
    let id: ApplicationId = path.id("app_id")?;
    ctx.require(Action::Update, &Resource::Application(id))?;
    let name = body
        .name
        .as_deref()
        .map(|n| validate::slug_name("name", n))
        .transpose()?;
    let repository = match body.repository {
        Some(Some(r)) => Some(Some(short_text("repository", &r)?)),
        other => other,
    };
    let app = state
        .store
        .update_application(ctx.meta(), state.now(), ctx.org_id(), id, name, repository)
        .await?;
    Ok(Json(json!(app)))
}

#[utoipa::path(delete, path = "/organizations/{org}/applications/{app_id}", tag = "applications",
    responses(
        (status = 204, description = "Deleted, with its instances."),
    ))]
async fn delete_app(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
) -> ApiResult<StatusCode> {
    let id: ApplicationId = path.id("app_id")?;
    ctx.require(Action::Delete, &Resource::Application(id))?;
    state
        .store
        .delete_application(ctx.meta(), state.now(), ctx.org_id(), id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Instances of an application: all of them when the caller covers the
/// application, else those in environments it covers.
#[utoipa::path(get, path = "/organizations/{org}/applications/{app_id}/instances", tag = "instances", params(crate::openapi::ListQuery),
    responses(
        (status = 200, description = "Instances of the application the caller may view.", body = Page<Instance>),
    ))]
async fn app_instances(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
    params: Params,
) -> ApiResult<Json<Value>> {
    let app: ApplicationId = path.id("app_id")?;
    let page = params.page()?;
    // Decided before anything is looked up (see `instance_list_reach`).
    let envs = if ctx.visible_applications().contains(&app) {
        state.store.get_application(ctx.org_id(), app).await?;
        Visible::All
    } else {
        instance_list_reach(ctx.visible_environments())?
    };
    Ok(Json(json!(
        state
            .store
            .list_instances_of_application(ctx.org_id(), app, &envs, &page)
            .await?
    )))
}

#[utoipa::path(get, path = "/organizations/{org}/environments/{env_id}/instances", tag = "instances", params(crate::openapi::ListQuery),
    responses(
        (status = 200, description = "Instances in the environment the caller may view.", body = Page<Instance>),
    ))]
async fn env_instances(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
    params: Params,
) -> ApiResult<Json<Value>> {
    let env: EnvironmentId = path.id("env_id")?;
    let page = params.page()?;
    // Decided before anything is looked up (see `instance_list_reach`).
    let apps = if ctx.visible_environments().contains(&env) {
        state.store.get_environment(ctx.org_id(), env).await?;
        Visible::All
    } else {
        instance_list_reach(ctx.visible_applications())?
    };
    Ok(Json(json!(
        state
            .store
            .list_instances_of_environment(ctx.org_id(), env, &apps, &page)
            .await?
    )))
}

/// An instance list of an application (environment) the caller cannot
/// view: what its other scopes reach there. Nothing is looked up, so an id
/// that does not exist answers exactly like one the caller may not see
/// (SPEC §3): `403` when no scope of the caller could reach an instance
/// there, else the list filtered by those scopes (empty for a missing id).
/// Only a caller who may view the application (environment) learns that it
/// does not exist (`404`), which tells it nothing it could not list.
fn instance_list_reach<T: Ord>(other_side: Visible<T>) -> Result<Visible<T>, ApiError> {
    match other_side {
        Visible::Only(set) if set.is_empty() => Err(Error::Forbidden.into()),
        reach => Ok(reach),
    }
}

fn instance_ids(path: &PathParams) -> Result<(ApplicationId, EnvironmentId, Resource), ApiError> {
    let app: ApplicationId = path.id("app_id")?;
    let env: EnvironmentId = path.id("env_id")?;
    Ok((
        app,
        env,
        Resource::Instance {
            application: app,
            environment: env,
        },
    ))
}

#[utoipa::path(get, path = "/organizations/{org}/applications/{app_id}/instances/{env_id}", tag = "instances",
    responses(
        (status = 200, description = "The instance.", body = Instance),
    ))]
async fn get_instance(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
) -> ApiResult<Response> {
    let (app, env, resource) = instance_ids(&path)?;
    ctx.require(Action::View, &resource)?;
    let body = cached_instance_json(&state, ctx.org_id(), app, env).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

/// An instance's JSON through the cache (see `crate::cache`): serialized
/// once when it is read from storage; every change to the instance
/// invalidates the entry on commit, here and on the other instances.
async fn cached_instance_json(
    state: &AppState,
    organization: OrganizationId,
    application: ApplicationId,
    environment: EnvironmentId,
) -> Result<Bytes, ApiError> {
    let key = InstanceKey {
        organization,
        application,
        environment,
    };
    if let Some(hit) = state.cache.get_instance(&key) {
        return Ok(hit);
    }
    let epoch = state.cache.epoch();
    // Boxed: the cold path, kept out of every request's future.
    let inst = Box::pin(
        state
            .store
            .get_instance(organization, application, environment),
    )
    .await?
    .ok_or(Error::NotFound)?;
    let body = Bytes::from(serde_json::to_vec(&inst).map_err(Error::internal)?);
    state.cache.put_instance(key, body.clone(), epoch);
    Ok(body)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct InstanceBody {
    #[schema(
        min_length = 1,
        max_length = 512,
        pattern = r"^[^\s\u0000-\u001F\u007F-\u009F]+$"
    )]
    image: String,
    /// Default 1.
    #[serde(default, deserialize_with = "tron_core::validate::opt_int")]
    #[schema(minimum = 0, maximum = 1000)]
    replicas: Option<i64>,
}

#[utoipa::path(put, path = "/organizations/{org}/applications/{app_id}/instances/{env_id}", tag = "instances", request_body = InstanceBody,
    responses(
        (status = 200, description = "Updated.", body = Instance),
        (status = 201, description = "Created.", body = Instance),
    ))]
async fn put_instance(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
    ApiJson(body): ApiJson<InstanceBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (app, env, resource) = instance_ids(&path)?;
    let exists = state
        .store
        .get_instance(ctx.org_id(), app, env)
        .await?
        .is_some();
    ctx.require(Action::Update, &resource)?;
    // A PUT that found no instance may still update one created
    // concurrently: it needs both.
    if !exists {
        ctx.require(Action::Create, &resource)?;
    }
    let image = image("image", &body.image)?;
    if body.replicas.is_some_and(|r| !(0..=1000).contains(&r)) {
        return Err(Error::validation("replicas", "replicas must be from 0 to 1000").into());
    }
    let (inst, created) = state
        .store
        .put_instance(
            ctx.meta(),
            state.now(),
            ctx.org_id(),
            app,
            env,
            image,
            body.replicas,
        )
        .await?;
    Ok((
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(json!(inst)),
    ))
}

#[utoipa::path(delete, path = "/organizations/{org}/applications/{app_id}/instances/{env_id}", tag = "instances",
    responses(
        (status = 204, description = "Deleted."),
    ))]
async fn delete_instance(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
) -> ApiResult<StatusCode> {
    let (app, env, resource) = instance_ids(&path)?;
    ctx.require(Action::Delete, &resource)?;
    state
        .store
        .delete_instance(ctx.meta(), state.now(), ctx.org_id(), app, env)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/organizations/{org}/applications/{app_id}/instances/{env_id}/deployments", tag = "instances", params(crate::openapi::ListQuery),
    responses(
        (status = 200, description = "Deployments, newest first.", body = Page<Deployment>),
    ))]
async fn list_deployments(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
    params: Params,
) -> ApiResult<Json<Value>> {
    let (app, env, resource) = instance_ids(&path)?;
    ctx.require(Action::View, &resource)?;
    let page = params.page()?;
    state
        .store
        .get_instance(ctx.org_id(), app, env)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Json(json!(
        state
            .store
            .list_deployments(ctx.org_id(), app, env, &page)
            .await?
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DeployBody {
    #[schema(
        min_length = 1,
        max_length = 512,
        pattern = r"^[^\s\u0000-\u001F\u007F-\u009F]+$"
    )]
    image: String,
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 512,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]+$"
    )]
    version: Option<String>,
}

#[utoipa::path(post, path = "/organizations/{org}/applications/{app_id}/instances/{env_id}/deployments", tag = "instances", request_body = DeployBody,
    responses(
        (status = 201, description = "The deployment; the instance now runs its image.", body = Deployment),
    ))]
async fn create_deployment(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
    ApiJson(body): ApiJson<DeployBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (app, env, resource) = instance_ids(&path)?;
    ctx.require(Action::Update, &resource)?;
    let image = image("image", &body.image)?;
    let version = body
        .version
        .as_deref()
        .map(|v| short_text("version", v))
        .transpose()?;
    let d = state
        .store
        .create_deployment(
            ctx.meta(),
            state.now(),
            ctx.org_id(),
            app,
            env,
            image,
            version,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(json!(d))))
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
