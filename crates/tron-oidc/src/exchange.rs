//! RFC 8693 token exchange, the wire types of `POST /api/v1/oidc/token`:
//! the request (form-encoded or JSON), the success response and RFC 6749's
//! error body.
//!
//! Invariant: the subject token (an ID token, a credential until it
//! expires) and the minted access token never appear in a `Debug` output or
//! an error description.

use std::fmt;

use serde::{Deserialize, Serialize};

pub const GRANT_TYPE_TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const TOKEN_TYPE_ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
pub const TOKEN_TYPE_JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
pub const TOKEN_TYPE_ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

/// The ID token presented. Its `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct SubjectToken(String);

impl SubjectToken {
    pub fn new(token: String) -> Self {
        Self(token)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SubjectToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubjectToken(<redacted, {} bytes>)", self.0.len())
    }
}

/// `subject_token_type`: both name a JWT ID token here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectTokenType {
    IdToken,
    Jwt,
}

/// A well-formed exchange request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeRequest {
    pub subject_token: SubjectToken,
    pub subject_token_type: SubjectTokenType,
    /// The service account's id as sent; the server resolves it (an unknown
    /// one is refused like a policy mismatch).
    pub service_account: String,
}

/// The body's encoding, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Form,
    Json,
}

impl Encoding {
    /// `application/x-www-form-urlencoded` or `application/json` (any
    /// parameters, any case); anything else is not an exchange request.
    pub fn from_content_type(content_type: Option<&str>) -> Option<Self> {
        let media = content_type?.split(';').next()?.trim();
        if media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            Some(Self::Form)
        } else if media.eq_ignore_ascii_case("application/json") {
            Some(Self::Json)
        } else {
            None
        }
    }
}

#[derive(Default, Deserialize)]
struct Fields {
    grant_type: Option<String>,
    subject_token: Option<String>,
    subject_token_type: Option<String>,
    service_account: Option<String>,
    requested_token_type: Option<String>,
}

impl ExchangeRequest {
    /// Parses a body. Unknown parameters are ignored (RFC 6749 §3.2); a
    /// parameter sent twice, a missing or unsupported one is
    /// `invalid_request`, a grant type other than token exchange
    /// `unsupported_grant_type`.
    pub fn parse(encoding: Encoding, body: &[u8]) -> Result<Self, OAuthError> {
        let fields = match encoding {
            Encoding::Form => form_fields(body)?,
            Encoding::Json => serde_json::from_slice::<Fields>(body).map_err(|_| {
                OAuthError::invalid_request(
                    "the body is not a JSON object of string parameters (each at most once)",
                )
            })?,
        };
        Self::from_fields(fields)
    }

    fn from_fields(f: Fields) -> Result<Self, OAuthError> {
        let grant_type = f
            .grant_type
            .ok_or_else(|| OAuthError::invalid_request("grant_type is missing"))?;
        if grant_type != GRANT_TYPE_TOKEN_EXCHANGE {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "only urn:ietf:params:oauth:grant-type:token-exchange is supported",
            ));
        }
        let subject_token = f
            .subject_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::invalid_request("subject_token is missing"))?;
        let subject_token_type = match f.subject_token_type.as_deref() {
            None => return Err(OAuthError::invalid_request("subject_token_type is missing")),
            Some(TOKEN_TYPE_ID_TOKEN) => SubjectTokenType::IdToken,
            Some(TOKEN_TYPE_JWT) => SubjectTokenType::Jwt,
            Some(_) => {
                return Err(OAuthError::invalid_request(
                    "subject_token_type must be urn:ietf:params:oauth:token-type:id_token or \
                     urn:ietf:params:oauth:token-type:jwt",
                ))
            }
        };
        let service_account = f
            .service_account
            .filter(|s| !s.is_empty())
            .ok_or_else(|| OAuthError::invalid_request("service_account is missing"))?;
        match f.requested_token_type.as_deref() {
            None | Some(TOKEN_TYPE_ACCESS_TOKEN) => {}
            Some(_) => {
                return Err(OAuthError::invalid_request(
                    "requested_token_type must be urn:ietf:params:oauth:token-type:access_token",
                ))
            }
        }
        Ok(Self {
            subject_token: SubjectToken(subject_token),
            subject_token_type,
            service_account,
        })
    }
}

