//! The Webhooks section (SPEC §8): an organization's webhooks, made with
//! their secret shown once (in the response to the POST, like a token),
//! each with its delivery log (status codes, attempts, errors), ping,
//! redeliver, secret rotation, pause and delete. Adapters of
//! `ops::webhooks`; admins only, as the operations check.
use askama::Template;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use tron_core::authz::{Action, Resource};
use tron_core::ids::{DeliveryId, WebhookId};
use tron_core::values::Description;
use tron_store::webhooks::{DeliveryRecord, DeliveryStatus, WebhookRecord};
use tron_store::PageRequest;
use tron_webhooks::EventType;

use crate::access::OrgCtx;
use crate::ops;
use crate::ops::webhooks::Change;
use crate::portal::error::{OrBack, PortalError};
use crate::portal::form::{Failed, Form, Ids};
use crate::portal::orgs::{org_layout, org_url, ConfirmPage};
use crate::portal::session::PortalSession;
use crate::portal::view::{collect, render, render_with_status, ts, ts_or, Layout};
use crate::state::AppState;

type PageResult = Result<Response, PortalError>;

/// The deliveries a webhook's page shows.
const DELIVERIES_SHOWN: u32 = 50;

/// Mounted under `/orgs/{org}` behind the access context.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks", get(list).post(create))
        .route("/webhooks/{webhook_id}", get(show).post(update))
        .route("/webhooks/{webhook_id}/ping", post(ping))
        .route("/webhooks/{webhook_id}/rotate-secret", post(rotate_secret))
        .route(
            "/webhooks/{webhook_id}/delete",
            get(delete_page).post(delete),
        )
        .route(
            "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
            post(redeliver),
        )
}

fn list_url(ctx: &OrgCtx) -> String {
    format!("{}/webhooks", org_url(ctx))
}

fn hook_url(ctx: &OrgCtx, id: WebhookId) -> String {
    format!("{}/webhooks/{id}", org_url(ctx))
}

struct EventChoice {
    value: &'static str,
    checked: bool,
}

fn event_choices(selected: &[String]) -> Vec<EventChoice> {
    EventType::ALL
        .iter()
        .filter(|t| **t != EventType::Ping)
        .map(|t| EventChoice {
            value: t.as_str(),
            checked: selected.iter().any(|s| s == "*" || s == t.as_str()),
        })
        .collect()
}

struct HookRow {
    id: String,
    url: String,
    events: String,
    description: String,
    active: bool,
    created: String,
}

fn hook_row(h: WebhookRecord) -> HookRow {
    HookRow {
        id: h.id.to_string(),
        events: h.events.join(", "),
        url: h.url,
        description: h.description,
        active: h.active,
        created: ts(h.created_at),
    }
}

