//! Trust policies: what a service account accepts from an issuer.
//!
//! Invariants: a valid policy names a trusted issuer, one audience, 1–20
//! conditions of which at least one is exact, and — for the two
//! multi-tenant issuers — pins an id that cannot be re-registered by
//! someone else. Matching is linear in the size of pattern and value (no
//! backtracking), case-sensitive, and on a mismatch names the first failing
//! claim (in claim-name order), the pattern wanted and the value seen.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::issuers::{TrustedIssuers, GITHUB_ACTIONS, GITLAB_COM};

pub const MAX_CONDITIONS: usize = 20;
pub const MAX_AUDIENCE: usize = 255;
pub const MAX_PATTERN: usize = 255;
pub const MAX_CLAIM_NAME: usize = 64;
pub const TTL_MIN: i64 = 60;
pub const TTL_MAX: i64 = 3600;
pub const TTL_DEFAULT: i64 = 900;
/// A value seen is cut to this many characters in a mismatch.
pub const MAX_SEEN: usize = 255;

/// A policy field that failed validation: the server answers `400` with
/// `field` and `message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PolicyError {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> PolicyError {
    PolicyError {
        field,
        message: message.into(),
    }
}

/// A condition's pattern: `*` matches any run of characters (also none);
/// every other character matches itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Pattern(String);

impl Pattern {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_exact(&self) -> bool {
        !self.0.contains('*')
    }

    /// Linear time: the literal pieces between `*`s are found leftmost,
    /// in order; the first must start the value and the last end it.
    pub fn matches(&self, value: &str) -> bool {
        glob_match(&self.0, value)
    }
}

fn glob_match(pattern: &str, value: &str) -> bool {
    let pieces: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = pieces.as_slice() else {
        return pattern == value;
    };
    let Some(mut rest) = value.strip_prefix(first) else {
        return false;
    };
    for piece in middle {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// A validated policy, as the exchange applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPolicy {
    pub issuer: String,
    pub audience: String,
    pub conditions: BTreeMap<String, Pattern>,
    pub token_ttl_seconds: i64,
}

/// A policy as an admin submits it (`POST`, or `PATCH` merged over the
/// stored one).
#[derive(Debug, Clone, Copy)]
pub struct PolicyInput<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    /// The JSON object of `claim: pattern` pairs.
    pub conditions: &'a Value,
    pub token_ttl_seconds: Option<i64>,
}

fn valid_claim_name(name: &str) -> bool {
    (1..=MAX_CLAIM_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl TrustPolicy {
    /// Validates a policy; the error names the first failing field.
    pub fn validate(
        input: PolicyInput<'_>,
        trusted: &TrustedIssuers,
    ) -> Result<TrustPolicy, PolicyError> {
        if trusted.get(input.issuer).is_none() {
            return Err(invalid("issuer", "must be one of the trusted issuers"));
        }
        let audience_len = input.audience.chars().count();
        if !(1..=MAX_AUDIENCE).contains(&audience_len) {
            return Err(invalid("audience", "must be 1 to 255 characters"));
        }
        let Value::Object(raw) = input.conditions else {
            return Err(invalid(
                "conditions",
                "must be an object of claim: pattern pairs",
            ));
        };
        if raw.is_empty() || raw.len() > MAX_CONDITIONS {
            return Err(invalid("conditions", "must hold 1 to 20 conditions"));
        }
        let mut conditions = BTreeMap::new();
        for (claim, pattern) in raw {
            if !valid_claim_name(claim) {
                return Err(invalid(
                    "conditions",
                    "claim names are 1 to 64 of a-z, 0-9 and _",
                ));
            }
            let Value::String(pattern) = pattern else {
                return Err(invalid(
                    "conditions",
                    format!("the pattern for {claim} must be a string"),
                ));
            };
            if !(1..=MAX_PATTERN).contains(&pattern.chars().count()) {
                return Err(invalid(
                    "conditions",
                    format!("the pattern for {claim} must be 1 to 255 characters"),
                ));
            }
            conditions.insert(claim.clone(), Pattern(pattern.clone()));
        }
        if !conditions.values().any(Pattern::is_exact) {
            return Err(invalid(
                "conditions",
                "at least one condition must be exact (no *)",
            ));
        }
        let pinned = |names: &[&str]| {
            names
                .iter()
                .any(|n| conditions.get(*n).is_some_and(Pattern::is_exact))
        };
        if input.issuer == GITHUB_ACTIONS && !pinned(&["repository_owner_id", "repository_id"]) {
            return Err(invalid(
                "conditions",
                "GitHub Actions policies must pin repository_owner_id or repository_id exactly",
            ));
        }
        if input.issuer == GITLAB_COM && !pinned(&["namespace_id", "project_id"]) {
            return Err(invalid(
                "conditions",
                "gitlab.com policies must pin namespace_id or project_id exactly",
            ));
        }
        let ttl = input.token_ttl_seconds.unwrap_or(TTL_DEFAULT);
        if !(TTL_MIN..=TTL_MAX).contains(&ttl) {
            return Err(invalid("token_ttl_seconds", "must be 60 to 3600"));
        }
        Ok(TrustPolicy {
            issuer: input.issuer.to_owned(),
            audience: input.audience.to_owned(),
            conditions,
            token_ttl_seconds: ttl,
        })
    }

    /// Whether a verified token's `aud` and claims satisfy this policy;
    /// on a mismatch, the first failing claim (`aud` first, then the
    /// conditions in claim-name order).
    pub fn check(
        &self,
        aud: &Value,
        claims: &serde_json::Map<String, Value>,
    ) -> Result<(), Mismatch> {
        check_audience(aud, &self.audience)?;
        for (claim, pattern) in &self.conditions {
            let value = claims.get(claim);
            let matched = string_form(value).is_some_and(|s| pattern.matches(&s));
            if !matched {
                return Err(Mismatch {
                    claim: claim.clone(),
                    wanted: pattern.0.clone(),
                    seen: seen(value),
                });
            }
        }
        Ok(())
    }
}

/// The first claim of a token that a policy did not accept — for the
/// organization's audit log, never for the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub claim: String,
    /// The pattern (or, for `aud`, the audience) the policy wants.
    pub wanted: String,
    /// What the token holds, in its string form (JSON for other types,
    /// cut to 255 characters); `None` when the claim is missing.
    pub seen: Option<String>,
}

/// Strings as they are, numbers and booleans as JSON writes them; other
/// types have none (and never match).
pub fn string_form(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        v @ (Value::Number(_) | Value::Bool(_)) => Some(v.to_string()),
        _ => None,
    }
}

fn seen(value: Option<&Value>) -> Option<String> {
    let value = value?;
    let text = string_form(Some(value)).unwrap_or_else(|| value.to_string());
    Some(text.chars().take(MAX_SEEN).collect())
}

/// `aud` must be exactly `wanted`, or a one-element array holding it.
pub fn check_audience(aud: &Value, wanted: &str) -> Result<(), Mismatch> {
    let ok = match aud {
        Value::String(s) => s == wanted,
        Value::Array(list) => matches!(list.as_slice(), [Value::String(s)] if s == wanted),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Mismatch {
            claim: "aud".to_owned(),
            wanted: wanted.to_owned(),
            seen: seen(Some(aud)),
        })
    }
}

#[cfg(test)]
mod tests;
