//! Environments and applications: their lists (searchable, paged),
//! creating and deleting them. Their own pages are in `platform`.
use askama::Template;
use axum::response::{IntoResponse, Redirect};
use tron_core::authz::{Action, Resource};
use tron_core::ids::{ApplicationId, EnvironmentId};
use tron_core::values::{Name, ShortText};
use tron_store::models::{Application, Environment};

use super::{org_layout, org_url, section_url, ConfirmPage, PageResult};
use crate::access::OrgCtx;
use crate::ops;
use crate::portal::error::OrBack;
use crate::portal::form::{Failed, Form, Ids, QueryMap};
use crate::portal::session::PortalSession;
use crate::portal::view::{
    contains_any, listing, render, render_with_status, when, Layout, Listing, When,
};

/// An environment or an application as its list shows it.
struct Row {
    id: String,
    name: String,
    /// An application's repository; empty otherwise.
    repository: String,
    created: When,
    can_delete: bool,
}

#[derive(Template)]
#[template(path = "resources.html")]
struct ResourcesPage {
    layout: Layout,
    url: String,
    org_name: String,
    /// `environments` or `applications`.
    kind: &'static str,
    list: Listing<Row>,
    can_create: bool,
    failed: Failed,
}

pub(crate) async fn environments_page(
    session: PortalSession,
    ctx: OrgCtx,
    q: QueryMap,
) -> PageResult {
    environments(&session, &ctx, &q, Failed::none()).await
}

async fn environments(
    session: &PortalSession,
    ctx: &OrgCtx,
    q: &QueryMap,
    failed: Failed,
) -> PageResult {
    let now = ctx.now();
    let base = section_url(ctx, "environments");
    let list = listing(
        &base,
        q,
        |e: &Environment, n| contains_any(n, &[&e.name]),
        |e| e.id.0,
        |p| async move { ops::environments::list(ctx, &p).await },
    )
    .await?
    .map(|e| Row {
        id: e.id.to_string(),
        can_delete: ctx.allows(Action::Delete, &Resource::Environment(e.id)),
        name: e.name,
        repository: String::new(),
        created: when(e.created_at, now),
    });
    let page = ResourcesPage {
        layout: org_layout(session, ctx, "Environments")
            .crumb("Environments", base)
            .notice(q.get("done")),
        url: org_url(ctx),
        org_name: ctx.organization().name.clone(),
        kind: "environments",
        list,
        can_create: ctx.allows(Action::Create, &Resource::Environments),
        failed,
    };
    Ok(render_with_status(page.failed.status, &page))
}

pub(crate) async fn applications_page(
    session: PortalSession,
    ctx: OrgCtx,
    q: QueryMap,
) -> PageResult {
    applications(&session, &ctx, &q, Failed::none()).await
}

async fn applications(
    session: &PortalSession,
    ctx: &OrgCtx,
    q: &QueryMap,
    failed: Failed,
) -> PageResult {
    let now = ctx.now();
    let base = section_url(ctx, "applications");
    let list = listing(
        &base,
        q,
        |a: &Application, n| contains_any(n, &[&a.name, a.repository.as_deref().unwrap_or("")]),
        |a| a.id.0,
        |p| async move { ops::applications::list(ctx, &p).await },
    )
    .await?
    .map(|a| Row {
        id: a.id.to_string(),
        can_delete: ctx.allows(Action::Delete, &Resource::Application(a.id)),
        name: a.name,
        repository: a.repository.unwrap_or_default(),
        created: when(a.created_at, now),
    });
    let page = ResourcesPage {
        layout: org_layout(session, ctx, "Applications")
            .crumb("Applications", base)
            .notice(q.get("done")),
        url: org_url(ctx),
        org_name: ctx.organization().name.clone(),
        kind: "applications",
        list,
        can_create: ctx.allows(Action::Create, &Resource::Applications),
        failed,
    };
    Ok(render_with_status(page.failed.status, &page))
}

