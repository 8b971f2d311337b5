//! The readable audit log, one piece for both logs: the organization's
//! (`/orgs/{org}/audit`, admins) and the platform's (`/audit`,
//! superusers). Details read as labelled fields, the actor and the target
//! as names that filter the log by their id, and a malformed filter is
//! said beside the form (with what was typed kept) instead of an error
//! page.
//!
//! Invariant: the permission is checked before the filter is read, so a
//! caller who may not read a log learns nothing from its filter errors.
use std::future::Future;

use askama::Template;
use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use tron_core::authz::{Action, Resource};
use tron_core::values::{add_clamped, Timestamp};
use tron_core::Error;
use tron_store::audit::AuditFilter;
use tron_store::models::AuditEvent;
use tron_store::{Page, PageRequest};

use crate::access::OrgCtx;
use crate::ops;
use crate::portal::form::{sentence, QueryMap};
use crate::portal::orgs::{org_layout, org_url, PageResult};
use crate::portal::session::PortalSession;
use crate::portal::view::{render, Choice, Layout};
use crate::state::AppState;

/// An actor or a target: its name, what kind it is, and (when it has an
/// id) the address of the log filtered to it.
pub(crate) struct Party {
    /// As stored: `user`, `service_account`, `service_token`, …
    pub kind: String,
    /// As read: `user`, `service account`, …
    pub label: String,
    /// The badge's class.
    pub badge: &'static str,
    pub name: String,
    pub id: String,
    pub href: Option<String>,
}

/// One labelled field of an event's details.
pub(crate) struct Field {
    pub label: String,
    pub value: String,
}

pub(crate) struct Row {
    pub when: String,
    /// RFC 3339, for the `<time>` element.
    pub at: String,
    pub action: String,
    pub actor: Party,
    /// For a service account: the id of the token it acted with.
    pub token: String,
    pub token_short: String,
    pub target: Party,
    pub details: Vec<Field>,
    pub ip: String,
    pub request_id: String,
}

/// The log as a page shows it: its filters as typed, its rows, the next
/// page.
pub(crate) struct AuditLog {
    /// The page's own address (filters are its query).
    pub url: String,
    pub rows: Vec<Row>,
    pub actor_types: Vec<Choice>,
    pub actor_id: String,
    pub action: String,
    pub target_id: String,
    pub since: String,
    pub until: String,
    pub older: Option<String>,
    pub filtered: bool,
    /// A malformed filter, in words.
    pub error: Option<String>,
    /// The field it is about (its input is marked).
    pub error_field: String,
    /// The refusal itself, for callers that still want it as an error.
    pub refused: Option<Error>,
}

const FILTERS: [&str; 6] = [
    "actor_type",
    "actor_id",
    "action",
    "target_id",
    "since",
    "until",
];

/// Events a log page shows at a time.
pub(crate) const AUDIT_PAGE: u32 = 50;

/// A date (`2026-01-31`, midnight UTC) or an RFC 3339 timestamp.
pub(crate) fn parse_time(field: &str, s: Option<&str>) -> Result<Option<DateTime<Utc>>, Error> {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let bad = || {
        Error::validation(
            field,
            format!("{field} must be a date (2026-01-31) or a time (2026-01-31T14:05:00Z)"),
        )
    };
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)
            .and_then(|t| Timestamp::new(t.and_utc()))
            .map(|t| Some(t.get()))
            .ok_or_else(bad);
    }
    Timestamp::parse(s).map(|t| Some(t.get())).ok_or_else(bad)
}

/// The store's filter for the query's fields.
fn filter_of(q: &QueryMap) -> Result<AuditFilter, Error> {
    ops::audit::Query {
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
    })
}

/// `url?…` with the current filters, `key` set to `value` (or dropped),
/// and no cursor.
fn link(url: &str, q: &QueryMap, key: &str, value: Option<&str>) -> String {
    let mut params: Vec<(&str, &str)> = FILTERS
        .iter()
        .filter(|k| **k != key)
        .filter_map(|k| q.get(k).map(|v| (*k, v)))
        .collect();
    if let Some(v) = value {
        params.push((key, v));
    }
    if params.is_empty() {
        return url.to_owned();
    }
    format!(
        "{url}?{}",
        serde_urlencoded::to_string(&params).unwrap_or_default()
    )
}

fn party(
    url: &str,
    q: &QueryMap,
    key: &str,
    kind: String,
    id: Option<String>,
    name: Option<String>,
) -> Party {
    let (label, badge) = match kind.as_str() {
        "user" => ("user".to_owned(), "badge-user"),
        "service_account" => ("service account".to_owned(), "badge-sa"),
        other => (other.replace('_', " "), ""),
    };
    let id = id.unwrap_or_default();
    Party {
        href: (!id.is_empty()).then(|| link(url, q, key, Some(&id))),
        name: name
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| match id.is_empty() {
                true => "—".into(),
                false => id.clone(),
            }),
        label,
        badge,
        kind,
        id,
    }
}

/// A value of the details as a person reads it.
fn value_text(v: &Value) -> String {
    let s = match v {
        Value::Null => "—".to_owned(),
        Value::Bool(true) => "yes".to_owned(),
        Value::Bool(false) => "no".to_owned(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) if a.is_empty() => "none".to_owned(),
        Value::Array(a) => a.iter().map(value_text).collect::<Vec<_>>().join(", "),
        Value::Object(_) => v.to_string(),
    };
    if s.chars().count() > 300 {
        s.chars().take(297).collect::<String>() + "…"
    } else {
        s
    }
}

