//! The users of the platform, for superusers: list and search, create,
//! and one user's page (disable or enable, grant or revoke superuser,
//! reset the password). Every change goes through [`ops::users`], the
//! API's own operations, so it writes the same `user.*` events.
//!
//! Invariant: each handler refuses a non-superuser (the 403 page) before
//! reading anything; a password typed here is never echoed back.
use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use tron_core::ids::UserId;
use tron_core::principal::Principal;
use tron_core::values::{DisplayName, Email};
use tron_core::Error;
use tron_store::models::User;
use tron_store::PageRequest;

use crate::auth::Caller;
use crate::ops;
use crate::ops::users::{NewUserInput, UserChange};
use crate::portal::error::{OrBack, PortalError};
use crate::portal::form::{Failed, Form, Ids, QueryMap};
use crate::portal::orgs::{ConfirmPage, PageResult};
use crate::portal::session::PortalSession;
use crate::portal::view::{render, render_with_status, ts, Layout};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(list).post(create))
        .route("/users/{user_id}", get(show))
        .route("/users/{user_id}/active", get(active_page).post(set_active))
        .route(
            "/users/{user_id}/superuser",
            get(superuser_page).post(set_superuser),
        )
        .route("/users/{user_id}/password", post(reset_password))
}

/// The caller of the API's operations, for the session's user.
pub(crate) fn caller(session: &PortalSession) -> Caller {
    Caller {
        principal: session.principal.clone(),
        meta: session.meta(),
        client: session.client.clone(),
    }
}

fn require_superuser(p: &Principal) -> Result<(), Error> {
    if p.is_superuser() {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// Users a page lists at a time.
const USERS_PAGE: u32 = 50;

pub(crate) struct UserRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub active: bool,
    pub superuser: bool,
    pub created: String,
}

fn user_row(u: User) -> UserRow {
    UserRow {
        id: u.id.to_string(),
        email: u.email,
        name: u.name,
        active: u.is_active,
        superuser: u.is_superuser,
        created: ts(u.created_at),
    }
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    layout: Layout,
    search: String,
    users: Vec<UserRow>,
    next: Option<String>,
    /// Shown after "next page": a way back to the first.
    paged: bool,
    /// A refused "Create a user", shown in place (never its password).
    failed: Failed,
}

/// The id of the users page's "Create a user" form.
const CREATE_FORM: &str = "create-user-form";

fn users_layout(session: &PortalSession, title: &str) -> Layout {
    Layout::new(session, title).crumb("Users", "/users")
}

async fn list(State(state): State<AppState>, session: PortalSession, q: QueryMap) -> PageResult {
    list_page(&state, &session, &q, Failed::none()).await
}

async fn list_page(
    state: &AppState,
    session: &PortalSession,
    q: &QueryMap,
    failed: Failed,
) -> PageResult {
    require_superuser(&session.principal)?;
    let search = q.get("q").map(str::trim).unwrap_or("").to_owned();
    let after = q.get("cursor").and_then(|c| uuid::Uuid::parse_str(c).ok());
    let page = ops::users::list(
        state,
        &session.principal,
        Some(search.as_str()),
        &PageRequest {
            limit: USERS_PAGE,
            after,
        },
    )
    .await?;
    let next = page.next_cursor.map(|c| {
        let mut params = vec![("cursor", c.as_str())];
        if !search.is_empty() {
            params.insert(0, ("q", search.as_str()));
        }
        format!(
            "/users?{}",
            serde_urlencoded::to_string(&params).unwrap_or_default()
        )
    });
    let page = UsersPage {
        layout: users_layout(session, "Users").notice(q.get("done")),
        users: page.items.into_iter().map(user_row).collect(),
        next,
        paged: after.is_some(),
        search,
        failed,
    };
    Ok(render_with_status(page.failed.status, &page))
}

async fn create(State(state): State<AppState>, session: PortalSession, form: Form) -> PageResult {
    require_superuser(&session.principal)?;
    let created = async {
        let input = NewUserInput {
            email: Email::parse("email", form.text("email"))?,
            name: DisplayName::parse("name", form.text("name"))?,
            password: form.text("password").to_owned(),
            is_superuser: form.get("is_superuser") == Some("on"),
        };
        ops::users::create(&state, &caller(&session), input).await
    }
    .await;
    let user = match created {
        Ok(user) => user,
        Err(e) => {
            let failed = Failed::of(CREATE_FORM, form, &["email", "name", "password"], e)?;
            return list_page(&state, &session, &QueryMap::default(), failed).await;
        }
    };
    Ok(Redirect::to(&format!("/users/{}?done=user_created", user.id)).into_response())
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    layout: Layout,
    user: UserRow,
    /// The superuser looks at itself: its password is changed on the
    /// profile page (it needs the current one), and it cannot disable
    /// itself from here by accident.
    is_self: bool,
}

async fn user_of(
    state: &AppState,
    session: &PortalSession,
    ids: &Ids,
) -> Result<(User, String), PortalError> {
    require_superuser(&session.principal)?;
    let id: UserId = ids.id("user_id")?;
    let user = ops::users::get(state, &session.principal, id).await?;
    let url = format!("/users/{id}");
    Ok((user, url))
}

async fn show(
    State(state): State<AppState>,
    session: PortalSession,
    ids: Ids,
    q: QueryMap,
) -> PageResult {
    let (user, _) = user_of(&state, &session, &ids).await?;
    let is_self = session.principal.user_id() == Some(user.id);
    let layout = users_layout(&session, &user.name).notice(q.get("done"));
    Ok(render(&UserPage {
        layout,
        user: user_row(user),
        is_self,
    }))
}

async fn active_page(
    State(state): State<AppState>,
    session: PortalSession,
    ids: Ids,
) -> PageResult {
    let (user, url) = user_of(&state, &session, &ids).await?;
    let page = if user.is_active {
        ConfirmPage::new(
            users_layout(&session, "Disable user"),
            format!("Disable {} ({})?", user.name, user.email),
            "Every token of this user is refused from its next request (sessions, personal \
             tokens) and it cannot log in, until it is enabled again.",
            format!("{url}/active"),
            "Disable user",
            url.clone(),
        )
        .with_field("is_active", "false")
    } else {
        ConfirmPage::new(
            users_layout(&session, "Enable user"),
            format!("Enable {} ({})?", user.name, user.email),
            "The user can log in again, and its unexpired personal tokens work again.",
            format!("{url}/active"),
            "Enable user",
            url.clone(),
        )
        .with_field("is_active", "true")
    };
    Ok(render(&page))
}

/// `true` / `false` from a confirmation's hidden field.
fn flag(form: &Form, name: &str) -> Result<bool, Error> {
    match form.text(name) {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::validation(
            name,
            format!("{name} must be true or false"),
        )),
    }
}

