//! The delivery queue: what the workers of every instance claim, attempt
//! and record (see the parent module for the invariants).
use chrono::{DateTime, Utc};
use sqlx::Any;
use tron_core::ids::{DeliveryId, OrganizationId, WebhookId};
use tron_core::{Error, Result};
use tron_webhooks::Event;

use super::DeliveryStatus;
use crate::db::*;
use crate::{Backend, Store};

/// A claimed delivery, with what an attempt needs.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: DeliveryId,
    pub organization_id: OrganizationId,
    pub webhook_id: WebhookId,
    pub url: String,
    pub sealed_secret: String,
    pub event: Event,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// How an attempt ended, to record.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub delivered: bool,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    /// When to try again; `None` with `delivered: false` is `failed`.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Queue figures for the metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueStats {
    pub pending: i64,
    pub oldest_pending: Option<DateTime<Utc>>,
}

impl Store {
    /// Woken when this instance committed new deliveries.
    pub fn deliveries_queued(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.queued.clone()
    }

    /// Claims up to `limit` due deliveries until `lease_until`: no other
    /// instance attempts them meanwhile.
    pub async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueDelivery>> {
        let mut tx = self.begin().await?;
        let skip = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let ids: Vec<String> = sqlx::query::<Any>(&format!(
            "SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
             AND (locked_until IS NULL OR locked_until <= $1) ORDER BY next_attempt_at LIMIT {limit}{skip}"
        ))
        .bind(ts(now))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| get_str(r, "id"))
        .collect::<Result<_>>()?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let lease = format!(
            "UPDATE webhook_deliveries SET locked_until = $1 WHERE id IN ({})",
            placeholders(2, ids.len())
        );
        let mut q = sqlx::query::<Any>(&lease).bind(ts(lease_until));
        for id in &ids {
            q = q.bind(id.clone());
        }
        q.execute(&mut *tx).await.map_err(db_err)?;
        let select = format!(
            "SELECT d.id, d.organization_id, d.webhook_id, d.attempts, w.url, w.secret, e.payload \
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
             JOIN webhook_events e ON e.id = d.event_id WHERE d.id IN ({})",
            placeholders(1, ids.len())
        );
        let mut q = sqlx::query::<Any>(&select);
        for id in &ids {
            q = q.bind(id.clone());
        }
        let rows = q.fetch_all(&mut *tx).await.map_err(db_err)?;
        tx.commit(&[]).await?;
        rows.iter()
            .map(|row| {
                Ok(DueDelivery {
                    id: get_id(row, "id")?,
                    organization_id: get_id(row, "organization_id")?,
                    webhook_id: get_id(row, "webhook_id")?,
                    url: get_str(row, "url")?,
                    sealed_secret: get_str(row, "secret")?,
                    event: serde_json::from_str(&get_str(row, "payload")?)
                        .map_err(|_| Error::internal("a stored webhook event is not an event"))?,
                    attempts: u32::try_from(get_i64(row, "attempts")?).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    /// Records an attempt of a claimed delivery and releases its lease.
    pub async fn record_attempt(
        &self,
        id: DeliveryId,
        now: DateTime<Utc>,
        attempt: &AttemptRecord,
    ) -> Result<()> {
        let status = match (attempt.delivered, attempt.next_attempt_at) {
            (true, _) => DeliveryStatus::Delivered,
            (false, Some(_)) => DeliveryStatus::Pending,
            (false, None) => DeliveryStatus::Failed,
        };
        let mut tx = self.begin().await?;
        sqlx::query::<Any>(
            "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, last_status_code = $2, \
             last_error = $3, next_attempt_at = $4, locked_until = NULL, delivered_at = $5 WHERE id = $6",
        )
        .bind(status.as_str())
        .bind(attempt.status_code.map(i64::from))
        .bind(attempt.error.clone())
        .bind(if status == DeliveryStatus::Pending {
            opt_ts(attempt.next_attempt_at)
        } else {
            None
        })
        .bind(attempt.delivered.then(|| ts(now)))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit(&[]).await?;
        Ok(())
    }

    /// How many deliveries are pending, and since when the oldest.
    pub async fn delivery_queue(&self) -> Result<QueueStats> {
        let row = sqlx::query::<Any>(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM webhook_deliveries WHERE status = 'pending'",
        )
        .fetch_one(&self.read)
        .await
        .map_err(db_err)?;
        Ok(QueueStats {
            pending: get_i64(&row, "n")?,
            oldest_pending: get_opt_ts(&row, "oldest")?,
        })
    }
}
