//! Cache invalidation: what a committed change may have altered in an
//! authentication, an access decision or a cached instance.
//!
//! Invariant: a change and its invalidations are published together. On
//! PostgreSQL the invalidations are sent with `pg_notify` inside the change's
//! transaction, so other instances hear of them exactly when the change
//! commits; on every backend the local hooks run right after the commit,
//! before the handler answers.
//!
//! Every write transaction of the store is a unit of work (`work`) ending
//! in `Work::commit` and so in `Store::commit` (with no invalidations where
//! a change alters nothing cached), which runs the
//! commit and the hooks in a task of their own: a caller dropped midway
//! cannot cut a committed change off from what follows it.
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// header). The commit and the local hooks run in a task of their own:
    /// a caller dropped while waiting (a request timeout, a client gone)
    /// cannot stop between a committed change and its invalidation.
    pub(crate) async fn commit(
        &self,
        tx: Transaction<'static, Any>,
        inv: &[Invalidation],
    ) -> Result<()> {
        let store = self.clone();
        let inv = inv.to_vec();
        tokio::spawn(async move { store.commit_now(tx, &inv).await })
            .await
            .unwrap_or_else(|e| Err(tron_core::Error::internal(format!("commit task: {e}"))))
    }

    async fn commit_now(
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
    /// them to `on`; `live` tells whether it is listening now (caches must
    /// not be filled while it is not: what changes meanwhile would never be
    /// heard of).
    ///
    /// A connection that dies quietly (half-open: no error, no data) is
    /// found by a heartbeat: every [`HEARTBEAT`] this instance sends an
    /// empty notification (on a connection of its own), so a listener that
    /// hears nothing at all for [`SILENCE`] has lost its connection. On
    /// every loss `live` turns false and `on` receives `All`; the listener
    /// reconnects after [`RECONNECT_DELAY`] (no growing backoff: the
    /// request pool reconnects at once too), and once listening again
    /// `on` receives `All` once more before `live` turns true, since
    /// notifications sent meanwhile are lost.
    pub fn spawn_invalidation_listener(
        &self,
        on: Hook,
        live: Arc<AtomicBool>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        if self.backend() != Backend::Postgres {
            live.store(true, Ordering::SeqCst);
            return None;
        }
        live.store(false, Ordering::SeqCst);
        let url = self.url().to_owned();
        // The heartbeat has a connection of its own: queued behind busy
        // requests in the request pool, beats would fall silent under load
        // and every cache would be flushed for nothing. A beat that hangs
        // (its connection half-open too) is dropped with its connection, and
        // the next one connects afresh.
        let pool = match sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(SILENCE)
            .connect_lazy(&url)
        {
            Ok(pool) => pool,
            Err(e) => {
                // Not listening: `live` stays false and nothing is cached.
                tracing::error!(error = %e, "cannot set up the invalidation heartbeat");
                return None;
            }
        };
        Some(tokio::spawn(async move {
            let heartbeat = tokio::spawn(async move {
                let mut tick = tokio::time::interval(HEARTBEAT);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let beat = sqlx::query("SELECT pg_notify($1, '[]')")
                        .bind(CHANNEL)
                        .execute(&pool);
                    // A failed beat is the listener's cue; nothing to do here.
                    let _ = tokio::time::timeout(SILENCE, beat).await;
                }
            });
            let _stop_heartbeat = AbortOnDrop(heartbeat);
            loop {
                listen_until_lost(&url, &on, &live).await;
                live.store(false, Ordering::SeqCst);
                on(&[Invalidation::All]);
                tokio::time::sleep(RECONNECT_DELAY).await;
            }
        }))
    }
}

/// How often each instance sends its heartbeat notification.
pub const HEARTBEAT: Duration = Duration::from_millis(200);
/// How long a listener may hear nothing before it counts as lost.
pub const SILENCE: Duration = Duration::from_millis(750);
/// The pause between a lost listener and the next connection attempt.
const RECONNECT_DELAY: Duration = Duration::from_millis(100);
/// How long connecting and `LISTEN` may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Connects, listens, and hands notifications to `on` until the connection
/// fails or falls silent.
async fn listen_until_lost(url: &str, on: &Hook, live: &AtomicBool) {
    let connect = async {
        let mut listener = sqlx::postgres::PgListener::connect(url).await?;
        listener.listen(CHANNEL).await?;
        Ok::<_, sqlx::Error>(listener)
    };
    let mut listener = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok(listener)) => listener,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot start the invalidation listener");
            return;
        }
        Err(_) => {
            tracing::warn!("the invalidation listener could not connect in time");
            return;
        }
    };
    on(&[Invalidation::All]);
    live.store(true, Ordering::SeqCst);
    loop {
        // Dropping `try_recv` on a timeout drops the connection with it, so
        // whether it is cancel-safe does not matter.
        match tokio::time::timeout(SILENCE, listener.try_recv()).await {
            Ok(Ok(Some(n))) => match serde_json::from_str::<Vec<Invalidation>>(n.payload()) {
                Ok(inv) if inv.is_empty() => {} // a heartbeat
                Ok(inv) => on(&inv),
                Err(_) => on(&[Invalidation::All]),
            },
            Ok(Ok(None)) => {
                tracing::warn!("invalidation listener lost its connection; flushing caches");
                return;
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "invalidation listener failed; flushing caches");
                return;
            }
            Err(_) => {
                tracing::warn!(
                    "invalidation listener heard nothing, not even a heartbeat; flushing caches"
                );
                return;
            }
        }
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod commit_tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// Issue 13, defect 11: a caller dropped while its commit is under way
    /// (a request timeout drops the handler's future) cannot keep the
    /// committed change's invalidation from running. On PostgreSQL, where a
    /// `COMMIT` is a round trip; a deferred trigger makes it take 300 ms so
    /// that the drop lands inside it. Before the fix the hook never ran.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_dropped_midway_still_invalidates() {
        let url = std::env::var("TRON_TEST_POSTGRES_URL").unwrap_or_else(|_| {
            panic!("TRON_TEST_POSTGRES_URL is not set: run the tests with scripts/test, which starts PostgreSQL")
        });
        let store = Store::connect_with(&url, 2).await.unwrap();
        let heard = Arc::new(AtomicUsize::new(0));
        let h = heard.clone();
        store.on_invalidate(Arc::new(move |_| {
            h.fetch_add(1, Ordering::SeqCst);
        }));
        let mut tx = store.write.begin().await.unwrap();
        for sql in [
            "CREATE FUNCTION pg_temp.tron_slow_commit() RETURNS trigger LANGUAGE plpgsql \
             AS $$ BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$",
            "CREATE TEMP TABLE tron_slow_commit (x int) ON COMMIT DROP",
            "CREATE CONSTRAINT TRIGGER tron_slow_commit AFTER INSERT ON tron_slow_commit \
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pg_temp.tron_slow_commit()",
            "INSERT INTO tron_slow_commit VALUES (1)",
        ] {
            sqlx::query::<Any>(sql).execute(&mut *tx).await.unwrap();
        }
        let commit = store.commit(tx, &[Invalidation::All]);
        // 50 ms into a 300 ms commit, the caller goes away.
        let dropped = tokio::time::timeout(Duration::from_millis(50), commit).await;
        assert!(dropped.is_err(), "the commit was meant to be slow");
        for _ in 0..300 {
            if heard.load(Ordering::SeqCst) == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the invalidation of a committed change was lost");
    }
}
