//! Environments (staging, production, …): what an environment-scoped group
//! covers.
use tron_core::authz::{Action, Resource};
use tron_core::ids::EnvironmentId;
use tron_core::values::Name;
use tron_core::Result;
use tron_store::models::Environment;
use tron_store::{Page, PageRequest};

use crate::access::OrganizationAccessContext as Ctx;

/// The environments the caller may view.
pub async fn list(ctx: &Ctx, page: &PageRequest) -> Result<Page<Environment>> {
    ctx.require(Action::View, &Resource::Environments)?;
    ctx.store()
        .list_environments(&ctx.visible_environments(), page)
        .await
}

pub async fn get(ctx: &Ctx, id: EnvironmentId) -> Result<Environment> {
    ctx.require(Action::View, &Resource::Environment(id))?;
    ctx.store().get_environment(id).await
}

pub async fn create(ctx: &Ctx, name: Name) -> Result<Environment> {
    ctx.require(Action::Create, &Resource::Environments)?;
    ctx.store().create_environment(name.into()).await
}

pub async fn rename(ctx: &Ctx, id: EnvironmentId, name: Option<Name>) -> Result<Environment> {
    ctx.require(Action::Update, &Resource::Environment(id))?;
    ctx.store()
        .update_environment(id, name.map(Into::into))
        .await
}

/// Deletes the environment with its instances.
pub async fn delete(ctx: &Ctx, id: EnvironmentId) -> Result<Environment> {
    ctx.require(Action::Delete, &Resource::Environment(id))?;
    ctx.store().delete_environment(id).await
}
