//! "What can it do?": a member's effective permissions, one row per
//! environment and application of the organization and per
//! organization-wide resource, one column per action.
//!
//! Every cell is the API's access-check answer for that member: the
//! member's grants are loaded once by `ops::organization::grants_of`
//! (which also decides who may ask: the member itself, or an admin) and
//! each cell is decided in memory by the same `MemberAccess::decide`.
use std::collections::HashMap;

use tron_core::authz::{Action, Requirement, Resource};
use tron_core::ids::MemberId;
use tron_core::Error;

use crate::access::OrgCtx;
use crate::ops;
use crate::ops::organization::MemberAccess;
use crate::portal::orgs::scope_text;
use crate::portal::view::collect;

/// The columns: the action and its heading.
const COLUMNS: [(Action, &str); 4] = [
    (Action::View, "View"),
    (Action::Create, "Create"),
    (Action::Update, "Update / deploy"),
    (Action::Delete, "Delete"),
];

/// The organization-wide rows: the resource, its access-check name and
/// how the table names it.
const ORGANIZATION_ROWS: [(Resource, &str, &str); 9] = [
    (Resource::Organization, "organization", "name and settings"),
    (Resource::Environments, "environments", "new environments"),
    (Resource::Applications, "applications", "new applications"),
    (Resource::Members, "members", "members"),
    (Resource::Groups, "groups", "groups"),
    (
        Resource::ServiceAccounts,
        "service_accounts",
        "service accounts",
    ),
    (Resource::ServiceTokens, "service_tokens", "service tokens"),
    (Resource::AuditEvents, "audit_events", "audit events"),
    (Resource::Webhooks, "webhooks", "webhooks"),
];

pub(crate) struct PermissionTable {
    pub headings: Vec<&'static str>,
    pub rows: Vec<PermissionRow>,
    /// The member acts as a superuser: allowed everywhere.
    pub superuser: bool,
    /// It is in no group: it can only see the organization itself.
    pub no_groups: bool,
}

pub(crate) struct PermissionRow {
    /// The resource as access-check names it (`environment:<id>`).
    pub resource: String,
    /// `environment`, `application` or `organization`.
    pub kind: &'static str,
    pub name: String,
    pub cells: Vec<Cell>,
}

pub(crate) struct Cell {
    /// `view`, `create`, `update` or `delete`.
    pub action: &'static str,
    /// The column's heading, for the stacked layout of narrow screens.
    pub heading: &'static str,
    /// `yes`, `no`, or `na` where the action means nothing here.
    pub state: &'static str,
    /// For `yes`: what grants it, e.g. `deployers (editor on environments: staging)`.
    pub by: Vec<String>,
}

fn action_name(a: Action) -> &'static str {
    match a {
        Action::View => "view",
        Action::Create => "create",
        Action::Update => "update",
        Action::Delete => "delete",
    }
}

/// The table of `member`, as the viewer may ask about it (`403` from
/// `grants_of` unless it is the viewer itself or the viewer is an admin).
pub(crate) async fn table(ctx: &OrgCtx, member: MemberId) -> Result<PermissionTable, Error> {
    let access = ops::organization::grants_of(ctx, Some(member)).await?;
    let envs = collect(|p| async move { ops::environments::list(ctx, &p).await }).await?;
    let apps = collect(|p| async move { ops::applications::list(ctx, &p).await }).await?;
    let env_names: HashMap<_, _> = envs.iter().map(|e| (e.id, e.name.clone())).collect();
    let app_names: HashMap<_, _> = apps.iter().map(|a| (a.id, a.name.clone())).collect();
    let cells = |access: &MemberAccess, resource: Resource| -> Vec<Cell> {
        COLUMNS
            .iter()
            .map(|&(action, heading)| {
                let (state, by) = match access.decide(&resource, action) {
                    None => ("na", Vec::new()),
                    Some(d) if !d.allowed => ("no", Vec::new()),
                    Some(d) if !d.granted_by.is_empty() => (
                        "yes",
                        d.granted_by
                            .iter()
                            .map(|g| {
                                format!(
                                    "{} ({} on {})",
                                    g.group_name,
                                    g.role.as_str(),
                                    scope_text(&g.scope, &env_names, &app_names)
                                )
                            })
                            .collect(),
                    ),
                    Some(_) => match tron_core::authz::requirement(&resource, action) {
                        Requirement::AnyMember => ("yes", vec!["every member".to_owned()]),
                        _ => ("yes", vec!["superuser".to_owned()]),
                    },
                };
                Cell {
                    action: action_name(action),
                    heading,
                    state,
                    by,
                }
            })
            .collect()
    };
    let mut rows = Vec::with_capacity(envs.len() + apps.len() + ORGANIZATION_ROWS.len());
    for e in &envs {
        rows.push(PermissionRow {
            resource: format!("environment:{}", e.id),
            kind: "environment",
            name: e.name.clone(),
            cells: cells(&access, Resource::Environment(e.id)),
        });
    }
    for a in &apps {
        rows.push(PermissionRow {
            resource: format!("application:{}", a.id),
            kind: "application",
            name: a.name.clone(),
            cells: cells(&access, Resource::Application(a.id)),
        });
    }
    for (resource, key, label) in ORGANIZATION_ROWS {
        rows.push(PermissionRow {
            resource: key.to_owned(),
            kind: "organization",
            name: label.to_owned(),
            cells: cells(&access, resource),
        });
    }
    Ok(PermissionTable {
        headings: COLUMNS.iter().map(|(_, h)| *h).collect(),
        rows,
        superuser: access.superuser,
        no_groups: access.grants.is_empty(),
    })
}

/// The table when the viewer may see it; `None` when only an admin may.
pub(crate) async fn table_if_allowed(
    ctx: &OrgCtx,
    member: MemberId,
) -> Result<Option<PermissionTable>, Error> {
    match table(ctx, member).await {
        Ok(t) => Ok(Some(t)),
        Err(Error::Denied { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}
