//! The domain error. The HTTP layer maps each variant to the status and the
//! stable `code` of the spec; `Internal` carries a message for the log only
//! and is never echoed to a client.
use std::fmt;

/// Why a presented credential was refused (`401`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// Nothing was presented.
    Missing,
    /// Malformed, unknown, or its service account deleted.
    InvalidToken,
    Expired,
    Revoked,
    PrincipalDisabled,
}

impl AuthFailure {
    pub fn code(self) -> &'static str {
        match self {
            AuthFailure::Missing => "unauthenticated",
            AuthFailure::InvalidToken => "invalid_token",
            AuthFailure::Expired => "token_expired",
            AuthFailure::Revoked => "token_revoked",
            AuthFailure::PrincipalDisabled => "principal_disabled",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            AuthFailure::Missing => "No token was presented.",
            AuthFailure::InvalidToken => "The token is not valid.",
            AuthFailure::Expired => "The token has expired.",
            AuthFailure::Revoked => "The token has been revoked.",
            AuthFailure::PrincipalDisabled => "The token's owner is disabled.",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    /// `403` from the access decision, carrying what was asked so that a
    /// page can name the role and scopes that would allow it. Answered
    /// exactly like `Forbidden` by the API: its body does not change.
    #[error("forbidden")]
    Denied {
        action: crate::authz::Action,
        resource: crate::authz::Resource,
    },
    #[error("{message}")]
    Validation {
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    #[error("{message}")]
    Conflict {
        message: String,
        field: Option<String>,
    },
    #[error("the organization must keep at least one active admin user")]
    LastAdmin,
    #[error("{}", .0.message())]
    Unauthenticated(AuthFailure),
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    /// Storage cannot be reached now (connection lost, pool exhausted,
    /// server shutting down, a lock that gave up): `503 unavailable`, worth
    /// retrying. The message is for the log only, never echoed.
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn validation(field: impl Into<String>, message: impl fmt::Display) -> Self {
        Error::Validation {
            code: "validation_error",
            message: message.to_string(),
            field: Some(field.into()),
        }
    }

    pub fn validation_code(
        code: &'static str,
        field: impl Into<String>,
        message: impl fmt::Display,
    ) -> Self {
        Error::Validation {
            code,
            message: message.to_string(),
            field: Some(field.into()),
        }
    }

    pub fn bad_request(message: impl fmt::Display) -> Self {
        Error::Validation {
            code: "validation_error",
            message: message.to_string(),
            field: None,
        }
    }

    pub fn conflict(field: impl Into<String>, message: impl fmt::Display) -> Self {
        Error::Conflict {
            message: message.to_string(),
            field: Some(field.into()),
        }
    }

    pub fn internal(e: impl fmt::Display) -> Self {
        Error::Internal(e.to_string())
    }

    pub fn unavailable(e: impl fmt::Display) -> Self {
        Error::Unavailable(e.to_string())
    }
}
