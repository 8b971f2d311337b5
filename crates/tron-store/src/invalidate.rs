//! Cache invalidation: what a committed change may have altered in an
//! authentication, an access decision or a cached instance.
//!
//! Invariant: a change and its invalidations are published together. On
//! PostgreSQL the invalidations are sent with `pg_notify` inside the change's
//! transaction, so other instances hear of them exactly when the change
//! commits; on every backend the local hooks run right after the commit,
//! before the handler answers.
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::{Any, Transaction};
use tron_core::ids::{
    ApplicationId, EnvironmentId, OrganizationId, ServiceAccountId, TokenId, UserId,
};
use tron_core::Result;

use crate::db::db_err;
use crate::{Backend, Store};

pub const CHANNEL: &str = "tron_invalidate";
/// PostgreSQL refuses notification payloads of 8000 bytes or more.
const MAX_PAYLOAD: usize = 7000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Invalidation {
    /// One token changed (revoked, rotated, logged out).
    Token(TokenId),
    /// A user's state changed (disabled, superuser flag).
    User(UserId),
    /// A service account changed (disabled, deleted).
    ServiceAccount(ServiceAccountId),
    /// Anything about an organization's access changed: groups, scopes,
    /// memberships, settings, deletion, and the deletion of an environment
    /// or application (which takes its instances with it).
    Organization(OrganizationId),
    /// One instance was created, updated, deployed to or deleted.
    Instance {
        organization: OrganizationId,
        application: ApplicationId,
        environment: EnvironmentId,
    },
    /// Forget everything (e.g. after missing notifications).
    All,
}

impl Invalidation {
    pub fn instance(
        organization: OrganizationId,
        application: ApplicationId,
        environment: EnvironmentId,
    ) -> Self {
        Invalidation::Instance {
            organization,
            application,
            environment,
        }
    }
}

pub type Hook = Arc<dyn Fn(&[Invalidation]) + Send + Sync>;

#[derive(Default)]
pub(crate) struct Hooks(RwLock<Vec<Hook>>);

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hooks")
    }
}

impl Hooks {
    fn run(&self, inv: &[Invalidation]) {
        if let Ok(hooks) = self.0.read() {
            for h in hooks.iter() {
                h(inv);
            }
        }
    }
}

/// The notification payloads announcing `inv`, each a JSON list under
/// PostgreSQL's limit: a long list goes out as several notifications (all
/// delivered at the commit) rather than as one `All` that would flush every
/// cache of every instance.
pub(crate) fn payloads(inv: &[Invalidation]) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::from("[");
    for i in inv {
        let Ok(item) = serde_json::to_string(i) else {
            return vec![serde_json::to_string(&[Invalidation::All]).unwrap_or_default()];
        };
        if current.len() > 1 && current.len() + 1 + item.len() + 1 > MAX_PAYLOAD {
            current.push(']');
            out.push(std::mem::replace(&mut current, String::from("[")));
        }
        if current.len() > 1 {
            current.push(',');
        }
        current.push_str(&item);
    }
    if current.len() > 1 {
        current.push(']');
        out.push(current);
    }
    out
}

impl Store {
    /// Runs `hook` after every committed change with its invalidations.
    pub fn on_invalidate(&self, hook: Hook) {
        if let Ok(mut hooks) = self.hooks.0.write() {
            hooks.push(hook);
        }
    }

    /// Commits a change, publishing its invalidations (see the module
    /// header).
    pub(crate) async fn commit(
        &self,
        mut tx: Transaction<'static, Any>,
        inv: &[Invalidation],
    ) -> Result<()> {
        if self.backend() == Backend::Postgres {
            for payload in payloads(inv) {
                sqlx::query::<Any>("SELECT pg_notify($1, $2)")
                    .bind(CHANNEL)
                    .bind(payload)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
        }
        tx.commit().await.map_err(db_err)?;
        if !inv.is_empty() {
            self.hooks.run(inv);
        }
        Ok(())
    }

    /// On PostgreSQL, listens for other instances' invalidations and hands
    /// them to `on`. Whenever the connection is (re)established, `on`
    /// receives `All`, since notifications sent meanwhile are lost.
    pub fn spawn_invalidation_listener(&self, on: Hook) -> Option<tokio::task::JoinHandle<()>> {
        if self.backend() != Backend::Postgres {
            return None;
        }
        let url = self.url().to_owned();
        Some(tokio::spawn(async move {
            loop {
                match sqlx::postgres::PgListener::connect(&url).await {
                    Ok(mut listener) => {
                        if let Err(e) = listener.listen(CHANNEL).await {
                            tracing::warn!(error = %e, "LISTEN failed");
                        } else {
                            on(&[Invalidation::All]);
                            loop {
                                match listener.try_recv().await {
                                    Ok(Some(n)) => {
                                        match serde_json::from_str::<Vec<Invalidation>>(n.payload())
                                        {
                                            Ok(inv) => on(&inv),
                                            Err(_) => on(&[Invalidation::All]),
                                        }
                                    }
                                    // The connection was lost; the listener
                                    // reconnects on the next call.
                                    Ok(None) => {
                                        tracing::warn!("invalidation listener lost its connection; flushing caches");
                                        on(&[Invalidation::All]);
                                    }
                                    Err(e) => {
                                        tracing::warn!(error = %e, "invalidation listener failed; reconnecting");
                                        on(&[Invalidation::All]);
                                        break;
                                    }
                                }
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot connect the invalidation listener")
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod payload_tests {
    use super::*;

    #[test]
    fn long_lists_are_split_under_the_limit_without_a_flush() {
        assert!(payloads(&[]).is_empty());
        let one = [Invalidation::User(UserId::new())];
        assert_eq!(payloads(&one), [serde_json::to_string(&one).unwrap()]);
        let many: Vec<Invalidation> = (0..1000)
            .map(|_| Invalidation::Token(TokenId::new()))
            .collect();
        let parts = payloads(&many);
        assert!(parts.len() > 1, "{} payloads", parts.len());
        let mut back = Vec::new();
        for p in &parts {
            assert!(p.len() <= MAX_PAYLOAD, "{} bytes", p.len());
            back.extend(serde_json::from_str::<Vec<Invalidation>>(p).unwrap());
        }
        assert_eq!(back, many);
    }
}
