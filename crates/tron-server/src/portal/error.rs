//! Errors as pages: every failure is shown in words, with the status of the
//! API's mapping, never as a blank page or raw JSON. Internal errors are
//! logged and not echoed.
use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tron_core::{AuthFailure, Error};

use crate::error::ApiError;
use crate::portal::denied::{self, Denial};
use crate::portal::view::{render_with_status, Layout};

#[derive(Debug)]
enum Problem {
    Domain(Error),
    /// The CSRF token is missing or wrong.
    Csrf,
    /// The request itself is wrong (not a form, too large, wrong method).
    Http(StatusCode, &'static str, &'static str),
}

#[derive(Debug)]
pub(crate) struct PortalError {
    problem: Problem,
    /// Where "Go back" leads.
    back: Option<String>,
}

impl From<Error> for PortalError {
    fn from(e: Error) -> Self {
        PortalError {
            problem: Problem::Domain(e),
            back: None,
        }
    }
}

impl From<ApiError> for PortalError {
    fn from(e: ApiError) -> Self {
        e.0.into()
    }
}

impl PortalError {
    pub(crate) fn csrf() -> Self {
        PortalError {
            problem: Problem::Csrf,
            back: None,
        }
    }

    pub(crate) fn bad_form(status: StatusCode, message: &'static str) -> Self {
        PortalError {
            problem: Problem::Http(status, "This form could not be read", message),
            back: None,
        }
    }

    pub(crate) fn back(mut self, url: impl Into<String>) -> Self {
        self.back = Some(url.into());
        self
    }
}

/// `result.or_back(url)`: on error, the error page links back to `url`.
pub(crate) trait OrBack<T> {
    fn or_back(self, url: &str) -> Result<T, PortalError>;
}

impl<T, E: Into<PortalError>> OrBack<T> for Result<T, E> {
    fn or_back(self, url: &str) -> Result<T, PortalError> {
        self.map_err(|e| e.into().back(url))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    heading: String,
    message: String,
    back: Option<String>,
}

impl IntoResponse for PortalError {
    fn into_response(self) -> Response {
        let (status, heading, message, retry_after) = match self.problem {
            Problem::Csrf => (
                StatusCode::FORBIDDEN,
                "This form has expired",
                "The form was not accepted because it did not come from a current page of this \
                 site. Go back, reload the page and try again."
                    .to_string(),
                None,
            ),
            Problem::Http(status, heading, message) => (status, heading, message.into(), None),
            Problem::Domain(Error::Denied { action, resource }) => {
                // Said without names here; the organization layer, which
                // can look them up, says it again with them.
                let denial = Denial {
                    action,
                    resource,
                    back: self.back,
                };
                let mut resp = denial.page(&denied::Names::default());
                resp.extensions_mut().insert(denial);
                return resp;
            }
            Problem::Domain(e) => {
                let api = ApiError(e);
                let (status, _) = api.status_and_code();
                let e = api.0;
                let retry = match &e {
                    Error::RateLimited { retry_after_secs } => Some(*retry_after_secs),
                    _ => None,
                };
                let (heading, message) = describe(e);
                (status, heading, message, retry)
            }
        };
        let mut resp = error_page(status, heading, message, self.back);
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        resp
    }
}

/// The error page itself.
pub(crate) fn error_page(
    status: StatusCode,
    heading: &str,
    message: String,
    back: Option<String>,
) -> Response {
    let page = ErrorPage {
        layout: Layout::anonymous(heading),
        status: status.as_u16(),
        heading: heading.to_string(),
        message,
        back,
    };
    render_with_status(status, &page)
}

/// The heading and the sentence a person reads.
fn describe(e: Error) -> (&'static str, String) {
    match e {
        Error::NotFound => (
            "Not found",
            "There is nothing here, or you do not have access to it.".into(),
        ),
        Error::Forbidden | Error::Denied { .. } => (
            "Not allowed",
            "You do not have permission to do this. An organization admin can grant it through \
             a group."
                .into(),
        ),
        Error::Validation { message, .. } => ("That did not work", capitalize(&message)),
        Error::Conflict { message, .. } => ("That did not work", capitalize(&message)),
        Error::LastAdmin => (
            "The last admin must stay",
            "The organization must keep at least one active user in an organization-wide admin \
             group, so this change was not made."
                .into(),
        ),
        Error::Unauthenticated(AuthFailure::PrincipalDisabled) => {
            ("Account disabled", "This account is disabled.".into())
        }
        Error::Unauthenticated(_) | Error::InvalidCredentials => (
            "Please log in",
            "Your session has ended. Log in again to continue.".into(),
        ),
        Error::RateLimited { retry_after_secs } => (
            "Too many attempts",
            format!("Too many attempts. Try again in {retry_after_secs} seconds."),
        ),
        Error::Unavailable(detail) => {
            tracing::warn!(error = %detail, "storage unavailable in the portal");
            (
                "Temporarily unavailable",
                "Tron cannot reach its database right now. Try again in a moment.".into(),
            )
        }
        Error::Internal(detail) => {
            tracing::error!(error = %detail, "internal error in the portal");
            (
                "Something went wrong",
                "Something went wrong on our side. Try again in a moment; if it keeps \
                 happening, tell your administrator."
                    .into(),
            )
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => {
            let mut out: String = first.to_uppercase().collect();
            out.push_str(c.as_str());
            if !out.ends_with('.') {
                out.push('.');
            }
            out
        }
        None => "The request was not valid.".into(),
    }
}

/// The HTML 404 for browsers that reach an address nothing serves.
pub fn not_found_page() -> Response {
    PortalError::from(Error::NotFound).back("/").into_response()
}

/// The HTML 405 for browsers that use the wrong method on a page.
pub fn method_not_allowed_page() -> Response {
    PortalError {
        problem: Problem::Http(
            StatusCode::METHOD_NOT_ALLOWED,
            "Not available this way",
            "This address does not answer this kind of request. Use the buttons and links of \
             the pages.",
        ),
        back: None,
    }
    .into_response()
}
