//! Webhooks (SPEC §8): an organization's endpoints, the outbox of events
//! and their deliveries.
//!
//! Invariants: an event is written by [`Work::emit`](crate::work::Work) in
//! the transaction of the change that causes it, with one delivery per
//! webhook that wants it, so no committed change loses its event and no
//! rolled-back one sends any; a delivery is attempted by one instance at a
//! time — [`Store::claim_deliveries`] takes a lease on it (`locked_until`,
//! with `FOR UPDATE SKIP LOCKED` on PostgreSQL), and a lease that lapses
//! (the instance died) lets another retry, so delivery is at least once;
//! secrets are stored sealed (by the caller, `tron_webhooks::SecretSealer`)
//! and never leave this module otherwise.
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection};
use tron_core::ids::{DeliveryId, OrganizationId, WebhookId};
use tron_core::{Error, Result};
use tron_webhooks::{Event, EventFilter};
use uuid::Uuid;

use crate::audit::Target;
use crate::db::*;
use crate::models::CreatedBy;
use crate::scope::OrgStore;
use crate::tokens::row_to_created_by;

const WEBHOOK_COLUMNS: &str = "w.id, w.url, w.events, w.description, w.active, w.created_at, \
     w.created_by_type, w.created_by_id, w.created_by_name";

const DELIVERY_COLUMNS: &str = "d.id, d.webhook_id, d.event_id, d.event_type, d.status, \
     d.attempts, d.last_status_code, d.last_error, d.next_attempt_at, d.created_at, d.delivered_at";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRecord {
    pub id: WebhookId,
    pub url: String,
    /// `["*"]` or event types.
    pub events: Vec<String>,
    pub description: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub created_by: CreatedBy,
}

/// A webhook about to be stored; `secret` is already sealed.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub id: WebhookId,
    pub url: String,
    pub events: EventFilter,
    pub description: String,
    pub sealed_secret: String,
}

/// A change; `None` keeps what is stored.
#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub events: Option<EventFilter>,
    pub description: Option<String>,
    pub active: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "delivered" => DeliveryStatus::Delivered,
            "failed" => DeliveryStatus::Failed,
            _ => DeliveryStatus::Pending,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: DeliveryId,
    pub webhook_id: WebhookId,
    pub event_id: Uuid,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

mod deliveries;
pub(crate) mod produce;
mod queue;
pub mod scan;

pub use queue::{AttemptRecord, DueDelivery, QueueStats};

fn row_to_webhook(row: &AnyRow) -> Result<WebhookRecord> {
    let events: Vec<String> = serde_json::from_str(&get_str(row, "events")?)
        .map_err(|_| Error::internal("a stored webhook's events are not a JSON list"))?;
    Ok(WebhookRecord {
        id: get_id(row, "id")?,
        url: get_str(row, "url")?,
        events,
        description: get_str(row, "description")?,
        active: get_bool(row, "active")?,
        created_at: get_ts(row, "created_at")?,
        created_by: row_to_created_by(row, "created_by")?,
    })
}

fn row_to_delivery(row: &AnyRow) -> Result<DeliveryRecord> {
    Ok(DeliveryRecord {
        id: get_id(row, "id")?,
        webhook_id: get_id(row, "webhook_id")?,
        event_id: get_id(row, "event_id")?,
        event_type: get_str(row, "event_type")?,
        status: DeliveryStatus::parse(&get_str(row, "status")?),
        attempts: get_i64(row, "attempts")?,
        last_status_code: get_opt_i64(row, "last_status_code")?,
        last_error: get_opt_str(row, "last_error")?,
        next_attempt_at: get_opt_ts(row, "next_attempt_at")?,
        created_at: get_ts(row, "created_at")?,
        delivered_at: get_opt_ts(row, "delivered_at")?,
    })
}

fn filter_json(events: &EventFilter) -> Result<String> {
    serde_json::to_string(&events.to_strings()).map_err(|e| Error::internal(e.to_string()))
}

