//! Tokens of every kind. Only the keyed hash and the hint are stored; the
//! plaintext never reaches this module.
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection};
use tron_core::clock::Clock;
use tron_core::ids::{OrganizationId, ServiceAccountId, TokenId, TrustPolicyId, UserId};
use tron_core::principal::ActorType;
use tron_core::token::{TokenHash, TokenKind};
use tron_core::{Error, Result};

use crate::audit::Target;
use crate::db::*;
use crate::invalidate::Invalidation;
use crate::models::*;
use crate::webhooks::produce::{event, sa_ref, token_ref};
use crate::{Backend, Store};
use tron_webhooks::data::{RevocationReason, TokenRevoked};

pub(crate) const TOKEN_COLUMNS: &str =
    "t.id, t.kind, t.name, t.hint, t.user_id, t.service_account_id, \
     t.organization_id, t.created_at, t.created_by_type, t.created_by_id, t.created_by_name, \
     t.expires_at, t.revoked_at, t.last_used_at, t.source, t.trust_policy_id, t.replaced_by";

pub(crate) fn row_to_created_by(row: &AnyRow, prefix: &str) -> Result<CreatedBy> {
    let kind = get_str(row, &format!("{prefix}_type"))?;
    Ok(CreatedBy {
        kind: ActorType::parse(&kind).unwrap_or(ActorType::System),
        id: get_opt_id(row, &format!("{prefix}_id"))?,
        name: get_opt_str(row, &format!("{prefix}_name"))?,
    })
}

pub(crate) fn row_to_token(row: &AnyRow) -> Result<TokenRecord> {
    let kind = get_str(row, "kind")?;
    Ok(TokenRecord {
        id: get_id(row, "id")?,
        kind: TokenKind::parse(&kind)
            .ok_or_else(|| Error::internal(format!("unknown token kind {kind}")))?,
        name: get_str(row, "name")?,
        hint: get_str(row, "hint")?,
        user_id: get_opt_id(row, "user_id")?,
        service_account_id: get_opt_id(row, "service_account_id")?,
        organization_id: get_opt_id(row, "organization_id")?,
        created_at: get_ts(row, "created_at")?,
        created_by: row_to_created_by(row, "created_by")?,
        expires_at: get_opt_ts(row, "expires_at")?,
        revoked_at: get_opt_ts(row, "revoked_at")?,
        last_used_at: get_opt_ts(row, "last_used_at")?,
        source: TokenSource::parse(&get_str(row, "source")?)
            .ok_or_else(|| Error::internal("unknown token source"))?,
        trust_policy_id: get_opt_id(row, "trust_policy_id")?,
        replaced_by: get_opt_id(row, "replaced_by")?,
    })
}

/// A token about to be stored.
pub struct NewToken {
    pub id: TokenId,
    pub kind: TokenKind,
    pub hash: TokenHash,
    pub hint: String,
    pub name: String,
    pub owner: NewTokenOwner,
    pub expires_at: Option<DateTime<Utc>>,
    /// The trust policy of the exchange that mints it; `None` for a token
    /// made by hand.
    pub trust_policy: Option<TrustPolicyId>,
}

#[derive(Clone, Copy)]
pub enum NewTokenOwner {
    User(UserId),
    ServiceAccount(ServiceAccountId, OrganizationId),
}

