//! Retention: the audit log older than its retention, and tokens that
//! expired or were revoked long ago, deleted in small batches (one short
//! transaction each), so a purge never holds locks that requests wait on.
//!
//! Invariants: only tokens that can never work again are deleted (revoked
//! or expired before the cutoff, which is in the past: a rotation's
//! revocation scheduled for the future is not one); their audit history
//! stays, since audit events have no foreign keys and name a token by id;
//! what only describes a token (its webhook notices) goes with it by
//! `ON DELETE CASCADE`; nothing else references a token row.
use chrono::{DateTime, Utc};
use sqlx::Any;
use tron_core::Result;

use crate::db::*;
use crate::Store;

impl Store {
    /// Deletes at most `batch` audit events (organizations' and the
    /// platform's) that occurred before `cutoff`; how many.
    pub async fn purge_audit_batch(&self, cutoff: DateTime<Utc>, batch: u32) -> Result<u64> {
        self.delete_batch(
            "DELETE FROM audit_events WHERE id IN \
             (SELECT id FROM audit_events WHERE occurred_at < $1 LIMIT $2)",
            cutoff,
            batch,
        )
        .await
    }

    /// Deletes at most `batch` tokens (of any kind) revoked or expired
    /// before `cutoff`; how many.
    pub async fn prune_tokens_batch(&self, cutoff: DateTime<Utc>, batch: u32) -> Result<u64> {
        self.delete_batch(
            "DELETE FROM tokens WHERE id IN \
             (SELECT id FROM tokens WHERE revoked_at < $1 OR expires_at < $1 LIMIT $2)",
            cutoff,
            batch,
        )
        .await
    }

    async fn delete_batch(&self, sql: &str, cutoff: DateTime<Utc>, batch: u32) -> Result<u64> {
        let mut tx = self.begin().await?;
        let r = sqlx::query::<Any>(sql)
            .bind(ts(cutoff))
            .bind(i64::from(batch.max(1)))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit(&[]).await?;
        Ok(r.rows_affected())
    }
}
