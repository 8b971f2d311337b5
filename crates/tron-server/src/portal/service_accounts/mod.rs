//! Service accounts and their tokens.
//!
//! A new token's plaintext exists only in the response to the POST that
//! minted it (generate or rotate): rendered into that page, sent with
//! `Cache-Control: no-store`, never put in a URL, a cookie or a log. The
//! page's script replaces the POST's history entry with the account's
//! address, so a reload is a GET that cannot show it again.
use askama::Template;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;

use tron_core::authz::{Action, Resource};
use tron_core::ids::ServiceAccountId;
use tron_core::principal::ActorType;
use tron_core::values::{Description, Name};
use tron_core::Error;
use tron_store::models::{CreatedBy, ServiceAccountStatus, TokenSource, TokenStatus, TokenView};

use crate::access::OrgCtx;
use crate::ops;
use crate::ops::service_accounts::Change;
use crate::portal::error::{OrBack, PortalError};
use crate::portal::form::{Failed, Form, Ids, QueryMap};
use crate::portal::orgs::{group_label, name_maps, org_layout, org_url, section_url, ConfirmPage};
use crate::portal::permissions::{self, PermissionTable};
use crate::portal::session::PortalSession;
use crate::portal::view::{
    collect, expiry_badge, relative, render, render_with_status, ts, ts_or, when, Choice, Layout,
    When,
};
use crate::state::AppState;

mod groups;
mod list;
mod tokens;
mod trust;
mod wire;

use groups::{assign, unassign, unassign_page};
pub(crate) use tokens::expiry_from;
use tokens::{generate, revoke, revoke_page, rotate, rotate_page};

type PageResult = Result<Response, PortalError>;

/// Mounted under `/orgs/{org}` behind the access context.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/service-accounts", get(list::list_page).post(list::create))
        .route("/service-accounts/{sa_id}", get(show).post(update))
        .route("/service-accounts/{sa_id}/status", post(set_status))
        .route("/service-accounts/{sa_id}/disable", get(disable_page))
        .route(
            "/service-accounts/{sa_id}/delete",
            get(delete_page).post(delete),
        )
        .route("/service-accounts/{sa_id}/groups", post(assign))
        .route(
            "/service-accounts/{sa_id}/groups/{group_id}/remove",
            get(unassign_page).post(unassign),
        )
        .route(
            "/service-accounts/{sa_id}/tokens",
            get(tokens_anchor).post(generate),
        )
        .route(
            "/service-accounts/{sa_id}/tokens/{token_id}/revoke",
            get(revoke_page).post(revoke),
        )
        .route(
            "/service-accounts/{sa_id}/tokens/{token_id}/rotate",
            get(rotate_page).post(rotate),
        )
        .route(
            "/service-accounts/{sa_id}/trust-policies",
            post(trust::create),
        )
        .route(
            "/service-accounts/{sa_id}/trust-policies/{policy_id}/delete",
            get(trust::delete_page).post(trust::delete),
        )
}

fn sa_url(ctx: &OrgCtx, id: ServiceAccountId) -> String {
    format!("{}/service-accounts/{id}", org_url(ctx))
}

fn created_by(c: &CreatedBy) -> String {
    let who = c.name.clone().unwrap_or_default();
    match c.kind {
        ActorType::User => format!("{who} (user)"),
        ActorType::ServiceAccount => format!("{who} (service account)"),
        ActorType::Anonymous => "anonymous".into(),
        ActorType::System => "the system".into(),
    }
}

struct GroupItem {
    id: String,
    name: String,
}

struct TokenRow {
    id: String,
    name: String,
    hint: String,
    created: When,
    created_by: String,
    expires: Option<When>,
    last_used: Option<When>,
    status: &'static str,
    /// e.g. the end of a rotation's grace period.
    note: String,
    active: bool,
    /// Active and not rotated yet: a rotated token in its grace period
    /// already has its successor and cannot be rotated again.
    rotatable: bool,
    /// Active and expiring within 7 days: "Expires in 3 days".
    expires_soon: Option<String>,
    /// The hint of the token this one was rotated from.
    replaces: String,
    /// The hint of the token a rotation put in its place.
    replaced_by: String,
}

/// What to do with a lost service token.
const LOSE_IT: &str = "rotate or revoke it and generate a new one.";

