//! What the organization's pages share: what the viewer may do, how
//! members, groups and scopes read.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tron_core::authz::{Action, Resource, Scope};
use tron_core::ids::{ApplicationId, EnvironmentId};
use tron_store::models::{Group, Member, PrincipalType};

use crate::access::OrgCtx;
use crate::ops;
use crate::portal::error::PortalError;
use crate::portal::view::{collect, when, Choice, When};

/// What the viewer may do here: buttons are offered only for these, and
/// every handler checks again with `ctx.require`.
pub(crate) struct Can {
    pub view_members: bool,
    pub view_groups: bool,
    pub view_service_accounts: bool,
    pub view_audit: bool,
    pub view_tokens: bool,
    pub view_webhooks: bool,
}

impl Can {
    pub(crate) fn of(ctx: &OrgCtx) -> Self {
        Can {
            view_members: ctx.allows(Action::View, &Resource::Members),
            view_groups: ctx.allows(Action::View, &Resource::Groups),
            view_service_accounts: ctx.allows(Action::View, &Resource::ServiceAccounts),
            view_audit: ctx.allows(Action::View, &Resource::AuditEvents),
            view_tokens: ctx.allows(Action::View, &Resource::ServiceTokens),
            view_webhooks: ctx.allows(Action::View, &Resource::Webhooks),
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
    pub joined: When,
    /// Whether the list offers "Remove" (a user, not the last admin).
    pub removable: bool,
}

pub(crate) fn member_row(org_url: &str, m: Member, now: DateTime<Utc>) -> MemberRow {
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
        joined: when(m.created_at, now),
        removable: false,
    }
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

pub(crate) fn role_choices(selected: &str) -> Vec<Choice> {
    ["viewer", "editor", "admin"]
        .into_iter()
        .map(|r| Choice::new(r, r, r == selected))
        .collect()
}
