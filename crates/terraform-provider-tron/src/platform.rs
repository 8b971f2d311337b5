//! `tron_environment` and `tron_application` (renames and a repository
//! change in place), and their data sources by name.
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeConstraint, AttributeType, Block, Description, Schema};
use tf_provider::value::{Value, ValueEmpty, ValueString};
use tf_provider::{map, AttributePath, Diagnostics, Resource};
use tron_client::{
    Application, ApplicationId, CreateApplication, Environment, EnvironmentId, Name,
    OrganizationId, ShortText, UpdateApplication,
};

use crate::common::{
    api_error, is_not_found, known, organization, parse_id, parse_value, split_import_id, string,
    time, Shared,
};
use crate::provider::attr;

/// The state of an environment (`repository` stays null) or an application.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EnvState<'a> {
    pub id: ValueString<'a>,
    pub organization_id: ValueString<'a>,
    pub name: ValueString<'a>,
    pub created_at: ValueString<'a>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AppState<'a> {
    pub id: ValueString<'a>,
    pub organization_id: ValueString<'a>,
    pub name: ValueString<'a>,
    pub repository: ValueString<'a>,
    pub created_at: ValueString<'a>,
}

pub fn env_state(org: OrganizationId, e: &Environment) -> EnvState<'static> {
    EnvState {
        id: string(e.id.to_string()),
        organization_id: string(org.to_string()),
        name: string(e.name.clone()),
        created_at: time(e.created_at),
    }
}

pub fn app_state(org: OrganizationId, a: &Application) -> AppState<'static> {
    AppState {
        id: string(a.id.to_string()),
        organization_id: string(org.to_string()),
        name: string(a.name.clone()),
        repository: a.repository.clone().map(string).unwrap_or(Value::Null),
        created_at: time(a.created_at),
    }
}

fn org_and_id<T: std::str::FromStr>(
    diags: &mut Diagnostics,
    org: &ValueString<'_>,
    id: &ValueString<'_>,
) -> Option<(OrganizationId, T)> {
    let o = parse_id(
        diags,
        "organization_id",
        org.as_deref_option().unwrap_or(""),
    )?;
    let i = parse_id(diags, "id", id.as_deref_option().unwrap_or(""))?;
    Some((o, i))
}

fn name_of(diags: &mut Diagnostics, v: &ValueString<'_>) -> Option<Name> {
    parse_value(
        diags,
        "name",
        Name::parse("name", v.as_deref_option().unwrap_or("")),
    )
}

pub fn schema_of(doc: &str, repository: bool) -> Schema {
    use AttributeConstraint::*;
    use AttributeType::String as S;
    let mut attributes = map! {
        "id" => attr(S, Computed, "Its id"),
        "organization_id" => attr(S, OptionalComputed, "Its organization (default: the provider's); changing it replaces it"),
        "name" => attr(S, Required, "1-63 characters of [a-z0-9-], unique in the organization"),
        "created_at" => attr(S, Computed, "RFC 3339"),
    };
    if repository {
        attributes.insert(
            "repository".into(),
            attr(S, Optional, "Its source repository"),
        );
    }
    Schema {
        version: 1,
        block: Block {
            description: Description::plain(doc.to_owned()),
            attributes,
            ..Default::default()
        },
    }
}

fn move_replaces(prior: &ValueString<'_>, proposed: &mut ValueString<'_>) -> Vec<AttributePath> {
    if proposed.is_null() {
        *proposed = string(prior.as_deref_option().unwrap_or("").to_owned());
    }
    if proposed.as_deref_option() != prior.as_deref_option() {
        vec![AttributePath::new("organization_id")]
    } else {
        Vec::new()
    }
}

#[derive(Clone)]
pub struct EnvironmentResource(pub Shared);

