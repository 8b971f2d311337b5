//! Keyless CI on a service account's page (SPEC §7): its trust policies
//! (issuer, audience, conditions, last use), made from presets for GitHub
//! Actions and GitLab CI or from raw conditions, the CI snippet to paste,
//! and the recent rejected exchanges with their reasons. Adapters of
//! `ops::trust_policies` and `ops::audit`.
use axum::response::{IntoResponse, Redirect};
use serde_json::{Map, Value};
use tron_core::authz::{Action, Resource};
use tron_core::ids::{ServiceAccountId, TrustPolicyId};
use tron_core::values::DisplayName;
use tron_core::Error;
use tron_oidc::issuers::{GITHUB_ACTIONS, GITLAB_COM};
use tron_store::audit::AuditFilter;
use tron_store::trust_policies::TrustPolicyRecord;
use tron_store::PageRequest;

use crate::access::OrgCtx;
use crate::ops;
use crate::ops::trust_policies::NewPolicy;
use crate::portal::error::{OrBack, PortalError};
use crate::portal::form::{Failed, Form, Ids};
use crate::portal::orgs::{org_layout, ConfirmPage};
use crate::portal::session::PortalSession;
use crate::portal::view::{collect, render, ts, ts_or};

use super::{sa_url, PageResult};

/// How many rejected exchanges the page shows.
const RECENT_REJECTIONS: u32 = 5;

pub(super) struct PolicyRow {
    pub id: String,
    pub name: String,
    pub issuer: String,
    pub audience: String,
    /// `claim = pattern`, one per condition.
    pub conditions: Vec<String>,
    pub ttl: i64,
    pub last_used: String,
    /// "GitHub Actions", "GitLab CI" or "OIDC".
    pub kind: &'static str,
    /// What to paste into the pipeline.
    pub snippet: String,
}

pub(super) struct RejectionRow {
    pub when: String,
    pub reason: String,
    /// Per policy: "name: claim wanted …, seen …".
    pub policies: Vec<String>,
    pub sub: String,
}

/// The page's keyless CI section.
pub(super) struct TrustSection {
    pub can_view: bool,
    pub can_manage: bool,
    pub policies: Vec<PolicyRow>,
    pub rejections: Vec<RejectionRow>,
    pub can_see_rejections: bool,
    /// The trusted issuers, for the custom form.
    pub issuers: Vec<String>,
    pub github: bool,
    pub gitlab: bool,
    /// A sensible audience: the server's public address.
    pub audience: String,
}

pub(super) fn api_base(ctx: &OrgCtx) -> String {
    ctx.state()
        .config
        .public_url
        .clone()
        .map(|u| u.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| "$TRON_URL".to_owned())
}

fn snippet(kind: &str, base: &str, audience: &str, sa: ServiceAccountId) -> String {
    let exchange = format!(
        "curl -sS --fail-with-body {base}/api/v1/oidc/token \\\n  \
         -d grant_type=urn:ietf:params:oauth:grant-type:token-exchange \\\n  \
         -d subject_token_type=urn:ietf:params:oauth:token-type:id_token \\\n  \
         --data-urlencode \"subject_token=$ID_TOKEN\" \\\n  \
         -d service_account={sa} | jq -r .access_token"
    );
    match kind {
        "GitHub Actions" => format!(
            "permissions:\n  id-token: write\n  contents: read\n\
             steps:\n  - name: Get a Tron token\n    run: |\n      \
             ID_TOKEN=$(curl -sS -H \"Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN\" \\\n        \
             \"$ACTIONS_ID_TOKEN_REQUEST_URL&audience={audience}\" | jq -r .value)\n      \
             TRON_TOKEN=$({})\n      \
             echo \"::add-mask::$TRON_TOKEN\"\n      \
             echo \"TRON_TOKEN=$TRON_TOKEN\" >> \"$GITHUB_ENV\"",
            exchange.replace('\n', "\n        ")
        ),
        "GitLab CI" => format!(
            "deploy:\n  id_tokens:\n    ID_TOKEN:\n      aud: {audience}\n  script:\n    - |\n      \
             TRON_TOKEN=$({})",
            exchange.replace('\n', "\n        ")
        ),
        _ => format!("ID_TOKEN=…  # the job's OIDC ID token, for the audience {audience}\nTRON_TOKEN=$({exchange})"),
    }
}

