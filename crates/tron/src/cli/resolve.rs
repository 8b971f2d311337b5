//! Names where ids are expected: an argument that parses as a UUID is an
//! id; anything else is looked up by name through the API's lists (what
//! the caller may view), exactly, and refused when it names nothing or
//! more than one thing.
use tron_client::{
    ApplicationId, Client, EnvironmentId, GroupId, Member, MemberId, OrganizationId,
    ServiceAccountId, TokenId, TokenStatus, Uuid,
};

use super::all;
use super::error::{CliError, Result};

pub fn as_id(arg: &str) -> Option<Uuid> {
    Uuid::parse_str(arg.trim()).ok()
}

/// The one item named `name`.
fn one<T, I: Copy>(
    items: Vec<T>,
    what: &str,
    name: &str,
    name_of: impl Fn(&T) -> &str,
    id_of: impl Fn(&T) -> I,
) -> Result<I> {
    let found: Vec<&T> = items.iter().filter(|i| name_of(i) == name).collect();
    match found.as_slice() {
        [one] => Ok(id_of(one)),
        [] => Err(CliError::not_found(what, name)),
        _ => Err(CliError::failed(
            "ambiguous",
            format!("several {what}s are named {name:?}: use an id"),
        )),
    }
}

/// `arg` (or, without one, the caller's only organization, or a service
/// account's own).
pub async fn organization(c: &Client, arg: Option<&str>) -> Result<OrganizationId> {
    if let Some(id) = arg.and_then(as_id) {
        return Ok(OrganizationId(id));
    }
    let listed = all(|p| async move { c.list_organizations(&p).await }).await;
    match (arg, listed) {
        (Some(name), Ok(orgs)) => one(orgs, "organization", name, |o| &o.name, |o| o.id),
        (None, Ok(orgs)) if orgs.len() == 1 => Ok(orgs[0].id),
        (None, Ok(orgs)) if orgs.is_empty() => {
            // A service account lists no organizations: it has its own.
            let me = c.me().await?;
            me.principal
                .organization_id
                .map(OrganizationId)
                .ok_or_else(|| CliError::failed("no_organization", "you are a member of no organization: create one with `tron orgs create NAME`"))
        }
        (None, Ok(orgs)) => Err(CliError::usage(format!(
            "you are a member of {} organizations: name one with --org or TRON_ORG",
            orgs.len()
        ))),
        (arg, Err(listing)) => {
            let me = c.me().await?;
            let Some(own) = me.principal.organization_id.map(OrganizationId) else {
                return Err(listing);
            };
            match arg {
                None => Ok(own),
                Some(name) if c.get_organization(own).await?.name == name => Ok(own),
                Some(name) => Err(CliError::not_found("organization", name)),
            }
        }
    }
}

pub async fn environment(c: &Client, org: OrganizationId, arg: &str) -> Result<EnvironmentId> {
    if let Some(id) = as_id(arg) {
        return Ok(EnvironmentId(id));
    }
    let items = all(|p| async move { c.list_environments(org, &p).await }).await?;
    one(items, "environment", arg, |e| &e.name, |e| e.id)
}

pub async fn application(c: &Client, org: OrganizationId, arg: &str) -> Result<ApplicationId> {
    application_in(c, org, arg, None).await
}

/// An application, by id or name; with `env`, a name the applications list
/// does not give (the caller may not list applications, or may not view
/// this one) is looked up among `env`'s instances, whose objects carry
/// their application's name (SPEC §4): a pipeline that may only see
/// staging's instances finds its application through them.
pub async fn application_in(
    c: &Client,
    org: OrganizationId,
    arg: &str,
    env: Option<EnvironmentId>,
) -> Result<ApplicationId> {
    if let Some(id) = as_id(arg) {
        return Ok(ApplicationId(id));
    }
    let listed = all(|p| async move { c.list_applications(org, &p).await })
        .await
        .and_then(|items| one(items, "application", arg, |a| &a.name, |a| a.id));
    let refusal = match listed {
        Ok(id) => return Ok(id),
        // Several of that name cannot be settled by the instances either.
        Err(
            e @ CliError::Failed {
                code: "ambiguous", ..
            },
        ) => return Err(e),
        Err(e) => e,
    };
    let Some(env) = env else {
        return Err(refusal);
    };
    // The instances of ENV first, then those of every other environment
    // the caller may view: a pipeline allowed on staging finds `web` by
    // staging's instance even when it deploys somewhere else (and is then
    // told by the API whether it may).
    let mut envs = vec![env];
    if let Ok(visible) = all(|p| async move { c.list_environments(org, &p).await }).await {
        envs.extend(visible.into_iter().map(|e| e.id).filter(|id| *id != env));
    }
    for e in envs {
        let Ok(instances) =
            all(|p| async move { c.list_environment_instances(org, e, &p).await }).await
        else {
            continue;
        };
        match one(
            instances,
            "application",
            arg,
            |i| &i.application_name,
            |i| i.application_id,
        ) {
            Ok(id) => return Ok(id),
            Err(CliError::Failed {
                code: "not_found", ..
            }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(refusal)
}

pub async fn group(c: &Client, org: OrganizationId, arg: &str) -> Result<GroupId> {
    if let Some(id) = as_id(arg) {
        return Ok(GroupId(id));
    }
    let items = all(|p| async move { c.list_groups(org, &p).await }).await?;
    one(items, "group", arg, |g| &g.name, |g| g.id)
}

pub async fn service_account(
    c: &Client,
    org: OrganizationId,
    arg: &str,
) -> Result<ServiceAccountId> {
    if let Some(id) = as_id(arg) {
        return Ok(ServiceAccountId(id));
    }
    let items = all(|p| async move { c.list_service_accounts(org, &p).await }).await?;
    one(items, "service account", arg, |s| &s.name, |s| s.id)
}

/// A member by id, a user's email (any case) or a service account's name.
pub async fn member(c: &Client, org: OrganizationId, arg: &str) -> Result<MemberId> {
    if let Some(id) = as_id(arg) {
        return Ok(MemberId(id));
    }
    let items = all(|p| async move { c.list_members(org, None, &p).await }).await?;
    let wanted = arg.trim().to_lowercase();
    let key = |m: &Member| -> String {
        match (&m.user, &m.service_account) {
            (Some(u), _) => u.email.to_lowercase(),
            (None, Some(s)) => s.name.clone(),
            (None, None) => String::new(),
        }
    };
    let keys: Vec<(String, MemberId)> = items.iter().map(|m| (key(m), m.id)).collect();
    one(keys, "member", &wanted, |(k, _)| k, |(_, id)| *id)
}

/// A token by id, or by its name among the service account's tokens: the
/// active one when a rotation left several of that name.
pub async fn token(
    c: &Client,
    org: OrganizationId,
    sa: ServiceAccountId,
    arg: &str,
) -> Result<TokenId> {
    if let Some(id) = as_id(arg) {
        return Ok(TokenId(id));
    }
    let items = all(|p| async move { c.list_service_tokens(org, sa, &p).await }).await?;
    let named: Vec<_> = items.into_iter().filter(|t| t.name == arg).collect();
    if named.len() > 1 {
        let active: Vec<_> = named
            .iter()
            .filter(|t| t.status == TokenStatus::Active)
            .cloned()
            .collect();
        if !active.is_empty() {
            return one(active, "active token", arg, |t| &t.name, |t| t.id);
        }
    }
    one(named, "token", arg, |t| &t.name, |t| t.id)
}
