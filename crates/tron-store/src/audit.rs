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
        let scope = Where::scope(organization_id, page);
        let mut filtered = scope.clone();
        let index = filtered.filter(filter);
        let want = page.limit as usize + 1;
        // Asked two ways, because no planner can know how a value is spread
        // over time: first the newest `WINDOW` events in log order (a value
        // that is common now fills the page there), then, for what is left,
        // the filter's own index below where the window ended (a rare
        // value's few events, sorted). Without a filter, or in a log shorter
        // than the window, the first look is all there is.
        let boundary = match index {
            Some(_) => self.audit_window_end(&scope).await?,
            None => None,
        };
        let items = match (index, boundary) {
            (Some(index), Some(boundary)) => {
                let mut newest = filtered.clone();
                newest.push("id >=", Arg::S(boundary.clone()));
                let mut items = self.audit_rows(&newest, Look::InOrder, want).await?;
                if items.len() < want {
                    let mut older = filtered;
                    older.push("id <", Arg::S(boundary));
                    let rest = self.audit_rows(&older, Look::By(index), want - items.len());
                    items.extend(rest.await?);
                }
                items
            }
            _ => self.audit_rows(&filtered, Look::InOrder, want).await?,
        };
        Ok(Page::from_rows(items, page.limit, |e| e.id.to_string()))
    }

    /// The id of the `WINDOW`th newest event in `scope`, if it has that many.
    async fn audit_window_end(&self, scope: &Where) -> Result<Option<String>> {
        let sql = format!(
            "SELECT id FROM audit_events{} WHERE {} ORDER BY id DESC LIMIT 1 OFFSET {}",
            Look::InOrder.hint(self.backend()),
            scope.sql,
            WINDOW - 1
        );
        let row = scope
            .bind(sqlx::query::<Any>(&sql))
            .fetch_optional(&self.read)
            .await
            .map_err(db_err)?;
        row.map(|r| get_str(&r, "id")).transpose()
    }

    /// At most `limit` events matching `w`, newest first, read as `look`
    /// says.
    async fn audit_rows(&self, w: &Where, look: Look, limit: usize) -> Result<Vec<AuditEvent>> {
        let backend = self.backend();
        let sql = match (backend, look) {
            // `OFFSET 0` keeps PostgreSQL from reading the log in order
            // and filtering as it goes (it would guess that matches are
            // spread evenly, and a day 200 days back is not): the rows are
            // found by the filter's index, then sorted.
            (Backend::Postgres, Look::By(_)) => format!(
                "SELECT * FROM (SELECT * FROM audit_events WHERE {} OFFSET 0) AS e ORDER BY id DESC LIMIT {limit}",
                w.sql
            ),
            _ => format!(
                "SELECT * FROM audit_events{} WHERE {} ORDER BY id DESC LIMIT {limit}",
                look.hint(backend),
                w.sql
            ),
        };
        // Planned for these values each time, not prepared once: a plan
        // made for any actor would read a whole organization's log for one
        // that is rare in it (PostgreSQL's generic plan takes the values'
        // average frequency, and one actor often has most of the events).
        let rows = w
            .bind(sqlx::query::<Any>(&sql).persistent(false))
            .fetch_all(&self.read)
            .await
            .map_err(db_err)?;
        rows.iter().map(row_to_event).collect()
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

/// The least string above every string that starts with `prefix`, in
/// byte order (UTF-8's byte order is its code points' order): the prefix
/// with its last character replaced by the next one. `None` when there is
/// none (an empty prefix, or one ending in `char::MAX`).
fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars = prefix.chars();
    let last = chars.next_back()?;
    // The next scalar value (skipping the surrogates, which no char is).
    let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32)?;
    let mut upper = chars.as_str().to_owned();
    upper.push(next);
    Some(upper)
}

/// A dynamically bound argument.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    S(String),
    I(i64),
}

