//! Service accounts and service tokens.
use crate::*;

impl Client {
    pub async fn list_service_accounts(
        &self,
        org: OrganizationId,
        page: &ListParams,
    ) -> Result<Page<ServiceAccount>> {
        self.list(&format!("/organizations/{org}/service-accounts"), page)
            .await
    }

    pub async fn create_service_account(
        &self,
        org: OrganizationId,
        body: &CreateServiceAccount,
    ) -> Result<ServiceAccount> {
        self.post(&format!("/organizations/{org}/service-accounts"), body)
            .await
    }

    pub async fn get_service_account(
        &self,
        org: OrganizationId,
        sa: ServiceAccountId,
    ) -> Result<ServiceAccount> {
        self.get(&format!("/organizations/{org}/service-accounts/{sa}"))
            .await
    }

    pub async fn update_service_account(
        &self,
        org: OrganizationId,
        sa: ServiceAccountId,
        body: &UpdateServiceAccount,
    ) -> Result<ServiceAccount> {
        self.patch(&format!("/organizations/{org}/service-accounts/{sa}"), body)
            .await
    }

    /// Revokes all its tokens and removes its member.
    pub async fn delete_service_account(
        &self,
        org: OrganizationId,
        sa: ServiceAccountId,
    ) -> Result<()> {
        self.delete(&format!("/organizations/{org}/service-accounts/{sa}"))
            .await
    }

    pub async fn list_service_tokens(
        &self,
        org: OrganizationId,
        sa: ServiceAccountId,
        page: &ListParams,
    ) -> Result<Page<TokenView>> {
        self.list(
            &format!("/organizations/{org}/service-accounts/{sa}/tokens"),
            page,
        )
        .await
    }

    /// The plaintext is in `token`, this once.
    pub async fn create_service_token(
        &self,
        org: OrganizationId,
        sa: ServiceAccountId,
        body: &CreateToken,
    ) -> Result<WithSecret<TokenView>> {
        self.post(
            &format!("/organizations/{org}/service-accounts/{sa}/tokens"),
            body,
        )
        .await
    }

    /// Idempotent.
    pub async fn revoke_service_token(
        &self,
        org: OrganizationId,
        sa: ServiceAccountId,
        token: TokenId,
    ) -> Result<()> {
        self.delete(&format!(
            "/organizations/{org}/service-accounts/{sa}/tokens/{token}"
        ))
        .await
    }

    /// A new token with the old one's name; the old one stays active through
    /// the grace period.
    pub async fn rotate_service_token(
        &self,
        org: OrganizationId,
        sa: ServiceAccountId,
        token: TokenId,
        body: &RotateToken,
    ) -> Result<WithSecret<TokenView>> {
        self.post(
            &format!("/organizations/{org}/service-accounts/{sa}/tokens/{token}/rotate"),
            body,
        )
        .await
    }

    /// `POST /me/token/rotate`: this client's service token rotates itself.
    pub async fn rotate_self(&self, body: &RotateOwnToken) -> Result<WithSecret<TokenView>> {
        self.post("/me/token/rotate", body).await
    }
}