fn form_fields(body: &[u8]) -> Result<Fields, OAuthError> {
    let mut f = Fields::default();
    for (name, value) in url::form_urlencoded::parse(body) {
        let slot = match name.as_ref() {
            "grant_type" => &mut f.grant_type,
            "subject_token" => &mut f.subject_token,
            "subject_token_type" => &mut f.subject_token_type,
            "service_account" => &mut f.service_account,
            "requested_token_type" => &mut f.requested_token_type,
            _ => continue,
        };
        if slot.is_some() {
            return Err(OAuthError::invalid_request(format!(
                "{name} is sent more than once"
            )));
        }
        *slot = Some(value.into_owned());
    }
    Ok(f)
}

/// `200`: the minted service token. Its `Debug` redacts the token.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct ExchangeResponse {
    pub access_token: String,
    pub issued_token_type: &'static str,
    pub token_type: &'static str,
    pub expires_in: i64,
}

impl ExchangeResponse {
    pub fn new(access_token: String, expires_in: i64) -> Self {
        Self {
            access_token,
            issued_token_type: TOKEN_TYPE_ACCESS_TOKEN,
            token_type: "Bearer",
            expires_in,
        }
    }
}

impl fmt::Debug for ExchangeResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeResponse")
            .field("access_token", &"<redacted>")
            .field("issued_token_type", &self.issued_token_type)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// RFC 6749's error codes that the exchange answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    UnsupportedGrantType,
    TemporarilyUnavailable,
}

/// RFC 6749 §5.2's error body: `{"error", "error_description"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OAuthError {
    pub error: ErrorCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

