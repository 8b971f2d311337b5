//! Groups: create, edit (name, description, role, scope), members add and
//! remove, delete.
use std::collections::{HashMap, HashSet};

use askama::Template;
use axum::response::{IntoResponse, Redirect, Response};
use tron_core::authz::{Action, Resource, Role, Scope};
use tron_core::ids::{ApplicationId, EnvironmentId, GroupId, MemberId};
use tron_core::values::{Description, DisplayName};
use tron_core::Error;

use crate::access::OrgCtx;
use crate::ops;
use crate::ops::groups::{Change, Draft};
use crate::portal::error::{OrBack, PortalError};
use crate::portal::form::{Failed, Form, Ids, QueryMap};
use crate::portal::orgs::{
    member_row, org_layout, org_url, role_choices, scope_text, section_url, sole_admin,
    ConfirmPage, MemberRow,
};
use crate::portal::session::PortalSession;
use crate::portal::view::{
    collect, contains_any, listing, render, render_with_status, Choice, Layout, Listing,
};

type PageResult = Result<Response, PortalError>;

fn role_from(form: &Form) -> Result<Role, Error> {
    Role::parse(form.text("role"))
        .ok_or_else(|| Error::validation("role", "the role must be viewer, editor or admin"))
}

/// The scope chosen on a group form: a type and, for the narrower ones,
/// ticked environments or applications.
fn scope_from(form: &Form) -> Result<Scope, Error> {
    match form.get("scope").unwrap_or("organization") {
        "organization" => Ok(Scope::Organization),
        "environment" => {
            let ids = form
                .all("environment_ids")
                .map(|s| s.parse::<EnvironmentId>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| Error::validation("scope", "an environment is not valid"))?;
            if ids.is_empty() {
                return Err(Error::validation(
                    "scope",
                    "choose at least one environment for an environment scope",
                ));
            }
            Ok(Scope::Environment {
                environment_ids: ids,
            })
        }
        "application" => {
            let ids = form
                .all("application_ids")
                .map(|s| s.parse::<ApplicationId>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| Error::validation("scope", "an application is not valid"))?;
            if ids.is_empty() {
                return Err(Error::validation(
                    "scope",
                    "choose at least one application for an application scope",
                ));
            }
            Ok(Scope::Application {
                application_ids: ids,
            })
        }
        _ => Err(Error::validation(
            "scope",
            "the scope must be the organization, environments or applications",
        )),
    }
}

fn group_url(ctx: &OrgCtx, id: GroupId) -> String {
    format!("{}/groups/{id}", org_url(ctx))
}

/// A group as the list shows it.
struct GroupRow {
    id: String,
    name: String,
    description: String,
    role: &'static str,
    scope: String,
    member_count: i64,
}

#[derive(Template)]
#[template(path = "groups.html")]
struct GroupsPage {
    layout: Layout,
    url: String,
    org_name: String,
    list: Listing<GroupRow>,
    can_manage: bool,
    roles: Vec<Choice>,
    scope_kind: &'static str,
    env_choices: Vec<Choice>,
    app_choices: Vec<Choice>,
    failed: Failed,
}

pub(crate) async fn list_page(session: PortalSession, ctx: OrgCtx, q: QueryMap) -> PageResult {
    groups_page(&session, &ctx, &q, Failed::none()).await
}

