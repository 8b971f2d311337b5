//! Shared pieces of every page: the layout, rendering, and how times and
//! lists are shown.
use std::future::Future;

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use tron_core::Error;
use tron_store::{Page, PageRequest};

use crate::portal::session::PortalSession;

/// What the frame of every page needs.
pub(crate) struct Layout {
    pub title: String,
    /// The signed-in user's name; `None` on the login and error pages.
    pub user: Option<String>,
    pub superuser: bool,
    /// The CSRF token every form of the page carries.
    pub csrf: String,
    pub crumbs: Vec<Crumb>,
    pub notice: Option<&'static str>,
    /// Set on a page that shows a new token: the script replaces the
    /// history entry of the POST with this address, so that a reload is a
    /// plain GET that does not show the token again.
    pub replace_url: Option<String>,
}

pub(crate) struct Crumb {
    pub label: String,
    pub href: String,
}

impl Layout {
    pub(crate) fn new(session: &PortalSession, title: impl Into<String>) -> Self {
        Layout {
            title: title.into(),
            user: Some(session.principal.name.clone()),
            superuser: session.principal.is_superuser(),
            csrf: session.csrf.clone(),
            crumbs: Vec::new(),
            notice: None,
            replace_url: None,
        }
    }

    pub(crate) fn anonymous(title: impl Into<String>) -> Self {
        Layout {
            title: title.into(),
            user: None,
            superuser: false,
            csrf: String::new(),
            crumbs: Vec::new(),
            notice: None,
            replace_url: None,
        }
    }

    pub(crate) fn crumb(mut self, label: impl Into<String>, href: impl Into<String>) -> Self {
        self.crumbs.push(Crumb {
            label: label.into(),
            href: href.into(),
        });
        self
    }

    /// The message for `?done=<code>` after a redirect; unknown codes show
    /// nothing.
    pub(crate) fn notice(mut self, code: Option<&str>) -> Self {
        self.notice = code.and_then(notice_text);
        self
    }
}

fn notice_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "org_created" => "Organization created. You are in its Administrators group.",
        "settings_saved" => "Settings saved.",
        "member_added" => "Member added.",
        "member_removed" => "Member removed.",
        "env_created" => "Environment created.",
        "env_deleted" => "Environment deleted.",
        "app_created" => "Application created.",
        "app_deleted" => "Application deleted.",
        "group_created" => "Group created.",
        "group_saved" => "Group saved.",
        "group_deleted" => "Group deleted.",
        "group_member_added" => "Member added to the group.",
        "group_member_removed" => "Member removed from the group.",
        "sa_created" => "Service account created. Assign it to a group and generate a token.",
        "sa_saved" => "Service account saved.",
        "sa_disabled" => {
            "Service account disabled: its tokens are refused until it is enabled again."
        }
        "sa_enabled" => "Service account enabled: its active tokens work again.",
        "sa_deleted" => "Service account deleted and its tokens revoked.",
        "sa_group_added" => "Service account added to the group.",
        "sa_group_removed" => "Service account removed from the group.",
        "token_revoked" => "Token revoked.",
        "policy_created" => "Trust policy created: paste the snippet beside it into the pipeline.",
        "policy_deleted" => "Trust policy deleted: its next exchanges are refused.",
        "webhook_saved" => "Webhook saved.",
        "webhook_pinged" => "Ping queued: it appears in the deliveries below in a moment.",
        "webhook_redelivered" => "Delivery queued again, with the same webhook-id.",
        "webhook_deleted" => "Webhook deleted.",
        "org_deleted" => "Organization deleted.",
        "logged_out" => "You have logged out.",
        "user_created" => "User created. Give them their password by a safe channel.",
        "user_disabled" => {
            "User disabled: they cannot log in and every token of theirs is refused."
        }
        "user_enabled" => "User enabled: they can log in again.",
        "superuser_granted" => "They are a superuser now.",
        "superuser_revoked" => "They are an ordinary user now.",
        "password_reset" => "Password reset: their sessions have ended.",
        "name_saved" => "Name saved.",
        "password_changed" => "Password changed. Your other sessions have ended; this one goes on.",
        "pat_revoked" => "Token revoked.",
        _ => return None,
    })
}

pub(crate) fn render<T: Template>(page: &T) -> Response {
    render_with_status(StatusCode::OK, page)
}

pub(crate) fn render_with_status<T: Template>(status: StatusCode, page: &T) -> Response {
    let mut resp = match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html(
                    "<!doctype html><title>Error</title><h1>Something went wrong</h1>\
                     <p>The page could not be shown. <a href=\"/\">Go to your organizations</a>.</p>",
                ),
            )
                .into_response()
        }
    };
    let headers = resp.headers_mut();
    crate::portal::set_security_headers(headers);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `2026-01-31 14:05 UTC`.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A time, or `none` when absent.
pub(crate) fn ts_or(t: Option<DateTime<Utc>>, none: &str) -> String {
    t.map(ts).unwrap_or_else(|| none.to_string())
}

/// The most items a portal list shows; the API pages through more.
pub(crate) const MAX_LISTED: usize = 1000;

/// Reads every page of a list, up to [`MAX_LISTED`] items.
pub(crate) async fn collect<T, F, Fut>(mut fetch: F) -> Result<Vec<T>, Error>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = Result<Page<T>, Error>>,
{
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = fetch(PageRequest { limit: 200, after }).await?;
        out.extend(page.items);
        match page
            .next_cursor
            .and_then(|c| uuid::Uuid::parse_str(&c).ok())
        {
            Some(c) if out.len() < MAX_LISTED => after = Some(c),
            _ => break,
        }
    }
    out.truncate(MAX_LISTED);
    Ok(out)
}

/// An option of a `<select>` or a checkbox.
pub(crate) struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Choice {
    pub(crate) fn new(value: impl ToString, label: impl Into<String>, selected: bool) -> Self {
        Choice {
            value: value.to_string(),
            label: label.into(),
            selected,
        }
    }
}
