//! The service accounts section: the list (searchable, paged) and creating
//! one.
use askama::Template;
use axum::response::{IntoResponse, Redirect};
use tron_core::authz::{Action, Resource};
use tron_core::values::{Description, Name};
use tron_store::models::{ServiceAccount, ServiceAccountStatus};

use super::{sa_url, PageResult};
use crate::access::OrgCtx;
use crate::ops;
use crate::portal::form::{Failed, Form, QueryMap};
use crate::portal::orgs::{org_layout, org_url, section_url};
use crate::portal::session::PortalSession;
use crate::portal::view::{contains_any, listing, render_with_status, when, Layout, Listing, When};

struct SaRow {
    id: String,
    name: String,
    description: String,
    active: bool,
    groups: String,
    active_tokens: i64,
    last_used: Option<When>,
}

#[derive(Template)]
#[template(path = "service_accounts.html")]
struct ServiceAccountsPage {
    layout: Layout,
    url: String,
    org_name: String,
    list: Listing<SaRow>,
    can_manage: bool,
    failed: Failed,
}

pub(super) async fn list_page(session: PortalSession, ctx: OrgCtx, q: QueryMap) -> PageResult {
    sa_page(&session, &ctx, &q, Failed::none()).await
}

async fn sa_page(
    session: &PortalSession,
    ctx: &OrgCtx,
    q: &QueryMap,
    failed: Failed,
) -> PageResult {
    ctx.require(Action::View, &Resource::ServiceAccounts)?;
    let now = ctx.now();
    let base = section_url(ctx, "service-accounts");
    let list = listing(
        &base,
        q,
        |sa: &ServiceAccount, n| contains_any(n, &[&sa.name, &sa.description]),
        |sa| sa.id.0,
        |p| async move { ops::service_accounts::list(ctx, &p).await },
    )
    .await?
    .map(|sa| SaRow {
        id: sa.id.to_string(),
        name: sa.name,
        description: sa.description,
        active: sa.status == ServiceAccountStatus::Active,
        groups: sa
            .groups
            .iter()
            .map(|g| g.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        active_tokens: sa.active_token_count,
        last_used: sa.last_used_at.map(|t| when(t, now)),
    });
    let page = ServiceAccountsPage {
        layout: org_layout(session, ctx, "Service accounts")
            .crumb("Service accounts", base)
            .notice(q.get("done")),
        url: org_url(ctx),
        org_name: ctx.organization().name.clone(),
        list,
        can_manage: ctx.allows(Action::Create, &Resource::ServiceAccounts),
        failed,
    };
    Ok(render_with_status(page.failed.status, &page))
}

pub(super) async fn create(session: PortalSession, ctx: OrgCtx, form: Form) -> PageResult {
    let created = async {
        let name = Name::parse("name", form.text("name").trim())?;
        let description = Description::parse("description", form.text("description").trim())?;
        ops::service_accounts::create(&ctx, name, description).await
    }
    .await;
    match created {
        Ok(sa) => {
            Ok(Redirect::to(&format!("{}?done=sa_created", sa_url(&ctx, sa.id))).into_response())
        }
        Err(e) => {
            let failed = Failed::of("create-sa", form, &["name", "description"], e)?;
            sa_page(&session, &ctx, &QueryMap::default(), failed).await
        }
    }
}
