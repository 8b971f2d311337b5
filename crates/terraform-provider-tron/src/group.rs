//! `tron_group`: name, description, role and scope change in place.
use std::collections::BTreeSet;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeConstraint, AttributeType, Block, Description, Schema};
use tf_provider::value::{Value, ValueEmpty, ValueNumber, ValueSet, ValueString};
use tf_provider::{map, AttributePath, Diagnostics, Resource};
use tron_client::{
    CreateGroup, Description as Desc, DisplayName, Group, GroupId, OrganizationId, Role, Scope,
    UpdateGroup,
};

use crate::common::{
    api_error, is_not_found, known, organization, parse_id, parse_value, split_import_id, string,
    time, Shared,
};
use crate::provider::attr;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct GroupState<'a> {
    pub id: ValueString<'a>,
    pub organization_id: ValueString<'a>,
    pub name: ValueString<'a>,
    pub description: ValueString<'a>,
    pub role: ValueString<'a>,
    pub scope_type: ValueString<'a>,
    pub environment_ids: ValueSet<ValueString<'a>>,
    pub application_ids: ValueSet<ValueString<'a>>,
    pub member_count: ValueNumber,
    pub created_at: ValueString<'a>,
}

fn id_set<'a, T: ToString>(ids: &[T]) -> ValueSet<ValueString<'a>> {
    Value::Value(ids.iter().map(|i| string(i.to_string())).collect())
}

fn role_str(r: Role) -> &'static str {
    match r {
        Role::Viewer => "viewer",
        Role::Editor => "editor",
        Role::Admin => "admin",
    }
}

impl GroupState<'static> {
    fn from_api(org: OrganizationId, g: &Group) -> Self {
        let (scope_type, environment_ids, application_ids) = match &g.scope {
            Scope::Organization => ("organization", Value::Null, Value::Null),
            Scope::Environment { environment_ids } => {
                ("environment", id_set(environment_ids), Value::Null)
            }
            Scope::Application { application_ids } => {
                ("application", Value::Null, id_set(application_ids))
            }
        };
        GroupState {
            id: string(g.id.to_string()),
            organization_id: string(org.to_string()),
            name: string(g.name.clone()),
            description: string(g.description.clone()),
            role: string(role_str(g.role)),
            scope_type: string(scope_type),
            environment_ids,
            application_ids,
            member_count: Value::Value(g.member_count),
            created_at: time(g.created_at),
        }
    }
}

fn strings(v: &ValueSet<ValueString<'_>>) -> Vec<String> {
    v.as_ref_option()
        .map(|s: &BTreeSet<_>| s.iter().filter_map(known).collect())
        .unwrap_or_default()
}

/// The API's scope of a group's attributes, or an error on `scope_type`.
pub fn scope_of(diags: &mut Diagnostics, s: &GroupState<'_>) -> Option<serde_json::Value> {
    let env = strings(&s.environment_ids);
    let app = strings(&s.application_ids);
    let scope = match s.scope_type.as_deref_option() {
        Some("organization") if env.is_empty() && app.is_empty() => {
            serde_json::json!({"type": "organization"})
        }
        Some("environment") if !env.is_empty() && app.is_empty() => {
            serde_json::json!({"type": "environment", "environment_ids": env})
        }
        Some("application") if !app.is_empty() && env.is_empty() => {
            serde_json::json!({"type": "application", "application_ids": app})
        }
        _ => {
            diags.error(
                "Invalid group scope",
                "scope_type is organization (no ids), environment (with environment_ids) or application (with application_ids)",
                AttributePath::new("scope_type"),
            );
            return None;
        }
    };
    Some(scope)
}

#[derive(Clone)]
pub struct GroupResource(pub Shared);

fn what(s: &GroupState<'_>) -> String {
    format!("tron_group {:?}", s.name.as_deref_option().unwrap_or(""))
}

fn group_ids(diags: &mut Diagnostics, s: &GroupState<'_>) -> Option<(OrganizationId, GroupId)> {
    let org = parse_id(
        diags,
        "organization_id",
        s.organization_id.as_deref_option().unwrap_or(""),
    )?;
    let id = parse_id(diags, "id", s.id.as_deref_option().unwrap_or(""))?;
    Some((org, id))
}

