//! A service account's groups: assigning (an admin group asks first) and
//! unassigning (asks first).
use axum::response::{IntoResponse, Redirect};
use tron_core::authz::{Action, Resource, Role, Scope};
use tron_core::ids::{GroupId, ServiceAccountId};
use tron_core::Error;

use super::{sa_url, PageResult};
use crate::access::OrgCtx;
use crate::ops;
use crate::portal::error::OrBack;
use crate::portal::form::{Form, Ids};
use crate::portal::orgs::{group_label, name_maps, org_layout, ConfirmPage};
use crate::portal::session::PortalSession;
use crate::portal::view::render;

pub(super) async fn assign(
    session: PortalSession,
    ctx: OrgCtx,
    ids: Ids,
    form: Form,
) -> PageResult {
    let id: ServiceAccountId = ids.id("sa_id")?;
    let back = sa_url(&ctx, id);
    ctx.require(Action::Update, &Resource::Groups)
        .or_back(&back)?;
    let group: GroupId = form
        .text("group_id")
        .parse()
        .map_err(|_| Error::validation("group_id", "choose a group"))
        .or_back(&back)?;
    let sa = ops::service_accounts::get(&ctx, id).await?;
    let chosen = ops::groups::get(&ctx, group).await.or_back(&back)?;
    if chosen.role == Role::Admin && form.text("confirmed") != "yes" {
        let names = name_maps(&ctx).await?;
        return Ok(render(
            &ConfirmPage::new(
                org_layout(&session, &ctx, "Make it an admin"),
                format!("Give {} admin power?", sa.name),
                format!(
                    "{} is an admin group. Its members can manage members, groups, service \
                     accounts and their tokens, settings and webhooks{}. A CI job rarely needs \
                     that: an editor group on the environments it deploys to is usually enough.",
                    group_label(&chosen, &names),
                    match chosen.scope {
                        Scope::Organization => " of the whole organization",
                        _ => " within its scope",
                    }
                ),
                format!("{back}/groups"),
                "Assign to the admin group",
                back,
            )
            .with_field("group_id", chosen.id.to_string())
            .with_field("confirmed", "yes"),
        ));
    }
    ops::groups::add_member(&ctx, group, sa.member_id)
        .await
        .or_back(&back)?;
    Ok(Redirect::to(&format!("{back}?done=sa_group_added")).into_response())
}

pub(super) async fn unassign_page(session: PortalSession, ctx: OrgCtx, ids: Ids) -> PageResult {
    let id: ServiceAccountId = ids.id("sa_id")?;
    let back = sa_url(&ctx, id);
    ctx.require(Action::Update, &Resource::Groups)
        .or_back(&back)?;
    let group: GroupId = ids.id("group_id")?;
    let sa = ops::service_accounts::get(&ctx, id).await?;
    let g = ops::groups::get(&ctx, group).await.or_back(&back)?;
    Ok(render(&ConfirmPage::new(
        org_layout(&session, &ctx, "Unassign"),
        format!("Take {} out of {}?", sa.name, g.name),
        "It loses what this group gives it from its next request; its tokens stay valid for \
         what its other groups allow.",
        format!("{back}/groups/{group}/remove"),
        "Unassign",
        back,
    )))
}

pub(super) async fn unassign(ctx: OrgCtx, ids: Ids, _form: Form) -> PageResult {
    let id: ServiceAccountId = ids.id("sa_id")?;
    let back = sa_url(&ctx, id);
    ctx.require(Action::Update, &Resource::Groups)
        .or_back(&back)?;
    let group: GroupId = ids.id("group_id")?;
    let sa = ops::service_accounts::get(&ctx, id).await?;
    ops::groups::remove_member(&ctx, group, sa.member_id)
        .await
        .or_back(&back)?;
    Ok(Redirect::to(&format!("{back}?done=sa_group_removed")).into_response())
}
