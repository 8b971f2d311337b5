//! Groups and their members, and the access check.
use crate::*;

impl Client {
    pub async fn list_groups(&self, org: OrganizationId, page: &ListParams) -> Result<Page<Group>> {
        self.list(&format!("/organizations/{org}/groups"), page)
            .await
    }

    pub async fn create_group(&self, org: OrganizationId, body: &CreateGroup) -> Result<Group> {
        self.post(&format!("/organizations/{org}/groups"), body)
            .await
    }

    pub async fn get_group(&self, org: OrganizationId, group: GroupId) -> Result<Group> {
        self.get(&format!("/organizations/{org}/groups/{group}"))
            .await
    }

    pub async fn update_group(
        &self,
        org: OrganizationId,
        group: GroupId,
        body: &UpdateGroup,
    ) -> Result<Group> {
        self.patch(&format!("/organizations/{org}/groups/{group}"), body)
            .await
    }

    pub async fn delete_group(&self, org: OrganizationId, group: GroupId) -> Result<()> {
        self.delete(&format!("/organizations/{org}/groups/{group}"))
            .await
    }

    pub async fn list_group_members(
        &self,
        org: OrganizationId,
        group: GroupId,
        page: &ListParams,
    ) -> Result<Page<Member>> {
        self.list(
            &format!("/organizations/{org}/groups/{group}/members"),
            page,
        )
        .await
    }

    /// Idempotent.
    pub async fn add_group_member(
        &self,
        org: OrganizationId,
        group: GroupId,
        member: MemberId,
    ) -> Result<()> {
        Self::empty(self.api(
            Method::PUT,
            &format!("/organizations/{org}/groups/{group}/members/{member}"),
        ))
        .await
    }

    /// Idempotent.
    pub async fn remove_group_member(
        &self,
        org: OrganizationId,
        group: GroupId,
        member: MemberId,
    ) -> Result<()> {
        self.delete(&format!(
            "/organizations/{org}/groups/{group}/members/{member}"
        ))
        .await
    }

    pub async fn access_check(
        &self,
        org: OrganizationId,
        query: &AccessCheck,
    ) -> Result<AccessDecision> {
        Self::json(
            self.api(Method::GET, &format!("/organizations/{org}/access-check"))
                .query(query),
        )
        .await
    }
}
