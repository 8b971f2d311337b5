//! `tron sa …` and `tron tokens …`.
//!
//! A token shown once (create, rotate) is printed alone on stdout, so
//! `TOKEN=$(tron tokens create …)` captures exactly it; what to do with it
//! goes to stderr.
use chrono::{DateTime, Duration, Utc};
use clap::Subcommand;
use tron_client::{
    CreateServiceAccount, CreateToken, Description, Name, RotateToken, ServiceAccount,
    ServiceAccountStatus, Timestamp, TokenView, UpdateServiceAccount, WithSecret,
};

use super::error::{CliError, Result};
use super::orgs::done;
use super::output::{self, Output};
use super::{all, resolve, time, Ctx};

#[derive(Subcommand, Debug)]
pub enum SaCommand {
    List,
    Show {
        sa: String,
    },
    Create {
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    Update {
        sa: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// Deletes a service account, revoking its tokens.
    Delete {
        sa: String,
    },
    /// Every token of the account answers `principal_disabled` until enabled.
    Disable {
        sa: String,
    },
    Enable {
        sa: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokensCommand {
    /// The tokens of a service account.
    List { sa: String },
    /// Creates a token; prints it alone on stdout, this once.
    Create {
        sa: String,
        #[arg(long)]
        name: String,
        /// A lifetime such as 30d, 12h.
        #[arg(long, value_parser = time::duration, conflicts_with = "expires_at")]
        expires_in: Option<Duration>,
        /// An RFC 3339 instant.
        #[arg(long, value_parser = time::instant)]
        expires_at: Option<DateTime<Utc>>,
    },
    /// Replaces a token (by id, or by name); the old one keeps working for
    /// --grace (default 0), then is revoked.
    Rotate {
        sa: String,
        /// The token's id, or its name.
        #[arg(value_name = "TOKEN")]
        token_ref: String,
        /// Such as 1h; at most 24h.
        #[arg(long, value_parser = time::duration)]
        grace: Option<Duration>,
        #[arg(long, value_parser = time::instant)]
        expires_at: Option<DateTime<Utc>>,
    },
    /// Revokes a token (idempotent).
    Revoke {
        sa: String,
        /// The token's id, or its name.
        #[arg(value_name = "TOKEN")]
        token_ref: String,
    },
}

fn sa_fields(s: &ServiceAccount) -> Vec<(&'static str, String)> {
    let groups: Vec<&str> = s.groups.iter().map(|g| g.name.as_str()).collect();
    vec![
        ("id", s.id.to_string()),
        ("name", s.name.clone()),
        ("description", s.description.clone()),
        ("status", output::wire(&s.status)),
        ("member id", s.member_id.to_string()),
        ("groups", groups.join(",")),
        ("created", output::time(&s.created_at)),
        ("last used", output::opt_time(&s.last_used_at)),
    ]
}

fn token_row(t: &TokenView) -> Vec<String> {
    vec![
        t.name.clone(),
        t.id.to_string(),
        format!("…{}", t.hint),
        output::wire(&t.status),
        output::opt_time(&t.expires_at),
        output::opt_time(&t.last_used_at),
    ]
}

fn timestamp(t: DateTime<Utc>, field: &str) -> Result<Timestamp> {
    Timestamp::new(t).ok_or_else(|| {
        CliError::failed(
            "validation_error",
            format!("{field} must be between the years 1970 and 9999"),
        )
    })
}

pub async fn sa(ctx: &Ctx, command: SaCommand) -> Result<()> {
    let c = ctx.api()?;
    let org = ctx.org().await?;
    let status = |sa: &str, s: ServiceAccountStatus| {
        let sa = sa.to_owned();
        async move {
            let id = resolve::service_account(c, org, &sa).await?;
            let body = UpdateServiceAccount {
                status: Some(s),
                ..Default::default()
            };
            Ok::<_, CliError>(c.update_service_account(org, id, &body).await?)
        }
    };
    match command {
        SaCommand::List => {
            let items = all(|p| async move { c.list_service_accounts(org, &p).await }).await?;
            output::list(
                ctx.out,
                &items,
                &["NAME", "ID", "STATUS", "GROUPS", "LAST USED"],
                |s| {
                    let groups: Vec<&str> = s.groups.iter().map(|g| g.name.as_str()).collect();
                    vec![
                        s.name.clone(),
                        s.id.to_string(),
                        output::wire(&s.status),
                        if groups.is_empty() {
                            "-".into()
                        } else {
                            groups.join(",")
                        },
                        output::opt_time(&s.last_used_at),
                    ]
                },
            )
        }
        SaCommand::Show { sa } => {
            let id = resolve::service_account(c, org, &sa).await?;
            output::object(ctx.out, &c.get_service_account(org, id).await?, sa_fields)
        }
        SaCommand::Create { name, description } => {
            let body = CreateServiceAccount {
                name: Name::parse("name", &name)?,
                description: description
                    .map(|d| Description::parse("description", &d))
                    .transpose()?,
            };
            let s = c.create_service_account(org, &body).await?;
            output::object(ctx.out, &s, sa_fields)
        }
        SaCommand::Update {
            sa,
            name,
            description,
        } => {
            let id = resolve::service_account(c, org, &sa).await?;
            let body = UpdateServiceAccount {
                name: name.map(|n| Name::parse("name", &n)).transpose()?,
                description: description
                    .map(|d| Description::parse("description", &d))
                    .transpose()?,
                status: None,
            };
            let s = c.update_service_account(org, id, &body).await?;
            output::object(ctx.out, &s, sa_fields)
        }
        SaCommand::Delete { sa } => {
            let id = resolve::service_account(c, org, &sa).await?;
            c.delete_service_account(org, id).await?;
            done(ctx, &format!("Deleted service account {sa}."))
        }
        SaCommand::Disable { sa } => {
            let s = status(&sa, ServiceAccountStatus::Disabled).await?;
            output::object(ctx.out, &s, sa_fields)
        }
        SaCommand::Enable { sa } => {
            let s = status(&sa, ServiceAccountStatus::Active).await?;
            output::object(ctx.out, &s, sa_fields)
        }
    }
}

/// The token alone on stdout (or the whole object with `-o json`), the
/// warning on stderr.
fn shown_once(out: Output, created: &WithSecret<TokenView>) -> Result<()> {
    match out {
        Output::Json => output::json(created)?,
        Output::Table => output::line(created.token.expose())?,
    }
    eprintln!(
        "warning: token {} ({}) is shown this once: store it now{}",
        created.item.name,
        created.item.id,
        match &created.item.expires_at {
            Some(t) => format!("; it expires {}", output::time(t)),
            None => "; it does not expire".into(),
        }
    );
    Ok(())
}

pub async fn tokens(ctx: &Ctx, command: TokensCommand) -> Result<()> {
    let c = ctx.api()?;
    let org = ctx.org().await?;
    match command {
        TokensCommand::List { sa } => {
            let sa = resolve::service_account(c, org, &sa).await?;
            let items = all(|p| async move { c.list_service_tokens(org, sa, &p).await }).await?;
            output::list(
                ctx.out,
                &items,
                &["NAME", "ID", "HINT", "STATUS", "EXPIRES", "LAST USED"],
                token_row,
            )
        }
        TokensCommand::Create {
            sa,
            name,
            expires_in,
            expires_at,
        } => {
            let sa = resolve::service_account(c, org, &sa).await?;
            let expires_at = match (expires_in, expires_at) {
                (Some(d), _) => Some(timestamp(Utc::now() + d, "--expires-in")?),
                (None, Some(t)) => Some(timestamp(t, "--expires-at")?),
                (None, None) => None,
            };
            let body = CreateToken {
                name: tron_client::DisplayName::parse("name", &name)?,
                expires_at,
            };
            let created = c.create_service_token(org, sa, &body).await?;
            shown_once(ctx.out, &created)
        }
        TokensCommand::Rotate {
            sa,
            token_ref,
            grace,
            expires_at,
        } => {
            let sa = resolve::service_account(c, org, &sa).await?;
            let token = resolve::token(c, org, sa, &token_ref).await?;
            let body = RotateToken {
                grace_period_seconds: grace.map(|g| g.num_seconds()),
                expires_at: expires_at
                    .map(|t| timestamp(t, "--expires-at"))
                    .transpose()?,
            };
            let created = c.rotate_service_token(org, sa, token, &body).await?;
            shown_once(ctx.out, &created)
        }
        TokensCommand::Revoke { sa, token_ref } => {
            let sa_id = resolve::service_account(c, org, &sa).await?;
            let id = resolve::token(c, org, sa_id, &token_ref).await?;
            c.revoke_service_token(org, sa_id, id).await?;
            done(ctx, &format!("Revoked token {id} of {sa}."))
        }
    }
}
