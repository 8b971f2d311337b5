//! The permission decision, as a pure function.
//!
//! Invariant: permissions come only from group grants (role at a scope), plus
//! the superuser rule for users authenticated by session or personal token.
//! The tables below are the whole policy; `OrganizationAccessContext` in the
//! server is the only caller on request paths.
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::ids::{ApplicationId, EnvironmentId, GroupId};

/// Roles ordered by an explicit rank, not by enum declaration order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Editor,
    Admin,
}

impl Role {
    pub fn rank(self) -> u8 {
        match self {
            Role::Viewer => 1,
            Role::Editor => 2,
            Role::Admin => 3,
        }
    }

    pub fn at_least(self, needed: Role) -> bool {
        self.rank() >= needed.rank()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Scope {
    Organization,
    Environment {
        #[schema(min_items = 1)]
        environment_ids: Vec<EnvironmentId>,
    },
    Application {
        #[schema(min_items = 1)]
        application_ids: Vec<ApplicationId>,
    },
}

impl Scope {
    pub fn kind_str(&self) -> &'static str {
        match self {
            Scope::Organization => "organization",
            Scope::Environment { .. } => "environment",
            Scope::Application { .. } => "application",
        }
    }

    pub fn covers(&self, resource: &Resource) -> bool {
        match (self, resource) {
            (Scope::Organization, _) => true,
            (Scope::Environment { environment_ids }, Resource::Environment(e)) => {
                environment_ids.contains(e)
            }
            (Scope::Environment { environment_ids }, Resource::Instance { environment, .. }) => {
                environment_ids.contains(environment)
            }
            (Scope::Application { application_ids }, Resource::Application(a)) => {
                application_ids.contains(a)
            }
            (Scope::Application { application_ids }, Resource::Instance { application, .. }) => {
                application_ids.contains(application)
            }
            _ => false,
        }
    }
}

/// One group's grant to a member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub group_id: GroupId,
    pub group_name: String,
    pub role: Role,
    pub scope: Scope,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    Organization,
    Environments,
    Applications,
    Environment(EnvironmentId),
    Application(ApplicationId),
    Instance {
        application: ApplicationId,
        environment: EnvironmentId,
    },
    Members,
    Groups,
    ServiceAccounts,
    ServiceTokens,
    AuditEvents,
    Webhooks,
}

impl Resource {
    /// Parses the `resource` parameter of access-check.
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.split(':');
        let head = parts.next()?;
        let a = parts.next();
        let b = parts.next();
        if parts.next().is_some() {
            return None;
        }
        let r = match (head, a, b) {
            ("organization", None, None) => Resource::Organization,
            ("environments", None, None) => Resource::Environments,
            ("applications", None, None) => Resource::Applications,
            ("members", None, None) => Resource::Members,
            ("groups", None, None) => Resource::Groups,
            ("service_accounts", None, None) => Resource::ServiceAccounts,
            ("service_tokens", None, None) => Resource::ServiceTokens,
            ("audit_events", None, None) => Resource::AuditEvents,
            ("webhooks", None, None) => Resource::Webhooks,
            ("environment", Some(id), None) => Resource::Environment(id.parse().ok()?),
            ("application", Some(id), None) => Resource::Application(id.parse().ok()?),
            ("instance", Some(app), Some(env)) => Resource::Instance {
                application: app.parse().ok()?,
                environment: env.parse().ok()?,
            },
            _ => return None,
        };
        Some(r)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    View,
    Create,
    Update,
    Delete,
}

impl Action {
    pub const ALL: [Action; 4] = [Action::View, Action::Create, Action::Update, Action::Delete];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "view" => Some(Action::View),
            "create" => Some(Action::Create),
            "update" => Some(Action::Update),
            "delete" => Some(Action::Delete),
            _ => None,
        }
    }
}

/// What an action on a resource needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Membership of the organization is enough.
    AnyMember,
    /// A grant whose scope covers the resource with at least this role.
    Role(Role),
    /// The pair is meaningless (`400` from access-check).
    Invalid,
}

