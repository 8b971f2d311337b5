//! A typed client of the Tron HTTP API (SPEC §4), used by the CLI and the
//! contract tests so that the API is exercised the way users exercise it.
//!
//! A thin wire crate: plain serde structs and one method per route, with no
//! dependency on the server's crates. Token plaintexts (login, token
//! creation, rotation) come back as [`Secret`], which redacts itself in
//! `Debug`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tron_client::ClientError> {
//! let anon = tron_client::Client::new("http://127.0.0.1:8080");
//! let session = anon.login("admin@localhost", "password").await?;
//! let me = anon.with_token(&session.token).me().await?;
//! # let _ = me; Ok(()) }
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod error;
mod models;
mod secret;

pub use chrono;
pub use error::ClientError;
pub use models::*;
pub use secret::Secret;
pub use uuid::Uuid;

use reqwest::header::RETRY_AFTER;
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// The API's base path.
pub const API_PREFIX: &str = "/api/v1";

/// A client of one Tron server, optionally presenting one token. Cheap to
/// clone; clones share the connection pool.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<Secret>,
}

impl Client {
    /// `base_url` is the server's root, e.g. `http://127.0.0.1:8080`.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self::with_http_client(base_url, reqwest::Client::new())
    }

    /// Uses an existing `reqwest` client (its pool, timeouts, proxy).
    pub fn with_http_client(base_url: impl Into<String>, http: reqwest::Client) -> Self {
        let base = base_url.into().trim_end_matches('/').to_owned();
        Client {
            http,
            base,
            token: None,
        }
    }

    /// The same client presenting `token` as `Authorization: Bearer`.
    pub fn with_token(&self, token: impl Into<Secret>) -> Self {
        Client {
            token: Some(token.into()),
            ..self.clone()
        }
    }

    /// The same client presenting no token.
    pub fn anonymous(&self) -> Self {
        Client {
            token: None,
            ..self.clone()
        }
    }

    pub fn token(&self) -> Option<&Secret> {
        self.token.as_ref()
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    // ---- plumbing ---------------------------------------------------------

    fn request(&self, method: Method, url: String) -> RequestBuilder {
        let req = self.http.request(method, url);
        match &self.token {
            Some(t) => req.bearer_auth(t.expose()),
            None => req,
        }
    }

    fn api(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, format!("{}{API_PREFIX}{path}", self.base))
    }

    async fn send(req: RequestBuilder) -> Result<(u16, String)> {
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        if resp.status().is_success() {
            return Ok((status, resp.text().await?));
        }
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let text = resp.text().await?;
        Err(error::api_error(status, retry_after, &text))
    }

    fn decode<T: DeserializeOwned>(status: u16, text: &str) -> Result<T> {
        serde_json::from_str(text).map_err(|e| ClientError::Decode {
            status,
            message: e.to_string(),
        })
    }

    async fn json<T: DeserializeOwned>(req: RequestBuilder) -> Result<T> {
        let (status, text) = Self::send(req).await?;
        Self::decode(status, &text)
    }

    async fn empty(req: RequestBuilder) -> Result<()> {
        Self::send(req).await.map(|_| ())
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        Self::json(self.api(Method::GET, path)).await
    }

    async fn list<T: DeserializeOwned>(&self, path: &str, page: &ListParams) -> Result<Page<T>> {
        Self::json(self.api(Method::GET, path).query(page)).await
    }

    async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        Self::json(self.api(Method::POST, path).json(body)).await
    }

    async fn patch<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        Self::json(self.api(Method::PATCH, path).json(body)).await
    }

    async fn delete(&self, path: &str) -> Result<()> {
        Self::empty(self.api(Method::DELETE, path)).await
    }

    // ---- auth and users ---------------------------------------------------

    /// `POST /auth/login`; the session token is in `Session::token`.
    pub async fn login(&self, email: &str, password: impl Into<Secret>) -> Result<Session> {
        let body = Login {
            email: email.to_owned(),
            password: password.into(),
        };
        self.post("/auth/login", &body).await
    }

    /// `POST /auth/logout`: this client's session token stops working.
    pub async fn logout(&self) -> Result<()> {
        Self::empty(self.api(Method::POST, "/auth/logout")).await
    }

    pub async fn me(&self) -> Result<Me> {
        self.get("/me").await
    }

    pub async fn list_personal_tokens(&self, page: &ListParams) -> Result<Page<PersonalToken>> {
        self.list("/me/tokens", page).await
    }

    pub async fn create_personal_token(
        &self,
        body: &NewToken,
    ) -> Result<WithSecret<PersonalToken>> {
        self.post("/me/tokens", body).await
    }

    pub async fn revoke_personal_token(&self, id: Uuid) -> Result<()> {
        self.delete(&format!("/me/tokens/{id}")).await
    }

    pub async fn list_users(&self, page: &ListParams) -> Result<Page<User>> {
        self.list("/users", page).await
    }

    pub async fn create_user(&self, body: &NewUser) -> Result<User> {
        self.post("/users", body).await
    }

    pub async fn get_user(&self, id: Uuid) -> Result<User> {
        self.get(&format!("/users/{id}")).await
    }

    pub async fn update_user(&self, id: Uuid, body: &UserPatch) -> Result<User> {
        self.patch(&format!("/users/{id}"), body).await
    }

    /// `POST /tokens/revoke-leaked`; answers how many were revoked.
    pub async fn revoke_leaked<S: AsRef<str>>(&self, tokens: &[S]) -> Result<u64> {
        #[derive(serde::Deserialize)]
        struct Revoked {
            revoked: u64,
        }
        let tokens: Vec<&str> = tokens.iter().map(AsRef::as_ref).collect();
        let r: Revoked = self
            .post(
                "/tokens/revoke-leaked",
                &serde_json::json!({ "tokens": tokens }),
            )
            .await?;
        Ok(r.revoked)
    }

    // ---- organizations and members ----------------------------------------

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

    pub async fn get_organization(&self, org: Uuid) -> Result<Organization> {
        self.get(&format!("/organizations/{org}")).await
    }

    pub async fn update_organization(
        &self,
        org: Uuid,
        body: &OrganizationPatch,
    ) -> Result<Organization> {
        self.patch(&format!("/organizations/{org}"), body).await
    }

    pub async fn delete_organization(&self, org: Uuid) -> Result<()> {
        self.delete(&format!("/organizations/{org}")).await
    }

    pub async fn list_members(
        &self,
        org: Uuid,
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
    pub async fn add_member(&self, org: Uuid, email: &str) -> Result<Member> {
        self.post(
            &format!("/organizations/{org}/members"),
            &serde_json::json!({ "email": email }),
        )
        .await
    }

    pub async fn remove_member(&self, org: Uuid, member: Uuid) -> Result<()> {
        self.delete(&format!("/organizations/{org}/members/{member}"))
            .await
    }

    // ---- groups -------------------------------------------------------------

    pub async fn list_groups(&self, org: Uuid, page: &ListParams) -> Result<Page<Group>> {
        self.list(&format!("/organizations/{org}/groups"), page)
            .await
    }

    pub async fn create_group(&self, org: Uuid, body: &NewGroup) -> Result<Group> {
        self.post(&format!("/organizations/{org}/groups"), body)
            .await
    }

    pub async fn get_group(&self, org: Uuid, group: Uuid) -> Result<Group> {
        self.get(&format!("/organizations/{org}/groups/{group}"))
            .await
    }

    pub async fn update_group(&self, org: Uuid, group: Uuid, body: &GroupPatch) -> Result<Group> {
        self.patch(&format!("/organizations/{org}/groups/{group}"), body)
            .await
    }

    pub async fn delete_group(&self, org: Uuid, group: Uuid) -> Result<()> {
        self.delete(&format!("/organizations/{org}/groups/{group}"))
            .await
    }

    pub async fn list_group_members(
        &self,
        org: Uuid,
        group: Uuid,
        page: &ListParams,
    ) -> Result<Page<Member>> {
        self.list(
            &format!("/organizations/{org}/groups/{group}/members"),
            page,
        )
        .await
    }

    /// Idempotent.
    pub async fn add_group_member(&self, org: Uuid, group: Uuid, member: Uuid) -> Result<()> {
        Self::empty(self.api(
            Method::PUT,
            &format!("/organizations/{org}/groups/{group}/members/{member}"),
        ))
        .await
    }

    /// Idempotent.
    pub async fn remove_group_member(&self, org: Uuid, group: Uuid, member: Uuid) -> Result<()> {
        self.delete(&format!(
            "/organizations/{org}/groups/{group}/members/{member}"
        ))
        .await
    }

    pub async fn access_check(&self, org: Uuid, query: &AccessCheck) -> Result<AccessDecision> {
        Self::json(
            self.api(Method::GET, &format!("/organizations/{org}/access-check"))
                .query(query),
        )
        .await
    }

    // ---- environments -------------------------------------------------------

    pub async fn list_environments(
        &self,
        org: Uuid,
        page: &ListParams,
    ) -> Result<Page<Environment>> {
        self.list(&format!("/organizations/{org}/environments"), page)
            .await
    }

    pub async fn create_environment(&self, org: Uuid, name: &str) -> Result<Environment> {
        self.post(
            &format!("/organizations/{org}/environments"),
            &serde_json::json!({ "name": name }),
        )
        .await
    }

    pub async fn get_environment(&self, org: Uuid, env: Uuid) -> Result<Environment> {
        self.get(&format!("/organizations/{org}/environments/{env}"))
            .await
    }

    pub async fn rename_environment(
        &self,
        org: Uuid,
        env: Uuid,
        name: &str,
    ) -> Result<Environment> {
        self.patch(
            &format!("/organizations/{org}/environments/{env}"),
            &serde_json::json!({ "name": name }),
        )
        .await
    }

    /// Also deletes its instances and removes it from group scopes.
    pub async fn delete_environment(&self, org: Uuid, env: Uuid) -> Result<()> {
        self.delete(&format!("/organizations/{org}/environments/{env}"))
            .await
    }

    pub async fn list_environment_instances(
        &self,
        org: Uuid,
        env: Uuid,
        page: &ListParams,
    ) -> Result<Page<Instance>> {
        self.list(
            &format!("/organizations/{org}/environments/{env}/instances"),
            page,
        )
        .await
    }

    // ---- applications, instances, deployments -------------------------------

    pub async fn list_applications(
        &self,
        org: Uuid,
        page: &ListParams,
    ) -> Result<Page<Application>> {
        self.list(&format!("/organizations/{org}/applications"), page)
            .await
    }

    pub async fn create_application(
        &self,
        org: Uuid,
        body: &NewApplication,
    ) -> Result<Application> {
        self.post(&format!("/organizations/{org}/applications"), body)
            .await
    }

    pub async fn get_application(&self, org: Uuid, app: Uuid) -> Result<Application> {
        self.get(&format!("/organizations/{org}/applications/{app}"))
            .await
    }

    pub async fn update_application(
        &self,
        org: Uuid,
        app: Uuid,
        body: &ApplicationPatch,
    ) -> Result<Application> {
        self.patch(&format!("/organizations/{org}/applications/{app}"), body)
            .await
    }

    /// Also deletes its instances and removes it from group scopes.
    pub async fn delete_application(&self, org: Uuid, app: Uuid) -> Result<()> {
        self.delete(&format!("/organizations/{org}/applications/{app}"))
            .await
    }

    pub async fn list_application_instances(
        &self,
        org: Uuid,
        app: Uuid,
        page: &ListParams,
    ) -> Result<Page<Instance>> {
        self.list(
            &format!("/organizations/{org}/applications/{app}/instances"),
            page,
        )
        .await
    }

    fn instance_path(org: Uuid, app: Uuid, env: Uuid) -> String {
        format!("/organizations/{org}/applications/{app}/instances/{env}")
    }

    /// Creates (`created: true`, `201`) or updates (`200`) the instance.
    pub async fn put_instance(
        &self,
        org: Uuid,
        app: Uuid,
        env: Uuid,
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

    pub async fn get_instance(&self, org: Uuid, app: Uuid, env: Uuid) -> Result<Instance> {
        self.get(&Self::instance_path(org, app, env)).await
    }

    pub async fn delete_instance(&self, org: Uuid, app: Uuid, env: Uuid) -> Result<()> {
        self.delete(&Self::instance_path(org, app, env)).await
    }

    pub async fn list_deployments(
        &self,
        org: Uuid,
        app: Uuid,
        env: Uuid,
        page: &ListParams,
    ) -> Result<Page<Deployment>> {
        let path = format!("{}/deployments", Self::instance_path(org, app, env));
        self.list(&path, page).await
    }

    /// The instance then runs `body.image`.
    pub async fn create_deployment(
        &self,
        org: Uuid,
        app: Uuid,
        env: Uuid,
        body: &NewDeployment,
    ) -> Result<Deployment> {
        let path = format!("{}/deployments", Self::instance_path(org, app, env));
        self.post(&path, body).await
    }

    // ---- service accounts and service tokens ---------------------------------

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

    // ---- audit and operations -------------------------------------------------

    /// The organization's audit log (admins), newest first.
    pub async fn list_audit_events(
        &self,
        org: Uuid,
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
    pub async fn healthz(&self) -> Result<Health> {
        Self::json(self.request(Method::GET, format!("{}/healthz", self.base))).await
    }

    /// `GET /readyz`: storage is reachable (`503 unavailable` otherwise).
    pub async fn readyz(&self) -> Result<Health> {
        Self::json(self.request(Method::GET, format!("{}/readyz", self.base))).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_client_and_a_session_hides_tokens() {
        let c = Client::new("http://h/").with_token("trn_ses_plaintext");
        assert_eq!(c.base_url(), "http://h");
        assert!(!format!("{c:?}").contains("plaintext"));
        let s: Session = serde_json::from_value(serde_json::json!({
            "token": "trn_ses_plaintext",
            "expires_at": "2030-01-01T00:00:00Z",
            "user": {"id": Uuid::nil(), "email": "a@b.c", "name": "a", "is_superuser": false,
                     "is_active": true, "created_at": "2030-01-01T00:00:00Z"},
        }))
        .unwrap();
        assert!(!format!("{s:?}").contains("plaintext"));
        assert_eq!(s.token.expose(), "trn_ses_plaintext");
    }

    #[test]
    fn requests_leave_out_what_is_none() {
        let v = serde_json::to_value(SettingsPatch {
            max_token_lifetime_days: Some(None),
            service_token_rate_limit_per_minute: None,
        })
        .unwrap();
        assert_eq!(v, serde_json::json!({"max_token_lifetime_days": null}));
        let v = serde_json::to_value(Scope::Environment {
            environment_ids: vec![Uuid::nil()],
        })
        .unwrap();
        assert_eq!(v["type"], "environment");
    }
}
