//! My organizations, and the organization details page with its sections:
//! members, groups, service accounts, environments, applications, audit
//! log and settings.
use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use tron_core::authz::{Action, Resource, Scope};
use tron_core::ids::{ApplicationId, EnvironmentId, MemberId};
use tron_core::principal::ActorType;
use tron_core::settings::SettingsPatch;
use tron_core::values::{add_clamped, DisplayName, Email, Name, ShortText, Timestamp};
use tron_core::Error;
use tron_store::audit::AuditFilter;
use tron_store::models::{Member, PrincipalType, ServiceAccountStatus};
use tron_store::PageRequest;

use crate::access::OrgCtx;
use crate::ops;
use crate::portal::error::{OrBack, PortalError};
use crate::portal::form::{Form, Ids, QueryMap};
use crate::portal::session::PortalSession;
use crate::portal::view::{collect, render, ts, ts_or, Choice, Layout};
use crate::state::AppState;

type PageResult = Result<Response, PortalError>;

pub(crate) fn org_url(ctx: &OrgCtx) -> String {
    format!("/orgs/{}", ctx.org_id())
}

/// A page's frame inside an organization.
pub(crate) fn org_layout(session: &PortalSession, ctx: &OrgCtx, title: &str) -> Layout {
    Layout::new(session, title)
        .crumb("Organizations", "/")
        .crumb(ctx.organization().name.clone(), org_url(ctx))
}

// ---- my organizations -------------------------------------------------------

struct OrgRow {
    id: String,
    name: String,
    created: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    orgs: Vec<OrgRow>,
    showing_all: bool,
}

pub(crate) async fn home(
    State(state): State<AppState>,
    session: PortalSession,
    q: QueryMap,
) -> PageResult {
    let user = session
        .principal
        .user_id()
        .ok_or(Error::internal("a portal session without a user"))?;
    let showing_all = q.get("all") == Some("true") && session.principal.is_superuser();
    let member = if showing_all { None } else { Some(user) };
    let store = &state.store;
    let orgs = collect(|p| async move { store.list_organizations(member, &p).await }).await?;
    let page = HomePage {
        layout: Layout::new(&session, "Organizations")
            .crumb("Organizations", "/")
            .notice(q.get("done")),
        orgs: orgs
            .into_iter()
            .map(|o| OrgRow {
                id: o.id.to_string(),
                name: o.name,
                created: ts(o.created_at),
            })
            .collect(),
        showing_all,
    };
    Ok(render(&page))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    session: PortalSession,
    form: Form,
) -> PageResult {
    let user = session
        .principal
        .user_id()
        .ok_or(Error::internal("a portal session without a user"))?;
    let name = DisplayName::parse("name", form.text("name")).or_back("/")?;
    let org = state
        .store
        .create_organization(&session.meta(), state.now(), name.into(), user)
        .await
        .or_back("/")?;
    Ok(Redirect::to(&format!("/orgs/{}?done=org_created", org.id)).into_response())
}

// ---- the organization details page --------------------------------------------

/// What the viewer may do here: buttons are offered only for these, and
/// every handler checks again with `ctx.require`.
pub(crate) struct Can {
    pub view_members: bool,
    pub manage_members: bool,
    pub view_groups: bool,
    pub manage_groups: bool,
    pub view_service_accounts: bool,
    pub manage_service_accounts: bool,
    pub create_environment: bool,
    pub create_application: bool,
    pub view_audit: bool,
    pub edit_organization: bool,
    pub delete_organization: bool,
}

impl Can {
    pub(crate) fn of(ctx: &OrgCtx) -> Self {
        Can {
            view_members: ctx.allows(Action::View, &Resource::Members),
            manage_members: ctx.allows(Action::Create, &Resource::Members),
            view_groups: ctx.allows(Action::View, &Resource::Groups),
            manage_groups: ctx.allows(Action::Update, &Resource::Groups),
            view_service_accounts: ctx.allows(Action::View, &Resource::ServiceAccounts),
            manage_service_accounts: ctx.allows(Action::Update, &Resource::ServiceAccounts),
            create_environment: ctx.allows(Action::Create, &Resource::Environments),
            create_application: ctx.allows(Action::Create, &Resource::Applications),
            view_audit: ctx.allows(Action::View, &Resource::AuditEvents),
            edit_organization: ctx.allows(Action::Update, &Resource::Organization),
            delete_organization: ctx.allows(Action::Delete, &Resource::Organization),
        }
    }
}

