//! Service tokens: issue, list, revoke, rotate (by an admin or by the
//! token itself). A new token's secret is returned for the adapter to show
//! once; only its keyed hash is stored.
use chrono::{DateTime, Duration, Utc};
use tron_core::authz::{Action, Resource};
use tron_core::ids::{ServiceAccountId, TokenId};
use tron_core::token::{SecretToken, TokenKind};
use tron_core::values::DisplayName;
use tron_core::{Error, Result};
use tron_store::models::{TokenRecord, TokenView};
use tron_store::tokens::{NewToken, NewTokenOwner};
use tron_store::{Page, PageRequest};

use crate::access::OrganizationAccessContext as Ctx;
use crate::state::AppState;

/// The longest grace period of a rotation: one day.
pub const MAX_GRACE_SECONDS: i64 = 86_400;

/// A secret and the row to store for it: the hash under the server's key,
/// the hint, never the plaintext.
pub fn mint(
    state: &AppState,
    kind: TokenKind,
    name: String,
    owner: NewTokenOwner,
    expires_at: Option<DateTime<Utc>>,
) -> (SecretToken, NewToken) {
    let secret = SecretToken::generate(kind);
    let new = NewToken {
        id: TokenId::new(),
        kind,
        hash: state.config.secret.hash(&secret),
        hint: secret.hint(),
        name,
        owner,
        expires_at,
        trust_policy: None,
    };
    (secret, new)
}

/// A service account's tokens, oldest first.
pub async fn list(
    ctx: &Ctx,
    sa: ServiceAccountId,
    page: &PageRequest,
) -> Result<Page<TokenRecord>> {
    ctx.require(Action::View, &Resource::ServiceTokens)?;
    let store = ctx.store();
    store.get_service_account(sa).await?;
    store.list_service_tokens(sa, page).await
}

pub async fn get(ctx: &Ctx, sa: ServiceAccountId, token: TokenId) -> Result<TokenRecord> {
    ctx.require(Action::View, &Resource::ServiceTokens)?;
    ctx.store().get_service_token(sa, token).await
}

/// The organization's active service tokens expiring within `within`,
/// soonest first (at most `limit`), with their account's name.
pub async fn expiring(
    ctx: &Ctx,
    within: Duration,
    limit: u32,
) -> Result<Vec<(TokenRecord, String)>> {
    ctx.require(Action::View, &Resource::ServiceTokens)?;
    let store = ctx.store();
    store
        .expiring_service_tokens(store.now() + within, limit)
        .await
}

/// Mints a service token under the organization's lifetime policy.
pub async fn issue(
    ctx: &Ctx,
    sa: ServiceAccountId,
    name: DisplayName,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(TokenView, SecretToken)> {
    ctx.require(Action::Create, &Resource::ServiceTokens)?;
    let store = ctx.store();
    ctx.organization()
        .settings
        .check_service_token_expiry(store.now(), expires_at)?;
    let (secret, new) = mint(
        ctx.state(),
        TokenKind::Service,
        name.into(),
        NewTokenOwner::ServiceAccount(sa, store.id()),
        expires_at,
    );
    let rec = store.create_service_token(sa, new).await?;
    // The new token's own creation time is the clock read under the lock.
    Ok((rec.view(rec.created_at), secret))
}

/// Revokes a token (idempotent).
pub async fn revoke(ctx: &Ctx, sa: ServiceAccountId, token: TokenId) -> Result<()> {
    ctx.require(Action::Delete, &Resource::ServiceTokens)?;
    ctx.store().revoke_service_token(sa, token).await?;
    Ok(())
}

/// What a rotation asks for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rotation {
    /// How long the old token stays active; 0 to [`MAX_GRACE_SECONDS`].
    pub grace_seconds: i64,
    /// The new token's expiry; by default the old token's lifetime from
    /// now, under the organization's policy.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Rotation {
    /// Checks the grace period, naming the field it came from.
    pub fn new(
        field: &str,
        grace_seconds: Option<i64>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Self> {
        let grace_seconds = grace_seconds.unwrap_or(0);
        if !(0..=MAX_GRACE_SECONDS).contains(&grace_seconds) {
            return Err(Error::validation(
                field,
                format!("{field} must be from 0 to {MAX_GRACE_SECONDS}"),
            ));
        }
        Ok(Rotation {
            grace_seconds,
            expires_at,
        })
    }
}

/// An admin rotates a service account's token.
pub async fn rotate(
    ctx: &Ctx,
    sa: ServiceAccountId,
    token: TokenId,
    rotation: Rotation,
) -> Result<(TokenView, SecretToken)> {
    ctx.require(Action::Update, &Resource::ServiceTokens)?;
    rotate_unchecked(ctx, sa, token, rotation).await
}

/// A service token rotates itself: the context is the account's own
/// organization and the token is the one that authenticated, so no
/// permission is asked (a token may always replace itself).
pub async fn rotate_self(ctx: &Ctx, grace_seconds: i64) -> Result<(TokenView, SecretToken)> {
    let principal = ctx.principal();
    let sa = principal.service_account_id().ok_or(Error::Forbidden)?;
    rotate_unchecked(
        ctx,
        sa,
        principal.token_id,
        Rotation {
            grace_seconds,
            expires_at: None,
        },
    )
    .await
}

async fn rotate_unchecked(
    ctx: &Ctx,
    sa: ServiceAccountId,
    token: TokenId,
    rotation: Rotation,
) -> Result<(TokenView, SecretToken)> {
    let store = ctx.store();
    let settings = ctx.organization().settings;
    if rotation.expires_at.is_some() {
        settings.check_service_token_expiry(store.now(), rotation.expires_at)?;
    }
    let mut secret = None;
    let (_, rec) = store
        .rotate_service_token(
            sa,
            token,
            Duration::seconds(rotation.grace_seconds),
            |old: &TokenRecord, now| {
                let expires_at = rotation
                    .expires_at
                    .or_else(|| settings.rotated_expiry(now, old.created_at, old.expires_at));
                let (s, new) = mint(
                    ctx.state(),
                    TokenKind::Service,
                    old.name.clone(),
                    NewTokenOwner::ServiceAccount(sa, store.id()),
                    expires_at,
                );
                secret = Some(s);
                Ok(new)
            },
        )
        .await?;
    let secret = secret.ok_or_else(|| Error::internal("rotation minted no token"))?;
    // The new token's own creation time is the clock read under the lock.
    Ok((rec.view(rec.created_at), secret))
}
