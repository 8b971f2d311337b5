//! `GET /organizations/{org}/access-check`: the decision and its reasons.
use axum::routing::get;
use axum::Json;
use tron_api::{AccessDecision, GrantedBy};
use tron_core::authz::{Action, Resource};
use tron_core::ids::MemberId;
use tron_core::Error;

use crate::access::OrgCtx;
use crate::error::ApiResult;
use crate::extract::Params;
use crate::ops;
use crate::routes::{Org, Routes};

pub fn router() -> Routes<Org> {
    Routes::new().route("/access-check", get(check))
}

#[utoipa::path(get, path = "/organizations/{org}/access-check", tag = "access",
    params(
        ("resource" = String, Query, pattern = r"^(organization|environments|applications|members|groups|service_accounts|service_tokens|audit_events|environment:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|application:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|instance:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$", description = "`organization`, `environments`, `applications`, `environment:<id>`, `application:<id>`, `instance:<app>:<env>`, `members`, `groups`, `service_accounts`, `service_tokens` or `audit_events`."),
        ("action" = inline(Action), Query, description = "What the principal would do."),
        ("member_id" = Option<uuid::Uuid>, Query, description = "Ask about another member (admins); the caller by default."),
    ),
    responses((status = 200, description = "The decision and the groups that grant it.", body = AccessDecision)))]
async fn check(ctx: OrgCtx, params: Params) -> ApiResult<Json<AccessDecision>> {
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
    let access = ops::organization::grants_of(&ctx, member).await?;
    let decision = access.decide(&resource, action).ok_or_else(|| {
        Error::validation("action", "this action does not apply to this resource")
    })?;
    Ok(Json(AccessDecision {
        allowed: decision.allowed,
        superuser: decision.superuser,
        granted_by: decision
            .granted_by
            .iter()
            .map(|g| GrantedBy {
                group_id: g.group_id,
                group_name: g.group_name.clone(),
                role: g.role,
                scope: g.scope.clone(),
            })
            .collect(),
    }))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(check))]
pub struct Doc;