/// The action table of the spec (§3).
pub fn requirement(resource: &Resource, action: Action) -> Requirement {
    use Action::*;
    use Requirement::*;
    use Resource as R;
    match (resource, action) {
        (R::Organization, View) => AnyMember,
        (R::Organization, Create) => Invalid,
        (R::Organization, Update | Delete) => Role(crate::authz::Role::Admin),
        (R::Environments | R::Applications, View) => AnyMember,
        (R::Environments | R::Applications, Create) => Role(crate::authz::Role::Editor),
        (R::Environments | R::Applications, Update | Delete) => Invalid,
        (R::Environment(_) | R::Application(_), Create) => Invalid,
        (R::Environment(_) | R::Application(_) | R::Instance { .. }, View) => {
            Role(crate::authz::Role::Viewer)
        }
        (R::Environment(_) | R::Application(_) | R::Instance { .. }, Update) => {
            Role(crate::authz::Role::Editor)
        }
        (R::Instance { .. }, Create) => Role(crate::authz::Role::Editor),
        (R::Environment(_) | R::Application(_) | R::Instance { .. }, Delete) => {
            Role(crate::authz::Role::Admin)
        }
        (R::Members | R::Groups | R::ServiceAccounts, View) => Role(crate::authz::Role::Viewer),
        (R::Members | R::Groups | R::ServiceAccounts, Create | Update | Delete) => {
            Role(crate::authz::Role::Admin)
        }
        (R::ServiceTokens | R::Webhooks, _) => Role(crate::authz::Role::Admin),
        (R::AuditEvents, View) => Role(crate::authz::Role::Admin),
        (R::AuditEvents, Create | Update | Delete) => Invalid,
    }
}

/// The answer of a decision, with the grants that justify it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<'a> {
    pub allowed: bool,
    pub superuser: bool,
    pub granted_by: Vec<&'a Grant>,
}

/// Decides whether a member holding `grants` may perform `action` on
/// `resource`. `None` when the pair is meaningless.
pub fn decide<'a>(
    grants: &'a [Grant],
    superuser: bool,
    resource: &Resource,
    action: Action,
) -> Option<Decision<'a>> {
    let (allowed_by_grants, granted_by) = match requirement(resource, action) {
        Requirement::Invalid => return None,
        Requirement::AnyMember => (true, Vec::new()),
        Requirement::Role(needed) => {
            let by: Vec<&Grant> = grants
                .iter()
                .filter(|g| g.role.at_least(needed) && g.scope.covers(resource))
                .collect();
            (!by.is_empty(), by)
        }
    };
    Some(Decision {
        allowed: allowed_by_grants || superuser,
        superuser,
        granted_by,
    })
}

/// Which items of a kind a member may view, for filtering lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visible<T: Ord> {
    All,
    Only(BTreeSet<T>),
}

impl<T: Ord> Visible<T> {
    pub fn contains(&self, t: &T) -> bool {
        match self {
            Visible::All => true,
            Visible::Only(set) => set.contains(t),
        }
    }
}

/// Every grant gives at least `viewer`, so visibility is scope coverage.
pub fn visible_environments(grants: &[Grant], superuser: bool) -> Visible<EnvironmentId> {
    if superuser || grants.iter().any(|g| g.scope == Scope::Organization) {
        return Visible::All;
    }
    Visible::Only(
        grants
            .iter()
            .flat_map(|g| match &g.scope {
                Scope::Environment { environment_ids } => environment_ids.clone(),
                _ => Vec::new(),
            })
            .collect(),
    )
}

pub fn visible_applications(grants: &[Grant], superuser: bool) -> Visible<ApplicationId> {
    if superuser || grants.iter().any(|g| g.scope == Scope::Organization) {
        return Visible::All;
    }
    Visible::Only(
        grants
            .iter()
            .flat_map(|g| match &g.scope {
                Scope::Application { application_ids } => application_ids.clone(),
                _ => Vec::new(),
            })
            .collect(),
    )
}

/// Instances are visible through the organization, their environment or
/// their application: `(applications, environments)` whose every instance
/// the member may view.
pub fn visible_instances(
    grants: &[Grant],
    superuser: bool,
) -> (Visible<ApplicationId>, Visible<EnvironmentId>) {
    (
        visible_applications(grants, superuser),
        visible_environments(grants, superuser),
    )
}

#[cfg(test)]
mod tests;
