//! The unit of work: one change of the store, its audit events and its
//! cache invalidations, committed together.
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
//! cannot cancel. Outbox events for webhooks join the same transaction
//! here when that capability lands.
use std::ops::{Deref, DerefMut};

use chrono::{DateTime, Utc};
use sqlx::{Any, AnyConnection, Transaction};
use tron_core::ids::OrganizationId;

use crate::audit::{record, Target};
use crate::db::db_err;
use crate::invalidate::Invalidation;
use crate::models::RequestMeta;
use crate::{Result, Store};

pub(crate) struct Work {
    store: Store,
    tx: Transaction<'static, Any>,
}

impl Store {
    /// Starts a change on the write connection.
    pub(crate) async fn begin(&self) -> Result<Work> {
        Ok(Work {
            store: self.clone(),
            tx: self.write.begin().await.map_err(db_err)?,
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
        self.store.commit(self.tx, inv).await
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
