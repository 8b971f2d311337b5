//! The audit log and operations.
use crate::*;

impl Client {
    /// The organization's audit log (admins), newest first.
    pub async fn list_audit_events(
        &self,
        org: OrganizationId,
        filter: &AuditFilter,
        page: &ListParams,
    ) -> Result<Page<AuditEvent>> {
        Self::json(
            self.api(Method::GET, &format!("/organizations/{org}/audit-events"))
                .query(filter)
                .query(page),
        )
        .await
    }

    /// The platform's audit log (superusers), newest first.
    pub async fn list_platform_audit_events(
        &self,
        filter: &AuditFilter,
        page: &ListParams,
    ) -> Result<Page<AuditEvent>> {
        Self::json(
            self.api(Method::GET, "/audit-events")
                .query(filter)
                .query(page),
        )
        .await
    }

    /// `GET /healthz`: the process is alive.
    pub async fn healthz(&self) -> Result<Status> {
        Self::json(self.request(Method::GET, format!("{}/healthz", self.base))).await
    }

    /// `GET /readyz`: storage is reachable (`503 unavailable` otherwise).
    pub async fn readyz(&self) -> Result<Status> {
        Self::json(self.request(Method::GET, format!("{}/readyz", self.base))).await
    }
}