/// How the audit log is read (see `list_audit_events`).
#[derive(Debug, Clone, Copy)]
enum Look {
    /// In the log's order, filtering as it goes.
    InOrder,
    /// Through this index of the filter's, then sorted.
    By(&'static str),
}

impl Look {
    /// SQLite's statistics cannot tell a value that fills half the log from
    /// one that is absent, so it is told which index to use.
    fn hint(self, backend: Backend) -> String {
        match (backend, self) {
            (Backend::Sqlite, Look::InOrder) => " INDEXED BY audit_events_org_idx".into(),
            (Backend::Sqlite, Look::By(index)) => format!(" INDEXED BY {index}"),
            (Backend::Postgres, _) => String::new(),
        }
    }
}

/// How many of the newest events are read in log order before the
/// filter's own index is asked.
const WINDOW: u32 = 1000;

/// A WHERE clause and its arguments, `$1`, `$2`, … in order.
#[derive(Debug, Clone)]
struct Where {
    sql: String,
    args: Vec<Arg>,
}

impl Where {
    /// One organization's log (or the platform's), after the page's cursor.
    fn scope(organization_id: Option<OrganizationId>, page: &PageRequest) -> Where {
        let mut w = Where {
            sql: String::new(),
            args: Vec::new(),
        };
        match organization_id {
            Some(org) => w.push("organization_id =", Arg::S(org.to_string())),
            None => w.sql.push_str("organization_id IS NULL"),
        }
        if let Some(after) = page.after {
            w.push("id <", Arg::S(after.to_string()));
        }
        w
    }

    fn push(&mut self, clause: &str, v: Arg) {
        self.args.push(v);
        if !self.sql.is_empty() {
            self.sql.push_str(" AND ");
        }
        self.sql.push_str(&format!("{clause} ${}", self.args.len()));
    }

    /// Adds `filter`'s conditions; the index of the first of them in this
    /// order (actor, target, action, actor type, time), the kinds most
    /// likely to pick out few events first, if there is a condition.
    fn filter(&mut self, filter: &AuditFilter) -> Option<&'static str> {
        let mut index = None;
        let mut prefer = |i: &'static str| {
            index.get_or_insert(i);
        };
        if let Some(v) = &filter.actor_id {
            self.push("actor_id =", Arg::S(v.clone()));
            prefer("audit_events_org_actor_idx");
        }
        if let Some(v) = &filter.target_id {
            self.push("target_id =", Arg::S(v.clone()));
            prefer("audit_events_org_target_idx");
        }
        if let Some(v) = &filter.action {
            if filter.action_prefix {
                // A prefix match without LIKE, so `_` and `%` stay literal:
                // a range of the (organization, action, id) index (actions
                // compare bytewise on both backends, migration 0007), and
                // the prefix itself, which decides.
                self.push("action >=", Arg::S(v.clone()));
                if let Some(upper) = prefix_upper_bound(v) {
                    self.push("action <", Arg::S(upper));
                }
                self.args.push(Arg::I(v.chars().count() as i64));
                self.args.push(Arg::S(v.clone()));
                self.sql.push_str(&format!(
                    " AND substr(action, 1, CAST(${} AS INTEGER)) = ${}",
                    self.args.len() - 1,
                    self.args.len()
                ));
            } else {
                self.push("action =", Arg::S(v.clone()));
            }
            prefer("audit_events_org_action_idx");
        }
        if let Some(v) = &filter.actor_type {
            self.push("actor_type =", Arg::S(v.clone()));
            prefer("audit_events_org_actor_type_idx");
        }
        if let Some(v) = filter.since {
            self.push("occurred_at >=", Arg::I(ts(v)));
            prefer("audit_events_org_occurred_idx");
        }
        if let Some(v) = filter.until {
            self.push("occurred_at <", Arg::I(ts(v)));
            prefer("audit_events_org_occurred_idx");
        }
        index
    }

    fn bind<'q>(
        &self,
        mut q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
        for a in &self.args {
            q = match a {
                Arg::S(s) => q.bind(s.clone()),
                Arg::I(i) => q.bind(*i),
            };
        }
        q
    }
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

#[cfg(test)]
mod tests {
    use super::prefix_upper_bound;

    #[test]
    fn a_prefix_range_holds_exactly_the_strings_that_start_with_it() {
        assert_eq!(
            prefix_upper_bound("service_token.").as_deref(),
            Some("service_token/")
        );
        assert_eq!(prefix_upper_bound(""), None);
        assert_eq!(prefix_upper_bound("a\u{10FFFF}"), None);
        assert_eq!(
            prefix_upper_bound("x\u{D7FF}").as_deref(),
            Some("x\u{E000}")
        );
        let prefix = "service_token.";
        let upper = prefix_upper_bound(prefix).unwrap_or_default();
        for (action, starts) in [
            ("service_token.create", true),
            ("service_token.", true),
            ("service_token", false),
            ("service_tokens.create", false),
            ("service_token/", false),
            ("service_token-x", false),
            ("service_tokeo", false),
            ("service_token.\u{10FFFF}", true),
        ] {
            // Rust's `str` order is byte order, as the databases' here.
            let in_range = action >= prefix && action < upper.as_str();
            assert_eq!(in_range, starts, "{action}");
            assert_eq!(action.starts_with(prefix), starts, "{action}");
        }
    }
}