/// A token just minted, shown once.
struct NewToken {
    value: String,
    name: String,
    expires: String,
    /// What to do if it is lost (`token_shown_once.html`).
    lose_it: &'static str,
    /// After a rotation: what becomes of the old token.
    rotated: Option<String>,
    /// What the pipeline needs besides the token.
    wire: wire::WireUp,
}

#[derive(Template)]
#[template(path = "service_account.html")]
struct SaPage {
    layout: Layout,
    org_url: String,
    url: String,
    sa_id: String,
    member_id: String,
    org_id: String,
    name: String,
    description: String,
    active: bool,
    created: String,
    created_by: String,
    last_used: String,
    groups: Vec<GroupItem>,
    assignable: Vec<Choice>,
    can_edit: bool,
    can_delete: bool,
    can_assign: bool,
    can_view_tokens: bool,
    can_create_tokens: bool,
    can_revoke_tokens: bool,
    can_rotate_tokens: bool,
    tokens: Vec<TokenRow>,
    /// Revoked or expired for more than a week: folded away.
    old_tokens: Vec<TokenRow>,
    active_tokens: i64,
    new_token: Option<NewToken>,
    expiry_choices: Vec<Choice>,
    max_days: Option<u32>,
    tomorrow: String,
    trust: trust::TrustSection,
    /// "What can it do?", for those who may ask (admins).
    permissions: Option<PermissionTable>,
    /// How the permissions table names the account.
    subject: String,
    /// A refused "Generate a token", shown in place.
    failed: Failed,
}

/// Expiry choices within the organization's limit (also those of
/// personal tokens, which have none).
pub(crate) fn expiry_choices(max_days: Option<u32>) -> Vec<Choice> {
    let mut out: Vec<Choice> = [7u32, 30, 90, 365]
        .into_iter()
        .filter(|d| max_days.is_none_or(|m| *d <= m))
        .map(|d| Choice::new(d, format!("in {d} days"), d == 30))
        .collect();
    if let Some(m) = max_days {
        if !out.iter().any(|c| c.value == m.to_string()) {
            out.push(Choice::new(m, format!("in {m} days (the limit)"), false));
        }
        if !out.iter().any(|c| c.selected) {
            if let Some(first) = out.first_mut() {
                first.selected = true;
            }
        }
    } else {
        out.push(Choice::new("never", "never", false));
    }
    out.push(Choice::new("custom", "on a date…", false));
    out
}

/// How long a revoked or expired token stays in the main list.
const FOLD_AFTER_DAYS: i64 = 7;

/// When a token stopped working, if it has.
fn ended_at(v: &TokenView) -> Option<DateTime<Utc>> {
    match v.status {
        TokenStatus::Active => None,
        TokenStatus::Revoked => v.revoked_at,
        TokenStatus::Expired => v.expires_at,
    }
}

