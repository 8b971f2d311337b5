//! `tron orgs …` and `tron members …`.
use clap::Subcommand;
use tron_client::{Member, Organization, PrincipalType, UpdateOrganization};

use super::error::{CliError, Result};
use super::output::{self, Output};
use super::{all, resolve, Ctx};

#[derive(Subcommand, Debug)]
pub enum OrgsCommand {
    /// The organizations you are a member of (--all: every one, superusers).
    List {
        #[arg(long)]
        all: bool,
    },
    /// One organization (default: --org).
    Show {
        #[arg(value_name = "ORG")]
        organization: Option<String>,
    },
    /// Creates an organization; you become its admin.
    Create { name: String },
    /// Renames an organization or changes its settings.
    Update {
        /// Default: --org.
        #[arg(value_name = "ORG")]
        organization: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// Days a service token may live at most; `none` removes the limit.
        #[arg(long)]
        max_token_lifetime_days: Option<String>,
        /// Requests a minute each service token may make.
        #[arg(long)]
        rate_limit_per_minute: Option<u32>,
    },
    /// Deletes an organization and everything in it.
    Delete {
        #[arg(value_name = "ORG")]
        organization: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum MembersCommand {
    /// The members; --type user|service_account filters.
    List {
        #[arg(long = "type", value_parser = ["user", "service_account"])]
        principal_type: Option<String>,
    },
    /// Adds an existing user by email.
    #[command(alias = "create")]
    Add { email: String },
    /// Removes a user (by email or member id) from the organization.
    #[command(alias = "delete")]
    Remove { member: String },
}

fn org_fields(o: &Organization) -> Vec<(&'static str, String)> {
    vec![
        ("id", o.id.to_string()),
        ("name", o.name.clone()),
        (
            "max token lifetime",
            o.settings
                .max_token_lifetime_days
                .map(|d| format!("{d} days"))
                .unwrap_or_else(|| "none".into()),
        ),
        (
            "token rate limit",
            format!("{}/minute", o.settings.service_token_rate_limit_per_minute),
        ),
        ("created", output::time(&o.created_at)),
    ]
}

pub async fn orgs(ctx: &Ctx, command: OrgsCommand) -> Result<()> {
    let c = ctx.api()?;
    match command {
        OrgsCommand::List { all: every } => {
            let items = if every {
                all(|p| async move { c.list_all_organizations(&p).await }).await?
            } else {
                all(|p| async move { c.list_organizations(&p).await }).await?
            };
            output::list(ctx.out, &items, &["NAME", "ID", "CREATED"], |o| {
                vec![
                    o.name.clone(),
                    o.id.to_string(),
                    output::time(&o.created_at),
                ]
            })
        }
        OrgsCommand::Show { organization } => {
            let id = match organization {
                Some(o) => resolve::organization(c, Some(&o)).await?,
                None => ctx.org().await?,
            };
            let o = c.get_organization(id).await?;
            output::object(ctx.out, &o, org_fields)
        }
        OrgsCommand::Create { name } => {
            let o = c.create_organization(&name).await?;
            output::object(ctx.out, &o, org_fields)
        }
        OrgsCommand::Update {
            organization,
            name,
            max_token_lifetime_days,
            rate_limit_per_minute,
        } => {
            let id = match organization {
                Some(o) => resolve::organization(c, Some(&o)).await?,
                None => ctx.org().await?,
            };
            let mut settings = serde_json::Map::new();
            if let Some(days) = max_token_lifetime_days {
                let value = match days.trim() {
                    "none" | "null" => serde_json::Value::Null,
                    d => d.parse::<u32>().map(serde_json::Value::from).map_err(|_| {
                        CliError::usage(
                            "--max-token-lifetime-days takes a number of days or `none`",
                        )
                    })?,
                };
                settings.insert("max_token_lifetime_days".into(), value);
            }
            if let Some(rate) = rate_limit_per_minute {
                settings.insert("service_token_rate_limit_per_minute".into(), rate.into());
            }
            let body = UpdateOrganization {
                name: name
                    .map(|n| tron_client::DisplayName::parse("name", &n))
                    .transpose()?,
                settings: (!settings.is_empty()).then_some(settings),
            };
            let o = c.update_organization(id, &body).await?;
            output::object(ctx.out, &o, org_fields)
        }
        OrgsCommand::Delete { organization } => {
            let id = resolve::organization(c, Some(&organization)).await?;
            c.delete_organization(id).await?;
            done(ctx, &format!("Deleted organization {organization}."))
        }
    }
}

/// The confirmation of a change that answers nothing (`204`).
pub fn done(ctx: &Ctx, message: &str) -> Result<()> {
    match ctx.out {
        Output::Table => output::line(message),
        Output::Json => Ok(()),
    }
}

pub fn member_name(m: &Member) -> String {
    match (&m.user, &m.service_account) {
        (Some(u), _) => u.email.clone(),
        (None, Some(s)) => s.name.clone(),
        (None, None) => "-".into(),
    }
}

pub fn member_row(m: &Member) -> Vec<String> {
    let groups: Vec<&str> = m.groups.iter().map(|g| g.name.as_str()).collect();
    vec![
        member_name(m),
        output::wire(&m.principal_type),
        m.id.to_string(),
        if groups.is_empty() {
            "-".into()
        } else {
            groups.join(",")
        },
    ]
}

pub const MEMBER_HEADER: &[&str] = &["MEMBER", "TYPE", "ID", "GROUPS"];

pub async fn members(ctx: &Ctx, command: MembersCommand) -> Result<()> {
    let c = ctx.api()?;
    let org = ctx.org().await?;
    match command {
        MembersCommand::List { principal_type } => {
            let t = match principal_type.as_deref() {
                Some("user") => Some(PrincipalType::User),
                Some(_) => Some(PrincipalType::ServiceAccount),
                None => None,
            };
            let items = all(|p| async move { c.list_members(org, t, &p).await }).await?;
            output::list(ctx.out, &items, MEMBER_HEADER, member_row)
        }
        MembersCommand::Add { email } => {
            let m = c.add_member(org, email.trim()).await?;
            match ctx.out {
                Output::Json => output::json(&m),
                Output::Table => output::list(ctx.out, &[m], MEMBER_HEADER, member_row),
            }
        }
        MembersCommand::Remove { member } => {
            let id = resolve::member(c, org, &member).await?;
            c.remove_member(org, id).await?;
            done(ctx, &format!("Removed {member} from the organization."))
        }
    }
}
