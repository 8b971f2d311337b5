//! The HTTP error: maps the domain error to the spec's status and stable
//! `code`. Internal errors are logged with the request id and never echoed.
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tron_core::{AuthFailure, Error};

#[derive(Debug)]
pub struct ApiError(pub Error);

pub type ApiResult<T> = Result<T, ApiError>;

/// What a client reads when storage cannot be reached.
pub const UNAVAILABLE_MESSAGE: &str = "The service is temporarily unavailable; try again.";

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

pub fn error_body(status: StatusCode, code: &str, message: &str, field: Option<&str>) -> Response {
    let mut err = json!({"code": code, "message": message});
    if let Some(f) = field {
        err["field"] = json!(f);
    }
    (status, axum::Json(json!({ "error": err }))).into_response()
}

impl ApiError {
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match &self.0 {
            Error::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Error::Forbidden | Error::Denied { .. } => (StatusCode::FORBIDDEN, "forbidden"),
            Error::Validation { code, .. } => (StatusCode::BAD_REQUEST, code),
            Error::Conflict { .. } => (StatusCode::CONFLICT, "conflict"),
            Error::LastAdmin => (StatusCode::CONFLICT, "last_admin"),
            Error::Unauthenticated(f) => (StatusCode::UNAUTHORIZED, f.code()),
            Error::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            Error::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Error::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Error::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let (message, field) = match &self.0 {
            Error::NotFound => ("The resource was not found.".to_string(), None),
            Error::Forbidden | Error::Denied { .. } => {
                ("You do not have permission to do this.".to_string(), None)
            }
            Error::Validation { message, field, .. } | Error::Conflict { message, field } => {
                (message.clone(), field.clone())
            }
            Error::LastAdmin => (
                "The organization must keep at least one active user in an organization-wide admin group."
                    .to_string(),
                None,
            ),
            Error::Unauthenticated(f) => (f.message().to_string(), None),
            Error::InvalidCredentials => ("The email or password is wrong.".to_string(), None),
            Error::RateLimited { .. } => ("Too many requests; try again later.".to_string(), None),
            Error::Unavailable(detail) => {
                tracing::warn!(error = %detail, "storage unavailable");
                (UNAVAILABLE_MESSAGE.to_string(), None)
            }
            Error::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                ("An internal error occurred.".to_string(), None)
            }
        };
        let mut resp = error_body(status, code, &message, field.as_deref());
        match &self.0 {
            Error::Unauthenticated(f) => {
                let v = if *f == AuthFailure::Missing {
                    "Bearer".to_string()
                } else {
                    format!(
                        "Bearer error=\"invalid_token\", error_description=\"{}\"",
                        f.code()
                    )
                };
                if let Ok(v) = HeaderValue::from_str(&v) {
                    resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
            }
            Error::InvalidCredentials => {
                resp.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Error::RateLimited { retry_after_secs } => {
                resp.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from((*retry_after_secs).max(1)),
                );
            }
            Error::Unavailable(_) => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(1u64));
            }
            _ => {}
        }
        resp
    }
}
