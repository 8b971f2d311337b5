//! The audit log. Invariant: events are written only through [`record`],
//! inside the transaction of the change they describe (the one exception,
//! `service_token.rejected`, records a refusal and no change). Details never
//! hold a secret: callers pass names, ids and settings only.
use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection};
use tron_core::ids::{AuditEventId, OrganizationId, TokenId};
use tron_core::Result;

use crate::db::*;
use crate::models::{AuditActor, AuditEvent, AuditTarget, RequestMeta};
use crate::Store;

/// What an event is about.
#[derive(Debug, Clone)]
pub struct Target {
    pub kind: &'static str,
    pub id: Option<String>,
    pub name: Option<String>,
}

impl Target {
    pub fn new(kind: &'static str, id: impl ToString, name: impl Into<String>) -> Self {
        Target {
            kind,
            id: Some(id.to_string()),
            name: Some(name.into()),
        }
    }
}

/// Writes one event on `conn`, which is the change's transaction (see
/// `Work::audit`, its one caller).
pub(crate) async fn record(
    conn: &mut AnyConnection,
    organization_id: Option<OrganizationId>,
    meta: &RequestMeta,
    now: DateTime<Utc>,
    action: &str,
    target: Target,
    details: serde_json::Value,
) -> Result<()> {
    sqlx::query::<Any>(
        "INSERT INTO audit_events (id, organization_id, occurred_at, actor_type, actor_id, actor_name, \
         actor_token_id, action, target_type, target_id, target_name, details, request_id, ip) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(AuditEventId::new().to_string())
    .bind(organization_id.map(|o| o.to_string()))
    .bind(ts(now))
    .bind(meta.actor.kind.as_str())
    .bind(meta.actor.id.map(|i| i.to_string()))
    .bind(meta.actor.name.clone())
    .bind(meta.actor.token_id.map(|t| t.to_string()))
    .bind(action.to_owned())
    .bind(target.kind)
    .bind(target.id)
    .bind(target.name)
    .bind(details.to_string())
    .bind(meta.request_id.clone())
    .bind(meta.ip.clone())
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Filters of a list request, already validated.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor_type: Option<String>,
    pub actor_id: Option<String>,
    /// Exact action, or a prefix when `action_prefix` is set.
    pub action: Option<String>,
    pub action_prefix: bool,
    pub target_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

fn row_to_event(row: &AnyRow) -> Result<AuditEvent> {
    let details: String = get_str(row, "details")?;
    Ok(AuditEvent {
        id: get_id(row, "id")?,
        occurred_at: get_ts(row, "occurred_at")?,
        actor: AuditActor {
            kind: get_str(row, "actor_type")?,
            id: get_opt_str(row, "actor_id")?,
            name: get_opt_str(row, "actor_name")?,
            token_id: get_opt_str(row, "actor_token_id")?,
        },
        action: get_str(row, "action")?,
        target: AuditTarget {
            kind: get_str(row, "target_type")?,
            id: get_opt_str(row, "target_id")?,
            name: get_opt_str(row, "target_name")?,
        },
        details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
        request_id: get_opt_str(row, "request_id")?,
        ip: get_opt_str(row, "ip")?,
    })
}

impl Store {
    /// The platform's own log (users, personal tokens, logins), newest
    /// first.
    pub async fn list_platform_audit_events(
        &self,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>> {
        self.list_audit_events(None, filter, page).await
    }

    /// Newest first. `organization_id = None` reads the platform log.
    pub(crate) async fn list_audit_events(
        &self,
        organization_id: Option<OrganizationId>,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>> {
        let mut sql = String::from("SELECT * FROM audit_events WHERE ");
        let mut args: Vec<Arg> = Vec::new();
        match organization_id {
            Some(org) => {
                args.push(Arg::S(org.to_string()));
                sql.push_str(&format!("organization_id = ${}", args.len()));
            }
            None => sql.push_str("organization_id IS NULL"),
        }
        let cond = |sql: &mut String, args: &mut Vec<Arg>, clause: &str, v: Arg| {
            args.push(v);
            sql.push_str(&format!(" AND {clause} ${}", args.len()));
        };
        if let Some(v) = &filter.actor_type {
            cond(&mut sql, &mut args, "actor_type =", Arg::S(v.clone()));
        }
        if let Some(v) = &filter.actor_id {
            cond(&mut sql, &mut args, "actor_id =", Arg::S(v.clone()));
        }
        if let Some(v) = &filter.action {
            if filter.action_prefix {
                // A prefix match without LIKE, so `_` and `%` stay literal.
                args.push(Arg::S(v.clone()));
                args.push(Arg::I(v.chars().count() as i64));
                sql.push_str(&format!(
                    " AND substr(action, 1, CAST(${} AS INTEGER)) = ${}",
                    args.len(),
                    args.len() - 1
                ));
            } else {
                cond(&mut sql, &mut args, "action =", Arg::S(v.clone()));
            }
        }
        if let Some(v) = &filter.target_id {
            cond(&mut sql, &mut args, "target_id =", Arg::S(v.clone()));
        }
        if let Some(v) = filter.since {
            cond(&mut sql, &mut args, "occurred_at >=", Arg::I(ts(v)));
        }
        if let Some(v) = filter.until {
            cond(&mut sql, &mut args, "occurred_at <", Arg::I(ts(v)));
        }
        if let Some(after) = page.after {
            cond(&mut sql, &mut args, "id <", Arg::S(after.to_string()));
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", page.limit + 1));
        let mut q = sqlx::query::<Any>(&sql);
        for a in args {
            q = match a {
                Arg::S(s) => q.bind(s),
                Arg::I(i) => q.bind(i),
            };
        }
        let rows = q.fetch_all(&self.read).await.map_err(db_err)?;
        let items = rows.iter().map(row_to_event).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, page.limit, |e| e.id.to_string()))
    }

    /// Records a refusal of a service token (`service_token.rejected`): the
    /// one event that describes no change. At most one per token per
    /// minute across every instance: the token row remembers when the last
    /// one was written. Returns whether an event was written.
    pub async fn record_token_rejection(
        &self,
        organization_id: OrganizationId,
        token: TokenId,
        meta: &RequestMeta,
        now: DateTime<Utc>,
        target: Target,
        details: serde_json::Value,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let claimed = sqlx::query::<Any>(
            "UPDATE tokens SET rejected_logged_at = $1 WHERE id = $2 \
             AND (rejected_logged_at IS NULL OR rejected_logged_at <= $3)",
        )
        .bind(ts(now))
        .bind(token.to_string())
        .bind(ts(now - chrono::Duration::minutes(1)))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected()
            > 0;
        if claimed {
            tx.audit(
                Some(organization_id),
                meta,
                now,
                "service_token.rejected",
                target,
                details,
            )
            .await?;
        }
        tx.commit(&[]).await?;
        Ok(claimed)
    }

    /// Counts events, for tests of the one-event-per-change rule.
    pub async fn count_audit_events(&self) -> Result<i64> {
        let row = sqlx::query::<Any>("SELECT COUNT(*) AS n FROM audit_events")
            .fetch_one(&self.read)
            .await
            .map_err(db_err)?;
        get_i64(&row, "n")
    }
}

/// A dynamically bound argument.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    S(String),
    I(i64),
}

impl crate::OrgStore<'_> {
    /// The organization's log, newest first.
    pub async fn list_audit_events(
        &self,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>> {
        Store::list_audit_events(self, Some(self.org), filter, page).await
    }
}

/// What seeded history is made of: common actions, each with its target
/// kind.
const SEED_ACTIONS: [(&str, &str); 6] = [
    ("deployment.create", "deployment"),
    ("service_token.create", "service_token"),
    ("instance.update", "instance"),
    ("service_token.rotate", "service_token"),
    ("group.member_add", "group"),
    ("service_token.revoke", "service_token"),
];

/// Rows per insert of seeded history.
const SEED_BATCH: usize = 500;

impl crate::OrgStore<'_> {
    /// History for load tests (`tron admin seed`): `count` events by this
    /// handle's actor, spread evenly over the `span` before now (each id
    /// made at its event's time, so ids stay in time order), written in
    /// batches of 500, each batch one unit of work. Not reachable over HTTP.
    pub async fn seed_audit_events(&self, count: u64, span: chrono::Duration) -> Result<()> {
        let meta = self.meta();
        let step = span.num_microseconds().unwrap_or(0).max(1) / count.max(1) as i64;
        let start = self.now - span;
        let mut done = 0u64;
        while done < count {
            let n = (count - done).min(SEED_BATCH as u64) as usize;
            let rows: Vec<String> = (0..n)
                .map(|r| format!("({})", placeholders(r * 14 + 1, 14)))
                .collect();
            let sql = format!(
                "INSERT INTO audit_events (id, organization_id, occurred_at, actor_type, actor_id, actor_name, \
                 actor_token_id, action, target_type, target_id, target_name, details, request_id, ip) VALUES {}",
                rows.join(", ")
            );
            let mut q = sqlx::query::<Any>(&sql);
            for r in 0..n {
                let i = done + r as u64;
                let at = start + chrono::Duration::microseconds(step.saturating_mul(i as i64));
                let (action, kind) = SEED_ACTIONS[(i % SEED_ACTIONS.len() as u64) as usize];
                let secs = at.timestamp().max(0) as u64;
                let id = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
                    uuid::NoContext,
                    secs,
                    at.timestamp_subsec_nanos(),
                ));
                q = q
                    .bind(id.to_string())
                    .bind(self.org.to_string())
                    .bind(ts(at))
                    .bind(meta.actor.kind.as_str())
                    .bind(meta.actor.id.map(|a| a.to_string()))
                    .bind(meta.actor.name.clone())
                    .bind(meta.actor.token_id.map(|t| t.to_string()))
                    .bind(action)
                    .bind(kind)
                    .bind(uuid::Uuid::now_v7().to_string())
                    .bind(format!("seeded {kind} {i}"))
                    .bind("{}")
                    .bind(None::<String>)
                    .bind(None::<String>);
            }
            let mut work = self.begin().await?;
            q.execute(&mut *work).await.map_err(db_err)?;
            work.commit(&[]).await?;
            done += n as u64;
        }
        Ok(())
    }
}
