//! The API's wire types (`tron_api`) from the store's models. Here because
//! of the orphan rule: the server knows both types but owns neither.
use tron_api as w;

use crate::models::*;

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
            source: match t.source {
                TokenSource::Manual => w::TokenSource::Manual,
                TokenSource::Oidc => w::TokenSource::Oidc,
            },
            trust_policy_id: t.trust_policy_id,
        }
    }
}

impl From<crate::trust_policies::TrustPolicyRecord> for w::TrustPolicy {
    fn from(p: crate::trust_policies::TrustPolicyRecord) -> Self {
        w::TrustPolicy {
            id: p.id,
            service_account_id: p.service_account_id,
            name: p.name,
            issuer: p.issuer,
            audience: p.audience,
            conditions: p.conditions,
            token_ttl_seconds: p.token_ttl_seconds,
            created_at: p.created_at,
            created_by: p.created_by.into(),
            last_used_at: p.last_used_at,
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
            application_name: i.application_name,
            environment_id: i.environment_id,
            environment_name: i.environment_name,
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

impl From<crate::webhooks::WebhookRecord> for w::Webhook {
    fn from(h: crate::webhooks::WebhookRecord) -> Self {
        w::Webhook {
            id: h.id,
            url: h.url,
            events: h.events,
            description: h.description,
            active: h.active,
            created_at: h.created_at,
            created_by: h.created_by.into(),
        }
    }
}

impl From<crate::webhooks::DeliveryRecord> for w::Delivery {
    fn from(d: crate::webhooks::DeliveryRecord) -> Self {
        use crate::webhooks::DeliveryStatus as S;
        w::Delivery {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            status: match d.status {
                S::Pending => w::DeliveryStatus::Pending,
                S::Delivered => w::DeliveryStatus::Delivered,
                S::Failed => w::DeliveryStatus::Failed,
            },
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
        }
    }
}