pub(crate) struct MemberRow {
    pub id: String,
    pub is_user: bool,
    pub name: String,
    pub email: String,
    /// The service account's page, for a service account.
    pub href: Option<String>,
    pub groups: String,
    pub joined: String,
}

pub(crate) fn member_row(org_url: &str, m: Member) -> MemberRow {
    let groups = m
        .groups
        .iter()
        .map(|g| g.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let (name, email, href) = match (m.principal_type, m.user, m.service_account) {
        (PrincipalType::User, Some(u), _) => (u.name, u.email, None),
        (PrincipalType::ServiceAccount, _, Some(sa)) => (
            sa.name,
            String::new(),
            Some(format!("{org_url}/service-accounts/{}", sa.id)),
        ),
        _ => ("(unknown)".into(), String::new(), None),
    };
    MemberRow {
        id: m.id.to_string(),
        is_user: m.principal_type == PrincipalType::User,
        name,
        email,
        href,
        groups,
        joined: ts(m.created_at),
    }
}

struct GroupRow {
    id: String,
    name: String,
    description: String,
    role: &'static str,
    scope: String,
    member_count: i64,
}

/// `organization`, or the names of the scoped environments or
/// applications.
pub(crate) fn scope_text(
    scope: &Scope,
    envs: &HashMap<EnvironmentId, String>,
    apps: &HashMap<ApplicationId, String>,
) -> String {
    let names = |ids: Vec<String>| {
        if ids.is_empty() {
            "nothing (all removed)".to_string()
        } else {
            ids.join(", ")
        }
    };
    match scope {
        Scope::Organization => "whole organization".into(),
        Scope::Environment { environment_ids } => format!(
            "environments: {}",
            names(
                environment_ids
                    .iter()
                    .map(|i| envs.get(i).cloned().unwrap_or_else(|| i.to_string()))
                    .collect()
            )
        ),
        Scope::Application { application_ids } => format!(
            "applications: {}",
            names(
                application_ids
                    .iter()
                    .map(|i| apps.get(i).cloned().unwrap_or_else(|| i.to_string()))
                    .collect()
            )
        ),
    }
}

struct SaRow {
    id: String,
    name: String,
    description: String,
    active: bool,
    groups: String,
    active_tokens: i64,
    last_used: String,
}

struct EnvRow {
    id: String,
    name: String,
    created: String,
    can_delete: bool,
}

struct AppRow {
    id: String,
    name: String,
    repository: String,
    created: String,
    can_delete: bool,
}

struct AuditRow {
    when: String,
    actor_type: String,
    actor: String,
    /// For a service account: the token it acted with.
    token: String,
    action: String,
    target: String,
    details: String,
    ip: String,
}

struct AuditView {
    rows: Vec<AuditRow>,
    actor_types: Vec<Choice>,
    actor_id: String,
    action: String,
    target_id: String,
    since: String,
    until: String,
    older: Option<String>,
    filtered: bool,
}

#[derive(Template)]
#[template(path = "org.html")]
struct OrgPage {
    layout: Layout,
    url: String,
    name: String,
    my_role: String,
    can: Can,
    members: Vec<MemberRow>,
    groups: Vec<GroupRow>,
    service_accounts: Vec<SaRow>,
    environments: Vec<EnvRow>,
    applications: Vec<AppRow>,
    env_choices: Vec<Choice>,
    app_choices: Vec<Choice>,
    roles: Vec<Choice>,
    /// The new-group form starts with an organization scope.
    scope_kind: &'static str,
    audit: Option<AuditView>,
    max_token_days: String,
    rate_limit: u32,
}

/// How the caller's groups read, e.g. `admin (whole organization)`.
fn my_role(ctx: &OrgCtx) -> String {
    if ctx.grants().is_empty() {
        return if ctx.is_superuser() {
            "superuser (not a member)".into()
        } else {
            "member without groups".into()
        };
    }
    ctx.grants()
        .iter()
        .map(|g| format!("{} in {}", g.role.as_str(), g.group_name))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) async fn show(
    State(_state): State<AppState>,
    session: PortalSession,
    ctx: OrgCtx,
    q: QueryMap,
) -> PageResult {
    ctx.require(Action::View, &Resource::Organization)?;
    let url = org_url(&ctx);
    let can = Can::of(&ctx);
    let c = &ctx;

    let envs = collect(|p| async move { ops::environments::list(c, &p).await }).await?;
    let apps = collect(|p| async move { ops::applications::list(c, &p).await }).await?;
    let env_names: HashMap<_, _> = envs.iter().map(|e| (e.id, e.name.clone())).collect();
    let app_names: HashMap<_, _> = apps.iter().map(|a| (a.id, a.name.clone())).collect();

    let members = if can.view_members {
        collect(|p| async move { ops::members::list(c, None, None, &p).await })
            .await?
            .into_iter()
            .map(|m| member_row(&url, m))
            .collect()
    } else {
        Vec::new()
    };
    let groups = if can.view_groups {
        collect(|p| async move { ops::groups::list(c, &p).await })
            .await?
            .into_iter()
            .map(|g| GroupRow {
                id: g.id.to_string(),
                scope: scope_text(&g.scope, &env_names, &app_names),
                name: g.name,
                description: g.description,
                role: g.role.as_str(),
                member_count: g.member_count,
            })
            .collect()
    } else {
        Vec::new()
    };
    let service_accounts = if can.view_service_accounts {
        collect(|p| async move { ops::service_accounts::list(c, &p).await })
            .await?
            .into_iter()
            .map(|sa| SaRow {
                id: sa.id.to_string(),
                name: sa.name,
                description: sa.description,
                active: sa.status == ServiceAccountStatus::Active,
                groups: sa
                    .groups
                    .iter()
                    .map(|g| g.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                active_tokens: sa.active_token_count,
                last_used: ts_or(sa.last_used_at, "never"),
            })
            .collect()
    } else {
        Vec::new()
    };
    let audit = if can.view_audit {
        Some(audit_view(&ctx, &q).await.or_back(&url)?)
    } else {
        None
    };
    let settings = ctx.organization().settings;
    let page = OrgPage {
        layout: org_layout(&session, &ctx, &ctx.organization().name).notice(q.get("done")),
        name: ctx.organization().name.clone(),
        my_role: my_role(&ctx),
        members,
        groups,
        service_accounts,
        env_choices: envs
            .iter()
            .map(|e| Choice::new(e.id, e.name.clone(), false))
            .collect(),
        app_choices: apps
            .iter()
            .map(|a| Choice::new(a.id, a.name.clone(), false))
            .collect(),
        environments: envs
            .into_iter()
            .map(|e| EnvRow {
                id: e.id.to_string(),
                can_delete: ctx.allows(Action::Delete, &Resource::Environment(e.id)),
                name: e.name,
                created: ts(e.created_at),
            })
            .collect(),
        applications: apps
            .into_iter()
            .map(|a| AppRow {
                id: a.id.to_string(),
                can_delete: ctx.allows(Action::Delete, &Resource::Application(a.id)),
                name: a.name,
                repository: a.repository.unwrap_or_default(),
                created: ts(a.created_at),
            })
            .collect(),
        roles: role_choices("viewer"),
        scope_kind: "organization",
        audit,
        max_token_days: settings
            .max_token_lifetime_days
            .map(|d| d.to_string())
            .unwrap_or_default(),
        rate_limit: settings.service_token_rate_limit_per_minute,
        can,
        url,
    };
    Ok(render(&page))
}

pub(crate) fn role_choices(selected: &str) -> Vec<Choice> {
    ["viewer", "editor", "admin"]
        .into_iter()
        .map(|r| Choice::new(r, r, r == selected))
        .collect()
}

/// A date (`2026-01-31`, midnight UTC) or an RFC 3339 timestamp.
fn parse_time(field: &str, s: Option<&str>) -> Result<Option<DateTime<Utc>>, Error> {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let bad = || Error::validation(field, format!("{field} must be a date"));
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)
            .and_then(|t| Timestamp::new(t.and_utc()))
            .map(|t| Some(t.get()))
            .ok_or_else(bad);
    }
    Timestamp::parse(s).map(|t| Some(t.get())).ok_or_else(bad)
}

