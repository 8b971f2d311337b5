//! `tron trust-policies …`: which CI jobs' OIDC ID tokens may act as a
//! service account (SPEC §7). The service account is given with `--sa`,
//! by name or id; a policy by id, or by its name (unique within the
//! account).
use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use serde_json::Value;
use tron_client::{
    CreateTrustPolicy, DisplayName, OrganizationId, ServiceAccountId, TrustPolicy, TrustPolicyId,
    UpdateTrustPolicy,
};

use super::error::{CliError, Result};
use super::orgs::done;
use super::output;
use super::{all, resolve, time, Ctx};

pub const GITHUB_ACTIONS: &str = "https://token.actions.githubusercontent.com";
pub const GITLAB: &str = "https://gitlab.com";

#[derive(Subcommand, Debug)]
pub enum TrustPoliciesCommand {
    /// The trust policies of a service account.
    List {
        /// The service account, by name or id.
        #[arg(long)]
        sa: String,
    },
    Show {
        /// The policy's id, or its name.
        #[arg(value_name = "POLICY")]
        policy: String,
        #[arg(long)]
        sa: String,
    },
    /// Creates a policy: --issuer and --audience, and conditions
    /// (--condition claim=pattern, or a preset that pins an id).
    Create(CreateArgs),
    /// Changes what is given; --condition replaces all the conditions.
    Update(UpdateArgs),
    /// Deletes a policy; the tokens it minted live out their lifetime.
    Delete {
        #[arg(value_name = "POLICY")]
        policy: String,
        #[arg(long)]
        sa: String,
    },
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    name: String,
    #[arg(long)]
    sa: String,
    /// One of the server's trusted issuers (set by a preset unless given).
    #[arg(long)]
    issuer: Option<String>,
    /// What the ID token's `aud` must be, such as the server's URL.
    #[arg(long)]
    audience: String,
    /// `claim=pattern`, repeatable; `*` matches any run of characters.
    #[arg(long = "condition", value_name = "CLAIM=PATTERN", value_parser = condition)]
    conditions: Vec<(String, String)>,
    /// The minted tokens' lifetime: seconds (900) or a duration (15m).
    #[arg(long, value_parser = ttl)]
    ttl: Option<i64>,
    /// GitHub Actions, pinning `repository_owner_id`.
    #[arg(long, value_name = "ID", conflicts_with_all = ["gitlab_namespace_id", "gitlab_project_id"])]
    github_owner_id: Option<String>,
    /// GitHub Actions, pinning `repository_id`.
    #[arg(long, value_name = "ID", conflicts_with_all = ["gitlab_namespace_id", "gitlab_project_id"])]
    github_repository_id: Option<String>,
    /// GitLab CI (gitlab.com unless --issuer), pinning `namespace_id`.
    #[arg(long, value_name = "ID")]
    gitlab_namespace_id: Option<String>,
    /// GitLab CI (gitlab.com unless --issuer), pinning `project_id`.
    #[arg(long, value_name = "ID")]
    gitlab_project_id: Option<String>,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    #[arg(value_name = "POLICY")]
    policy: String,
    #[arg(long)]
    sa: String,
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    issuer: Option<String>,
    #[arg(long)]
    audience: Option<String>,
    /// `claim=pattern`, repeatable: the new conditions, all of them.
    #[arg(long = "condition", value_name = "CLAIM=PATTERN", value_parser = condition)]
    conditions: Vec<(String, String)>,
    #[arg(long, value_parser = ttl)]
    ttl: Option<i64>,
}

/// `claim=pattern`; a clap value parser.
fn condition(text: &str) -> std::result::Result<(String, String), String> {
    match text.split_once('=') {
        Some((claim, pattern)) if !claim.trim().is_empty() && !pattern.is_empty() => {
            Ok((claim.trim().to_owned(), pattern.to_owned()))
        }
        _ => Err("must be claim=pattern (as in ref=refs/heads/main)".into()),
    }
}

/// Seconds (`900`) or a duration (`15m`); a clap value parser.
fn ttl(text: &str) -> std::result::Result<i64, String> {
    match text.trim().parse::<i64>() {
        Ok(n) => Ok(n),
        Err(_) => time::duration(text)
            .map(|d| d.num_seconds())
            .map_err(|_| "must be seconds (900) or a duration (15m)".to_string()),
    }
}

fn conditions_value(pairs: &[(String, String)]) -> Result<Value> {
    let mut map = serde_json::Map::new();
    for (claim, pattern) in pairs {
        if map
            .insert(claim.clone(), Value::String(pattern.clone()))
            .is_some()
        {
            return Err(CliError::usage(format!(
                "--condition names the claim {claim:?} twice"
            )));
        }
    }
    Ok(Value::Object(map))
}

