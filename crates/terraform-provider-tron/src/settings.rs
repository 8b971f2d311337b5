//! `tron_organization_settings`: the settings of one organization (SPEC §4,
//! `PATCH /organizations/{org}` with `settings`). A singleton: every
//! organization has settings, so creating the resource sets them, and
//! destroying it only forgets them (the organization keeps the values last
//! applied; deleting the organization is not this resource's business).
//!
//! `max_token_lifetime_days` is owned: left out, it is "no limit".
//! `service_token_rate_limit_per_minute` left out is not managed: it keeps
//! whatever the organization has (600 unless someone changed it).
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeConstraint, AttributeType, Block, Description, Schema};
use tf_provider::value::{Value, ValueEmpty, ValueNumber, ValueString};
use tf_provider::{map, AttributePath, Diagnostics, Resource};
use tron_client::{Organization, OrganizationId, UpdateOrganization};

use crate::common::{api_error, is_not_found, organization, parse_id, string, Shared};
use crate::provider::attr;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct State<'a> {
    pub id: ValueString<'a>,
    pub organization_id: ValueString<'a>,
    pub max_token_lifetime_days: ValueNumber,
    pub service_token_rate_limit_per_minute: ValueNumber,
}

impl State<'static> {
    fn from_api(o: &Organization) -> Self {
        let s = &o.settings;
        State {
            id: string(o.id.to_string()),
            organization_id: string(o.id.to_string()),
            max_token_lifetime_days: s
                .max_token_lifetime_days
                .map(|d| Value::Value(i64::from(d)))
                .unwrap_or(Value::Null),
            service_token_rate_limit_per_minute: Value::Value(i64::from(
                s.service_token_rate_limit_per_minute,
            )),
        }
    }
}

/// The body of the `PATCH` that makes the organization's settings those of
/// `planned`: the lifetime limit always (null removes it), the rate limit
/// when it is managed (known).
pub fn settings_patch(planned: &State<'_>) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert(
        "max_token_lifetime_days".into(),
        planned
            .max_token_lifetime_days
            .as_ref_option()
            .map(|d| serde_json::json!(d))
            .unwrap_or(serde_json::Value::Null),
    );
    if let Some(r) = planned.service_token_rate_limit_per_minute.as_ref_option() {
        m.insert(
            "service_token_rate_limit_per_minute".into(),
            serde_json::json!(r),
        );
    }
    m
}

#[derive(Clone)]
pub struct OrganizationSettingsResource(pub Shared);

fn org_of(diags: &mut Diagnostics, s: &State<'_>) -> Option<OrganizationId> {
    parse_id(
        diags,
        "organization_id",
        s.organization_id.as_deref_option().unwrap_or(""),
    )
}

const WHAT: &str = "tron_organization_settings";

impl OrganizationSettingsResource {
    async fn apply(&self, diags: &mut Diagnostics, planned: &State<'_>) -> Option<State<'static>> {
        let ctx = self.0.ctx(diags)?;
        let org = org_of(diags, planned)?;
        let body = UpdateOrganization {
            name: None,
            settings: Some(settings_patch(planned)),
        };
        match ctx.client.update_organization(org, &body).await {
            Ok(o) => Some(State::from_api(&o)),
            Err(e) => {
                api_error(diags, WHAT, &e);
                None
            }
        }
    }
}

#[async_trait]
impl Resource for OrganizationSettingsResource {
    type State<'a> = State<'a>;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        use AttributeConstraint::*;
        use AttributeType::{Number, String as S};
        Some(Schema {
            version: 1,
            block: Block {
                description: Description::plain(
                    "An organization's settings (one per organization; destroying it leaves them as they are)",
                ),
                attributes: map! {
                    "id" => attr(S, Computed, "The organization's id"),
                    "organization_id" => attr(S, OptionalComputed, "The organization (default: the provider's)"),
                    "max_token_lifetime_days" => attr(Number, Optional, "1-3650: service tokens must expire within this many days; left out, no limit"),
                    "service_token_rate_limit_per_minute" => attr(Number, OptionalComputed, "1-10000000 requests a minute per service token; left out, left as it is (600 by default)"),
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
        let org = org_of(diags, &state)?;
        match ctx.client.get_organization(org).await {
            Ok(o) => Some((State::from_api(&o), private)),
            Err(e) if is_not_found(&e) => None,
            Err(e) => {
                api_error(diags, WHAT, &e);
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
        proposed.id = proposed.organization_id.clone();
        if proposed.service_token_rate_limit_per_minute.is_null() {
            proposed.service_token_rate_limit_per_minute = Value::Unknown;
        }
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
        let mut replace = Vec::new();
        if proposed.organization_id != prior.organization_id {
            replace.push(AttributePath::new("organization_id"));
            proposed.id = Value::Unknown;
        }
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
        Some((self.apply(diags, &planned).await?, private))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        _prior: State<'a>,
        planned: State<'a>,
        _config: State<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State<'a>, ValueEmpty)> {
        Some((self.apply(diags, &planned).await?, private))
    }

    /// Forgets the settings: the organization keeps them (see the module
    /// header, and docs/terraform.md).
    async fn destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _state: State<'a>,
        _private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<()> {
        Some(())
    }

    /// `ORG_ID` (an organization has one set of settings).
    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(State<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        let Ok(org) = id.trim().parse::<OrganizationId>() else {
            diags.root_error(
                "Invalid import id",
                "The import id of tron_organization_settings is ORGANIZATION_ID (a UUID): an organization has one set of settings.",
            );
            return None;
        };
        match ctx.client.get_organization(org).await {
            Ok(o) => Some((State::from_api(&o), ValueEmpty::default())),
            Err(e) => {
                api_error(diags, "tron_organization_settings import", &e);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_patch_owns_the_lifetime_limit_and_sends_a_managed_rate_limit() {
        let unmanaged = State {
            max_token_lifetime_days: Value::Value(90),
            service_token_rate_limit_per_minute: Value::Unknown,
            ..Default::default()
        };
        assert_eq!(
            serde_json::Value::Object(settings_patch(&unmanaged)),
            serde_json::json!({"max_token_lifetime_days": 90})
        );
        let no_limit = State {
            max_token_lifetime_days: Value::Null,
            service_token_rate_limit_per_minute: Value::Value(1200),
            ..Default::default()
        };
        assert_eq!(
            serde_json::Value::Object(settings_patch(&no_limit)),
            serde_json::json!({
                "max_token_lifetime_days": null,
                "service_token_rate_limit_per_minute": 1200
            })
        );
    }
}