async fn set_active(
    State(state): State<AppState>,
    session: PortalSession,
    ids: Ids,
    form: Form,
) -> PageResult {
    let (user, url) = user_of(&state, &session, &ids).await?;
    let active = flag(&form, "is_active").or_back(&url)?;
    let change = UserChange {
        is_active: Some(active),
        ..Default::default()
    };
    ops::users::update(&state, &caller(&session), user.id, change)
        .await
        .or_back(&url)?;
    let done = if active {
        "user_enabled"
    } else {
        "user_disabled"
    };
    Ok(Redirect::to(&format!("{url}?done={done}")).into_response())
}

async fn superuser_page(
    State(state): State<AppState>,
    session: PortalSession,
    ids: Ids,
) -> PageResult {
    let (user, url) = user_of(&state, &session, &ids).await?;
    let page = if user.is_superuser {
        ConfirmPage::new(
            users_layout(&session, "Revoke superuser"),
            format!("Make {} an ordinary user?", user.name),
            "It keeps its organizations and groups, but can no longer manage users, read the \
             platform audit log or act in organizations it is not a member of.",
            format!("{url}/superuser"),
            "Revoke superuser",
            url.clone(),
        )
        .with_field("is_superuser", "false")
    } else {
        ConfirmPage::new(
            users_layout(&session, "Make superuser"),
            format!("Make {} a superuser?", user.name),
            "A superuser manages every user and may act in every organization, including \
             those it is not a member of.",
            format!("{url}/superuser"),
            "Make superuser",
            url.clone(),
        )
        .with_field("is_superuser", "true")
    };
    Ok(render(&page))
}

async fn set_superuser(
    State(state): State<AppState>,
    session: PortalSession,
    ids: Ids,
    form: Form,
) -> PageResult {
    let (user, url) = user_of(&state, &session, &ids).await?;
    let superuser = flag(&form, "is_superuser").or_back(&url)?;
    let change = UserChange {
        is_superuser: Some(superuser),
        ..Default::default()
    };
    ops::users::update(&state, &caller(&session), user.id, change)
        .await
        .or_back(&url)?;
    let done = if superuser {
        "superuser_granted"
    } else {
        "superuser_revoked"
    };
    Ok(Redirect::to(&format!("{url}?done={done}")).into_response())
}

async fn reset_password(
    State(state): State<AppState>,
    session: PortalSession,
    ids: Ids,
    form: Form,
) -> PageResult {
    let (user, url) = user_of(&state, &session, &ids).await?;
    let back = format!("{url}#password");
    if session.principal.user_id() == Some(user.id) {
        // One's own password needs the current one: the profile page.
        return Err(PortalError::from(Error::validation(
            "password",
            "change your own password on your profile page, with your current one",
        ))
        .back("/profile#password"));
    }
    let change = UserChange {
        password: Some(form.text("password").to_owned()),
        ..Default::default()
    };
    ops::users::update(&state, &caller(&session), user.id, change)
        .await
        .or_back(&back)?;
    Ok(Redirect::to(&format!("{url}?done=password_reset")).into_response())
}
