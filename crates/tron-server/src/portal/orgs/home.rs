//! My organizations: the list, and creating one.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use tron_core::values::DisplayName;
use tron_core::Error;

use super::PageResult;
use crate::portal::form::{Failed, Form, QueryMap};
use crate::portal::session::PortalSession;
use crate::portal::view::{collect, render_with_status, ts, Layout};
use crate::state::AppState;

pub(super) struct OrgRow {
    id: String,
    name: String,
    created: String,
}

#[derive(Template)]
#[template(path = "home.html")]
pub(super) struct HomePage {
    layout: Layout,
    orgs: Vec<OrgRow>,
    showing_all: bool,
    /// A refused "Create organization", shown in place.
    failed: Failed,
}

/// The id of the home page's "Create organization" form.
const CREATE_FORM: &str = "create-org-form";

pub(crate) async fn home(
    State(state): State<AppState>,
    session: PortalSession,
    q: QueryMap,
) -> PageResult {
    home_page(&state, &session, &q, Failed::none()).await
}

async fn home_page(
    state: &AppState,
    session: &PortalSession,
    q: &QueryMap,
    failed: Failed,
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
        layout: Layout::new(session, "Organizations")
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
        failed,
    };
    Ok(render_with_status(page.failed.status, &page))
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
    let created = async {
        let name = DisplayName::parse("name", form.text("name"))?;
        state
            .store
            .create_organization(&session.meta(), state.now(), name.into(), user)
            .await
    }
    .await;
    let org = match created {
        Ok(org) => org,
        Err(e) => {
            let failed = Failed::of(CREATE_FORM, form, &["name"], e)?;
            return home_page(&state, &session, &QueryMap::default(), failed).await;
        }
    };
    Ok(Redirect::to(&format!("/orgs/{}?done=org_created", org.id)).into_response())
}
