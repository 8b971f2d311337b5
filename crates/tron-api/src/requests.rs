//! Request bodies. Each keeps the OpenAPI component name it always had
//! (`#[schema(as = …)]`).
use serde::{Deserialize, Serialize};
use tron_core::authz::{Role, Scope};
use tron_core::settings::SettingsPatch;
use tron_core::values::{Description, DisplayName, Email, ImageRef, Name, ShortText, Timestamp};
use utoipa::ToSchema;

use crate::responses::ServiceAccountStatus;

// `POST /auth/login`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LoginBody)]
pub struct Login {
    pub email: String,
    pub password: String,
}

// `POST /me/tokens` and `POST /organizations/{org}/service-accounts/{sa_id}/tokens`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateTokenBody)]
pub struct CreateToken {
    pub name: DisplayName,
    /// In the future, before the year 10000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

/// Used by the rotate endpoints.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RotateBody)]
pub struct RotateToken {
    /// How long the old token stays active (default 0).
    #[serde(
        default,
        deserialize_with = "tron_core::validate::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(minimum = 0, maximum = 86400)]
    pub grace_period_seconds: Option<i64>,
    /// In the future, before the year 10000; by default the old token's
    /// lifetime from now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

// `POST /me/token/rotate`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SelfRotateBody)]
pub struct RotateOwnToken {
    /// How long the old token stays active (default 0).
    #[serde(
        default,
        deserialize_with = "tron_core::validate::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(minimum = 0, maximum = 86400)]
    pub grace_period_seconds: Option<i64>,
}

// `POST /tokens/revoke-leaked`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeLeaked {
    /// Strings that may be tokens of any kind; others are skipped.
    #[schema(max_items = 1000)]
    pub tokens: Vec<String>,
}

// `POST /users`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub email: Email,
    pub name: DisplayName,
    #[schema(min_length = 12, max_length = 1024)]
    pub password: String,
    #[serde(default)]
    pub is_superuser: bool,
}

// `PATCH /users/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<DisplayName>,
    #[schema(min_length = 12, max_length = 1024)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Needed with `password` when changing one's own password; ignored
    /// otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_superuser: Option<bool>,
}

// `POST /organizations`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganization {
    pub name: DisplayName,
}

// `PATCH /organizations/{org}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganization {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<DisplayName>,
    /// Merged into the current settings.
    #[schema(value_type = Option<SettingsPatch>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<serde_json::Map<String, serde_json::Value>>,
}

// `POST /organizations/{org}/members`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AddMemberBody)]
pub struct AddMember {
    /// An existing user's email.
    pub email: Email,
}

// `POST /organizations/{org}/groups`. `role` and `scope` are kept as
// JSON and checked by the server, whose messages name them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    pub name: DisplayName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Description>,
    #[schema(value_type = Role)]
    pub role: String,
    #[schema(value_type = Scope)]
    pub scope: serde_json::Value,
}

// `PATCH /organizations/{org}/groups/{group_id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGroup {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<DisplayName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Description>,
    #[schema(value_type = Option<Role>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[schema(value_type = Option<Scope>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<serde_json::Value>,
}

// `POST /organizations/{org}/environments`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NameBody)]
pub struct CreateEnvironment {
    pub name: Name,
}

// `PATCH /organizations/{org}/environments/{env_id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NamePatch)]
pub struct UpdateEnvironment {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
}

// `POST /organizations/{org}/applications`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AppBody)]
pub struct CreateApplication {
    pub name: Name,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<ShortText>,
}

// `PATCH /organizations/{org}/applications/{app_id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AppPatch)]
pub struct UpdateApplication {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// `null` removes it.
    #[serde(
        default,
        deserialize_with = "tron_core::validate::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub repository: Option<Option<ShortText>>,
}

// `PUT /organizations/{org}/applications/{app_id}/instances/{env_id}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = InstanceBody)]
pub struct PutInstance {
    pub image: ImageRef,
    /// Default 1.
    #[serde(
        default,
        deserialize_with = "tron_core::validate::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(minimum = 0, maximum = 1000)]
    pub replicas: Option<i64>,
}

// `POST /organizations/{org}/applications/{app_id}/instances/{env_id}/deployments`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DeployBody)]
pub struct CreateDeployment {
    pub image: ImageRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<ShortText>,
}

// `POST /organizations/{org}/service-accounts`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceAccount {
    pub name: Name,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Description>,
}

// `PATCH /organizations/{org}/service-accounts/{sa_id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateServiceAccount {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Description>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<ServiceAccountStatus>,
}

// `POST /organizations/{org}/service-accounts/{sa_id}/trust-policies`.
// `issuer`, `audience` and `conditions` are checked against the server's
// trusted issuers and SPEC §7's rules by the operation (the trusted issuers
// are the server's configuration, which a type cannot know).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateTrustPolicyBody)]
pub struct CreateTrustPolicy {
    pub name: DisplayName,
    /// One of the trusted issuers, exactly as its tokens' `iss` writes it.
    #[schema(min_length = 1)]
    pub issuer: String,
    /// 1–255 characters: the ID token's `aud` must be exactly this.
    #[schema(min_length = 1, max_length = 255)]
    pub audience: String,
    /// 1–20 `claim: pattern` pairs (claim names `[a-z0-9_]{1,64}`,
    /// patterns 1–255 characters, `*` matching any run of characters).
    #[schema(value_type = Object)]
    pub conditions: serde_json::Value,
    /// 60–3600, default 900.
    #[serde(
        default,
        deserialize_with = "tron_core::validate::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(minimum = 60, maximum = 3600)]
    pub token_ttl_seconds: Option<i64>,
}

// `PATCH .../trust-policies/{policy_id}`: what is given replaces the stored
// value (`conditions` as a whole); the result is checked as a new policy.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UpdateTrustPolicyBody)]
pub struct UpdateTrustPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<DisplayName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub conditions: Option<serde_json::Value>,
    #[serde(
        default,
        deserialize_with = "tron_core::validate::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(minimum = 60, maximum = 3600)]
    pub token_ttl_seconds: Option<i64>,
}

// `POST /oidc/token` (RFC 8693), `application/x-www-form-urlencoded` (or
// the same fields as a JSON object).
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = TokenExchangeBody)]
pub struct TokenExchange {
    /// `urn:ietf:params:oauth:grant-type:token-exchange`.
    pub grant_type: String,
    /// The CI job's OIDC ID token.
    pub subject_token: String,
    /// `urn:ietf:params:oauth:token-type:id_token` (or `…:jwt`).
    pub subject_token_type: String,
    /// The id of the service account to act as.
    pub service_account: String,
    /// `urn:ietf:params:oauth:token-type:access_token` when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_token_type: Option<String>,
}

impl std::fmt::Debug for TokenExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenExchange")
            .field("subject_token", &"[redacted]")
            .field("service_account", &self.service_account)
            .finish()
    }
}

// `POST /organizations/{org}/webhooks`. `url` and `events` are checked by
// the operation (the network policy is the server's configuration).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateWebhookBody)]
pub struct CreateWebhook {
    #[schema(format = "uri", min_length = 1, max_length = 2048)]
    pub url: String,
    /// Event types, or `["*"]`.
    #[schema(min_items = 1)]
    pub events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Description>,
}

// `PATCH /organizations/{org}/webhooks/{webhook_id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UpdateWebhookBody)]
pub struct UpdateWebhook {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = "uri", min_length = 1, max_length = 2048)]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1)]
    pub events: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Description>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}
