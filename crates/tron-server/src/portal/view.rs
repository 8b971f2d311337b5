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
            user: Some(session.principal.name.to_string()),
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
        "deployed" => "Deployed: the instance runs the new image.",
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

/// The rows a list page shows at once.
pub(crate) const PAGE_SIZE: usize = 50;

/// One page of a searchable list: its rows, what was searched for, and the
/// address of the next page.
pub(crate) struct Listing<T> {
    pub rows: Vec<T>,
    /// The search as typed (`q`), shown back in the search box.
    pub q: String,
    /// The next page's address, when there is more.
    pub next: Option<String>,
    /// The first page's address, when this is not it.
    pub first: Option<String>,
}

impl<T> Listing<T> {
    pub(crate) fn map<U>(self, f: impl FnMut(T) -> U) -> Listing<U> {
        Listing {
            rows: self.rows.into_iter().map(f).collect(),
            q: self.q,
            next: self.next,
            first: self.first,
        }
    }
}

/// A page of up to [`PAGE_SIZE`] items of a list that the store pages by
/// id, starting after `?cursor=` and keeping only those `matches` the
/// search `?q=` (case-insensitive): the store is read in pages of 200 until
/// the page is full, and the next page starts after the last item read.
pub(crate) async fn listing<T, F, Fut>(
    base: &str,
    q: &crate::portal::form::QueryMap,
    matches: impl Fn(&T, &str) -> bool,
    id: impl Fn(&T) -> uuid::Uuid,
    mut fetch: F,
) -> Result<Listing<T>, Error>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = Result<Page<T>, Error>>,
{
    let search = q.get("q").map(str::trim).unwrap_or("").to_owned();
    let needle = search.to_lowercase();
    let start = q.get("cursor").and_then(|c| uuid::Uuid::parse_str(c).ok());
    let mut after = start;
    let mut rows = Vec::new();
    let mut next = None;
    'pages: loop {
        let page = fetch(PageRequest { limit: 200, after }).await?;
        let more = page.next_cursor.is_some();
        let count = page.items.len();
        for (i, item) in page.items.into_iter().enumerate() {
            let last_read = id(&item);
            if needle.is_empty() || matches(&item, &needle) {
                rows.push(item);
            }
            if rows.len() == PAGE_SIZE {
                if more || i + 1 < count {
                    next = Some(last_read);
                }
                break 'pages;
            }
            after = Some(last_read);
        }
        if !more {
            break;
        }
    }
    let with = |cursor: Option<uuid::Uuid>| {
        let mut params: Vec<(&str, String)> = Vec::new();
        if !search.is_empty() {
            params.push(("q", search.clone()));
        }
        if let Some(c) = cursor {
            params.push(("cursor", c.to_string()));
        }
        match serde_urlencoded::to_string(&params).unwrap_or_default() {
            p if p.is_empty() => base.to_owned(),
            p => format!("{base}?{p}"),
        }
    };
    Ok(Listing {
        next: next.map(|c| with(Some(c))),
        first: start.map(|_| with(None)),
        rows,
        q: search,
    })
}

/// Whether any of `fields` contains the (lower-case) search.
pub(crate) fn contains_any(needle: &str, fields: &[&str]) -> bool {
    fields.iter().any(|f| f.to_lowercase().contains(needle))
}

/// A time as a page shows it: relative ("3 days ago", "in 2 hours"), with
/// the exact time on hover and in the `<time>` element.
#[derive(Debug, Clone)]
pub(crate) struct When {
    pub iso: String,
    pub exact: String,
    pub rel: String,
}

pub(crate) fn when(t: DateTime<Utc>, now: DateTime<Utc>) -> When {
    When {
        iso: t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        exact: ts(t),
        rel: relative(t, now),
    }
}

/// `just now`, `5 minutes ago`, `in 3 days`, … (whole units, rounded down).
pub(crate) fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (t - now).num_seconds();
    let ahead = secs > 0;
    let s = secs.unsigned_abs();
    if s < 60 {
        return "just now".into();
    }
    let (n, unit) = match s {
        s if s < 3600 => (s / 60, "minute"),
        s if s < 86_400 => (s / 3600, "hour"),
        s if s < 86_400 * 60 => (s / 86_400, "day"),
        s if s < 86_400 * 730 => (s / (86_400 * 30), "month"),
        s => (s / (86_400 * 365), "year"),
    };
    let plural = if n == 1 { "" } else { "s" };
    if ahead {
        format!("in {n} {unit}{plural}")
    } else {
        format!("{n} {unit}{plural} ago")
    }
}

/// How close an expiry is, for a badge: `Some("Expires in 3 days")` within
/// [`SOON_DAYS`], `Some("Expired")` once past, else `None`.
pub(crate) fn expiry_badge(expires: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<String> {
    let t = expires?;
    if t <= now {
        return Some("Expired".into());
    }
    (t - now < chrono::Duration::days(SOON_DAYS)).then(|| format!("Expires {}", relative(t, now)))
}

/// Tokens expiring within this many days are marked.
pub(crate) const SOON_DAYS: i64 = 7;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0)
            .single()
            .expect("a time")
            + chrono::Duration::hours(h)
    }

    #[test]
    fn times_read_relative_with_whole_units() {
        let now = at(0);
        assert_eq!(relative(now, now), "just now");
        assert_eq!(
            relative(now - chrono::Duration::minutes(1), now),
            "1 minute ago"
        );
        assert_eq!(
            relative(now - chrono::Duration::minutes(59), now),
            "59 minutes ago"
        );
        assert_eq!(relative(at(-5), now), "5 hours ago");
        assert_eq!(relative(at(72), now), "in 3 days");
        assert_eq!(relative(at(24 * 90), now), "in 3 months");
        assert_eq!(relative(at(-24 * 800), now), "2 years ago");
        let w = when(at(-2), now);
        assert_eq!(w.exact, "2026-12-03 10:00 UTC");
        assert_eq!(w.iso, "2026-12-03T10:00:00Z");
    }

    #[test]
    fn only_near_or_past_expiry_gets_a_badge() {
        let now = at(0);
        assert_eq!(expiry_badge(None, now), None);
        assert_eq!(expiry_badge(Some(at(24 * 30)), now), None);
        assert_eq!(
            expiry_badge(Some(at(24 * 3)), now).as_deref(),
            Some("Expires in 3 days")
        );
        assert_eq!(expiry_badge(Some(at(-1)), now).as_deref(), Some("Expired"));
    }
}
