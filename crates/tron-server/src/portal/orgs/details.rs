//! The organization details page: every section the caller may see.
use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use tron_core::authz::{Action, Resource, Scope};
use tron_core::ids::{ApplicationId, EnvironmentId};
use tron_store::models::{Group, Member, PrincipalType, ServiceAccountStatus};

use super::audit::{audit_view, AuditView};
use super::{org_layout, org_url, PageResult};
use crate::access::OrgCtx;
use crate::ops;
use crate::portal::error::{OrBack, PortalError};
use crate::portal::form::QueryMap;
use crate::portal::session::PortalSession;
use crate::portal::view::{collect, render, ts, ts_or, Choice, Layout};
use crate::state::AppState;

/// What the viewer may do here: buttons are offered only for these, and
/// every handler checks again with `ctx.require`.
pub(crate) struct Can {
    pub view_members: bool,
    pub manage_members: bool,
    pub view_groups: bool,
    pub manage_groups: bool,
    pub view_service_accounts: bool,
    pub manage_service_accounts: bool,
    pub create_environment: bool,
    pub create_application: bool,
    pub view_audit: bool,
    pub view_tokens: bool,
    pub view_webhooks: bool,
    pub edit_organization: bool,
    pub delete_organization: bool,
}

impl Can {
    pub(crate) fn of(ctx: &OrgCtx) -> Self {
        Can {
            view_members: ctx.allows(Action::View, &Resource::Members),
            manage_members: ctx.allows(Action::Create, &Resource::Members),
            view_groups: ctx.allows(Action::View, &Resource::Groups),
            manage_groups: ctx.allows(Action::Update, &Resource::Groups),
            view_service_accounts: ctx.allows(Action::View, &Resource::ServiceAccounts),
            manage_service_accounts: ctx.allows(Action::Update, &Resource::ServiceAccounts),
            create_environment: ctx.allows(Action::Create, &Resource::Environments),
            create_application: ctx.allows(Action::Create, &Resource::Applications),
            view_audit: ctx.allows(Action::View, &Resource::AuditEvents),
            view_tokens: ctx.allows(Action::View, &Resource::ServiceTokens),
            view_webhooks: ctx.allows(Action::View, &Resource::Webhooks),
            edit_organization: ctx.allows(Action::Update, &Resource::Organization),
            delete_organization: ctx.allows(Action::Delete, &Resource::Organization),
        }
    }
}

pub(crate) struct MemberRow {
    pub id: String,
    pub is_user: bool,
    pub name: String,
    pub email: String,
    /// The member's page: the service account's for a service account.
    pub href: Option<String>,
    pub groups: String,
    pub joined: String,
}

