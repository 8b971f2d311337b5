//! `tron groups …`: a role over a scope, and who is in it.
use std::collections::HashMap;

use clap::Subcommand;
use tron_client::{
    Client, CreateGroup, Description, DisplayName, Group, OrganizationId, Role, Scope, UpdateGroup,
    Uuid,
};

use super::error::{CliError, Result};
use super::orgs::{done, member_row, MEMBER_HEADER};
use super::output::{self, Output};
use super::{all, resolve, Ctx};

#[derive(Subcommand, Debug)]
pub enum GroupsCommand {
    List,
    Show {
        group: String,
    },
    /// --scope organization | environment:NAME[,NAME…] | application:NAME[,NAME…]
    Create {
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[arg(long)]
        scope: String,
        #[arg(long)]
        description: Option<String>,
    },
    Update {
        group: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, value_parser = parse_role)]
        role: Option<Role>,
        #[arg(long)]
        scope: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    Delete {
        group: String,
    },
    /// The members of a group.
    Members {
        group: String,
    },
    /// Adds a member (a user's email, a service account's name, or an id).
    AddMember {
        group: String,
        member: String,
    },
    RemoveMember {
        group: String,
        member: String,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "must be viewer, editor or admin".into())
}

/// `organization`, `environment:a,b` or `application:a,b`, names resolved.
async fn parse_scope(c: &Client, org: OrganizationId, text: &str) -> Result<Scope> {
    let (kind, names) = text.split_once(':').unwrap_or((text, ""));
    let names: Vec<&str> = names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    match (kind, names.is_empty()) {
        ("organization", true) => Ok(Scope::Organization),
        ("environment", false) => {
            let mut environment_ids = Vec::new();
            for n in names {
                environment_ids.push(resolve::environment(c, org, n).await?);
            }
            Ok(Scope::Environment { environment_ids })
        }
        ("application", false) => {
            let mut application_ids = Vec::new();
            for n in names {
                application_ids.push(resolve::application(c, org, n).await?);
            }
            Ok(Scope::Application { application_ids })
        }
        _ => Err(CliError::usage(
            "--scope is organization, environment:NAME[,NAME…] or application:NAME[,NAME…]",
        )),
    }
}

fn scope_json(scope: &Scope) -> Result<serde_json::Value> {
    serde_json::to_value(scope).map_err(|e| CliError::failed("encode_error", e.to_string()))
}

/// Names of the environments and applications, to show scopes by name
/// (ids where the caller may not list them).
pub struct Names(HashMap<Uuid, String>);

impl Names {
    /// The names, for a table only (JSON shows the API's ids).
    pub async fn for_table(out: Output, c: &Client, org: OrganizationId) -> Self {
        match out {
            Output::Table => Self::load(c, org).await,
            Output::Json => Names(HashMap::new()),
        }
    }

    pub async fn load(c: &Client, org: OrganizationId) -> Self {
        let mut names = HashMap::new();
        if let Ok(envs) = all(|p| async move { c.list_environments(org, &p).await }).await {
            names.extend(envs.into_iter().map(|e| (e.id.0, e.name)));
        }
        if let Ok(apps) = all(|p| async move { c.list_applications(org, &p).await }).await {
            names.extend(apps.into_iter().map(|a| (a.id.0, a.name)));
        }
        Names(names)
    }

    pub fn name(&self, id: Uuid) -> String {
        self.0.get(&id).cloned().unwrap_or_else(|| id.to_string())
    }

    pub fn scope(&self, scope: &Scope) -> String {
        match scope {
            Scope::Organization => "organization".into(),
            Scope::Environment { environment_ids } => format!(
                "environment:{}",
                environment_ids
                    .iter()
                    .map(|i| self.name(i.0))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Scope::Application { application_ids } => format!(
                "application:{}",
                application_ids
                    .iter()
                    .map(|i| self.name(i.0))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }
}

fn group_fields(names: &Names) -> impl FnOnce(&Group) -> Vec<(&'static str, String)> + '_ {
    move |g| {
        vec![
            ("id", g.id.to_string()),
            ("name", g.name.clone()),
            ("description", g.description.clone()),
            ("role", g.role.as_str().into()),
            ("scope", names.scope(&g.scope)),
            ("members", g.member_count.to_string()),
            ("created", output::time(&g.created_at)),
        ]
    }
}

pub async fn run(ctx: &Ctx, command: GroupsCommand) -> Result<()> {
    let c = ctx.api()?;
    let org = ctx.org().await?;
    match command {
        GroupsCommand::List => {
            let items = all(|p| async move { c.list_groups(org, &p).await }).await?;
            let names = Names::for_table(ctx.out, c, org).await;
            output::list(
                ctx.out,
                &items,
                &["NAME", "ID", "ROLE", "SCOPE", "MEMBERS"],
                |g| {
                    vec![
                        g.name.clone(),
                        g.id.to_string(),
                        g.role.as_str().into(),
                        names.scope(&g.scope),
                        g.member_count.to_string(),
                    ]
                },
            )
        }
        GroupsCommand::Show { group } => {
            let id = resolve::group(c, org, &group).await?;
            let g = c.get_group(org, id).await?;
            let names = Names::for_table(ctx.out, c, org).await;
            output::object(ctx.out, &g, group_fields(&names))
        }
        GroupsCommand::Create {
            name,
            role,
            scope,
            description,
        } => {
            let scope = parse_scope(c, org, &scope).await?;
            let body = CreateGroup {
                name: DisplayName::parse("name", &name)?,
                description: description
                    .map(|d| Description::parse("description", &d))
                    .transpose()?,
                role: role.as_str().into(),
                scope: scope_json(&scope)?,
            };
            let g = c.create_group(org, &body).await?;
            let names = Names::for_table(ctx.out, c, org).await;
            output::object(ctx.out, &g, group_fields(&names))
        }
        GroupsCommand::Update {
            group,
            name,
            role,
            scope,
            description,
        } => {
            let id = resolve::group(c, org, &group).await?;
            let scope = match scope {
                Some(s) => Some(scope_json(&parse_scope(c, org, &s).await?)?),
                None => None,
            };
            let body = UpdateGroup {
                name: name.map(|n| DisplayName::parse("name", &n)).transpose()?,
                description: description
                    .map(|d| Description::parse("description", &d))
                    .transpose()?,
                role: role.map(|r| r.as_str().into()),
                scope,
            };
            let g = c.update_group(org, id, &body).await?;
            let names = Names::for_table(ctx.out, c, org).await;
            output::object(ctx.out, &g, group_fields(&names))
        }
        GroupsCommand::Delete { group } => {
            let id = resolve::group(c, org, &group).await?;
            c.delete_group(org, id).await?;
            done(ctx, &format!("Deleted group {group}."))
        }
        GroupsCommand::Members { group } => {
            let id = resolve::group(c, org, &group).await?;
            let items = all(|p| async move { c.list_group_members(org, id, &p).await }).await?;
            output::list(ctx.out, &items, MEMBER_HEADER, member_row)
        }
        GroupsCommand::AddMember { group, member } => {
            let g = resolve::group(c, org, &group).await?;
            let m = resolve::member(c, org, &member).await?;
            c.add_group_member(org, g, m).await?;
            done(ctx, &format!("Added {member} to {group}."))
        }
        GroupsCommand::RemoveMember { group, member } => {
            let g = resolve::group(c, org, &group).await?;
            let m = resolve::member(c, org, &member).await?;
            c.remove_group_member(org, g, m).await?;
            done(ctx, &format!("Removed {member} from {group}."))
        }
    }
}
