//! The `tron_environment` and `tron_application` data sources, by name.
use async_trait::async_trait;
use tf_provider::schema::{AttributeConstraint, Schema};
use tf_provider::value::ValueEmpty;
use tf_provider::{AttributePath, DataSource, Diagnostics};
use tron_client::ListParams;

use crate::common::{api_error, organization, Shared};
use crate::platform::{app_state, env_state, schema_of, AppState, EnvState};

#[derive(Clone)]
pub struct EnvironmentData(pub Shared);

#[async_trait]
impl DataSource for EnvironmentData {
    type State<'a> = EnvState<'a>;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema_of("An environment, found by name", false))
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: EnvState<'a>,
        _meta: ValueEmpty,
    ) -> Option<EnvState<'a>> {
        let ctx = self.0.ctx(diags)?;
        let org = organization(diags, &ctx, &config.organization_id)?;
        let name = config.name.as_deref_option().unwrap_or("").to_owned();
        let mut page = ListParams::limit(200);
        loop {
            let p = match ctx.client.list_environments(org, &page).await {
                Ok(p) => p,
                Err(e) => {
                    api_error(diags, "data.tron_environment", &e);
                    return None;
                }
            };
            if let Some(e) = p.items.iter().find(|e| e.name == name) {
                return Some(env_state(org, e));
            }
            match p.next_cursor {
                Some(c) => page.cursor = Some(c),
                None => break,
            }
        }
        diags.error_short(
            format!("No environment named {name:?}"),
            AttributePath::new("name"),
        );
        None
    }
}

#[derive(Clone)]
pub struct ApplicationData(pub Shared);

#[async_trait]
impl DataSource for ApplicationData {
    type State<'a> = AppState<'a>;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let mut s = schema_of("An application, found by name", true);
        if let Some(r) = s.block.attributes.get_mut("repository") {
            r.constraint = AttributeConstraint::Computed;
        }
        Some(s)
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: AppState<'a>,
        _meta: ValueEmpty,
    ) -> Option<AppState<'a>> {
        let ctx = self.0.ctx(diags)?;
        let org = organization(diags, &ctx, &config.organization_id)?;
        let name = config.name.as_deref_option().unwrap_or("").to_owned();
        let mut page = ListParams::limit(200);
        loop {
            let p = match ctx.client.list_applications(org, &page).await {
                Ok(p) => p,
                Err(e) => {
                    api_error(diags, "data.tron_application", &e);
                    return None;
                }
            };
            if let Some(a) = p.items.iter().find(|a| a.name == name) {
                return Some(app_state(org, a));
            }
            match p.next_cursor {
                Some(c) => page.cursor = Some(c),
                None => break,
            }
        }
        diags.error_short(
            format!("No application named {name:?}"),
            AttributePath::new("name"),
        );
        None
    }
}