async fn groups_page(
    session: &PortalSession,
    ctx: &OrgCtx,
    q: &QueryMap,
    failed: Failed,
) -> PageResult {
    ctx.require(Action::View, &Resource::Groups)?;
    let envs = collect(|p| async move { ops::environments::list(ctx, &p).await }).await?;
    let apps = collect(|p| async move { ops::applications::list(ctx, &p).await }).await?;
    let env_names: HashMap<_, _> = envs.iter().map(|e| (e.id, e.name.clone())).collect();
    let app_names: HashMap<_, _> = apps.iter().map(|a| (a.id, a.name.clone())).collect();
    let base = section_url(ctx, "groups");
    let list = listing(
        &base,
        q,
        |g: &tron_store::models::Group, n| contains_any(n, &[&g.name, &g.description]),
        |g| g.id.0,
        |p| async move { ops::groups::list(ctx, &p).await },
    )
    .await?
    .map(|g| GroupRow {
        id: g.id.to_string(),
        scope: scope_text(&g.scope, &env_names, &app_names),
        name: g.name,
        description: g.description,
        role: g.role.as_str(),
        member_count: g.member_count,
    });
    // A failed form keeps its role, scope and ticks.
    let typed = |field: &str| failed.value("create-group", field).to_owned();
    let ticked = |field: &str, id: String| {
        failed.failed("create-group") && failed.values("create-group", field).any(|v| v == id)
    };
    let role = match typed("role") {
        r if r.is_empty() => "viewer".to_owned(),
        r => r,
    };
    let page = GroupsPage {
        layout: org_layout(session, ctx, "Groups")
            .crumb("Groups", base)
            .notice(q.get("done")),
        url: org_url(ctx),
        org_name: ctx.organization().name.clone(),
        list,
        can_manage: ctx.allows(Action::Create, &Resource::Groups),
        roles: role_choices(&role),
        scope_kind: match typed("scope").as_str() {
            "environment" => "environment",
            "application" => "application",
            _ => "organization",
        },
        env_choices: envs
            .into_iter()
            .map(|e| Choice::new(e.id, e.name, ticked("environment_ids", e.id.to_string())))
            .collect(),
        app_choices: apps
            .into_iter()
            .map(|a| Choice::new(a.id, a.name, ticked("application_ids", a.id.to_string())))
            .collect(),
        failed,
    };
    Ok(render_with_status(page.failed.status, &page))
}

pub(crate) async fn create(session: PortalSession, ctx: OrgCtx, form: Form) -> PageResult {
    let back = section_url(&ctx, "groups");
    ctx.require(Action::Create, &Resource::Groups)
        .or_back(&back)?;
    let created = async {
        let draft = Draft {
            name: DisplayName::parse("name", form.text("name"))?,
            description: Description::parse("description", form.text("description").trim())?,
            role: role_from(&form)?,
            scope: scope_from(&form)?,
        };
        ops::groups::create(&ctx, draft).await
    }
    .await;
    match created {
        Ok(g) => Ok(
            Redirect::to(&format!("{}?done=group_created", group_url(&ctx, g.id))).into_response(),
        ),
        Err(e) => {
            let failed = Failed::of(
                "create-group",
                form,
                &["name", "description", "role", "scope"],
                e,
            )?;
            groups_page(&session, &ctx, &QueryMap::default(), failed).await
        }
    }
}

#[derive(Template)]
#[template(path = "group.html")]
struct GroupPage {
    layout: Layout,
    org_url: String,
    url: String,
    id: String,
    name: String,
    description: String,
    role: &'static str,
    scope_kind: &'static str,
    scope: String,
    can_manage: bool,
    can_delete: bool,
    roles: Vec<Choice>,
    env_choices: Vec<Choice>,
    app_choices: Vec<Choice>,
    members: Vec<MemberRow>,
    candidates: Vec<Choice>,
    /// A refused "Edit", shown in place.
    failed: Failed,
}

/// The id of the group page's edit form.
const EDIT_FORM: &str = "edit-group-form";

pub(crate) async fn show(session: PortalSession, ctx: OrgCtx, ids: Ids, q: QueryMap) -> PageResult {
    let id: GroupId = ids.id("group_id")?;
    group_page(&session, &ctx, id, q.get("done"), Failed::none()).await
}

