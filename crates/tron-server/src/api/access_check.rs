//! `GET /organizations/{org}/access-check`: the decision and its reasons.
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tron_core::authz::{decide, Action, Resource};
use tron_core::ids::MemberId;
use tron_core::Error;

use crate::access::OrgCtx;
use crate::error::ApiResult;
use crate::extract::Params;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/access-check", get(check))
}

async fn check(
    State(state): State<AppState>,
    ctx: OrgCtx,
    params: Params,
) -> ApiResult<Json<Value>> {
    let resource = params
        .get("resource")
        .and_then(Resource::parse)
        .ok_or_else(|| Error::validation("resource", "resource is missing or not valid"))?;
    let action = params
        .get("action")
        .and_then(Action::parse)
        .ok_or_else(|| {
            Error::validation("action", "action must be view, create, update or delete")
        })?;
    let member: Option<MemberId> = params.parse("member_id")?;
    let about_other = member.is_some_and(|m| Some(m) != ctx.member_id());
    let (grants, superuser) = if about_other {
        ctx.require(Action::Update, &Resource::Members)?;
        let id = member.ok_or(Error::NotFound)?;
        let membership = state
            .store
            .load_membership_by_id(ctx.org_id(), id)
            .await?
            .ok_or(Error::NotFound)?;
        let superuser = state.store.member_is_superuser(ctx.org_id(), id).await?;
        (membership.grants, superuser)
    } else {
        (ctx.grants().to_vec(), ctx.is_superuser())
    };
    let decision = decide(&grants, superuser, &resource, action).ok_or_else(|| {
        Error::validation("action", "this action does not apply to this resource")
    })?;
    Ok(Json(json!({
        "allowed": decision.allowed,
        "superuser": decision.superuser,
        "granted_by": decision.granted_by.iter().map(|g| json!({
            "group_id": g.group_id, "group_name": g.group_name, "role": g.role, "scope": g.scope,
        })).collect::<Vec<_>>(),
    })))
}
