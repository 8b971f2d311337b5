//! The audit log section of the organization page: filters and rows.

use chrono::{DateTime, NaiveDate, Utc};
use tron_core::values::{add_clamped, Timestamp};
use tron_core::Error;
use tron_store::PageRequest;

use super::{org_layout, org_url, section_url, PageResult};
use crate::access::OrgCtx;
use crate::ops;
use crate::portal::error::OrBack;
use crate::portal::form::QueryMap;
use crate::portal::session::PortalSession;
use crate::portal::view::{render, Choice, Layout};
use askama::Template;
use tron_core::authz::{Action, Resource};

pub(crate) struct AuditRow {
    pub(super) when: String,
    pub(super) actor_type: String,
    pub(super) actor: String,
    /// For a service account: the token it acted with.
    pub(super) token: String,
    pub(super) action: String,
    pub(super) target: String,
    pub(super) details: String,
    pub(super) ip: String,
}

pub(crate) struct AuditView {
    pub(super) rows: Vec<AuditRow>,
    pub(super) actor_types: Vec<Choice>,
    pub(super) actor_id: String,
    pub(super) action: String,
    pub(super) target_id: String,
    pub(super) since: String,
    pub(super) until: String,
    pub(super) older: Option<String>,
    pub(super) filtered: bool,
}

/// A date (`2026-01-31`, midnight UTC) or an RFC 3339 timestamp.
pub(super) fn parse_time(field: &str, s: Option<&str>) -> Result<Option<DateTime<Utc>>, Error> {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let bad = || Error::validation(field, format!("{field} must be a date"));
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)
            .and_then(|t| Timestamp::new(t.and_utc()))
            .map(|t| Some(t.get()))
            .ok_or_else(bad);
    }
    Timestamp::parse(s).map(|t| Some(t.get())).ok_or_else(bad)
}

pub(super) const AUDIT_PAGE: u32 = 50;

pub(super) async fn audit_view(ctx: &OrgCtx, q: &QueryMap) -> Result<AuditView, Error> {
    let filter = ops::audit::Query {
        actor_type: q.get("actor_type"),
        actor_id: q.get("actor_id"),
        action: q.get("action"),
        target_id: q.get("target_id"),
        since: parse_time("since", q.get("since"))?,
        // A date as "until" includes that whole day.
        until: parse_time("until", q.get("until"))?.map(|t| {
            if q.get("until").is_some_and(|s| s.trim().len() == 10) {
                add_clamped(t, chrono::Duration::days(1))
            } else {
                t
            }
        }),
    }
    .filter()
    .map_err(|e| match e {
        // The form's own words for its select box.
        Error::Validation { field: Some(f), .. } if f == "actor_type" => Error::validation(
            "actor_type",
            "the actor type must be user, service account, anonymous or system",
        ),
        e => e,
    })?;
    let after = q.get("cursor").and_then(|c| uuid::Uuid::parse_str(c).ok());
    let page = ops::audit::list(
        ctx,
        &filter,
        &PageRequest {
            limit: AUDIT_PAGE,
            after,
        },
    )
    .await?;
    let keep = [
        "actor_type",
        "actor_id",
        "action",
        "target_id",
        "since",
        "until",
    ];
    let older = page.next_cursor.map(|c| {
        let mut params: Vec<(&str, &str)> = keep
            .iter()
            .filter_map(|k| q.get(k).map(|v| (*k, v)))
            .collect();
        params.push(("cursor", &c));
        format!(
            "{}?{}",
            section_url(ctx, "audit"),
            serde_urlencoded::to_string(&params).unwrap_or_default()
        )
    });
    let rows = page
        .items
        .into_iter()
        .map(|e| {
            let mut details = e.details.to_string();
            if details == "{}" || details == "null" {
                details.clear();
            }
            if details.chars().count() > 160 {
                details = details.chars().take(157).collect::<String>() + "…";
            }
            AuditRow {
                when: e.occurred_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                actor_type: e.actor.kind.replace('_', " "),
                actor: e.actor.name.unwrap_or_else(|| "—".into()),
                token: match (e.actor.kind.as_str(), e.actor.token_id) {
                    ("service_account", Some(t)) => t.chars().take(8).collect(),
                    _ => String::new(),
                },
                action: e.action,
                target: match e.target.name {
                    Some(n) => format!("{} {}", e.target.kind.replace('_', " "), n),
                    None => e.target.kind.replace('_', " "),
                },
                details,
                ip: e.ip.unwrap_or_default(),
            }
        })
        .collect();
    let selected = q.get("actor_type").unwrap_or_default().to_owned();
    let mut actor_types = vec![Choice::new("", "anyone", selected.is_empty())];
    for (v, l) in [
        ("user", "users"),
        ("service_account", "service accounts"),
        ("anonymous", "anonymous"),
        ("system", "system"),
    ] {
        actor_types.push(Choice::new(v, l, selected == v));
    }
    Ok(AuditView {
        rows,
        actor_types,
        actor_id: q.get("actor_id").unwrap_or("").into(),
        action: q.get("action").unwrap_or("").into(),
        target_id: q.get("target_id").unwrap_or("").into(),
        since: q.get("since").unwrap_or("").into(),
        until: q.get("until").unwrap_or("").into(),
        older,
        filtered: keep.iter().any(|k| q.get(k).is_some()),
    })
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    url: String,
    org_name: String,
    a: AuditView,
}

pub(crate) async fn page(session: PortalSession, ctx: OrgCtx, q: QueryMap) -> PageResult {
    ctx.require(Action::View, &Resource::AuditEvents)?;
    let a = audit_view(&ctx, &q).await.or_back(&org_url(&ctx))?;
    Ok(render(&AuditPage {
        layout: org_layout(&session, &ctx, "Audit log")
            .crumb("Audit log", section_url(&ctx, "audit")),
        url: org_url(&ctx),
        org_name: ctx.organization().name.clone(),
        a,
    }))
}
