//! Data sources: `tron_service_account` by name, `tron_organization`,
//! `tron_access_check`.
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeConstraint, AttributeType, Block, Description, Schema};
use tf_provider::value::{Value, ValueBool, ValueEmpty, ValueList, ValueNumber, ValueString};
use tf_provider::{map, AttributePath, DataSource, Diagnostics};
use tron_client::{AccessCheck, ListParams, OrganizationId};

use crate::common::{api_error, organization, parse_id, string, time, Shared};
use crate::provider::attr;
use crate::service_account::State;

#[derive(Clone)]
pub struct ServiceAccountData(pub Shared);

#[async_trait]
impl DataSource for ServiceAccountData {
    type State<'a> = State<'a>;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        use AttributeConstraint::*;
        use AttributeType::{Bool, String as S};
        Some(Schema {
            version: 1,
            block: Block {
                description: Description::plain("A service account, found by name"),
                attributes: map! {
                    "name" => attr(S, Required, "Its name"),
                    "organization_id" => attr(S, OptionalComputed, "Its organization (default: the provider's)"),
                    "id" => attr(S, Computed, "Its id"),
                    "description" => attr(S, Computed, "Its description"),
                    "disabled" => attr(Bool, Computed, "Whether it is disabled"),
                    "status" => attr(S, Computed, "active or disabled"),
                    "member_id" => attr(S, Computed, "Its member id"),
                    "created_at" => attr(S, Computed, "RFC 3339"),
                },
                ..Default::default()
            },
        })
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: State<'a>,
        _meta: ValueEmpty,
    ) -> Option<State<'a>> {
        let ctx = self.0.ctx(diags)?;
        let org = organization(diags, &ctx, &config.organization_id)?;
        let name = config.name.as_deref_option().unwrap_or("").to_owned();
        let mut page = ListParams::limit(200);
        loop {
            let p = match ctx.client.list_service_accounts(org, &page).await {
                Ok(p) => p,
                Err(e) => {
                    api_error(diags, &format!("data.tron_service_account {name:?}"), &e);
                    return None;
                }
            };
            if let Some(sa) = p.items.iter().find(|sa| sa.name == name) {
                return Some(State::from_api(sa));
            }
            match p.next_cursor {
                Some(c) => page.cursor = Some(c),
                None => break,
            }
        }
        diags.error_short(
            format!("No service account named {name:?} in organization {org}"),
            AttributePath::new("name"),
        );
        None
    }
}

/// `tron_organization`: by `id`, or by `name` among the caller's
/// organizations.
#[derive(Clone)]
pub struct OrganizationData(pub Shared);

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OrganizationState<'a> {
    pub id: ValueString<'a>,
    pub name: ValueString<'a>,
    pub max_token_lifetime_days: ValueNumber,
    pub created_at: ValueString<'a>,
}

#[async_trait]
impl DataSource for OrganizationData {
    type State<'a> = OrganizationState<'a>;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        use AttributeConstraint::*;
        use AttributeType::{Number, String as S};
        Some(Schema {
            version: 1,
            block: Block {
                description: Description::plain(
                    "An organization the token is a member of, by id or by name",
                ),
                attributes: map! {
                    "id" => attr(S, OptionalComputed, "Its id"),
                    "name" => attr(S, OptionalComputed, "Its name"),
                    "max_token_lifetime_days" => attr(Number, Computed, "The longest service-token lifetime it allows (null: no limit)"),
                    "created_at" => attr(S, Computed, "RFC 3339"),
                },
                ..Default::default()
            },
        })
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: OrganizationState<'a>,
        _meta: ValueEmpty,
    ) -> Option<OrganizationState<'a>> {
        let ctx = self.0.ctx(diags)?;
        let found = if let Some(id) = config.id.as_deref_option() {
            let id: OrganizationId = parse_id(diags, "id", id)?;
            match ctx.client.get_organization(id).await {
                Ok(o) => Some(o),
                Err(e) => {
                    api_error(diags, "data.tron_organization", &e);
                    return None;
                }
            }
        } else {
            let name = config.name.as_deref_option().unwrap_or("").to_owned();
            let mut page = ListParams::limit(200);
            loop {
                let p = match ctx.client.list_organizations(&page).await {
                    Ok(p) => p,
                    Err(e) => {
                        api_error(diags, "data.tron_organization", &e);
                        return None;
                    }
                };
                if let Some(o) = p.items.into_iter().find(|o| o.name == name) {
                    break Some(o);
                }
                match p.next_cursor {
                    Some(c) => page.cursor = Some(c),
                    None => break None,
                }
            }
        };
        let Some(o) = found else {
            diags.error_short(
                "No organization of that name among the token's organizations",
                AttributePath::new("name"),
            );
            return None;
        };
        Some(OrganizationState {
            id: string(o.id.to_string()),
            name: string(o.name.clone()),
            max_token_lifetime_days: o
                .settings
                .max_token_lifetime_days
                .map(|d| Value::Value(i64::from(d)))
                .unwrap_or(Value::Null),
            created_at: time(o.created_at),
        })
    }

    async fn validate<'a>(
        &self,
        diags: &mut Diagnostics,
        config: OrganizationState<'a>,
    ) -> Option<()> {
        if config.id.is_null() && config.name.is_null() {
            diags.root_error_short("data.tron_organization needs `id` or `name`");
        }
        Some(())
    }
}

