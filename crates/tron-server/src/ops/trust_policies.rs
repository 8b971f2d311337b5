//! Trust policies of a service account (SPEC §7): viewers of the
//! organization see them, its admins manage them. A policy is checked by
//! `tron-oidc` against the operator's trusted issuers before it is stored,
//! and a change is checked as a whole new policy.
use serde_json::Value;
use tron_core::authz::{Action, Resource};
use tron_core::ids::{ServiceAccountId, TrustPolicyId};
use tron_core::values::DisplayName;
use tron_core::{Error, Result};
use tron_oidc::{PolicyInput, TrustPolicy, TrustedIssuers};
use tron_store::trust_policies::{PolicyFields, TrustPolicyRecord};
use tron_store::{Page, PageRequest};

use crate::access::OrganizationAccessContext as Ctx;

/// A policy as an admin gives it.
#[derive(Debug, Clone)]
pub struct NewPolicy {
    pub name: DisplayName,
    pub issuer: String,
    pub audience: String,
    /// The JSON object of `claim: pattern` pairs.
    pub conditions: Value,
    pub token_ttl_seconds: Option<i64>,
}

/// A change; `None` keeps what is stored.
#[derive(Debug, Clone, Default)]
pub struct PolicyPatch {
    pub name: Option<DisplayName>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub conditions: Option<Value>,
    pub token_ttl_seconds: Option<i64>,
}

/// SPEC §7's rules, as `tron-oidc` holds them; the error names the field.
pub fn check(policy: &NewPolicy, trusted: &TrustedIssuers) -> Result<PolicyFields> {
    let valid = TrustPolicy::validate(
        PolicyInput {
            issuer: &policy.issuer,
            audience: &policy.audience,
            conditions: &policy.conditions,
            token_ttl_seconds: policy.token_ttl_seconds,
        },
        trusted,
    )
    .map_err(|e| {
        // "must be …" reads as a sentence with its field in front; the
        // other messages name what they are about.
        let message = if e.message.starts_with("must") {
            format!("{} {}", e.field, e.message)
        } else {
            e.message
        };
        Error::validation(e.field, message)
    })?;
    Ok(PolicyFields {
        name: policy.name.to_string(),
        issuer: valid.issuer,
        audience: valid.audience,
        conditions: valid
            .conditions
            .into_iter()
            .map(|(claim, pattern)| (claim, pattern.as_str().to_owned()))
            .collect(),
        token_ttl_seconds: valid.token_ttl_seconds,
    })
}

/// A stored policy as the exchange applies it; `None` when it no longer
/// passes the rules (an issuer the operator stopped trusting), so it
/// accepts nothing.
pub fn compiled(record: &TrustPolicyRecord, trusted: &TrustedIssuers) -> Option<TrustPolicy> {
    let conditions = Value::Object(
        record
            .conditions
            .iter()
            .map(|(c, p)| (c.clone(), Value::String(p.clone())))
            .collect(),
    );
    TrustPolicy::validate(
        PolicyInput {
            issuer: &record.issuer,
            audience: &record.audience,
            conditions: &conditions,
            token_ttl_seconds: Some(record.token_ttl_seconds),
        },
        trusted,
    )
    .ok()
}

fn trusted(ctx: &Ctx) -> &TrustedIssuers {
    &ctx.state().config.oidc_issuers
}

pub async fn list(
    ctx: &Ctx,
    sa: ServiceAccountId,
    page: &PageRequest,
) -> Result<Page<TrustPolicyRecord>> {
    ctx.require(Action::View, &Resource::ServiceAccounts)?;
    let store = ctx.store();
    store.get_service_account(sa).await?;
    store.list_trust_policies(sa, page).await
}

pub async fn get(ctx: &Ctx, sa: ServiceAccountId, id: TrustPolicyId) -> Result<TrustPolicyRecord> {
    ctx.require(Action::View, &Resource::ServiceAccounts)?;
    ctx.store().get_trust_policy(sa, id).await
}

pub async fn create(
    ctx: &Ctx,
    sa: ServiceAccountId,
    policy: NewPolicy,
) -> Result<TrustPolicyRecord> {
    ctx.require(Action::Create, &Resource::ServiceAccounts)?;
    let fields = check(&policy, trusted(ctx))?;
    ctx.store().create_trust_policy(sa, fields).await
}

/// Merges `patch` over the stored policy (read under a lock) and checks
/// the result as a new policy.
pub async fn update(
    ctx: &Ctx,
    sa: ServiceAccountId,
    id: TrustPolicyId,
    patch: PolicyPatch,
) -> Result<TrustPolicyRecord> {
    ctx.require(Action::Update, &Resource::ServiceAccounts)?;
    let trusted = trusted(ctx);
    ctx.store()
        .update_trust_policy(sa, id, |old| {
            let name = match patch.name {
                Some(n) => n,
                None => DisplayName::parse("name", &old.name)?,
            };
            let conditions = patch.conditions.unwrap_or_else(|| {
                Value::Object(
                    old.conditions
                        .iter()
                        .map(|(c, p)| (c.clone(), Value::String(p.clone())))
                        .collect(),
                )
            });
            check(
                &NewPolicy {
                    name,
                    issuer: patch.issuer.unwrap_or_else(|| old.issuer.clone()),
                    audience: patch.audience.unwrap_or_else(|| old.audience.clone()),
                    conditions,
                    token_ttl_seconds: Some(
                        patch.token_ttl_seconds.unwrap_or(old.token_ttl_seconds),
                    ),
                },
                trusted,
            )
        })
        .await
}

pub async fn delete(ctx: &Ctx, sa: ServiceAccountId, id: TrustPolicyId) -> Result<()> {
    ctx.require(Action::Delete, &Resource::ServiceAccounts)?;
    ctx.store().delete_trust_policy(sa, id).await
}
