//! Applications, instances and deployments.
use crate::*;

impl Client {
    pub async fn list_applications(
        &self,
        org: OrganizationId,
        page: &ListParams,
    ) -> Result<Page<Application>> {
        self.list(&format!("/organizations/{org}/applications"), page)
            .await
    }

    pub async fn create_application(
        &self,
        org: OrganizationId,
        body: &CreateApplication,
    ) -> Result<Application> {
        self.post(&format!("/organizations/{org}/applications"), body)
            .await
    }

    pub async fn get_application(
        &self,
        org: OrganizationId,
        app: ApplicationId,
    ) -> Result<Application> {
        self.get(&format!("/organizations/{org}/applications/{app}"))
            .await
    }

    pub async fn update_application(
        &self,
        org: OrganizationId,
        app: ApplicationId,
        body: &UpdateApplication,
    ) -> Result<Application> {
        self.patch(&format!("/organizations/{org}/applications/{app}"), body)
            .await
    }

    /// Also deletes its instances and removes it from group scopes.
    pub async fn delete_application(&self, org: OrganizationId, app: ApplicationId) -> Result<()> {
        self.delete(&format!("/organizations/{org}/applications/{app}"))
            .await
    }

    pub async fn list_application_instances(
        &self,
        org: OrganizationId,
        app: ApplicationId,
        page: &ListParams,
    ) -> Result<Page<Instance>> {
        self.list(
            &format!("/organizations/{org}/applications/{app}/instances"),
            page,
        )
        .await
    }

    fn instance_path(org: OrganizationId, app: ApplicationId, env: EnvironmentId) -> String {
        format!("/organizations/{org}/applications/{app}/instances/{env}")
    }

    /// Creates (`created: true`, `201`) or updates (`200`) the instance.
    pub async fn put_instance(
        &self,
        org: OrganizationId,
        app: ApplicationId,
        env: EnvironmentId,
        body: &PutInstance,
    ) -> Result<InstancePut> {
        let req = self
            .api(Method::PUT, &Self::instance_path(org, app, env))
            .json(body);
        let (status, text) = Self::send(req).await?;
        Ok(InstancePut {
            instance: Self::decode(status, &text)?,
            created: status == 201,
        })
    }

    pub async fn get_instance(
        &self,
        org: OrganizationId,
        app: ApplicationId,
        env: EnvironmentId,
    ) -> Result<Instance> {
        self.get(&Self::instance_path(org, app, env)).await
    }

    pub async fn delete_instance(
        &self,
        org: OrganizationId,
        app: ApplicationId,
        env: EnvironmentId,
    ) -> Result<()> {
        self.delete(&Self::instance_path(org, app, env)).await
    }

    pub async fn list_deployments(
        &self,
        org: OrganizationId,
        app: ApplicationId,
        env: EnvironmentId,
        page: &ListParams,
    ) -> Result<Page<Deployment>> {
        let path = format!("{}/deployments", Self::instance_path(org, app, env));
        self.list(&path, page).await
    }

    /// The instance then runs `body.image`.
    pub async fn create_deployment(
        &self,
        org: OrganizationId,
        app: ApplicationId,
        env: EnvironmentId,
        body: &CreateDeployment,
    ) -> Result<Deployment> {
        let path = format!("{}/deployments", Self::instance_path(org, app, env));
        self.post(&path, body).await
    }
}
