//! `tron_service_account`: name and description change in place, `disabled`
//! disables the account (every token answers `401 principal_disabled`), and
//! moving it to another organization replaces it.
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeConstraint, AttributeType, Block, Description, Schema};
use tf_provider::value::{Value, ValueBool, ValueEmpty, ValueString};
use tf_provider::{map, AttributePath, Diagnostics, Resource};
use tron_client::{
    CreateServiceAccount, Description as Desc, Name, ServiceAccount, ServiceAccountId,
    ServiceAccountStatus, UpdateServiceAccount,
};

use crate::common::{
    api_error, is_not_found, known, organization, parse_id, parse_value, split_import_id, string,
    time, Shared,
};
use crate::provider::attr;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct State<'a> {
    pub id: ValueString<'a>,
    pub organization_id: ValueString<'a>,
    pub name: ValueString<'a>,
    pub description: ValueString<'a>,
    pub disabled: ValueBool,
    pub status: ValueString<'a>,
    pub member_id: ValueString<'a>,
    pub created_at: ValueString<'a>,
}

pub fn status_of(disabled: bool) -> &'static str {
    if disabled {
        "disabled"
    } else {
        "active"
    }
}

impl State<'static> {
    pub fn from_api(sa: &ServiceAccount) -> Self {
        let disabled = sa.status == ServiceAccountStatus::Disabled;
        State {
            id: string(sa.id.to_string()),
            organization_id: string(sa.organization_id.to_string()),
            name: string(sa.name.clone()),
            description: string(sa.description.clone()),
            disabled: Value::Value(disabled),
            status: string(status_of(disabled)),
            member_id: string(sa.member_id.to_string()),
            created_at: time(sa.created_at),
        }
    }
}

/// The plan of a new account: what the API will answer, as far as it is
/// known before the call.
pub fn plan_new<'a>(mut s: State<'a>, org: String) -> State<'a> {
    s.organization_id = string(org);
    if s.description.is_null() {
        s.description = string("");
    }
    let disabled = s.disabled.as_ref_option().copied().unwrap_or(false);
    s.disabled = Value::Value(disabled);
    s.status = string(status_of(disabled));
    s.id = Value::Unknown;
    s.member_id = Value::Unknown;
    s.created_at = Value::Unknown;
    s
}

/// The plan of a change: in place, but for the organization, which
/// replaces the account.
pub fn plan_change<'a>(
    prior: &State<'a>,
    mut proposed: State<'a>,
) -> (State<'a>, Vec<AttributePath>) {
    let mut replace = Vec::new();
    if proposed.organization_id.is_null() {
        proposed.organization_id = prior.organization_id.clone();
    }
    if proposed.organization_id != prior.organization_id {
        replace.push(AttributePath::new("organization_id"));
    }
    if let Some(d) = proposed.disabled.as_ref_option().copied() {
        proposed.status = string(status_of(d));
    }
    (proposed, replace)
}

#[derive(Clone)]
pub struct ServiceAccountResource(pub Shared);

fn ids(
    diags: &mut Diagnostics,
    s: &State<'_>,
) -> Option<(tron_client::OrganizationId, ServiceAccountId)> {
    let org = parse_id(
        diags,
        "organization_id",
        s.organization_id.as_deref_option().unwrap_or(""),
    )?;
    let id = parse_id(diags, "id", s.id.as_deref_option().unwrap_or(""))?;
    Some((org, id))
}

fn what(s: &State<'_>) -> String {
    format!(
        "tron_service_account {:?}",
        s.name.as_deref_option().unwrap_or("")
    )
}

