//! Extractors that turn malformed input into the spec's `4xx` bodies:
//! JSON bodies (`415`, `413`, `400` for malformed JSON and unknown fields),
//! path ids (`404`: no such thing can exist) and list parameters.
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use tron_core::values::{Timestamp, RULE_MESSAGES};
use tron_core::Error;
use tron_store::PageRequest;

use crate::access::OrgCtx;
use crate::error::{error_body, ApiError};

pub const MAX_BODY: usize = 64 * 1024;

/// A JSON body. Unknown fields are refused by the target type
/// (`deny_unknown_fields`).
pub struct ApiJson<T>(pub T);

/// A JSON body that may also be absent (empty), giving `T::default()`.
pub struct OptionalJson<T>(pub T);

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
        .unwrap_or(false)
}

pub enum BodyRejection {
    UnsupportedMediaType,
    TooLarge,
    Invalid {
        message: String,
        field: Option<String>,
    },
}

impl IntoResponse for BodyRejection {
    fn into_response(self) -> Response {
        match self {
            BodyRejection::UnsupportedMediaType => error_body(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "The body must be JSON, sent with Content-Type: application/json.",
                None,
            ),
            BodyRejection::TooLarge => error_body(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The body is larger than 64 KiB.",
                None,
            ),
            BodyRejection::Invalid { message, field } => error_body(
                StatusCode::BAD_REQUEST,
                "validation_error",
                &message,
                field.as_deref(),
            ),
        }
    }
}

async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, BodyRejection> {
    Bytes::from_request(req, state)
        .await
        .map_err(|e: BytesRejection| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                BodyRejection::TooLarge
            } else {
                BodyRejection::Invalid {
                    message: "The body could not be read.".into(),
                    field: None,
                }
            }
        })
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyRejection> {
    // Every body is an object: serde would otherwise read a struct from an
    // array of its fields in order (`[null, null]`).
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(BodyRejection::Invalid {
            message: "The body must be a JSON object.".into(),
            field: None,
        });
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| describe_json_error(&e))?;
    de.end().map_err(|_| BodyRejection::Invalid {
        message: "The body is not valid JSON.".into(),
        field: None,
    })?;
    Ok(value)
}

/// A plain field name, the only kind of request text an error may repeat
/// (SPEC §4): a token pasted as a key is not one.
fn plain_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The field path of a JSON error, with every segment that is not a plain
/// name or an index written as `?`.
fn field_path(path: &serde_path_to_error::Path) -> Option<String> {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(if plain_name(key) { key } else { "?" });
            }
            Segment::Unknown => {}
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The name between the first pair of backticks of a serde message.
fn quoted_name(msg: &str) -> Option<&str> {
    let rest = &msg[msg.find('`')? + 1..];
    Some(&rest[..rest.find('`')?])
}

/// Turns a deserialization error into a message that names the field and
/// what is wrong, and never repeats a value from the request: serde's own
/// text (`invalid type: string "trn_sat_…"`, `unknown field `…``) is only
/// classified, never passed on.
fn describe_json_error(e: &serde_path_to_error::Error<serde_json::Error>) -> BodyRejection {
    use serde_json::error::Category;
    let inner = e.inner();
    if !matches!(inner.classify(), Category::Data) {
        return BodyRejection::Invalid {
            message: "The body is not valid JSON.".into(),
            field: None,
        };
    }
    let mut field = field_path(e.path());
    let join = |parent: &Option<String>, name: &str| match parent {
        Some(p) => format!("{p}.{name}"),
        None => name.to_string(),
    };
    let msg = inner.to_string();
    let what = if msg.starts_with("missing field `") {
        match quoted_name(&msg).filter(|n| plain_name(n)) {
            Some(name) => {
                field = Some(join(&field, name));
                "is required"
            }
            None => "is missing a required field",
        }
    } else if msg.starts_with("unknown field `") {
        // The path already ends with the unknown key (written `?` unless
        // it is a plain name).
        match quoted_name(&msg).filter(|n| plain_name(n)) {
            Some(_) => "is not a known field",
            None => {
                let field = field.and_then(|f| {
                    f.strip_suffix("?")
                        .map(|p| p.trim_end_matches('.').to_string())
                        .filter(|p| !p.is_empty())
                });
                // The name itself is not repeated.
                let message = match &field {
                    Some(f) => format!("The body has an unknown field in {f}."),
                    None => "The body has an unknown field.".into(),
                };
                return BodyRejection::Invalid { message, field };
            }
        }
    } else if msg.starts_with("duplicate field `") {
        "appears more than once"
    } else if msg.starts_with("invalid type") {
        "has the wrong type"
    } else if msg.starts_with("unknown variant") {
        "is not one of the allowed values"
    } else if msg.starts_with(Timestamp::EXPECTED) {
        Timestamp::EXPECTED
    } else if let Some(rule) = RULE_MESSAGES.iter().find(|r| msg.starts_with(**r)) {
        // A value type's rule (`tron_core::values`): fixed text, no value.
        rule
    } else {
        "is not valid"
    };
    let message = match &field {
        Some(f) => format!("{f} {what}."),
        None => format!("The body {what}."),
    };
    BodyRejection::Invalid { message, field }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = BodyRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&req) {
            return Err(BodyRejection::UnsupportedMediaType);
        }
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = BodyRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = is_json(&req);
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        if !json {
            return Err(BodyRejection::UnsupportedMediaType);
        }
        parse_json(&bytes).map(OptionalJson)
    }
}

