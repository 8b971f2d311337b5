//! Webhooks of an organization (SPEC §8): admins manage and view them.
//! A new or rotated secret is returned once for the adapter to show; it is
//! stored sealed under a key derived from the server secret.
use tron_core::authz::{Action, Resource};
use tron_core::ids::{DeliveryId, WebhookId};
use tron_core::values::Description;
use tron_core::{Error, Result};
use tron_store::webhooks::{DeliveryRecord, NewWebhook, WebhookPatch, WebhookRecord};
use tron_store::{Page, PageRequest};
use tron_webhooks::data::Ping;
use tron_webhooks::{Event, EventFilter, NetworkPolicy, TargetUrl, WebhookSecret};

use crate::access::OrganizationAccessContext as Ctx;

fn network(ctx: &Ctx) -> NetworkPolicy {
    if ctx.state().config.webhook_allow_private {
        NetworkPolicy::AllowPrivate
    } else {
        NetworkPolicy::PublicOnly
    }
}

/// The URL as stored (normalized), or `400` on `url`.
pub fn check_url(ctx: &Ctx, url: &str) -> Result<String> {
    TargetUrl::parse(url.trim(), network(ctx))
        .map(|t| t.as_str().to_owned())
        .map_err(|e| Error::validation("url", e.to_string()))
}

pub fn check_events<S: AsRef<str>>(events: &[S]) -> Result<EventFilter> {
    EventFilter::parse(events).map_err(|e| Error::validation("events", e.to_string()))
}

fn seal(ctx: &Ctx, id: WebhookId, secret: &WebhookSecret) -> Result<String> {
    ctx.state()
        .sealer
        .seal(id.0, secret)
        .map_err(|e| Error::internal(e.to_string()))
}

pub async fn list(ctx: &Ctx, page: &PageRequest) -> Result<Page<WebhookRecord>> {
    ctx.require(Action::View, &Resource::Webhooks)?;
    ctx.store().list_webhooks(page).await
}

pub async fn get(ctx: &Ctx, id: WebhookId) -> Result<WebhookRecord> {
    ctx.require(Action::View, &Resource::Webhooks)?;
    ctx.store().get_webhook(id).await
}

/// A new webhook and its secret (shown once).
pub async fn create(
    ctx: &Ctx,
    url: &str,
    events: &[String],
    description: Description,
) -> Result<(WebhookRecord, WebhookSecret)> {
    ctx.require(Action::Create, &Resource::Webhooks)?;
    let url = check_url(ctx, url)?;
    let events = check_events(events)?;
    let id = WebhookId::new();
    let secret = WebhookSecret::generate();
    let new = NewWebhook {
        id,
        url,
        events,
        description: description.into(),
        sealed_secret: seal(ctx, id, &secret)?,
    };
    Ok((ctx.store().create_webhook(new).await?, secret))
}

/// A change; `None` keeps what is stored.
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<Description>,
    pub active: Option<bool>,
}

pub async fn update(ctx: &Ctx, id: WebhookId, change: Change) -> Result<WebhookRecord> {
    ctx.require(Action::Update, &Resource::Webhooks)?;
    let patch = WebhookPatch {
        url: change
            .url
            .as_deref()
            .map(|u| check_url(ctx, u))
            .transpose()?,
        events: change.events.as_deref().map(check_events).transpose()?,
        description: change.description.map(Into::into),
        active: change.active,
    };
    ctx.store().update_webhook(id, patch).await
}

pub async fn delete(ctx: &Ctx, id: WebhookId) -> Result<()> {
    ctx.require(Action::Delete, &Resource::Webhooks)?;
    ctx.store().delete_webhook(id).await
}

/// A new secret (shown once); the old one stops at once.
pub async fn rotate_secret(ctx: &Ctx, id: WebhookId) -> Result<(WebhookRecord, WebhookSecret)> {
    ctx.require(Action::Update, &Resource::Webhooks)?;
    let secret = WebhookSecret::generate();
    let hook = ctx
        .store()
        .rotate_webhook_secret(id, seal(ctx, id, &secret)?)
        .await?;
    Ok((hook, secret))
}

/// Queues a `ping` for this webhook; answers the event's id.
pub async fn ping(ctx: &Ctx, id: WebhookId) -> Result<uuid::Uuid> {
    ctx.require(Action::Update, &Resource::Webhooks)?;
    let store = ctx.store();
    let event = Event::new(
        uuid::Uuid::now_v7(),
        store.id().0,
        store.now(),
        &Ping { webhook_id: id.0 },
    )
    .map_err(|e| Error::internal(e.to_string()))?;
    store.ping_webhook(id, &event).await?;
    Ok(event.id)
}

pub async fn deliveries(
    ctx: &Ctx,
    id: WebhookId,
    page: &PageRequest,
) -> Result<Page<DeliveryRecord>> {
    ctx.require(Action::View, &Resource::Webhooks)?;
    ctx.store().list_deliveries(id, page).await
}

pub async fn redeliver(ctx: &Ctx, id: WebhookId, delivery: DeliveryId) -> Result<DeliveryRecord> {
    ctx.require(Action::Update, &Resource::Webhooks)?;
    ctx.store().redeliver(id, delivery).await
}
