//! Webhooks of an organization and their deliveries (SPEC §8).
use serde::{Deserialize, Serialize};

use crate::*;

/// A webhook with its signing secret, shown this once (the client's reading
/// of `tron_api::WebhookWithSecret`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookCreated {
    #[serde(flatten)]
    pub item: Webhook,
    pub secret: Secret,
}

impl Client {
    pub async fn list_webhooks(
        &self,
        org: OrganizationId,
        page: &ListParams,
    ) -> Result<Page<Webhook>> {
        self.list(&format!("/organizations/{org}/webhooks"), page)
            .await
    }

    pub async fn get_webhook(&self, org: OrganizationId, id: WebhookId) -> Result<Webhook> {
        self.get(&format!("/organizations/{org}/webhooks/{id}"))
            .await
    }

    pub async fn create_webhook(
        &self,
        org: OrganizationId,
        body: &CreateWebhook,
    ) -> Result<WebhookCreated> {
        self.post(&format!("/organizations/{org}/webhooks"), body)
            .await
    }

    pub async fn update_webhook(
        &self,
        org: OrganizationId,
        id: WebhookId,
        body: &UpdateWebhook,
    ) -> Result<Webhook> {
        self.patch(&format!("/organizations/{org}/webhooks/{id}"), body)
            .await
    }

    pub async fn delete_webhook(&self, org: OrganizationId, id: WebhookId) -> Result<()> {
        self.delete(&format!("/organizations/{org}/webhooks/{id}"))
            .await
    }

    /// A new secret, shown this once; the old one stops at once.
    pub async fn rotate_webhook_secret(
        &self,
        org: OrganizationId,
        id: WebhookId,
    ) -> Result<WebhookCreated> {
        self.post(
            &format!("/organizations/{org}/webhooks/{id}/rotate-secret"),
            &serde_json::json!({}),
        )
        .await
    }

    pub async fn ping_webhook(&self, org: OrganizationId, id: WebhookId) -> Result<PingQueued> {
        self.post(
            &format!("/organizations/{org}/webhooks/{id}/ping"),
            &serde_json::json!({}),
        )
        .await
    }

    /// Newest first.
    pub async fn list_deliveries(
        &self,
        org: OrganizationId,
        id: WebhookId,
        page: &ListParams,
    ) -> Result<Page<Delivery>> {
        self.list(
            &format!("/organizations/{org}/webhooks/{id}/deliveries"),
            page,
        )
        .await
    }

    /// The same event again (the same `webhook-id`).
    pub async fn redeliver(
        &self,
        org: OrganizationId,
        id: WebhookId,
        delivery: DeliveryId,
    ) -> Result<Delivery> {
        self.post(
            &format!("/organizations/{org}/webhooks/{id}/deliveries/{delivery}/redeliver"),
            &serde_json::json!({}),
        )
        .await
    }
}