/// Path parameters by name. A malformed id answers `404`: no resource can
/// have it.
///
/// Decoded once per request: under an organization the access layer decodes
/// them and the handler reads them from its context; elsewhere the first
/// extraction leaves them in the request's extensions.
#[derive(Clone)]
pub struct PathParams(Arc<DecodedParams>);

/// Names and values in one buffer: `spans` holds, per parameter, where its
/// name starts, where its value starts and where the value ends.
struct DecodedParams {
    text: String,
    spans: Vec<[usize; 3]>,
}

impl std::fmt::Debug for PathParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = &self.0;
        f.debug_map()
            .entries(
                p.spans
                    .iter()
                    .map(|[k, v, end]| (p.text.get(*k..*v), p.text.get(*v..*end))),
            )
            .finish()
    }
}

impl PathParams {
    fn from_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Self {
        let mut text = String::with_capacity(128);
        let mut spans = Vec::with_capacity(4);
        for (k, v) in pairs {
            let start = text.len();
            text.push_str(k);
            let value = text.len();
            text.push_str(v);
            spans.push([start, value, text.len()]);
        }
        PathParams(Arc::new(DecodedParams { text, spans }))
    }

    fn get(&self, name: &str) -> Option<&str> {
        let p = &self.0;
        p.spans
            .iter()
            .find(|[k, v, _]| p.text.get(*k..*v) == Some(name))
            .and_then(|[_, v, end]| p.text.get(*v..*end))
    }

    pub fn id<T: FromStr>(&self, name: &str) -> Result<T, ApiError> {
        self.get(name)
            .and_then(|v| v.parse().ok())
            .ok_or(ApiError(Error::NotFound))
    }

    /// Decodes the route's parameters afresh.
    pub(crate) async fn decode(parts: &mut Parts) -> Result<Self, ApiError> {
        // Already percent-decoded by the router; no deserializer needed.
        RawPathParams::from_request_parts(parts, &())
            .await
            .map(|raw| PathParams::from_pairs(raw.iter()))
            .map_err(|_| ApiError(Error::NotFound))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PathParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(p) = parts.extensions.get::<PathParams>() {
            return Ok(p.clone());
        }
        // Under an organization, its layer has decoded them.
        if let Some(p) = parts.extensions.get::<OrgCtx>().and_then(|c| c.path()) {
            return Ok(p.clone());
        }
        let params = PathParams::decode(parts).await?;
        parts.extensions.insert(params.clone());
        Ok(params)
    }
}

/// Query parameters; unknown ones are ignored, bad values of known ones are
/// `400`.
pub struct Params(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| Params(v.into_iter().collect()))
            .map_err(|_| ApiError(Error::bad_request("The query string is malformed.")))
    }
}

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn page(&self) -> Result<PageRequest, ApiError> {
        let limit = match self.get("limit") {
            None => 50,
            Some(s) => match s.parse::<u32>() {
                Ok(n) if (1..=200).contains(&n) => n,
                _ => {
                    return Err(Error::validation(
                        "limit",
                        "limit must be an integer from 1 to 200",
                    )
                    .into())
                }
            },
        };
        let after = match self.get("cursor") {
            None | Some("") => None,
            Some(c) => Some(
                uuid::Uuid::parse_str(c)
                    .map_err(|_| Error::validation("cursor", "cursor is not valid"))?,
            ),
        };
        Ok(PageRequest { limit, after })
    }

    pub fn bool(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some("false") | Some("0") => Ok(false),
            Some(_) => Err(Error::validation(name, format!("{name} must be true or false")).into()),
        }
    }

    pub fn parse<T: FromStr>(&self, name: &str) -> Result<Option<T>, ApiError> {
        self.get(name)
            .map(|s| {
                s.parse()
                    .map_err(|_| ApiError(Error::validation(name, format!("{name} is not valid"))))
            })
            .transpose()
    }
}

#[cfg(test)]
mod path_params_tests {
    use super::PathParams;

    #[test]
    fn names_and_values_are_kept_apart() {
        let p =
            PathParams::from_pairs([("org", "x"), ("env_id", "org"), ("app_id", "")].into_iter());
        assert_eq!(p.get("org"), Some("x"));
        assert_eq!(p.get("env_id"), Some("org"));
        assert_eq!(p.get("app_id"), Some(""));
        assert_eq!(p.get("xorg"), None);
        assert_eq!(p.get("missing"), None);
        assert!(p.id::<u32>("org").is_err());
        let q = PathParams::from_pairs([("n", "42")].into_iter());
        assert_eq!(q.id::<u32>("n").ok(), Some(42));
    }
}
