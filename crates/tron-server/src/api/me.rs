//! Login, logout, `/me` and personal tokens.
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tron_core::ids::TokenId;
use tron_core::principal::PrincipalKind;
use tron_core::token::{SecretToken, TokenKind};
use tron_core::{validate, Error};
use tron_store::audit::Target;
use tron_store::models::{TokenView, User};
use tron_store::tokens::{NewToken, NewTokenOwner};

use crate::auth::{anonymous_meta, Auth, Caller, ClientInfo};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, OptionalJson, Params, PathParams};
use crate::password;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
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

/// Mints a token of `kind`: the secret (shown once) and what is stored.
pub fn mint(
    state: &AppState,
    kind: TokenKind,
    name: String,
    owner: NewTokenOwner,
    expires_at: Option<DateTime<Utc>>,
) -> (SecretToken, NewToken) {
    let secret = SecretToken::generate(kind);
    let new = NewToken {
        id: TokenId::new(),
        kind,
        hash: state.config.secret.hash(&secret),
        hint: secret.hint(),
        name,
        owner,
        expires_at,
    };
    (secret, new)
}

/// A freshly created object with its token, shown once.
#[derive(Serialize)]
pub struct WithToken<T: Serialize> {
    #[serde(flatten)]
    pub inner: T,
    pub token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<LoginBody>,
) -> ApiResult<Json<Value>> {
    let session = password_login(&state, &client, &body.email, body.password).await?;
    Ok(Json(json!({
        "token": session.token.reveal(),
        "expires_at": session.expires_at,
        "user": session.user,
    })))
}

/// A session opened by a password login.
pub struct NewSession {
    pub token: SecretToken,
    pub expires_at: DateTime<Utc>,
    pub user: User,
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
    let email = email.trim().to_lowercase();
    let ip_key = client.ip_key();
    let blocked = [
        state.login_by_email.blocked(&email, now),
        state.login_by_ip.blocked(&ip_key, now),
    ]
    .into_iter()
    .flatten()
    .max();
    if let Some(retry_after_secs) = blocked {
        return Err(Error::RateLimited { retry_after_secs });
    }
    let found = state.store.user_credentials(&email).await?;
    let (user, hash) = match found {
        Some((u, h)) => (Some(u), Some(h)),
        None => (None, None),
    };
    let ok = password::verify(password, hash).await;
    let meta = anonymous_meta(client);
    let Some(user) = user.filter(|_| ok) else {
        state.login_by_email.hit(&email, now);
        state.login_by_ip.hit(&ip_key, now);
        state
            .store
            .record_platform_event(
                &meta,
                now,
                "auth.login_failed",
                Target {
                    kind: "user",
                    id: None,
                    name: Some(email.chars().take(254).collect()),
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
    let expires_at = now + state.config.session_ttl;
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
    state.store.create_session(&meta, now, &user, new).await?;
    Ok(NewSession {
        token: secret,
        expires_at,
        user,
    })
}

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

async fn me(State(state): State<AppState>, Auth(p): Auth) -> ApiResult<Json<Value>> {
    let principal = match &p.kind {
        PrincipalKind::User {
            id,
            email,
            is_superuser,
        } => json!({
            "type": "user", "id": id, "name": p.name, "email": email, "is_superuser": is_superuser,
        }),
        PrincipalKind::ServiceAccount {
            id,
            organization_id,
        } => json!({
            "type": "service_account", "id": id, "name": p.name, "organization_id": organization_id,
        }),
    };
    let _ = &state;
    Ok(Json(json!({
        "principal": principal,
        "token": {"id": p.token_id, "kind": p.token_kind.as_str(), "expires_at": p.token_expires_at},
    })))
}

#[derive(Serialize)]
struct PersonalToken {
    id: TokenId,
    name: String,
    hint: String,
    status: tron_store::models::TokenStatus,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
}

impl From<TokenView> for PersonalToken {
    fn from(v: TokenView) -> Self {
        PersonalToken {
            id: v.id,
            name: v.name,
            hint: v.hint,
            status: v.status,
            created_at: v.created_at,
            expires_at: v.expires_at,
            revoked_at: v.revoked_at,
            last_used_at: v.last_used_at,
        }
    }
}

async fn list_tokens(
    State(state): State<AppState>,
    auth: Auth,
    params: Params,
) -> ApiResult<Json<Value>> {
    let user = auth.require_user()?;
    let page = state
        .store
        .list_personal_tokens(user, &params.page()?)
        .await?;
    let now = state.now();
    Ok(Json(json!(page.map(|t| PersonalToken::from(t.view(now))))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenBody {
    pub name: String,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateTokenBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let user = current_user(&state, &caller.auth()).await?;
    let now = state.now();
    let name = validate::display_name("name", &body.name)?;
    if body.expires_at.is_some_and(|e| e <= now) {
        return Err(Error::validation("expires_at", "expires_at must be in the future").into());
    }
    let (secret, new) = mint(
        &state,
        TokenKind::Personal,
        name,
        NewTokenOwner::User(user.id),
        body.expires_at,
    );
    let rec = state
        .store
        .create_personal_token(&caller.meta, now, &user, new)
        .await?;
    let body = WithToken {
        inner: PersonalToken::from(rec.view(now)),
        token: secret.reveal(),
    };
    Ok((StatusCode::CREATED, Json(json!(body))))
}

async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    path: PathParams,
) -> ApiResult<StatusCode> {
    let user = caller.auth().require_user()?;
    let id: TokenId = path.id("id")?;
    state
        .store
        .revoke_personal_token(&caller.meta, state.now(), user, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Used by the rotate endpoints.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    #[serde(default)]
    pub grace_period_seconds: Option<i64>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

pub type OptionalRotate = OptionalJson<RotateBody>;
