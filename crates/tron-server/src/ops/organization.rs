//! The organization itself: its name and settings, its deletion, and the
//! access check ("can I?") about a member.
use tron_core::authz::{decide, Action, Decision, Grant, Resource};
use tron_core::ids::MemberId;
use tron_core::settings::SettingsPatch;
use tron_core::values::DisplayName;
use tron_core::{Error, Result};
use tron_store::models::Organization;

use crate::access::OrganizationAccessContext as Ctx;

pub fn get(ctx: &Ctx) -> Result<&Organization> {
    ctx.require(Action::View, &Resource::Organization)?;
    Ok(ctx.organization())
}

pub async fn update(
    ctx: &Ctx,
    name: Option<DisplayName>,
    settings: Option<&SettingsPatch>,
) -> Result<Organization> {
    ctx.require(Action::Update, &Resource::Organization)?;
    if let Some(s) = settings {
        // Checked before writing, so the error names the field.
        ctx.organization().settings.merge(s)?;
    }
    ctx.store()
        .update_organization(name.map(Into::into), settings)
        .await
}

/// Deletes the organization with everything in it.
pub async fn delete(ctx: &Ctx) -> Result<Organization> {
    ctx.require(Action::Delete, &Resource::Organization)?;
    ctx.store().delete_organization().await
}

/// Everything a decision about one member rests on, loaded once: its
/// grants and whether it acts as a superuser. Access-check and the
/// portal's "what can it do?" table both decide through
/// [`MemberAccess::decide`].
#[derive(Debug, Clone)]
pub struct MemberAccess {
    pub grants: Vec<Grant>,
    pub superuser: bool,
}

impl MemberAccess {
    /// The access-check answer for `action` on `resource`; `None` when the
    /// pair is meaningless (`400` from access-check, "—" in the portal).
    pub fn decide(&self, resource: &Resource, action: Action) -> Option<Decision<'_>> {
        decide(&self.grants, self.superuser, resource, action)
    }
}

/// The grants and superuser flag the decision about `member` rests on:
/// the caller's own, or (for those who may change members) another
/// member's.
pub async fn grants_of(ctx: &Ctx, member: Option<MemberId>) -> Result<MemberAccess> {
    match member {
        Some(id) if Some(id) != ctx.member_id() => {
            ctx.require(Action::Update, &Resource::Members)?;
            let store = ctx.store();
            let membership = store
                .load_membership_by_id(id)
                .await?
                .ok_or(Error::NotFound)?;
            let superuser = store.member_is_superuser(id).await?;
            Ok(MemberAccess {
                grants: membership.grants,
                superuser,
            })
        }
        _ => Ok(MemberAccess {
            grants: ctx.grants().to_vec(),
            superuser: ctx.is_superuser(),
        }),
    }
}
