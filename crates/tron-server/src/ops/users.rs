//! Platform users and their personal tokens: one function per use case for
//! the API (`/users`, `/me/tokens`) and the portal (`/users`, `/profile`).
//!
//! Invariant: users are platform data, not organization data, so these
//! take the caller instead of an OrganizationAccessContext and check it
//! first: superusers manage every user; a user may read itself and change
//! its own name and password (the password only with its current one,
//! checked under the login throttles), and owns its personal tokens. The
//! store writes each change's `user.*` / `personal_token.*` event in the
//! change's transaction.
use chrono::{DateTime, Utc};
use tron_core::ids::{TokenId, UserId};
use tron_core::principal::Principal;
use tron_core::token::{SecretToken, TokenKind};
use tron_core::values::{DisplayName, Email};
use tron_core::{validate, Error, Result};
use tron_store::models::{TokenView, User};
use tron_store::tokens::NewTokenOwner;
use tron_store::users::{NewUser, UserPatch};
use tron_store::{Page, PageRequest};

use crate::api::me::check_current_password;
use crate::auth::Caller;
use crate::ops::tokens::mint;
use crate::state::AppState;

fn require_superuser(p: &Principal) -> Result<()> {
    if p.is_superuser() {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// Every user, or those whose email or name contains `search`
/// (superusers).
pub async fn list(
    state: &AppState,
    principal: &Principal,
    search: Option<&str>,
    page: &PageRequest,
) -> Result<Page<User>> {
    require_superuser(principal)?;
    match search.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => state.store.search_users(s, page).await,
        None => state.store.list_users(page).await,
    }
}

/// What a superuser fills in to create a user.
pub struct NewUserInput {
    pub email: Email,
    pub name: DisplayName,
    pub password: String,
    pub is_superuser: bool,
}

/// Creates a user (superusers): `user.create`.
#[tracing::instrument(skip_all)]
pub async fn create(state: &AppState, caller: &Caller, input: NewUserInput) -> Result<User> {
    require_superuser(&caller.principal)?;
    validate::password("password", &input.password)?;
    let password_hash = state.passwords.hash(input.password).await?;
    state
        .store
        .create_user(
            &caller.meta,
            state.now(),
            NewUser {
                email: input.email.into_string(),
                name: input.name.into_string(),
                password_hash,
                is_superuser: input.is_superuser,
            },
        )
        .await
}

/// One user: any for a superuser, only itself for anyone else (other users
/// are not revealed: `NotFound`).
pub async fn get(state: &AppState, principal: &Principal, id: UserId) -> Result<User> {
    if !principal.is_superuser() && principal.user_id() != Some(id) {
        return Err(Error::NotFound);
    }
    state.store.get_user(id).await
}

/// A change to a user; `None` leaves a field as it is.
#[derive(Default)]
pub struct UserChange {
    pub name: Option<DisplayName>,
    pub password: Option<String>,
    /// Needed with `password` when the caller changes its own.
    pub current_password: Option<String>,
    pub is_active: Option<bool>,
    pub is_superuser: Option<bool>,
}

/// Changes a user: `user.update`. A new password ends the user's sessions
/// but the caller's own; a wrong current password is `Forbidden`.
#[tracing::instrument(skip_all)]
pub async fn update(
    state: &AppState,
    caller: &Caller,
    id: UserId,
    change: UserChange,
) -> Result<User> {
    let is_self = caller.principal.user_id() == Some(id);
    if !caller.principal.is_superuser() {
        if !is_self {
            return Err(Error::NotFound);
        }
        if change.is_active.is_some() || change.is_superuser.is_some() {
            return Err(Error::Forbidden);
        }
    }
    let name = change.name.map(DisplayName::into_string);
    let mut current_password_hash = None;
    let password_hash = match change.password {
        Some(p) => {
            validate::password("password", &p)?;
            if is_self {
                // One's own password: prove it first (a stolen session
                // must not become a permanent takeover).
                let current = change.current_password.ok_or_else(|| {
                    Error::validation(
                        "current_password",
                        "current_password is required to change one's own password",
                    )
                })?;
                let (user, stored) = state.store.user_credentials_by_id(id).await?;
                let right = check_current_password(
                    state,
                    &caller.client,
                    &user.email,
                    current,
                    stored.clone(),
                )
                .await?;
                if !right {
                    return Err(Error::Forbidden);
                }
                current_password_hash = Some(stored);
            }
            Some(state.passwords.hash(p).await?)
        }
        None => None,
    };
    // The session that changes its own password goes on; every other
    // session of the user ends.
    let keep_session = (is_self && caller.principal.token_kind == TokenKind::Session)
        .then_some(caller.principal.token_id);
    state
        .store
        .update_user(
            &caller.meta,
            state.now(),
            id,
            UserPatch {
                name,
                password_hash,
                is_active: change.is_active,
                is_superuser: change.is_superuser,
                current_password_hash,
                keep_session,
            },
        )
        .await
}

fn require_user(p: &Principal) -> Result<UserId> {
    p.user_id().ok_or(Error::Forbidden)
}

/// The caller's personal tokens, as they stand now.
pub async fn list_tokens(
    state: &AppState,
    principal: &Principal,
    page: &PageRequest,
) -> Result<Page<TokenView>> {
    let user = require_user(principal)?;
    let now = state.now();
    Ok(state
        .store
        .list_personal_tokens(user, page)
        .await?
        .map(|t| t.view(now)))
}

/// A new personal token of the caller: `personal_token.create`. The secret
/// is returned for the adapter to show once.
#[tracing::instrument(skip_all)]
pub async fn create_token(
    state: &AppState,
    caller: &Caller,
    name: DisplayName,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(TokenView, SecretToken)> {
    let id = require_user(&caller.principal)?;
    let user = state.store.get_user(id).await?;
    let now = state.now();
    if expires_at.is_some_and(|e| e <= now) {
        return Err(Error::validation(
            "expires_at",
            "expires_at must be in the future",
        ));
    }
    let (secret, new) = mint(
        state,
        TokenKind::Personal,
        name.into(),
        NewTokenOwner::User(user.id),
        expires_at,
    );
    let rec = state
        .store
        .create_personal_token(&caller.meta, now, &user, new)
        .await?;
    Ok((rec.view(now), secret))
}

/// Revokes one of the caller's personal tokens: `personal_token.revoke`
/// (idempotent).
pub async fn revoke_token(state: &AppState, caller: &Caller, id: TokenId) -> Result<()> {
    let user = require_user(&caller.principal)?;
    state
        .store
        .revoke_personal_token(&caller.meta, state.now(), user, id)
        .await
}

/// One of the caller's personal tokens (for the revoke confirmation).
pub async fn get_token(state: &AppState, principal: &Principal, id: TokenId) -> Result<TokenView> {
    let user = require_user(principal)?;
    let now = state.now();
    let mut after = None;
    loop {
        let page = state
            .store
            .list_personal_tokens(user, &PageRequest { limit: 200, after })
            .await?;
        if let Some(t) = page.items.iter().find(|t| t.id == id) {
            return Ok(t.view(now));
        }
        match page
            .next_cursor
            .and_then(|c| uuid::Uuid::parse_str(&c).ok())
        {
            Some(c) => after = Some(c),
            None => return Err(Error::NotFound),
        }
    }
}