const AUDIT_PAGE: u32 = 50;

async fn audit_view(ctx: &OrgCtx, q: &QueryMap) -> Result<AuditView, Error> {
    let actor_type = q.get("actor_type").map(str::to_owned);
    if let Some(t) = &actor_type {
        if ActorType::parse(t).is_none() {
            return Err(Error::validation(
                "actor_type",
                "the actor type must be user, service account, anonymous or system",
            ));
        }
    }
    let (action, action_prefix) = match q.get("action") {
        None => (None, false),
        Some(a) => match a.strip_suffix(".*").or_else(|| a.strip_suffix('*')) {
            Some(prefix) => (Some(format!("{}.", prefix.trim_end_matches('.'))), true),
            None => (Some(a.to_owned()), false),
        },
    };
    let filter = AuditFilter {
        actor_type: actor_type.clone(),
        actor_id: q.get("actor_id").map(str::to_owned),
        action,
        action_prefix,
        target_id: q.get("target_id").map(str::to_owned),
        since: parse_time("since", q.get("since"))?,
        // A date as "until" includes that whole day.
        until: parse_time("until", q.get("until"))?.map(|t| {
            if q.get("until").is_some_and(|s| s.trim().len() == 10) {
                add_clamped(t, chrono::Duration::days(1))
            } else {
                t
            }
        }),
    };
    let after = q.get("cursor").and_then(|c| uuid::Uuid::parse_str(c).ok());
    let page = ops::audit::list(
        ctx,
        &filter,
        &PageRequest {
            limit: AUDIT_PAGE,
            after,
        },
    )
    .await?;
    let keep = [
        "actor_type",
        "actor_id",
        "action",
        "target_id",
        "since",
        "until",
    ];
    let older = page.next_cursor.map(|c| {
        let mut params: Vec<(&str, &str)> = keep
            .iter()
            .filter_map(|k| q.get(k).map(|v| (*k, v)))
            .collect();
        params.push(("cursor", &c));
        format!(
            "{}?{}#audit",
            org_url(ctx),
            serde_urlencoded::to_string(&params).unwrap_or_default()
        )
    });
    let rows = page
        .items
        .into_iter()
        .map(|e| {
            let mut details = e.details.to_string();
            if details == "{}" || details == "null" {
                details.clear();
            }
            if details.chars().count() > 160 {
                details = details.chars().take(157).collect::<String>() + "…";
            }
            AuditRow {
                when: e.occurred_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                actor_type: e.actor.kind.replace('_', " "),
                actor: e.actor.name.unwrap_or_else(|| "—".into()),
                token: match (e.actor.kind.as_str(), e.actor.token_id) {
                    ("service_account", Some(t)) => t.chars().take(8).collect(),
                    _ => String::new(),
                },
                action: e.action,
                target: match e.target.name {
                    Some(n) => format!("{} {}", e.target.kind.replace('_', " "), n),
                    None => e.target.kind.replace('_', " "),
                },
                details,
                ip: e.ip.unwrap_or_default(),
            }
        })
        .collect();
    let selected = actor_type.unwrap_or_default();
    let mut actor_types = vec![Choice::new("", "anyone", selected.is_empty())];
    for (v, l) in [
        ("user", "users"),
        ("service_account", "service accounts"),
        ("anonymous", "anonymous"),
        ("system", "system"),
    ] {
        actor_types.push(Choice::new(v, l, selected == v));
    }
    Ok(AuditView {
        rows,
        actor_types,
        actor_id: q.get("actor_id").unwrap_or("").into(),
        action: q.get("action").unwrap_or("").into(),
        target_id: q.get("target_id").unwrap_or("").into(),
        since: q.get("since").unwrap_or("").into(),
        until: q.get("until").unwrap_or("").into(),
        older,
        filtered: keep.iter().any(|k| q.get(k).is_some()),
    })
}

