//! The signed-in user's own page: its name, its password (the current one
//! needed, as in the API) and its personal tokens. A new token's secret is
//! rendered once into the response to the POST that minted it, like a
//! service token's (see portal/mod.rs).
//!
//! Invariant: everything goes through [`ops::users`] as the session's
//! user, so a user reaches only itself; a wrong current password is said
//! on the page (with the API's 403) and counts towards the login
//! throttles; no password or token is ever put in a URL or echoed into a
//! field.
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use chrono::Duration;
use tron_core::ids::TokenId;
use tron_core::values::DisplayName;
use tron_core::Error;
use tron_store::models::{TokenStatus, TokenView};

use crate::ops;
use crate::ops::users::UserChange;
use crate::portal::error::{OrBack, PortalError};
use crate::portal::form::{sentence, Failed, Form, Ids, QueryMap};
use crate::portal::orgs::{ConfirmPage, PageResult};
use crate::portal::service_accounts::{expiry_choices, expiry_from};
use crate::portal::session::PortalSession;
use crate::portal::users::caller;
use crate::portal::view::{collect, render, render_with_status, ts, ts_or, Choice, Layout};
use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/profile", get(show))
        .route("/profile/name", post(rename))
        .route("/profile/password", post(change_password))
        .route("/profile/tokens", post(create_token))
        .route(
            "/profile/tokens/{token_id}/revoke",
            get(revoke_page).post(revoke),
        )
}

struct TokenRow {
    id: String,
    name: String,
    hint: String,
    status: &'static str,
    active: bool,
    created: String,
    expires: String,
    last_used: String,
}

fn token_row(v: TokenView) -> TokenRow {
    let (status, active) = match v.status {
        TokenStatus::Active => ("active", true),
        TokenStatus::Expired => ("expired", false),
        TokenStatus::Revoked => ("revoked", false),
    };
    TokenRow {
        id: v.id.to_string(),
        name: v.name,
        hint: v.hint,
        status,
        active,
        created: ts(v.created_at),
        expires: ts_or(v.expires_at, "never"),
        last_used: ts_or(v.last_used_at, "never"),
    }
}

/// A personal token just minted, shown once (`token_shown_once.html`).
struct NewToken {
    value: String,
    name: String,
    expires: String,
    lose_it: &'static str,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    layout: Layout,
    name: String,
    email: String,
    superuser: bool,
    created: String,
    tokens: Vec<TokenRow>,
    new_token: Option<NewToken>,
    expiry_choices: Vec<Choice>,
    tomorrow: String,
    /// Why the password was not changed.
    password_error: Option<String>,
    /// A refused rename or "Create token", shown in place.
    failed: Failed,
}

/// The ids of the profile's forms that re-render in place.
const NAME_FORM: &str = "profile-name-form";
const TOKEN_FORM: &str = "profile-token-form";

async fn page(
    state: &AppState,
    session: &PortalSession,
    status: StatusCode,
    notice: Option<&str>,
    new_token: Option<NewToken>,
    password_error: Option<String>,
    failed: Failed,
) -> PageResult {
    let id = session.principal.user_id().ok_or(Error::Forbidden)?;
    let user = ops::users::get(state, &session.principal, id).await?;
    let p = &session.principal;
    let tokens = collect(|page| async move { ops::users::list_tokens(state, p, &page).await })
        .await?
        .into_iter()
        .rev()
        .map(token_row)
        .collect();
    let mut layout = Layout::new(session, "Your profile")
        .crumb("Profile", "/profile")
        .notice(notice);
    if new_token.is_some() {
        layout.replace_url = Some("/profile".into());
    }
    let page = ProfilePage {
        layout,
        name: user.name,
        email: user.email,
        superuser: user.is_superuser,
        created: ts(user.created_at),
        tokens,
        new_token,
        expiry_choices: expiry_choices(None),
        tomorrow: (state.now() + Duration::days(1))
            .format("%Y-%m-%d")
            .to_string(),
        password_error,
        failed,
    };
    Ok(render_with_status(status, &page))
}

async fn show(State(state): State<AppState>, session: PortalSession, q: QueryMap) -> PageResult {
    page(
        &state,
        &session,
        StatusCode::OK,
        q.get("done"),
        None,
        None,
        Failed::none(),
    )
    .await
}

