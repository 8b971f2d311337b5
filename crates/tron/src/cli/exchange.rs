//! `tron auth exchange`: a CI job's OIDC ID token in, a short-lived service
//! token out (SPEC §7, §9), with no Tron secret stored in the CI system.
//!
//! Where the ID token comes from, first found wins: `--id-token-file`;
//! GitHub Actions' runner (`ACTIONS_ID_TOKEN_REQUEST_URL` and
//! `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, asked for `--audience`); `TRON_ID_TOKEN`
//! (a GitLab `id_tokens:` variable). Neither the ID token nor the service
//! token is ever part of a message: errors name what failed, not values.
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde::Deserialize;
use tron_client::{Secret, ServiceAccountId};

use super::error::{CliError, Result};
use super::output::{self, Output};
use super::{resolve, Ctx};

#[derive(Subcommand, Debug)]
pub enum AuthCommand {
    /// Exchanges the CI job's OIDC ID token for a short-lived service
    /// token of --service-account; prints the token alone on stdout.
    Exchange(ExchangeArgs),
}

#[derive(Args, Debug)]
pub struct ExchangeArgs {
    /// The service account's id (a name only with a token to look it up:
    /// TRON_TOKEN or a saved session).
    #[arg(long, value_name = "SA")]
    service_account: String,
    /// The audience to ask GitHub Actions' runner for (default: --url).
    #[arg(long)]
    audience: Option<String>,
    /// Reads the ID token from this file.
    #[arg(long, value_name = "FILE")]
    id_token_file: Option<PathBuf>,
    /// Appends TRON_TOKEN=… to $GITHUB_ENV and prints `::add-mask::` for
    /// it instead of the token.
    #[arg(long)]
    github_env: bool,
}

pub async fn run(ctx: &Ctx, command: AuthCommand) -> Result<()> {
    match command {
        AuthCommand::Exchange(a) => exchange(ctx, a).await,
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The account: an id, or a name when there is a token to resolve it with.
async fn service_account(ctx: &Ctx, arg: &str) -> Result<ServiceAccountId> {
    if let Some(id) = resolve::as_id(arg) {
        return Ok(ServiceAccountId(id));
    }
    match ctx.api() {
        Ok(c) => {
            let org = ctx.org().await?;
            resolve::service_account(c, org, arg).await
        }
        Err(_) => Err(CliError::usage(
            "--service-account must be the service account's id (a UUID): without a token (TRON_TOKEN or `tron login`) a name cannot be looked up",
        )),
    }
}

fn read_id_token(text: &str, source: &str) -> Result<Secret> {
    let token = text.trim();
    if token.is_empty() {
        return Err(CliError::failed(
            "no_id_token",
            format!("{source} holds no ID token"),
        ));
    }
    Ok(Secret::new(token))
}

#[derive(Deserialize)]
struct RunnerAnswer {
    value: Option<Secret>,
}

/// Asks GitHub Actions' runner for the job's ID token for `audience`.
async fn github_id_token(url: &str, bearer: &Secret, audience: &str) -> Result<Secret> {
    let fail = |message: String| CliError::failed("id_token_unavailable", message);
    let mut url = reqwest::Url::parse(url)
        .map_err(|_| fail("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL".into()))?;
    url.query_pairs_mut().append_pair("audience", audience);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| fail(format!("cannot build an HTTP client: {e}")))?;
    let resp = http
        .get(url)
        .header(
            reqwest::header::AUTHORIZATION,
            format!("bearer {}", bearer.expose()),
        )
        .send()
        .await
        .map_err(|e| {
            fail(format!(
                "cannot reach GitHub Actions' ID token endpoint: {}",
                e.without_url()
            ))
        })?;
    let status = resp.status();
    if !status.is_success() {
        return Err(fail(format!(
            "GitHub Actions' ID token endpoint answered {status} (does the job have `permissions: id-token: write`?)"
        )));
    }
    let answer: RunnerAnswer = resp
        .json()
        .await
        .map_err(|_| fail("GitHub Actions' ID token endpoint answered no JSON".into()))?;
    match answer.value {
        Some(v) if !v.expose().trim().is_empty() => Ok(Secret::new(v.expose().trim())),
        _ => Err(fail(
            "GitHub Actions' ID token endpoint answered no `value`".into(),
        )),
    }
}

async fn id_token(ctx: &Ctx, a: &ExchangeArgs) -> Result<Secret> {
    if let Some(path) = &a.id_token_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::failed(
                "io_error",
                format!("cannot read --id-token-file {}: {e}", path.display()),
            )
        })?;
        return read_id_token(&text, "--id-token-file");
    }
    if let (Some(url), Some(bearer)) = (
        env("ACTIONS_ID_TOKEN_REQUEST_URL"),
        env("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) {
        let audience = a.audience.clone().unwrap_or_else(|| ctx.url.clone());
        return github_id_token(&url, &Secret::new(bearer), &audience).await;
    }
    if let Some(t) = env("TRON_ID_TOKEN") {
        return read_id_token(&t, "TRON_ID_TOKEN");
    }
    Err(CliError::usage(
        "no ID token: not in GitHub Actions with `permissions: id-token: write`, and neither --id-token-file nor TRON_ID_TOKEN is given",
    ))
}

/// Appends `TRON_TOKEN=<token>` to the file `$GITHUB_ENV` names.
fn append_github_env(token: &str) -> Result<()> {
    let Some(path) = env("GITHUB_ENV") else {
        return Err(CliError::usage(
            "--github-env needs GITHUB_ENV (set by GitHub Actions)",
        ));
    };
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .map_err(|e| CliError::failed("io_error", format!("cannot open $GITHUB_ENV: {e}")))?;
    file.write_all(format!("TRON_TOKEN={token}\n").as_bytes())
        .map_err(|e| CliError::failed("io_error", format!("cannot write $GITHUB_ENV: {e}")))?;
    Ok(())
}

pub async fn exchange(ctx: &Ctx, a: ExchangeArgs) -> Result<()> {
    if a.github_env && env("GITHUB_ENV").is_none() {
        return Err(CliError::usage(
            "--github-env needs GITHUB_ENV (set by GitHub Actions)",
        ));
    }
    let sa = service_account(ctx, &a.service_account).await?;
    let id_token = id_token(ctx, &a).await?;
    let answer = ctx.anonymous().exchange_id_token(sa, &id_token).await?;
    let token = answer.access_token.as_str();
    // A token that could break a line of $GITHUB_ENV (or the terminal) is
    // not one the server mints: refuse it rather than write it.
    if token.is_empty() || !token.chars().all(|c| c.is_ascii_graphic()) {
        return Err(CliError::failed(
            "bad_response",
            "the exchange answered a token that is not printable ASCII",
        ));
    }
    if a.github_env {
        // The mask first, so the runner hides the token from every later
        // line of the log.
        output::line(&format!("::add-mask::{token}"))?;
        append_github_env(token)?;
        eprintln!(
            "TRON_TOKEN is set for the next steps of this job (it expires in {}s)",
            answer.expires_in
        );
        return Ok(());
    }
    match ctx.out {
        Output::Json => output::json(&answer),
        Output::Table => output::line(token),
    }
}
