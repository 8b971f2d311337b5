//! Environments and their instances.
use crate::*;

impl Client {
    pub async fn list_environments(
        &self,
        org: OrganizationId,
        page: &ListParams,
    ) -> Result<Page<Environment>> {
        self.list(&format!("/organizations/{org}/environments"), page)
            .await
    }

    pub async fn create_environment(&self, org: OrganizationId, name: &str) -> Result<Environment> {
        self.post(
            &format!("/organizations/{org}/environments"),
            &serde_json::json!({ "name": name }),
        )
        .await
    }

    pub async fn get_environment(
        &self,
        org: OrganizationId,
        env: EnvironmentId,
    ) -> Result<Environment> {
        self.get(&format!("/organizations/{org}/environments/{env}"))
            .await
    }

    pub async fn rename_environment(
        &self,
        org: OrganizationId,
        env: EnvironmentId,
        name: &str,
    ) -> Result<Environment> {
        self.patch(
            &format!("/organizations/{org}/environments/{env}"),
            &serde_json::json!({ "name": name }),
        )
        .await
    }

    /// Also deletes its instances and removes it from group scopes.
    pub async fn delete_environment(&self, org: OrganizationId, env: EnvironmentId) -> Result<()> {
        self.delete(&format!("/organizations/{org}/environments/{env}"))
            .await
    }

    pub async fn list_environment_instances(
        &self,
        org: OrganizationId,
        env: EnvironmentId,
        page: &ListParams,
    ) -> Result<Page<Instance>> {
        self.list(
            &format!("/organizations/{org}/environments/{env}/instances"),
            page,
        )
        .await
    }
}
