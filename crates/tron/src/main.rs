//! The `tron` binary: `serve`, `migrate` and `admin` for operators, and the
//! command-line client of the API (`cli/`) for people and CI jobs.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, CommandFactory, Parser, Subcommand};
use tron_server::bootstrap::{ensure_admin, Bootstrap};
use tron_server::startup::{
    load_secret, oidc_issuers, open_store, redis_client, redis_key_prefix, trusted_proxies,
};

mod cli;
mod seed;
use tron_server::{AppState, Config};

/// mimalloc instead of the system allocator: a request allocates a few dozen
/// small objects, and glibc's malloc/free showed as ~20% of the server's
/// CPU under load (see docs/decisions.md, "Hot path").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "tron",
    version,
    about = "Tron: organization-scoped access for an internal developer platform"
)]
struct Cli {
    #[command(flatten)]
    globals: cli::Globals,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the API server (migrations run first).
    Serve(ServeArgs),
    /// Runs the database migrations and exits.
    Migrate(DbArgs),
    /// Administration tasks.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    #[command(flatten)]
    Client(cli::ClientCommand),
    /// Prints a shell completion script (bash, zsh or fish).
    Completions {
        #[arg(value_parser = clap::value_parser!(clap_complete::Shell))]
        shell: clap_complete::Shell,
    },
}

