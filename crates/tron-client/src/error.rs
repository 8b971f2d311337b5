//! What a call can fail with: the API's error body, the transport, or a
//! response that is not the expected JSON.
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A non-2xx answer, from the spec's `{"error": {"code", "message", "field"}}`.
    #[error("{status} {code}: {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
        field: Option<String>,
        /// `Retry-After` in seconds, on `429`.
        retry_after: Option<u64>,
    },
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
    /// A 2xx answer whose body is not what the client expects. The body is
    /// not kept: it may hold a token.
    #[error("cannot decode the {status} response: {message}")]
    Decode { status: u16, message: String },
}

impl ClientError {
    /// The API's error code (`not_found`, `token_revoked`, ...).
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } | ClientError::Decode { status, .. } => Some(*status),
            ClientError::Transport(e) => e.status().map(|s| s.as_u16()),
        }
    }

    /// The offending field of a `validation_error`.
    pub fn field(&self) -> Option<&str> {
        match self {
            ClientError::Api { field, .. } => field.as_deref(),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct Body {
    error: Inner,
}

#[derive(Deserialize)]
struct Inner {
    code: String,
    message: String,
    #[serde(default)]
    field: Option<String>,
}

/// Builds the error of a non-2xx answer. A body that is not the spec's
/// error shape (a proxy's HTML page, say) still gives a usable error.
pub(crate) fn api_error(status: u16, retry_after: Option<u64>, body: &str) -> ClientError {
    match serde_json::from_str::<Body>(body) {
        Ok(b) => ClientError::Api {
            status,
            code: b.error.code,
            message: b.error.message,
            field: b.error.field,
            retry_after,
        },
        Err(_) => ClientError::Api {
            status,
            code: format!("http_{status}"),
            message: body.chars().take(200).collect(),
            field: None,
            retry_after,
        },
    }
}

/// Builds the error of a refused `POST /oidc/token`: RFC 6749 §5.2's
/// `{error, error_description}`, with `error` as the code. Anything else
/// (an API error body from a proxy in front, an HTML page) is read as
/// [`api_error`] reads it.
pub(crate) fn oauth_error(status: u16, retry_after: Option<u64>, body: &str) -> ClientError {
    match serde_json::from_str::<tron_api::OAuthErrorBody>(body) {
        Ok(b) => ClientError::Api {
            status,
            code: b.error,
            message: b.error_description.unwrap_or_default(),
            field: None,
            retry_after,
        },
        Err(_) => api_error(status, retry_after, body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_error_body() {
        let e = api_error(
            400,
            None,
            r#"{"error": {"code": "validation_error", "message": "bad", "field": "name"}}"#,
        );
        assert_eq!(e.code(), Some("validation_error"));
        assert_eq!(e.field(), Some("name"));
        assert_eq!(e.status(), Some(400));
        let e = api_error(502, Some(3), "<html>bad gateway</html>");
        assert_eq!(e.code(), Some("http_502"));
        assert!(matches!(
            e,
            ClientError::Api {
                retry_after: Some(3),
                ..
            }
        ));
    }

    #[test]
    fn parses_the_oauth_error_body() {
        let e = oauth_error(
            400,
            None,
            r#"{"error": "invalid_request", "error_description": "the token has expired"}"#,
        );
        assert_eq!(e.code(), Some("invalid_request"));
        assert_eq!(e.status(), Some(400));
        assert_eq!(e.to_string(), "400 invalid_request: the token has expired");
        let e = oauth_error(429, Some(7), r#"{"error": "slow_down"}"#);
        assert_eq!(e.code(), Some("slow_down"));
        assert!(matches!(
            e,
            ClientError::Api {
                retry_after: Some(7),
                ..
            }
        ));
        let e = oauth_error(
            403,
            None,
            r#"{"error": {"code": "forbidden", "message": "no"}}"#,
        );
        assert_eq!(e.code(), Some("forbidden"));
        let e = oauth_error(502, None, "<html>bad gateway</html>");
        assert_eq!(e.code(), Some("http_502"));
    }
}
