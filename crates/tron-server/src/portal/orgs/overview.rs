//! The organization's overview: a card per section with its count, the
//! service tokens expiring soon, and which image each application runs in
//! each environment.
use std::collections::HashMap;

use askama::Template;
use tron_core::authz::{Action, Resource};
use tron_store::models::PrincipalType;

use super::{org_layout, org_url, section_url, Can, PageResult, EXPIRING_WITHIN_DAYS};
use crate::access::OrgCtx;
use crate::ops;
use crate::portal::form::QueryMap;
use crate::portal::session::PortalSession;
use crate::portal::view::{collect, expiry_badge, render, when, Layout, When, MAX_LISTED};

/// A section of the organization, as its card on the overview.
struct SectionCard {
    id: &'static str,
    title: &'static str,
    href: String,
    /// "3 users, 2 service accounts"; empty for sections without a count.
    count: String,
    blurb: &'static str,
}

/// A service token that expires within [`EXPIRING_WITHIN_DAYS`].
struct ExpiringRow {
    sa_href: String,
    sa_name: String,
    name: String,
    hint: String,
    expires: When,
    badge: String,
}

/// One application's row of the deployments matrix.
struct MatrixRow {
    name: String,
    href: String,
    cells: Vec<Cell>,
}

/// What an application runs in one environment (`None`: no instance).
struct Cell {
    env: String,
    running: Option<Running>,
}

struct Running {
    href: String,
    image: String,
    /// The image's last path segment, `web:1.4.2`.
    short: String,
    updated: When,
}

#[derive(Template)]
#[template(path = "org.html")]
struct OrgPage {
    layout: Layout,
    url: String,
    name: String,
    id: String,
    my_role: String,
    sections: Vec<SectionCard>,
    expiring: Vec<ExpiringRow>,
    view_tokens: bool,
    env_names: Vec<String>,
    matrix: Vec<MatrixRow>,
}

/// How the caller's groups read, e.g. `admin in Administrators`.
fn my_role(ctx: &OrgCtx) -> String {
    if ctx.grants().is_empty() {
        return if ctx.is_superuser() {
            "superuser (not a member)".into()
        } else {
            "member without groups".into()
        };
    }
    ctx.grants()
        .iter()
        .map(|g| format!("{} in {}", g.role.as_str(), g.group_name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn count(n: usize, one: &str, many: &str) -> String {
    let plus = if n >= MAX_LISTED { "+" } else { "" };
    format!("{n}{plus} {}", if n == 1 { one } else { many })
}

pub(crate) async fn show(session: PortalSession, ctx: OrgCtx, q: QueryMap) -> PageResult {
    ctx.require(Action::View, &Resource::Organization)?;
    let url = org_url(&ctx);
    let can = Can::of(&ctx);
    let c = &ctx;
    let now = ctx.now();

    let envs = collect(|p| async move { ops::environments::list(c, &p).await }).await?;
    let apps = collect(|p| async move { ops::applications::list(c, &p).await }).await?;
    let mut sections = Vec::new();
    if can.view_members {
        let members =
            collect(|p| async move { ops::members::list(c, None, None, &p).await }).await?;
        let users = members
            .iter()
            .filter(|m| m.principal_type == PrincipalType::User)
            .count();
        sections.push(SectionCard {
            id: "members",
            title: "Members",
            href: section_url(c, "members"),
            count: format!(
                "{}, {}",
                count(users, "user", "users"),
                count(members.len() - users, "service account", "service accounts")
            ),
            blurb: "People and service accounts of this organization.",
        });
    }
    if can.view_groups {
        let n = collect(|p| async move { ops::groups::list(c, &p).await })
            .await?
            .len();
        sections.push(SectionCard {
            id: "groups",
            title: "Groups",
            href: section_url(c, "groups"),
            count: count(n, "group", "groups"),
            blurb: "A role at a scope: the only way anyone gets permissions.",
        });
    }
    if can.view_service_accounts {
        let n = collect(|p| async move { ops::service_accounts::list(c, &p).await })
            .await?
            .len();
        sections.push(SectionCard {
            id: "service-accounts",
            title: "Service accounts",
            href: section_url(c, "service-accounts"),
            count: count(n, "service account", "service accounts"),
            blurb: "CI/CD pipelines and integrations, with their tokens and trust policies.",
        });
    }
    sections.push(SectionCard {
        id: "environments",
        title: "Environments",
        href: section_url(c, "environments"),
        count: count(envs.len(), "environment", "environments"),
        blurb: "Where applications run: dev, staging, production…",
    });
    sections.push(SectionCard {
        id: "applications",
        title: "Applications",
        href: section_url(c, "applications"),
        count: count(apps.len(), "application", "applications"),
        blurb: "What is deployed, and the image each environment runs.",
    });
    if can.view_audit {
        sections.push(SectionCard {
            id: "audit",
            title: "Audit log",
            href: section_url(c, "audit"),
            count: String::new(),
            blurb: "Every change, by whom: a person or which service account and token.",
        });
    }
    if can.view_webhooks {
        sections.push(SectionCard {
            id: "webhooks",
            title: "Webhooks",
            href: section_url(c, "webhooks"),
            count: String::new(),
            blurb: "Warnings before tokens expire, and security events.",
        });
    }
    sections.push(SectionCard {
        id: "settings",
        title: "Settings",
        href: section_url(c, "settings"),
        count: String::new(),
        blurb: "Token lifetime limit, rate limit, name; deleting the organization.",
    });

    let expiring = if can.view_tokens {
        ops::tokens::expiring(c, chrono::Duration::days(EXPIRING_WITHIN_DAYS), 50)
            .await?
            .into_iter()
            .map(|(t, sa_name)| ExpiringRow {
                sa_href: t
                    .service_account_id
                    .map(|i| format!("{url}/service-accounts/{i}#tokens"))
                    .unwrap_or_default(),
                sa_name,
                name: t.name,
                hint: t.hint,
                badge: expiry_badge(t.expires_at, now).unwrap_or_default(),
                expires: when(t.expires_at.unwrap_or(now), now),
            })
            .collect()
    } else {
        Vec::new()
    };

    // Which image each application runs where: one instance list per
    // environment.
    let mut running: HashMap<_, Running> = HashMap::new();
    for e in &envs {
        let id = e.id;
        let instances =
            collect(|p| async move { ops::instances::of_environment(c, id, &p).await }).await?;
        for i in instances {
            running.insert(
                (i.application_id, i.environment_id),
                Running {
                    href: format!(
                        "{url}/applications/{}/instances/{}",
                        i.application_id, i.environment_id
                    ),
                    short: i.image.rsplit('/').next().unwrap_or(&i.image).to_owned(),
                    image: i.image,
                    updated: when(i.updated_at, now),
                },
            );
        }
    }
    let matrix = apps
        .iter()
        .map(|a| MatrixRow {
            name: a.name.clone(),
            href: format!("{url}/applications/{}", a.id),
            cells: envs
                .iter()
                .map(|e| Cell {
                    env: e.name.clone(),
                    running: running.remove(&(a.id, e.id)),
                })
                .collect(),
        })
        .collect();

    let page = OrgPage {
        layout: org_layout(&session, &ctx, &ctx.organization().name).notice(q.get("done")),
        name: ctx.organization().name.clone(),
        id: ctx.org_id().to_string(),
        my_role: my_role(&ctx),
        sections,
        expiring,
        view_tokens: can.view_tokens,
        env_names: envs.into_iter().map(|e| e.name).collect(),
        matrix,
        url,
    };
    Ok(render(&page))
}
