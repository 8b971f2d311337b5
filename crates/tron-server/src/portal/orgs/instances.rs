//! An instance's page: what it runs and its deployment history (who — a
//! person or which service account and token — and when), and deploying
//! a new image from the portal.
use askama::Template;
use axum::response::{IntoResponse, Redirect};
use tron_core::authz::{Action, Resource};
use tron_core::ids::{ApplicationId, EnvironmentId};
use tron_core::principal::ActorType;
use tron_core::values::{ImageRef, ShortText};
use tron_core::{Error, Result};
use tron_store::models::Deployment;
use tron_store::PageRequest;

use super::{org_layout, org_url, section_url, PageResult};
use crate::access::OrgCtx;
use crate::ops;
use crate::ops::instances::Spec;
use crate::portal::error::OrBack;
use crate::portal::form::{Failed, Form, Ids, QueryMap};
use crate::portal::session::PortalSession;
use crate::portal::view::{render_with_status, when, Layout, When, PAGE_SIZE};

struct DeploymentRow {
    when: When,
    image: String,
    version: String,
    /// `user`, `service account`, ….
    actor_kind: &'static str,
    actor: String,
    /// The service account's page, when the viewer may open it.
    actor_href: Option<String>,
    /// The first characters of the token it was made with.
    token: String,
}

#[derive(Template)]
#[template(path = "instance.html")]
struct InstancePage {
    layout: Layout,
    url: String,
    app_name: String,
    app_href: String,
    env_name: String,
    env_href: String,
    image: String,
    replicas: i64,
    updated: When,
    deployments: Vec<DeploymentRow>,
    older: Option<String>,
    newest: Option<String>,
    can_deploy: bool,
    failed: Failed,
}

fn instance_url(ctx: &OrgCtx, app: ApplicationId, env: EnvironmentId) -> String {
    format!("{}/applications/{app}/instances/{env}", org_url(ctx))
}

fn row(ctx: &OrgCtx, d: Deployment, view_sas: bool) -> DeploymentRow {
    let by = d.created_by;
    let is_sa = by.kind == ActorType::ServiceAccount;
    DeploymentRow {
        when: when(d.created_at, ctx.now()),
        image: d.image,
        version: d.version.unwrap_or_default(),
        actor_kind: match by.kind {
            ActorType::User => "user",
            ActorType::ServiceAccount => "service account",
            ActorType::Anonymous => "anonymous",
            ActorType::System => "system",
        },
        actor: by.name.unwrap_or_else(|| "—".into()),
        actor_href: by
            .id
            .filter(|_| is_sa && view_sas)
            .map(|id| format!("{}/service-accounts/{id}", org_url(ctx))),
        token: d
            .token_id
            .filter(|_| is_sa)
            .map(|t| t.to_string().chars().take(8).collect())
            .unwrap_or_default(),
    }
}

pub(crate) async fn show(session: PortalSession, ctx: OrgCtx, ids: Ids, q: QueryMap) -> PageResult {
    let app: ApplicationId = ids.id("app_id")?;
    let env: EnvironmentId = ids.id("env_id")?;
    instance_page(&session, &ctx, app, env, &q, Failed::none()).await
}

async fn instance_page(
    session: &PortalSession,
    ctx: &OrgCtx,
    app: ApplicationId,
    env: EnvironmentId,
    q: &QueryMap,
    failed: Failed,
) -> PageResult {
    let back = org_url(ctx);
    let url = instance_url(ctx, app, env);
    let inst = ops::instances::get(ctx, app, env).await.or_back(&back)?;
    let after = q.get("cursor").and_then(|c| uuid::Uuid::parse_str(c).ok());
    let page = ops::instances::deployments(
        ctx,
        app,
        env,
        &PageRequest {
            limit: PAGE_SIZE as u32,
            after,
        },
    )
    .await
    .or_back(&back)?;
    let view_sas = ctx.allows(Action::View, &Resource::ServiceAccounts);
    let resource = Resource::Instance {
        application: app,
        environment: env,
    };
    let page = InstancePage {
        layout: org_layout(
            session,
            ctx,
            &format!("{} in {}", inst.application_name, inst.environment_name),
        )
        .crumb("Applications", section_url(ctx, "applications"))
        .crumb(
            inst.application_name.clone(),
            format!("{}/applications/{app}", back),
        )
        .notice(q.get("done")),
        older: page
            .next_cursor
            .map(|c| format!("{url}?cursor={c}#deployments")),
        newest: after.map(|_| format!("{url}#deployments")),
        deployments: page
            .items
            .into_iter()
            .map(|d| row(ctx, d, view_sas))
            .collect(),
        app_href: format!("{back}/applications/{app}"),
        env_href: format!("{back}/environments/{env}"),
        app_name: inst.application_name,
        env_name: inst.environment_name,
        image: inst.image,
        replicas: inst.replicas,
        updated: when(inst.updated_at, ctx.now()),
        can_deploy: ctx.allows(Action::Update, &resource),
        failed,
        url,
    };
    Ok(render_with_status(page.failed.status, &page))
}

fn what(form: &Form) -> Result<(ImageRef, Option<ShortText>)> {
    let image = ImageRef::parse("image", form.text("image").trim())?;
    let version = match form.text("version").trim() {
        "" => None,
        v => Some(ShortText::parse("version", v)?),
    };
    Ok((image, version))
}

/// Deploys to an existing instance.
pub(crate) async fn deploy(
    session: PortalSession,
    ctx: OrgCtx,
    ids: Ids,
    form: Form,
) -> PageResult {
    let app: ApplicationId = ids.id("app_id")?;
    let env: EnvironmentId = ids.id("env_id")?;
    let url = instance_url(&ctx, app, env);
    let deployed = async {
        let (image, version) = what(&form)?;
        ops::instances::deploy(&ctx, app, env, image, version).await
    }
    .await;
    match deployed {
        Ok(_) => Ok(Redirect::to(&format!("{url}?done=deployed")).into_response()),
        Err(e) => {
            let failed = Failed::of("deploy", form, &["image", "version"], e)?;
            instance_page(&session, &ctx, app, env, &QueryMap::default(), failed).await
        }
    }
}

/// The first deployment of an application to an environment: creates the
/// instance, then records the deployment (as `tron deploy` does).
pub(crate) async fn first_deploy(ctx: OrgCtx, ids: Ids, form: Form) -> PageResult {
    let app: ApplicationId = ids.id("app_id")?;
    let back = format!("{}/applications/{app}", org_url(&ctx));
    let env: EnvironmentId = form
        .text("environment_id")
        .parse()
        .map_err(|_| Error::validation("environment_id", "choose an environment"))
        .or_back(&back)?;
    let (image, version) = what(&form).or_back(&back)?;
    ops::instances::put(
        &ctx,
        app,
        env,
        Spec::new(image.clone(), None).or_back(&back)?,
    )
    .await
    .or_back(&back)?;
    ops::instances::deploy(&ctx, app, env, image, version)
        .await
        .or_back(&back)?;
    Ok(Redirect::to(&format!("{}?done=deployed", instance_url(&ctx, app, env))).into_response())
}
