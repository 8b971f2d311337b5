//! Applications: what an application-scoped group covers.
use tron_core::authz::{Action, Resource};
use tron_core::ids::ApplicationId;
use tron_core::values::{Name, ShortText};
use tron_core::Result;
use tron_store::models::Application;
use tron_store::{Page, PageRequest};

use crate::access::OrganizationAccessContext as Ctx;

/// The applications the caller may view.
pub async fn list(ctx: &Ctx, page: &PageRequest) -> Result<Page<Application>> {
    ctx.require(Action::View, &Resource::Applications)?;
    ctx.store()
        .list_applications(&ctx.visible_applications(), page)
        .await
}

pub async fn get(ctx: &Ctx, id: ApplicationId) -> Result<Application> {
    ctx.require(Action::View, &Resource::Application(id))?;
    ctx.store().get_application(id).await
}

pub async fn create(ctx: &Ctx, name: Name, repository: Option<ShortText>) -> Result<Application> {
    ctx.require(Action::Create, &Resource::Applications)?;
    ctx.store()
        .create_application(name.into(), repository.map(Into::into))
        .await
}

/// A change; `repository: Some(None)` removes it.
#[derive(Debug, Default)]
pub struct Change {
    pub name: Option<Name>,
    pub repository: Option<Option<ShortText>>,
}

pub async fn update(ctx: &Ctx, id: ApplicationId, change: Change) -> Result<Application> {
    ctx.require(Action::Update, &Resource::Application(id))?;
    ctx.store()
        .update_application(
            id,
            change.name.map(Into::into),
            change.repository.map(|r| r.map(Into::into)),
        )
        .await
}

/// Deletes the application with its instances.
pub async fn delete(ctx: &Ctx, id: ApplicationId) -> Result<Application> {
    ctx.require(Action::Delete, &Resource::Application(id))?;
    ctx.store().delete_application(id).await
}