/// The conditions as `claim=pattern,…`.
fn conditions_text(c: &BTreeMap<String, String>) -> String {
    c.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn fields(p: &TrustPolicy) -> Vec<(&'static str, String)> {
    vec![
        ("id", p.id.to_string()),
        ("name", p.name.clone()),
        ("service account", p.service_account_id.to_string()),
        ("issuer", p.issuer.clone()),
        ("audience", p.audience.clone()),
        ("conditions", conditions_text(&p.conditions)),
        ("token ttl", format!("{}s", p.token_ttl_seconds)),
        ("created", output::time(&p.created_at)),
        ("last used", output::opt_time(&p.last_used_at)),
    ]
}

/// A policy by id, or by its name among the account's policies.
async fn policy(
    c: &tron_client::Client,
    org: OrganizationId,
    sa: ServiceAccountId,
    arg: &str,
) -> Result<TrustPolicyId> {
    if let Some(id) = resolve::as_id(arg) {
        return Ok(TrustPolicyId(id));
    }
    let items = all(|p| async move { c.list_trust_policies(org, sa, &p).await }).await?;
    let found: Vec<_> = items.iter().filter(|p| p.name == arg).collect();
    match found.as_slice() {
        [one] => Ok(one.id),
        [] => Err(CliError::not_found("trust policy", arg)),
        _ => Err(CliError::failed(
            "ambiguous",
            format!("several trust policies are named {arg:?}: use an id"),
        )),
    }
}

/// The issuer and the conditions of `create`: a preset's issuer and pinned
/// id, then the `--condition`s.
fn create_body(a: CreateArgs) -> Result<CreateTrustPolicy> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut preset_issuer = None;
    let presets = [
        (&a.github_owner_id, "repository_owner_id", GITHUB_ACTIONS),
        (&a.github_repository_id, "repository_id", GITHUB_ACTIONS),
        (&a.gitlab_namespace_id, "namespace_id", GITLAB),
        (&a.gitlab_project_id, "project_id", GITLAB),
    ];
    for (value, claim, issuer) in presets {
        if let Some(id) = value {
            pairs.push((claim.to_owned(), id.trim().to_owned()));
            preset_issuer = Some(issuer);
        }
    }
    pairs.extend(a.conditions);
    let issuer = match (a.issuer, preset_issuer) {
        (Some(i), _) => i,
        (None, Some(i)) => i.to_owned(),
        (None, None) => {
            return Err(CliError::usage(
                "--issuer is needed (or a preset: --github-owner-id, --github-repository-id, --gitlab-namespace-id, --gitlab-project-id)",
            ))
        }
    };
    if pairs.is_empty() {
        return Err(CliError::usage(
            "a trust policy needs conditions: --condition claim=pattern or a preset",
        ));
    }
    Ok(CreateTrustPolicy {
        name: DisplayName::parse("name", &a.name)?,
        issuer,
        audience: a.audience,
        conditions: conditions_value(&pairs)?,
        token_ttl_seconds: a.ttl,
    })
}

pub async fn run(ctx: &Ctx, command: TrustPoliciesCommand) -> Result<()> {
    let c = ctx.api()?;
    let org = ctx.org().await?;
    match command {
        TrustPoliciesCommand::List { sa } => {
            let sa = resolve::service_account(c, org, &sa).await?;
            let items = all(|p| async move { c.list_trust_policies(org, sa, &p).await }).await?;
            output::list(
                ctx.out,
                &items,
                &[
                    "NAME",
                    "ID",
                    "ISSUER",
                    "AUDIENCE",
                    "CONDITIONS",
                    "TTL",
                    "LAST USED",
                ],
                |p| {
                    vec![
                        p.name.clone(),
                        p.id.to_string(),
                        p.issuer.clone(),
                        p.audience.clone(),
                        conditions_text(&p.conditions),
                        format!("{}s", p.token_ttl_seconds),
                        output::opt_time(&p.last_used_at),
                    ]
                },
            )
        }
        TrustPoliciesCommand::Show { policy: arg, sa } => {
            let sa = resolve::service_account(c, org, &sa).await?;
            let id = policy(c, org, sa, &arg).await?;
            output::object(ctx.out, &c.get_trust_policy(org, sa, id).await?, fields)
        }
        TrustPoliciesCommand::Create(a) => {
            let sa = resolve::service_account(c, org, &a.sa).await?;
            let body = create_body(a)?;
            let created = c.create_trust_policy(org, sa, &body).await?;
            output::object(ctx.out, &created, fields)
        }
        TrustPoliciesCommand::Update(a) => {
            let sa = resolve::service_account(c, org, &a.sa).await?;
            let id = policy(c, org, sa, &a.policy).await?;
            let body = UpdateTrustPolicy {
                name: a.name.map(|n| DisplayName::parse("name", &n)).transpose()?,
                issuer: a.issuer,
                audience: a.audience,
                conditions: if a.conditions.is_empty() {
                    None
                } else {
                    Some(conditions_value(&a.conditions)?)
                },
                token_ttl_seconds: a.ttl,
            };
            let updated = c.update_trust_policy(org, sa, id, &body).await?;
            output::object(ctx.out, &updated, fields)
        }
        TrustPoliciesCommand::Delete { policy: arg, sa } => {
            let sa_id = resolve::service_account(c, org, &sa).await?;
            let id = policy(c, org, sa_id, &arg).await?;
            c.delete_trust_policy(org, sa_id, id).await?;
            done(ctx, &format!("Deleted trust policy {arg} of {sa}."))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_and_ttls_parse() {
        assert_eq!(
            condition("ref=refs/heads/*").unwrap(),
            ("ref".into(), "refs/heads/*".into())
        );
        assert_eq!(condition("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(condition("ref").is_err());
        assert!(condition("=x").is_err());
        assert!(condition("ref=").is_err());
        assert_eq!(ttl("900").unwrap(), 900);
        assert_eq!(ttl("15m").unwrap(), 900);
        assert!(ttl("soon").is_err());
    }
}