fn token_row(v: TokenView, grace_until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> TokenRow {
    let (status, active) = match v.status {
        TokenStatus::Active => ("active", true),
        TokenStatus::Expired => ("expired", false),
        TokenStatus::Revoked => ("revoked", false),
    };
    let keyless = v.source == TokenSource::Oidc;
    let note = match (grace_until, v.revoked_at) {
        (Some(g), _) => format!("rotated; stops working {} ({})", relative(g, now), ts(g)),
        (None, Some(r)) => format!("revoked {} ({})", relative(r, now), ts(r)),
        _ if keyless => "from a keyless CI exchange (not rotatable)".to_owned(),
        _ => String::new(),
    };
    TokenRow {
        id: v.id.to_string(),
        hint: v.hint,
        created: when(v.created_at, now),
        created_by: created_by(&v.created_by),
        expires: v.expires_at.map(|t| when(t, now)),
        last_used: v.last_used_at.map(|t| when(t, now)),
        name: v.name,
        status,
        note,
        active,
        rotatable: active && grace_until.is_none() && !keyless,
        expires_soon: expiry_badge(v.expires_at, now).filter(|_| active),
        replaces: String::new(),
        replaced_by: String::new(),
    }
}

async fn page(
    session: &PortalSession,
    ctx: &OrgCtx,
    id: ServiceAccountId,
    notice: Option<&str>,
    new_token: Option<NewToken>,
    failed: Failed,
) -> PageResult {
    let back = section_url(ctx, "service-accounts");
    let now = ctx.now();
    let sa = ops::service_accounts::get(ctx, id).await.or_back(&back)?;
    let can_assign = ctx.allows(Action::Update, &Resource::Groups);
    let can_view_tokens = ctx.allows(Action::View, &Resource::ServiceTokens);
    let assignable = if can_assign {
        let names = name_maps(ctx).await?;
        // Starts on "choose a group": one careless click must not put a
        // CI bot in the first group of the list, an admin one perhaps.
        let mut choices = vec![Choice::new("", "choose a group…", true)];
        choices.extend(
            collect(|p| async move { ops::groups::list(ctx, &p).await })
                .await?
                .into_iter()
                .filter(|g| !sa.groups.iter().any(|mine| mine.id == g.id))
                .map(|g| Choice::new(g.id, group_label(&g, &names), false)),
        );
        choices
    } else {
        Vec::new()
    };
    let mut tokens = Vec::new();
    let mut old_tokens = Vec::new();
    if can_view_tokens {
        let mut records = collect(|p| async move { ops::tokens::list(ctx, id, &p).await }).await?;
        // Newest first (ids are time-ordered).
        records.reverse();
        let hints: HashMap<_, _> = records.iter().map(|r| (r.id, r.hint.clone())).collect();
        let predecessors: HashMap<_, _> = records
            .iter()
            .filter_map(|r| Some((r.replaced_by?, r.hint.clone())))
            .collect();
        let fold_before = now - Duration::days(FOLD_AFTER_DAYS);
        for r in records {
            let grace = r.revoked_at.filter(|at| *at > now);
            let successor = r.replaced_by.and_then(|s| hints.get(&s).cloned());
            let predecessor = predecessors.get(&r.id).cloned();
            let view = r.view(now);
            let folded = ended_at(&view).is_some_and(|at| at < fold_before);
            let mut row = token_row(view, grace, now);
            row.replaced_by = successor.unwrap_or_default();
            row.replaces = predecessor.unwrap_or_default();
            if folded {
                old_tokens.push(row);
            } else {
                tokens.push(row);
            }
        }
    }
    let max_days = ctx.organization().settings.max_token_lifetime_days;
    let url = sa_url(ctx, sa.id);
    let mut layout = org_layout(session, ctx, &sa.name)
        .crumb("Service accounts", section_url(ctx, "service-accounts"))
        .notice(notice);
    if new_token.is_some() {
        layout.replace_url = Some(url.clone());
    }
    let page = SaPage {
        layout,
        org_url: org_url(ctx),
        url,
        sa_id: sa.id.to_string(),
        member_id: sa.member_id.to_string(),
        org_id: ctx.org_id().to_string(),
        active: sa.status == ServiceAccountStatus::Active,
        created: ts(sa.created_at),
        created_by: created_by(&sa.created_by),
        last_used: ts_or(sa.last_used_at, "never"),
        groups: sa
            .groups
            .iter()
            .map(|g| GroupItem {
                id: g.id.to_string(),
                name: g.name.clone(),
            })
            .collect(),
        assignable,
        can_edit: ctx.allows(Action::Update, &Resource::ServiceAccounts),
        can_delete: ctx.allows(Action::Delete, &Resource::ServiceAccounts),
        can_assign,
        can_view_tokens,
        can_create_tokens: ctx.allows(Action::Create, &Resource::ServiceTokens),
        can_revoke_tokens: ctx.allows(Action::Delete, &Resource::ServiceTokens),
        can_rotate_tokens: ctx.allows(Action::Update, &Resource::ServiceTokens),
        tokens,
        old_tokens,
        active_tokens: sa.active_token_count,
        new_token,
        expiry_choices: expiry_choices(max_days),
        max_days,
        tomorrow: (now + Duration::days(1)).format("%Y-%m-%d").to_string(),
        trust: trust::section(ctx, id).await?,
        permissions: permissions::table_if_allowed(ctx, sa.member_id).await?,
        subject: format!("the service account {}", sa.name),
        name: sa.name,
        description: sa.description,
        failed,
    };
    Ok(render_with_status(page.failed.status, &page))
}

pub(crate) async fn show(session: PortalSession, ctx: OrgCtx, ids: Ids, q: QueryMap) -> PageResult {
    let id: ServiceAccountId = ids.id("sa_id")?;
    page(&session, &ctx, id, q.get("done"), None, Failed::none()).await
}

async fn tokens_anchor(ctx: OrgCtx, ids: Ids) -> PageResult {
    let id: ServiceAccountId = ids.id("sa_id")?;
    Ok(Redirect::to(&format!("{}#tokens", sa_url(&ctx, id))).into_response())
}

pub(crate) async fn update(
    session: PortalSession,
    ctx: OrgCtx,
    ids: Ids,
    form: Form,
) -> PageResult {
    let id: ServiceAccountId = ids.id("sa_id")?;
    let saved = async {
        let change = Change {
            name: Some(Name::parse("name", form.text("name").trim())?),
            description: Some(Description::parse(
                "description",
                form.text("description").trim(),
            )?),
            status: None,
        };
        ops::service_accounts::update(&ctx, id, change).await
    }
    .await;
    if let Err(e) = saved {
        let failed = Failed::of("edit-sa-form", form, &["name", "description"], e)?;
        return page(&session, &ctx, id, None, None, failed).await;
    }
    let back = sa_url(&ctx, id);
    Ok(Redirect::to(&format!("{back}?done=sa_saved")).into_response())
}

async fn set_status(ctx: OrgCtx, ids: Ids, form: Form) -> PageResult {
    let id: ServiceAccountId = ids.id("sa_id")?;
    let back = sa_url(&ctx, id);
    let status = ServiceAccountStatus::parse(form.text("status"))
        .ok_or_else(|| Error::validation("status", "the status must be active or disabled"))
        .or_back(&back)?;
    let change = Change {
        status: Some(status),
        ..Default::default()
    };
    ops::service_accounts::update(&ctx, id, change)
        .await
        .or_back(&back)?;
    let done = match status {
        ServiceAccountStatus::Active => "sa_enabled",
        ServiceAccountStatus::Disabled => "sa_disabled",
    };
    Ok(Redirect::to(&format!("{back}?done={done}")).into_response())
}

async fn disable_page(session: PortalSession, ctx: OrgCtx, ids: Ids) -> PageResult {
    let id: ServiceAccountId = ids.id("sa_id")?;
    let back = sa_url(&ctx, id);
    ctx.require(Action::Update, &Resource::ServiceAccounts)
        .or_back(&back)?;
    let sa = ops::service_accounts::get(&ctx, id).await?;
    Ok(render(
        &ConfirmPage::new(
            org_layout(&session, &ctx, "Disable service account"),
            format!("Disable the service account {}?", sa.name),
            format!(
                "Its {} active token(s) are refused from their next request until you enable \
                 it again. Nothing is deleted.",
                sa.active_token_count
            ),
            format!("{back}/status"),
            "Disable service account",
            back,
        )
        .with_field("status", "disabled"),
    ))
}

async fn delete_page(session: PortalSession, ctx: OrgCtx, ids: Ids) -> PageResult {
    let id: ServiceAccountId = ids.id("sa_id")?;
    let back = sa_url(&ctx, id);
    ctx.require(Action::Delete, &Resource::ServiceAccounts)
        .or_back(&back)?;
    let sa = ops::service_accounts::get(&ctx, id).await?;
    Ok(render(&ConfirmPage::new(
        org_layout(&session, &ctx, "Delete service account"),
        format!("Delete the service account {}?", sa.name),
        format!(
            "Its {} active token(s) are revoked at once, and it leaves every group and the \
             organization. This cannot be undone.",
            sa.active_token_count
        ),
        format!("{back}/delete"),
        "Delete service account",
        back,
    )))
}

async fn delete(ctx: OrgCtx, ids: Ids, _form: Form) -> PageResult {
    let id: ServiceAccountId = ids.id("sa_id")?;
    let back = sa_url(&ctx, id);
    ops::service_accounts::delete(&ctx, id)
        .await
        .or_back(&back)?;
    Ok(Redirect::to(&format!(
        "{}?done=sa_deleted",
        section_url(&ctx, "service-accounts")
    ))
    .into_response())
}
