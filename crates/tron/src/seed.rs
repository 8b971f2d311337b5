//! `tron admin seed`: fills a database with a realistic shape for load
//! tests, through the store's own code paths (every organization, group,
//! service account and token is created the way the API creates it, hashing
//! included, with its audit events); the extra audit history is written in
//! batches (`OrgStore::seed_audit_events`).
//!
//! The full shape (`--full`) is the scale benchmark's: 10,000
//! organizations, 100,000 service accounts, 1,000,000 tokens (a tenth
//! expired, a tenth revoked), 50,000 groups, 10,000,000 audit events.
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{Duration, Utc};
use clap::Args;
use tron_core::authz::{Role, Scope};
use tron_core::clock::SystemClock;
use tron_core::ids::TokenId;
use tron_core::principal::{Actor, ActorType};
use tron_core::token::{SecretToken, ServerSecret, TokenKind};
use tron_store::groups::NewGroup;
use tron_store::members::MemberKey;
use tron_store::models::RequestMeta;
use tron_store::tokens::{NewToken, NewTokenOwner};
use tron_store::{Backend, Store};

#[derive(Args, Debug, Clone)]
pub struct Shape {
    /// Organizations to create.
    #[arg(long, default_value_t = 3)]
    pub orgs: u64,
    /// Service accounts per organization.
    #[arg(long, default_value_t = 10)]
    pub service_accounts: u64,
    /// Tokens per service account (a tenth expired, a tenth revoked).
    #[arg(long, default_value_t = 10)]
    pub tokens: u64,
    /// Groups per organization (besides its Administrators).
    #[arg(long, default_value_t = 5)]
    pub groups: u64,
    /// Audit events per organization, spread over the last year, on top
    /// of those the changes above write.
    #[arg(long, default_value_t = 1000)]
    pub audit_events: u64,
    /// The benchmark's shape: 10,000 organizations with 10 service
    /// accounts of 10 tokens, 5 groups and 1,000 events each.
    #[arg(long)]
    pub full: bool,
}

impl Shape {
    fn resolved(&self) -> Shape {
        if self.full {
            Shape {
                orgs: 10_000,
                service_accounts: 10,
                tokens: 10,
                groups: 5,
                audit_events: 1000,
                full: true,
            }
        } else {
            self.clone()
        }
    }
}

/// What was made.
#[derive(Default)]
struct Counts {
    orgs: AtomicU64,
    service_accounts: AtomicU64,
    tokens: AtomicU64,
    expired: AtomicU64,
    revoked: AtomicU64,
    groups: AtomicU64,
    events: AtomicU64,
}

