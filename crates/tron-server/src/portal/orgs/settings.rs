//! The organization's settings, and deleting it.

use askama::Template;
use axum::response::{IntoResponse, Redirect};
use tron_core::authz::{Action, Resource};
use tron_core::settings::SettingsPatch;
use tron_core::values::DisplayName;
use tron_core::Error;

use super::{org_layout, org_url, section_url, ConfirmPage, PageResult};
use crate::access::OrgCtx;
use crate::ops;
use crate::portal::error::{OrBack, PortalError};
use crate::portal::form::{Failed, Form, QueryMap};
use crate::portal::session::PortalSession;
use crate::portal::view::{render, render_with_status, Layout};

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    layout: Layout,
    url: String,
    name: String,
    max_token_days: String,
    rate_limit: String,
    can_edit: bool,
    can_delete: bool,
    failed: Failed,
}

pub(crate) async fn page(session: PortalSession, ctx: OrgCtx, q: QueryMap) -> PageResult {
    settings_page(&session, &ctx, &q, Failed::none())
}

fn settings_page(
    session: &PortalSession,
    ctx: &OrgCtx,
    q: &QueryMap,
    failed: Failed,
) -> PageResult {
    ctx.require(Action::View, &Resource::Organization)?;
    let settings = ctx.organization().settings;
    // A failed form shows what was typed, not what is stored.
    let typed = |field: &str, stored: String| {
        if failed.failed("settings") {
            failed.value("settings", field).to_owned()
        } else {
            stored
        }
    };
    let page = SettingsPage {
        layout: org_layout(session, ctx, "Settings")
            .crumb("Settings", section_url(ctx, "settings"))
            .notice(q.get("done")),
        url: org_url(ctx),
        name: typed("name", ctx.organization().name.clone()),
        max_token_days: typed(
            "max_token_lifetime_days",
            settings
                .max_token_lifetime_days
                .map(|d| d.to_string())
                .unwrap_or_default(),
        ),
        rate_limit: typed(
            "service_token_rate_limit_per_minute",
            settings.service_token_rate_limit_per_minute.to_string(),
        ),
        can_edit: ctx.allows(Action::Update, &Resource::Organization),
        can_delete: ctx.allows(Action::Delete, &Resource::Organization),
        failed,
    };
    Ok(render_with_status(page.failed.status, &page))
}

fn patch_from(form: &Form) -> Result<(DisplayName, SettingsPatch), Error> {
    let name = DisplayName::parse("name", form.text("name"))?;
    let days = form.text("max_token_lifetime_days").trim();
    let max_token_lifetime_days = if days.is_empty() {
        Some(None)
    } else {
        let bad = || {
            Error::validation(
                "max_token_lifetime_days",
                "the maximum token lifetime must be a whole number of days from 1 to 3650, \
                 or empty for no limit",
            )
        };
        let d = days.parse::<i64>().map_err(|_| bad())?;
        if !(1..=3650).contains(&d) {
            return Err(bad());
        }
        Some(Some(d))
    };
    let rate = form
        .text("service_token_rate_limit_per_minute")
        .trim()
        .parse::<i64>()
        .map_err(|_| {
            Error::validation(
                "service_token_rate_limit_per_minute",
                "the rate limit must be a whole number of requests per minute from 1 to 10000000",
            )
        })?;
    Ok((
        name,
        SettingsPatch {
            max_token_lifetime_days,
            service_token_rate_limit_per_minute: Some(rate),
        },
    ))
}

pub(crate) async fn update_settings(session: PortalSession, ctx: OrgCtx, form: Form) -> PageResult {
    let back = section_url(&ctx, "settings");
    ctx.require(Action::Update, &Resource::Organization)
        .or_back(&back)?;
    let saved = async {
        let (name, patch) = patch_from(&form)?;
        let name = (name.as_str() != ctx.organization().name).then_some(name);
        ops::organization::update(&ctx, name, Some(&patch)).await
    }
    .await;
    match saved {
        Ok(_) => Ok(Redirect::to(&format!("{back}?done=settings_saved")).into_response()),
        Err(e) => {
            let fields = [
                "name",
                "max_token_lifetime_days",
                "service_token_rate_limit_per_minute",
            ];
            let failed = Failed::of("settings", form, &fields, e)?;
            settings_page(&session, &ctx, &QueryMap::default(), failed)
        }
    }
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
        section_url(&ctx, "settings"),
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