#[derive(Args)]
struct DbArgs {
    /// sqlite://PATH or postgres://…
    #[arg(
        long,
        env = "TRON_DATABASE_URL",
        default_value = "sqlite://tron-data/tron.db"
    )]
    database_url: String,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Address to listen on.
    #[arg(long, env = "TRON_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Seconds a connection may take to send a request's head (1 to 300).
    #[arg(long, env = "TRON_HEADER_READ_TIMEOUT_SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=300))]
    header_read_timeout_seconds: u64,
    /// Open connections allowed per client address (1 to 65535).
    #[arg(long, env = "TRON_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=65535))]
    max_connections_per_address: u32,
    /// Lifetime of a login session, in hours (1 to 8760, a year).
    #[arg(long, env = "TRON_SESSION_TTL_HOURS", default_value_t = 12,
          value_parser = clap::value_parser!(u32).range(1..=8760))]
    session_ttl_hours: u32,
    /// Proxies (CIDRs, comma-separated) whose X-Forwarded-For is believed.
    #[arg(
        long,
        env = "TRON_TRUSTED_PROXIES",
        value_delimiter = ',',
        default_value = ""
    )]
    trusted_proxies: Vec<String>,
    /// Seconds between writes of buffered `last_used_at` values (1–60).
    #[arg(long, env = "TRON_USAGE_FLUSH_SECONDS", default_value_t = 15)]
    usage_flush_seconds: u64,
    /// The token and access caches: `on`, or `off` (for measurements only).
    #[arg(long, env = "TRON_CACHE", default_value = "on", value_parser = ["on", "off"])]
    cache: String,
    /// The address users reach the server at (e.g. https://tron.example.com);
    /// with https, the portal's session cookie is marked Secure.
    #[arg(long, env = "TRON_PUBLIC_URL")]
    public_url: Option<String>,
    /// Comma-separated issuers whose OIDC ID tokens keyless CI accepts
    /// (https://, or http:// on loopback) [default: GitHub Actions and
    /// gitlab.com].
    #[arg(long, env = "TRON_OIDC_ISSUERS")]
    oidc_issuers: Option<String>,
    /// Keyless CI exchanges one client address may make a minute.
    #[arg(long, env = "TRON_OIDC_EXCHANGES_PER_MINUTE", default_value_t = 300,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    oidc_exchanges_per_minute: u32,
    /// Let webhooks target http:// and loopback, private or link-local
    /// addresses.
    #[arg(long, env = "TRON_WEBHOOK_ALLOW_PRIVATE", default_value_t = false,
          action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    webhook_allow_private: bool,
    /// How often the expiry scan for webhooks runs, in seconds.
    #[arg(long, env = "TRON_EXPIRY_SCAN_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    expiry_scan_seconds: u64,
    /// How long an instance holds a claimed webhook delivery before another
    /// may retry it (it died mid-attempt), in seconds.
    #[arg(long, env = "TRON_WEBHOOK_LEASE_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(15..=3600))]
    webhook_lease_seconds: u64,
    /// Redis (redis://, or rediss:// with TLS) where every instance counts
    /// the rate limits and throttles; unset, each instance counts its own.
    #[arg(long, env = "TRON_REDIS_URL", hide_env_values = true)]
    redis_url: Option<String>,
    /// Put before every Redis key: deployments sharing one Redis need
    /// different prefixes (1 to 64 printable characters, no spaces).
    #[arg(long, env = "TRON_REDIS_KEY_PREFIX", default_value = "tron:")]
    redis_key_prefix: String,
    /// Days audit events are kept, then purged in the background [default:
    /// forever].
    #[arg(long, env = "TRON_AUDIT_RETENTION_DAYS",
          value_parser = clap::value_parser!(u32).range(1..=36_500))]
    audit_retention_days: Option<u32>,
    /// Days revoked and expired tokens are kept (their audit history
    /// stays); 0 keeps them forever.
    #[arg(long, env = "TRON_TOKEN_RETENTION_DAYS", default_value_t = 90,
          value_parser = clap::value_parser!(u32).range(0..=36_500))]
    token_retention_days: u32,
    /// Email of the superuser created on first start.
    #[arg(long, env = "TRON_ADMIN_EMAIL")]
    admin_email: Option<String>,
    /// Password of the superuser created on first start (generated if unset).
    #[arg(long, env = "TRON_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Fills the database with a realistic shape for load tests (through
    /// the store's own code paths); prints progress and rates on stderr.
    Seed {
        #[command(flatten)]
        db: DbArgs,
        /// The user who creates everything (an admin of every seeded
        /// organization); on an empty database the first superuser is
        /// created as `serve` would (TRON_ADMIN_EMAIL / TRON_ADMIN_PASSWORD).
        #[arg(
            long = "as",
            env = "TRON_ADMIN_EMAIL",
            default_value = "admin@localhost"
        )]
        as_user: String,
        #[command(flatten)]
        shape: seed::Shape,
        /// Writes the plaintexts of active seeded tokens here (mode 0600),
        /// one a line, for benchmarks that must present tokens never seen.
        #[arg(long)]
        tokens_out: Option<PathBuf>,
        /// At most this many plaintexts in --tokens-out.
        #[arg(long, default_value_t = 10_000)]
        tokens_out_max: u64,
    },
    /// Creates a user; prints a generated password if none is given.
    CreateUser {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "")]
        name: String,
        /// The password (at least 12 characters); generated if unset.
        #[arg(long, env = "TRON_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        #[arg(long)]
        superuser: bool,
    },
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let json = std::env::var("TRON_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    // Colour only on a terminal (and never with NO_COLOR): a log written
    // to a file or a pipe carries no escape codes.
    use std::io::IsTerminal;
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// A new file only its owner can read (it will hold token plaintexts).
fn private_file(path: &std::path::Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}

async fn serve(args: ServeArgs) -> Result<()> {
    let secret = load_secret(&args.db.database_url)?;
    let store = open_store(&args.db.database_url).await?;
    let mut config = Config::new(secret);
    config.session_ttl = chrono::Duration::hours(i64::from(args.session_ttl_hours.max(1)));
    config.cache_enabled = args.cache == "on";
    config.header_read_timeout = std::time::Duration::from_secs(args.header_read_timeout_seconds);
    config.max_connections_per_address = args.max_connections_per_address as usize;
    config.usage_flush_interval =
        std::time::Duration::from_secs(args.usage_flush_seconds.clamp(1, 60));
    config.public_url = args.public_url.filter(|u| !u.trim().is_empty());
    config.trusted_proxies = trusted_proxies(&args.trusted_proxies)?;
    config.oidc_issuers = oidc_issuers(args.oidc_issuers.as_deref())?;
    config.oidc_exchanges_per_minute = args.oidc_exchanges_per_minute as usize;
    config.webhook_allow_private = args.webhook_allow_private;
    config.expiry_scan_interval = std::time::Duration::from_secs(args.expiry_scan_seconds);
    config.webhook_lease = std::time::Duration::from_secs(args.webhook_lease_seconds);
    config.redis = redis_client(args.redis_url.as_deref())?;
    config.redis_prefix = redis_key_prefix(&args.redis_key_prefix)?;
    config.audit_retention = args
        .audit_retention_days
        .map(|d| chrono::Duration::days(i64::from(d)));
    config.token_retention = (args.token_retention_days > 0)
        .then(|| chrono::Duration::days(i64::from(args.token_retention_days)));
    let bootstrap = ensure_admin(&store, args.admin_email, args.admin_password)
        .await
        .map_err(|e| anyhow::anyhow!("creating the first superuser: {e}"))?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    // Without TRON_PUBLIC_URL, the address printed below is where users
    // reach this server when it is a concrete one (never a guess from a
    // request's Host header); 0.0.0.0 says nothing, so it stays unknown.
    if config.public_url.is_none() && !addr.ip().is_unspecified() {
        config.public_url = Some(format!("http://{addr}"));
    }
    let state = AppState::new(store.clone(), config);
    println!("Tron is listening on http://{addr}");
    println!("  Portal: http://{addr}/  (log in with your email and password)");
    println!("  API:    http://{addr}/api/v1  (log in with POST /api/v1/auth/login {{\"email\", \"password\"}})");
    match bootstrap {
        Bootstrap::Created {
            email,
            generated_password: Some(p),
        } => {
            println!("  First start: created the superuser {email} with the password {p}");
            println!("  (shown once; change it with PATCH /api/v1/users/{{id}} {{\"current_password\", \"password\"}})");
        }
        Bootstrap::Created {
            email,
            generated_password: None,
        } => {
            println!(
                "  First start: created the superuser {email} (password from TRON_ADMIN_PASSWORD)"
            );
        }
        Bootstrap::AlreadyHasUsers => println!("  Log in with an existing user."),
    }
    tron_server::serve(listener, state, shutdown_signal()).await?;
    store.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        // The client logs nothing: what it says goes to stdout and stderr.
        Command::Client(command) => std::process::exit(cli::run(cli.globals, command).await),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "tron", &mut std::io::stdout());
            Ok(())
        }
        command => operator(command).await,
    }
}

