//! The API's JSON shapes (SPEC §4), as plain serde structs. Responses
//! ignore unknown fields so that an older client keeps working against a
//! newer server; requests leave out the optional fields that are `None`.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::Secret;

pub type Timestamp = DateTime<Utc>;

/// `limit` (1–200, server default 50) and `cursor` of a list request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ListParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl ListParams {
    pub fn limit(limit: u32) -> Self {
        ListParams {
            limit: Some(limit),
            cursor: None,
        }
    }

    /// The request for the page after `page`, if there is one.
    pub fn next<T>(&self, page: &Page<T>) -> Option<Self> {
        page.next_cursor.as_ref().map(|c| ListParams {
            limit: self.limit,
            cursor: Some(c.clone()),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// An object created with a token, whose plaintext is shown this once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WithSecret<T> {
    #[serde(flatten)]
    pub item: T,
    pub token: Secret,
}

/// Who created something or did something (`created_by`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorRef {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<Uuid>,
    pub name: Option<String>,
}

// ---- auth and users -------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
pub struct Login {
    pub email: String,
    pub password: Secret,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub token: Secret,
    pub expires_at: Timestamp,
    pub user: User,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub is_superuser: bool,
    pub is_active: bool,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub password: Secret,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_superuser: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct UserPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// Needed with `password` when a user changes its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_password: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_superuser: Option<bool>,
}

/// `GET /me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub principal: Principal,
    pub token: MeToken,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Principal {
    User {
        id: Uuid,
        name: String,
        email: String,
        is_superuser: bool,
    },
    ServiceAccount {
        id: Uuid,
        name: String,
        organization_id: Uuid,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeToken {
    pub id: Uuid,
    pub kind: TokenKind,
    pub expires_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Session,
    Personal,
    Service,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    Active,
    Expired,
    Revoked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalToken {
    pub id: Uuid,
    pub name: String,
    pub hint: String,
    pub status: TokenStatus,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    #[serde(default)]
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

/// `POST` of a personal or service token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

impl NewToken {
    pub fn named(name: impl Into<String>) -> Self {
        NewToken {
            name: name.into(),
            expires_at: None,
        }
    }
}

// ---- organizations, members, groups ---------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub settings: OrganizationSettings,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationSettings {
    pub max_token_lifetime_days: Option<u32>,
    pub service_token_rate_limit_per_minute: u32,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct OrganizationPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<SettingsPatch>,
}

/// Merged into the current settings; only the fields present change.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SettingsPatch {
    /// `Some(None)` clears the limit (sends `null`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_token_lifetime_days: Option<Option<u32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_token_rate_limit_per_minute: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalType {
    User,
    ServiceAccount,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: Uuid,
    pub principal_type: PrincipalType,
    pub user: Option<MemberUser>,
    pub service_account: Option<MemberServiceAccount>,
    pub groups: Vec<GroupRef>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberUser {
    pub id: Uuid,
    pub email: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberServiceAccount {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRef {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Editor,
    Admin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Scope {
    Organization,
    Environment { environment_ids: Vec<Uuid> },
    Application { application_ids: Vec<Uuid> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub role: Role,
    pub scope: Scope,
    pub member_count: i64,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct NewGroup {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub role: Role,
    pub scope: Scope,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct GroupPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
}

/// `GET .../access-check`: `resource` and `action` as in SPEC §3
/// (`environment:<id>`, `view`, ...).
#[derive(Debug, Clone, Serialize)]
pub struct AccessCheck {
    pub resource: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessDecision {
    pub allowed: bool,
    pub superuser: bool,
    pub granted_by: Vec<GrantedBy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantedBy {
    pub group_id: Uuid,
    pub group_name: String,
    pub role: Role,
    pub scope: Scope,
}

// ---- platform resources ---------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    pub id: Uuid,
    pub name: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub id: Uuid,
    pub name: String,
    pub repository: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct NewApplication {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplicationPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `Some(None)` clears the repository (sends `null`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub application_id: Uuid,
    pub environment_id: Uuid,
    pub image: String,
    pub replicas: i64,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct PutInstance {
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i64>,
}

/// The answer of `PUT .../instances/{env}`: `created` for `201`, not for
/// `200`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstancePut {
    pub instance: Instance,
    pub created: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    pub id: Uuid,
    pub image: String,
    pub version: Option<String>,
    pub created_at: Timestamp,
    pub created_by: ActorRef,
}

#[derive(Debug, Clone, Serialize)]
pub struct NewDeployment {
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

// ---- service accounts and service tokens ----------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceAccountStatus {
    Active,
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccount {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub member_id: Uuid,
    pub name: String,
    pub description: String,
    pub status: ServiceAccountStatus,
    pub groups: Vec<GroupRef>,
    pub created_at: Timestamp,
    pub created_by: ActorRef,
    pub last_used_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NewServiceAccount {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ServiceAccountPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<ServiceAccountStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceToken {
    pub id: Uuid,
    pub name: String,
    pub hint: String,
    pub status: TokenStatus,
    pub created_at: Timestamp,
    pub created_by: ActorRef,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

/// `POST .../tokens/{id}/rotate`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Rotate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

/// `POST /me/token/rotate`: a service token rotates itself.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SelfRotate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<u32>,
}

// ---- audit and operations -------------------------------------------------

/// Filters of the audit log; `action` is exact or a prefix ending in `.*`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditFilter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    /// Inclusive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// Exclusive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: Uuid,
    pub occurred_at: Timestamp,
    pub actor: AuditActor,
    pub action: String,
    pub target: AuditTarget,
    pub details: Value,
    pub request_id: Option<String>,
    pub ip: Option<String>,
}

/// `type` is `user`, `service_account`, `anonymous` or `system`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditActor {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub token_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditTarget {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    pub name: Option<String>,
}

/// `/healthz` and `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
}
