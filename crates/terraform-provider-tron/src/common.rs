//! What every resource shares: the configured client, API errors turned
//! into diagnostics, and small conversions between cty strings and ids.
use std::borrow::Cow;
use std::str::FromStr;
use std::sync::{Arc, RwLock};

use tf_provider::value::{Value, ValueString};
use tf_provider::{AttributePath, Diagnostics};
use tron_client::chrono::{DateTime, SecondsFormat, Utc};
use tron_client::{Client, ClientError, OrganizationId};

/// The configured client and the provider's default organization, filled by
/// `ConfigureProvider` and read by every resource and data source.
#[derive(Clone, Default)]
pub struct Shared(Arc<RwLock<Option<Ctx>>>);

#[derive(Clone)]
pub struct Ctx {
    pub client: Client,
    pub organization_id: Option<OrganizationId>,
}

impl Shared {
    pub fn set(&self, ctx: Ctx) {
        if let Ok(mut g) = self.0.write() {
            *g = Some(ctx);
        }
    }

    /// The client, or an error diagnostic when the provider is not
    /// configured.
    pub fn ctx(&self, diags: &mut Diagnostics) -> Option<Ctx> {
        let ctx = self.0.read().ok().and_then(|g| g.clone());
        if ctx.is_none() {
            diags.root_error(
                "The tron provider is not configured",
                "Set `url` and `token` in the provider block (or TRON_URL and TRON_TOKEN).",
            );
        }
        ctx
    }
}

/// An API error as a Terraform error naming the resource, the API's code and
/// its message (which never repeats a value of the request).
pub fn api_error(diags: &mut Diagnostics, what: &str, e: &ClientError) {
    match e {
        ClientError::Api {
            status,
            code,
            message,
            field,
            ..
        } => {
            let field = field
                .as_deref()
                .map(|f| format!(" (field `{f}`)"))
                .unwrap_or_default();
            diags.root_error(
                format!("{what}: the Tron API answered {status} {code}"),
                format!("{code}: {message}{field}"),
            );
        }
        ClientError::Transport(_) => diags.root_error(
            format!("{what}: cannot reach the Tron server"),
            e.to_string(),
        ),
        ClientError::Decode { .. } => {
            diags.root_error(format!("{what}: unexpected answer"), e.to_string())
        }
    }
}

pub fn is_not_found(e: &ClientError) -> bool {
    e.status() == Some(404)
}

pub fn known(v: &ValueString<'_>) -> Option<String> {
    v.as_deref_option().map(str::to_owned)
}

pub fn string<'a>(s: impl Into<String>) -> ValueString<'a> {
    Value::Value(Cow::Owned(s.into()))
}

pub fn time<'a>(t: DateTime<Utc>) -> ValueString<'a> {
    string(t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

pub fn opt_time<'a>(t: Option<DateTime<Utc>>) -> ValueString<'a> {
    t.map(time).unwrap_or(Value::Null)
}

/// An id attribute, with an error on `attribute` when it does not parse.
pub fn parse_id<T: FromStr>(diags: &mut Diagnostics, attribute: &str, s: &str) -> Option<T> {
    let id = s.parse().ok();
    if id.is_none() {
        diags.error_short(
            format!("`{attribute}` is not a Tron id (a UUID)"),
            AttributePath::new(attribute.to_owned()),
        );
    }
    id
}

/// The organization of a resource: its own `organization_id`, or the
/// provider's default.
pub fn organization(
    diags: &mut Diagnostics,
    ctx: &Ctx,
    own: &ValueString<'_>,
) -> Option<OrganizationId> {
    match own.as_deref_option() {
        Some(s) => parse_id(diags, "organization_id", s),
        None => {
            if ctx.organization_id.is_none() {
                diags.error_short(
                    "`organization_id` is needed: set it here or in the provider block",
                    AttributePath::new("organization_id"),
                );
            }
            ctx.organization_id
        }
    }
}

/// `ORG_ID/ID`, the import id of every resource.
pub fn split_import_id(diags: &mut Diagnostics, id: &str) -> Option<(String, String)> {
    match id.split_once('/') {
        Some((org, rest)) if !org.is_empty() && !rest.is_empty() => {
            Some((org.to_owned(), rest.to_owned()))
        }
        _ => {
            diags.root_error(
                "Invalid import id",
                "The import id is ORGANIZATION_ID/ID (two UUIDs separated by a slash).",
            );
            None
        }
    }
}

/// A value a request needs, checked the way the API checks it.
pub fn parse_value<T, E: std::fmt::Display>(
    diags: &mut Diagnostics,
    attribute: &str,
    r: Result<T, E>,
) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            diags.error(
                format!("Invalid `{attribute}`"),
                e.to_string(),
                AttributePath::new(attribute.to_owned()),
            );
            None
        }
    }
}
