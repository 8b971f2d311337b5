//! The organization's audit log.
use tron_core::authz::{Action, Resource};
use tron_core::Result;
use tron_store::audit::AuditFilter;
use tron_store::models::AuditEvent;
use tron_store::{Page, PageRequest};

use crate::access::OrganizationAccessContext as Ctx;

/// Events matching `filter`, newest first.
pub async fn list(ctx: &Ctx, filter: &AuditFilter, page: &PageRequest) -> Result<Page<AuditEvent>> {
    ctx.require(Action::View, &Resource::AuditEvents)?;
    ctx.store().list_audit_events(filter, page).await
}
