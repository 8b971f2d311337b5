//! A typed client of the Tron HTTP API (SPEC §4), used by the CLI and the
//! contract tests so that the API is exercised the way users exercise it.
//!
//! A thin wire crate: one method per route over the shared wire types of
//! `tron-api` (re-exported here, with the ids, values, roles and scopes of
//! `tron-core` they are made of), with no dependency on the server or the
//! store. Token plaintexts (login, token creation, rotation) come back as
//! [`Secret`], which redacts itself in `Debug`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tron_client::ClientError> {
//! let anon = tron_client::Client::new("http://127.0.0.1:8080");
//! let session = anon.login("admin@localhost", "password").await?;
//! let me = anon.with_token(&session.token).me().await?;
//! # let _ = me; Ok(()) }
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod applications;
mod environments;
mod error;
mod groups;
mod models;
mod operations;
mod organizations;
mod secret;
mod service_accounts;
mod trust_policies;
mod users;
mod webhooks;

pub use webhooks::WebhookCreated;

pub use chrono;
pub use error::ClientError;
pub use models::*;
pub use secret::Secret;
pub use tron_api::*;
pub use tron_core::authz::{Role, Scope};
pub use tron_core::ids::*;
pub use tron_core::principal::ActorType;
pub use tron_core::settings::OrganizationSettings;
pub use tron_core::values::{
    Description, DisplayName, Email, ImageRef, Name, ShortText, Timestamp,
};
pub use trust_policies::{ID_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT};
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
        let v = serde_json::to_value(CreateToken {
            name: DisplayName::parse("name", "ci").unwrap(),
            expires_at: None,
        })
        .unwrap();
        assert_eq!(v, serde_json::json!({"name": "ci"}));
        let v = serde_json::to_value(UpdateApplication {
            name: None,
            repository: Some(None),
        })
        .unwrap();
        assert_eq!(v, serde_json::json!({"repository": null}));
        let v = serde_json::to_value(Scope::Environment {
            environment_ids: vec![EnvironmentId(Uuid::nil())],
        })
        .unwrap();
        assert_eq!(v["type"], "environment");
    }
}
