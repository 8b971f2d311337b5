//! Organizations and their members.
use crate::*;

impl Client {
    /// The organizations the caller is a member of.
    pub async fn list_organizations(&self, page: &ListParams) -> Result<Page<Organization>> {
        self.list("/organizations", page).await
    }

    /// Every organization (`?all=true`, superusers).
    pub async fn list_all_organizations(&self, page: &ListParams) -> Result<Page<Organization>> {
        Self::json(
            self.api(Method::GET, "/organizations")
                .query(page)
                .query(&[("all", "true")]),
        )
        .await
    }

    pub async fn create_organization(&self, name: &str) -> Result<Organization> {
        self.post("/organizations", &serde_json::json!({ "name": name }))
            .await
    }

    pub async fn get_organization(&self, org: OrganizationId) -> Result<Organization> {
        self.get(&format!("/organizations/{org}")).await
    }

    pub async fn update_organization(
        &self,
        org: OrganizationId,
        body: &UpdateOrganization,
    ) -> Result<Organization> {
        self.patch(&format!("/organizations/{org}"), body).await
    }

    pub async fn delete_organization(&self, org: OrganizationId) -> Result<()> {
        self.delete(&format!("/organizations/{org}")).await
    }

    pub async fn list_members(
        &self,
        org: OrganizationId,
        principal_type: Option<PrincipalType>,
        page: &ListParams,
    ) -> Result<Page<Member>> {
        let mut req = self
            .api(Method::GET, &format!("/organizations/{org}/members"))
            .query(page);
        if let Some(t) = principal_type {
            req = req.query(&[("principal_type", t)]);
        }
        Self::json(req).await
    }

    /// Adds an existing user by email.
    pub async fn add_member(&self, org: OrganizationId, email: &str) -> Result<Member> {
        self.post(
            &format!("/organizations/{org}/members"),
            &serde_json::json!({ "email": email }),
        )
        .await
    }

    pub async fn remove_member(&self, org: OrganizationId, member: MemberId) -> Result<()> {
        self.delete(&format!("/organizations/{org}/members/{member}"))
            .await
    }
}