#[async_trait]
impl Resource for ServiceAccountResource {
    type State<'a> = State<'a>;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        use AttributeConstraint::*;
        use AttributeType::{Bool, String as S};
        Some(Schema {
            version: 1,
            block: Block {
                description: Description::plain("A service account of an organization"),
                attributes: map! {
                    "id" => attr(S, Computed, "The service account's id"),
                    "organization_id" => attr(S, OptionalComputed, "Its organization (default: the provider's); changing it replaces the account"),
                    "name" => attr(S, Required, "1-63 characters of [a-z0-9-], unique in the organization"),
                    "description" => attr(S, OptionalComputed, "Free text"),
                    "disabled" => attr(Bool, OptionalComputed, "A disabled account's tokens all answer 401 principal_disabled"),
                    "status" => attr(S, Computed, "active or disabled"),
                    "member_id" => attr(S, Computed, "Its member id, to put it in a group"),
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
        let (org, id) = ids(diags, &state)?;
        match ctx.client.get_service_account(org, id).await {
            Ok(sa) => Some((State::from_api(&sa), private)),
            // Deleted outside Terraform: it leaves the state.
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
        proposed: State<'a>,
        _config: State<'a>,
        _meta: ValueEmpty,
    ) -> Option<(State<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        let org = match proposed.organization_id.as_deref_option() {
            Some(o) => o.to_owned(),
            None => organization(diags, &ctx, &proposed.organization_id)?.to_string(),
        };
        Some((plan_new(proposed, org), ValueEmpty::default()))
    }

    async fn plan_update<'a>(
        &self,
        _diags: &mut Diagnostics,
        prior: State<'a>,
        proposed: State<'a>,
        _config: State<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State<'a>, ValueEmpty, Vec<AttributePath>)> {
        let (planned, replace) = plan_change(&prior, proposed);
        Some((planned, private, replace))
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
        let org = parse_id(
            diags,
            "organization_id",
            planned.organization_id.as_deref_option().unwrap_or(""),
        )?;
        let name = parse_value(
            diags,
            "name",
            Name::parse("name", planned.name.as_deref_option().unwrap_or("")),
        )?;
        let description = match known(&planned.description).filter(|d| !d.is_empty()) {
            Some(d) => Some(parse_value(
                diags,
                "description",
                Desc::parse("description", &d),
            )?),
            None => None,
        };
        let sa = match ctx
            .client
            .create_service_account(org, &CreateServiceAccount { name, description })
            .await
        {
            Ok(sa) => sa,
            Err(e) => {
                api_error(diags, &what(&planned), &e);
                return None;
            }
        };
        let sa = if planned.disabled.as_ref_option().copied() == Some(true) {
            let body = UpdateServiceAccount {
                status: Some(ServiceAccountStatus::Disabled),
                ..Default::default()
            };
            match ctx.client.update_service_account(org, sa.id, &body).await {
                Ok(sa) => sa,
                Err(e) => {
                    api_error(diags, &what(&planned), &e);
                    sa
                }
            }
        } else {
            sa
        };
        Some((State::from_api(&sa), private))
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
        let (org, id) = ids(diags, &prior)?;
        let mut body = UpdateServiceAccount::default();
        if planned.name != prior.name {
            body.name = Some(parse_value(
                diags,
                "name",
                Name::parse("name", planned.name.as_deref_option().unwrap_or("")),
            )?);
        }
        if planned.description != prior.description {
            let d = planned.description.as_deref_option().unwrap_or("");
            body.description = Some(parse_value(
                diags,
                "description",
                Desc::parse("description", d),
            )?);
        }
        if planned.disabled != prior.disabled {
            body.status = Some(if planned.disabled.as_ref_option().copied() == Some(true) {
                ServiceAccountStatus::Disabled
            } else {
                ServiceAccountStatus::Active
            });
        }
        match ctx.client.update_service_account(org, id, &body).await {
            Ok(sa) => Some((State::from_api(&sa), private)),
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
        let (org, id) = ids(diags, &state)?;
        match ctx.client.delete_service_account(org, id).await {
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
        let (org, id) = split_import_id(diags, &id)?;
        let org = parse_id(diags, "organization_id", &org)?;
        let id = parse_id(diags, "id", &id)?;
        match ctx.client.get_service_account(org, id).await {
            Ok(sa) => Some((State::from_api(&sa), ValueEmpty::default())),
            Err(e) => {
                api_error(diags, "tron_service_account import", &e);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> ValueString<'static> {
        string(v)
    }

    #[test]
    fn a_new_account_is_planned_with_what_the_api_will_answer() {
        let p = plan_new(
            State {
                name: s("ci"),
                ..Default::default()
            },
            "org".into(),
        );
        assert_eq!(p.organization_id, s("org"));
        assert_eq!(p.description, s(""));
        assert_eq!(p.disabled, Value::Value(false));
        assert_eq!(p.status, s("active"));
        assert!(p.id.is_unknown() && p.member_id.is_unknown());
    }

    #[test]
    fn a_rename_is_in_place_and_a_move_replaces() {
        let prior = State {
            id: s("id"),
            organization_id: s("org"),
            name: s("ci"),
            disabled: Value::Value(false),
            status: s("active"),
            ..Default::default()
        };
        let (p, r) = plan_change(
            &prior,
            State {
                name: s("ci2"),
                disabled: Value::Value(true),
                organization_id: Value::Null,
                ..prior.clone()
            },
        );
        assert!(r.is_empty());
        assert_eq!(p.organization_id, s("org"));
        assert_eq!(p.status, s("disabled"));
        let (_, r) = plan_change(
            &prior,
            State {
                organization_id: s("other"),
                ..prior.clone()
            },
        );
        assert_eq!(r.len(), 1);
    }
}
