//! Login, logout, `/me` and personal tokens.
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::Json;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tron_api::{
    CreateToken, Login, LoginResponse, MePrincipal, MePrincipalType, MeResponse, MeToken,
    MeTokenKind, Page, PersonalToken, RotateToken, WithToken,
};
use tron_core::ids::TokenId;
use tron_core::principal::PrincipalKind;
use tron_core::token::{SecretToken, TokenKind};
use tron_core::values::Timestamp;
use tron_core::Error;
use tron_store::audit::Target;
use tron_store::models::User;
use tron_store::tokens::NewTokenOwner;
use utoipa::OpenApi;

use crate::api::wire;
use crate::auth::{anonymous_meta, Auth, Caller, ClientInfo};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, OptionalJson, Params, PathParams};
use crate::routes::{Api, Routes};
use crate::state::AppState;
use crate::throttle::ThrottleSlot;

pub fn router() -> Routes<Api> {
    Routes::new()
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/me", get(me))
        .route("/me/tokens", get(list_tokens).post(create_token))
        .route("/me/tokens/{id}", delete(revoke_token))
        .route(
            "/me/token/rotate",
            post(crate::api::service_accounts::rotate_self),
        )
}

pub use crate::ops::tokens::mint;

#[derive(OpenApi)]
#[openapi(paths(login, logout, me, list_tokens, create_token, revoke_token))]
pub struct Doc;

#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = Login,
    responses(
        (status = 200, description = "A new session.", body = LoginResponse),
        (status = 401, description = "`invalid_credentials`, or `principal_disabled`.", body = crate::openapi::ErrorBody),
        (status = 429, description = "Too many failures for this email or client address.", body = crate::openapi::ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<Login>,
) -> ApiResult<Json<LoginResponse>> {
    let session = password_login(&state, &client, &body.email, body.password).await?;
    Ok(Json(LoginResponse {
        token: session.token.reveal(),
        expires_at: session.expires_at,
        user: session.user.into(),
    }))
}

/// A session opened by a password login.
pub struct NewSession {
    pub token: SecretToken,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// The longest email a user can have (`validate::email`).
const MAX_EMAIL_CHARS: usize = 254;

/// An email as users are stored and throttled (trimmed, lowercased), or
/// `None` when it is longer than any user's: such an email is no user's,
/// and is never kept as a throttle key (a client could otherwise fill the
/// server's memory with huge keys).
fn email_key(email: &str) -> Option<String> {
    let email = email.trim();
    if email.len() > MAX_EMAIL_CHARS * 4 {
        return None;
    }
    let email = email.to_lowercase();
    (email.chars().count() <= MAX_EMAIL_CHARS).then_some(email)
}

/// The places one password check holds in the login throttles: the
/// client's address and, unless the email is too long to be anyone's, the
/// email. Taken before the password is checked, so a burst of parallel
/// guesses gets no more checks than the limits allow (docs/decisions.md,
/// "Login throttle").
struct LoginSlots {
    ip: ThrottleSlot,
    email: Option<ThrottleSlot>,
}

impl LoginSlots {
    async fn reserve(
        state: &AppState,
        client: &ClientInfo,
        email: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Self, Error> {
        let ip = state.login_by_ip.reserve(&client.ip_key(), now).await;
        let email = match email {
            Some(e) => Some(state.login_by_email.reserve(e, now).await).transpose(),
            None => Ok(None),
        };
        match (ip, email) {
            (Ok(ip), Ok(email)) => Ok(LoginSlots { ip, email }),
            (ip, email) => {
                let mut wait = 1;
                match ip {
                    Ok(slot) => slot.release().await,
                    Err(w) => wait = wait.max(w),
                }
                match email {
                    Ok(Some(slot)) => slot.release().await,
                    Ok(None) => {}
                    Err(w) => wait = wait.max(w),
                }
                Err(Error::RateLimited {
                    retry_after_secs: wait,
                })
            }
        }
    }

    /// A wrong password: counted against the address and the email.
    async fn hit(self) {
        self.ip.hit().await;
        if let Some(slot) = self.email {
            slot.hit().await;
        }
    }

    /// A right password, or no password checked: nothing counted.
    async fn release(self) {
        self.ip.release().await;
        if let Some(slot) = self.email {
            slot.release().await;
        }
    }

    /// Checks `password` against `stored` (`None`: an unknown user, checked
    /// against a dummy hash all the same), counting a wrong one.
    async fn verify(
        self,
        state: &AppState,
        password: String,
        stored: Option<String>,
    ) -> Result<bool, Error> {
        match state.passwords.verify(password, stored).await {
            Ok(true) => {
                self.release().await;
                Ok(true)
            }
            Ok(false) => {
                self.hit().await;
                Ok(false)
            }
            // No turn to check the password: nothing was checked.
            Err(e) => {
                self.release().await;
                Err(e)
            }
        }
    }
}

/// Checks a user's current password (changing one's own password needs
/// it) under the same throttles as a login for its email, so that a stolen
/// session is no way round them.
pub async fn check_current_password(
    state: &AppState,
    client: &ClientInfo,
    email: &str,
    password: String,
    stored: String,
) -> Result<bool, Error> {
    let slots =
        LoginSlots::reserve(state, client, email_key(email).as_deref(), state.now()).await?;
    slots.verify(state, password, Some(stored)).await
}

/// Login by email and password, shared by the API and the portal: only
/// failures count towards the throttles, every failure writes
/// `auth.login_failed` and a success `auth.login`. Users only: service
/// accounts have no password.
#[tracing::instrument(skip_all)]
pub async fn password_login(
    state: &AppState,
    client: &ClientInfo,
    email: &str,
    password: String,
) -> Result<NewSession, Error> {
    let now = state.now();
    let key = email_key(email);
    let slots = LoginSlots::reserve(state, client, key.as_deref(), now).await?;
    let checked = match &key {
        // Too long to be anyone's email: no password to check.
        None => {
            slots.hit().await;
            None
        }
        Some(key) => {
            let found = match state.store.user_credentials(key).await {
                Ok(found) => found,
                Err(e) => {
                    slots.release().await;
                    return Err(e);
                }
            };
            let (user, hash) = found.unzip();
            slots
                .verify(state, password, hash.clone())
                .await?
                .then(|| user.zip(hash))
                .flatten()
        }
    };
    let meta = anonymous_meta(client);
    let Some((user, hash)) = checked else {
        let name = email
            .trim()
            .chars()
            .take(MAX_EMAIL_CHARS)
            .collect::<String>();
        state
            .store
            .record_platform_event(
                &meta,
                now,
                "auth.login_failed",
                Target {
                    kind: "user",
                    id: None,
                    name: Some(name.to_lowercase()),
                },
                json!({}),
            )
            .await?;
        return Err(Error::InvalidCredentials);
    };
    if !user.is_active {
        return Err(Error::Unauthenticated(
            tron_core::AuthFailure::PrincipalDisabled,
        ));
    }
    let expires_at = tron_core::values::add_clamped(now, state.config.session_ttl);
    let (secret, new) = mint(
        state,
        TokenKind::Session,
        "session".into(),
        NewTokenOwner::User(user.id),
        Some(expires_at),
    );
    let mut meta = meta;
    meta.actor = tron_core::principal::Actor {
        kind: tron_core::principal::ActorType::User,
        id: Some(user.id.0),
        name: Some(user.name.clone()),
        token_id: Some(new.id),
    };
    state
        .store
        .create_session(&meta, now, &user, &hash, new)
        .await?;
    Ok(NewSession {
        token: secret,
        expires_at,
        user,
    })
}

#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    responses(
        (status = 204, description = "The session token stops working."),
        (status = 400, description = "The token is not a session token.", body = crate::openapi::ErrorBody),
    ))]
