//! `tron_organization_member`: an existing user made a member of an
//! organization by email. The API has no role on a member (roles come from
//! groups, see `tron_group_member`) and no change of a member, so a new
//! email or organization replaces it.
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeConstraint, AttributeType, Block, Description, Schema};
use tf_provider::value::{Value, ValueEmpty, ValueString};
use tf_provider::{map, AttributePath, Diagnostics, Resource};
use tron_client::{
    Client, ClientError, ListParams, Member, MemberId, OrganizationId, PrincipalType,
};

use crate::common::{
    api_error, is_not_found, organization, parse_id, split_import_id, string, time, Shared,
};
use crate::provider::attr;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct State<'a> {
    pub id: ValueString<'a>,
    pub organization_id: ValueString<'a>,
    pub email: ValueString<'a>,
    pub user_id: ValueString<'a>,
    pub name: ValueString<'a>,
    pub created_at: ValueString<'a>,
}

/// The configured spelling of an email when it is the API's up to case
/// (the server finds users by email whatever its case).
pub fn email_as_configured(configured: Option<&str>, api: &str) -> String {
    match configured {
        Some(c) if c.trim().eq_ignore_ascii_case(api) => c.to_owned(),
        _ => api.to_owned(),
    }
}

impl State<'static> {
    fn from_api(org: OrganizationId, m: &Member, configured_email: Option<&str>) -> Self {
        let (email, user_id, name) = match &m.user {
            Some(u) => (
                string(email_as_configured(configured_email, &u.email)),
                string(u.id.to_string()),
                string(u.name.clone()),
            ),
            None => (Value::Null, Value::Null, Value::Null),
        };
        State {
            id: string(m.id.to_string()),
            organization_id: string(org.to_string()),
            email,
            user_id,
            name,
            created_at: time(m.created_at),
        }
    }
}

/// Every change replaces a member: the API cannot change one.
pub fn replace_paths(prior: &State<'_>, proposed: &State<'_>) -> Vec<AttributePath> {
    let mut replace = Vec::new();
    if proposed.organization_id != prior.organization_id {
        replace.push(AttributePath::new("organization_id"));
    }
    let same_email = match (
        proposed.email.as_deref_option(),
        prior.email.as_deref_option(),
    ) {
        (Some(a), Some(b)) => a.trim().eq_ignore_ascii_case(b.trim()),
        (a, b) => a == b,
    };
    if !same_email {
        replace.push(AttributePath::new("email"));
    }
    replace
}

