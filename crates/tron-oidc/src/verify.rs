//! ID token verification: a token is accepted only when every rule of
//! SPEC §7 holds, and each refusal is a [`Rejection`] whose description
//! never contains the token.
//!
//! Order matters: the header and the issuer are read first (an untrusted
//! issuer is refused before any key is looked up), then the signature is
//! checked, and only a correctly signed token's claims are judged.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::{Map, Value};

use crate::issuers::Issuer;
use crate::jwks::{KeyMaterial, PublicKey};
use crate::keys::{FetchError, KeyCache, KeyError};

/// Leeway for `exp`, `nbf` and `iat`.
pub const LEEWAY_SECONDS: i64 = 30;
/// The longest `exp − iat` accepted.
pub const MAX_LIFETIME_SECONDS: i64 = 24 * 3600;
/// Longer tokens are refused unread (CI ID tokens are about 1–2 KiB).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Rs256,
    Es256,
}

/// Why a token was refused. [`Rejection::description`] is what the
/// exchange puts in `error_description`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the subject token is not a well-formed JWT")]
    Malformed,
    #[error("the subject token is too large")]
    TooLarge,
    #[error("the token's algorithm is not allowed (RS256 or ES256 only)")]
    UnsupportedAlgorithm,
    #[error("the token's header has no kid")]
    MissingKid,
    #[error("the token has no {0} claim")]
    MissingClaim(&'static str),
    #[error("the token's {0} claim is not valid")]
    InvalidClaim(&'static str),
    #[error("the token's issuer is not trusted")]
    UntrustedIssuer,
    #[error("the token's kid names no key of its issuer")]
    UnknownKey,
    #[error("the token's key does not fit the token's algorithm")]
    KeyMismatch,
    #[error("bad signature")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is issued in the future")]
    IssuedInFuture,
    #[error("the token's lifetime is longer than 24 hours")]
    LifetimeTooLong,
    /// The issuer's keys could not be had: `503 temporarily_unavailable`.
    /// The reason is for the server's log.
    #[error("the issuer's keys cannot be fetched right now")]
    KeysUnavailable(FetchError),
}

impl Rejection {
    pub fn description(&self) -> String {
        self.to_string()
    }

    /// `true` when the server should answer `503`, not `400`.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Rejection::KeysUnavailable(_))
    }
}

/// A token that passed every check; `aud` is left to the trust policy.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    pub issuer: Issuer,
    pub kid: String,
    pub algorithm: Algorithm,
    pub jti: String,
    pub sub: Option<String>,
    pub aud: Value,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub claims: Map<String, Value>,
}

/// A token split and decoded, nothing checked yet.
pub struct Unverified<'a> {
    pub algorithm: Algorithm,
    pub kid: String,
    pub claims: Map<String, Value>,
    signing_input: &'a str,
    signature: Vec<u8>,
}

fn decode_json(part: &str) -> Result<Map<String, Value>, Rejection> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| Rejection::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Rejection::Malformed),
    }
}

/// Splits a compact JWS and reads its header; refuses any algorithm but
/// RS256 and ES256 and a header with `crit` (no extension is understood).
pub fn parse(token: &str) -> Result<Unverified<'_>, Rejection> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Rejection::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Rejection::Malformed);
    };
    let header = decode_json(h)?;
    let algorithm = match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => Algorithm::Rs256,
        Some("ES256") => Algorithm::Es256,
        Some(_) => return Err(Rejection::UnsupportedAlgorithm),
        None => return Err(Rejection::Malformed),
    };
    if header.contains_key("crit") {
        return Err(Rejection::Malformed);
    }
    let kid = match header.get("kid") {
        Some(Value::String(k)) if !k.is_empty() => k.clone(),
        _ => return Err(Rejection::MissingKid),
    };
    let claims = decode_json(p)?;
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| Rejection::Malformed)?;
    Ok(Unverified {
        algorithm,
        kid,
        claims,
        signing_input: &token[..h.len() + 1 + p.len()],
        signature,
    })
}

