//! The audit log: the organization's (admins) and the platform's
//! (superusers).
use chrono::{DateTime, Utc};
use tron_core::authz::{Action, Resource};
use tron_core::principal::{ActorType, Principal};
use tron_core::{Error, Result};
use tron_store::audit::AuditFilter;
use tron_store::models::AuditEvent;
use tron_store::{Page, PageRequest};

use crate::access::OrganizationAccessContext as Ctx;

/// Events matching `filter`, newest first.
pub async fn list(ctx: &Ctx, filter: &AuditFilter, page: &PageRequest) -> Result<Page<AuditEvent>> {
    ctx.require(Action::View, &Resource::AuditEvents)?;
    ctx.store().list_audit_events(filter, page).await
}

/// Only superusers read the platform log (users, personal tokens,
/// logins).
pub fn require_platform_reader(principal: &Principal) -> Result<()> {
    if principal.is_superuser() {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// Platform events matching `filter`, newest first (superusers).
pub async fn list_platform(
    store: &tron_store::Store,
    principal: &Principal,
    filter: &AuditFilter,
    page: &PageRequest,
) -> Result<Page<AuditEvent>> {
    require_platform_reader(principal)?;
    store.list_platform_audit_events(filter, page).await
}

/// What a caller asked to see, as typed (the API's query or the portal's
/// filter form).
#[derive(Debug, Default, Clone, Copy)]
pub struct Query<'a> {
    pub actor_type: Option<&'a str>,
    pub actor_id: Option<&'a str>,
    /// An exact action, or a prefix ending in `.*` (or `*`).
    pub action: Option<&'a str>,
    pub target_id: Option<&'a str>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl Query<'_> {
    /// The store's filter; an unknown actor type is refused, naming the
    /// field.
    pub fn filter(&self) -> Result<AuditFilter> {
        if self
            .actor_type
            .is_some_and(|t| ActorType::parse(t).is_none())
        {
            return Err(Error::validation(
                "actor_type",
                "actor_type must be user, service_account, anonymous or system",
            ));
        }
        let (action, action_prefix) = match self.action {
            None => (None, false),
            Some(a) => match a.strip_suffix(".*").or_else(|| a.strip_suffix('*')) {
                Some(prefix) => (Some(format!("{}.", prefix.trim_end_matches('.'))), true),
                None => (Some(a.to_owned()), false),
            },
        };
        Ok(AuditFilter {
            actor_type: self.actor_type.map(str::to_owned),
            actor_id: self.actor_id.map(str::to_owned),
            action,
            action_prefix,
            target_id: self.target_id.map(str::to_owned),
            since: self.since,
            until: self.until,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn action_prefixes() {
        for (asked, want, prefix) in [
            ("service_token.*", "service_token.", true),
            ("service_token*", "service_token.", true),
            ("service_token.create", "service_token.create", false),
        ] {
            let f = Query {
                action: Some(asked),
                ..Default::default()
            }
            .filter()
            .unwrap();
            assert_eq!(
                (f.action.as_deref(), f.action_prefix),
                (Some(want), prefix),
                "{asked}"
            );
        }
    }

    #[test]
    fn unknown_actor_types_are_refused() {
        let q = Query {
            actor_type: Some("robot"),
            ..Default::default()
        };
        assert!(matches!(q.filter(), Err(Error::Validation { .. })));
        let q = Query {
            actor_type: Some("service_account"),
            ..Default::default()
        };
        assert!(q.filter().is_ok());
    }
}
