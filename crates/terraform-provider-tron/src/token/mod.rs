//! `tron_service_account_token`: a service token whose plaintext is known
//! only when it is created (or rotated).
//!
//! Invariant: rotation never leaves a moment without a working token. When
//! `rotate_before_days` says the token is close enough to expiry, the plan
//! rotates it in place through the API's rotate, which creates the successor
//! before the old token ends (it lives `grace_period_seconds` more). A token
//! that already expired or was revoked cannot be rotated (`409`): it is
//! replaced instead, with nothing left to keep alive. An expired or revoked
//! token is otherwise not drift: its `status` is refreshed, nothing planned.
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::Attribute;
use tf_provider::schema::{AttributeConstraint, AttributeType, Block, Description, Schema};
use tf_provider::value::{Value, ValueEmpty, ValueNumber, ValueString};
use tf_provider::{map, AttributePath, Diagnostics, Resource};
use tron_client::chrono::{DateTime, Duration, Utc};
use tron_client::{
    CreateToken, DisplayName, OrganizationId, RotateToken, ServiceAccountId, Timestamp, TokenId,
    TokenStatus, TokenView,
};

use crate::common::{
    api_error, is_not_found, opt_time, organization, parse_id, parse_value, string, time, Shared,
};
use crate::lookup::{child_id, find_token, token_anywhere};
use crate::provider::attr;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct State<'a> {
    pub id: ValueString<'a>,
    pub organization_id: ValueString<'a>,
    pub service_account_id: ValueString<'a>,
    pub name: ValueString<'a>,
    pub expires_in_days: ValueNumber,
    pub expires_at: ValueString<'a>,
    pub rotate_before_days: ValueNumber,
    pub grace_period_seconds: ValueNumber,
    pub token: ValueString<'a>,
    pub hint: ValueString<'a>,
    pub status: ValueString<'a>,
    pub created_at: ValueString<'a>,
}

pub fn status_str(s: TokenStatus) -> &'static str {
    match s {
        TokenStatus::Active => "active",
        TokenStatus::Expired => "expired",
        TokenStatus::Revoked => "revoked",
    }
}

/// Whether a token expiring at `expires_at` is, at `now`, within
/// A window as long as the lifetime makes every new token due at once: each
/// plan would rotate again (said as a warning).
pub fn window_error(
    rotate_before_days: Option<i64>,
    expires_in_days: Option<i64>,
) -> Option<String> {
    let (rotate, days) = (rotate_before_days?, expires_in_days?);
    (rotate >= days).then(|| {
        format!(
            "`rotate_before_days` ({rotate}) is not less than `expires_in_days` ({days}): every \
             new token is due for rotation at once, so every plan rotates it again"
        )
    })
}

/// `rotate_before_days` of its expiry. A token without expiry never is.
pub fn rotation_due(
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    rotate_before_days: Option<i64>,
) -> bool {
    match (expires_at, rotate_before_days) {
        (Some(at), Some(days)) if days >= 0 => at - Duration::days(days) <= now,
        _ => false,
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The API's `expires_at`, spelled as the configuration spelled it when it
/// is the same instant (so that applying never looks inconsistent).
fn expires_value<'a>(api: Option<DateTime<Utc>>, configured: &ValueString<'_>) -> ValueString<'a> {
    match (api, configured.as_deref_option()) {
        (Some(at), Some(c)) if parse_time(c).map(|t| t.timestamp()) == Some(at.timestamp()) => {
            string(c)
        }
        _ => opt_time(api),
    }
}

/// The state after the API answered `view`, keeping what the API does not
/// return (the arguments, and the plaintext unless `token` is given).
fn merge<'a>(prior: &State<'a>, view: &TokenView, token: Option<String>) -> State<'a> {
    State {
        id: string(view.id.to_string()),
        name: string(view.name.clone()),
        expires_at: expires_value(view.expires_at, &prior.expires_at),
        token: token.map(string).unwrap_or_else(|| prior.token.clone()),
        hint: string(view.hint.clone()),
        status: string(status_str(view.status)),
        created_at: time(view.created_at),
        ..prior.clone()
    }
}

/// What the plan does to an existing token.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    Nothing,
    Rotate,
    Replace(Vec<&'static str>),
}

