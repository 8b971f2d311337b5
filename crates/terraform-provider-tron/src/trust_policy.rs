//! `tron_trust_policy`: which CI workloads may exchange an ID token for a
//! short-lived token of a service account (SPEC §7). Everything but the
//! account changes in place; the server checks the policy as a new one.
use std::borrow::Cow;
use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeConstraint, AttributeType, Block, Description, Schema};
use tf_provider::value::{Value, ValueEmpty, ValueMap, ValueNumber, ValueString};
use tf_provider::{map, AttributePath, Diagnostics, Resource};
use tron_client::{
    CreateTrustPolicy, DisplayName, OrganizationId, ServiceAccountId, TrustPolicy, TrustPolicyId,
    UpdateTrustPolicy,
};

use crate::common::{
    api_error, is_not_found, known, organization, parse_id, parse_value, string, time, Shared,
};
use crate::lookup::{child_id, policy_anywhere};
use crate::provider::attr;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct State<'a> {
    pub id: ValueString<'a>,
    pub organization_id: ValueString<'a>,
    pub service_account_id: ValueString<'a>,
    pub name: ValueString<'a>,
    pub issuer: ValueString<'a>,
    pub audience: ValueString<'a>,
    pub conditions: ValueMap<'a, ValueString<'a>>,
    pub token_ttl_seconds: ValueNumber,
    pub created_at: ValueString<'a>,
}

impl State<'static> {
    fn from_api(org: OrganizationId, p: &TrustPolicy) -> Self {
        State {
            id: string(p.id.to_string()),
            organization_id: string(org.to_string()),
            service_account_id: string(p.service_account_id.to_string()),
            name: string(p.name.clone()),
            issuer: string(p.issuer.clone()),
            audience: string(p.audience.clone()),
            conditions: Value::Value(
                p.conditions
                    .iter()
                    .map(|(k, v)| (Cow::Owned(k.clone()), string(v.clone())))
                    .collect(),
            ),
            token_ttl_seconds: Value::Value(p.token_ttl_seconds),
            created_at: time(p.created_at),
        }
    }
}

fn conditions(s: &State<'_>) -> serde_json::Value {
    let m: BTreeMap<String, String> = s
        .conditions
        .as_ref_option()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| known(v).map(|v| (k.to_string(), v)))
                .collect()
        })
        .unwrap_or_default();
    serde_json::json!(m)
}

/// Replacement when the policy moves to another account or organization.
pub fn replace_paths(prior: &State<'_>, proposed: &State<'_>) -> Vec<AttributePath> {
    let mut r = Vec::new();
    if proposed.organization_id != prior.organization_id {
        r.push(AttributePath::new("organization_id"));
    }
    if proposed.service_account_id != prior.service_account_id {
        r.push(AttributePath::new("service_account_id"));
    }
    r
}

#[derive(Clone)]
pub struct TrustPolicyResource(pub Shared);

fn what(s: &State<'_>) -> String {
    format!(
        "tron_trust_policy {:?}",
        s.name.as_deref_option().unwrap_or("")
    )
}

fn ids(
    diags: &mut Diagnostics,
    s: &State<'_>,
) -> Option<(OrganizationId, ServiceAccountId, TrustPolicyId)> {
    let org = parse_id(
        diags,
        "organization_id",
        s.organization_id.as_deref_option().unwrap_or(""),
    )?;
    let sa = parse_id(
        diags,
        "service_account_id",
        s.service_account_id.as_deref_option().unwrap_or(""),
    )?;
    let id = parse_id(diags, "id", s.id.as_deref_option().unwrap_or(""))?;
    Some((org, sa, id))
}