/// The details as labelled fields; nested objects are flattened, their
/// labels joined with `›`.
fn fields(prefix: &str, details: &Value, out: &mut Vec<Field>) {
    match details {
        Value::Object(m) => {
            for (k, v) in m {
                let label = match prefix {
                    "" => k.replace('_', " "),
                    p => format!("{p} › {}", k.replace('_', " ")),
                };
                if v.is_object() && out.len() < 40 {
                    fields(&label, v, out);
                } else {
                    out.push(Field {
                        label,
                        value: value_text(v),
                    });
                }
            }
        }
        Value::Null => {}
        other => out.push(Field {
            label: if prefix.is_empty() {
                "details".into()
            } else {
                prefix.into()
            },
            value: value_text(other),
        }),
    }
}

fn row(url: &str, q: &QueryMap, e: AuditEvent) -> Row {
    let token = match (e.actor.kind.as_str(), &e.actor.token_id) {
        ("service_account", Some(t)) => t.clone(),
        _ => String::new(),
    };
    let mut details = Vec::new();
    fields("", &e.details, &mut details);
    Row {
        when: e.occurred_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        at: e.occurred_at.to_rfc3339(),
        action: e.action,
        actor: party(url, q, "actor_id", e.actor.kind, e.actor.id, e.actor.name),
        token_short: token.chars().take(8).collect(),
        token,
        target: party(
            url,
            q,
            "target_id",
            e.target.kind,
            e.target.id,
            e.target.name,
        ),
        details,
        ip: e.ip.unwrap_or_default(),
        request_id: e.request_id.unwrap_or_default(),
    }
}

/// Reads the filters from `q`, fetches a page of events through `fetch`
/// (which checks the permission) and shapes them. A malformed filter is
/// not an error: the log carries it, with no rows.
pub(crate) async fn load<F, Fut>(url: &str, q: &QueryMap, fetch: F) -> Result<AuditLog, Error>
where
    F: FnOnce(AuditFilter, PageRequest) -> Fut,
    Fut: Future<Output = Result<Page<AuditEvent>, Error>>,
{
    let selected = q.get("actor_type").unwrap_or_default().to_owned();
    let mut actor_types = vec![Choice::new("", "anyone", selected.is_empty())];
    let known = [
        ("user", "users"),
        ("service_account", "service accounts"),
        ("anonymous", "anonymous"),
        ("system", "system"),
    ];
    for (v, l) in known {
        actor_types.push(Choice::new(v, l, selected == v));
    }
    if !selected.is_empty() && !known.iter().any(|(v, _)| *v == selected) {
        // Kept as typed, so the error beside it makes sense.
        actor_types.push(Choice::new(
            &selected,
            format!("{selected} (unknown)"),
            true,
        ));
    }
    let mut log = AuditLog {
        url: url.to_owned(),
        rows: Vec::new(),
        actor_types,
        actor_id: q.get("actor_id").unwrap_or("").into(),
        action: q.get("action").unwrap_or("").into(),
        target_id: q.get("target_id").unwrap_or("").into(),
        since: q.get("since").unwrap_or("").into(),
        until: q.get("until").unwrap_or("").into(),
        older: None,
        filtered: FILTERS.iter().any(|k| q.get(k).is_some()),
        error: None,
        error_field: String::new(),
        refused: None,
    };
    let filter = match filter_of(q) {
        Ok(f) => f,
        Err(e) => {
            if let Error::Validation { message, field, .. } = &e {
                log.error = Some(sentence(message));
                log.error_field = field.clone().unwrap_or_default();
            } else {
                return Err(e);
            }
            log.refused = Some(e);
            return Ok(log);
        }
    };
    let after = q.get("cursor").and_then(|c| uuid::Uuid::parse_str(c).ok());
    let page = fetch(
        filter,
        PageRequest {
            limit: AUDIT_PAGE,
            after,
        },
    )
    .await?;
    log.older = page.next_cursor.map(|c| {
        let base = link(url, q, "cursor", None);
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}cursor={}", urlencoding(&c))
    });
    log.rows = page.items.into_iter().map(|e| row(url, q, e)).collect();
    Ok(log)
}

fn urlencoding(s: &str) -> String {
    serde_urlencoded::to_string([("c", s)])
        .map(|p| p.trim_start_matches("c=").to_owned())
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    kicker: String,
    intro: &'static str,
    log: AuditLog,
}

/// `GET /orgs/{org}/audit`: the organization's log (admins).
pub(crate) async fn org_page(session: PortalSession, ctx: OrgCtx, q: QueryMap) -> PageResult {
    ctx.require(Action::View, &Resource::AuditEvents)?;
    let url = format!("{}/audit", org_url(&ctx));
    let c = &ctx;
    let log = load(&url, &q, move |f, p| async move {
        ops::audit::list(c, &f, &p).await
    })
    .await?;
    Ok(render(&AuditPage {
        layout: org_layout(&session, &ctx, "Audit log").crumb("Audit log", url),
        kicker: ctx.organization().name.clone(),
        intro: "Every change in this organization, newest first, with who made it.",
        log,
    }))
}

/// `GET /audit`: the platform's log (superusers).
pub(crate) async fn platform_page(
    State(state): State<AppState>,
    session: PortalSession,
    q: QueryMap,
) -> PageResult {
    ops::audit::require_platform_reader(&session.principal)?;
    let (store, principal) = (&state.store, &session.principal);
    let log = load("/audit", &q, move |f, p| async move {
        ops::audit::list_platform(store, principal, &f, &p).await
    })
    .await?;
    Ok(render(&AuditPage {
        layout: Layout::new(&session, "Platform audit log").crumb("Platform audit log", "/audit"),
        kicker: "Platform".into(),
        intro: "Users, personal tokens, logins and failed logins: what belongs to no organization.",
        log,
    }))
}