// ---- settings -------------------------------------------------------------------

pub(crate) async fn update_settings(ctx: OrgCtx, form: Form) -> PageResult {
    let back = format!("{}#settings", org_url(&ctx));
    ctx.require(Action::Update, &Resource::Organization)
        .or_back(&back)?;
    let name = DisplayName::parse("name", form.text("name")).or_back(&back)?;
    let days = form.text("max_token_lifetime_days").trim();
    let max_token_lifetime_days = if days.is_empty() {
        Some(None)
    } else {
        Some(Some(days.parse::<i64>().map_err(|_| {
            PortalError::from(Error::validation(
                "max_token_lifetime_days",
                "the maximum token lifetime must be a whole number of days from 1 to 3650, \
                 or empty for no limit",
            ))
            .back(&back)
        })?))
    };
    let rate = form
        .text("service_token_rate_limit_per_minute")
        .trim()
        .parse::<i64>()
        .map_err(|_| {
            PortalError::from(Error::validation(
                "service_token_rate_limit_per_minute",
                "the rate limit must be a whole number of requests per minute from 1 to 10000000",
            ))
            .back(&back)
        })?;
    let patch = SettingsPatch {
        max_token_lifetime_days,
        service_token_rate_limit_per_minute: Some(rate),
    };
    let name = (name.as_str() != ctx.organization().name).then_some(name);
    ops::organization::update(&ctx, name, Some(&patch))
        .await
        .or_back(&back)?;
    Ok(Redirect::to(&format!("{}?done=settings_saved#settings", org_url(&ctx))).into_response())
}

