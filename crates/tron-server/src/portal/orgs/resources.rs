//! Environments and applications: creating and deleting them.

use axum::response::{IntoResponse, Redirect};
use tron_core::authz::{Action, Resource};
use tron_core::ids::{ApplicationId, EnvironmentId};
use tron_core::values::{Name, ShortText};

use super::{org_layout, org_url, ConfirmPage, PageResult};
use crate::access::OrgCtx;
use crate::ops;
use crate::portal::error::OrBack;
use crate::portal::form::{Form, Ids};
use crate::portal::session::PortalSession;
use crate::portal::view::render;

pub(crate) async fn create_environment(ctx: OrgCtx, form: Form) -> PageResult {
    let back = format!("{}#environments", org_url(&ctx));
    ctx.require(Action::Create, &Resource::Environments)
        .or_back(&back)?;
    let name = Name::parse("name", form.text("name").trim()).or_back(&back)?;
    ops::environments::create(&ctx, name).await.or_back(&back)?;
    Ok(Redirect::to(&format!("{}?done=env_created#environments", org_url(&ctx))).into_response())
}

pub(crate) async fn delete_environment_page(
    session: PortalSession,
    ctx: OrgCtx,
    ids: Ids,
) -> PageResult {
    let back = format!("{}#environments", org_url(&ctx));
    let id: EnvironmentId = ids.id("env_id")?;
    ctx.require(Action::Delete, &Resource::Environment(id))
        .or_back(&back)?;
    let env = ops::environments::get(&ctx, id).await?;
    Ok(render(&ConfirmPage::new(
        org_layout(&session, &ctx, "Delete environment"),
        format!("Delete the environment {}?", env.name),
        "Its instances are deleted and it is removed from the scope of every group. This \
         cannot be undone.",
        format!("{}/environments/{}/delete", org_url(&ctx), env.id),
        "Delete environment",
        back,
    )))
}

pub(crate) async fn delete_environment(ctx: OrgCtx, ids: Ids, _form: Form) -> PageResult {
    let back = format!("{}#environments", org_url(&ctx));
    let id: EnvironmentId = ids.id("env_id")?;
    ops::environments::delete(&ctx, id).await.or_back(&back)?;
    Ok(Redirect::to(&format!("{}?done=env_deleted#environments", org_url(&ctx))).into_response())
}

pub(crate) async fn create_application(ctx: OrgCtx, form: Form) -> PageResult {
    let back = format!("{}#applications", org_url(&ctx));
    ctx.require(Action::Create, &Resource::Applications)
        .or_back(&back)?;
    let name = Name::parse("name", form.text("name").trim()).or_back(&back)?;
    let repository = match form.text("repository").trim() {
        "" => None,
        r => Some(ShortText::parse("repository", r).or_back(&back)?),
    };
    ops::applications::create(&ctx, name, repository)
        .await
        .or_back(&back)?;
    Ok(Redirect::to(&format!("{}?done=app_created#applications", org_url(&ctx))).into_response())
}

pub(crate) async fn delete_application_page(
    session: PortalSession,
    ctx: OrgCtx,
    ids: Ids,
) -> PageResult {
    let back = format!("{}#applications", org_url(&ctx));
    let id: ApplicationId = ids.id("app_id")?;
    ctx.require(Action::Delete, &Resource::Application(id))
        .or_back(&back)?;
    let app = ops::applications::get(&ctx, id).await?;
    Ok(render(&ConfirmPage::new(
        org_layout(&session, &ctx, "Delete application"),
        format!("Delete the application {}?", app.name),
        "Its instances and their deployments are deleted and it is removed from the scope of \
         every group. This cannot be undone.",
        format!("{}/applications/{}/delete", org_url(&ctx), app.id),
        "Delete application",
        back,
    )))
}

pub(crate) async fn delete_application(ctx: OrgCtx, ids: Ids, _form: Form) -> PageResult {
    let back = format!("{}#applications", org_url(&ctx));
    let id: ApplicationId = ids.id("app_id")?;
    ops::applications::delete(&ctx, id).await.or_back(&back)?;
    Ok(Redirect::to(&format!("{}?done=app_deleted#applications", org_url(&ctx))).into_response())
}
