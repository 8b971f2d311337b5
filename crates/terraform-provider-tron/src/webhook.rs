//! `tron_webhook` (SPEC §8): the URL, events, description and `active`
//! change in place; moving it to another organization replaces it.
//!
//! Invariant: the signing secret is known only from the answer to the
//! create call. It lives in the state as a sensitive computed attribute, is
//! never printed, and an imported webhook has none (the API never shows a
//! secret again).
use std::collections::BTreeSet;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, Schema,
};
use tf_provider::value::{Value, ValueBool, ValueEmpty, ValueSet, ValueString};
use tf_provider::{map, AttributePath, Diagnostics, Resource};
use tron_client::{
    CreateWebhook, Description as Desc, OrganizationId, UpdateWebhook, Webhook, WebhookId,
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
    pub url: ValueString<'a>,
    pub events: ValueSet<ValueString<'a>>,
    pub description: ValueString<'a>,
    pub active: ValueBool,
    pub secret: ValueString<'a>,
    pub created_at: ValueString<'a>,
}

/// The URL as the server stores it (`url::Url`'s normal form, as the
/// server's `TargetUrl` has it): `https://Example.com` is
/// `https://example.com/`.
pub fn normalized(u: &str) -> Option<String> {
    url::Url::parse(u.trim()).ok().map(|u| u.to_string())
}

/// The configured spelling of a URL when it means what the API answered,
/// so that a URL the server normalizes is not a change on every plan.
pub fn url_as_configured(configured: Option<&str>, api: &str) -> String {
    match configured {
        Some(c) if c == api || normalized(c).as_deref() == Some(api) => c.to_owned(),
        _ => api.to_owned(),
    }
}

fn events_of(s: &State<'_>) -> Vec<String> {
    s.events
        .as_ref_option()
        .map(|e: &BTreeSet<_>| e.iter().filter_map(known).collect())
        .unwrap_or_default()
}

impl State<'static> {
    /// The state of `w`, keeping the secret and URL spelling of `base`.
    fn from_api(org: OrganizationId, w: &Webhook, base: &State<'_>) -> Self {
        State {
            id: string(w.id.to_string()),
            organization_id: string(org.to_string()),
            url: string(url_as_configured(base.url.as_deref_option(), &w.url)),
            events: Value::Value(w.events.iter().cloned().map(string).collect()),
            description: string(w.description.clone()),
            active: Value::Value(w.active),
            secret: base
                .secret
                .as_deref_option()
                .map(|s| string(s.to_owned()))
                .unwrap_or(Value::Null),
            created_at: time(w.created_at),
        }
    }
}

