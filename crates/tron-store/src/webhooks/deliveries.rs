//! A webhook's delivery log and redelivery (the parent module holds the
//! invariants).
use serde_json::json;
use sqlx::Any;
use tron_core::ids::{DeliveryId, WebhookId};
use tron_core::{Error, Result};
use tron_webhooks::Event;

use super::{
    fetch_webhook, insert_delivery, row_to_delivery, DeliveryRecord, DeliveryStatus,
    DELIVERY_COLUMNS,
};
use crate::audit::Target;
use crate::db::*;
use crate::scope::OrgStore;

impl OrgStore<'_> {
    /// A webhook's deliveries, newest first.
    pub async fn list_deliveries(
        &self,
        webhook: WebhookId,
        page: &PageRequest,
    ) -> Result<Page<DeliveryRecord>> {
        self.get_webhook(webhook).await?;
        let rows = sqlx::query::<Any>(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d \
             WHERE d.organization_id = $1 AND d.webhook_id = $2 AND ($3 = '' OR d.id < $3) \
             ORDER BY d.id DESC LIMIT {}",
            page.limit + 1
        ))
        .bind(self.org.to_string())
        .bind(webhook.to_string())
        .bind(page.after.map(|a| a.to_string()).unwrap_or_default())
        .fetch_all(&self.read)
        .await
        .map_err(db_err)?;
        let items = rows
            .iter()
            .map(row_to_delivery)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, page.limit, |d| d.id.to_string()))
    }

    /// A new delivery of a delivery's event (the same event id, so the
    /// same `webhook-id`), due now.
    pub async fn redeliver(
        &self,
        webhook: WebhookId,
        delivery: DeliveryId,
    ) -> Result<DeliveryRecord> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        let hook = fetch_webhook(&mut tx, org, webhook, "").await?;
        let row = sqlx::query::<Any>(
            "SELECT e.payload FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id \
             WHERE d.organization_id = $1 AND d.webhook_id = $2 AND d.id = $3",
        )
        .bind(org.to_string())
        .bind(webhook.to_string())
        .bind(delivery.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .ok_or(Error::NotFound)?;
        let event: Event = serde_json::from_str(&get_str(&row, "payload")?)
            .map_err(|_| Error::internal("a stored webhook event is not an event"))?;
        let id = insert_delivery(&mut tx, org, webhook, &event, now).await?;
        tx.audit(
            Some(org),
            meta,
            now,
            "webhook.redeliver",
            Target::new("webhook", webhook, hook.url.clone()),
            json!({"event_id": event.id, "delivery_id": id, "of_delivery_id": delivery}),
        )
        .await?;
        tx.mark_queued();
        tx.commit(&[]).await?;
        Ok(DeliveryRecord {
            id,
            webhook_id: webhook,
            event_id: event.id,
            event_type: event.event_type.as_str().to_owned(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            last_status_code: None,
            last_error: None,
            next_attempt_at: Some(now),
            created_at: now,
            delivered_at: None,
        })
    }
}
