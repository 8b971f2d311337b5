//! Service accounts: create, list, show, change, disable/enable, delete.
use tron_core::authz::{Action, Resource};
use tron_core::ids::{ServiceAccountId, TokenId};
use tron_core::values::{Description, Name};
use tron_core::Result;
use tron_store::models::{ServiceAccount, ServiceAccountStatus};
use tron_store::service_accounts::ServiceAccountPatch;
use tron_store::{Page, PageRequest};

use crate::access::OrganizationAccessContext as Ctx;

pub async fn list(ctx: &Ctx, page: &PageRequest) -> Result<Page<ServiceAccount>> {
    ctx.require(Action::View, &Resource::ServiceAccounts)?;
    ctx.store().list_service_accounts(page).await
}

pub async fn get(ctx: &Ctx, id: ServiceAccountId) -> Result<ServiceAccount> {
    ctx.require(Action::View, &Resource::ServiceAccounts)?;
    ctx.store().get_service_account(id).await
}

pub async fn create(ctx: &Ctx, name: Name, description: Description) -> Result<ServiceAccount> {
    ctx.require(Action::Create, &Resource::ServiceAccounts)?;
    ctx.store()
        .create_service_account(name.into(), description.into())
        .await
}

/// A change of name, description or status; absent fields stay.
#[derive(Debug, Default)]
pub struct Change {
    pub name: Option<Name>,
    pub description: Option<Description>,
    pub status: Option<ServiceAccountStatus>,
}

pub async fn update(ctx: &Ctx, id: ServiceAccountId, change: Change) -> Result<ServiceAccount> {
    ctx.require(Action::Update, &Resource::ServiceAccounts)?;
    ctx.store()
        .update_service_account(
            id,
            ServiceAccountPatch {
                name: change.name.map(Into::into),
                description: change.description.map(Into::into),
                status: change.status,
            },
        )
        .await
}

/// Deletes the account: its tokens are revoked and its member removed.
pub async fn delete(ctx: &Ctx, id: ServiceAccountId) -> Result<(ServiceAccount, Vec<TokenId>)> {
    ctx.require(Action::Delete, &Resource::ServiceAccounts)?;
    ctx.store().delete_service_account(id).await
}
