//! The provider block: `url`, `token` (sensitive) and the default
//! `organization_id`; `TRON_URL` and `TRON_TOKEN` stand in for the first two.
use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, Schema,
};
use tf_provider::value::{ValueEmpty, ValueString};
use tf_provider::{map, AttributePath, Diagnostics, DynamicDataSource, DynamicResource, Provider};
use tron_client::Client;

use crate::common::{known, parse_id, Ctx, Shared};
use crate::{
    data_sources, group, group_member, member, platform, platform_data, service_account, settings,
    token, trust_policy, webhook,
};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Config<'a> {
    pub url: ValueString<'a>,
    pub token: ValueString<'a>,
    pub organization_id: ValueString<'a>,
}

#[derive(Clone, Default)]
pub struct TronProvider {
    shared: Shared,
}

pub fn attr(ty: AttributeType, constraint: AttributeConstraint, doc: &str) -> Attribute {
    Attribute {
        attr_type: ty,
        description: Description::plain(doc.to_owned()),
        constraint,
        ..Default::default()
    }
}

#[async_trait]
impl Provider for TronProvider {
    type Config<'a> = Config<'a>;
    type MetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        use AttributeConstraint::Optional;
        Some(Schema {
            version: 1,
            block: Block {
                description: Description::plain(
                    "Tron: service accounts, tokens and groups as code",
                ),
                attributes: map! {
                    "url" => attr(AttributeType::String, Optional, "The Tron server's root URL (or TRON_URL)"),
                    "token" => Attribute {
                        sensitive: true,
                        ..attr(AttributeType::String, Optional, "A token of an organization admin (or TRON_TOKEN)")
                    },
                    "organization_id" => attr(AttributeType::String, Optional, "The default organization of every resource"),
                },
                ..Default::default()
            },
        })
    }

    async fn configure<'a>(
        &self,
        diags: &mut Diagnostics,
        _terraform_version: String,
        config: Self::Config<'a>,
    ) -> Option<()> {
        let url = known(&config.url).or_else(|| std::env::var("TRON_URL").ok());
        let token = known(&config.token).or_else(|| std::env::var("TRON_TOKEN").ok());
        let Some(url) = url.filter(|u| !u.is_empty()) else {
            diags.error_short(
                "The Tron server's URL is missing: set `url` or TRON_URL",
                AttributePath::new("url"),
            );
            return None;
        };
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            diags.error_short(
                "The Tron token is missing: set `token` or TRON_TOKEN",
                AttributePath::new("token"),
            );
            return None;
        };
        let organization_id = match known(&config.organization_id) {
            Some(s) => Some(parse_id(diags, "organization_id", &s)?),
            None => None,
        };
        self.shared.set(Ctx {
            client: Client::new(url).with_token(token),
            organization_id,
        });
        Some(())
    }

    fn get_resources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicResource>>> {
        Some(map! {
            "service_account" => service_account::ServiceAccountResource(self.shared.clone()),
            "service_account_token" => token::TokenResource(self.shared.clone()),
            "group" => group::GroupResource(self.shared.clone()),
            "group_member" => group_member::GroupMemberResource(self.shared.clone()),
            "trust_policy" => trust_policy::TrustPolicyResource(self.shared.clone()),
            "environment" => platform::EnvironmentResource(self.shared.clone()),
            "application" => platform::ApplicationResource(self.shared.clone()),
            "organization_member" => member::OrganizationMemberResource(self.shared.clone()),
            "organization_settings" => settings::OrganizationSettingsResource(self.shared.clone()),
            "webhook" => webhook::WebhookResource(self.shared.clone()),
        })
    }

    fn get_data_sources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicDataSource>>> {
        Some(map! {
            "service_account" => data_sources::ServiceAccountData(self.shared.clone()),
            "organization" => data_sources::OrganizationData(self.shared.clone()),
            "access_check" => data_sources::AccessCheckData(self.shared.clone()),
            "environment" => platform_data::EnvironmentData(self.shared.clone()),
            "application" => platform_data::ApplicationData(self.shared.clone()),
        })
    }
}
