//! `tron_group_member`: one membership of a group; any change replaces it.
//! The API gives a membership no id of its own, so its `id` is
//! `GROUP_ID/MEMBER_ID` and its import id `ORG_ID/GROUP_ID/MEMBER_ID`.
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeConstraint, AttributeType, Block, Description, Schema};
use tf_provider::value::{Value, ValueEmpty, ValueString};
use tf_provider::{map, AttributePath, Diagnostics, Resource};
use tron_client::{GroupId, ListParams, MemberId, OrganizationId};

use crate::common::{
    api_error, is_not_found, organization, parse_id, split_import_id, string, Shared,
};
use crate::provider::attr;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MemberState<'a> {
    pub id: ValueString<'a>,
    pub organization_id: ValueString<'a>,
    pub group_id: ValueString<'a>,
    pub member_id: ValueString<'a>,
}

#[derive(Clone)]
pub struct GroupMemberResource(pub Shared);

fn member_ids(
    diags: &mut Diagnostics,
    s: &MemberState<'_>,
) -> Option<(OrganizationId, GroupId, MemberId)> {
    let org = parse_id(
        diags,
        "organization_id",
        s.organization_id.as_deref_option().unwrap_or(""),
    )?;
    let g = parse_id(
        diags,
        "group_id",
        s.group_id.as_deref_option().unwrap_or(""),
    )?;
    let m = parse_id(
        diags,
        "member_id",
        s.member_id.as_deref_option().unwrap_or(""),
    )?;
    Some((org, g, m))
}

/// Whether `member` is in `group`; `None` when the group is gone.
async fn is_member(
    client: &tron_client::Client,
    org: OrganizationId,
    group: GroupId,
    member: MemberId,
) -> Result<bool, tron_client::ClientError> {
    let mut page = ListParams::limit(200);
    loop {
        let p = match client.list_group_members(org, group, &page).await {
            Ok(p) => p,
            Err(e) if is_not_found(&e) => return Ok(false),
            Err(e) => return Err(e),
        };
        if p.items.iter().any(|m| m.id == member) {
            return Ok(true);
        }
        match p.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => return Ok(false),
        }
    }
}

#[async_trait]
impl Resource for GroupMemberResource {
    type State<'a> = MemberState<'a>;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        use AttributeConstraint::*;
        use AttributeType::String as S;
        Some(Schema {
            version: 1,
            block: Block {
                description: Description::plain(
                    "A member of a group (a user's or a service account's member id)",
                ),
                attributes: map! {
                    "id" => attr(S, Computed, "GROUP_ID/MEMBER_ID"),
                    "organization_id" => attr(S, OptionalComputed, "The organization (default: the provider's)"),
                    "group_id" => attr(S, Required, "The group"),
                    "member_id" => attr(S, Required, "The member (for example tron_service_account.x.member_id)"),
                },
                ..Default::default()
            },
        })
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: MemberState<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(MemberState<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        let (org, g, m) = member_ids(diags, &state)?;
        match is_member(&ctx.client, org, g, m).await {
            Ok(true) => Some((state, private)),
            Ok(false) => None,
            Err(e) => {
                api_error(diags, "tron_group_member", &e);
                Some((state, private))
            }
        }
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        mut proposed: MemberState<'a>,
        _config: MemberState<'a>,
        _meta: ValueEmpty,
    ) -> Option<(MemberState<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        if proposed.organization_id.is_null() {
            proposed.organization_id = string(organization(diags, &ctx, &Value::Null)?.to_string());
        }
        proposed.id = match (
            proposed.group_id.as_deref_option(),
            proposed.member_id.as_deref_option(),
        ) {
            (Some(g), Some(m)) => string(format!("{g}/{m}")),
            _ => Value::Unknown,
        };
        Some((proposed, ValueEmpty::default()))
    }

    async fn plan_update<'a>(
        &self,
        _diags: &mut Diagnostics,
        prior: MemberState<'a>,
        mut proposed: MemberState<'a>,
        _config: MemberState<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(MemberState<'a>, ValueEmpty, Vec<AttributePath>)> {
        if proposed.organization_id.is_null() {
            proposed.organization_id = prior.organization_id.clone();
        }
        let mut replace = Vec::new();
        for (name, a, b) in [
            (
                "organization_id",
                &proposed.organization_id,
                &prior.organization_id,
            ),
            ("group_id", &proposed.group_id, &prior.group_id),
            ("member_id", &proposed.member_id, &prior.member_id),
        ] {
            if a != b {
                replace.push(AttributePath::new(name));
            }
        }
        if !replace.is_empty() {
            proposed.id = Value::Unknown;
        }
        Some((proposed, private, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: MemberState<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<ValueEmpty> {
        Some(private)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        mut planned: MemberState<'a>,
        _config: MemberState<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(MemberState<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        let (org, g, m) = member_ids(diags, &planned)?;
        match ctx.client.add_group_member(org, g, m).await {
            Ok(()) => {
                planned.id = string(format!("{g}/{m}"));
                Some((planned, private))
            }
            Err(e) => {
                api_error(diags, "tron_group_member", &e);
                None
            }
        }
    }

    async fn update<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: MemberState<'a>,
        planned: MemberState<'a>,
        _config: MemberState<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(MemberState<'a>, ValueEmpty)> {
        Some((planned, private))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        state: MemberState<'a>,
        _private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<()> {
        let ctx = self.0.ctx(diags)?;
        let (org, g, m) = member_ids(diags, &state)?;
        match ctx.client.remove_group_member(org, g, m).await {
            Ok(()) => Some(()),
            Err(e) if is_not_found(&e) => Some(()),
            Err(e) => {
                api_error(diags, "tron_group_member", &e);
                None
            }
        }
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(MemberState<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        let (org, rest) = split_import_id(diags, &id)?;
        let Some((g, m)) = rest.split_once('/') else {
            diags.root_error(
                "Invalid import id",
                "A group membership's import id is ORGANIZATION_ID/GROUP_ID/MEMBER_ID.",
            );
            return None;
        };
        let state = MemberState {
            id: string(format!("{g}/{m}")),
            organization_id: string(org),
            group_id: string(g),
            member_id: string(m),
        };
        let (org, g, m) = member_ids(diags, &state)?;
        match is_member(&ctx.client, org, g, m).await {
            Ok(true) => Some((state, ValueEmpty::default())),
            Ok(false) => {
                diags.root_error(
                    "Cannot import tron_group_member",
                    "not_found: that member is not in that group",
                );
                None
            }
            Err(e) => {
                api_error(diags, "tron_group_member import", &e);
                None
            }
        }
    }
}
