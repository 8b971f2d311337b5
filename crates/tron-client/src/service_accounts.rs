//! Service accounts and service tokens.
use crate::*;

impl Client {
    pub async fn list_service_accounts(
        &self,
        org: Uuid,
        page: &ListParams,
    ) -> Result<Page<ServiceAccount>> {
        self.list(&format!("/organizations/{org}/service-accounts"), page)
            .await
    }

    pub async fn create_service_account(
        &self,
        org: Uuid,
        body: &NewServiceAccount,
    ) -> Result<ServiceAccount> {
        self.post(&format!("/organizations/{org}/service-accounts"), body)
            .await
    }

    pub async fn get_service_account(&self, org: Uuid, sa: Uuid) -> Result<ServiceAccount> {
        self.get(&format!("/organizations/{org}/service-accounts/{sa}"))
            .await
    }

    pub async fn update_service_account(
        &self,
        org: Uuid,
        sa: Uuid,
        body: &ServiceAccountPatch,
    ) -> Result<ServiceAccount> {
        self.patch(&format!("/organizations/{org}/service-accounts/{sa}"), body)
            .await
    }

    /// Revokes all its tokens and removes its member.
    pub async fn delete_service_account(&self, org: Uuid, sa: Uuid) -> Result<()> {
        self.delete(&format!("/organizations/{org}/service-accounts/{sa}"))
            .await
    }

    pub async fn list_service_tokens(
        &self,
        org: Uuid,
        sa: Uuid,
        page: &ListParams,
    ) -> Result<Page<ServiceToken>> {
        self.list(
            &format!("/organizations/{org}/service-accounts/{sa}/tokens"),
            page,
        )
        .await
    }

    /// The plaintext is in `token`, this once.
    pub async fn create_service_token(
        &self,
        org: Uuid,
        sa: Uuid,
        body: &NewToken,
    ) -> Result<WithSecret<ServiceToken>> {
        self.post(
            &format!("/organizations/{org}/service-accounts/{sa}/tokens"),
            body,
        )
        .await
    }

    /// Idempotent.
    pub async fn revoke_service_token(&self, org: Uuid, sa: Uuid, token: Uuid) -> Result<()> {
        self.delete(&format!(
            "/organizations/{org}/service-accounts/{sa}/tokens/{token}"
        ))
        .await
    }

    /// A new token with the old one's name; the old one stays active through
    /// the grace period.
    pub async fn rotate_service_token(
        &self,
        org: Uuid,
        sa: Uuid,
        token: Uuid,
        body: &Rotate,
    ) -> Result<WithSecret<ServiceToken>> {
        self.post(
            &format!("/organizations/{org}/service-accounts/{sa}/tokens/{token}/rotate"),
            body,
        )
        .await
    }

    /// `POST /me/token/rotate`: this client's service token rotates itself.
    pub async fn rotate_self(&self, body: &SelfRotate) -> Result<WithSecret<ServiceToken>> {
        self.post("/me/token/rotate", body).await
    }
}
