//! What storage hands back. These are not the API's wire format: that is
//! `tron_api`, built from these models by the `From` impls in `wire`.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tron_core::authz::{Grant, Role, Scope};
use tron_core::ids::*;
use tron_core::principal::{Actor, ActorType};
use tron_core::settings::OrganizationSettings;
use tron_core::token::{TokenHash, TokenKind};
use uuid::Uuid;

/// Who performed a request, for audit events and `created_by` columns.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub actor: Actor,
    pub request_id: Option<String>,
    pub ip: Option<String>,
}

impl RequestMeta {
    pub fn system() -> Self {
        RequestMeta {
            actor: Actor::system(),
            request_id: None,
            ip: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedBy {
    pub kind: ActorType,
    pub id: Option<Uuid>,
    pub name: Option<String>,
}

impl From<&Actor> for CreatedBy {
    fn from(a: &Actor) -> Self {
        CreatedBy {
            kind: a.kind,
            id: a.id,
            name: a.name.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub is_superuser: bool,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Organization {
    pub id: OrganizationId,
    pub name: String,
    pub settings: OrganizationSettings,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    pub id: GroupId,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct MemberUser {
    pub id: UserId,
    pub email: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct MemberServiceAccount {
    pub id: ServiceAccountId,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalType {
    User,
    ServiceAccount,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub id: MemberId,
    pub principal_type: PrincipalType,
    pub user: Option<MemberUser>,
    pub service_account: Option<MemberServiceAccount>,
    pub groups: Vec<GroupRef>,
    pub created_at: DateTime<Utc>,
}

/// A member as the access context sees it: its id and its grants.
#[derive(Debug, Clone)]
pub struct Membership {
    pub member_id: MemberId,
    pub grants: Vec<Grant>,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub description: String,
    pub role: Role,
    pub scope: Scope,
    pub member_count: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    Active,
    Expired,
    Revoked,
}

impl TokenStatus {
    /// Revocation wins over expiry; a revocation in the future is a
    /// rotation's grace period, during which the token is still active.
    pub fn at(
        revoked_at: Option<DateTime<Utc>>,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> TokenStatus {
        if revoked_at.is_some_and(|r| r <= now) {
            TokenStatus::Revoked
        } else if expires_at.is_some_and(|e| e <= now) {
            TokenStatus::Expired
        } else {
            TokenStatus::Active
        }
    }
}

#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub id: TokenId,
    pub kind: TokenKind,
    pub name: String,
    pub hint: String,
    pub user_id: Option<UserId>,
    pub service_account_id: Option<ServiceAccountId>,
    pub organization_id: Option<OrganizationId>,
    pub created_at: DateTime<Utc>,
    pub created_by: CreatedBy,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub source: TokenSource,
    /// The trust policy whose exchange minted it (`source` is `Oidc`).
    pub trust_policy_id: Option<TrustPolicyId>,
    /// The successor a rotation minted for it.
    pub replaced_by: Option<TokenId>,
}

/// Where a service token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenSource {
    /// Made through the API or the portal.
    #[default]
    Manual,
    /// Minted by a keyless CI exchange (SPEC §7); it cannot be rotated.
    Oidc,
}

impl TokenSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenSource::Manual => "manual",
            TokenSource::Oidc => "oidc",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "manual" => Some(TokenSource::Manual),
            "oidc" => Some(TokenSource::Oidc),
            _ => None,
        }
    }
}

impl TokenRecord {
    /// See [`TokenStatus::at`].
    pub fn status(&self, now: DateTime<Utc>) -> TokenStatus {
        TokenStatus::at(self.revoked_at, self.expires_at, now)
    }

    pub fn view(&self, now: DateTime<Utc>) -> TokenView {
        TokenView {
            id: self.id,
            name: self.name.clone(),
            hint: self.hint.clone(),
            status: self.status(now),
            created_at: self.created_at,
            created_by: self.created_by.clone(),
            expires_at: self.expires_at,
            revoked_at: self.revoked_at.filter(|r| *r <= now),
            last_used_at: self.last_used_at,
            source: self.source,
            trust_policy_id: self.trust_policy_id,
        }
    }
}

#[derive(Debug, Clone)]
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
    pub source: TokenSource,
    pub trust_policy_id: Option<TrustPolicyId>,
}

/// A token found by its hash, with what is needed to authenticate it.
#[derive(Debug, Clone)]
pub struct ResolvedToken {
    pub token: TokenRecord,
    /// The stored hash, compared again in constant time by the caller.
    pub stored_hash: TokenHash,
    pub owner: TokenOwner,
}

/// The names are `Arc<str>`: the token cache keeps the owner as it is,
/// and every request's principal shares them.
#[derive(Debug, Clone)]
pub enum TokenOwner {
    User {
        id: UserId,
        email: Arc<str>,
        name: Arc<str>,
        is_superuser: bool,
        is_active: bool,
    },
    ServiceAccount {
        id: ServiceAccountId,
        organization_id: OrganizationId,
        name: Arc<str>,
        is_active: bool,
        /// The organization's `service_token_rate_limit_per_minute`.
        rate_limit_per_minute: u32,
    },
}

/// Stored and audited as `active` or `disabled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceAccountStatus {
    Active,
    Disabled,
}

impl ServiceAccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceAccountStatus::Active => "active",
            ServiceAccountStatus::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(ServiceAccountStatus::Active),
            "disabled" => Some(ServiceAccountStatus::Disabled),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
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
    /// Not part of the API's object (`tron_api::ServiceAccount`); the portal
    /// shows it.
    pub active_token_count: i64,
}

#[derive(Debug, Clone)]
pub struct Environment {
    pub id: EnvironmentId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Application {
    pub id: ApplicationId,
    pub name: String,
    pub repository: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Instance {
    pub application_id: ApplicationId,
    pub environment_id: EnvironmentId,
    pub application_name: String,
    pub environment_name: String,
    pub image: String,
    pub replicas: i64,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Deployment {
    pub id: DeploymentId,
    pub image: String,
    pub version: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: CreatedBy,
    /// The token it was made with (`None` before migration 0006).
    pub token_id: Option<TokenId>,
}

#[derive(Debug, Clone)]
pub struct AuditActor {
    pub kind: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub token_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AuditTarget {
    pub kind: String,
    pub id: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone)]
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