pub(crate) fn member_row(org_url: &str, m: Member) -> MemberRow {
    let groups = m
        .groups
        .iter()
        .map(|g| g.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let (name, email, href) = match (m.principal_type, m.user, m.service_account) {
        (PrincipalType::User, Some(u), _) => {
            (u.name, u.email, Some(format!("{org_url}/members/{}", m.id)))
        }
        (PrincipalType::ServiceAccount, _, Some(sa)) => (
            sa.name,
            String::new(),
            Some(format!("{org_url}/service-accounts/{}", sa.id)),
        ),
        _ => ("(unknown)".into(), String::new(), None),
    };
    MemberRow {
        id: m.id.to_string(),
        is_user: m.principal_type == PrincipalType::User,
        name,
        email,
        href,
        groups,
        joined: ts(m.created_at),
    }
}

pub(super) struct GroupRow {
    id: String,
    name: String,
    description: String,
    role: &'static str,
    scope: String,
    member_count: i64,
}

/// The organization's environment and application names by id.
pub(crate) struct NameMaps {
    pub envs: HashMap<EnvironmentId, String>,
    pub apps: HashMap<ApplicationId, String>,
}

pub(crate) async fn name_maps(ctx: &OrgCtx) -> Result<NameMaps, PortalError> {
    let envs = collect(|p| async move { ops::environments::list(ctx, &p).await }).await?;
    let apps = collect(|p| async move { ops::applications::list(ctx, &p).await }).await?;
    Ok(NameMaps {
        envs: envs.into_iter().map(|e| (e.id, e.name)).collect(),
        apps: apps.into_iter().map(|a| (a.id, a.name)).collect(),
    })
}

/// A group as a picker names it: "Deployers — editor on staging".
pub(crate) fn group_label(g: &Group, names: &NameMaps) -> String {
    let scope = match (&g.scope, scoped_names(&g.scope, &names.envs, &names.apps)) {
        (Scope::Application { .. }, Some(apps)) => format!("application {apps}"),
        (_, Some(envs)) => envs,
        (_, None) => "the whole organization".to_owned(),
    };
    format!("{} — {} on {scope}", g.name, g.role.as_str())
}

/// The names of the environments or applications a scope covers (ids for
/// those without a name here); `None` for the organization.
fn scoped_names(
    scope: &Scope,
    envs: &HashMap<EnvironmentId, String>,
    apps: &HashMap<ApplicationId, String>,
) -> Option<String> {
    fn names<K: Eq + std::hash::Hash + ToString>(ids: &[K], known: &HashMap<K, String>) -> String {
        if ids.is_empty() {
            return "nothing (all removed)".to_owned();
        }
        ids.iter()
            .map(|i| known.get(i).cloned().unwrap_or_else(|| i.to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    }
    match scope {
        Scope::Organization => None,
        Scope::Environment { environment_ids } => Some(names(environment_ids, envs)),
        Scope::Application { application_ids } => Some(names(application_ids, apps)),
    }
}

/// `organization`, or the names of the scoped environments or
/// applications.
pub(crate) fn scope_text(
    scope: &Scope,
    envs: &HashMap<EnvironmentId, String>,
    apps: &HashMap<ApplicationId, String>,
) -> String {
    match (scope, scoped_names(scope, envs, apps)) {
        (Scope::Environment { .. }, Some(n)) => format!("environments: {n}"),
        (Scope::Application { .. }, Some(n)) => format!("applications: {n}"),
        _ => "whole organization".into(),
    }
}

pub(super) struct SaRow {
    id: String,
    name: String,
    description: String,
    active: bool,
    groups: String,
    active_tokens: i64,
    last_used: String,
}

/// A service token that expires within [`EXPIRING_WITHIN_DAYS`].
pub(super) struct ExpiringRow {
    sa_id: String,
    sa_name: String,
    name: String,
    hint: String,
    expires: String,
}

/// The organization page lists the service tokens expiring this soon.
pub(crate) const EXPIRING_WITHIN_DAYS: i64 = 7;

pub(super) struct EnvRow {
    id: String,
    name: String,
    created: String,
    can_delete: bool,
}

pub(super) struct AppRow {
    id: String,
    name: String,
    repository: String,
    created: String,
    can_delete: bool,
}

#[derive(Template)]
#[template(path = "org.html")]
pub(super) struct OrgPage {
    layout: Layout,
    url: String,
    name: String,
    my_role: String,
    can: Can,
    members: Vec<MemberRow>,
    groups: Vec<GroupRow>,
    service_accounts: Vec<SaRow>,
    expiring: Vec<ExpiringRow>,
    environments: Vec<EnvRow>,
    applications: Vec<AppRow>,
    env_choices: Vec<Choice>,
    app_choices: Vec<Choice>,
    roles: Vec<Choice>,
    /// The new-group form starts with an organization scope.
    scope_kind: &'static str,
    audit: Option<AuditView>,
    max_token_days: String,
    rate_limit: u32,
}

/// How the caller's groups read, e.g. `admin (whole organization)`.
pub(super) fn my_role(ctx: &OrgCtx) -> String {
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

pub(crate) async fn show(
    State(_state): State<AppState>,
    session: PortalSession,
    ctx: OrgCtx,
    q: QueryMap,
) -> PageResult {
    ctx.require(Action::View, &Resource::Organization)?;
    let url = org_url(&ctx);
    let can = Can::of(&ctx);
    let c = &ctx;

    let envs = collect(|p| async move { ops::environments::list(c, &p).await }).await?;
    let apps = collect(|p| async move { ops::applications::list(c, &p).await }).await?;
    let env_names: HashMap<_, _> = envs.iter().map(|e| (e.id, e.name.clone())).collect();
    let app_names: HashMap<_, _> = apps.iter().map(|a| (a.id, a.name.clone())).collect();

    let members = if can.view_members {
        collect(|p| async move { ops::members::list(c, None, None, &p).await })
            .await?
            .into_iter()
            .map(|m| member_row(&url, m))
            .collect()
    } else {
        Vec::new()
    };
    let groups = if can.view_groups {
        collect(|p| async move { ops::groups::list(c, &p).await })
            .await?
            .into_iter()
            .map(|g| GroupRow {
                id: g.id.to_string(),
                scope: scope_text(&g.scope, &env_names, &app_names),
                name: g.name,
                description: g.description,
                role: g.role.as_str(),
                member_count: g.member_count,
            })
            .collect()
    } else {
        Vec::new()
    };
    let service_accounts = if can.view_service_accounts {
        collect(|p| async move { ops::service_accounts::list(c, &p).await })
            .await?
            .into_iter()
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
                last_used: ts_or(sa.last_used_at, "never"),
            })
            .collect()
    } else {
        Vec::new()
    };
    let expiring = if can.view_tokens {
        ops::tokens::expiring(c, chrono::Duration::days(EXPIRING_WITHIN_DAYS), 50)
            .await?
            .into_iter()
            .map(|(t, sa_name)| ExpiringRow {
                sa_id: t
                    .service_account_id
                    .map(|i| i.to_string())
                    .unwrap_or_default(),
                sa_name,
                name: t.name,
                hint: t.hint,
                expires: ts_or(t.expires_at, "never"),
            })
            .collect()
    } else {
        Vec::new()
    };
    let audit = if can.view_audit {
        Some(audit_view(&ctx, &q).await.or_back(&url)?)
    } else {
        None
    };
    let settings = ctx.organization().settings;
    let page = OrgPage {
        layout: org_layout(&session, &ctx, &ctx.organization().name).notice(q.get("done")),
        name: ctx.organization().name.clone(),
        my_role: my_role(&ctx),
        members,
        groups,
        service_accounts,
        expiring,
        env_choices: envs
            .iter()
            .map(|e| Choice::new(e.id, e.name.clone(), false))
            .collect(),
        app_choices: apps
            .iter()
            .map(|a| Choice::new(a.id, a.name.clone(), false))
            .collect(),
        environments: envs
            .into_iter()
            .map(|e| EnvRow {
                id: e.id.to_string(),
                can_delete: ctx.allows(Action::Delete, &Resource::Environment(e.id)),
                name: e.name,
                created: ts(e.created_at),
            })
            .collect(),
        applications: apps
            .into_iter()
            .map(|a| AppRow {
                id: a.id.to_string(),
                can_delete: ctx.allows(Action::Delete, &Resource::Application(a.id)),
                name: a.name,
                repository: a.repository.unwrap_or_default(),
                created: ts(a.created_at),
            })
            .collect(),
        roles: role_choices("viewer"),
        scope_kind: "organization",
        audit,
        max_token_days: settings
            .max_token_lifetime_days
            .map(|d| d.to_string())
            .unwrap_or_default(),
        rate_limit: settings.service_token_rate_limit_per_minute,
        can,
        url,
    };
    Ok(render(&page))
}

pub(crate) fn role_choices(selected: &str) -> Vec<Choice> {
    ["viewer", "editor", "admin"]
        .into_iter()
        .map(|r| Choice::new(r, r, r == selected))
        .collect()
}