async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<StatusCode> {
    if caller.principal.token_kind != TokenKind::Session {
        return Err(Error::bad_request(
            "only a session token can log out; revoke other tokens instead",
        )
        .into());
    }
    let user = current_user(&state, &caller.auth()).await?;
    state
        .store
        .logout(&caller.meta, state.now(), &user, caller.principal.token_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn current_user(state: &AppState, auth: &Auth) -> Result<User, ApiError> {
    let id = auth.require_user()?;
    Ok(state.store.get_user(id).await?)
}

#[utoipa::path(get, path = "/me", tag = "auth",
    responses((status = 200, description = "The caller and its token.", body = MeResponse)))]
async fn me(Auth(p): Auth) -> ApiResult<Json<MeResponse>> {
    let principal = match &p.kind {
        PrincipalKind::User {
            id,
            email,
            is_superuser,
        } => MePrincipal {
            kind: MePrincipalType::User,
            id: id.0,
            name: p.name.to_string(),
            email: Some(email.to_string()),
            is_superuser: Some(*is_superuser),
            organization_id: None,
        },
        PrincipalKind::ServiceAccount {
            id,
            organization_id,
        } => MePrincipal {
            kind: MePrincipalType::ServiceAccount,
            id: id.0,
            name: p.name.to_string(),
            email: None,
            is_superuser: None,
            organization_id: Some(organization_id.0),
        },
    };
    let kind = match p.token_kind {
        TokenKind::Session => MeTokenKind::Session,
        TokenKind::Personal => MeTokenKind::Personal,
        TokenKind::Service => MeTokenKind::Service,
    };
    Ok(Json(MeResponse {
        principal,
        token: MeToken {
            id: p.token_id,
            kind,
            expires_at: p.token_expires_at,
        },
    }))
}

#[utoipa::path(get, path = "/me/tokens", tag = "auth", params(crate::openapi::ListQuery),
    responses((status = 200, description = "The caller's personal tokens.", body = Page<PersonalToken>)))]
async fn list_tokens(
    State(state): State<AppState>,
    auth: Auth,
    params: Params,
) -> ApiResult<Json<Value>> {
    let page = crate::ops::users::list_tokens(&state, &auth.0, &params.page()?).await?;
    Ok(Json(json!(wire::page::<_, PersonalToken>(page))))
}

#[utoipa::path(post, path = "/me/tokens", tag = "auth", request_body = CreateToken,
    responses((status = 201, description = "The new token, with its secret shown once.", body = WithToken<PersonalToken>)))]
async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateToken>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let expires_at = body.expires_at.map(Timestamp::get);
    let (view, secret) =
        crate::ops::users::create_token(&state, &caller, body.name, expires_at).await?;
    let body = WithToken {
        inner: PersonalToken::from(view),
        token: secret.reveal(),
    };
    Ok((StatusCode::CREATED, Json(json!(body))))
}

#[utoipa::path(delete, path = "/me/tokens/{id}", tag = "auth",
    responses((status = 204, description = "Revoked.")))]
async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    path: PathParams,
) -> ApiResult<StatusCode> {
    let id: TokenId = path.id("id")?;
    crate::ops::users::revoke_token(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub type OptionalRotate = OptionalJson<RotateToken>;