/// `serve`, `migrate` and `admin`.
async fn operator(command: Command) -> Result<()> {
    init_logging();
    match command {
        Command::Client(_) | Command::Completions { .. } => Ok(()),
        Command::Serve(args) => serve(args).await,
        Command::Migrate(db) => {
            open_store(&db.database_url).await?;
            println!("migrations are up to date");
            Ok(())
        }
        Command::Admin {
            command:
                AdminCommand::Seed {
                    db,
                    as_user,
                    shape,
                    tokens_out,
                    tokens_out_max,
                },
        } => {
            let secret = load_secret(&db.database_url)?;
            let store = open_store(&db.database_url).await?;
            // An empty database gets its first superuser exactly as `serve`
            // would make it, so the server started afterwards lets it in.
            let bootstrap = ensure_admin(
                &store,
                Some(as_user.clone()),
                std::env::var("TRON_ADMIN_PASSWORD").ok(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("creating the first superuser: {e}"))?;
            if let Bootstrap::Created {
                email,
                generated_password: Some(p),
            } = bootstrap
            {
                println!("created the superuser {email} with the password {p} (shown once)");
            }
            let out = match &tokens_out {
                Some(path) => Some(private_file(path)?),
                None => None,
            };
            seed::seed(&store, secret, &as_user, &shape, out, tokens_out_max).await?;
            store.close().await;
            Ok(())
        }
        Command::Admin {
            command:
                AdminCommand::CreateUser {
                    db,
                    email,
                    name,
                    password,
                    superuser,
                },
        } => {
            let store = open_store(&db.database_url).await?;
            let email = tron_core::values::Email::parse("email", &email)
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .into_string();
            let name = if name.trim().is_empty() {
                email.clone()
            } else {
                name
            };
            let name = tron_core::values::DisplayName::parse("name", &name)
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .into_string();
            let (password, generated) = match password {
                Some(p) => (p, false),
                None => (tron_server::bootstrap::generate_password(), true),
            };
            tron_core::validate::password("password", &password)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let hash = tron_server::password::hash(password.clone())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let user = store
                .create_user(
                    &tron_store::models::RequestMeta::system(),
                    chrono::Utc::now(),
                    tron_store::users::NewUser {
                        email,
                        name,
                        password_hash: hash,
                        is_superuser: superuser,
                    },
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "created user {} ({}){}",
                user.email,
                user.id,
                if superuser { ", superuser" } else { "" }
            );
            if generated {
                println!("password (shown once): {password}");
            }
            store.close().await;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    /// An argument of a subcommand with the id of a global option would be
    /// silently merged with it (`tokens rotate SA TOKEN` once sent the
    /// token's name as the bearer token).
    #[test]
    fn no_subcommand_argument_shadows_a_global_option() {
        fn walk(c: &clap::Command, path: &str) {
            for a in c.get_arguments() {
                let id = a.get_id().as_str();
                assert!(
                    !["url", "token", "org", "output"].contains(&id),
                    "{path} has an argument {id}"
                );
            }
            for s in c.get_subcommands() {
                walk(s, &format!("{path} {}", s.get_name()));
            }
        }
        for s in Cli::command().get_subcommands() {
            walk(s, s.get_name());
        }
    }
}
