//! From credential to principal.
//!
//! Invariant: the presented token is read from the headers once, parsed
//! (shape and checksum, no storage access for malformed input), hashed with
//! the server secret and looked up by hash; the stored hash is compared
//! again in constant time. The plaintext is never logged or stored. Every
//! refusal is a `401` with one of the codes of the spec.
pub use crate::client::{client_address, client_ip, forwarded_https, ClientInfo};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use serde_json::json;
use tron_core::principal::{Actor, ActorType, Principal, PrincipalKind};
use tron_core::token::SecretToken;
use tron_core::{AuthFailure, Error};
use tron_store::audit::Target;
use tron_store::models::{RequestMeta, TokenOwner, TokenStatus};

use crate::access::OrgCtx;
use crate::cache::CachedToken;
use crate::error::ApiError;
use crate::ratelimit::RateInfo;
use crate::state::AppState;

static X_TRON_TOKEN: axum::http::HeaderName = axum::http::HeaderName::from_static("x-tron-token");

/// The raw credential from `Authorization: Bearer` (scheme
/// case-insensitive) or `x-tron-token`. `None` only when neither header
/// carries anything: a header whose bytes are not visible ASCII (non-UTF-8,
/// or a look-alike letter) is a presented but malformed token, `Some("")`,
/// so it answers `invalid_token` rather than `unauthenticated`.
/// `Authorization` with another scheme (a proxy's `Basic`) leaves
/// `x-tron-token` to be read.
pub fn presented_token(headers: &HeaderMap) -> Option<&str> {
    let tron = headers
        .get(&X_TRON_TOKEN)
        .map(|v| v.to_str().map(str::trim).unwrap_or(""));
    let Some(auth) = headers.get(axum::http::header::AUTHORIZATION) else {
        return tron;
    };
    let Ok(v) = auth.to_str() else {
        return Some("");
    };
    let v = v.trim();
    match v.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => Some(rest.trim()),
        _ => tron.or(Some("")),
    }
}

/// Resolves a presented token to its principal (through the cache), and
/// counts a service token's request against its rate limit.
pub async fn authenticate(
    state: &AppState,
    raw: Option<&str>,
    client: &ClientInfo,
) -> Result<Principal, Error> {
    authenticate_with_rate(state, raw, client).await.0
}

/// [`authenticate`], also giving a service token's rate-limit state (for
/// the `RateLimit-*` headers), whether or not the request was admitted.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn authenticate_with_rate(
    state: &AppState,
    raw: Option<&str>,
    client: &ClientInfo,
) -> (Result<Principal, Error>, Option<RateInfo>) {
    // Parsed once: the shape and checksum decide before any lookup, and the
    // kind labels the metric.
    let token = match raw {
        None => Err(AuthFailure::Missing),
        Some(r) => SecretToken::parse(r).ok_or(AuthFailure::InvalidToken),
    };
    let kind = token.as_ref().map_or("unknown", |t| t.kind().as_str());
    let resolved = match &token {
        Ok(t) => resolve(state, t, client).await,
        Err(f) => Err(Error::Unauthenticated(*f)),
    };
    let (result, rate) = match resolved {
        Ok((p, rate, entry, now)) => match rate {
            Some(RateInfo {
                retry_after: Some(retry_after_secs),
                ..
            }) => {
                state.metrics.rate_limited("service_token");
                (Err(Error::RateLimited { retry_after_secs }), rate)
            }
            _ => {
                if entry.note_use(now) {
                    state.usage.record(p.token_id, p.service_account_id(), now);
                }
                (Ok(p), rate)
            }
        },
        Err(e) => (Err(e), None),
    };
    let outcome = match &result {
        Ok(_) => "ok",
        Err(Error::Unauthenticated(f)) => f.code(),
        Err(Error::RateLimited { .. }) => "rate_limited",
        Err(_) => "error",
    };
    state.metrics.auth(kind, outcome);
    (result, rate)
}

async fn resolve(
    state: &AppState,
    token: &SecretToken,
    client: &ClientInfo,
) -> Result<(Principal, Option<RateInfo>, Arc<CachedToken>, DateTime<Utc>), Error> {
    let hash = state.config.secret.hash(token);
    let resolved = match state.cache.get_token(&hash) {
        Some(r) => r,
        None => {
            let epoch = state.cache.epoch();
            // Boxed: the storage call is the cold path, and inline its
            // future would make every request's future larger to move.
            let r = Arc::new(CachedToken::new(
                Box::pin(state.store.resolve_token(&hash))
                    .await?
                    .ok_or(Error::Unauthenticated(AuthFailure::InvalidToken))?,
            ));
            state.cache.put_token(hash, r.clone(), epoch);
            r
        }
    };
    if !hash.ct_eq(&resolved.stored_hash) || resolved.kind != token.kind() {
        return Err(Error::Unauthenticated(AuthFailure::InvalidToken));
    }
    let now = state.now();
    let failure = match resolved.status(now) {
        TokenStatus::Revoked => Some(AuthFailure::Revoked),
        TokenStatus::Expired => Some(AuthFailure::Expired),
        TokenStatus::Active => match &resolved.owner {
            TokenOwner::User {
                is_active: false, ..
            }
            | TokenOwner::ServiceAccount {
                is_active: false, ..
            } => Some(AuthFailure::PrincipalDisabled),
            _ => None,
        },
    };
    if let Some(f) = failure {
        Box::pin(record_rejection(state, &resolved, f, client)).await;
        return Err(Error::Unauthenticated(f));
    }
    let t = &*resolved;
    let (principal, rate) = match &resolved.owner {
        TokenOwner::User {
            id,
            email,
            name,
            is_superuser,
            ..
        } => (
            Principal {
                kind: PrincipalKind::User {
                    id: *id,
                    email: email.clone(),
                    is_superuser: *is_superuser,
                },
                name: name.clone(),
                token_id: t.id,
                token_kind: t.kind,
                token_expires_at: t.expires_at,
            },
            None,
        ),
        TokenOwner::ServiceAccount {
            id,
            organization_id,
            name,
            rate_limit_per_minute,
            ..
        } => (
            Principal {
                kind: PrincipalKind::ServiceAccount {
                    id: *id,
                    organization_id: *organization_id,
                },
                name: name.clone(),
                token_id: t.id,
                token_kind: t.kind,
                token_expires_at: t.expires_at,
            },
            Some(
                state
                    .limiter
                    .check(
                        state.shared.as_deref(),
                        &resolved.limiter,
                        t.id,
                        *rate_limit_per_minute,
                        now,
                    )
                    .await,
            ),
        ),
    };
    Ok((principal, rate, resolved, now))
}

