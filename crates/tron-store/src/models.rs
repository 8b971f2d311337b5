//! What storage hands back. These are not the API's wire format: that is
//! `tron_api`, built from these models by the `From` impls at the end.
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
}

impl TokenRecord {
    /// Revocation wins over expiry; a revocation in the future is a
    /// rotation's grace period, during which the token is still active.
    pub fn status(&self, now: DateTime<Utc>) -> TokenStatus {
        if self.revoked_at.is_some_and(|r| r <= now) {
            TokenStatus::Revoked
        } else if self.expires_at.is_some_and(|e| e <= now) {
            TokenStatus::Expired
        } else {
            TokenStatus::Active
        }
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
}

/// A token found by its hash, with what is needed to authenticate it.
#[derive(Debug, Clone)]
pub struct ResolvedToken {
    pub token: TokenRecord,
    /// The stored hash, compared again in constant time by the caller.
    pub stored_hash: TokenHash,
    pub owner: TokenOwner,
}

#[derive(Debug, Clone)]
pub enum TokenOwner {
    User {
        id: UserId,
        email: String,
        name: String,
        is_superuser: bool,
        is_active: bool,
    },
    ServiceAccount {
        id: ServiceAccountId,
        organization_id: OrganizationId,
        name: String,
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

// The wire types of the API (`tron_api`) from these models.
use tron_api as w;

impl From<CreatedBy> for w::CreatedBy {
    fn from(c: CreatedBy) -> Self {
        w::CreatedBy {
            kind: c.kind,
            id: c.id,
            name: c.name,
        }
    }
}

impl From<User> for w::User {
    fn from(u: User) -> Self {
        w::User {
            id: u.id,
            email: u.email,
            name: u.name,
            is_superuser: u.is_superuser,
            is_active: u.is_active,
            created_at: u.created_at,
        }
    }
}

impl From<Organization> for w::Organization {
    fn from(o: Organization) -> Self {
        w::Organization {
            id: o.id,
            name: o.name,
            settings: o.settings,
            created_at: o.created_at,
        }
    }
}

impl From<GroupRef> for w::GroupRef {
    fn from(g: GroupRef) -> Self {
        w::GroupRef {
            id: g.id,
            name: g.name,
        }
    }
}

impl From<PrincipalType> for w::PrincipalType {
    fn from(p: PrincipalType) -> Self {
        match p {
            PrincipalType::User => w::PrincipalType::User,
            PrincipalType::ServiceAccount => w::PrincipalType::ServiceAccount,
        }
    }
}

impl From<w::PrincipalType> for PrincipalType {
    fn from(p: w::PrincipalType) -> Self {
        match p {
            w::PrincipalType::User => PrincipalType::User,
            w::PrincipalType::ServiceAccount => PrincipalType::ServiceAccount,
        }
    }
}

impl From<Member> for w::Member {
    fn from(x: Member) -> Self {
        w::Member {
            id: x.id,
            principal_type: x.principal_type.into(),
            user: x.user.map(|u| w::MemberUser {
                id: u.id,
                email: u.email,
                name: u.name,
            }),
            service_account: x.service_account.map(|s| w::MemberServiceAccount {
                id: s.id,
                name: s.name,
            }),
            groups: x.groups.into_iter().map(Into::into).collect(),
            created_at: x.created_at,
        }
    }
}

impl From<Group> for w::Group {
    fn from(g: Group) -> Self {
        w::Group {
            id: g.id,
            name: g.name,
            description: g.description,
            role: g.role,
            scope: g.scope,
            member_count: g.member_count,
            created_at: g.created_at,
        }
    }
}

impl From<TokenStatus> for w::TokenStatus {
    fn from(s: TokenStatus) -> Self {
        match s {
            TokenStatus::Active => w::TokenStatus::Active,
            TokenStatus::Expired => w::TokenStatus::Expired,
            TokenStatus::Revoked => w::TokenStatus::Revoked,
        }
    }
}

impl From<TokenView> for w::TokenView {
    fn from(t: TokenView) -> Self {
        w::TokenView {
            id: t.id,
            name: t.name,
            hint: t.hint,
            status: t.status.into(),
            created_at: t.created_at,
            created_by: t.created_by.into(),
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
            last_used_at: t.last_used_at,
        }
    }
}

impl From<TokenView> for w::PersonalToken {
    fn from(t: TokenView) -> Self {
        w::TokenView::from(t).into()
    }
}

impl From<ServiceAccountStatus> for w::ServiceAccountStatus {
    fn from(s: ServiceAccountStatus) -> Self {
        match s {
            ServiceAccountStatus::Active => w::ServiceAccountStatus::Active,
            ServiceAccountStatus::Disabled => w::ServiceAccountStatus::Disabled,
        }
    }
}

impl From<w::ServiceAccountStatus> for ServiceAccountStatus {
    fn from(s: w::ServiceAccountStatus) -> Self {
        match s {
            w::ServiceAccountStatus::Active => ServiceAccountStatus::Active,
            w::ServiceAccountStatus::Disabled => ServiceAccountStatus::Disabled,
        }
    }
}

impl From<ServiceAccount> for w::ServiceAccount {
    fn from(s: ServiceAccount) -> Self {
        w::ServiceAccount {
            id: s.id,
            organization_id: s.organization_id,
            member_id: s.member_id,
            name: s.name,
            description: s.description,
            status: s.status.into(),
            groups: s.groups.into_iter().map(Into::into).collect(),
            created_at: s.created_at,
            created_by: s.created_by.into(),
            last_used_at: s.last_used_at,
        }
    }
}

impl From<Environment> for w::Environment {
    fn from(e: Environment) -> Self {
        w::Environment {
            id: e.id,
            name: e.name,
            created_at: e.created_at,
        }
    }
}

impl From<Application> for w::Application {
    fn from(a: Application) -> Self {
        w::Application {
            id: a.id,
            name: a.name,
            repository: a.repository,
            created_at: a.created_at,
        }
    }
}

impl From<Instance> for w::Instance {
    fn from(i: Instance) -> Self {
        w::Instance {
            application_id: i.application_id,
            environment_id: i.environment_id,
            image: i.image,
            replicas: i.replicas,
            updated_at: i.updated_at,
        }
    }
}

impl From<Deployment> for w::Deployment {
    fn from(d: Deployment) -> Self {
        w::Deployment {
            id: d.id,
            image: d.image,
            version: d.version,
            created_at: d.created_at,
            created_by: d.created_by.into(),
        }
    }
}

impl From<AuditEvent> for w::AuditEvent {
    fn from(e: AuditEvent) -> Self {
        w::AuditEvent {
            id: e.id,
            occurred_at: e.occurred_at,
            actor: w::AuditActor {
                kind: e.actor.kind,
                id: e.actor.id,
                name: e.actor.name,
                token_id: e.actor.token_id,
            },
            action: e.action,
            target: w::AuditTarget {
                kind: e.target.kind,
                id: e.target.id,
                name: e.target.name,
            },
            details: e.details,
            request_id: e.request_id,
            ip: e.ip,
        }
    }
}