/// `tron_access_check`: may `member_id` (default: the provider's token) do
/// `action` on `resource`, and which groups grant it.
#[derive(Clone)]
pub struct AccessCheckData(pub Shared);

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant<'a> {
    pub group_id: ValueString<'a>,
    pub group_name: ValueString<'a>,
    pub role: ValueString<'a>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AccessCheckState<'a> {
    pub id: ValueString<'a>,
    pub organization_id: ValueString<'a>,
    pub resource: ValueString<'a>,
    pub action: ValueString<'a>,
    pub member_id: ValueString<'a>,
    pub allowed: ValueBool,
    pub superuser: ValueBool,
    pub granted_by: ValueList<Grant<'a>>,
}

#[async_trait]
impl DataSource for AccessCheckData {
    type State<'a> = AccessCheckState<'a>;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        use AttributeConstraint::*;
        use AttributeType::{Bool, String as S};
        let grant = AttributeType::Object(map! {
            "group_id" => S,
            "group_name" => S,
            "role" => S,
        });
        Some(Schema {
            version: 1,
            block: Block {
                description: Description::plain(
                    "Whether a member may do an action on a resource (SPEC §3)",
                ),
                attributes: map! {
                    "id" => attr(S, Computed, "organization/resource/action/member"),
                    "organization_id" => attr(S, OptionalComputed, "The organization (default: the provider's)"),
                    "resource" => attr(S, Required, "organization, environments, environment:<id>, service_accounts, ..."),
                    "action" => attr(S, Required, "view, create, update or delete"),
                    "member_id" => attr(S, Optional, "The member asked about (default: the provider's token)"),
                    "allowed" => attr(Bool, Computed, "The answer"),
                    "superuser" => attr(Bool, Computed, "Allowed as a platform superuser"),
                    "granted_by" => attr(AttributeType::List(Box::new(grant)), Computed, "The groups that grant it"),
                },
                ..Default::default()
            },
        })
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: AccessCheckState<'a>,
        _meta: ValueEmpty,
    ) -> Option<AccessCheckState<'a>> {
        let ctx = self.0.ctx(diags)?;
        let org = organization(diags, &ctx, &config.organization_id)?;
        let member_id = match config.member_id.as_deref_option() {
            Some(m) => Some(parse_id(diags, "member_id", m)?),
            None => None,
        };
        let query = AccessCheck {
            resource: config.resource.as_deref_option().unwrap_or("").to_owned(),
            action: config.action.as_deref_option().unwrap_or("").to_owned(),
            member_id,
        };
        match ctx.client.access_check(org, &query).await {
            Ok(d) => Some(AccessCheckState {
                id: string(format!(
                    "{org}/{}/{}/{}",
                    query.resource,
                    query.action,
                    config.member_id.as_deref_option().unwrap_or("self")
                )),
                organization_id: string(org.to_string()),
                allowed: Value::Value(d.allowed),
                superuser: Value::Value(d.superuser),
                granted_by: Value::Value(
                    d.granted_by
                        .iter()
                        .map(|g| Grant {
                            group_id: string(g.group_id.to_string()),
                            group_name: string(g.group_name.clone()),
                            role: string(
                                serde_json::to_value(g.role)
                                    .ok()
                                    .and_then(|v| v.as_str().map(str::to_owned))
                                    .unwrap_or_default(),
                            ),
                        })
                        .collect(),
                ),
                ..config
            }),
            Err(e) => {
                api_error(diags, "data.tron_access_check", &e);
                None
            }
        }
    }
}
