//! A service account's tokens: generate, revoke, rotate. The secret of a
//! new token is rendered once into the account's page (see the parent
//! module's header).
use crate::access::OrgCtx;
use crate::ops;
use crate::ops::tokens::Rotation;
use crate::portal::error::{OrBack, PortalError};
use crate::portal::form::{Failed, Form, Ids};
use crate::portal::orgs::{org_layout, org_url, ConfirmPage};
use crate::portal::session::PortalSession;
use crate::portal::view::{render, ts, ts_or, Choice};
use axum::response::{IntoResponse, Redirect};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use tron_core::authz::{Action, Resource};
use tron_core::ids::{ServiceAccountId, TokenId};
use tron_core::values::{DisplayName, Timestamp};
use tron_core::Error;
use tron_store::models::{TokenStatus, TokenView};

use super::{page, sa_url, NewToken, PageResult};

/// The id of the service account page's "Generate a token" form.
const GENERATE_FORM: &str = "generate-token-form";

/// The expiry chosen on the generate form (also the personal tokens').
pub(crate) fn expiry_from(form: &Form, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, Error> {
    match form.text("expires_in") {
        "never" => Ok(None),
        "custom" => {
            let date = NaiveDate::parse_from_str(form.text("expires_on").trim(), "%Y-%m-%d")
                .map_err(|_| Error::validation("expires_at", "choose the expiry date"))?;
            let at = date
                .and_hms_opt(0, 0, 0)
                .and_then(|t| Timestamp::new(t.and_utc()))
                .map(Timestamp::get)
                .ok_or_else(|| {
                    Error::validation("expires_at", "choose an expiry date before the year 10000")
                })?;
            if at <= now {
                return Err(Error::validation(
                    "expires_at",
                    "the expiry date must be in the future",
                ));
            }
            Ok(Some(at))
        }
        days => match days.parse::<i64>() {
            Ok(d) if (1..=3650).contains(&d) => Ok(Some(now + Duration::days(d))),
            _ => Err(Error::validation(
                "expires_at",
                "choose when the token expires",
            )),
        },
    }
}

pub(super) async fn generate(
    session: PortalSession,
    ctx: OrgCtx,
    ids: Ids,
    form: Form,
) -> PageResult {
    let id: ServiceAccountId = ids.id("sa_id")?;
    let issued = async {
        let expires_at = expiry_from(&form, ctx.now())?;
        let name = DisplayName::parse("name", form.text("name"))?;
        ops::tokens::issue(&ctx, id, name, expires_at).await
    }
    .await;
    let (view, secret) = match issued {
        Ok(issued) => issued,
        Err(e) => {
            let failed = Failed::of(GENERATE_FORM, form, &["name", "expires_at"], e)?;
            return page(&session, &ctx, id, None, None, failed).await;
        }
    };
    let new = NewToken {
        value: secret.reveal(),
        name: view.name,
        expires: ts_or(view.expires_at, "never"),
        lose_it: super::LOSE_IT,
        rotated: None,
        wire: super::wire::wire_up(&ctx, id),
    };
    page(&session, &ctx, id, None, Some(new), Failed::none()).await
}

pub(super) async fn token_of(
    ctx: &OrgCtx,
    ids: &Ids,
) -> Result<(ServiceAccountId, TokenView, String), PortalError> {
    let sa: ServiceAccountId = ids.id("sa_id")?;
    let token: TokenId = ids.id("token_id")?;
    let rec = ops::tokens::get(ctx, sa, token).await?;
    Ok((sa, rec.view(ctx.now()), sa_url(ctx, sa)))
}

pub(super) async fn revoke_page(session: PortalSession, ctx: OrgCtx, ids: Ids) -> PageResult {
    ctx.require(Action::Delete, &Resource::ServiceTokens)
        .or_back(&org_url(&ctx))?;
    let (_, t, back) = token_of(&ctx, &ids).await?;
    Ok(render(&ConfirmPage::new(
        org_layout(&session, &ctx, "Revoke token"),
        format!("Revoke the token {} (…{})?", t.name, t.hint),
        "Anything that uses it is refused from its next request. This cannot be undone.",
        format!("{back}/tokens/{}/revoke", t.id),
        "Revoke token",
        format!("{back}#tokens"),
    )))
}

pub(super) async fn revoke(ctx: OrgCtx, ids: Ids, _form: Form) -> PageResult {
    ctx.require(Action::Delete, &Resource::ServiceTokens)
        .or_back(&org_url(&ctx))?;
    let (sa, t, back) = token_of(&ctx, &ids).await?;
    ops::tokens::revoke(&ctx, sa, t.id).await.or_back(&back)?;
    Ok(Redirect::to(&format!("{back}?done=token_revoked#tokens")).into_response())
}

/// A pipeline picks up its new token within the hour; a shorter default
/// breaks running jobs, a longer one keeps a replaced secret alive.
const DEFAULT_GRACE_SECONDS: i64 = 3600;

pub(super) const GRACE_CHOICES: [(i64, &str); 4] = [
    (0, "immediately"),
    (300, "after 5 minutes"),
    (3600, "after 1 hour"),
    (86_400, "after 24 hours"),
];

pub(super) async fn rotate_page(session: PortalSession, ctx: OrgCtx, ids: Ids) -> PageResult {
    ctx.require(Action::Update, &Resource::ServiceTokens)
        .or_back(&org_url(&ctx))?;
    let (_, t, back) = token_of(&ctx, &ids).await?;
    if t.status != TokenStatus::Active {
        return Err(PortalError::from(Error::conflict(
            "token_id",
            "only an active token can be rotated",
        ))
        .back(format!("{back}#tokens")));
    }
    let mut confirm = ConfirmPage::new(
        org_layout(&session, &ctx, "Rotate token"),
        format!("Rotate the token {} (…{})?", t.name, t.hint),
        "A new token with the same name replaces it, keeping its lifetime counted from now \
         (within the organization's limit). The new token is shown once. Choose when the old \
         one stops working:",
        format!("{back}/tokens/{}/rotate", t.id),
        "Rotate token",
        format!("{back}#tokens"),
    );
    confirm.grace_choices = GRACE_CHOICES
        .iter()
        .map(|(secs, label)| Choice::new(secs, *label, *secs == DEFAULT_GRACE_SECONDS))
        .collect();
    Ok(render(&confirm))
}

pub(super) async fn rotate(
    session: PortalSession,
    ctx: OrgCtx,
    ids: Ids,
    form: Form,
) -> PageResult {
    ctx.require(Action::Update, &Resource::ServiceTokens)
        .or_back(&org_url(&ctx))?;
    let (sa, old, back) = token_of(&ctx, &ids).await?;
    let back = format!("{back}#tokens");
    let grace = form
        .text("grace_period_seconds")
        .parse::<i64>()
        .map_err(|_| {
            Error::validation(
                "grace_period_seconds",
                "choose when the old token stops working",
            )
        })
        .or_back(&back)?;
    let rotation = Rotation::new("grace_period_seconds", Some(grace), None).or_back(&back)?;
    let (view, secret) = ops::tokens::rotate(&ctx, sa, old.id, rotation)
        .await
        .or_back(&back)?;
    let rotated = if grace == 0 {
        format!("The old token …{} has stopped working.", old.hint)
    } else {
        format!(
            "The old token …{} keeps working until {}, then stops.",
            old.hint,
            ts(ctx.now() + Duration::seconds(grace))
        )
    };
    let new = NewToken {
        value: secret.reveal(),
        name: view.name,
        expires: ts_or(view.expires_at, "never"),
        lose_it: super::LOSE_IT,
        rotated: Some(rotated),
        wire: super::wire::wire_up(&ctx, sa),
    };
    page(&session, &ctx, sa, None, Some(new), Failed::none()).await
}
