//! `tron can-i`, `tron deploy`, `tron audit`: what a pipeline and an
//! auditor use.
use std::collections::HashSet;
use std::io::IsTerminal;

use chrono::{DateTime, Utc};
use clap::Args;
use tron_client::{
    AccessCheck, AuditEvent, AuditEventId, AuditFilter, Client, CreateDeployment, ImageRef,
    ListParams, OrganizationId, PutInstance, ShortText,
};

use super::error::{CliError, Result};
use super::groups::Names;
use super::output::{self, Output};
use super::{all, resolve, time, Ctx};

#[derive(Args, Debug)]
pub struct CanIArgs {
    /// view, create, update or delete.
    #[arg(value_parser = ["view", "create", "update", "delete"])]
    action: String,
    /// As access-check takes it, with names allowed: organization,
    /// environments, environment:NAME, application:NAME,
    /// instance:APP:ENV, members, groups, service_accounts, service_tokens,
    /// audit_events.
    resource: String,
    /// Asks about another member (a user's email, a service account's
    /// name, or a member id); needs admin.
    #[arg(long = "as")]
    as_member: Option<String>,
}

#[derive(Args, Debug)]
pub struct DeployArgs {
    app: String,
    env: String,
    image: String,
    #[arg(long)]
    version: Option<String>,
}

#[derive(Args, Debug)]
pub struct AuditArgs {
    /// user, service_account, anonymous or system.
    #[arg(long)]
    actor_type: Option<String>,
    /// An action (`service_token.rotate`) or a prefix (`service_token.*`).
    #[arg(long)]
    action: Option<String>,
    /// A duration back from now (1h, 7d) or an RFC 3339 time.
    #[arg(long, value_parser = time::since)]
    since: Option<DateTime<Utc>>,
    /// How many events (1–200) without --follow.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=200))]
    limit: u32,
    /// Keeps printing new events, oldest first, until interrupted.
    #[arg(long)]
    follow: bool,
}

/// `environment:web` → `environment:<id>`; the other forms pass through.
async fn resource(c: &Client, org: OrganizationId, text: &str) -> Result<String> {
    let parts: Vec<&str> = text.split(':').collect();
    Ok(match parts.as_slice() {
        ["environment", env] => format!("environment:{}", resolve::environment(c, org, env).await?),
        ["application", app] => format!("application:{}", resolve::application(c, org, app).await?),
        ["instance", app, env] => {
            let env = resolve::environment(c, org, env).await?;
            let app = resolve::application_in(c, org, app, Some(env)).await?;
            format!("instance:{app}:{env}")
        }
        _ => text.to_owned(),
    })
}

pub async fn can_i(ctx: &Ctx, args: CanIArgs) -> Result<()> {
    let c = ctx.api()?;
    let org = ctx.org().await?;
    let member_id = match &args.as_member {
        Some(m) => Some(resolve::member(c, org, m).await?),
        None => None,
    };
    let query = AccessCheck {
        resource: resource(c, org, &args.resource).await?,
        action: args.action.clone(),
        member_id,
    };
    let decision = c.access_check(org, &query).await?;
    match ctx.out {
        Output::Json => output::json(&decision)?,
        Output::Table => {
            let mut text = if decision.allowed {
                "yes".to_owned()
            } else {
                "no".to_owned()
            };
            if decision.superuser {
                text.push_str(" (as a superuser)");
            }
            if !decision.granted_by.is_empty() {
                let names = Names::load(c, org).await;
                for g in &decision.granted_by {
                    text.push_str(&format!(
                        "\n  granted by {} ({} on {})",
                        g.group_name,
                        g.role.as_str(),
                        names.scope(&g.scope)
                    ));
                }
            }
            output::line(&text)?;
        }
    }
    if decision.allowed {
        Ok(())
    } else {
        Err(CliError::No)
    }
}