#[async_trait]
impl Resource for EnvironmentResource {
    type State<'a> = EnvState<'a>;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema_of("An environment (dev, prod, ...)", false))
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: EnvState<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(EnvState<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        let (org, id): (_, EnvironmentId) = org_and_id(diags, &state.organization_id, &state.id)?;
        match ctx.client.get_environment(org, id).await {
            Ok(e) => Some((env_state(org, &e), private)),
            Err(e) if is_not_found(&e) => None,
            Err(e) => {
                api_error(diags, "tron_environment", &e);
                Some((state, private))
            }
        }
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        mut proposed: EnvState<'a>,
        _config: EnvState<'a>,
        _meta: ValueEmpty,
    ) -> Option<(EnvState<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        if proposed.organization_id.is_null() {
            proposed.organization_id = string(organization(diags, &ctx, &Value::Null)?.to_string());
        }
        proposed.id = Value::Unknown;
        proposed.created_at = Value::Unknown;
        Some((proposed, ValueEmpty::default()))
    }

    async fn plan_update<'a>(
        &self,
        _diags: &mut Diagnostics,
        prior: EnvState<'a>,
        mut proposed: EnvState<'a>,
        _config: EnvState<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(EnvState<'a>, ValueEmpty, Vec<AttributePath>)> {
        let replace = move_replaces(&prior.organization_id, &mut proposed.organization_id);
        Some((proposed, private, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: EnvState<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<ValueEmpty> {
        Some(private)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: EnvState<'a>,
        _config: EnvState<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(EnvState<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        let org: OrganizationId = parse_id(
            diags,
            "organization_id",
            planned.organization_id.as_deref_option().unwrap_or(""),
        )?;
        let name = name_of(diags, &planned.name)?;
        match ctx.client.create_environment(org, name.as_ref()).await {
            Ok(e) => Some((env_state(org, &e), private)),
            Err(e) => {
                api_error(diags, &format!("tron_environment {:?}", name.as_ref()), &e);
                None
            }
        }
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: EnvState<'a>,
        planned: EnvState<'a>,
        _config: EnvState<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(EnvState<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        let (org, id): (_, EnvironmentId) = org_and_id(diags, &prior.organization_id, &prior.id)?;
        let name = name_of(diags, &planned.name)?;
        match ctx.client.rename_environment(org, id, name.as_ref()).await {
            Ok(e) => Some((env_state(org, &e), private)),
            Err(e) => {
                api_error(diags, &format!("tron_environment {:?}", name.as_ref()), &e);
                None
            }
        }
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        state: EnvState<'a>,
        _private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<()> {
        let ctx = self.0.ctx(diags)?;
        let (org, id): (_, EnvironmentId) = org_and_id(diags, &state.organization_id, &state.id)?;
        match ctx.client.delete_environment(org, id).await {
            Ok(()) => Some(()),
            Err(e) if is_not_found(&e) => Some(()),
            Err(e) => {
                api_error(diags, "tron_environment", &e);
                None
            }
        }
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(EnvState<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        let (org, id) = split_import_id(diags, &id)?;
        let (org, id): (_, EnvironmentId) = org_and_id(diags, &string(org), &string(id))?;
        match ctx.client.get_environment(org, id).await {
            Ok(e) => Some((env_state(org, &e), ValueEmpty::default())),
            Err(e) => {
                api_error(diags, "tron_environment import", &e);
                None
            }
        }
    }
}

#[derive(Clone)]
pub struct ApplicationResource(pub Shared);

fn repository(diags: &mut Diagnostics, v: &ValueString<'_>) -> Option<Option<ShortText>> {
    match known(v) {
        Some(r) => Some(Some(parse_value(
            diags,
            "repository",
            ShortText::parse("repository", &r),
        )?)),
        None => Some(None),
    }
}

#[async_trait]
impl Resource for ApplicationResource {
    type State<'a> = AppState<'a>;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema_of("An application", true))
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: AppState<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(AppState<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        let (org, id): (_, ApplicationId) = org_and_id(diags, &state.organization_id, &state.id)?;
        match ctx.client.get_application(org, id).await {
            Ok(a) => Some((app_state(org, &a), private)),
            Err(e) if is_not_found(&e) => None,
            Err(e) => {
                api_error(diags, "tron_application", &e);
                Some((state, private))
            }
        }
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        mut proposed: AppState<'a>,
        _config: AppState<'a>,
        _meta: ValueEmpty,
    ) -> Option<(AppState<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        if proposed.organization_id.is_null() {
            proposed.organization_id = string(organization(diags, &ctx, &Value::Null)?.to_string());
        }
        proposed.id = Value::Unknown;
        proposed.created_at = Value::Unknown;
        Some((proposed, ValueEmpty::default()))
    }

    async fn plan_update<'a>(
        &self,
        _diags: &mut Diagnostics,
        prior: AppState<'a>,
        mut proposed: AppState<'a>,
        _config: AppState<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(AppState<'a>, ValueEmpty, Vec<AttributePath>)> {
        let replace = move_replaces(&prior.organization_id, &mut proposed.organization_id);
        Some((proposed, private, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: AppState<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<ValueEmpty> {
        Some(private)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: AppState<'a>,
        _config: AppState<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(AppState<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        let org: OrganizationId = parse_id(
            diags,
            "organization_id",
            planned.organization_id.as_deref_option().unwrap_or(""),
        )?;
        let body = CreateApplication {
            name: name_of(diags, &planned.name)?,
            repository: repository(diags, &planned.repository)?,
        };
        match ctx.client.create_application(org, &body).await {
            Ok(a) => Some((app_state(org, &a), private)),
            Err(e) => {
                api_error(
                    diags,
                    &format!("tron_application {:?}", body.name.as_ref()),
                    &e,
                );
                None
            }
        }
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: AppState<'a>,
        planned: AppState<'a>,
        _config: AppState<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(AppState<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        let (org, id): (_, ApplicationId) = org_and_id(diags, &prior.organization_id, &prior.id)?;
        let mut body = UpdateApplication::default();
        if planned.name != prior.name {
            body.name = Some(name_of(diags, &planned.name)?);
        }
        if planned.repository != prior.repository {
            body.repository = Some(repository(diags, &planned.repository)?);
        }
        match ctx.client.update_application(org, id, &body).await {
            Ok(a) => Some((app_state(org, &a), private)),
            Err(e) => {
                api_error(diags, "tron_application", &e);
                None
            }
        }
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        state: AppState<'a>,
        _private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<()> {
        let ctx = self.0.ctx(diags)?;
        let (org, id): (_, ApplicationId) = org_and_id(diags, &state.organization_id, &state.id)?;
        match ctx.client.delete_application(org, id).await {
            Ok(()) => Some(()),
            Err(e) if is_not_found(&e) => Some(()),
            Err(e) => {
                api_error(diags, "tron_application", &e);
                None
            }
        }
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(AppState<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        let (org, id) = split_import_id(diags, &id)?;
        let (org, id): (_, ApplicationId) = org_and_id(diags, &string(org), &string(id))?;
        match ctx.client.get_application(org, id).await {
            Ok(a) => Some((app_state(org, &a), ValueEmpty::default())),
            Err(e) => {
                api_error(diags, "tron_application import", &e);
                None
            }
        }
    }
}