// ---- confirmations ----------------------------------------------------------------

#[derive(Template)]
#[template(path = "confirm.html")]
pub(crate) struct ConfirmPage {
    pub layout: Layout,
    pub heading: String,
    pub message: String,
    pub action: String,
    pub button: String,
    pub cancel: String,
    /// Rotation asks how long the old token keeps working.
    pub grace_choices: Vec<Choice>,
}

impl ConfirmPage {
    pub(crate) fn new(
        layout: Layout,
        heading: impl Into<String>,
        message: impl Into<String>,
        action: impl Into<String>,
        button: impl Into<String>,
        cancel: impl Into<String>,
    ) -> Self {
        ConfirmPage {
            layout,
            heading: heading.into(),
            message: message.into(),
            action: action.into(),
            button: button.into(),
            cancel: cancel.into(),
            grace_choices: Vec::new(),
        }
    }
}

pub(crate) async fn delete_page(session: PortalSession, ctx: OrgCtx) -> PageResult {
    let url = org_url(&ctx);
    ctx.require(Action::Delete, &Resource::Organization)
        .or_back(&url)?;
    let name = &ctx.organization().name;
    Ok(render(&ConfirmPage::new(
        org_layout(&session, &ctx, "Delete organization"),
        format!("Delete the organization {name}?"),
        "Its environments, applications, instances, groups, members, service accounts and \
         their tokens are deleted. This cannot be undone.",
        format!("{url}/delete"),
        "Delete organization",
        format!("{url}#settings"),
    )))
}

pub(crate) async fn delete(ctx: OrgCtx, _form: Form) -> PageResult {
    let url = org_url(&ctx);
    ops::organization::delete(&ctx).await.or_back(&url)?;
    Ok(Redirect::to("/?done=org_deleted").into_response())
}

// ---- members ------------------------------------------------------------------------

pub(crate) async fn add_member(ctx: OrgCtx, form: Form) -> PageResult {
    let back = format!("{}#members", org_url(&ctx));
    ctx.require(Action::Create, &Resource::Members)
        .or_back(&back)?;
    let email = Email::parse("email", form.text("email")).or_back(&back)?;
    ops::members::add(&ctx, &email)
        .await
        .map_err(|e| match e {
            // The form says which address it did not find.
            Error::NotFound => Error::validation(
                "email",
                format!("no user has the email address {email}; a superuser creates users"),
            ),
            e => e,
        })
        .or_back(&back)?;
    Ok(Redirect::to(&format!("{}?done=member_added#members", org_url(&ctx))).into_response())
}

pub(crate) async fn remove_member_page(
    session: PortalSession,
    ctx: OrgCtx,
    ids: Ids,
) -> PageResult {
    let back = format!("{}#members", org_url(&ctx));
    ctx.require(Action::Delete, &Resource::Members)
        .or_back(&back)?;
    let id: MemberId = ids.id("member_id")?;
    let m = member_row(&org_url(&ctx), ops::members::get(&ctx, id).await?);
    if !m.is_user {
        return Err(PortalError::from(Error::conflict(
            "member_id",
            "a service account leaves the organization when it is deleted; delete it from its page",
        ))
        .back(&back));
    }
    Ok(render(&ConfirmPage::new(
        org_layout(&session, &ctx, "Remove member"),
        format!("Remove {} from the organization?", m.name),
        format!(
            "{} ({}) loses every group of this organization and all access to it.",
            m.name, m.email
        ),
        format!("{}/members/{}/remove", org_url(&ctx), m.id),
        "Remove member",
        back,
    )))
}