/// A secret just made, shown once.
struct NewSecret {
    value: String,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct ListPage {
    layout: Layout,
    url: String,
    hooks: Vec<HookRow>,
    events: Vec<EventChoice>,
    can_manage: bool,
    /// A refused "Add webhook", shown in place.
    failed: Failed,
}

/// The id of the list page's "Add webhook" form.
const CREATE_FORM: &str = "create-webhook-form";

async fn list(session: PortalSession, ctx: OrgCtx, q: crate::portal::form::QueryMap) -> PageResult {
    list_page(&session, &ctx, q.get("done"), Failed::none()).await
}

async fn list_page(
    session: &PortalSession,
    ctx: &OrgCtx,
    notice: Option<&str>,
    failed: Failed,
) -> PageResult {
    let back = org_url(ctx);
    let hooks = collect(|p| async move { ops::webhooks::list(ctx, &p).await })
        .await
        .or_back(&back)?;
    // A refused form keeps the events that were ticked.
    let ticked: Vec<String> = failed
        .values(CREATE_FORM, "events")
        .map(str::to_owned)
        .collect();
    let page = ListPage {
        layout: org_layout(session, ctx, "Webhooks").notice(notice),
        url: list_url(ctx),
        hooks: hooks.into_iter().map(hook_row).collect(),
        events: event_choices(&ticked),
        can_manage: ctx.allows(Action::Create, &Resource::Webhooks),
        failed,
    };
    Ok(render_with_status(page.failed.status, &page))
}

/// The events of a form: `all` or the checked boxes.
fn form_events(form: &Form) -> Vec<String> {
    if form.text("all_events") == "on" {
        return vec!["*".to_owned()];
    }
    form.all("events").map(str::to_owned).collect()
}

async fn create(session: PortalSession, ctx: OrgCtx, form: Form) -> PageResult {
    let created = async {
        let description = Description::parse("description", form.text("description").trim())?;
        ops::webhooks::create(&ctx, form.text("url"), &form_events(&form), description).await
    }
    .await;
    let (hook, secret) = match created {
        Ok(created) => created,
        Err(e) => {
            let failed = Failed::of(CREATE_FORM, form, &["url", "description", "events"], e)?;
            return list_page(&session, &ctx, None, failed).await;
        }
    };
    page(
        &session,
        &ctx,
        hook.id,
        None,
        Some(NewSecret {
            value: secret.reveal().to_string(),
        }),
        Failed::none(),
    )
    .await
}

struct DeliveryRow {
    id: String,
    event_id: String,
    event_type: String,
    status: &'static str,
    ok: bool,
    attempts: i64,
    code: String,
    error: String,
    next: String,
    created: String,
}

fn delivery_row(d: DeliveryRecord) -> DeliveryRow {
    DeliveryRow {
        id: d.id.to_string(),
        event_id: d.event_id.to_string(),
        event_type: d.event_type,
        status: d.status.as_str(),
        ok: d.status == DeliveryStatus::Delivered,
        attempts: d.attempts,
        code: d
            .last_status_code
            .map(|c| c.to_string())
            .unwrap_or_else(|| "—".to_owned()),
        error: d.last_error.unwrap_or_default(),
        next: ts_or(d.next_attempt_at, "—"),
        created: ts(d.created_at),
    }
}

#[derive(Template)]
#[template(path = "webhook.html")]
struct HookPage {
    layout: Layout,
    list_url: String,
    url: String,
    hook: HookRow,
    events: Vec<EventChoice>,
    all_events: bool,
    deliveries: Vec<DeliveryRow>,
    new_secret: Option<NewSecret>,
    can_manage: bool,
    /// A refused edit, shown in place.
    failed: Failed,
}

/// The id of the webhook page's edit form.
const EDIT_FORM: &str = "edit-webhook-form";

async fn page(
    session: &PortalSession,
    ctx: &OrgCtx,
    id: WebhookId,
    notice: Option<&str>,
    new_secret: Option<NewSecret>,
    failed: Failed,
) -> PageResult {
    let back = list_url(ctx);
    let hook = ops::webhooks::get(ctx, id).await.or_back(&back)?;
    let deliveries = ops::webhooks::deliveries(
        ctx,
        id,
        &PageRequest {
            limit: DELIVERIES_SHOWN,
            after: None,
        },
    )
    .await
    .or_back(&back)?
    .items
    .into_iter()
    .map(delivery_row)
    .collect();
    let url = hook_url(ctx, id);
    let mut layout = org_layout(session, ctx, "Webhook")
        .crumb("Webhooks", back.clone())
        .notice(notice);
    if new_secret.is_some() {
        layout.replace_url = Some(url.clone());
    }
    // A refused edit shows what was typed, not what is saved.
    let edited = failed.failed(EDIT_FORM);
    let events: Vec<String> = if edited {
        failed
            .values(EDIT_FORM, "events")
            .map(str::to_owned)
            .collect()
    } else {
        hook.events.clone()
    };
    let all_events = if edited {
        failed.value(EDIT_FORM, "all_events") == "on"
    } else {
        hook.events.iter().any(|e| e == "*")
    };
    let mut row = hook_row(hook);
    if edited {
        row.url = failed.value(EDIT_FORM, "url").to_owned();
        row.description = failed.value(EDIT_FORM, "description").to_owned();
        row.active = failed.value(EDIT_FORM, "active") == "on";
    }
    let page = HookPage {
        layout,
        list_url: back,
        url,
        events: event_choices(&events),
        all_events,
        hook: row,
        deliveries,
        new_secret,
        can_manage: ctx.allows(Action::Update, &Resource::Webhooks),
        failed,
    };
    Ok(render_with_status(page.failed.status, &page))
}

async fn show(
    session: PortalSession,
    ctx: OrgCtx,
    ids: Ids,
    q: crate::portal::form::QueryMap,
) -> PageResult {
    let id: WebhookId = ids.id("webhook_id")?;
    page(&session, &ctx, id, q.get("done"), None, Failed::none()).await
}

async fn update(session: PortalSession, ctx: OrgCtx, ids: Ids, form: Form) -> PageResult {
    let id: WebhookId = ids.id("webhook_id")?;
    let saved = async {
        let change = Change {
            url: Some(form.text("url").to_owned()),
            events: Some(form_events(&form)),
            description: Some(Description::parse(
                "description",
                form.text("description").trim(),
            )?),
            active: Some(form.text("active") == "on"),
        };
        ops::webhooks::update(&ctx, id, change).await
    }
    .await;
    if let Err(e) = saved {
        let failed = Failed::of(EDIT_FORM, form, &["url", "description", "events"], e)?;
        return page(&session, &ctx, id, None, None, failed).await;
    }
    let back = hook_url(&ctx, id);
    Ok(Redirect::to(&format!("{back}?done=webhook_saved")).into_response())
}

async fn ping(ctx: OrgCtx, ids: Ids, _form: Form) -> PageResult {
    let id: WebhookId = ids.id("webhook_id")?;
    let back = hook_url(&ctx, id);
    ops::webhooks::ping(&ctx, id).await.or_back(&back)?;
    Ok(Redirect::to(&format!("{back}?done=webhook_pinged")).into_response())
}

async fn rotate_secret(session: PortalSession, ctx: OrgCtx, ids: Ids, _form: Form) -> PageResult {
    let id: WebhookId = ids.id("webhook_id")?;
    let back = hook_url(&ctx, id);
    let (_, secret) = ops::webhooks::rotate_secret(&ctx, id)
        .await
        .or_back(&back)?;
    page(
        &session,
        &ctx,
        id,
        None,
        Some(NewSecret {
            value: secret.reveal().to_string(),
        }),
        Failed::none(),
    )
    .await
}

async fn redeliver(ctx: OrgCtx, ids: Ids, _form: Form) -> PageResult {
    let id: WebhookId = ids.id("webhook_id")?;
    let delivery: DeliveryId = ids.id("delivery_id")?;
    let back = hook_url(&ctx, id);
    ops::webhooks::redeliver(&ctx, id, delivery)
        .await
        .or_back(&back)?;
    Ok(Redirect::to(&format!("{back}?done=webhook_redelivered")).into_response())
}

async fn delete_page(session: PortalSession, ctx: OrgCtx, ids: Ids) -> PageResult {
    let id: WebhookId = ids.id("webhook_id")?;
    let back = hook_url(&ctx, id);
    let hook = ops::webhooks::get(&ctx, id).await.or_back(&back)?;
    ctx.require(Action::Delete, &Resource::Webhooks)
        .or_back(&back)?;
    Ok(render(&ConfirmPage::new(
        org_layout(&session, &ctx, "Delete webhook"),
        format!("Delete the webhook to {}?", hook.url),
        "Its pending deliveries are dropped and it receives nothing more. This cannot be undone.",
        format!("{back}/delete"),
        "Delete webhook",
        back,
    )))
}

async fn delete(ctx: OrgCtx, ids: Ids, _form: Form) -> PageResult {
    let id: WebhookId = ids.id("webhook_id")?;
    let back = hook_url(&ctx, id);
    ops::webhooks::delete(&ctx, id).await.or_back(&back)?;
    Ok(Redirect::to(&format!("{}?done=webhook_deleted", list_url(&ctx))).into_response())
}