pub(crate) async fn insert_token(
    conn: &mut AnyConnection,
    meta: &RequestMeta,
    now: DateTime<Utc>,
    t: &NewToken,
) -> Result<TokenRecord> {
    let (user_id, sa_id, org_id) = match t.owner {
        NewTokenOwner::User(u) => (Some(u), None, None),
        NewTokenOwner::ServiceAccount(s, o) => (None, Some(s), Some(o)),
    };
    let created_by = CreatedBy::from(&meta.actor);
    let source = match t.trust_policy {
        Some(_) => TokenSource::Oidc,
        None => TokenSource::Manual,
    };
    sqlx::query::<Any>(
        "INSERT INTO tokens (id, kind, token_hash, hint, name, user_id, service_account_id, organization_id, \
         created_at, created_by_type, created_by_id, created_by_name, expires_at, source, trust_policy_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(t.id.to_string())
    .bind(t.kind.as_str())
    .bind(t.hash.to_hex())
    .bind(t.hint.clone())
    .bind(t.name.clone())
    .bind(user_id.map(|u| u.to_string()))
    .bind(sa_id.map(|s| s.to_string()))
    .bind(org_id.map(|o| o.to_string()))
    .bind(ts(now))
    .bind(created_by.kind.as_str())
    .bind(created_by.id.map(|i| i.to_string()))
    .bind(created_by.name.clone())
    .bind(opt_ts(t.expires_at))
    .bind(source.as_str())
    .bind(t.trust_policy.map(|p| p.to_string()))
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(TokenRecord {
        id: t.id,
        kind: t.kind,
        name: t.name.clone(),
        hint: t.hint.clone(),
        user_id,
        service_account_id: sa_id,
        organization_id: org_id,
        created_at: now,
        created_by,
        expires_at: t.expires_at,
        revoked_at: None,
        last_used_at: None,
        source,
        trust_policy_id: t.trust_policy,
        replaced_by: None,
    })
}

/// The tokens an explicit revocation still changes: never revoked, or in
/// the grace period a rotation scheduled (`revoked_at` is still the
/// rotation's `grace_ends_at`, in the future). Decided by the row's state,
/// not by comparing clocks: once one revocation committed, a concurrent
/// copy whose `now` was read a little earlier changes nothing (comparing
/// `revoked_at > now` alone made it revoke again, with a second event).
const STILL_REVOCABLE: &str =
    "(revoked_at IS NULL OR (revoked_at = grace_ends_at AND revoked_at > $1))";

/// Revokes every still-active token matching `where_sql` (which binds
/// $2..); returns how many it revoked.
pub(crate) async fn revoke_where(
    conn: &mut AnyConnection,
    now: DateTime<Utc>,
    where_sql: &str,
    arg: String,
) -> Result<u64> {
    let r = sqlx::query::<Any>(&format!(
        "UPDATE tokens SET revoked_at = $1 WHERE {where_sql} AND {STILL_REVOCABLE}"
    ))
    .bind(ts(now))
    .bind(arg)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(r.rows_affected())
}

impl Store {
    /// Finds a token by its keyed hash, with its owner's state.
    pub async fn resolve_token(&self, hash: &TokenHash) -> Result<Option<ResolvedToken>> {
        let row = sqlx::query::<Any>(&format!(
            "SELECT {TOKEN_COLUMNS}, t.token_hash, u.email AS u_email, u.name AS u_name, \
             u.is_superuser AS u_superuser, u.is_active AS u_active, sa.name AS sa_name, \
             sa.status AS sa_status, sa.organization_id AS sa_org, \
             o.service_token_rate_limit_per_minute AS sa_rate \
             FROM tokens t LEFT JOIN users u ON u.id = t.user_id \
             LEFT JOIN service_accounts sa ON sa.id = t.service_account_id \
             LEFT JOIN organizations o ON o.id = sa.organization_id \
             WHERE t.token_hash = $1"
        ))
        .bind(hash.to_hex())
        .fetch_optional(&self.read)
        .await
        .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let token = row_to_token(&row)?;
        let owner = if let Some(id) = token.user_id {
            TokenOwner::User {
                id,
                email: get_str(&row, "u_email")?.into(),
                name: get_str(&row, "u_name")?.into(),
                is_superuser: get_bool(&row, "u_superuser")?,
                is_active: get_bool(&row, "u_active")?,
            }
        } else if let Some(id) = token.service_account_id {
            TokenOwner::ServiceAccount {
                id,
                organization_id: get_id(&row, "sa_org")?,
                name: get_str(&row, "sa_name")?.into(),
                is_active: get_str(&row, "sa_status")? == "active",
                rate_limit_per_minute: get_i64(&row, "sa_rate")?.clamp(1, i64::from(u32::MAX))
                    as u32,
            }
        } else {
            return Ok(None);
        };
        Ok(Some(ResolvedToken {
            stored_hash: TokenHash::from_hex(&get_str(&row, "token_hash")?)
                .ok_or_else(|| Error::internal("a stored token hash is not 64 hex digits"))?,
            token,
            owner,
        }))
    }

    /// Login: the session token and its `auth.login` event, provided the
    /// user's password is still the one checked (`password_hash`): a login
    /// that checked the old password while it was being changed opens no
    /// session the change did not end (`InvalidCredentials`). The user's
    /// row is locked on PostgreSQL, so a password change waits or is waited
    /// for.
    pub async fn create_session(
        &self,
        meta: &RequestMeta,
        now: DateTime<Utc>,
        user: &User,
        password_hash: &str,
        token: NewToken,
    ) -> Result<TokenRecord> {
        let mut tx = self.begin().await?;
        let lock = match self.backend() {
            Backend::Postgres => " FOR SHARE",
            Backend::Sqlite => "",
        };
        sqlx::query::<Any>(&format!(
            "SELECT id FROM users WHERE id = $1 AND password_hash = $2{lock}"
        ))
        .bind(user.id.to_string())
        .bind(password_hash.to_owned())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .ok_or(Error::InvalidCredentials)?;
        let rec = insert_token(&mut tx, meta, now, &token).await?;
        tx.audit(
            None,
            meta,
            now,
            "auth.login",
            Target::new("user", user.id, user.email.clone()),
            json!({"session_id": rec.id, "expires_at": rec.expires_at}),
        )
        .await?;
        tx.commit(&[]).await?;
        Ok(rec)
    }

    pub async fn logout(
        &self,
        meta: &RequestMeta,
        now: DateTime<Utc>,
        user: &User,
        token_id: TokenId,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        // A concurrent logout of the same session came first: nothing to
        // record.
        if revoke_where(&mut tx, now, "id = $2", token_id.to_string()).await? > 0 {
            tx.audit(
                None,
                meta,
                now,
                "auth.logout",
                Target::new("user", user.id, user.email.clone()),
                json!({"session_id": token_id}),
            )
            .await?;
        }
        tx.commit(&[Invalidation::Token(token_id)]).await?;
        Ok(())
    }

    pub async fn create_personal_token(
        &self,
        meta: &RequestMeta,
        now: DateTime<Utc>,
        user: &User,
        token: NewToken,
    ) -> Result<TokenRecord> {
        let mut tx = self.begin().await?;
        let rec = insert_token(&mut tx, meta, now, &token).await?;
        tx.audit(
            None,
            meta,
            now,
            "personal_token.create",
            Target::new("personal_token", rec.id, rec.name.clone()),
            json!({"user_id": user.id, "hint": rec.hint, "expires_at": rec.expires_at}),
        )
        .await?;
        tx.commit(&[]).await?;
        Ok(rec)
    }

    pub async fn list_personal_tokens(
        &self,
        user_id: UserId,
        page: &PageRequest,
    ) -> Result<Page<TokenRecord>> {
        let rows = sqlx::query::<Any>(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens t WHERE t.user_id = $1 AND t.kind = 'personal' \
             AND t.id > $2 ORDER BY t.id LIMIT {}",
            page.limit + 1
        ))
        .bind(user_id.to_string())
        .bind(page.after.map(|a| a.to_string()).unwrap_or_default())
        .fetch_all(&self.read)
        .await
        .map_err(db_err)?;
        let items = rows.iter().map(row_to_token).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, page.limit, |t| t.id.to_string()))
    }

    /// Revokes one of the user's personal tokens. Idempotent: revoking a
    /// revoked token changes nothing and records nothing.
    pub async fn revoke_personal_token(
        &self,
        meta: &RequestMeta,
        now: DateTime<Utc>,
        user_id: UserId,
        token_id: TokenId,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let row = sqlx::query::<Any>(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens t WHERE t.id = $1 AND t.user_id = $2 AND t.kind = 'personal'"
        ))
        .bind(token_id.to_string())
        .bind(user_id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .ok_or(Error::NotFound)?;
        let token = row_to_token(&row)?;
        if revoke_where(&mut tx, now, "id = $2", token_id.to_string()).await? > 0 {
            tx.audit(
                None,
                meta,
                now,
                "personal_token.revoke",
                Target::new("personal_token", token.id, token.name.clone()),
                json!({"user_id": user_id, "hint": token.hint}),
            )
            .await?;
        }
        tx.commit(&[Invalidation::Token(token_id)]).await?;
        Ok(())
    }

    /// Writes buffered `last_used_at` values; never moves one backwards.
    pub async fn record_token_usage(
        &self,
        tokens: &[(TokenId, DateTime<Utc>)],
        service_accounts: &[(ServiceAccountId, DateTime<Utc>)],
    ) -> Result<()> {
        if tokens.is_empty() && service_accounts.is_empty() {
            return Ok(());
        }
        // One statement at a time, outside any transaction: each update only
        // moves a value forward, so none depends on another, and holding no
        // row lock while taking the next means this can never deadlock with
        // a change that locks the same rows in another order (deleting an
        // organization cascades from service accounts to tokens; this
        // touches tokens first).
        for (id, at) in tokens {
            sqlx::query::<Any>(
                "UPDATE tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
            )
            .bind(ts(*at))
            .bind(id.to_string())
            .execute(&self.write)
            .await
            .map_err(db_err)?;
        }
        for (id, at) in service_accounts {
            sqlx::query::<Any>(
                "UPDATE service_accounts SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
            )
            .bind(ts(*at))
            .bind(id.to_string())
            .execute(&self.write)
            .await
            .map_err(db_err)?;
        }
        Ok(())
    }

    /// `POST /tokens/revoke-leaked`: revokes every listed token that is still
    /// active, whatever its kind, each with its event; returns what was
    /// revoked. Anyone may call it, so it is cheap: the tokens are looked up
    /// on the read side in a few batched queries, and only the live ones
    /// are written, in one short transaction. The time of revocation is
    /// read from `clock` once the rows are locked (on SQLite, once the only
    /// writer is held): a concurrent call that revoked a token first then
    /// revoked it earlier than this call's time, so this call neither
    /// counts nor audits it again (a token revoked at a time still to come
    /// is in a rotation's grace period, and still active).
    pub async fn revoke_leaked(
        &self,
        meta: &RequestMeta,
        clock: &dyn Clock,
        hashes: &[TokenHash],
    ) -> Result<Vec<TokenRecord>> {
        const BATCH: usize = 250;
        let seen = clock.now();
        let mut live = Vec::new();
        for chunk in hashes.chunks(BATCH) {
            let sql = format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens t WHERE t.token_hash IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query::<Any>(&sql);
            for h in chunk {
                q = q.bind(h.to_hex());
            }
            for row in q.fetch_all(&self.read).await.map_err(db_err)? {
                let token = row_to_token(&row)?;
                if token.status(seen) == TokenStatus::Active {
                    live.push(token);
                }
            }
        }
        if live.is_empty() {
            return Ok(live);
        }
        live.sort_by_key(|t| t.id);
        let mut tx = self.begin().await?;
        if self.backend() == Backend::Postgres {
            for chunk in live.chunks(BATCH) {
                let sql = format!(
                    "SELECT id FROM tokens WHERE id IN ({}) ORDER BY id FOR UPDATE",
                    placeholders(1, chunk.len())
                );
                let mut q = sqlx::query::<Any>(&sql);
                for t in chunk {
                    q = q.bind(t.id.to_string());
                }
                q.fetch_all(&mut *tx).await.map_err(db_err)?;
            }
        }
        let now = clock.now();
        let mut revoked_ids = std::collections::HashSet::new();
        for chunk in live.chunks(BATCH) {
            let sql = format!(
                "UPDATE tokens SET revoked_at = $1 WHERE id IN ({}) \
                 AND (revoked_at IS NULL OR revoked_at > $1) \
                 AND (expires_at IS NULL OR expires_at > $1) RETURNING id",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query::<Any>(&sql).bind(ts(now));
            for t in chunk {
                q = q.bind(t.id.to_string());
            }
            for row in q.fetch_all(&mut *tx).await.map_err(db_err)? {
                revoked_ids.insert(get_id::<TokenId>(&row, "id")?);
            }
        }
        let mut revoked = Vec::new();
        for token in live {
            if !revoked_ids.contains(&token.id) {
                continue;
            }
            let (org, action, kind) = match token.kind {
                TokenKind::Service => (
                    token.organization_id,
                    "service_token.revoke_leaked",
                    "service_token",
                ),
                TokenKind::Personal => (None, "personal_token.revoke_leaked", "personal_token"),
                TokenKind::Session => (None, "session.revoke_leaked", "session"),
            };
            tx.audit(
                org,
                meta,
                now,
                action,
                Target::new(kind, token.id, token.name.clone()),
                json!({"hint": token.hint, "service_account_id": token.service_account_id, "user_id": token.user_id}),
            )
            .await?;
            if let (Some(org), Some(sa)) = (org, token.service_account_id) {
                let revoked = TokenRevoked {
                    service_account: sa_ref(&mut tx, sa).await?,
                    token: token_ref(&token),
                    reason: RevocationReason::LeakReport,
                    revoked_by: None,
                };
                tx.emit(&event(org, now, &revoked)?, None).await?;
            }
            revoked.push(token);
        }
        let inv: Vec<Invalidation> = revoked.iter().map(|t| Invalidation::Token(t.id)).collect();
        tx.commit(&inv).await?;
        Ok(revoked)
    }
}