fn policy_row(base: &str, p: TrustPolicyRecord) -> PolicyRow {
    let kind = match p.issuer.as_str() {
        GITHUB_ACTIONS => "GitHub Actions",
        GITLAB_COM => "GitLab CI",
        _ => "OIDC",
    };
    PolicyRow {
        id: p.id.to_string(),
        snippet: snippet(kind, base, &p.audience, p.service_account_id),
        conditions: p
            .conditions
            .iter()
            .map(|(c, v)| format!("{c} = {v}"))
            .collect(),
        ttl: p.token_ttl_seconds,
        last_used: ts_or(p.last_used_at, "never"),
        name: p.name,
        issuer: p.issuer,
        audience: p.audience,
        kind,
    }
}

fn rejection_row(e: tron_store::models::AuditEvent) -> RejectionRow {
    let d = &e.details;
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "nothing".to_owned(),
        v => v.to_string(),
    };
    let policies = d["policies"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|p| {
                    format!(
                        "{}: {} wanted {}, seen {}",
                        text(&p["name"]),
                        text(&p["claim"]),
                        text(&p["wanted"]),
                        text(&p["seen"])
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let reason = match d["reason"].as_str() {
        Some("no_policy_accepts") => "no policy accepted the token",
        Some("no_policy_for_issuer") => "no policy for the token's issuer",
        Some("service_account_disabled") => "the service account is disabled",
        Some("replayed") => "the ID token was already exchanged",
        _ => "refused",
    };
    RejectionRow {
        when: ts(e.occurred_at),
        reason: reason.to_owned(),
        policies,
        sub: text(&d["sub"]),
    }
}

/// The section for the account's page.
pub(super) async fn section(
    ctx: &OrgCtx,
    sa: ServiceAccountId,
) -> Result<TrustSection, PortalError> {
    let can_view = ctx.allows(Action::View, &Resource::ServiceAccounts);
    let base = api_base(ctx);
    let policies = if can_view {
        collect(|p| async move { ops::trust_policies::list(ctx, sa, &p).await })
            .await?
            .into_iter()
            .map(|p| policy_row(&base, p))
            .collect()
    } else {
        Vec::new()
    };
    let can_see_rejections = ctx.allows(Action::View, &Resource::AuditEvents);
    let rejections = if can_see_rejections {
        let filter = AuditFilter {
            action: Some("service_token.exchange_rejected".to_owned()),
            target_id: Some(sa.to_string()),
            ..Default::default()
        };
        let page = PageRequest {
            limit: RECENT_REJECTIONS,
            after: None,
        };
        ops::audit::list(ctx, &filter, &page)
            .await?
            .items
            .into_iter()
            .map(rejection_row)
            .collect()
    } else {
        Vec::new()
    };
    let trusted = &ctx.state().config.oidc_issuers;
    Ok(TrustSection {
        can_view,
        can_manage: ctx.allows(Action::Create, &Resource::ServiceAccounts),
        policies,
        rejections,
        can_see_rejections,
        issuers: trusted.iter().map(|i| i.as_str().to_owned()).collect(),
        github: trusted.get(GITHUB_ACTIONS).is_some(),
        gitlab: trusted.get(GITLAB_COM).is_some(),
        audience: ctx
            .state()
            .config
            .public_url
            .clone()
            .unwrap_or_else(|| "tron".to_owned()),
    })
}

/// The conditions a preset form makes: its id fields first (one of them
/// is required by the issuer's pinning rule, which the policy check
/// enforces), then the optional narrowing fields that were filled in.
fn preset_conditions(form: &Form, fields: &[&str]) -> Value {
    let mut map = Map::new();
    for field in fields {
        let value = form.text(field).trim();
        if !value.is_empty() {
            map.insert((*field).to_owned(), Value::String(value.to_owned()));
        }
    }
    Value::Object(map)
}

/// `claim = pattern` (or `claim: pattern`), one per line.
fn custom_conditions(text: &str) -> Result<Value, Error> {
    let mut map = Map::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((claim, pattern)) = line.split_once('=').or_else(|| line.split_once(':')) else {
            return Err(Error::validation(
                "conditions",
                "write one condition per line as claim = pattern",
            ));
        };
        map.insert(
            claim.trim().to_owned(),
            Value::String(pattern.trim().to_owned()),
        );
    }
    Ok(Value::Object(map))
}

/// The policy a "Add a trust policy" form describes.
fn policy_from(form: &Form) -> Result<NewPolicy, Error> {
    let (issuer, conditions) = match form.text("preset") {
        "github" => (
            GITHUB_ACTIONS.to_owned(),
            preset_conditions(
                form,
                &[
                    "repository_owner_id",
                    "repository_id",
                    "repository",
                    "ref",
                    "environment",
                ],
            ),
        ),
        "gitlab" => (
            GITLAB_COM.to_owned(),
            preset_conditions(
                form,
                &[
                    "namespace_id",
                    "project_id",
                    "project_path",
                    "ref",
                    "environment",
                ],
            ),
        ),
        _ => (
            form.text("issuer").trim().to_owned(),
            custom_conditions(form.text("conditions"))?,
        ),
    };
    let ttl = match form.text("token_ttl_seconds").trim() {
        "" => None,
        t => Some(t.parse::<i64>().map_err(|_| {
            Error::validation(
                "token_ttl_seconds",
                "the token lifetime is a number of seconds",
            )
        })?),
    };
    Ok(NewPolicy {
        name: DisplayName::parse("name", form.text("name"))?,
        issuer,
        audience: form.text("audience").trim().to_owned(),
        conditions,
        token_ttl_seconds: ttl,
    })
}

pub(super) async fn create(
    session: PortalSession,
    ctx: OrgCtx,
    ids: Ids,
    form: Form,
) -> PageResult {
    let sa: ServiceAccountId = ids.id("sa_id")?;
    let created = async {
        let policy = policy_from(&form)?;
        ops::trust_policies::create(&ctx, sa, policy).await
    }
    .await;
    if let Err(e) = created {
        // The presets build their conditions from their own fields: a
        // message about the conditions stands above those forms.
        let (id, fields): (&'static str, &[&str]) = match form.text("preset") {
            "github" => ("policy-github", &["name", "audience", "token_ttl_seconds"]),
            "gitlab" => ("policy-gitlab", &["name", "audience", "token_ttl_seconds"]),
            _ => (
                "policy-custom",
                &["name", "audience", "conditions", "token_ttl_seconds"],
            ),
        };
        let failed = Failed::of(id, form, fields, e)?;
        return super::page(&session, &ctx, sa, None, None, failed).await;
    }
    Ok(Redirect::to(&format!(
        "{}?done=policy_created#trust-policies",
        sa_url(&ctx, sa)
    ))
    .into_response())
}

fn ids_of(ids: &Ids) -> Result<(ServiceAccountId, TrustPolicyId), PortalError> {
    Ok((ids.id("sa_id")?, ids.id("policy_id")?))
}

pub(super) async fn delete_page(session: PortalSession, ctx: OrgCtx, ids: Ids) -> PageResult {
    let (sa, id) = ids_of(&ids)?;
    let back = format!("{}#trust-policies", sa_url(&ctx, sa));
    ctx.require(Action::Delete, &Resource::ServiceAccounts)
        .or_back(&back)?;
    let policy = ops::trust_policies::get(&ctx, sa, id)
        .await
        .or_back(&back)?;
    Ok(render(&ConfirmPage::new(
        org_layout(&session, &ctx, "Delete trust policy"),
        format!("Delete the trust policy {}?", policy.name),
        "Pipelines that exchange their ID tokens through it are refused from the next \
         exchange on. Tokens it already minted keep working until they expire (at most \
         its token lifetime); revoke them to end them now.",
        format!("{}/trust-policies/{id}/delete", sa_url(&ctx, sa)),
        "Delete trust policy",
        back,
    )))
}

pub(super) async fn delete(ctx: OrgCtx, ids: Ids, _form: Form) -> PageResult {
    let (sa, id) = ids_of(&ids)?;
    let back = format!("{}#trust-policies", sa_url(&ctx, sa));
    ops::trust_policies::delete(&ctx, sa, id)
        .await
        .or_back(&back)?;
    Ok(Redirect::to(&format!(
        "{}?done=policy_deleted#trust-policies",
        sa_url(&ctx, sa)
    ))
    .into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn custom_conditions_read_one_per_line() {
        let v = custom_conditions("repository_id = 100\n\n ref: refs/heads/*\n").unwrap();
        assert_eq!(
            v,
            serde_json::json!({"repository_id": "100", "ref": "refs/heads/*"})
        );
        assert!(custom_conditions("just a claim").is_err());
    }

    #[test]
    fn snippets_name_the_account_and_the_audience() {
        let sa = ServiceAccountId::new();
        let gh = snippet("GitHub Actions", "https://tron.example", "aud-x", sa);
        assert!(gh.contains("id-token: write"), "{gh}");
        assert!(gh.contains("audience=aud-x"), "{gh}");
        assert!(gh.contains(&format!("service_account={sa}")), "{gh}");
        assert!(
            gh.contains("https://tron.example/api/v1/oidc/token"),
            "{gh}"
        );
        let gl = snippet("GitLab CI", "https://tron.example", "aud-x", sa);
        assert!(gl.contains("id_tokens:"), "{gl}");
        assert!(gl.contains("aud: aud-x"), "{gl}");
    }
}