pub async fn deploy(ctx: &Ctx, args: DeployArgs) -> Result<()> {
    let c = ctx.api()?;
    let org = ctx.org().await?;
    let image = ImageRef::parse("image", &args.image)?;
    let version = args
        .version
        .as_deref()
        .map(|v| ShortText::parse("version", v))
        .transpose()?;
    let env = resolve::environment(c, org, &args.env).await?;
    let app = resolve::application_in(c, org, &args.app, Some(env)).await?;
    match c.get_instance(org, app, env).await {
        Ok(_) => {}
        Err(e) if e.code() == Some("not_found") => {
            let body = PutInstance {
                image: image.clone(),
                replicas: None,
            };
            c.put_instance(org, app, env, &body).await?;
            if ctx.out == Output::Table {
                eprintln!("Created the instance of {} in {}.", args.app, args.env);
            }
        }
        Err(e) => return Err(e.into()),
    }
    let d = c
        .create_deployment(org, app, env, &CreateDeployment { image, version })
        .await?;
    match ctx.out {
        Output::Json => output::json(&d),
        Output::Table => output::line(&format!(
            "Deployed {} to {} {} (deployment {}{}).",
            d.image,
            args.app,
            args.env,
            d.id,
            d.version
                .as_ref()
                .map(|v| format!(", version {v}"))
                .unwrap_or_default()
        )),
    }
}

fn event_row(e: &AuditEvent) -> Vec<String> {
    let who = e
        .actor
        .name
        .clone()
        .or_else(|| e.actor.id.clone())
        .unwrap_or_default();
    let target = e
        .target
        .name
        .clone()
        .or_else(|| e.target.id.clone())
        .unwrap_or_default();
    vec![
        output::time(&e.occurred_at),
        e.action.clone(),
        format!("{}:{who}", e.actor.kind),
        format!("{}:{target}", e.target.kind),
    ]
}

const EVENT_HEADER: &[&str] = &["TIME", "ACTION", "ACTOR", "TARGET"];

pub async fn audit(ctx: &Ctx, args: AuditArgs) -> Result<()> {
    let c = ctx.api()?;
    let org = ctx.org().await?;
    let filter = AuditFilter {
        actor_type: args.actor_type.clone(),
        action: args.action.clone(),
        since: args.since,
        ..Default::default()
    };
    let first = c
        .list_audit_events(org, &filter, &ListParams::limit(args.limit))
        .await?;
    if !args.follow {
        return output::list(ctx.out, &first.items, EVENT_HEADER, event_row);
    }
    follow(ctx, c, org, filter, first.items).await
}

/// Prints `events` (newest first) oldest first, one line each (JSON lines
/// with `-o json`), then polls for newer ones every two seconds.
async fn follow(
    ctx: &Ctx,
    c: &Client,
    org: OrganizationId,
    mut filter: AuditFilter,
    mut events: Vec<AuditEvent>,
) -> Result<()> {
    if std::io::stderr().is_terminal() {
        eprintln!("Following the audit log of {org} (Ctrl-C stops)…");
    }
    if ctx.out == Output::Table {
        output::line(output::Table::new(EVENT_HEADER).render().trim_end())?;
    }
    // Events at the latest instant seen, so the inclusive `since` of the
    // next poll does not print them twice.
    let mut last: Option<DateTime<Utc>> = None;
    let mut seen_at_last: HashSet<AuditEventId> = HashSet::new();
    loop {
        events.reverse();
        for e in &events {
            if Some(e.occurred_at) == last && seen_at_last.contains(&e.id) {
                continue;
            }
            match ctx.out {
                Output::Json => output::line(
                    &serde_json::to_string(e)
                        .map_err(|x| CliError::failed("encode_error", x.to_string()))?,
                )?,
                Output::Table => output::line(&event_row(e).join("  "))?,
            }
            if last.is_none_or(|l| e.occurred_at > l) {
                last = Some(e.occurred_at);
                seen_at_last.clear();
            }
            seen_at_last.insert(e.id);
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        if last.is_some() {
            filter.since = last;
        }
        let f = &filter;
        events = all(|p| async move { c.list_audit_events(org, f, &p).await }).await?;
    }
}
