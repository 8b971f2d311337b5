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