pub(crate) async fn create_environment(
    session: PortalSession,
    ctx: OrgCtx,
    form: Form,
) -> PageResult {
    let back = section_url(&ctx, "environments");
    ctx.require(Action::Create, &Resource::Environments)
        .or_back(&back)?;
    let created = async {
        let name = Name::parse("name", form.text("name").trim())?;
        ops::environments::create(&ctx, name).await
    }
    .await;
    match created {
        Ok(_) => Ok(Redirect::to(&format!("{back}?done=env_created")).into_response()),
        Err(e) => {
            let failed = Failed::of("create-env", form, &["name"], e)?;
            environments(&session, &ctx, &QueryMap::default(), failed).await
        }
    }
}

pub(crate) async fn create_application(
    session: PortalSession,
    ctx: OrgCtx,
    form: Form,
) -> PageResult {
    let back = section_url(&ctx, "applications");
    ctx.require(Action::Create, &Resource::Applications)
        .or_back(&back)?;
    let created = async {
        let name = Name::parse("name", form.text("name").trim())?;
        let repository = match form.text("repository").trim() {
            "" => None,
            r => Some(ShortText::parse("repository", r)?),
        };
        ops::applications::create(&ctx, name, repository).await
    }
    .await;
    match created {
        Ok(_) => Ok(Redirect::to(&format!("{back}?done=app_created")).into_response()),
        Err(e) => {
            let failed = Failed::of("create-app", form, &["name", "repository"], e)?;
            applications(&session, &ctx, &QueryMap::default(), failed).await
        }
    }
}

pub(crate) async fn delete_environment_page(
    session: PortalSession,
    ctx: OrgCtx,
    ids: Ids,
) -> PageResult {
    let id: EnvironmentId = ids.id("env_id")?;
    let back = format!("{}/{id}", section_url(&ctx, "environments"));
    ctx.require(Action::Delete, &Resource::Environment(id))
        .or_back(&back)?;
    let env = ops::environments::get(&ctx, id).await?;
    Ok(render(&ConfirmPage::new(
        org_layout(&session, &ctx, "Delete environment"),
        format!("Delete the environment {}?", env.name),
        "Its instances are deleted and it is removed from the scope of every group. This \
         cannot be undone.",
        format!("{back}/delete"),
        "Delete environment",
        back,
    )))
}

pub(crate) async fn delete_environment(ctx: OrgCtx, ids: Ids, _form: Form) -> PageResult {
    let list = section_url(&ctx, "environments");
    let id: EnvironmentId = ids.id("env_id")?;
    ops::environments::delete(&ctx, id)
        .await
        .or_back(&format!("{list}/{id}"))?;
    Ok(Redirect::to(&format!("{list}?done=env_deleted")).into_response())
}

pub(crate) async fn delete_application_page(
    session: PortalSession,
    ctx: OrgCtx,
    ids: Ids,
) -> PageResult {
    let id: ApplicationId = ids.id("app_id")?;
    let back = format!("{}/{id}", section_url(&ctx, "applications"));
    ctx.require(Action::Delete, &Resource::Application(id))
        .or_back(&back)?;
    let app = ops::applications::get(&ctx, id).await?;
    Ok(render(&ConfirmPage::new(
        org_layout(&session, &ctx, "Delete application"),
        format!("Delete the application {}?", app.name),
        "Its instances and their deployments are deleted and it is removed from the scope of \
         every group. This cannot be undone.",
        format!("{back}/delete"),
        "Delete application",
        back,
    )))
}

pub(crate) async fn delete_application(ctx: OrgCtx, ids: Ids, _form: Form) -> PageResult {
    let list = section_url(&ctx, "applications");
    let id: ApplicationId = ids.id("app_id")?;
    ops::applications::delete(&ctx, id)
        .await
        .or_back(&format!("{list}/{id}"))?;
    Ok(Redirect::to(&format!("{list}?done=app_deleted")).into_response())
}
