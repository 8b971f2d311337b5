//! Members: adding users by email, removing them.

use axum::response::{IntoResponse, Redirect};
use tron_core::authz::{Action, Resource};
use tron_core::ids::MemberId;
use tron_core::values::Email;
use tron_core::Error;

use super::{member_row, org_layout, org_url, ConfirmPage, PageResult};
use crate::access::OrgCtx;
use crate::ops;
use crate::portal::error::{OrBack, PortalError};
use crate::portal::form::{Form, Ids};
use crate::portal::session::PortalSession;
use crate::portal::view::render;

pub(crate) async fn add_member(ctx: OrgCtx, form: Form) -> PageResult {
    let back = format!("{}#members", org_url(&ctx));
    ctx.require(Action::Create, &Resource::Members)
        .or_back(&back)?;
    let email = Email::parse("email", form.text("email")).or_back(&back)?;
    ops::members::add(&ctx, &email)
        .await
        .map_err(|e| match e {
            // The form says which address it did not find.
            Error::NotFound => Error::validation(
                "email",
                format!("no user has the email address {email}; a superuser creates users"),
            ),
            e => e,
        })
        .or_back(&back)?;
    Ok(Redirect::to(&format!("{}?done=member_added#members", org_url(&ctx))).into_response())
}

pub(crate) async fn remove_member_page(
    session: PortalSession,
    ctx: OrgCtx,
    ids: Ids,
) -> PageResult {
    let back = format!("{}#members", org_url(&ctx));
    ctx.require(Action::Delete, &Resource::Members)
        .or_back(&back)?;
    let id: MemberId = ids.id("member_id")?;
    let m = member_row(&org_url(&ctx), ops::members::get(&ctx, id).await?);
    if !m.is_user {
        return Err(PortalError::from(Error::conflict(
            "member_id",
            "a service account leaves the organization when it is deleted; delete it from its page",
        ))
        .back(&back));
    }
    Ok(render(&ConfirmPage::new(
        org_layout(&session, &ctx, "Remove member"),
        format!("Remove {} from the organization?", m.name),
        format!(
            "{} ({}) loses every group of this organization and all access to it.",
            m.name, m.email
        ),
        format!("{}/members/{}/remove", org_url(&ctx), m.id),
        "Remove member",
        back,
    )))
}

pub(crate) async fn remove_member(ctx: OrgCtx, ids: Ids, _form: Form) -> PageResult {
    let back = format!("{}#members", org_url(&ctx));
    let id: MemberId = ids.id("member_id")?;
    ops::members::remove(&ctx, id).await.or_back(&back)?;
    Ok(Redirect::to(&format!("{}?done=member_removed#members", org_url(&ctx))).into_response())
}
