//! Environments, applications, instances and deployments.
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tron_core::authz::{Action, Resource, Visible};
use tron_core::ids::{ApplicationId, EnvironmentId};
use tron_core::{validate, Error};

use crate::access::OrgCtx;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Params, PathParams};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
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
    let ok =
        !s.is_empty() && s.len() <= 512 && !s.chars().any(|c| c.is_whitespace() || c.is_control());
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NameBody {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NamePatch {
    name: Option<String>,
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppBody {
    name: String,
    #[serde(default)]
    repository: Option<String>,
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppPatch {
    name: Option<String>,
    #[serde(default, deserialize_with = "tron_core::validate::double_option")]
    repository: Option<Option<String>>,
}

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
async fn app_instances(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
    params: Params,
) -> ApiResult<Json<Value>> {
    let app: ApplicationId = path.id("app_id")?;
    let page = params.page()?;
    state.store.get_application(ctx.org_id(), app).await?;
    let envs = if ctx.visible_applications().contains(&app) {
        Visible::All
    } else {
        ctx.visible_environments()
    };
    if envs == Visible::Only(Default::default()) {
        return Err(Error::Forbidden.into());
    }
    Ok(Json(json!(
        state
            .store
            .list_instances_of_application(ctx.org_id(), app, &envs, &page)
            .await?
    )))
}

async fn env_instances(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
    params: Params,
) -> ApiResult<Json<Value>> {
    let env: EnvironmentId = path.id("env_id")?;
    let page = params.page()?;
    state.store.get_environment(ctx.org_id(), env).await?;
    let apps = if ctx.visible_environments().contains(&env) {
        Visible::All
    } else {
        ctx.visible_applications()
    };
    if apps == Visible::Only(Default::default()) {
        return Err(Error::Forbidden.into());
    }
    Ok(Json(json!(
        state
            .store
            .list_instances_of_environment(ctx.org_id(), env, &apps, &page)
            .await?
    )))
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

async fn get_instance(
    State(state): State<AppState>,
    ctx: OrgCtx,
    path: PathParams,
) -> ApiResult<Json<Value>> {
    let (app, env, resource) = instance_ids(&path)?;
    ctx.require(Action::View, &resource)?;
    let inst = state
        .store
        .get_instance(ctx.org_id(), app, env)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Json(json!(inst)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InstanceBody {
    image: String,
    #[serde(default)]
    replicas: Option<i64>,
}

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
    ctx.require(
        if exists {
            Action::Update
        } else {
            Action::Create
        },
        &resource,
    )?;
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeployBody {
    image: String,
    #[serde(default)]
    version: Option<String>,
}

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