pub(crate) async fn remove_member(ctx: OrgCtx, ids: Ids, _form: Form) -> PageResult {
    let back = format!("{}#members", org_url(&ctx));
    let id: MemberId = ids.id("member_id")?;
    ops::members::remove(&ctx, id).await.or_back(&back)?;
    Ok(Redirect::to(&format!("{}?done=member_removed#members", org_url(&ctx))).into_response())
}

// ---- environments and applications -----------------------------------------------------

pub(crate) async fn create_environment(ctx: OrgCtx, form: Form) -> PageResult {
    let back = format!("{}#environments", org_url(&ctx));
    ctx.require(Action::Create, &Resource::Environments)
        .or_back(&back)?;
    let name = Name::parse("name", form.text("name").trim()).or_back(&back)?;
    ops::environments::create(&ctx, name).await.or_back(&back)?;
    Ok(Redirect::to(&format!("{}?done=env_created#environments", org_url(&ctx))).into_response())
}

pub(crate) async fn delete_environment_page(
    session: PortalSession,
    ctx: OrgCtx,
    ids: Ids,
) -> PageResult {
    let back = format!("{}#environments", org_url(&ctx));
    let id: EnvironmentId = ids.id("env_id")?;
    ctx.require(Action::Delete, &Resource::Environment(id))
        .or_back(&back)?;
    let env = ops::environments::get(&ctx, id).await?;
    Ok(render(&ConfirmPage::new(
        org_layout(&session, &ctx, "Delete environment"),
        format!("Delete the environment {}?", env.name),
        "Its instances are deleted and it is removed from the scope of every group. This \
         cannot be undone.",
        format!("{}/environments/{}/delete", org_url(&ctx), env.id),
        "Delete environment",
        back,
    )))
}

pub(crate) async fn delete_environment(ctx: OrgCtx, ids: Ids, _form: Form) -> PageResult {
    let back = format!("{}#environments", org_url(&ctx));
    let id: EnvironmentId = ids.id("env_id")?;
    ops::environments::delete(&ctx, id).await.or_back(&back)?;
    Ok(Redirect::to(&format!("{}?done=env_deleted#environments", org_url(&ctx))).into_response())
}

pub(crate) async fn create_application(ctx: OrgCtx, form: Form) -> PageResult {
    let back = format!("{}#applications", org_url(&ctx));
    ctx.require(Action::Create, &Resource::Applications)
        .or_back(&back)?;
    let name = Name::parse("name", form.text("name").trim()).or_back(&back)?;
    let repository = match form.text("repository").trim() {
        "" => None,
        r => Some(ShortText::parse("repository", r).or_back(&back)?),
    };
    ops::applications::create(&ctx, name, repository)
        .await
        .or_back(&back)?;
    Ok(Redirect::to(&format!("{}?done=app_created#applications", org_url(&ctx))).into_response())
}

pub(crate) async fn delete_application_page(
    session: PortalSession,
    ctx: OrgCtx,
    ids: Ids,
) -> PageResult {
    let back = format!("{}#applications", org_url(&ctx));
    let id: ApplicationId = ids.id("app_id")?;
    ctx.require(Action::Delete, &Resource::Application(id))
        .or_back(&back)?;
    let app = ops::applications::get(&ctx, id).await?;
    Ok(render(&ConfirmPage::new(
        org_layout(&session, &ctx, "Delete application"),
        format!("Delete the application {}?", app.name),
        "Its instances and their deployments are deleted and it is removed from the scope of \
         every group. This cannot be undone.",
        format!("{}/applications/{}/delete", org_url(&ctx), app.id),
        "Delete application",
        back,
    )))
}

pub(crate) async fn delete_application(ctx: OrgCtx, ids: Ids, _form: Form) -> PageResult {
    let back = format!("{}#applications", org_url(&ctx));
    let id: ApplicationId = ids.id("app_id")?;
    ops::applications::delete(&ctx, id).await.or_back(&back)?;
    Ok(Redirect::to(&format!("{}?done=app_deleted#applications", org_url(&ctx))).into_response())
}