/// Plans a change of `prior` to `proposed` (whose unset optional computed
/// attributes already hold the prior values) at `now`.
pub fn plan_change<'a>(
    prior: &State<'a>,
    proposed: &mut State<'a>,
    config_expires_at: &ValueString<'_>,
    now: DateTime<Utc>,
) -> Change {
    if proposed.organization_id.is_null() {
        proposed.organization_id = prior.organization_id.clone();
    }
    let mut replace = Vec::new();
    if proposed.organization_id != prior.organization_id {
        replace.push("organization_id");
    }
    if proposed.service_account_id != prior.service_account_id {
        replace.push("service_account_id");
    }
    if proposed.name != prior.name {
        replace.push("name");
    }
    if proposed.expires_in_days != prior.expires_in_days {
        replace.push("expires_in_days");
    }
    if let Some(c) = config_expires_at.as_deref_option() {
        let prior_at = prior.expires_at.as_deref_option().and_then(parse_time);
        if parse_time(c) != prior_at {
            replace.push("expires_at");
        }
    }
    let due = rotation_due(
        prior.expires_at.as_deref_option().and_then(parse_time),
        now,
        proposed.rotate_before_days.as_ref_option().copied(),
    );
    let unknown_new_token = |p: &mut State<'a>| {
        p.id = Value::Unknown;
        p.token = Value::Unknown;
        p.hint = Value::Unknown;
        p.created_at = Value::Unknown;
        p.status = string("active");
        if config_expires_at.is_null() {
            p.expires_at = Value::Unknown;
        }
    };
    if !replace.is_empty() {
        unknown_new_token(proposed);
        return Change::Replace(replace);
    }
    if due {
        unknown_new_token(proposed);
        if prior.status.as_deref_option() == Some("active") {
            return Change::Rotate;
        }
        // Expired or revoked: the API cannot rotate it; a new one replaces it.
        return Change::Replace(vec!["id"]);
    }
    Change::Nothing
}

/// The expiry to ask for: the configured date, or `expires_in_days` from now.
fn wanted_expiry(
    diags: &mut Diagnostics,
    s: &State<'_>,
    now: DateTime<Utc>,
) -> Option<Option<Timestamp>> {
    let at = if let Some(c) = s.expires_at.as_deref_option() {
        parse_time(c)
    } else if let Some(days) = s.expires_in_days.as_ref_option().copied() {
        Some(now + Duration::days(days))
    } else {
        return Some(None);
    };
    match at.and_then(Timestamp::new) {
        Some(t) => Some(Some(t)),
        None => {
            diags.error_short(
                "`expires_at` is not an RFC 3339 timestamp between the years 1970 and 9999",
                AttributePath::new("expires_at"),
            );
            None
        }
    }
}

#[derive(Clone)]
pub struct TokenResource(pub Shared);

fn what(s: &State<'_>) -> String {
    format!(
        "tron_service_account_token {:?}",
        s.name.as_deref_option().unwrap_or("")
    )
}

fn sa_ids(diags: &mut Diagnostics, s: &State<'_>) -> Option<(OrganizationId, ServiceAccountId)> {
    let org = parse_id(
        diags,
        "organization_id",
        s.organization_id.as_deref_option().unwrap_or(""),
    )?;
    let sa = parse_id(
        diags,
        "service_account_id",
        s.service_account_id.as_deref_option().unwrap_or(""),
    )?;
    Some((org, sa))
}

/// The token `id` of the account, or `None` when the account or the token
/// is gone.
fn num(doc: &str, constraint: AttributeConstraint) -> Attribute {
    attr(AttributeType::Number, constraint, doc)
}

