//! What a portal request carries: the posted form (already read and
//! CSRF-checked by the session layer), path ids and query parameters, with
//! rejections rendered as pages.
use std::collections::HashMap;
use std::str::FromStr;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use tron_core::Error;

use crate::extract::{PathParams, MAX_BODY};
use crate::portal::error::PortalError;

/// The fields of a posted `application/x-www-form-urlencoded` body, in
/// order (a field may repeat, as checkboxes do).
#[derive(Debug, Clone, Default)]
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The field's value, or `""` when absent.
    pub(crate) fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads a form body (at most 64 KiB).
pub(crate) async fn read_form(headers: &HeaderMap, body: Body) -> Result<Form, PortalError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(PortalError::bad_form(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The request was not sent as a web form.",
        ));
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        PortalError::bad_form(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The form is larger than 64 KiB.",
        )
    })?;
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .map(Form)
        .map_err(|_| PortalError::bad_form(StatusCode::BAD_REQUEST, "The form could not be read."))
}

impl<S: Send + Sync> FromRequestParts<S> for Form {
    type Rejection = PortalError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Form>()
            .cloned()
            .ok_or_else(|| PortalError::from(Error::internal("form read outside session_layer")))
    }
}

/// Path ids by name; a malformed one is the 404 page.
pub(crate) struct Ids(PathParams);

impl Ids {
    pub(crate) fn id<T: FromStr>(&self, name: &str) -> Result<T, PortalError> {
        self.0.id(name).map_err(PortalError::from)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ids {
    type Rejection = PortalError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        PathParams::from_request_parts(parts, state)
            .await
            .map(Ids)
            .map_err(PortalError::from)
    }
}

/// Query parameters; unreadable ones are ignored (pages have sane
/// defaults).
#[derive(Default)]
pub(crate) struct QueryMap(pub HashMap<String, String>);

impl QueryMap {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let map = parts
            .uri
            .query()
            .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
            .unwrap_or_default()
            .into_iter()
            .collect();
        Ok(QueryMap(map))
    }
}

/// A form that was refused, re-rendered on its own page: what was typed
/// stays in the fields, and the message stands beside the field it is
/// about (or above the form when it is about no field of it).
#[derive(Debug, Default)]
pub(crate) struct Failed {
    /// Which form of the page failed (its id).
    pub form: &'static str,
    /// The field the message is about; empty when none of the form's own.
    pub field: String,
    pub message: String,
    /// The status the page answers with (the API's for this error).
    pub status: axum::http::StatusCode,
    typed: Form,
}

impl Failed {
    /// Nothing failed: the page shows its forms empty.
    pub(crate) fn none() -> Self {
        Failed::default()
    }

    /// `e` as a message beside `fields` of `form`; errors a person cannot
    /// fix in the form (forbidden, not found, storage) stay error pages.
    pub(crate) fn of(
        form: &'static str,
        typed: Form,
        fields: &[&str],
        e: Error,
    ) -> Result<Failed, PortalError> {
        let (field, message) = match &e {
            Error::Validation { field, message, .. } | Error::Conflict { field, message } => {
                (field.clone(), message.clone())
            }
            Error::LastAdmin => (
                None,
                "the organization must keep at least one active user in an \
                 organization-wide admin group"
                    .to_owned(),
            ),
            _ => return Err(e.into()),
        };
        let status = crate::error::ApiError(e).status_and_code().0;
        // `settings.max_token_lifetime_days` is the form's
        // `max_token_lifetime_days`.
        let field = field
            .as_deref()
            .map(|f| f.rsplit('.').next().unwrap_or(f))
            .filter(|f| fields.contains(f))
            .unwrap_or_default()
            .to_owned();
        Ok(Failed {
            form,
            field,
            message: sentence(&message),
            status,
            typed,
        })
    }

    /// What was typed into `name` of `form`, or `""`.
    pub(crate) fn value(&self, form: &str, name: &str) -> &str {
        if self.form == form {
            self.typed.text(name)
        } else {
            ""
        }
    }

    /// Every value typed into `name` of `form` (ticked checkboxes).
    pub(crate) fn values<'a>(
        &'a self,
        form: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.typed.all(name).filter(move |_| self.form == form)
    }

    /// Whether `field` of `form` is the one the message is about.
    pub(crate) fn at(&self, form: &str, field: &str) -> bool {
        !self.form.is_empty() && self.form == form && self.field == field
    }

    /// Whether `form` failed for a reason that belongs to none of its fields.
    pub(crate) fn above(&self, form: &str) -> bool {
        !self.form.is_empty() && self.form == form && self.field.is_empty()
    }

    /// Whether `form` failed at all (it is then shown open).
    pub(crate) fn failed(&self, form: &str) -> bool {
        !self.form.is_empty() && self.form == form
    }
}

/// A message as a sentence: capital first letter, full stop.
/// A message as a sentence: capitalised, with its full stop.
pub(crate) fn sentence(s: &str) -> String {
    let mut c = s.chars();
    let mut out: String = match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => "The form was not accepted".to_owned(),
    };
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn typed() -> Form {
        Form(vec![("name".into(), "Bad Name".into())])
    }

    #[test]
    fn a_validation_error_stands_beside_its_field_with_what_was_typed() {
        let e = Error::validation("name", "name must be lower case");
        let f = Failed::of("create-env", typed(), &["name"], e).expect("a form error");
        assert!(f.at("create-env", "name"));
        assert!(!f.at("create-app", "name"));
        assert!(!f.above("create-env"));
        assert_eq!(f.value("create-env", "name"), "Bad Name");
        assert_eq!(f.value("create-app", "name"), "");
        assert_eq!(f.message, "Name must be lower case.");
        assert_eq!(f.status, axum::http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn a_conflict_or_a_field_the_form_lacks_goes_above_the_form() {
        let e = Error::validation("scope", "scope must not be empty");
        let f = Failed::of("create-group", typed(), &["name"], e).expect("a form error");
        assert!(f.above("create-group"));
        let e = Error::conflict("name", "an environment with this name exists");
        let f = Failed::of("create-env", typed(), &["name"], e).expect("a form error");
        assert!(f.at("create-env", "name"));
        assert_eq!(f.status, axum::http::StatusCode::CONFLICT);
        let e = Error::LastAdmin;
        let f = Failed::of("create-env", typed(), &["name"], e).expect("a form error");
        assert!(f.above("create-env"));
    }

    #[test]
    fn errors_no_form_can_fix_stay_error_pages() {
        assert!(Failed::of("x", typed(), &["name"], Error::Forbidden).is_err());
        assert!(Failed::of("x", typed(), &["name"], Error::NotFound).is_err());
    }

    #[test]
    fn nothing_failed_marks_nothing() {
        let f = Failed::none();
        assert!(!f.at("", ""));
        assert!(!f.above(""));
        assert!(!f.failed(""));
    }
}
