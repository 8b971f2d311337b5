//! The organization's settings, and deleting it.

use axum::response::{IntoResponse, Redirect};
use tron_core::authz::{Action, Resource};
use tron_core::settings::SettingsPatch;
use tron_core::values::DisplayName;
use tron_core::Error;

use super::{org_layout, org_url, ConfirmPage, PageResult};
use crate::access::OrgCtx;
use crate::ops;
use crate::portal::error::{OrBack, PortalError};
use crate::portal::form::Form;
use crate::portal::session::PortalSession;
use crate::portal::view::render;

pub(crate) async fn update_settings(ctx: OrgCtx, form: Form) -> PageResult {
    let back = format!("{}#settings", org_url(&ctx));
    ctx.require(Action::Update, &Resource::Organization)
        .or_back(&back)?;
    let name = DisplayName::parse("name", form.text("name")).or_back(&back)?;
    let days = form.text("max_token_lifetime_days").trim();
    let max_token_lifetime_days = if days.is_empty() {
        Some(None)
    } else {
        Some(Some(days.parse::<i64>().map_err(|_| {
            PortalError::from(Error::validation(
                "max_token_lifetime_days",
                "the maximum token lifetime must be a whole number of days from 1 to 3650, \
                 or empty for no limit",
            ))
            .back(&back)
        })?))
    };
    let rate = form
        .text("service_token_rate_limit_per_minute")
        .trim()
        .parse::<i64>()
        .map_err(|_| {
            PortalError::from(Error::validation(
                "service_token_rate_limit_per_minute",
                "the rate limit must be a whole number of requests per minute from 1 to 10000000",
            ))
            .back(&back)
        })?;
    let patch = SettingsPatch {
        max_token_lifetime_days,
        service_token_rate_limit_per_minute: Some(rate),
    };
    let name = (name.as_str() != ctx.organization().name).then_some(name);
    ops::organization::update(&ctx, name, Some(&patch))
        .await
        .or_back(&back)?;
    Ok(Redirect::to(&format!("{}?done=settings_saved#settings", org_url(&ctx))).into_response())
}

pub(crate) async fn delete_page(session: PortalSession, ctx: OrgCtx) -> PageResult {
    let url = org_url(&ctx);
    ctx.require(Action::Delete, &Resource::Organization)
        .or_back(&url)?;
    let name = &ctx.organization().name;
    let mut page = ConfirmPage::new(
        org_layout(&session, &ctx, "Delete organization"),
        format!("Delete the organization {name}?"),
        "Its environments, applications, instances, groups, members, service accounts and \
         their tokens are deleted. This cannot be undone.",
        format!("{url}/delete"),
        "Delete organization",
        format!("{url}#settings"),
    );
    page.type_to_confirm = Some(name.clone());
    Ok(render(&page))
}

pub(crate) async fn delete(ctx: OrgCtx, form: Form) -> PageResult {
    let url = org_url(&ctx);
    ctx.require(Action::Delete, &Resource::Organization)
        .or_back(&url)?;
    // The name typed on the confirmation page, exactly (no trimming: the
    // point is that the user read it).
    if form.text("confirm_name") != ctx.organization().name {
        return Err(PortalError::from(Error::validation(
            "confirm_name",
            "type the organization's name exactly to delete it",
        ))
        .back(format!("{url}/delete")));
    }
    ops::organization::delete(&ctx).await.or_back(&url)?;
    Ok(Redirect::to("/?done=org_deleted").into_response())
}