/// The plan of a new webhook: what the API will answer, as far as it is
/// known before the call.
pub fn plan_new(mut s: State<'_>) -> State<'_> {
    if s.description.is_null() {
        s.description = string("");
    }
    if s.active.is_null() {
        s.active = Value::Value(true);
    }
    s.id = Value::Unknown;
    s.secret = Value::Unknown;
    s.created_at = Value::Unknown;
    s
}

/// The attributes whose change replaces the webhook: only its organization.
pub fn replace_paths(prior: &State<'_>, proposed: &State<'_>) -> Vec<AttributePath> {
    if proposed.organization_id != prior.organization_id {
        vec![AttributePath::new("organization_id")]
    } else {
        Vec::new()
    }
}

#[derive(Clone)]
pub struct WebhookResource(pub Shared);

fn what(s: &State<'_>) -> String {
    format!("tron_webhook {:?}", s.url.as_deref_option().unwrap_or(""))
}

fn ids(diags: &mut Diagnostics, s: &State<'_>) -> Option<(OrganizationId, WebhookId)> {
    let org = parse_id(
        diags,
        "organization_id",
        s.organization_id.as_deref_option().unwrap_or(""),
    )?;
    let id = parse_id(diags, "id", s.id.as_deref_option().unwrap_or(""))?;
    Some((org, id))
}

fn description(diags: &mut Diagnostics, s: &State<'_>) -> Option<Desc> {
    let d = s.description.as_deref_option().unwrap_or("");
    parse_value(diags, "description", Desc::parse("description", d))
}

#[async_trait]
impl Resource for WebhookResource {
    type State<'a> = State<'a>;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        use AttributeConstraint::*;
        use AttributeType::{Bool, String as S};
        Some(Schema {
            version: 1,
            block: Block {
                description: Description::plain(
                    "A webhook: Tron calls its URL, signed with its secret, on the chosen events",
                ),
                attributes: map! {
                    "id" => attr(S, Computed, "The webhook's id"),
                    "organization_id" => attr(S, OptionalComputed, "Its organization (default: the provider's); changing it replaces the webhook"),
                    "url" => attr(S, Required, "https:// (http:// and private addresses only when the server sets TRON_WEBHOOK_ALLOW_PRIVATE)"),
                    "events" => attr(AttributeType::Set(Box::new(S)), Required, "Event types (service_token.expiring, service_token.expired, service_token.revoked, service_account.disabled, service_account.deleted, service_token.exchange_rejected, ping), or [\"*\"]"),
                    "description" => attr(S, OptionalComputed, "Free text (default empty)"),
                    "active" => attr(Bool, OptionalComputed, "Whether deliveries are made (default true)"),
                    "secret" => Attribute {
                        sensitive: true,
                        ..attr(S, Computed, "whsec_…: verifies deliveries; known only when created (null after an import)")
                    },
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
        match ctx.client.get_webhook(org, id).await {
            Ok(w) => Some((State::from_api(org, &w, &state), private)),
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
        Some((plan_new(proposed), ValueEmpty::default()))
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
        let description = description(diags, &planned)?;
        let body = CreateWebhook {
            url: known(&planned.url).unwrap_or_default(),
            events: events_of(&planned),
            description: (!description.as_str().is_empty()).then_some(description),
        };
        let made = match ctx.client.create_webhook(org, &body).await {
            Ok(m) => m,
            Err(e) => {
                api_error(diags, &what(&planned), &e);
                return None;
            }
        };
        let base = State {
            url: planned.url.clone(),
            secret: string(made.secret.expose().to_owned()),
            ..Default::default()
        };
        let mut hook = made.item;
        // The API creates webhooks active; an inactive one is a second call.
        if planned.active.as_ref_option() == Some(&false) {
            let off = UpdateWebhook {
                active: Some(false),
                ..Default::default()
            };
            match ctx.client.update_webhook(org, hook.id, &off).await {
                Ok(w) => hook = w,
                Err(e) => {
                    api_error(diags, &what(&planned), &e);
                    // Created: keep it in the state (with its secret) so
                    // that the next apply retries the change.
                    return Some((State::from_api(org, &hook, &base), private));
                }
            }
        }
        Some((State::from_api(org, &hook, &base), private))
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
        let mut body = UpdateWebhook::default();
        if planned.url != prior.url {
            body.url = known(&planned.url);
        }
        if planned.events != prior.events {
            body.events = Some(events_of(&planned));
        }
        if planned.description != prior.description {
            body.description = Some(description(diags, &planned)?);
        }
        if planned.active != prior.active {
            body.active = planned.active.as_ref_option().copied();
        }
        let base = State {
            url: planned.url.clone(),
            secret: prior.secret.clone(),
            ..Default::default()
        };
        match ctx.client.update_webhook(org, id, &body).await {
            Ok(w) => Some((State::from_api(org, &w, &base), private)),
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
        match ctx.client.delete_webhook(org, id).await {
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
        let org: OrganizationId = parse_id(diags, "organization_id", &org)?;
        let id: WebhookId = parse_id(diags, "id", &id)?;
        match ctx.client.get_webhook(org, id).await {
            // No secret: the API shows it only when created or rotated.
            Ok(w) => Some((
                State::from_api(org, &w, &State::default()),
                ValueEmpty::default(),
            )),
            Err(e) => {
                api_error(diags, "tron_webhook import", &e);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_the_server_normalizes_keeps_its_configured_spelling() {
        let api = "https://hooks.example.com/";
        assert_eq!(
            url_as_configured(Some("https://Hooks.Example.com"), api),
            "https://Hooks.Example.com"
        );
        assert_eq!(url_as_configured(Some(api), api), api);
        // A URL changed outside Terraform is drift: the API's value wins.
        assert_eq!(
            url_as_configured(Some("https://other.example.com/"), api),
            api
        );
        assert_eq!(url_as_configured(None, api), api);
    }

    #[test]
    fn a_new_webhook_is_active_with_an_unknown_secret() {
        let s = plan_new(State {
            url: string("https://h.example.com/x"),
            ..Default::default()
        });
        assert_eq!(s.active, Value::Value(true));
        assert_eq!(s.description, string(""));
        assert!(s.secret.is_unknown() && s.id.is_unknown());
        let off = plan_new(State {
            active: Value::Value(false),
            description: string("d"),
            ..Default::default()
        });
        assert_eq!(off.active, Value::Value(false));
        assert_eq!(off.description, string("d"));
    }

    #[test]
    fn only_a_move_replaces_a_webhook() {
        let prior = State {
            organization_id: string("o"),
            url: string("https://a.example.com/"),
            ..Default::default()
        };
        let changed = State {
            url: string("https://b.example.com/"),
            active: Value::Value(false),
            ..prior.clone()
        };
        assert!(replace_paths(&prior, &changed).is_empty());
        let moved = State {
            organization_id: string("o2"),
            ..prior.clone()
        };
        assert_eq!(replace_paths(&prior, &moved).len(), 1);
    }
}
