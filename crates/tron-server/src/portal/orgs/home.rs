//! My organizations: the list, and creating one.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use tron_core::values::DisplayName;
use tron_core::Error;

use super::PageResult;
use crate::portal::error::OrBack;
use crate::portal::form::{Form, QueryMap};
use crate::portal::session::PortalSession;
use crate::portal::view::{collect, render, ts, Layout};
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
