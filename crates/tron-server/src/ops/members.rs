//! Members of the organization: users added by email (service accounts
//! are members through their account).
use tron_core::authz::{Action, Resource};
use tron_core::ids::{GroupId, MemberId};
use tron_core::values::Email;
use tron_core::{Error, Result};
use tron_store::models::{Member, PrincipalType};
use tron_store::{Page, PageRequest};

use crate::access::OrganizationAccessContext as Ctx;

pub async fn list(
    ctx: &Ctx,
    principal_type: Option<PrincipalType>,
    group: Option<GroupId>,
    page: &PageRequest,
) -> Result<Page<Member>> {
    ctx.require(Action::View, &Resource::Members)?;
    ctx.store().list_members(principal_type, group, page).await
}

pub async fn get(ctx: &Ctx, id: MemberId) -> Result<Member> {
    ctx.require(Action::View, &Resource::Members)?;
    ctx.store().get_member(id).await
}

/// Adds an existing user. Only those who may add members get as far as
/// the lookup, so saying that no such user exists tells nobody else.
pub async fn add(ctx: &Ctx, email: &Email) -> Result<Member> {
    ctx.require(Action::Create, &Resource::Members)?;
    let store = ctx.store();
    let user = store
        .find_user_by_email(email.as_str())
        .await?
        .ok_or(Error::NotFound)?;
    store.add_member(&user).await
}

pub async fn remove(ctx: &Ctx, id: MemberId) -> Result<Member> {
    ctx.require(Action::Delete, &Resource::Members)?;
    ctx.store().remove_member(id).await
}
