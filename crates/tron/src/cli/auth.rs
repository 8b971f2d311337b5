//! `login`, `logout`, `whoami`.
//!
//! The password is read from stdin (`--password-stdin`) or prompted on the
//! terminal without echo; it is never an argument (which would land in
//! shell history and `ps`), and never printed or saved.
use std::io::{BufRead, IsTerminal};

use clap::Args;
use tron_client::{MePrincipalType, Secret};

use super::credentials::{self, Credentials, Entry};
use super::error::{CliError, Result};
use super::output::{self, Output};
use super::Ctx;

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Your email (prompted for when missing).
    #[arg(long)]
    email: Option<String>,
    /// Reads the password from the first line of stdin.
    #[arg(long)]
    password_stdin: bool,
}

fn read_line(prompt: Option<&str>) -> Result<String> {
    if let Some(p) = prompt {
        eprint!("{p}");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

pub async fn login(ctx: &Ctx, args: LoginArgs) -> Result<()> {
    let terminal = std::io::stdin().is_terminal();
    let email = match args.email {
        Some(e) => e,
        None if terminal && !args.password_stdin => read_line(Some("Email: "))?,
        None => {
            return Err(CliError::usage(
                "--email is needed when stdin is not a terminal",
            ))
        }
    };
    let password = if args.password_stdin {
        Secret::new(read_line(None)?)
    } else if terminal {
        Secret::new(rpassword::prompt_password("Password: ")?)
    } else {
        return Err(CliError::usage(
            "no terminal to prompt for the password on: use --password-stdin",
        ));
    };
    let session = ctx.anonymous().login(email.trim(), password).await?;
    let path = credentials::path()?;
    let mut saved = Credentials::load(&path)?;
    saved.servers.insert(
        ctx.url.clone(),
        Entry {
            token: session.token.clone(),
            email: Some(session.user.email.clone()),
            expires_at: Some(output::time(&session.expires_at)),
        },
    );
    saved.save(&path)?;
    match ctx.out {
        Output::Json => output::json(&session.user),
        Output::Table => output::line(&format!(
            "Signed in to {} as {} (the session ends {}).",
            ctx.url,
            session.user.email,
            output::time(&session.expires_at)
        )),
    }
}

pub async fn logout(ctx: &Ctx) -> Result<()> {
    let path = credentials::path()?;
    let mut saved = Credentials::load(&path)?;
    let Some(entry) = saved.servers.remove(&ctx.url) else {
        return Err(CliError::failed(
            "not_signed_in",
            format!("no saved session for {}", ctx.url),
        ));
    };
    // A session that has already ended is forgotten all the same.
    match ctx.anonymous().with_token(&entry.token).logout().await {
        Ok(()) => {}
        Err(e) if e.status() == Some(401) => {}
        Err(e) => return Err(e.into()),
    }
    saved.save(&path)?;
    if ctx.out == Output::Table {
        output::line(&format!("Signed out of {}.", ctx.url))?;
    }
    Ok(())
}

pub async fn whoami(ctx: &Ctx) -> Result<()> {
    let me = ctx.api()?.me().await?;
    if ctx.out == Output::Json {
        return output::json(&me);
    }
    let p = &me.principal;
    let mut pairs = vec![
        ("server", ctx.url.clone()),
        ("type", output::wire(&p.kind)),
        ("id", p.id.to_string()),
        ("name", p.name.clone()),
    ];
    if p.kind == MePrincipalType::User {
        pairs.push(("email", output::opt(&p.email)));
        pairs.push((
            "superuser",
            if p.is_superuser == Some(true) {
                "yes"
            } else {
                "no"
            }
            .into(),
        ));
    }
    if let Some(org) = p.organization_id {
        pairs.push(("organization", org.to_string()));
    }
    pairs.push(("token", output::wire(&me.token.kind)));
    pairs.push(("expires", output::opt_time(&me.token.expires_at)));
    output::fields(&pairs)
}