async fn group_page(
    session: &PortalSession,
    ctx: &OrgCtx,
    id: GroupId,
    notice: Option<&str>,
    failed: Failed,
) -> PageResult {
    let group = ops::groups::get(ctx, id).await.or_back(&org_url(ctx))?;
    let c = ctx;
    let envs = collect(|p| async move { ops::environments::list(c, &p).await }).await?;
    let apps = collect(|p| async move { ops::applications::list(c, &p).await }).await?;
    let (mut scoped_envs, mut scoped_apps): (HashSet<String>, HashSet<String>) = match &group.scope
    {
        Scope::Organization => Default::default(),
        Scope::Environment { environment_ids } => (
            environment_ids.iter().map(ToString::to_string).collect(),
            HashSet::new(),
        ),
        Scope::Application { application_ids } => (
            HashSet::new(),
            application_ids.iter().map(ToString::to_string).collect(),
        ),
    };
    // A refused edit shows what was chosen, not what is saved.
    let edited = failed.failed(EDIT_FORM);
    if edited {
        scoped_envs = failed
            .values(EDIT_FORM, "environment_ids")
            .map(str::to_owned)
            .collect();
        scoped_apps = failed
            .values(EDIT_FORM, "application_ids")
            .map(str::to_owned)
            .collect();
    }
    let env_names: HashMap<_, _> = envs.iter().map(|e| (e.id, e.name.clone())).collect();
    let app_names: HashMap<_, _> = apps.iter().map(|a| (a.id, a.name.clone())).collect();
    let url = org_url(ctx);
    let can_manage = ctx.allows(Action::Update, &Resource::Groups);
    // "Remove" is not offered where the last-admin rule would refuse it.
    let keeps_admin = can_manage && group.role == Role::Admin && group.scope == Scope::Organization;
    let sole = if keeps_admin {
        sole_admin(c).await?
    } else {
        None
    };
    let members: Vec<MemberRow> = collect(|p| async move { ops::groups::members(c, id, &p).await })
        .await?
        .into_iter()
        .map(|m| {
            let mut row = member_row(&url, m, ctx.now());
            row.removable = sole.is_none_or(|s| s.to_string() != row.id);
            row
        })
        .collect();
    let candidates = if can_manage {
        let inside: HashSet<&str> = members.iter().map(|m| m.id.as_str()).collect();
        collect(|p| async move { ops::members::list(c, None, None, &p).await })
            .await?
            .into_iter()
            .map(|m| member_row(&url, m, ctx.now()))
            .filter(|m| !inside.contains(m.id.as_str()))
            .map(|m| {
                let label = if m.is_user {
                    format!("{} <{}> (user)", m.name, m.email)
                } else {
                    format!("{} (service account)", m.name)
                };
                Choice::new(&m.id, label, false)
            })
            .collect()
    } else {
        Vec::new()
    };
    let page = GroupPage {
        id: group.id.to_string(),
        layout: org_layout(session, ctx, &group.name)
            .crumb("Groups", section_url(ctx, "groups"))
            .notice(notice),
        url: group_url(ctx, group.id),
        scope_kind: if edited {
            match failed.value(EDIT_FORM, "scope") {
                "environment" => "environment",
                "application" => "application",
                _ => "organization",
            }
        } else {
            group.scope.kind_str()
        },
        scope: scope_text(&group.scope, &env_names, &app_names),
        role: group.role.as_str(),
        roles: role_choices(if edited {
            failed.value(EDIT_FORM, "role")
        } else {
            group.role.as_str()
        }),
        env_choices: envs
            .iter()
            .map(|e| {
                Choice::new(
                    e.id,
                    e.name.clone(),
                    scoped_envs.contains(&e.id.to_string()),
                )
            })
            .collect(),
        app_choices: apps
            .iter()
            .map(|a| {
                Choice::new(
                    a.id,
                    a.name.clone(),
                    scoped_apps.contains(&a.id.to_string()),
                )
            })
            .collect(),
        name: if edited {
            failed.value(EDIT_FORM, "name").to_owned()
        } else {
            group.name
        },
        description: if edited {
            failed.value(EDIT_FORM, "description").to_owned()
        } else {
            group.description
        },
        can_manage,
        can_delete: ctx.allows(Action::Delete, &Resource::Groups),
        members,
        candidates,
        org_url: url,
        failed,
    };
    Ok(render_with_status(page.failed.status, &page))
}

