//! One member's page: who it is, its groups, and what it can do. An admin
//! may open any member's; any member may open its own (the same rule as
//! access-check's `member_id`).
use askama::Template;
use tron_core::ids::MemberId;
use tron_core::principal::PrincipalKind;

use super::{member_row, org_layout, org_url, PageResult};
use crate::access::OrgCtx;
use crate::ops;
use crate::portal::error::OrBack;
use crate::portal::form::Ids;
use crate::portal::permissions::{self, PermissionTable};
use crate::portal::session::PortalSession;
use crate::portal::view::{render, Layout};

#[derive(Template)]
#[template(path = "member.html")]
struct MemberPage {
    layout: Layout,
    member_id: String,
    name: String,
    email: String,
    is_user: bool,
    /// The service account's page, for a service account.
    sa_href: Option<String>,
    groups: Vec<String>,
    perms: PermissionTable,
    subject: String,
    org_url: String,
}

pub(crate) async fn member_page(session: PortalSession, ctx: OrgCtx, ids: Ids) -> PageResult {
    let id: MemberId = ids.id("member_id")?;
    let url = org_url(&ctx);
    let back = format!("{url}/members");
    let (name, email, is_user, sa_href, groups) = if ctx.member_id() == Some(id) {
        // Oneself, from the access context: a member that may not list the
        // members may still see its own page.
        let (email, is_user) = match &ctx.principal().kind {
            PrincipalKind::User { email, .. } => (email.to_string(), true),
            PrincipalKind::ServiceAccount { .. } => (String::new(), false),
        };
        let mut groups: Vec<String> = ctx.grants().iter().map(|g| g.group_name.clone()).collect();
        groups.sort();
        (
            ctx.principal().name.to_string(),
            email,
            is_user,
            None,
            groups,
        )
    } else {
        let m = ops::members::get(&ctx, id).await.or_back(&back)?;
        let groups = m.groups.iter().map(|g| g.name.clone()).collect();
        let row = member_row(&url, m, ctx.now());
        (
            row.name,
            row.email,
            row.is_user,
            row.href.filter(|_| !row.is_user),
            groups,
        )
    };
    let perms = permissions::table(&ctx, id).await.or_back(&back)?;
    let page = MemberPage {
        layout: org_layout(&session, &ctx, &name),
        member_id: id.to_string(),
        subject: name.clone(),
        name,
        email,
        is_user,
        sa_href,
        groups,
        perms,
        org_url: url,
    };
    Ok(render(&page))
}
