//! A refusal explained: when `ctx.require` refuses a page, the 403 page
//! names the role and the scopes that would have allowed it (the tables of
//! §3), e.g. "You need the editor role on environment staging (or on the
//! whole organization) to do this."
//!
//! The refusal travels as `Error::Denied { action, resource }`, which the
//! API answers exactly like any other `403`. The page is first rendered
//! without names (the error has no access to the store); the organization
//! layer then says it again with the environment's and the application's
//! names, looked up through the viewer's own context, so a name the viewer
//! may not see is never shown ("this environment" instead).
use axum::http::StatusCode;
use axum::response::Response;
use tron_core::authz::{requirement, Action, Requirement, Resource};

use crate::access::OrgCtx;
use crate::ops;
use crate::portal::error::error_page;

/// What was refused, kept on the response for [`explain`].
#[derive(Debug, Clone)]
pub(crate) struct Denial {
    pub action: Action,
    pub resource: Resource,
    /// Where "Go back" leads.
    pub back: Option<String>,
}

/// The names the sentence uses, where the viewer may see them.
#[derive(Debug, Default)]
pub(crate) struct Names {
    pub environment: Option<String>,
    pub application: Option<String>,
}

impl Denial {
    pub(crate) fn page(&self, names: &Names) -> Response {
        error_page(
            StatusCode::FORBIDDEN,
            "Not allowed",
            needed(self.action, &self.resource, names),
            self.back.clone(),
        )
    }
}

/// The sentence: the role the action needs and the scopes that cover the
/// resource.
pub(crate) fn needed(action: Action, resource: &Resource, names: &Names) -> String {
    let Requirement::Role(role) = requirement(resource, action) else {
        // Membership is enough or the pair is meaningless: `require`
        // never refuses those, so there is no role to name.
        return "You do not have permission to do this. An organization admin can grant it \
                through a group."
            .into();
    };
    let env = || {
        names.environment.as_ref().map_or_else(
            || "this environment".to_owned(),
            |n| format!("environment {n}"),
        )
    };
    let app = || {
        names.application.as_ref().map_or_else(
            || "this application".to_owned(),
            |n| format!("application {n}"),
        )
    };
    let place = match resource {
        Resource::Environment(_) => format!("on {} (or on the whole organization)", env()),
        Resource::Application(_) => format!("on {} (or on the whole organization)", app()),
        Resource::Instance { .. } => {
            format!("on {}, on {} (or on the whole organization)", env(), app())
        }
        _ => "on the whole organization".to_owned(),
    };
    format!(
        "You need the {} role {place} to do this. An organization admin can give you this \
         permission through a group.",
        role.as_str()
    )
}

/// Says a refusal of a page under `/orgs/{org}` again, with names. Any
/// other response passes unchanged.
pub(crate) async fn explain(ctx: &OrgCtx, mut resp: Response) -> Response {
    let Some(denial) = resp.extensions_mut().remove::<Denial>() else {
        return resp;
    };
    let (env, app) = match denial.resource {
        Resource::Environment(e) => (Some(e), None),
        Resource::Application(a) => (None, Some(a)),
        Resource::Instance {
            application,
            environment,
        } => (Some(environment), Some(application)),
        _ => return resp,
    };
    let mut names = Names::default();
    if let Some(id) = env {
        names.environment = ops::environments::get(ctx, id).await.ok().map(|e| e.name);
    }
    if let Some(id) = app {
        names.application = ops::applications::get(ctx, id).await.ok().map(|a| a.name);
    }
    if names.environment.is_none() && names.application.is_none() {
        return resp;
    }
    denial.page(&names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tron_core::ids::{ApplicationId, EnvironmentId};

    #[test]
    fn names_the_role_and_the_scopes_that_cover_the_resource() {
        let env = EnvironmentId::new();
        let app = ApplicationId::new();
        let staging = Names {
            environment: Some("staging".into()),
            application: None,
        };
        assert!(
            needed(Action::Update, &Resource::Environment(env), &staging).starts_with(
                "You need the editor role on environment staging (or on the whole \
                 organization) to do this."
            )
        );
        assert!(needed(
            Action::Delete,
            &Resource::Application(app),
            &Names::default()
        )
        .starts_with("You need the admin role on this application (or on the whole"));
        let both = Names {
            environment: Some("staging".into()),
            application: Some("web".into()),
        };
        let instance = Resource::Instance {
            application: app,
            environment: env,
        };
        assert!(needed(Action::Update, &instance, &both)
            .starts_with("You need the editor role on environment staging, on application web"));
        assert!(needed(Action::View, &Resource::AuditEvents, &both)
            .starts_with("You need the admin role on the whole organization to do this."));
        assert!(needed(Action::View, &Resource::Members, &both)
            .starts_with("You need the viewer role on the whole organization"));
    }
}
