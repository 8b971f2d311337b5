//! Service tokens of a service account: minting, listing, revoking and
//! rotating (one successor per rotation; see `rotate_service_token`). Only
//! the keyed hash and the hint are stored (see `tokens`).
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::{Any, AnyConnection};
use tron_core::ids::*;
use tron_core::{Error, Result};
use tron_webhooks::data::{RevocationReason, TokenRevoked};

use crate::audit::Target;
use crate::db::*;
use crate::invalidate::Invalidation;
use crate::models::*;
use crate::scope::OrgStore;
use crate::service_accounts::fetch_sa;
use crate::tokens::{insert_token, revoke_where, row_to_token, NewToken, TOKEN_COLUMNS};
use crate::webhooks::produce::{actor_ref, event, sa_ref, token_ref};

async fn fetch_token(
    conn: &mut AnyConnection,
    org: OrganizationId,
    sa: ServiceAccountId,
    id: TokenId,
) -> Result<TokenRecord> {
    fetch_token_sql(conn, org, sa, id, "").await
}

/// `suffix` is appended to the query (`FOR UPDATE` on PostgreSQL).
async fn fetch_token_sql(
    conn: &mut AnyConnection,
    org: OrganizationId,
    sa: ServiceAccountId,
    id: TokenId,
    suffix: &str,
) -> Result<TokenRecord> {
    let row = sqlx::query::<Any>(&format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens t WHERE t.organization_id = $1 AND t.service_account_id = $2 AND t.id = $3{suffix}"
    ))
    .bind(org.to_string())
    .bind(sa.to_string())
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or(Error::NotFound)?;
    row_to_token(&row)
}

