//! Instances (an application in an environment) and their deployments.
use axum::body::Bytes;
use tron_core::authz::{Action, Resource, Visible};
use tron_core::ids::{ApplicationId, EnvironmentId};
use tron_core::values::{ImageRef, ShortText};
use tron_core::{Error, Result};
use tron_store::models::{Deployment, Instance};
use tron_store::{Page, PageRequest};

use crate::access::OrganizationAccessContext as Ctx;
use crate::cache::InstanceKey;

/// The most replicas an instance may ask for.
pub const MAX_REPLICAS: i64 = 1000;

fn resource(app: ApplicationId, env: EnvironmentId) -> Resource {
    Resource::Instance {
        application: app,
        environment: env,
    }
}

/// An instance list of an application (environment) the caller cannot
/// view: what its other scopes reach there. Nothing is looked up, so an id
/// that does not exist answers exactly like one the caller may not see
/// (SPEC §3): `403` when no scope of the caller could reach an instance
/// there, else the list filtered by those scopes (empty for a missing id).
/// Only a caller who may view the application (environment) learns that it
/// does not exist (`404`), which tells it nothing it could not list.
fn reach<T: Ord>(other_side: Visible<T>) -> Result<Visible<T>> {
    match other_side {
        Visible::Only(set) if set.is_empty() => Err(Error::Forbidden),
        reach => Ok(reach),
    }
}

/// Instances of an application: all of them when the caller covers the
/// application, else those in environments it covers.
pub async fn of_application(
    ctx: &Ctx,
    app: ApplicationId,
    page: &PageRequest,
) -> Result<Page<Instance>> {
    let store = ctx.store();
    // Decided before anything is looked up (see `reach`).
    let envs = if ctx.visible_applications().contains(&app) {
        store.get_application(app).await?;
        Visible::All
    } else {
        reach(ctx.visible_environments())?
    };
    store.list_instances_of_application(app, &envs, page).await
}

/// Instances in an environment, symmetrically.
pub async fn of_environment(
    ctx: &Ctx,
    env: EnvironmentId,
    page: &PageRequest,
) -> Result<Page<Instance>> {
    let store = ctx.store();
    let apps = if ctx.visible_environments().contains(&env) {
        store.get_environment(env).await?;
        Visible::All
    } else {
        reach(ctx.visible_applications())?
    };
    store.list_instances_of_environment(env, &apps, page).await
}

/// An instance's JSON through the cache (see `crate::cache`): serialized
/// once when it is read from storage; every change to the instance
/// invalidates the entry on commit, here and on the other instances.
pub async fn get_json(ctx: &Ctx, app: ApplicationId, env: EnvironmentId) -> Result<Bytes> {
    ctx.require(Action::View, &resource(app, env))?;
    let cache = &ctx.state().cache;
    let key = InstanceKey {
        organization: ctx.org_id(),
        application: app,
        environment: env,
    };
    if let Some(hit) = cache.get_instance(&key) {
        return Ok(hit);
    }
    let epoch = cache.epoch();
    // Boxed: the cold path, kept out of every request's future.
    let inst = Box::pin(get_unchecked(ctx, app, env))
        .await?
        .ok_or(Error::NotFound)?;
    let body =
        Bytes::from(serde_json::to_vec(&tron_api::Instance::from(inst)).map_err(Error::internal)?);
    cache.put_instance(key, body.clone(), epoch);
    Ok(body)
}

/// An instance the caller may view.
pub async fn get(ctx: &Ctx, app: ApplicationId, env: EnvironmentId) -> Result<Instance> {
    ctx.require(Action::View, &resource(app, env))?;
    get_unchecked(ctx, app, env).await?.ok_or(Error::NotFound)
}

async fn get_unchecked(
    ctx: &Ctx,
    app: ApplicationId,
    env: EnvironmentId,
) -> Result<Option<Instance>> {
    ctx.store().get_instance(app, env).await
}

/// What an instance runs.
#[derive(Debug)]
pub struct Spec {
    pub image: ImageRef,
    /// 0 to [`MAX_REPLICAS`]; 1 by default.
    pub replicas: Option<i64>,
}

impl Spec {
    pub fn new(image: ImageRef, replicas: Option<i64>) -> Result<Self> {
        if replicas.is_some_and(|r| !(0..=MAX_REPLICAS).contains(&r)) {
            return Err(Error::validation(
                "replicas",
                format!("replicas must be from 0 to {MAX_REPLICAS}"),
            ));
        }
        Ok(Spec { image, replicas })
    }
}

/// Creates or updates an instance; `true` when it was created.
pub async fn put(
    ctx: &Ctx,
    app: ApplicationId,
    env: EnvironmentId,
    spec: Spec,
) -> Result<(Instance, bool)> {
    let resource = resource(app, env);
    let exists = get_unchecked(ctx, app, env).await?.is_some();
    ctx.require(Action::Update, &resource)?;
    // A PUT that found no instance may still update one created
    // concurrently: it needs both.
    if !exists {
        ctx.require(Action::Create, &resource)?;
    }
    ctx.store()
        .put_instance(app, env, spec.image.into(), spec.replicas)
        .await
}

pub async fn delete(ctx: &Ctx, app: ApplicationId, env: EnvironmentId) -> Result<()> {
    ctx.require(Action::Delete, &resource(app, env))?;
    ctx.store().delete_instance(app, env).await
}

/// An instance's deployments, newest first.
pub async fn deployments(
    ctx: &Ctx,
    app: ApplicationId,
    env: EnvironmentId,
    page: &PageRequest,
) -> Result<Page<Deployment>> {
    ctx.require(Action::View, &resource(app, env))?;
    get_unchecked(ctx, app, env).await?.ok_or(Error::NotFound)?;
    ctx.store().list_deployments(app, env, page).await
}

/// Deploys an image: the instance runs it from now on.
pub async fn deploy(
    ctx: &Ctx,
    app: ApplicationId,
    env: EnvironmentId,
    image: ImageRef,
    version: Option<ShortText>,
) -> Result<Deployment> {
    ctx.require(Action::Update, &resource(app, env))?;
    ctx.store()
        .create_deployment(app, env, image.into(), version.map(Into::into))
        .await
}