/// Seeds `store` as `user_email` (an existing user, who becomes an admin
/// of every organization). Active tokens' plaintexts go to `tokens_out`
/// (at most `max_out`), for benchmarks that must present tokens never seen.
pub async fn seed(
    store: &Store,
    secret: ServerSecret,
    user_email: &str,
    shape: &Shape,
    mut tokens_out: Option<std::fs::File>,
    max_out: u64,
) -> Result<()> {
    let shape = shape.resolved();
    let user = store
        .find_user_by_email(user_email)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .with_context(|| format!("no user {user_email}: start `tron serve` once, or create it"))?;
    let meta = RequestMeta {
        actor: Actor {
            kind: ActorType::User,
            id: Some(user.id.0),
            name: Some(user.name.clone()),
            token_id: None,
        },
        request_id: None,
        ip: None,
    };
    let secret = Arc::new(secret);
    let counts = Arc::new(Counts::default());
    let parallel = match store.backend() {
        Backend::Postgres => 8,
        Backend::Sqlite => 1,
    };
    let started = Instant::now();
    let (plain_tx, mut plain_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut tasks = tokio::task::JoinSet::new();
    let mut next = 0u64;
    let mut written = 0u64;
    let tty = std::io::stderr().is_terminal();
    while next < shape.orgs || !tasks.is_empty() {
        while next < shape.orgs && tasks.len() < parallel {
            let (store, secret, counts, meta, shape) = (
                store.clone(),
                secret.clone(),
                counts.clone(),
                meta.clone(),
                shape.clone(),
            );
            let plain = (written < max_out).then(|| plain_tx.clone());
            let i = next;
            tasks.spawn(async move {
                one_org(&store, &secret, &meta, user.id, i, &shape, &counts, plain).await
            });
            next += 1;
        }
        if let Some(done) = tasks.join_next().await {
            done.context("a seeding task failed")??;
        }
        while let Ok(p) = plain_rx.try_recv() {
            if let Some(f) = tokens_out.as_mut() {
                if written < max_out {
                    writeln!(f, "{p}")?;
                    written += 1;
                }
            }
        }
        progress(&counts, shape.orgs, started, tty, false);
    }
    progress(&counts, shape.orgs, started, tty, true);
    Ok(())
}

fn progress(c: &Counts, total: u64, started: Instant, tty: bool, last: bool) {
    let orgs = c.orgs.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64().max(0.001);
    let tokens = c.tokens.load(Ordering::Relaxed);
    let line = format!(
        "seeded {orgs}/{total} organizations, {} service accounts, {tokens} tokens ({} expired, {} revoked), {} groups, {} audit events in {secs:.1} s ({:.0} tokens/s)",
        c.service_accounts.load(Ordering::Relaxed),
        c.expired.load(Ordering::Relaxed),
        c.revoked.load(Ordering::Relaxed),
        c.groups.load(Ordering::Relaxed),
        c.events.load(Ordering::Relaxed),
        tokens as f64 / secs,
    );
    let width = 30usize;
    let filled = (orgs * width as u64)
        .checked_div(total)
        .map_or(width, |f| f as usize);
    let bar = format!("[{}{}]", "#".repeat(filled), "-".repeat(width - filled));
    if last {
        if tty {
            eprintln!("\r{bar} {line}");
        } else {
            eprintln!("{line}");
        }
    } else if tty {
        eprint!("\r{bar} {line}");
    } else if total >= 10 && orgs.is_multiple_of(total / 10) {
        eprintln!("{line}");
    }
}

#[allow(clippy::too_many_arguments)]
async fn one_org(
    store: &Store,
    secret: &ServerSecret,
    meta: &RequestMeta,
    user: tron_core::ids::UserId,
    i: u64,
    shape: &Shape,
    counts: &Counts,
    plain: Option<tokio::sync::mpsc::UnboundedSender<String>>,
) -> Result<()> {
    let err = |e: tron_core::Error| anyhow::anyhow!("{e}");
    let now = Utc::now();
    let org = store
        .create_organization(meta, now, format!("Seeded organization {i}"), user)
        .await
        .map_err(err)?;
    counts.orgs.fetch_add(1, Ordering::Relaxed);
    let access = store
        .load_access(org.id, MemberKey::User(user))
        .await
        .map_err(err)?;
    let clock = SystemClock;
    let os = store.organization(access.key, meta, &clock);
    let staging = os.create_environment("staging".into()).await.map_err(err)?;
    os.create_environment("production".into())
        .await
        .map_err(err)?;
    os.create_application("web".into(), None)
        .await
        .map_err(err)?;
    let mut groups = Vec::new();
    for g in 0..shape.groups {
        let (role, scope) = match g % 3 {
            0 => (Role::Viewer, Scope::Organization),
            1 => (
                Role::Editor,
                Scope::Environment {
                    environment_ids: vec![staging.id],
                },
            ),
            _ => (Role::Admin, Scope::Organization),
        };
        let group = os
            .create_group(NewGroup {
                name: format!("group {g}"),
                description: String::new(),
                role,
                scope,
            })
            .await
            .map_err(err)?;
        counts.groups.fetch_add(1, Ordering::Relaxed);
        groups.push(group.id);
    }
    for s in 0..shape.service_accounts {
        let sa = os
            .create_service_account(format!("robot-{s}"), String::new())
            .await
            .map_err(err)?;
        counts.service_accounts.fetch_add(1, Ordering::Relaxed);
        if let Some(g) = groups.get((s as usize) % groups.len().max(1)) {
            os.add_group_member(*g, sa.member_id).await.map_err(err)?;
        }
        for t in 0..shape.tokens {
            let expired = t % 10 == 0;
            let expires_at = if expired {
                Some(now - Duration::days(1))
            } else {
                Some(now + Duration::days(90))
            };
            let token = SecretToken::generate(TokenKind::Service);
            let new = NewToken {
                id: TokenId::new(),
                kind: TokenKind::Service,
                hash: secret.hash(&token),
                hint: token.hint(),
                name: format!("token {t}"),
                owner: NewTokenOwner::ServiceAccount(sa.id, org.id),
                expires_at,
                trust_policy: None,
            };
            let rec = os.create_service_token(sa.id, new).await.map_err(err)?;
            counts.tokens.fetch_add(1, Ordering::Relaxed);
            if expired {
                counts.expired.fetch_add(1, Ordering::Relaxed);
            } else if t % 10 == 1 {
                os.revoke_service_token(sa.id, rec.id).await.map_err(err)?;
                counts.revoked.fetch_add(1, Ordering::Relaxed);
            } else if let Some(p) = &plain {
                let _ = p.send(token.reveal());
            }
        }
    }
    os.seed_audit_events(shape.audit_events, Duration::days(365))
        .await
        .map_err(err)?;
    counts
        .events
        .fetch_add(shape.audit_events, Ordering::Relaxed);
    Ok(())
}
