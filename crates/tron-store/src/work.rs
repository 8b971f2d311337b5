//! The unit of work: one change of the store, its audit events and its
//! cache invalidations and its webhook events, committed together.
//!
//! Invariant: every write of the store happens inside a [`Work`], and only
//! [`Work::commit`] commits it. The one exception is the last-use stamps
//! of tokens (`record_token_usage`): each only moves a value forward, and
//! they are written outside any transaction on purpose, so that they never
//! hold a row lock while taking the next. Its audit events are written in the
//! change's own transaction (a change without its event, or an event
//! without its change, cannot be seen), and its invalidations are published
//! with the commit (see `invalidate`): on PostgreSQL in the transaction,
//! locally right after it, in a task of its own that a dropped request
//! cannot cancel. Webhook events ([`Work::emit`]) are an outbox in the same
//! transaction: a change and the events it causes commit or vanish
//! together, and a delivery worker sends them afterwards.
use std::ops::{Deref, DerefMut};

use chrono::{DateTime, Utc};
use sqlx::{Any, AnyConnection, Transaction};
use tron_core::ids::OrganizationId;

use crate::audit::{record, Target};
use crate::db::{db_err, Backend};
use crate::invalidate::Invalidation;
use crate::models::RequestMeta;
use crate::{Result, Store};

pub(crate) struct Work {
    store: Store,
    tx: Transaction<'static, Any>,
    /// Whether this change queued webhook deliveries.
    queued: bool,
}

impl Store {
    /// Starts a change on the write connection.
    pub(crate) async fn begin(&self) -> Result<Work> {
        Ok(Work {
            store: self.clone(),
            tx: match self.backend() {
                // The write lock from the start: a deferred transaction
                // that reads and then writes fails at once (SQLITE_BUSY,
                // no waiting) when another connection to the file wrote in
                // between, as a second instance on one file does.
                Backend::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await,
                Backend::Postgres => self.write.begin().await,
            }
            .map_err(db_err)?,
            queued: false,
        })
    }
}

impl Work {
    /// Writes an audit event of this change.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn audit(
        &mut self,
        organization: Option<OrganizationId>,
        meta: &RequestMeta,
        now: DateTime<Utc>,
        action: &str,
        target: Target,
        details: serde_json::Value,
    ) -> Result<()> {
        record(
            &mut self.tx,
            organization,
            meta,
            now,
            action,
            target,
            details,
        )
        .await
    }

    /// Commits the change with its events, publishing `inv`: what it
    /// altered that a cache may hold (see the module header).
    pub(crate) async fn commit(self, inv: &[Invalidation]) -> Result<()> {
        self.store.commit(self.tx, inv).await?;
        if self.queued {
            self.store.queued.notify_waiters();
        }
        Ok(())
    }

    /// This change queued a delivery without [`Work::emit`] (a
    /// redelivery): the worker is woken after the commit.
    pub(crate) fn mark_queued(&mut self) {
        self.queued = true;
    }

    /// Puts `event` in the outbox, with a delivery for each active webhook
    /// of its organization that wants it (only `to`, when given: a ping or
    /// a redelivery); answers how many. An event no webhook wants is not
    /// stored.
    pub(crate) async fn emit(
        &mut self,
        event: &tron_webhooks::Event,
        to: Option<tron_core::ids::WebhookId>,
    ) -> Result<usize> {
        let n = crate::webhooks::emit(&mut self.tx, event, to).await?;
        self.queued |= n > 0;
        Ok(n)
    }
}

impl Deref for Work {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl DerefMut for Work {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}