impl OrgStore<'_> {
    /// Active service tokens that expire before `until`, soonest first,
    /// with their account's name (the portal's "expiring soon" list).
    pub async fn expiring_service_tokens(
        &self,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(TokenRecord, String)>> {
        let rows = sqlx::query::<Any>(&format!(
            "SELECT {TOKEN_COLUMNS}, sa.name AS sa_name FROM tokens t \
             JOIN service_accounts sa ON sa.id = t.service_account_id \
             WHERE t.organization_id = $1 AND t.kind = 'service' AND t.expires_at > $2 \
             AND t.expires_at <= $3 AND (t.revoked_at IS NULL OR t.revoked_at > $2) \
             ORDER BY t.expires_at LIMIT {limit}"
        ))
        .bind(self.org.to_string())
        .bind(ts(self.now))
        .bind(ts(until))
        .fetch_all(&self.read)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| Ok((row_to_token(r)?, get_str(r, "sa_name")?)))
            .collect()
    }

    pub async fn create_service_token(
        &self,
        sa: ServiceAccountId,
        token: NewToken,
    ) -> Result<TokenRecord> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        // The account stays until this commits: a concurrent deletion either
        // came first (`404`) or waits, then takes this token along.
        self.hold_org(&mut tx, org).await?;
        self.lock_row(
            &mut tx,
            "service_accounts",
            org,
            sa.to_string(),
            Lock::KeyShare,
        )
        .await?;
        let account = fetch_sa(&mut tx, now, org, sa).await?;
        let rec = insert_token(&mut tx, meta, now, &token).await?;
        tx.audit(
            Some(org),
            meta,
            now,
            "service_token.create",
            Target::new("service_token", rec.id, rec.name.clone()),
            json!({"service_account_id": sa, "service_account": account.name, "hint": rec.hint, "expires_at": rec.expires_at}),
        )
        .await?;
        tx.commit(&[]).await?;
        Ok(rec)
    }

    pub async fn list_service_tokens(
        &self,
        sa: ServiceAccountId,
        page: &PageRequest,
    ) -> Result<Page<TokenRecord>> {
        let org = self.org;
        let rows = sqlx::query::<Any>(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens t WHERE t.organization_id = $1 AND t.service_account_id = $2 \
             AND t.id > $3 ORDER BY t.id LIMIT {}",
            page.limit + 1
        ))
        .bind(org.to_string())
        .bind(sa.to_string())
        .bind(page.after.map(|a| a.to_string()).unwrap_or_default())
        .fetch_all(&self.read)
        .await
        .map_err(db_err)?;
        let items = rows.iter().map(row_to_token).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, page.limit, |t| t.id.to_string()))
    }

    pub async fn get_service_token(
        &self,
        sa: ServiceAccountId,
        id: TokenId,
    ) -> Result<TokenRecord> {
        let org = self.org;
        let mut conn = self.read.acquire().await.map_err(db_err)?;
        fetch_token(&mut conn, org, sa, id).await
    }

    /// Idempotent; returns whether the token was active until now.
    pub async fn revoke_service_token(&self, sa: ServiceAccountId, id: TokenId) -> Result<bool> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        let token = fetch_token(&mut tx, org, sa, id).await?;
        let changed = revoke_where(&mut tx, now, "id = $2", id.to_string()).await? > 0;
        if changed {
            tx.audit(
                Some(org),
                meta,
                now,
                "service_token.revoke",
                Target::new("service_token", id, token.name.clone()),
                json!({"service_account_id": sa, "hint": token.hint}),
            )
            .await?;
            let revoked = TokenRevoked {
                service_account: sa_ref(&mut tx, sa).await?,
                token: token_ref(&token),
                reason: RevocationReason::Manual,
                revoked_by: actor_ref(meta),
            };
            tx.emit(&event(org, now, &revoked)?, None).await?;
        }
        tx.commit(&[Invalidation::Token(id)]).await?;
        Ok(changed)
    }

    /// Mints the one successor of an active token and schedules the old
    /// one's revocation at `now + grace`. `make` builds the new token from
    /// the old one and `now`. A token that already has a successor (it is
    /// living out its grace period) answers `409`: one rotation yields
    /// exactly one live successor, so a leaked token cannot multiply
    /// itself. The successor is recorded on the old token (`replaced_by`).
    ///
    /// `now` is read from `clock` once the old token's row is locked (the
    /// transaction itself is the lock on SQLite, whose writes go through
    /// one connection): a time read before waiting for a concurrent
    /// rotation could precede that rotation's revocation of the token, and
    /// so see a token revoked by a zero-grace rotation as still active.
    #[allow(clippy::too_many_arguments)]
    pub async fn rotate_service_token(
        &self,
        sa: ServiceAccountId,
        old_id: TokenId,
        grace: Duration,
        make: impl FnOnce(&TokenRecord, DateTime<Utc>) -> Result<NewToken>,
    ) -> Result<(TokenRecord, TokenRecord)> {
        let (meta, clock, org) = (self.meta(), self.clock, self.org);
        let mut tx = self.begin().await?;
        // Locks in the order the deletions cascade: organization, account,
        // token.
        self.hold_org(&mut tx, org).await?;
        self.lock_row(
            &mut tx,
            "service_accounts",
            org,
            sa.to_string(),
            Lock::KeyShare,
        )
        .await?;
        let lock = self.lock_suffix(Lock::Update);
        let old = fetch_token_sql(&mut tx, org, sa, old_id, lock).await?;
        let now = clock.now();
        if old.source == TokenSource::Oidc {
            return Err(Error::Conflict {
                message: "a token from a keyless CI exchange cannot be rotated: exchange a new ID token instead".into(),
                field: None,
            });
        }
        if old.status(now) != TokenStatus::Active {
            return Err(Error::Conflict {
                message: "only an active token can be rotated".into(),
                field: None,
            });
        }
        // Only a rotation sets a revocation in the future: this token was
        // rotated and its successor exists.
        if old.revoked_at.is_some() {
            return Err(already_rotated());
        }
        let revoke_at = tron_core::values::add_clamped(now, grace);
        let new = make(&old, now)?;
        // Conditional as well as locked: the token is changed only while it
        // has no successor and no revocation.
        let claimed = sqlx::query::<Any>(
            "UPDATE tokens SET revoked_at = $1, grace_ends_at = $1, replaced_by = $2 \
             WHERE id = $3 AND revoked_at IS NULL AND replaced_by IS NULL",
        )
        .bind(ts(revoke_at))
        .bind(new.id.to_string())
        .bind(old_id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if claimed == 0 {
            return Err(already_rotated());
        }
        let rec = insert_token(&mut tx, meta, now, &new).await?;
        tx.audit(
            Some(org),
            meta,
            now,
            "service_token.rotate",
            Target::new("service_token", old_id, old.name.clone()),
            json!({
                "service_account_id": sa,
                "old_token_id": old_id,
                "new_token_id": rec.id,
                "hint": rec.hint,
                "grace_period_seconds": grace.num_seconds(),
                "old_token_revoked_at": revoke_at,
                "expires_at": rec.expires_at,
            }),
        )
        .await?;
        tx.commit(&[Invalidation::Token(old_id)]).await?;
        let mut old = old;
        old.revoked_at = Some(revoke_at);
        Ok((old, rec))
    }
}

fn already_rotated() -> Error {
    Error::Conflict {
        message: "this token was already rotated: rotate its replacement instead".into(),
        field: None,
    }
}