pub(crate) async fn update(
    session: PortalSession,
    ctx: OrgCtx,
    ids: Ids,
    form: Form,
) -> PageResult {
    let id: GroupId = ids.id("group_id")?;
    let saved = async {
        ctx.require(Action::Update, &Resource::Groups)?;
        let change = Change {
            name: Some(DisplayName::parse("name", form.text("name"))?),
            description: Some(Description::parse(
                "description",
                form.text("description").trim(),
            )?),
            role: Some(role_from(&form)?),
            scope: Some(scope_from(&form)?),
        };
        ops::groups::update(&ctx, id, change).await
    }
    .await;
    if let Err(e) = saved {
        let failed = Failed::of(EDIT_FORM, form, &["name", "description"], e)?;
        return group_page(&session, &ctx, id, None, failed).await;
    }
    let back = group_url(&ctx, id);
    Ok(Redirect::to(&format!("{back}?done=group_saved")).into_response())
}

pub(crate) async fn delete_page(session: PortalSession, ctx: OrgCtx, ids: Ids) -> PageResult {
    let id: GroupId = ids.id("group_id")?;
    let back = group_url(&ctx, id);
    ctx.require(Action::Delete, &Resource::Groups)
        .or_back(&back)?;
    let g = ops::groups::get(&ctx, id).await?;
    Ok(render(&ConfirmPage::new(
        org_layout(&session, &ctx, "Delete group"),
        format!("Delete the group {}?", g.name),
        format!(
            "Its {} member(s) lose the {} role it grants. This cannot be undone.",
            g.member_count,
            g.role.as_str()
        ),
        format!("{back}/delete"),
        "Delete group",
        back,
    )))
}

pub(crate) async fn delete(ctx: OrgCtx, ids: Ids, _form: Form) -> PageResult {
    let id: GroupId = ids.id("group_id")?;
    let back = group_url(&ctx, id);
    ops::groups::delete(&ctx, id).await.or_back(&back)?;
    Ok(Redirect::to(&format!(
        "{}?done=group_deleted",
        section_url(&ctx, "groups")
    ))
    .into_response())
}

pub(crate) async fn add_member(ctx: OrgCtx, ids: Ids, form: Form) -> PageResult {
    let id: GroupId = ids.id("group_id")?;
    let back = group_url(&ctx, id);
    ctx.require(Action::Update, &Resource::Groups)
        .or_back(&back)?;
    let member: MemberId = form
        .text("member_id")
        .parse()
        .map_err(|_| Error::validation("member_id", "choose a member to add"))
        .or_back(&back)?;
    ops::groups::add_member(&ctx, id, member)
        .await
        .or_back(&back)?;
    Ok(Redirect::to(&format!("{back}?done=group_member_added")).into_response())
}

pub(crate) async fn remove_member_page(
    session: PortalSession,
    ctx: OrgCtx,
    ids: Ids,
) -> PageResult {
    let id: GroupId = ids.id("group_id")?;
    let back = group_url(&ctx, id);
    ctx.require(Action::Update, &Resource::Groups)
        .or_back(&back)?;
    let member: MemberId = ids.id("member_id")?;
    let group = ops::groups::get(&ctx, id).await.or_back(&back)?;
    let who = member_row(
        &org_url(&ctx),
        ops::members::get(&ctx, member).await.or_back(&back)?,
        ctx.now(),
    );
    Ok(render(&ConfirmPage::new(
        org_layout(&session, &ctx, "Remove from group"),
        format!("Take {} out of {}?", who.name, group.name),
        format!(
            "It loses what {} gives ({} on its scope) from its next request; its other groups \
             stay.",
            group.name,
            group.role.as_str()
        ),
        format!("{back}/members/{member}/remove"),
        "Remove from group",
        back,
    )))
}

pub(crate) async fn remove_member(ctx: OrgCtx, ids: Ids, _form: Form) -> PageResult {
    let id: GroupId = ids.id("group_id")?;
    let back = group_url(&ctx, id);
    let member: MemberId = ids.id("member_id")?;
    ops::groups::remove_member(&ctx, id, member)
        .await
        .or_back(&back)?;
    Ok(Redirect::to(&format!("{back}?done=group_member_removed")).into_response())
}
