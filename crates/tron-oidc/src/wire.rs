//! RFC 8693 token exchange on the wire: the request (form-encoded or JSON),
//! the success response and RFC 6749's error body.
//!
//! Invariant: the subject token and the minted access token are never
//! printed — `Debug` redacts both, and no error message quotes a field's
//! value.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::verify::Rejection;

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const TOKEN_TYPE_ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
pub const TOKEN_TYPE_JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
pub const TOKEN_TYPE_ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
/// The description of every policy mismatch and of an unknown, disabled or
/// deleted service account: the caller learns nothing more.
pub const NO_POLICY_ACCEPTS: &str = "no trust policy of this service account accepts this token";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    UnsupportedGrantType,
    TemporarilyUnavailable,
    /// Too many exchanges from one client address: `429` with
    /// `Retry-After` (the code RFC 8628 §3.5 gives a client that asks too
    /// often).
    SlowDown,
}

/// RFC 6749 §5.2's error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthError {
    pub error: ErrorCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

impl OAuthError {
    pub fn invalid_request(description: impl Into<String>) -> OAuthError {
        OAuthError {
            error: ErrorCode::InvalidRequest,
            error_description: Some(description.into()),
        }
    }

    pub fn no_policy_accepts() -> OAuthError {
        OAuthError::invalid_request(NO_POLICY_ACCEPTS)
    }

    /// `400`; `503` for `temporarily_unavailable`, `429` for `slow_down`.
    pub fn status(&self) -> u16 {
        match self.error {
            ErrorCode::TemporarilyUnavailable => 503,
            ErrorCode::SlowDown => 429,
            _ => 400,
        }
    }

    pub fn unavailable(description: impl Into<String>) -> OAuthError {
        OAuthError {
            error: ErrorCode::TemporarilyUnavailable,
            error_description: Some(description.into()),
        }
    }

    pub fn slow_down(retry_after_secs: u64) -> OAuthError {
        OAuthError {
            error: ErrorCode::SlowDown,
            error_description: Some(format!(
                "too many exchanges from this address: retry in {retry_after_secs} s"
            )),
        }
    }
}

impl From<&Rejection> for OAuthError {
    fn from(r: &Rejection) -> OAuthError {
        if r.is_unavailable() {
            OAuthError {
                error: ErrorCode::TemporarilyUnavailable,
                error_description: Some(r.description()),
            }
        } else {
            OAuthError::invalid_request(r.description())
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectTokenType {
    IdToken,
    Jwt,
}

/// A parsed exchange request. `service_account` is as sent; the server
/// parses it as an id (an unknown one is refused like a mismatch).
#[derive(Clone, PartialEq, Eq)]
pub struct ExchangeRequest {
    pub subject_token: String,
    pub subject_token_type: SubjectTokenType,
    pub service_account: String,
}

impl std::fmt::Debug for ExchangeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExchangeRequest")
            .field("subject_token", &"[redacted]")
            .field("subject_token_type", &self.subject_token_type)
            .field("service_account", &self.service_account)
            .finish()
    }
}

const FIELDS: [&str; 5] = [
    "grant_type",
    "subject_token",
    "subject_token_type",
    "service_account",
    "requested_token_type",
];

#[derive(Default)]
struct Fields {
    values: [Option<String>; 5],
}

impl Fields {
    fn set(&mut self, name: &str, value: String) -> Result<(), OAuthError> {
        // Unknown parameters are ignored (RFC 6749 §3.2); none may repeat.
        if let Some(i) = FIELDS.iter().position(|f| *f == name) {
            if self.values[i].is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "{name} is given more than once"
                )));
            }
            self.values[i] = Some(value);
        }
        Ok(())
    }

    fn take(&mut self, i: usize) -> Option<String> {
        self.values[i].take().filter(|v| !v.is_empty())
    }
}

impl ExchangeRequest {
    /// `application/x-www-form-urlencoded`.
    pub fn from_form(body: &[u8]) -> Result<ExchangeRequest, OAuthError> {
        let mut fields = Fields::default();
        for (name, value) in url::form_urlencoded::parse(body) {
            fields.set(&name, value.into_owned())?;
        }
        ExchangeRequest::from_fields(fields)
    }

    /// A JSON object of string fields.
    pub fn from_json(body: &[u8]) -> Result<ExchangeRequest, OAuthError> {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            return Err(OAuthError::invalid_request("the body is not a JSON object"));
        };
        let mut fields = Fields::default();
        for (name, value) in map {
            match value {
                Value::String(s) => fields.set(&name, s)?,
                _ if FIELDS.contains(&name.as_str()) => {
                    return Err(OAuthError::invalid_request(format!(
                        "{name} must be a string"
                    )))
                }
                _ => {}
            }
        }
        ExchangeRequest::from_fields(fields)
    }

    fn from_fields(mut f: Fields) -> Result<ExchangeRequest, OAuthError> {
        let missing = |name: &str| OAuthError::invalid_request(format!("{name} is missing"));
        let grant_type = f.take(0).ok_or_else(|| missing("grant_type"))?;
        if grant_type != GRANT_TYPE {
            return Err(OAuthError {
                error: ErrorCode::UnsupportedGrantType,
                error_description: Some(format!("grant_type must be {GRANT_TYPE}")),
            });
        }
        let subject_token = f.take(1).ok_or_else(|| missing("subject_token"))?;
        let subject_token_type = match f.take(2).as_deref() {
            Some(TOKEN_TYPE_ID_TOKEN) => SubjectTokenType::IdToken,
            Some(TOKEN_TYPE_JWT) => SubjectTokenType::Jwt,
            Some(_) => {
                return Err(OAuthError::invalid_request(format!(
                    "subject_token_type must be {TOKEN_TYPE_ID_TOKEN} or {TOKEN_TYPE_JWT}"
                )))
            }
            None => return Err(missing("subject_token_type")),
        };
        let service_account = f.take(3).ok_or_else(|| missing("service_account"))?;
        if let Some(requested) = f.values[4].take() {
            if requested != TOKEN_TYPE_ACCESS_TOKEN {
                return Err(OAuthError::invalid_request(format!(
                    "requested_token_type must be {TOKEN_TYPE_ACCESS_TOKEN}"
                )));
            }
        }
        Ok(ExchangeRequest {
            subject_token,
            subject_token_type,
            service_account,
        })
    }
}

/// The success body.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeResponse {
    pub access_token: String,
    pub issued_token_type: String,
    pub token_type: String,
    pub expires_in: i64,
}

impl ExchangeResponse {
    pub fn new(access_token: String, expires_in: i64) -> ExchangeResponse {
        ExchangeResponse {
            access_token,
            issued_token_type: TOKEN_TYPE_ACCESS_TOKEN.to_owned(),
            token_type: "Bearer".to_owned(),
            expires_in,
        }
    }
}

impl std::fmt::Debug for ExchangeResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExchangeResponse")
            .field("access_token", &"[redacted]")
            .field("issued_token_type", &self.issued_token_type)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

#[cfg(test)]
mod tests;