/// `service_token.rejected`: at most one event per token per minute.
async fn record_rejection(
    state: &AppState,
    token: &CachedToken,
    failure: AuthFailure,
    client: &ClientInfo,
) {
    let TokenOwner::ServiceAccount {
        id,
        organization_id,
        name,
        ..
    } = &token.owner
    else {
        return;
    };
    let now = state.now();
    // A local pre-filter spares the database a write per refused request;
    // the database decides across instances.
    if state
        .rejected_logged
        .get(&token.id)
        .is_some_and(|last| now - last < chrono::Duration::minutes(1))
    {
        return;
    }
    state.rejected_logged.insert(token.id, now);
    let meta = client.meta(Actor {
        kind: ActorType::ServiceAccount,
        id: Some(id.0),
        name: Some(name.to_string()),
        token_id: Some(token.id),
    });
    let result = state
        .store
        .record_token_rejection(
            *organization_id,
            token.id,
            &meta,
            now,
            Target::new("service_token", token.id, token.name.to_string()),
            json!({"reason": failure.code(), "service_account_id": id, "hint": &*token.hint}),
        )
        .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not record a rejected service token");
    }
}

/// An authenticated caller. Resolved once per request.
#[derive(Debug, Clone)]
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(p) = parts.extensions.get::<Auth>() {
            return Ok(p.clone());
        }
        // Under an organization, its layer has authenticated the request
        // (the API's by token; the portal's by session, which is then the
        // request's authentication too).
        if let Some(ctx) = parts.extensions.get::<OrgCtx>() {
            return Ok(Auth(ctx.principal().clone()));
        }
        let client = ClientInfo::from_request_parts(parts, state).await?;
        let auth = Auth(Auth::authenticate(parts, state, &client).await?);
        parts.extensions.insert(auth.clone());
        Ok(auth)
    }
}

impl Auth {
    /// Authenticates the request's token (once per request: callers keep
    /// the result) and leaves its rate information for the headers.
    pub(crate) async fn authenticate(
        parts: &Parts,
        state: &AppState,
        client: &ClientInfo,
    ) -> Result<Principal, ApiError> {
        let (result, rate) =
            authenticate_with_rate(state, presented_token(&parts.headers), client).await;
        if let (Some(slot), Some(info)) = (parts.extensions.get::<RateSlot>(), rate) {
            slot.set(info);
        }
        Ok(result?)
    }

    pub fn meta(&self, client: &ClientInfo) -> RequestMeta {
        client.meta(self.0.actor())
    }

    /// Users only: service accounts cannot log in, own personal tokens,
    /// create organizations or manage users.
    pub fn require_user(&self) -> Result<tron_core::ids::UserId, ApiError> {
        self.0.user_id().ok_or(ApiError(Error::Forbidden))
    }

    pub fn require_superuser(&self) -> Result<(), ApiError> {
        if self.0.is_superuser() {
            Ok(())
        } else {
            Err(ApiError(Error::Forbidden))
        }
    }
}

/// A caller with its request metadata, for handlers that change things.
pub struct Caller {
    pub principal: Principal,
    pub meta: RequestMeta,
    pub client: ClientInfo,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let auth = Auth::from_request_parts(parts, state).await?;
        let client = ClientInfo::from_request_parts(parts, state).await?;
        Ok(Caller {
            meta: auth.meta(&client),
            principal: auth.0,
            client,
        })
    }
}

impl Caller {
    pub fn auth(&self) -> Auth {
        Auth(self.principal.clone())
    }
}

pub fn anonymous_meta(client: &ClientInfo) -> RequestMeta {
    client.meta(Actor::anonymous())
}

/// `PrincipalKind` for a user, with its superuser flag.
pub fn is_user(p: &Principal) -> bool {
    matches!(p.kind, PrincipalKind::User { .. })
}

/// Where the Auth extractor leaves a service token's rate information for
/// the response headers (see `lib.rs`).
#[derive(Clone, Default)]
pub struct RateSlot(pub Arc<Mutex<Option<RateInfo>>>);

impl RateSlot {
    pub fn set(&self, info: RateInfo) {
        if let Ok(mut s) = self.0.lock() {
            *s = Some(info);
        }
    }

    pub fn get(&self) -> Option<RateInfo> {
        self.0.lock().ok().and_then(|s| *s)
    }
}