#[async_trait]
impl Resource for GroupResource {
    type State<'a> = GroupState<'a>;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        use AttributeConstraint::*;
        use AttributeType::{Number, String as S};
        let ids = || AttributeType::Set(Box::new(S));
        Some(Schema {
            version: 1,
            block: Block {
                description: Description::plain(
                    "A group: a role over a scope, granted to its members",
                ),
                attributes: map! {
                    "id" => attr(S, Computed, "The group's id"),
                    "organization_id" => attr(S, OptionalComputed, "Its organization (default: the provider's); changing it replaces the group"),
                    "name" => attr(S, Required, "1-100 characters, unique in the organization"),
                    "description" => attr(S, OptionalComputed, "Free text"),
                    "role" => attr(S, Required, "viewer, editor or admin"),
                    "scope_type" => attr(S, Required, "organization, environment or application"),
                    "environment_ids" => attr(ids(), Optional, "With scope_type environment"),
                    "application_ids" => attr(ids(), Optional, "With scope_type application"),
                    "member_count" => attr(Number, Computed, "How many members it has"),
                    "created_at" => attr(S, Computed, "RFC 3339"),
                },
                ..Default::default()
            },
        })
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: GroupState<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(GroupState<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        let (org, id) = group_ids(diags, &state)?;
        match ctx.client.get_group(org, id).await {
            Ok(g) => Some((GroupState::from_api(org, &g), private)),
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
        mut proposed: GroupState<'a>,
        _config: GroupState<'a>,
        _meta: ValueEmpty,
    ) -> Option<(GroupState<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        if proposed.organization_id.is_null() {
            proposed.organization_id = string(organization(diags, &ctx, &Value::Null)?.to_string());
        }
        if proposed.description.is_null() {
            proposed.description = string("");
        }
        proposed.id = Value::Unknown;
        proposed.member_count = Value::Unknown;
        proposed.created_at = Value::Unknown;
        Some((proposed, ValueEmpty::default()))
    }

    async fn plan_update<'a>(
        &self,
        _diags: &mut Diagnostics,
        prior: GroupState<'a>,
        mut proposed: GroupState<'a>,
        _config: GroupState<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(GroupState<'a>, ValueEmpty, Vec<AttributePath>)> {
        if proposed.organization_id.is_null() {
            proposed.organization_id = prior.organization_id.clone();
        }
        let mut replace = Vec::new();
        if proposed.organization_id != prior.organization_id {
            replace.push(AttributePath::new("organization_id"));
        }
        if proposed != prior {
            // Another apply may add or remove members meanwhile.
            proposed.member_count = Value::Unknown;
        }
        Some((proposed, private, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: GroupState<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<ValueEmpty> {
        Some(private)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: GroupState<'a>,
        _config: GroupState<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(GroupState<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        let org: OrganizationId = parse_id(
            diags,
            "organization_id",
            planned.organization_id.as_deref_option().unwrap_or(""),
        )?;
        let name = parse_value(
            diags,
            "name",
            DisplayName::parse("name", planned.name.as_deref_option().unwrap_or("")),
        )?;
        let description = match known(&planned.description).filter(|d| !d.is_empty()) {
            Some(d) => Some(parse_value(
                diags,
                "description",
                Desc::parse("description", &d),
            )?),
            None => None,
        };
        let scope = scope_of(diags, &planned)?;
        let body = CreateGroup {
            name,
            description,
            role: known(&planned.role).unwrap_or_default(),
            scope,
        };
        match ctx.client.create_group(org, &body).await {
            Ok(g) => Some((GroupState::from_api(org, &g), private)),
            Err(e) => {
                api_error(diags, &what(&planned), &e);
                None
            }
        }
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: GroupState<'a>,
        planned: GroupState<'a>,
        _config: GroupState<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(GroupState<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        let (org, id) = group_ids(diags, &prior)?;
        let mut body = UpdateGroup::default();
        if planned.name != prior.name {
            body.name = Some(parse_value(
                diags,
                "name",
                DisplayName::parse("name", planned.name.as_deref_option().unwrap_or("")),
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
        if planned.role != prior.role {
            body.role = known(&planned.role);
        }
        if planned.scope_type != prior.scope_type
            || planned.environment_ids != prior.environment_ids
            || planned.application_ids != prior.application_ids
        {
            body.scope = Some(scope_of(diags, &planned)?);
        }
        match ctx.client.update_group(org, id, &body).await {
            Ok(g) => Some((GroupState::from_api(org, &g), private)),
            Err(e) => {
                api_error(diags, &what(&planned), &e);
                None
            }
        }
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        state: GroupState<'a>,
        _private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<()> {
        let ctx = self.0.ctx(diags)?;
        let (org, id) = group_ids(diags, &state)?;
        match ctx.client.delete_group(org, id).await {
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
    ) -> Option<(GroupState<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        let (org, id) = split_import_id(diags, &id)?;
        let org: OrganizationId = parse_id(diags, "organization_id", &org)?;
        let id: GroupId = parse_id(diags, "id", &id)?;
        match ctx.client.get_group(org, id).await {
            Ok(g) => Some((GroupState::from_api(org, &g), ValueEmpty::default())),
            Err(e) => {
                api_error(diags, "tron_group import", &e);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_needs_the_ids_of_its_type_only() {
        let mut d = Diagnostics::default();
        let org = GroupState {
            scope_type: string("organization"),
            ..Default::default()
        };
        assert_eq!(
            scope_of(&mut d, &org),
            Some(serde_json::json!({"type": "organization"}))
        );
        let env = GroupState {
            scope_type: string("environment"),
            environment_ids: Value::Value([string("e1")].into_iter().collect()),
            ..Default::default()
        };
        assert_eq!(
            scope_of(&mut d, &env).unwrap()["environment_ids"],
            serde_json::json!(["e1"])
        );
        let bad = GroupState {
            scope_type: string("environment"),
            ..Default::default()
        };
        assert_eq!(scope_of(&mut d, &bad), None);
        let mixed = GroupState {
            scope_type: string("organization"),
            ..env
        };
        assert_eq!(scope_of(&mut d, &mixed), None);
    }
}
