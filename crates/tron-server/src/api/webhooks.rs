//! Webhooks and their deliveries: JSON adapters of `ops::webhooks`.
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Json;
use serde_json::{json, Value};
use tron_api::{
    CreateWebhook, Delivery, Page, PingQueued, UpdateWebhook, Webhook, WebhookWithSecret,
};
use tron_core::ids::{DeliveryId, WebhookId};
use tron_store::webhooks::WebhookRecord;
use tron_webhooks::WebhookSecret;

use crate::access::OrgCtx;
use crate::api::wire;
use crate::error::ApiResult;
use crate::extract::{ApiJson, Params, PathParams};
use crate::ops;
use crate::ops::webhooks::Change;
use crate::routes::{Org, Routes};

pub fn router() -> Routes<Org> {
    Routes::new()
        .route("/webhooks", get(list).post(create))
        .route(
            "/webhooks/{webhook_id}",
            get(get_one).patch(update).delete(remove),
        )
        .route("/webhooks/{webhook_id}/rotate-secret", post(rotate_secret))
        .route("/webhooks/{webhook_id}/ping", post(ping))
        .route("/webhooks/{webhook_id}/deliveries", get(deliveries))
        .route(
            "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
            post(redeliver),
        )
}

fn with_secret((hook, secret): (WebhookRecord, WebhookSecret)) -> (StatusCode, Json<Value>) {
    let body = WebhookWithSecret {
        inner: Webhook::from(hook),
        secret: secret.reveal().to_string(),
    };
    (StatusCode::CREATED, Json(json!(body)))
}

#[utoipa::path(get, path = "/organizations/{org}/webhooks", tag = "webhooks", params(crate::openapi::ListQuery),
    responses((status = 200, description = "The organization's webhooks.", body = Page<Webhook>)))]
async fn list(ctx: OrgCtx, params: Params) -> ApiResult<Json<Value>> {
    let page = params.page()?;
    Ok(Json(json!(wire::page::<_, Webhook>(
        ops::webhooks::list(&ctx, &page).await?
    ))))
}

#[utoipa::path(post, path = "/organizations/{org}/webhooks", tag = "webhooks", request_body = CreateWebhook,
    responses((status = 201, description = "The new webhook, with its secret shown once.", body = WebhookWithSecret)))]
async fn create(
    ctx: OrgCtx,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let made = ops::webhooks::create(
        &ctx,
        &body.url,
        &body.events,
        body.description.unwrap_or_default(),
    )
    .await?;
    Ok(with_secret(made))
}

#[utoipa::path(get, path = "/organizations/{org}/webhooks/{webhook_id}", tag = "webhooks",
    responses((status = 200, description = "The webhook.", body = Webhook)))]
async fn get_one(ctx: OrgCtx, path: PathParams) -> ApiResult<Json<Value>> {
    let id: WebhookId = path.id("webhook_id")?;
    Ok(Json(json!(Webhook::from(
        ops::webhooks::get(&ctx, id).await?
    ))))
}

#[utoipa::path(patch, path = "/organizations/{org}/webhooks/{webhook_id}", tag = "webhooks", request_body = UpdateWebhook,
    responses((status = 200, description = "The changed webhook.", body = Webhook)))]
async fn update(
    ctx: OrgCtx,
    path: PathParams,
    ApiJson(body): ApiJson<UpdateWebhook>,
) -> ApiResult<Json<Value>> {
    let id: WebhookId = path.id("webhook_id")?;
    let change = Change {
        url: body.url,
        events: body.events,
        description: body.description,
        active: body.active,
    };
    Ok(Json(json!(Webhook::from(
        ops::webhooks::update(&ctx, id, change).await?
    ))))
}

#[utoipa::path(delete, path = "/organizations/{org}/webhooks/{webhook_id}", tag = "webhooks",
    responses((status = 204, description = "Deleted, with its pending deliveries.")))]
async fn remove(ctx: OrgCtx, path: PathParams) -> ApiResult<StatusCode> {
    let id: WebhookId = path.id("webhook_id")?;
    ops::webhooks::delete(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/organizations/{org}/webhooks/{webhook_id}/rotate-secret", tag = "webhooks",
    responses((status = 201, description = "The new secret, shown once; the old one stops at once.", body = WebhookWithSecret)))]
async fn rotate_secret(ctx: OrgCtx, path: PathParams) -> ApiResult<(StatusCode, Json<Value>)> {
    let id: WebhookId = path.id("webhook_id")?;
    Ok(with_secret(ops::webhooks::rotate_secret(&ctx, id).await?))
}

#[utoipa::path(post, path = "/organizations/{org}/webhooks/{webhook_id}/ping", tag = "webhooks",
    responses(
        (status = 202, description = "A ping is queued.", body = PingQueued),
        (status = 409, description = "The webhook is not active.", body = crate::openapi::ErrorBody),
    ))]
async fn ping(ctx: OrgCtx, path: PathParams) -> ApiResult<(StatusCode, Json<Value>)> {
    let id: WebhookId = path.id("webhook_id")?;
    let event_id = ops::webhooks::ping(&ctx, id).await?;
    Ok((StatusCode::ACCEPTED, Json(json!(PingQueued { event_id }))))
}

#[utoipa::path(get, path = "/organizations/{org}/webhooks/{webhook_id}/deliveries", tag = "webhooks", params(crate::openapi::ListQuery),
    responses((status = 200, description = "The webhook's deliveries, newest first.", body = Page<Delivery>)))]
async fn deliveries(ctx: OrgCtx, path: PathParams, params: Params) -> ApiResult<Json<Value>> {
    let id: WebhookId = path.id("webhook_id")?;
    let page = params.page()?;
    Ok(Json(json!(wire::page::<_, Delivery>(
        ops::webhooks::deliveries(&ctx, id, &page).await?
    ))))
}

#[utoipa::path(post, path = "/organizations/{org}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", tag = "webhooks",
    responses((status = 202, description = "A new delivery of the same event (the same webhook-id) is queued.", body = Delivery)))]
async fn redeliver(ctx: OrgCtx, path: PathParams) -> ApiResult<(StatusCode, Json<Value>)> {
    let id: WebhookId = path.id("webhook_id")?;
    let delivery: DeliveryId = path.id("delivery_id")?;
    let d = ops::webhooks::redeliver(&ctx, id, delivery).await?;
    Ok((StatusCode::ACCEPTED, Json(json!(Delivery::from(d)))))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list,
    create,
    get_one,
    update,
    remove,
    rotate_secret,
    ping,
    deliveries,
    redeliver
))]
pub struct Doc;
