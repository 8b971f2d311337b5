//! The old audit log section of the organization page, kept only so that
//! `details::show` and `org.html` build while the organization page is
//! being rewritten: it is a thin adapter over the shared log of
//! [`crate::portal::audit`] (which `/orgs/{org}/audit` shows), and goes
//! away with the section.

use tron_core::Error;

use super::org_url;
use crate::access::OrgCtx;
use crate::ops;
use crate::portal::audit::load;
use crate::portal::form::QueryMap;
use crate::portal::view::Choice;

pub(super) struct AuditRow {
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

pub(super) struct AuditView {
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

/// The section's view of the shared log; a malformed filter is an error,
/// as the section always had it.
pub(super) async fn audit_view(ctx: &OrgCtx, q: &QueryMap) -> Result<AuditView, Error> {
    let log = load(&org_url(ctx), q, move |f, p| async move {
        ops::audit::list(ctx, &f, &p).await
    })
    .await?;
    if let Some(e) = log.refused {
        return Err(e);
    }
    Ok(AuditView {
        rows: log
            .rows
            .into_iter()
            .map(|r| AuditRow {
                when: r.when,
                actor_type: r.actor.label,
                actor: r.actor.name,
                token: r.token_short,
                action: r.action,
                target: format!("{} {}", r.target.label, r.target.name),
                details: r
                    .details
                    .iter()
                    .map(|f| format!("{}: {}", f.label, f.value))
                    .collect::<Vec<_>>()
                    .join("; "),
                ip: r.ip,
            })
            .collect(),
        actor_types: log.actor_types,
        actor_id: log.actor_id,
        action: log.action,
        target_id: log.target_id,
        since: log.since,
        until: log.until,
        older: log.older.map(|o| format!("{o}#audit")),
        filtered: log.filtered,
    })
}
