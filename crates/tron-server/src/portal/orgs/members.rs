//! Members: the list (searchable, paged), adding users by email, removing
//! them.
use std::collections::HashSet;

use askama::Template;
use axum::response::{IntoResponse, Redirect};
use tron_core::authz::{Action, Resource, Role, Scope};
use tron_core::ids::MemberId;
use tron_core::values::Email;
use tron_core::Error;
use tron_store::models::{Member, PrincipalType};

use super::{member_row, org_layout, org_url, section_url, ConfirmPage, MemberRow, PageResult};
use crate::access::OrgCtx;
use crate::ops;
use crate::portal::error::{OrBack, PortalError};
use crate::portal::form::{Failed, Form, Ids, QueryMap};
use crate::portal::session::PortalSession;
use crate::portal::view::{
    collect, contains_any, listing, render, render_with_status, Layout, Listing,
};

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage {
    layout: Layout,
    url: String,
    org_name: String,
    list: Listing<MemberRow>,
    can_manage: bool,
    failed: Failed,
}

pub(crate) async fn page(session: PortalSession, ctx: OrgCtx, q: QueryMap) -> PageResult {
    members_page(&session, &ctx, &q, Failed::none()).await
}

async fn members_page(
    session: &PortalSession,
    ctx: &OrgCtx,
    q: &QueryMap,
    failed: Failed,
) -> PageResult {
    ctx.require(Action::View, &Resource::Members)?;
    let url = org_url(ctx);
    let can_manage = ctx.allows(Action::Delete, &Resource::Members);
    let last_admin = if can_manage {
        sole_admin(ctx).await?
    } else {
        None
    };
    let base = section_url(ctx, "members");
    let list = listing(
        &base,
        q,
        |m: &Member, n| {
            let (name, email) = match (&m.user, &m.service_account) {
                (Some(u), _) => (u.name.as_str(), u.email.as_str()),
                (_, Some(sa)) => (sa.name.as_str(), ""),
                _ => ("", ""),
            };
            contains_any(n, &[name, email])
        },
        |m| m.id.0,
        |p| async move { ops::members::list(ctx, None, None, &p).await },
    )
    .await?
    .map(|m| {
        let mut row = member_row(&url, m, ctx.now());
        // Not offered where the last-admin rule would refuse it.
        row.removable = row.is_user && last_admin.is_none_or(|id| id.to_string() != row.id);
        row
    });
    let page = MembersPage {
        layout: org_layout(session, ctx, "Members")
            .crumb("Members", base)
            .notice(q.get("done")),
        org_name: ctx.organization().name.clone(),
        url,
        list,
        can_manage,
        failed,
    };
    Ok(render_with_status(page.failed.status, &page))
}

/// The one active user who keeps the organization administered, when
/// there is exactly one: removing it would answer `409 last_admin`.
pub(crate) async fn sole_admin(ctx: &OrgCtx) -> Result<Option<MemberId>, PortalError> {
    let groups = collect(|p| async move { ops::groups::list(ctx, &p).await }).await?;
    let admin_groups: HashSet<_> = groups
        .iter()
        .filter(|g| g.role == Role::Admin && g.scope == Scope::Organization)
        .map(|g| g.id)
        .collect();
    let users =
        collect(
            |p| async move { ops::members::list(ctx, Some(PrincipalType::User), None, &p).await },
        )
        .await?;
    let mut admins = users
        .iter()
        .filter(|m| m.groups.iter().any(|g| admin_groups.contains(&g.id)))
        .map(|m| m.id);
    Ok(match (admins.next(), admins.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    })
}

pub(crate) async fn add_member(session: PortalSession, ctx: OrgCtx, form: Form) -> PageResult {
    let back = section_url(&ctx, "members");
    ctx.require(Action::Create, &Resource::Members)
        .or_back(&back)?;
    let added = async {
        let email = Email::parse("email", form.text("email"))?;
        ops::members::add(&ctx, &email).await.map_err(|e| match e {
            // The form says which address it did not find.
            Error::NotFound => Error::validation(
                "email",
                "no user has this email address; a superuser creates users",
            ),
            e => e,
        })
    }
    .await;
    match added {
        Ok(_) => Ok(Redirect::to(&format!("{back}?done=member_added")).into_response()),
        Err(e) => {
            let failed = Failed::of("add-member", form, &["email"], e)?;
            members_page(&session, &ctx, &QueryMap::default(), failed).await
        }
    }
}

pub(crate) async fn remove_member_page(
    session: PortalSession,
    ctx: OrgCtx,
    ids: Ids,
) -> PageResult {
    let back = section_url(&ctx, "members");
    ctx.require(Action::Delete, &Resource::Members)
        .or_back(&back)?;
    let id: MemberId = ids.id("member_id")?;
    let m = member_row(
        &org_url(&ctx),
        ops::members::get(&ctx, id).await?,
        ctx.now(),
    );
    if !m.is_user {
        return Err(PortalError::from(Error::conflict(
            "member_id",
            "a service account leaves the organization when it is deleted; delete it from its page",
        ))
        .back(&back));
    }
    Ok(render(&ConfirmPage::new(
        org_layout(&session, &ctx, "Remove member"),
        format!("Remove {} from the organization?", m.name),
        format!(
            "{} ({}) loses every group of this organization and all access to it.",
            m.name, m.email
        ),
        format!("{}/members/{}/remove", org_url(&ctx), m.id),
        "Remove member",
        back,
    )))
}

pub(crate) async fn remove_member(ctx: OrgCtx, ids: Ids, _form: Form) -> PageResult {
    let back = section_url(&ctx, "members");
    let id: MemberId = ids.id("member_id")?;
    ops::members::remove(&ctx, id).await.or_back(&back)?;
    Ok(Redirect::to(&format!("{back}?done=member_removed")).into_response())
}