async fn insert_delivery(
    conn: &mut AnyConnection,
    org: OrganizationId,
    webhook: WebhookId,
    event: &Event,
    now: DateTime<Utc>,
) -> Result<DeliveryId> {
    let id = DeliveryId::new();
    sqlx::query::<Any>(
        "INSERT INTO webhook_deliveries (id, organization_id, webhook_id, event_id, event_type, \
         next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(id.to_string())
    .bind(org.to_string())
    .bind(webhook.to_string())
    .bind(event.id.to_string())
    .bind(event.event_type.as_str())
    .bind(ts(now))
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(id)
}

/// See [`Work::emit`](crate::work::Work::emit).
pub(crate) async fn emit(
    conn: &mut AnyConnection,
    event: &Event,
    to: Option<WebhookId>,
) -> Result<usize> {
    let org = OrganizationId(event.organization_id);
    let rows = sqlx::query::<Any>(
        "SELECT id, events FROM webhooks WHERE organization_id = $1 AND active = 1",
    )
    .bind(org.to_string())
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let mut targets = Vec::new();
    for row in &rows {
        let id: WebhookId = get_id(row, "id")?;
        if to.is_some_and(|t| t != id) {
            continue;
        }
        let events: Vec<String> =
            serde_json::from_str(&get_str(row, "events")?).unwrap_or_default();
        if EventFilter::parse(&events).is_ok_and(|f| f.matches(event.event_type)) {
            targets.push(id);
        }
    }
    if targets.is_empty() {
        return Ok(0);
    }
    let payload = String::from_utf8(event.body().map_err(|e| Error::internal(e.to_string()))?)
        .map_err(|e| Error::internal(e.to_string()))?;
    sqlx::query::<Any>(
        "INSERT INTO webhook_events (id, organization_id, type, occurred_at, payload) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(event.id.to_string())
    .bind(org.to_string())
    .bind(event.event_type.as_str())
    .bind(ts(event.occurred_at))
    .bind(payload)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    for webhook in &targets {
        insert_delivery(conn, org, *webhook, event, event.occurred_at).await?;
    }
    Ok(targets.len())
}

async fn fetch_webhook(
    conn: &mut AnyConnection,
    org: OrganizationId,
    id: WebhookId,
    suffix: &str,
) -> Result<WebhookRecord> {
    let row = sqlx::query::<Any>(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks w WHERE w.organization_id = $1 AND w.id = $2{suffix}"
    ))
    .bind(org.to_string())
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or(Error::NotFound)?;
    row_to_webhook(&row)
}

impl OrgStore<'_> {
    pub async fn create_webhook(&self, new: NewWebhook) -> Result<WebhookRecord> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        self.hold_org(&mut tx, org).await?;
        let created_by = CreatedBy::from(&meta.actor);
        sqlx::query::<Any>(
            "INSERT INTO webhooks (id, organization_id, url, events, description, secret, created_at, \
             created_by_type, created_by_id, created_by_name) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(new.id.to_string())
        .bind(org.to_string())
        .bind(new.url.clone())
        .bind(filter_json(&new.events)?)
        .bind(new.description.clone())
        .bind(new.sealed_secret.clone())
        .bind(ts(now))
        .bind(created_by.kind.as_str())
        .bind(created_by.id.map(|i| i.to_string()))
        .bind(created_by.name.clone())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let events: Vec<String> = new
            .events
            .to_strings()
            .into_iter()
            .map(String::from)
            .collect();
        tx.audit(
            Some(org),
            meta,
            now,
            "webhook.create",
            Target::new("webhook", new.id, new.url.clone()),
            json!({"url": new.url, "events": events, "description": new.description}),
        )
        .await?;
        tx.commit(&[]).await?;
        Ok(WebhookRecord {
            id: new.id,
            url: new.url,
            events,
            description: new.description,
            active: true,
            created_at: now,
            created_by,
        })
    }

    pub async fn list_webhooks(&self, page: &PageRequest) -> Result<Page<WebhookRecord>> {
        let rows = sqlx::query::<Any>(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks w WHERE w.organization_id = $1 AND w.id > $2 \
             ORDER BY w.id LIMIT {}",
            page.limit + 1
        ))
        .bind(self.org.to_string())
        .bind(page.after.map(|a| a.to_string()).unwrap_or_default())
        .fetch_all(&self.read)
        .await
        .map_err(db_err)?;
        let items = rows
            .iter()
            .map(row_to_webhook)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, page.limit, |w| w.id.to_string()))
    }

    pub async fn get_webhook(&self, id: WebhookId) -> Result<WebhookRecord> {
        let mut conn = self.read.acquire().await.map_err(db_err)?;
        fetch_webhook(&mut conn, self.org, id, "").await
    }

    pub async fn update_webhook(
        &self,
        id: WebhookId,
        patch: WebhookPatch,
    ) -> Result<WebhookRecord> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        let old = fetch_webhook(&mut tx, org, id, self.lock_suffix(Lock::Update)).await?;
        let new = WebhookRecord {
            url: patch.url.unwrap_or_else(|| old.url.clone()),
            events: match &patch.events {
                Some(f) => f.to_strings().into_iter().map(String::from).collect(),
                None => old.events.clone(),
            },
            description: patch.description.unwrap_or_else(|| old.description.clone()),
            active: patch.active.unwrap_or(old.active),
            ..old.clone()
        };
        if new == old {
            return Ok(old);
        }
        let events =
            serde_json::to_string(&new.events).map_err(|e| Error::internal(e.to_string()))?;
        sqlx::query::<Any>(
            "UPDATE webhooks SET url = $1, events = $2, description = $3, active = $4 \
             WHERE organization_id = $5 AND id = $6",
        )
        .bind(new.url.clone())
        .bind(events)
        .bind(new.description.clone())
        .bind(i64::from(new.active))
        .bind(org.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.audit(
            Some(org),
            meta,
            now,
            "webhook.update",
            Target::new("webhook", id, new.url.clone()),
            json!({
                "url": new.url, "events": new.events, "description": new.description, "active": new.active,
                "before": {"url": old.url, "events": old.events, "description": old.description, "active": old.active},
            }),
        )
        .await?;
        tx.commit(&[]).await?;
        Ok(new)
    }

    /// Deletes a webhook and its pending deliveries.
    pub async fn delete_webhook(&self, id: WebhookId) -> Result<()> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        let old = fetch_webhook(&mut tx, org, id, self.lock_suffix(Lock::Update)).await?;
        sqlx::query::<Any>("DELETE FROM webhooks WHERE organization_id = $1 AND id = $2")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.audit(
            Some(org),
            meta,
            now,
            "webhook.delete",
            Target::new("webhook", id, old.url.clone()),
            json!({"url": old.url, "events": old.events}),
        )
        .await?;
        tx.commit(&[]).await?;
        Ok(())
    }

    /// Replaces the sealed secret: the old one stops at once (attempts
    /// read the secret when they are made).
    pub async fn rotate_webhook_secret(
        &self,
        id: WebhookId,
        sealed_secret: String,
    ) -> Result<WebhookRecord> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        let hook = fetch_webhook(&mut tx, org, id, self.lock_suffix(Lock::Update)).await?;
        sqlx::query::<Any>(
            "UPDATE webhooks SET secret = $1 WHERE organization_id = $2 AND id = $3",
        )
        .bind(sealed_secret)
        .bind(org.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.audit(
            Some(org),
            meta,
            now,
            "webhook.rotate_secret",
            Target::new("webhook", id, hook.url.clone()),
            json!({"url": hook.url}),
        )
        .await?;
        tx.commit(&[]).await?;
        Ok(hook)
    }

    /// Queues `event` (a ping) for this webhook only, active or not.
    pub async fn ping_webhook(&self, id: WebhookId, event: &Event) -> Result<()> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        let hook = fetch_webhook(&mut tx, org, id, "").await?;
        if hook.active {
            tx.emit(event, Some(id)).await?;
        } else {
            return Err(Error::Conflict {
                message: "the webhook is not active: activate it to ping it".into(),
                field: None,
            });
        }
        tx.audit(
            Some(org),
            meta,
            now,
            "webhook.ping",
            Target::new("webhook", id, hook.url.clone()),
            json!({"event_id": event.id}),
        )
        .await?;
        tx.commit(&[]).await?;
        Ok(())
    }
}
