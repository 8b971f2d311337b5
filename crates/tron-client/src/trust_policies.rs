//! Trust policies of a service account and the keyless CI exchange
//! (SPEC §7).
use reqwest::header::RETRY_AFTER;
use reqwest::Method;

use crate::*;

/// `grant_type` of an RFC 8693 token exchange.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// `subject_token_type` of an OIDC ID token.
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";

impl Client {
    pub async fn list_trust_policies(
        &self,
        org: OrganizationId,
        sa: ServiceAccountId,
        page: &ListParams,
    ) -> Result<Page<TrustPolicy>> {
        self.list(
            &format!("/organizations/{org}/service-accounts/{sa}/trust-policies"),
            page,
        )
        .await
    }

    pub async fn get_trust_policy(
        &self,
        org: OrganizationId,
        sa: ServiceAccountId,
        policy: TrustPolicyId,
    ) -> Result<TrustPolicy> {
        self.get(&format!(
            "/organizations/{org}/service-accounts/{sa}/trust-policies/{policy}"
        ))
        .await
    }

    pub async fn create_trust_policy(
        &self,
        org: OrganizationId,
        sa: ServiceAccountId,
        body: &CreateTrustPolicy,
    ) -> Result<TrustPolicy> {
        self.post(
            &format!("/organizations/{org}/service-accounts/{sa}/trust-policies"),
            body,
        )
        .await
    }

    /// What is given replaces the stored value (`conditions` as a whole).
    pub async fn update_trust_policy(
        &self,
        org: OrganizationId,
        sa: ServiceAccountId,
        policy: TrustPolicyId,
        body: &UpdateTrustPolicy,
    ) -> Result<TrustPolicy> {
        self.patch(
            &format!("/organizations/{org}/service-accounts/{sa}/trust-policies/{policy}"),
            body,
        )
        .await
    }

    /// Tokens the policy minted live out their lifetime.
    pub async fn delete_trust_policy(
        &self,
        org: OrganizationId,
        sa: ServiceAccountId,
        policy: TrustPolicyId,
    ) -> Result<()> {
        self.delete(&format!(
            "/organizations/{org}/service-accounts/{sa}/trust-policies/{policy}"
        ))
        .await
    }

    /// `POST /oidc/token`, form-encoded: exchanges a CI job's OIDC ID token
    /// for a short-lived service token of `service_account`. No token is
    /// presented (the exchange is anonymous). A refusal is
    /// [`ClientError::Api`] with RFC 6749's `error` as the code and its
    /// `error_description` as the message.
    pub async fn exchange_id_token(
        &self,
        service_account: ServiceAccountId,
        id_token: &Secret,
    ) -> Result<TokenExchangeResponse> {
        let service_account = service_account.to_string();
        let form = [
            ("grant_type", TOKEN_EXCHANGE_GRANT),
            ("subject_token", id_token.expose()),
            ("subject_token_type", ID_TOKEN_TYPE),
            ("service_account", service_account.as_str()),
        ];
        let req = self
            .anonymous()
            .api(Method::POST, "/oidc/token")
            .form(&form);
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        if resp.status().is_success() {
            let text = resp.text().await?;
            return Self::decode(status, &text);
        }
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let text = resp.text().await?;
        Err(error::oauth_error(status, retry_after, &text))
    }
}
