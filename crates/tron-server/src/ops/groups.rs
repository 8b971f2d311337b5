//! Groups and their members: the only source of permissions.
use tron_core::authz::{Action, Resource, Role, Scope};
use tron_core::ids::{GroupId, MemberId};
use tron_core::values::{Description, DisplayName};
use tron_core::Result;
use tron_store::groups::{GroupPatch, NewGroup};
use tron_store::models::{Group, Member};
use tron_store::{Page, PageRequest};

use crate::access::OrganizationAccessContext as Ctx;

pub async fn list(ctx: &Ctx, page: &PageRequest) -> Result<Page<Group>> {
    ctx.require(Action::View, &Resource::Groups)?;
    ctx.store().list_groups(page).await
}

pub async fn get(ctx: &Ctx, id: GroupId) -> Result<Group> {
    ctx.require(Action::View, &Resource::Groups)?;
    ctx.store().get_group(id).await
}

/// A group to create.
#[derive(Debug)]
pub struct Draft {
    pub name: DisplayName,
    pub description: Description,
    pub role: Role,
    pub scope: Scope,
}

pub async fn create(ctx: &Ctx, draft: Draft) -> Result<Group> {
    ctx.require(Action::Create, &Resource::Groups)?;
    ctx.store()
        .create_group(NewGroup {
            name: draft.name.into(),
            description: draft.description.into(),
            role: draft.role,
            scope: draft.scope,
        })
        .await
}

/// A change; absent fields stay.
#[derive(Debug, Default)]
pub struct Change {
    pub name: Option<DisplayName>,
    pub description: Option<Description>,
    pub role: Option<Role>,
    pub scope: Option<Scope>,
}

pub async fn update(ctx: &Ctx, id: GroupId, change: Change) -> Result<Group> {
    ctx.require(Action::Update, &Resource::Groups)?;
    ctx.store()
        .update_group(
            id,
            GroupPatch {
                name: change.name.map(Into::into),
                description: change.description.map(Into::into),
                role: change.role,
                scope: change.scope,
            },
        )
        .await
}

pub async fn delete(ctx: &Ctx, id: GroupId) -> Result<Group> {
    ctx.require(Action::Delete, &Resource::Groups)?;
    ctx.store().delete_group(id).await
}

pub async fn members(ctx: &Ctx, id: GroupId, page: &PageRequest) -> Result<Page<Member>> {
    ctx.require(Action::View, &Resource::Groups)?;
    let store = ctx.store();
    store.get_group(id).await?;
    store.list_members(None, Some(id), page).await
}

/// Puts a member in a group (idempotent); `true` when it was not in it.
pub async fn add_member(ctx: &Ctx, group: GroupId, member: MemberId) -> Result<bool> {
    ctx.require(Action::Update, &Resource::Groups)?;
    ctx.store().add_group_member(group, member).await
}

/// Takes a member out of a group (idempotent); `true` when it was in it.
pub async fn remove_member(ctx: &Ctx, group: GroupId, member: MemberId) -> Result<bool> {
    ctx.require(Action::Update, &Resource::Groups)?;
    ctx.store().remove_group_member(group, member).await
}
