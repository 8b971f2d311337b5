//! An environment's and an application's own page: what runs there, with a
//! link to each instance's deployment history.
use askama::Template;
use tron_core::authz::{Action, Resource};
use tron_core::ids::{ApplicationId, EnvironmentId};
use tron_store::models::Instance;

use super::{org_layout, org_url, section_url, PageResult};
use crate::access::OrgCtx;
use crate::ops;
use crate::portal::error::OrBack;
use crate::portal::form::{Ids, QueryMap};
use crate::portal::session::PortalSession;
use crate::portal::view::{collect, render, when, Choice, Layout, When};

/// An instance as a row of its environment's or application's page.
pub(super) struct InstanceRow {
    /// The other side's name: the application on an environment's page,
    /// the environment on an application's.
    name: String,
    href: String,
    image: String,
    replicas: i64,
    updated: When,
}

#[derive(Template)]
#[template(path = "platform.html")]
struct PlatformPage {
    layout: Layout,
    url: String,
    /// `environment` or `application`.
    kind: &'static str,
    name: String,
    id: String,
    repository: String,
    created: When,
    instances: Vec<InstanceRow>,
    can_delete: bool,
    /// On an application's page: the environments it may be deployed to
    /// by this viewer (`None`: it may not deploy anywhere new).
    deploy_to: Vec<Choice>,
}

fn rows(ctx: &OrgCtx, instances: Vec<Instance>, by_env: bool) -> Vec<InstanceRow> {
    let now = ctx.now();
    instances
        .into_iter()
        .map(|i| InstanceRow {
            href: format!(
                "{}/applications/{}/instances/{}",
                org_url(ctx),
                i.application_id,
                i.environment_id
            ),
            name: if by_env {
                i.environment_name
            } else {
                i.application_name
            },
            image: i.image,
            replicas: i.replicas,
            updated: when(i.updated_at, now),
        })
        .collect()
}

pub(crate) async fn environment(
    session: PortalSession,
    ctx: OrgCtx,
    ids: Ids,
    q: QueryMap,
) -> PageResult {
    let list = section_url(&ctx, "environments");
    let id: EnvironmentId = ids.id("env_id")?;
    let env = ops::environments::get(&ctx, id).await.or_back(&list)?;
    let c = &ctx;
    let instances =
        collect(|p| async move { ops::instances::of_environment(c, id, &p).await }).await?;
    let page = PlatformPage {
        layout: org_layout(&session, &ctx, &env.name)
            .crumb("Environments", &list)
            .notice(q.get("done")),
        url: format!("{list}/{id}"),
        kind: "environment",
        id: env.id.to_string(),
        repository: String::new(),
        created: when(env.created_at, ctx.now()),
        instances: rows(&ctx, instances, false),
        can_delete: ctx.allows(Action::Delete, &Resource::Environment(id)),
        deploy_to: Vec::new(),
        name: env.name,
    };
    Ok(render(&page))
}

pub(crate) async fn application(
    session: PortalSession,
    ctx: OrgCtx,
    ids: Ids,
    q: QueryMap,
) -> PageResult {
    let list = section_url(&ctx, "applications");
    let id: ApplicationId = ids.id("app_id")?;
    let app = ops::applications::get(&ctx, id).await.or_back(&list)?;
    let c = &ctx;
    let instances =
        collect(|p| async move { ops::instances::of_application(c, id, &p).await }).await?;
    // The environments where this viewer may create the instance (it does
    // not run there yet).
    let envs = collect(|p| async move { ops::environments::list(c, &p).await }).await?;
    let deploy_to = envs
        .into_iter()
        .filter(|e| !instances.iter().any(|i| i.environment_id == e.id))
        .filter(|e| {
            ctx.allows(
                Action::Create,
                &Resource::Instance {
                    application: id,
                    environment: e.id,
                },
            )
        })
        .map(|e| Choice::new(e.id, e.name, false))
        .collect();
    let page = PlatformPage {
        layout: org_layout(&session, &ctx, &app.name)
            .crumb("Applications", &list)
            .notice(q.get("done")),
        url: format!("{list}/{id}"),
        kind: "application",
        id: app.id.to_string(),
        repository: app.repository.unwrap_or_default(),
        created: when(app.created_at, ctx.now()),
        instances: rows(&ctx, instances, true),
        can_delete: ctx.allows(Action::Delete, &Resource::Application(id)),
        deploy_to,
        name: app.name,
    };
    Ok(render(&page))
}