impl OAuthError {
    pub fn new(error: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: Some(description.into()),
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// `503`: the issuer's keys cannot be had.
    pub fn temporarily_unavailable() -> Self {
        Self {
            error: ErrorCode::TemporarilyUnavailable,
            error_description: None,
        }
    }

    /// The HTTP status this body goes with.
    pub fn status(&self) -> u16 {
        match self.error {
            ErrorCode::InvalidRequest | ErrorCode::UnsupportedGrantType => 400,
            ErrorCode::TemporarilyUnavailable => 503,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FORM: &str = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange\
        &subject_token=eyJ.abc.def\
        &subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token\
        &service_account=sa-1";

    fn form(body: &str) -> Result<ExchangeRequest, OAuthError> {
        ExchangeRequest::parse(Encoding::Form, body.as_bytes())
    }

    fn json_req(body: serde_json::Value) -> Result<ExchangeRequest, OAuthError> {
        ExchangeRequest::parse(Encoding::Json, body.to_string().as_bytes())
    }

    fn full_json() -> serde_json::Value {
        json!({
            "grant_type": GRANT_TYPE_TOKEN_EXCHANGE,
            "subject_token": "eyJ.abc.def",
            "subject_token_type": TOKEN_TYPE_JWT,
            "service_account": "sa-1",
            "requested_token_type": TOKEN_TYPE_ACCESS_TOKEN,
            "scope": "ignored",
        })
    }

    #[test]
    fn a_form_request_parses() {
        let r = form(&format!("{FORM}&audience=ignored")).unwrap();
        assert_eq!(r.subject_token.expose(), "eyJ.abc.def");
        assert_eq!(r.subject_token_type, SubjectTokenType::IdToken);
        assert_eq!(r.service_account, "sa-1");
    }

    #[test]
    fn a_json_request_parses() {
        let r = json_req(full_json()).unwrap();
        assert_eq!(r.subject_token_type, SubjectTokenType::Jwt);
        assert_eq!(r.service_account, "sa-1");
    }

    #[test]
    fn content_types_choose_the_encoding() {
        use Encoding::*;
        assert_eq!(Encoding::from_content_type(Some("application/x-www-form-urlencoded")), Some(Form));
        assert_eq!(Encoding::from_content_type(Some("Application/JSON; charset=utf-8")), Some(Json));
        assert_eq!(Encoding::from_content_type(Some("text/plain")), None);
        assert_eq!(Encoding::from_content_type(None), None);
    }

    #[test]
    fn the_grant_type_is_checked_first() {
        let e = form("grant_type=password&subject_token=x").unwrap_err();
        assert_eq!(e.error, ErrorCode::UnsupportedGrantType);
        assert_eq!(e.status(), 400);
        let e = form("subject_token=x").unwrap_err();
        assert_eq!(e.error, ErrorCode::InvalidRequest);
        assert_eq!(e.error_description.as_deref(), Some("grant_type is missing"));
    }

    #[test]
    fn missing_or_unsupported_parameters_are_invalid_requests() {
        for (drop, what) in [
            ("subject_token", "subject_token is missing"),
            ("subject_token_type", "subject_token_type is missing"),
            ("service_account", "service_account is missing"),
        ] {
            let mut body = full_json();
            body.as_object_mut().unwrap().remove(drop);
            let e = json_req(body).unwrap_err();
            assert_eq!((e.error, e.error_description.as_deref()), (ErrorCode::InvalidRequest, Some(what)));
        }
        for (field, value) in [
            ("subject_token_type", "urn:ietf:params:oauth:token-type:saml2"),
            ("requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token"),
            ("subject_token", ""),
        ] {
            let mut body = full_json();
            body[field] = json!(value);
            assert_eq!(json_req(body).unwrap_err().error, ErrorCode::InvalidRequest, "{field}");
        }
        let mut body = full_json();
        body["service_account"] = json!(12);
        assert_eq!(json_req(body).unwrap_err().error, ErrorCode::InvalidRequest);
        for bad in ["[]", "not json", "{\"grant_type\": 1}"] {
            let e = ExchangeRequest::parse(Encoding::Json, bad.as_bytes()).unwrap_err();
            assert_eq!(e.error, ErrorCode::InvalidRequest, "{bad}");
        }
    }

    #[test]
    fn a_parameter_sent_twice_is_refused() {
        let e = form(&format!("{FORM}&service_account=sa-2")).unwrap_err();
        assert_eq!(e.error, ErrorCode::InvalidRequest);
        assert_eq!(e.error_description.as_deref(), Some("service_account is sent more than once"));
        let dup = r#"{"grant_type":"urn:ietf:params:oauth:grant-type:token-exchange","subject_token":"a","subject_token":"b","subject_token_type":"urn:ietf:params:oauth:token-type:jwt","service_account":"s"}"#;
        assert_eq!(ExchangeRequest::parse(Encoding::Json, dup.as_bytes()).unwrap_err().error, ErrorCode::InvalidRequest);
    }

    #[test]
    fn errors_never_carry_the_subject_token() {
        let secret = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2ln";
        let mut body = full_json();
        body["subject_token"] = json!(secret);
        body["subject_token_type"] = json!("bogus");
        let e = json_req(body).unwrap_err();
        let written = serde_json::to_string(&e).unwrap();
        assert!(!written.contains(secret) && !format!("{e:?}").contains(secret));
    }

    #[test]
    fn debug_redacts_both_tokens() {
        let r = form(FORM).unwrap();
        let shown = format!("{r:?}");
        assert!(!shown.contains("eyJ.abc.def"), "{shown}");
        assert!(shown.contains("redacted"));
        let resp = ExchangeResponse::new("trn_sat_secretvalue".into(), 900);
        assert!(!format!("{resp:?}").contains("trn_sat_secretvalue"));
    }

    #[test]
    fn bodies_are_written_as_rfc_8693_and_6749_say() {
        let resp = ExchangeResponse::new("trn_sat_x".into(), 900);
        assert_eq!(
            serde_json::to_value(&resp).unwrap(),
            json!({"access_token": "trn_sat_x", "issued_token_type": TOKEN_TYPE_ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 900})
        );
        assert_eq!(
            serde_json::to_value(OAuthError::invalid_request("expired")).unwrap(),
            json!({"error": "invalid_request", "error_description": "expired"})
        );
        let unavailable = OAuthError::temporarily_unavailable();
        assert_eq!(serde_json::to_value(&unavailable).unwrap(), json!({"error": "temporarily_unavailable"}));
        assert_eq!(unavailable.status(), 503);
    }
}
