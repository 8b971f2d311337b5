//! Platform users: superusers manage them; a user may read itself and
//! change its own name and password.
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Json;
use serde_json::{json, Value};
use tron_api::{CreateUser, Page, UpdateUser, User};
use tron_core::ids::UserId;

use crate::api::wire;
use crate::auth::{Auth, Caller};
use crate::error::ApiResult;
use crate::extract::{ApiJson, Params, PathParams};
use crate::ops;
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
    let page = ops::users::list(&state, &auth.0, None, &params.page()?).await?;
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
    let input = ops::users::NewUserInput {
        email: body.email,
        name: body.name,
        password: body.password,
        is_superuser: body.is_superuser,
    };
    let user = ops::users::create(&state, &caller, input).await?;
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
    Ok(Json(json!(User::from(
        ops::users::get(&state, &auth.0, id).await?
    ))))
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
    let change = ops::users::UserChange {
        name: body.name,
        password: body.password,
        current_password: body.current_password,
        is_active: body.is_active,
        is_superuser: body.is_superuser,
    };
    let user = ops::users::update(&state, &caller, id, change).await?;
    Ok(Json(json!(User::from(user))))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, get_one, update))]
pub struct Doc;