async fn rename(State(state): State<AppState>, session: PortalSession, form: Form) -> PageResult {
    let id = session.principal.user_id().ok_or(Error::Forbidden)?;
    let saved = async {
        let change = UserChange {
            name: Some(DisplayName::parse("name", form.text("name"))?),
            ..Default::default()
        };
        ops::users::update(&state, &caller(&session), id, change).await
    }
    .await;
    if let Err(e) = saved {
        let failed = Failed::of(NAME_FORM, form, &["name"], e)?;
        let status = failed.status;
        return page(&state, &session, status, None, None, None, failed).await;
    }
    Ok(Redirect::to("/profile?done=name_saved").into_response())
}

async fn change_password(
    State(state): State<AppState>,
    session: PortalSession,
    form: Form,
) -> PageResult {
    let id = session.principal.user_id().ok_or(Error::Forbidden)?;
    if form.text("password") != form.text("password_again") {
        return page(
            &state,
            &session,
            StatusCode::BAD_REQUEST,
            None,
            None,
            Some("The two new passwords differ. Type the same one twice.".into()),
            Failed::none(),
        )
        .await;
    }
    let change = UserChange {
        password: Some(form.text("password").to_owned()),
        current_password: Some(form.text("current_password").to_owned()),
        ..Default::default()
    };
    // The session changing its own password goes on; the user's other
    // sessions end (as in the API).
    match ops::users::update(&state, &caller(&session), id, change).await {
        Ok(_) => Ok(Redirect::to("/profile?done=password_changed").into_response()),
        Err(e) => {
            let (status, message) = match e {
                Error::Forbidden => (
                    StatusCode::FORBIDDEN,
                    "The current password is wrong. Your password was not changed.".to_owned(),
                ),
                Error::Validation { message, .. } => (StatusCode::BAD_REQUEST, sentence(&message)),
                Error::RateLimited { retry_after_secs } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("Too many wrong passwords. Try again in {retry_after_secs} seconds."),
                ),
                e => return Err(PortalError::from(e).back("/profile#password")),
            };
            page(
                &state,
                &session,
                status,
                None,
                None,
                Some(message),
                Failed::none(),
            )
            .await
        }
    }
}

async fn create_token(
    State(state): State<AppState>,
    session: PortalSession,
    form: Form,
) -> PageResult {
    let created = async {
        let expires_at = expiry_from(&form, state.now())?;
        let name = DisplayName::parse("name", form.text("name"))?;
        ops::users::create_token(&state, &caller(&session), name, expires_at).await
    }
    .await;
    let (view, secret) = match created {
        Ok(created) => created,
        Err(e) => {
            let failed = Failed::of(TOKEN_FORM, form, &["name", "expires_at"], e)?;
            let status = failed.status;
            return page(&state, &session, status, None, None, None, failed).await;
        }
    };
    let new = NewToken {
        value: secret.reveal(),
        name: view.name,
        expires: ts_or(view.expires_at, "never"),
        lose_it: "revoke it and create a new one.",
    };
    page(
        &state,
        &session,
        StatusCode::OK,
        None,
        Some(new),
        None,
        Failed::none(),
    )
    .await
}

async fn token_of(
    state: &AppState,
    session: &PortalSession,
    ids: &Ids,
) -> Result<TokenView, PortalError> {
    let id: TokenId = ids.id("token_id")?;
    Ok(ops::users::get_token(state, &session.principal, id).await?)
}

async fn revoke_page(
    State(state): State<AppState>,
    session: PortalSession,
    ids: Ids,
) -> PageResult {
    let t = token_of(&state, &session, &ids).await?;
    Ok(render(&ConfirmPage::new(
        Layout::new(&session, "Revoke token").crumb("Profile", "/profile"),
        format!("Revoke your token {} (…{})?", t.name, t.hint),
        "Scripts that use it are refused from their next request. This cannot be undone.",
        format!("/profile/tokens/{}/revoke", t.id),
        "Revoke token",
        "/profile#tokens",
    )))
}

async fn revoke(
    State(state): State<AppState>,
    session: PortalSession,
    ids: Ids,
    _form: Form,
) -> PageResult {
    let t = token_of(&state, &session, &ids).await?;
    ops::users::revoke_token(&state, &caller(&session), t.id)
        .await
        .or_back("/profile#tokens")?;
    Ok(Redirect::to("/profile?done=pat_revoked#tokens").into_response())
}