/// The user member `pick` chooses, looked up in the organization's list
/// (the API has no route for one member); `None` when there is none.
async fn find_member(
    client: &Client,
    org: OrganizationId,
    pick: impl Fn(&Member) -> bool,
) -> Result<Option<Member>, ClientError> {
    let mut page = ListParams::limit(200);
    loop {
        let p = match client
            .list_members(org, Some(PrincipalType::User), &page)
            .await
        {
            Ok(p) => p,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        if let Some(m) = p.items.iter().find(|m| pick(m)) {
            return Ok(Some(m.clone()));
        }
        match page.next(&p) {
            Some(next) => page = next,
            None => return Ok(None),
        }
    }
}

#[derive(Clone)]
pub struct OrganizationMemberResource(pub Shared);

fn what(s: &State<'_>) -> String {
    format!(
        "tron_organization_member {:?}",
        s.email.as_deref_option().unwrap_or("")
    )
}

fn ids(diags: &mut Diagnostics, s: &State<'_>) -> Option<(OrganizationId, MemberId)> {
    let org = parse_id(
        diags,
        "organization_id",
        s.organization_id.as_deref_option().unwrap_or(""),
    )?;
    let id = parse_id(diags, "id", s.id.as_deref_option().unwrap_or(""))?;
    Some((org, id))
}

#[async_trait]
impl Resource for OrganizationMemberResource {
    type State<'a> = State<'a>;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        use AttributeConstraint::*;
        use AttributeType::String as S;
        Some(Schema {
            version: 1,
            block: Block {
                description: Description::plain(
                    "A user's membership of an organization (its roles come from groups)",
                ),
                attributes: map! {
                    "id" => attr(S, Computed, "The member id (for tron_group_member.member_id)"),
                    "organization_id" => attr(S, OptionalComputed, "The organization (default: the provider's); changing it replaces the member"),
                    "email" => attr(S, Required, "An existing user's email; changing it replaces the member"),
                    "user_id" => attr(S, Computed, "The user's id"),
                    "name" => attr(S, Computed, "The user's name"),
                    "created_at" => attr(S, Computed, "RFC 3339: when the user joined"),
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
        match find_member(&ctx.client, org, |m| m.id == id).await {
            Ok(Some(m)) => Some((
                State::from_api(org, &m, state.email.as_deref_option()),
                private,
            )),
            Ok(None) => None,
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
        proposed.id = Value::Unknown;
        proposed.user_id = Value::Unknown;
        proposed.name = Value::Unknown;
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
        let email = planned.email.as_deref_option().unwrap_or("");
        match ctx.client.add_member(org, email.trim()).await {
            Ok(m) => Some((State::from_api(org, &m, Some(email)), private)),
            Err(e) => {
                api_error(diags, &what(&planned), &e);
                None
            }
        }
    }

    async fn update<'a>(
        &self,
        _diags: &mut Diagnostics,
        prior: State<'a>,
        mut planned: State<'a>,
        _config: State<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State<'a>, ValueEmpty)> {
        // Only a change of an email's case reaches here (anything else
        // replaces the member): the same user, spelt as configured.
        planned.user_id = prior.user_id;
        planned.name = prior.name;
        planned.created_at = prior.created_at;
        Some((planned, private))
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
        match ctx.client.remove_member(org, id).await {
            Ok(()) => Some(()),
            Err(e) if is_not_found(&e) => Some(()),
            Err(e) => {
                api_error(diags, &what(&state), &e);
                None
            }
        }
    }

    /// `ORG_ID/MEMBER_ID`, or `ORG_ID/EMAIL`.
    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(State<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        let (org, key) = split_import_id(diags, &id)?;
        let org: OrganizationId = parse_id(diags, "organization_id", &org)?;
        let found = if key.contains('@') {
            let email = key.trim().to_owned();
            find_member(&ctx.client, org, |m| {
                m.user
                    .as_ref()
                    .is_some_and(|u| u.email.eq_ignore_ascii_case(&email))
            })
            .await
        } else {
            let member: MemberId = parse_id(diags, "id", &key)?;
            find_member(&ctx.client, org, |m| m.id == member).await
        };
        match found {
            Ok(Some(m)) => Some((State::from_api(org, &m, None), ValueEmpty::default())),
            Ok(None) => {
                diags.root_error(
                    "Cannot import tron_organization_member",
                    "not_found: no user member of that organization has that id or email",
                );
                None
            }
            Err(e) => {
                api_error(diags, "tron_organization_member import", &e);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_keeps_its_configured_case() {
        assert_eq!(
            email_as_configured(Some("Bob@Example.com"), "bob@example.com"),
            "Bob@Example.com"
        );
        assert_eq!(
            email_as_configured(Some("alice@example.com"), "bob@example.com"),
            "bob@example.com"
        );
        assert_eq!(
            email_as_configured(None, "bob@example.com"),
            "bob@example.com"
        );
    }

    #[test]
    fn another_email_or_organization_replaces_a_member() {
        let prior = State {
            organization_id: string("o"),
            email: string("bob@example.com"),
            ..Default::default()
        };
        let recased = State {
            email: string("Bob@Example.com"),
            ..prior.clone()
        };
        assert!(replace_paths(&prior, &recased).is_empty());
        let other = State {
            email: string("alice@example.com"),
            ..prior.clone()
        };
        assert_eq!(
            replace_paths(&prior, &other),
            vec![AttributePath::new("email")]
        );
        let moved = State {
            organization_id: string("o2"),
            ..prior.clone()
        };
        assert_eq!(
            replace_paths(&prior, &moved),
            vec![AttributePath::new("organization_id")]
        );
    }
}
