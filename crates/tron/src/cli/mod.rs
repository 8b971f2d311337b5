//! The command-line client (SPEC §9): `tron login`, `tron envs list`,
//! `tron deploy …`, built on `tron-client` only — never on the store, so it
//! does exactly what any other client of the API may do.
//!
//! One module per family of commands; this one holds the global options,
//! the context every command gets (the server, the token, the
//! organization), and the mapping of an outcome to an exit status.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use clap::{Args, Subcommand};
use tron_client::{Client, ListParams, OrganizationId, Page, Secret};

mod access;
mod auth;
pub mod credentials;
mod error;
mod exchange;
mod groups;
mod orgs;
mod output;
mod resolve;
mod resources;
mod service_accounts;
mod time;
mod trust_policies;
mod webhooks;

pub use error::{CliError, Result};
pub use output::Output;

pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// Options every client command takes, anywhere on the command line.
#[derive(Args, Debug, Clone)]
pub struct Globals {
    /// The server's address.
    #[arg(
        long,
        global = true,
        env = "TRON_URL",
        default_value = DEFAULT_URL
    )]
    pub url: String,
    /// The token to present (else the session saved by `tron login`).
    #[arg(long, global = true, env = "TRON_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The organization, by name or id (else your only one, or a service
    /// account's own).
    #[arg(long, global = true, env = "TRON_ORG")]
    pub org: Option<String>,
    /// `table` for people, `json` for scripts (the API's objects).
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// The client's commands (flattened into `tron`'s own).
#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Signs in with email and password; saves the session for --url.
    Login(auth::LoginArgs),
    /// Ends the saved session for --url and forgets it.
    Logout,
    /// Who the token belongs to.
    Whoami,
    /// Organizations.
    #[command(subcommand)]
    Orgs(orgs::OrgsCommand),
    /// Members of the organization (users and service accounts).
    #[command(subcommand)]
    Members(orgs::MembersCommand),
    /// Environments.
    #[command(subcommand)]
    Envs(resources::EnvsCommand),
    /// Applications.
    #[command(subcommand)]
    Apps(resources::AppsCommand),
    /// Groups: a role over a scope, and their members.
    #[command(subcommand)]
    Groups(groups::GroupsCommand),
    /// Service accounts.
    #[command(subcommand)]
    Sa(service_accounts::SaCommand),
    /// Service tokens of a service account.
    #[command(subcommand)]
    Tokens(service_accounts::TokensCommand),
    /// Trust policies: which CI jobs' OIDC ID tokens may act as a service
    /// account.
    #[command(subcommand)]
    TrustPolicies(trust_policies::TrustPoliciesCommand),
    /// Keyless CI: exchange the job's OIDC ID token for a service token.
    #[command(subcommand)]
    Auth(exchange::AuthCommand),
    /// Webhooks: endpoints told of expiring tokens and security events.
    #[command(subcommand)]
    Webhooks(webhooks::WebhooksCommand),
    /// May I (or --as MEMBER) do ACTION on RESOURCE? Exit 0 yes, 1 no.
    CanI(access::CanIArgs),
    /// Deploys IMAGE of APP to ENV (creating the instance when missing).
    Deploy(access::DeployArgs),
    /// The organization's audit log, newest first (--follow: as it grows).
    Audit(access::AuditArgs),
}

/// What a command needs: where, as whom, how to print.
pub struct Ctx {
    pub url: String,
    pub out: Output,
    org_arg: Option<String>,
    client: Client,
    token: Option<Secret>,
}

impl Ctx {
    fn new(g: &Globals) -> Result<Self> {
        // An empty TRON_URL (as `TRON_URL= tron …` sets it) means the default.
        let url = match g.url.trim() {
            "" => DEFAULT_URL.to_owned(),
            u => credentials::key(u),
        };
        let token = match g.token.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => Some(Secret::from(t)),
            None => credentials::Credentials::load(&credentials::path()?)?
                .servers
                .remove(&url)
                .map(|e| e.token),
        };
        let anon = Client::new(url.clone());
        let client = match &token {
            Some(t) => anon.with_token(t),
            None => anon,
        };
        Ok(Ctx {
            url,
            out: g.output,
            org_arg: g.org.clone().filter(|o| !o.is_empty()),
            client,
            token,
        })
    }

    /// The client presenting the token; an error when there is none.
    pub fn api(&self) -> Result<&Client> {
        match self.token {
            Some(_) => Ok(&self.client),
            None => Err(CliError::failed(
                "not_signed_in",
                format!(
                    "no token for {}: run `tron login` or set TRON_TOKEN",
                    self.url
                ),
            )),
        }
    }

    /// The client presenting no token.
    pub fn anonymous(&self) -> Client {
        self.client.anonymous()
    }

    /// The organization of --org / TRON_ORG.
    pub async fn org(&self) -> Result<OrganizationId> {
        resolve::organization(self.api()?, self.org_arg.as_deref()).await
    }
}

/// Every page of a list, 200 at a time.
pub async fn all<T, F, Fut>(mut fetch: F) -> Result<Vec<T>>
where
    F: FnMut(ListParams) -> Fut,
    Fut: std::future::Future<Output = tron_client::Result<Page<T>>>,
{
    let mut params = ListParams::limit(200);
    let mut items = Vec::new();
    loop {
        let page = fetch(params.clone()).await?;
        let next = params.next(&page);
        items.extend(page.items);
        match next {
            Some(n) => params = n,
            None => return Ok(items),
        }
    }
}

/// Runs a client command; answers the exit status.
pub async fn run(globals: Globals, command: ClientCommand) -> i32 {
    let outcome = match Ctx::new(&globals) {
        Ok(ctx) => dispatch(&ctx, command).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => 0,
        Err(e) => {
            if let Some(line) = e.line() {
                eprintln!("{line}");
            }
            e.exit_code()
        }
    }
}

async fn dispatch(ctx: &Ctx, command: ClientCommand) -> Result<()> {
    match command {
        ClientCommand::Login(args) => auth::login(ctx, args).await,
        ClientCommand::Logout => auth::logout(ctx).await,
        ClientCommand::Whoami => auth::whoami(ctx).await,
        ClientCommand::Orgs(c) => orgs::orgs(ctx, c).await,
        ClientCommand::Members(c) => orgs::members(ctx, c).await,
        ClientCommand::Envs(c) => resources::envs(ctx, c).await,
        ClientCommand::Apps(c) => resources::apps(ctx, c).await,
        ClientCommand::Groups(c) => groups::run(ctx, c).await,
        ClientCommand::Sa(c) => service_accounts::sa(ctx, c).await,
        ClientCommand::Tokens(c) => service_accounts::tokens(ctx, c).await,
        ClientCommand::TrustPolicies(c) => trust_policies::run(ctx, c).await,
        ClientCommand::Auth(c) => exchange::run(ctx, c).await,
        ClientCommand::Webhooks(c) => webhooks::run(ctx, c).await,
        ClientCommand::CanI(a) => access::can_i(ctx, a).await,
        ClientCommand::Deploy(a) => access::deploy(ctx, a).await,
        ClientCommand::Audit(a) => access::audit(ctx, a).await,
    }
}