/// Checks the signature with `key`, refusing a key whose type or own
/// `alg` disagrees with the header's algorithm.
pub fn check_signature(token: &Unverified<'_>, key: &PublicKey) -> Result<(), Rejection> {
    let message = token.signing_input.as_bytes();
    let ok = match (token.algorithm, &key.material, key.alg.as_deref()) {
        (Algorithm::Rs256, KeyMaterial::Rsa { n, e }, None | Some("RS256")) => {
            RsaPublicKeyComponents { n, e }
                .verify(
                    &signature::RSA_PKCS1_2048_8192_SHA256,
                    message,
                    &token.signature,
                )
                .is_ok()
        }
        (Algorithm::Es256, KeyMaterial::P256 { point }, None | Some("ES256")) => {
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(message, &token.signature)
                .is_ok()
        }
        _ => return Err(Rejection::KeyMismatch),
    };
    if ok {
        Ok(())
    } else {
        Err(Rejection::BadSignature)
    }
}

fn seconds(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, Rejection> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && f.abs() < 1e15)
                    .map(|f| f as i64)
            })
            .map(Some)
            .ok_or(Rejection::InvalidClaim(name)),
        Some(_) => Err(Rejection::InvalidClaim(name)),
    }
}

fn time(s: i64, name: &'static str) -> Result<DateTime<Utc>, Rejection> {
    DateTime::from_timestamp(s, 0).ok_or(Rejection::InvalidClaim(name))
}

/// The claim rules, on a token whose signature has been checked: `exp`
/// ahead of `now`, `nbf` and `iat` not (30 s of leeway each),
/// `exp − iat` ≤ 24 h, a `jti` and an `aud`.
pub fn check_claims(
    issuer: &Issuer,
    token: Unverified<'_>,
    now: DateTime<Utc>,
) -> Result<VerifiedToken, Rejection> {
    let claims = token.claims;
    let now = now.timestamp();
    let exp = seconds(&claims, "exp")?.ok_or(Rejection::MissingClaim("exp"))?;
    let iat = seconds(&claims, "iat")?.ok_or(Rejection::MissingClaim("iat"))?;
    let nbf = seconds(&claims, "nbf")?;
    if now >= exp.saturating_add(LEEWAY_SECONDS) {
        return Err(Rejection::Expired);
    }
    if nbf.is_some_and(|nbf| nbf > now.saturating_add(LEEWAY_SECONDS)) {
        return Err(Rejection::NotYetValid);
    }
    if iat > now.saturating_add(LEEWAY_SECONDS) {
        return Err(Rejection::IssuedInFuture);
    }
    if exp.saturating_sub(iat) > MAX_LIFETIME_SECONDS {
        return Err(Rejection::LifetimeTooLong);
    }
    let jti = match claims.get("jti") {
        Some(Value::String(j)) if !j.is_empty() => j.clone(),
        Some(_) => return Err(Rejection::InvalidClaim("jti")),
        None => return Err(Rejection::MissingClaim("jti")),
    };
    let aud = claims
        .get("aud")
        .cloned()
        .ok_or(Rejection::MissingClaim("aud"))?;
    let sub = match claims.get("sub") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(Rejection::InvalidClaim("sub")),
    };
    Ok(VerifiedToken {
        issuer: issuer.clone(),
        kid: token.kid,
        algorithm: token.algorithm,
        jti,
        sub,
        aud,
        issued_at: time(iat, "iat")?,
        expires_at: time(exp, "exp")?,
        claims,
    })
}

/// Verifies ID tokens against the trusted issuers' keys.
pub struct Verifier {
    keys: Arc<KeyCache>,
}

impl Verifier {
    pub fn new(keys: Arc<KeyCache>) -> Verifier {
        Verifier { keys }
    }

    pub fn keys(&self) -> &Arc<KeyCache> {
        &self.keys
    }

    /// Every rule of SPEC §7 but the single use of `jti` (the server's
    /// database) and the trust policy ([`crate::policy`]).
    pub async fn verify(&self, id_token: &str) -> Result<VerifiedToken, Rejection> {
        let token = parse(id_token)?;
        let iss = match token.claims.get("iss") {
            Some(Value::String(iss)) => iss.clone(),
            Some(_) => return Err(Rejection::InvalidClaim("iss")),
            None => return Err(Rejection::MissingClaim("iss")),
        };
        let issuer = self
            .keys
            .issuers()
            .get(&iss)
            .ok_or(Rejection::UntrustedIssuer)?
            .clone();
        let key = self
            .keys
            .key(issuer.as_str(), &token.kid)
            .await
            .map_err(|e| match e {
                KeyError::UntrustedIssuer => Rejection::UntrustedIssuer,
                KeyError::UnknownKid => Rejection::UnknownKey,
                KeyError::Unavailable(e) => Rejection::KeysUnavailable(e),
            })?;
        check_signature(&token, &key)?;
        check_claims(&issuer, token, self.keys.clock().now())
    }
}