#[async_trait]
impl Resource for TrustPolicyResource {
    type State<'a> = State<'a>;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        use AttributeConstraint::*;
        use AttributeType::{Number, String as S};
        Some(Schema {
            version: 1,
            block: Block {
                description: Description::plain("A trust policy of a service account (keyless CI)"),
                attributes: map! {
                    "id" => attr(S, Computed, "The policy's id"),
                    "organization_id" => attr(S, OptionalComputed, "The organization (default: the provider's)"),
                    "service_account_id" => attr(S, Required, "The service account; changing it replaces the policy"),
                    "name" => attr(S, Required, "1-100 characters, unique for the account"),
                    "issuer" => attr(S, Required, "One of the server's trusted issuers, as its tokens' iss writes it"),
                    "audience" => attr(S, Required, "What the ID token's aud must be"),
                    "conditions" => attr(AttributeType::Map(Box::new(S)), Required, "Claim name to pattern (* matches any run of characters); all must hold"),
                    "token_ttl_seconds" => attr(Number, OptionalComputed, "Lifetime of the tokens it mints, 60-3600 (default 900)"),
                    "created_at" => attr(S, Computed, "RFC 3339"),
                },
                ..Default::default()
            },
        })
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: State<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        let (org, sa, id) = ids(diags, &state)?;
        match ctx.client.get_trust_policy(org, sa, id).await {
            Ok(p) => Some((State::from_api(org, &p), private)),
            Err(e) if is_not_found(&e) => None,
            Err(e) => {
                api_error(diags, &what(&state), &e);
                Some((state, private))
            }
        }
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        mut proposed: State<'a>,
        _config: State<'a>,
        _meta: ValueEmpty,
    ) -> Option<(State<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        if proposed.organization_id.is_null() {
            proposed.organization_id = string(organization(diags, &ctx, &Value::Null)?.to_string());
        }
        if proposed.token_ttl_seconds.is_null() {
            proposed.token_ttl_seconds = Value::Unknown;
        }
        proposed.id = Value::Unknown;
        proposed.created_at = Value::Unknown;
        Some((proposed, ValueEmpty::default()))
    }

    async fn plan_update<'a>(
        &self,
        _diags: &mut Diagnostics,
        prior: State<'a>,
        mut proposed: State<'a>,
        _config: State<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State<'a>, ValueEmpty, Vec<AttributePath>)> {
        if proposed.organization_id.is_null() {
            proposed.organization_id = prior.organization_id.clone();
        }
        let replace = replace_paths(&prior, &proposed);
        Some((proposed, private, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: State<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<ValueEmpty> {
        Some(private)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: State<'a>,
        _config: State<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        let org: OrganizationId = parse_id(
            diags,
            "organization_id",
            planned.organization_id.as_deref_option().unwrap_or(""),
        )?;
        let sa: ServiceAccountId = parse_id(
            diags,
            "service_account_id",
            planned.service_account_id.as_deref_option().unwrap_or(""),
        )?;
        let body = CreateTrustPolicy {
            name: parse_value(
                diags,
                "name",
                DisplayName::parse("name", planned.name.as_deref_option().unwrap_or("")),
            )?,
            issuer: known(&planned.issuer).unwrap_or_default(),
            audience: known(&planned.audience).unwrap_or_default(),
            conditions: conditions(&planned),
            token_ttl_seconds: planned.token_ttl_seconds.as_ref_option().copied(),
        };
        match ctx.client.create_trust_policy(org, sa, &body).await {
            Ok(p) => Some((State::from_api(org, &p), private)),
            Err(e) => {
                api_error(diags, &what(&planned), &e);
                None
            }
        }
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: State<'a>,
        planned: State<'a>,
        _config: State<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        let (org, sa, id) = ids(diags, &prior)?;
        let mut body = UpdateTrustPolicy::default();
        if planned.name != prior.name {
            body.name = Some(parse_value(
                diags,
                "name",
                DisplayName::parse("name", planned.name.as_deref_option().unwrap_or("")),
            )?);
        }
        if planned.issuer != prior.issuer {
            body.issuer = known(&planned.issuer);
        }
        if planned.audience != prior.audience {
            body.audience = known(&planned.audience);
        }
        if planned.conditions != prior.conditions {
            body.conditions = Some(conditions(&planned));
        }
        if planned.token_ttl_seconds != prior.token_ttl_seconds {
            body.token_ttl_seconds = planned.token_ttl_seconds.as_ref_option().copied();
        }
        match ctx.client.update_trust_policy(org, sa, id, &body).await {
            Ok(p) => Some((State::from_api(org, &p), private)),
            Err(e) => {
                api_error(diags, &what(&planned), &e);
                None
            }
        }
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        state: State<'a>,
        _private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<()> {
        let ctx = self.0.ctx(diags)?;
        let (org, sa, id) = ids(diags, &state)?;
        match ctx.client.delete_trust_policy(org, sa, id).await {
            Ok(()) => Some(()),
            Err(e) if is_not_found(&e) => Some(()),
            Err(e) => {
                api_error(diags, &what(&state), &e);
                None
            }
        }
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(State<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        let Some(parts) = child_id(&id) else {
            diags.root_error(
                "Invalid import id",
                "A trust policy's import id is ORGANIZATION_ID/POLICY_ID (or ORGANIZATION_ID/SERVICE_ACCOUNT_ID/POLICY_ID).",
            );
            return None;
        };
        let org: OrganizationId = parse_id(diags, "organization_id", parts.org)?;
        let policy: TrustPolicyId = parse_id(diags, "id", parts.id)?;
        let found = match parts.service_account {
            Some(sa) => {
                let sa: ServiceAccountId = parse_id(diags, "service_account_id", sa)?;
                ctx.client.get_trust_policy(org, sa, policy).await.map(Some)
            }
            None => policy_anywhere(&ctx.client, org, policy).await,
        };
        match found {
            Ok(Some(p)) => Some((State::from_api(org, &p), ValueEmpty::default())),
            Ok(None) => {
                diags.root_error(
                    "Cannot import tron_trust_policy",
                    "not_found: no trust policy of that organization has that id",
                );
                None
            }
            Err(e) => {
                api_error(diags, "tron_trust_policy import", &e);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_move_replaces_a_policy() {
        let prior = State {
            organization_id: string("o"),
            service_account_id: string("sa"),
            audience: string("tron"),
            ..Default::default()
        };
        let changed = State {
            audience: string("other"),
            ..prior.clone()
        };
        assert!(replace_paths(&prior, &changed).is_empty());
        let moved = State {
            service_account_id: string("sa2"),
            ..prior.clone()
        };
        assert_eq!(replace_paths(&prior, &moved).len(), 1);
    }

    #[test]
    fn conditions_go_to_the_api_as_an_object() {
        let s = State {
            conditions: Value::Value(
                [(Cow::Borrowed("repository"), string("acme/*"))]
                    .into_iter()
                    .collect(),
            ),
            ..Default::default()
        };
        assert_eq!(conditions(&s), serde_json::json!({"repository": "acme/*"}));
    }
}
