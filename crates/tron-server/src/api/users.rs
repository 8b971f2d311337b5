//! Platform users: superusers manage them; a user may read itself and
//! change its own name and password.
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Json;
use serde_json::{json, Value};
use tron_api::{CreateUser, Page, UpdateUser, User};
use tron_core::ids::UserId;
use tron_core::token::TokenKind;
use tron_core::{validate, Error};
use tron_store::users::{NewUser, UserPatch};

use crate::api::me::check_current_password;
use crate::api::wire;
use crate::auth::{Auth, Caller};
use crate::error::ApiResult;
use crate::extract::{ApiJson, Params, PathParams};
use crate::routes::{Api, Routes};
use crate::state::AppState;

pub fn router() -> Routes<Api> {
    Routes::new()
        .route("/users", get(list).post(create))
        .route("/users/{id}", get(get_one).patch(update))
}

#[utoipa::path(get, path = "/users", tag = "users", params(crate::openapi::ListQuery),
    responses((status = 200, description = "Every user (superusers).", body = Page<User>)))]
async fn list(State(state): State<AppState>, auth: Auth, params: Params) -> ApiResult<Json<Value>> {
    auth.require_superuser()?;
    let page = state.store.list_users(&params.page()?).await?;
    Ok(Json(json!(wire::page::<_, User>(page))))
}

#[utoipa::path(post, path = "/users", tag = "users", request_body = CreateUser,
    responses(
        (status = 201, description = "The new user.", body = User),
        (status = 409, description = "The email is taken.", body = crate::openapi::ErrorBody),
    ))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.auth().require_superuser()?;
    let (email, name) = (body.email.into_string(), body.name.into_string());
    validate::password("password", &body.password)?;
    let password_hash = state.passwords.hash(body.password).await?;
    let user = state
        .store
        .create_user(
            &caller.meta,
            state.now(),
            NewUser {
                email,
                name,
                password_hash,
                is_superuser: body.is_superuser,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(json!(User::from(user)))))
}

#[utoipa::path(get, path = "/users/{id}", tag = "users",
    responses((status = 200, description = "The user.", body = User)))]
async fn get_one(
    State(state): State<AppState>,
    auth: Auth,
    path: PathParams,
) -> ApiResult<Json<Value>> {
    let id: UserId = path.id("id")?;
    if !auth.0.is_superuser() && auth.0.user_id() != Some(id) {
        // Other users are not revealed to non-superusers.
        return Err(Error::NotFound.into());
    }
    Ok(Json(json!(User::from(state.store.get_user(id).await?))))
}

#[utoipa::path(patch, path = "/users/{id}", tag = "users", request_body = UpdateUser,
    responses(
        (status = 200, description = "The updated user. A new password ends the user's sessions (but the caller's own); its personal tokens are kept.", body = User),
        (status = 403, description = "`current_password` is wrong, or a non-superuser changes more than its name and password.", body = crate::openapi::ErrorBody),
        (status = 429, description = "Too many wrong current passwords for this user or client address.", body = crate::openapi::ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    path: PathParams,
    ApiJson(body): ApiJson<UpdateUser>,
) -> ApiResult<Json<Value>> {
    let id: UserId = path.id("id")?;
    let is_self = caller.principal.user_id() == Some(id);
    let superuser = caller.principal.is_superuser();
    if !superuser {
        if !is_self {
            return Err(Error::NotFound.into());
        }
        if body.is_active.is_some() || body.is_superuser.is_some() {
            return Err(Error::Forbidden.into());
        }
    }
    let name = body.name.map(tron_core::values::DisplayName::into_string);
    let mut current_password_hash = None;
    let password_hash = match body.password {
        Some(p) => {
            validate::password("password", &p)?;
            if is_self {
                // One's own password: prove it first (a stolen session
                // must not become a permanent takeover).
                let current = body.current_password.ok_or_else(|| {
                    Error::validation(
                        "current_password",
                        "current_password is required to change one's own password",
                    )
                })?;
                let (user, stored) = state.store.user_credentials_by_id(id).await?;
                let right = check_current_password(
                    &state,
                    &caller.client,
                    &user.email,
                    current,
                    stored.clone(),
                )
                .await?;
                if !right {
                    return Err(Error::Forbidden.into());
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
    let user = state
        .store
        .update_user(
            &caller.meta,
            state.now(),
            id,
            UserPatch {
                name,
                password_hash,
                is_active: body.is_active,
                is_superuser: body.is_superuser,
                current_password_hash,
                keep_session,
            },
        )
        .await?;
    Ok(Json(json!(User::from(user))))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, get_one, update))]
pub struct Doc;
