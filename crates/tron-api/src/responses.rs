//! Response objects, named as the OpenAPI document names them.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tron_core::authz::{Role, Scope};
use tron_core::ids::*;
use tron_core::principal::ActorType;
use tron_core::settings::OrganizationSettings;
use utoipa::ToSchema;
use uuid::Uuid;

/// Every error: `{"error": {"code", "message", "field"?}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable snake_case code, e.g. `validation_error`, `not_found`.
    pub code: String,
    /// A human sentence.
    pub message: String,
    /// The offending field, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

// `GET /healthz`, `GET /readyz`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Status {
    /// `ok` (`/healthz`), `ready` or `degraded` (`/readyz`: ready, but
    /// Redis is configured and unreachable, so limits are counted per
    /// instance).
    pub status: String,
    /// `/readyz` with Redis configured: `up` or `down`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<String>,
    /// Why the server is degraded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A page of a list: `next_cursor` is `null` on the last page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

/// A freshly created object with its token, shown once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WithToken<T> {
    #[serde(flatten)]
    pub inner: T,
    /// The secret, shown only in this response.
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreatedBy {
    #[serde(rename = "type")]
    pub kind: ActorType,
    pub id: Option<Uuid>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub is_superuser: bool,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// A session token (`trn_ses_…`), shown only here.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MePrincipalType {
    User,
    ServiceAccount,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MePrincipal {
    #[serde(rename = "type")]
    pub kind: MePrincipalType,
    pub id: Uuid,
    pub name: String,
    /// Users only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Users only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_superuser: Option<bool>,
    /// Service accounts only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<Uuid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MeTokenKind {
    Session,
    Personal,
    Service,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MeToken {
    pub id: TokenId,
    pub kind: MeTokenKind,
    pub expires_at: Option<DateTime<Utc>>,
}

// `GET /me`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MeResponse {
    pub principal: MePrincipal,
    pub token: MeToken,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    Active,
    Expired,
    Revoked,
}

// A service token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    pub id: TokenId,
    pub name: String,
    pub hint: String,
    pub status: TokenStatus,
    pub created_at: DateTime<Utc>,
    pub created_by: CreatedBy,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// `manual` (made through the API or the portal) or `oidc` (minted by
    /// a keyless CI exchange; it cannot be rotated).
    pub source: TokenSource,
    /// The trust policy whose exchange minted it (`source: "oidc"`).
    pub trust_policy_id: Option<TrustPolicyId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenSource {
    Manual,
    Oidc,
}

// A trust policy of a service account (SPEC §7).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TrustPolicy {
    pub id: TrustPolicyId,
    pub service_account_id: ServiceAccountId,
    pub name: String,
    /// One of the operator's trusted issuers (`TRON_OIDC_ISSUERS`).
    pub issuer: String,
    /// What the ID token's `aud` must be.
    pub audience: String,
    /// Claim name → pattern; `*` matches any run of characters. All must
    /// hold.
    #[schema(value_type = Object)]
    pub conditions: std::collections::BTreeMap<String, String>,
    pub token_ttl_seconds: i64,
    pub created_at: DateTime<Utc>,
    pub created_by: CreatedBy,
    pub last_used_at: Option<DateTime<Utc>>,
}

// A personal token: a [`TokenView`] without `created_by`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PersonalToken {
    pub id: TokenId,
    pub name: String,
    pub hint: String,
    pub status: TokenStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<TokenView> for PersonalToken {
    fn from(v: TokenView) -> Self {
        PersonalToken {
            id: v.id,
            name: v.name,
            hint: v.hint,
            status: v.status,
            created_at: v.created_at,
            expires_at: v.expires_at,
            revoked_at: v.revoked_at,
            last_used_at: v.last_used_at,
        }
    }
}

// `POST /tokens/revoke-leaked`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Revoked {
    /// How many active tokens were revoked.
    pub revoked: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Organization {
    pub id: OrganizationId,
    pub name: String,
    pub settings: OrganizationSettings,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GroupRef {
    pub id: GroupId,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MemberUser {
    pub id: UserId,
    pub email: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MemberServiceAccount {
    pub id: ServiceAccountId,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalType {
    User,
    ServiceAccount,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Member {
    pub id: MemberId,
    pub principal_type: PrincipalType,
    pub user: Option<MemberUser>,
    pub service_account: Option<MemberServiceAccount>,
    pub groups: Vec<GroupRef>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub description: String,
    pub role: Role,
    pub scope: Scope,
    pub member_count: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GrantedBy {
    pub group_id: GroupId,
    pub group_name: String,
    pub role: Role,
    pub scope: Scope,
}

// `GET /organizations/{org}/access-check`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AccessDecision {
    pub allowed: bool,
    /// Allowed as a platform superuser.
    pub superuser: bool,
    pub granted_by: Vec<GrantedBy>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceAccountStatus {
    Active,
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ServiceAccount {
    pub id: ServiceAccountId,
    pub organization_id: OrganizationId,
    pub member_id: MemberId,
    pub name: String,
    pub description: String,
    pub status: ServiceAccountStatus,
    pub groups: Vec<GroupRef>,
    pub created_at: DateTime<Utc>,
    pub created_by: CreatedBy,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Environment {
    pub id: EnvironmentId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Application {
    pub id: ApplicationId,
    pub name: String,
    pub repository: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Instance {
    pub application_id: ApplicationId,
    /// The application's name: whoever may view the instance may know it.
    pub application_name: String,
    pub environment_id: EnvironmentId,
    /// The environment's name, likewise.
    pub environment_name: String,
    pub image: String,
    pub replicas: i64,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Deployment {
    pub id: DeploymentId,
    pub image: String,
    pub version: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: CreatedBy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditActor {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub token_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditTarget {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEvent {
    pub id: AuditEventId,
    pub occurred_at: DateTime<Utc>,
    pub actor: AuditActor,
    pub action: String,
    pub target: AuditTarget,
    pub details: serde_json::Value,
    pub request_id: Option<String>,
    pub ip: Option<String>,
}

// `POST /oidc/token`'s success (RFC 8693 §2.2.1).
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenExchangeResponse {
    /// A service token (`trn_sat_…`), shown once.
    pub access_token: String,
    /// `urn:ietf:params:oauth:token-type:access_token`.
    pub issued_token_type: String,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
}

impl std::fmt::Debug for TokenExchangeResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenExchangeResponse")
            .field("access_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

// `POST /oidc/token`'s errors: RFC 6749 §5.2's shape, not [`ErrorBody`].
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OAuthErrorBody {
    /// `invalid_request`, `unsupported_grant_type`, `slow_down` (429) or
    /// `temporarily_unavailable` (503).
    pub error: String,
    /// What failed; for a policy mismatch only "no trust policy of this
    /// service account accepts this token".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

// A webhook of an organization (SPEC §8).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Webhook {
    pub id: WebhookId,
    /// `https://…` (or any URL with `TRON_WEBHOOK_ALLOW_PRIVATE=true`).
    pub url: String,
    /// `["*"]`, or event types.
    pub events: Vec<String>,
    pub description: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub created_by: CreatedBy,
}

/// A webhook with its signing secret, shown only in this response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub inner: Webhook,
    /// `whsec_` + base64 of 32 random bytes: verify deliveries with it.
    pub secret: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

// One event's delivery to one webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    pub id: DeliveryId,
    /// The `webhook-id` header: the same on every attempt and redelivery.
    pub event_id: Uuid,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

// `POST …/webhooks/{webhook_id}/ping`: `202`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PingQueued {
    /// The ping event's id (its `webhook-id`).
    pub event_id: Uuid,
}