#[async_trait]
impl Resource for TokenResource {
    type State<'a> = State<'a>;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        use AttributeConstraint::*;
        use AttributeType::String as S;
        Some(Schema {
            version: 1,
            block: Block {
                description: Description::plain("A service token of a service account"),
                attributes: map! {
                    "id" => attr(S, Computed, "The token's id (it changes when the token rotates)"),
                    "organization_id" => attr(S, OptionalComputed, "The organization (default: the provider's)"),
                    "service_account_id" => attr(S, Required, "The service account; changing it replaces the token"),
                    "name" => attr(S, Required, "1-100 characters; changing it replaces the token"),
                    "expires_in_days" => num("Lifetime in days from creation (and from each rotation)", Optional),
                    "expires_at" => attr(S, OptionalComputed, "RFC 3339 expiry; set it or expires_in_days, not both"),
                    "rotate_before_days" => num("Rotate once the token is this many days or fewer from expiry", Optional),
                    "grace_period_seconds" => num("How long (0-86400 s, default 0) the old token keeps working after a rotation", Optional),
                    "token" => Attribute { sensitive: true, ..attr(S, Computed, "The plaintext, known only when created or rotated by Terraform (null after an import)") },
                    "hint" => attr(S, Computed, "The last characters of the token"),
                    "status" => attr(S, Computed, "active, expired or revoked"),
                    "created_at" => attr(S, Computed, "RFC 3339"),
                },
                ..Default::default()
            },
        })
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: State<'a>) -> Option<()> {
        if config.expires_at.is_value() && config.expires_in_days.is_value() {
            diags.error_short(
                "Set `expires_at` or `expires_in_days`, not both",
                AttributePath::new("expires_in_days"),
            );
        }
        if let Some(g) = config.grace_period_seconds.as_ref_option() {
            if !(0..=86400).contains(g) {
                diags.error_short(
                    "`grace_period_seconds` is 0 to 86400",
                    AttributePath::new("grace_period_seconds"),
                );
            }
        }
        for (field, v) in [
            ("expires_in_days", &config.expires_in_days),
            ("rotate_before_days", &config.rotate_before_days),
        ] {
            if v.as_ref_option().is_some_and(|d| *d < 0 || *d > 3_650_000) {
                diags.error_short(
                    format!("`{field}` is a number of days, 0 or more"),
                    AttributePath::new(field),
                );
            }
        }
        if let Some(msg) = window_error(
            config.rotate_before_days.as_ref_option().copied(),
            config.expires_in_days.as_ref_option().copied(),
        ) {
            // A warning, not an error: a window wider than the lifetime
            // is also how one asks for a rotation at the next apply.
            diags.warning_short(msg, AttributePath::new("rotate_before_days"));
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: State<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State<'a>, ValueEmpty)> {
        let ctx = self.0.ctx(diags)?;
        let (org, sa) = sa_ids(diags, &state)?;
        let id = parse_id(diags, "id", state.id.as_deref_option().unwrap_or(""))?;
        match find_token(&ctx.client, org, sa, id).await {
            Ok(Some(view)) => Some((merge(&state, &view, None), private)),
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
        proposed.token = Value::Unknown;
        proposed.hint = Value::Unknown;
        proposed.created_at = Value::Unknown;
        proposed.status = string("active");
        if proposed.expires_at.is_null() {
            proposed.expires_at = Value::Unknown;
        }
        Some((proposed, ValueEmpty::default()))
    }

    async fn plan_update<'a>(
        &self,
        _diags: &mut Diagnostics,
        prior: State<'a>,
        mut proposed: State<'a>,
        config: State<'a>,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State<'a>, ValueEmpty, Vec<AttributePath>)> {
        let change = plan_change(&prior, &mut proposed, &config.expires_at, Utc::now());
        let replace = match change {
            Change::Replace(paths) => paths.into_iter().map(AttributePath::new).collect(),
            Change::Rotate | Change::Nothing => Vec::new(),
        };
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
        let (org, sa) = sa_ids(diags, &planned)?;
        let name = parse_value(
            diags,
            "name",
            DisplayName::parse("name", planned.name.as_deref_option().unwrap_or("")),
        )?;
        let expires_at = wanted_expiry(diags, &planned, Utc::now())?;
        match ctx
            .client
            .create_service_token(org, sa, &CreateToken { name, expires_at })
            .await
        {
            Ok(t) => Some((
                merge(&planned, &t.item, Some(t.token.into_inner())),
                private,
            )),
            Err(e) => {
                api_error(diags, &what(&planned), &e);
                None
            }
        }
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
        if !planned.id.is_unknown() {
            // Only Terraform-side arguments changed (rotate_before_days,
            // grace_period_seconds).
            return Some((planned, private));
        }
        let ctx = self.0.ctx(diags)?;
        let (org, sa) = sa_ids(diags, &prior)?;
        let id: TokenId = parse_id(diags, "id", prior.id.as_deref_option().unwrap_or(""))?;
        let expires_at = wanted_expiry(
            diags,
            &State {
                expires_at: if planned.expires_at.is_unknown() {
                    Value::Null
                } else {
                    planned.expires_at.clone()
                },
                ..planned.clone()
            },
            Utc::now(),
        )?;
        let body = RotateToken {
            grace_period_seconds: planned.grace_period_seconds.as_ref_option().copied(),
            expires_at,
        };
        match ctx.client.rotate_service_token(org, sa, id, &body).await {
            Ok(t) => Some((
                merge(&planned, &t.item, Some(t.token.into_inner())),
                private,
            )),
            Err(e) => {
                api_error(diags, &format!("{} rotation", what(&prior)), &e);
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
        let (org, sa) = sa_ids(diags, &state)?;
        let id = parse_id(diags, "id", state.id.as_deref_option().unwrap_or(""))?;
        match ctx.client.revoke_service_token(org, sa, id).await {
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
        let Some(parts) = child_id(&id) else {
            diags.root_error(
                "Invalid import id",
                "A token's import id is ORGANIZATION_ID/TOKEN_ID (or ORGANIZATION_ID/SERVICE_ACCOUNT_ID/TOKEN_ID).",
            );
            return None;
        };
        let org: OrganizationId = parse_id(diags, "organization_id", parts.org)?;
        let token: TokenId = parse_id(diags, "id", parts.id)?;
        let found = match parts.service_account {
            Some(sa) => {
                let sa: ServiceAccountId = parse_id(diags, "service_account_id", sa)?;
                find_token(&ctx.client, org, sa, token)
                    .await
                    .map(|t| t.map(|t| (sa, t)))
            }
            None => token_anywhere(&ctx.client, org, token).await,
        };
        match found {
            Ok(Some((sa, view))) => {
                let base = State {
                    organization_id: string(org.to_string()),
                    service_account_id: string(sa.to_string()),
                    ..Default::default()
                };
                Some((merge(&base, &view, None), ValueEmpty::default()))
            }
            Ok(None) => {
                diags.root_error(
                    "Cannot import tron_service_account_token",
                    "not_found: no such token in that organization",
                );
                None
            }
            Err(e) => {
                api_error(diags, "tron_service_account_token import", &e);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests;
