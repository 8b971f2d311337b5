//! Service accounts and their tokens. A service account is a member of its
//! organization; deleting it deletes its tokens (so they answer
//! `invalid_token`), its member row and its group memberships.
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection};
use tron_core::ids::*;
use tron_core::{Error, Result};

use crate::audit::Target;
use crate::db::*;
use crate::invalidate::Invalidation;
use crate::members::groups_of_members;
use crate::models::*;
use crate::scope::OrgStore;
use crate::tokens::{
    insert_token, revoke_where, row_to_created_by, row_to_token, NewToken, TOKEN_COLUMNS,
};
use crate::webhooks::produce::{actor_ref, event, sa_ref, token_ref};
use tron_webhooks::data::{
    AccountDeleted, AccountDisabled, RevocationReason, ServiceAccountRef, TokenRevoked,
};

const SA_SELECT: &str = "SELECT sa.id, sa.organization_id, sa.name, sa.description, sa.status, sa.created_at, \
     sa.created_by_type, sa.created_by_id, sa.created_by_name, sa.last_used_at, m.id AS member_id, \
     (SELECT COUNT(*) FROM tokens t WHERE t.service_account_id = sa.id AND (t.revoked_at IS NULL OR t.revoked_at > $1) \
       AND (t.expires_at IS NULL OR t.expires_at > $1)) AS active_tokens \
     FROM service_accounts sa JOIN members m ON m.service_account_id = sa.id";

fn row_to_sa(row: &AnyRow) -> Result<ServiceAccount> {
    let status = get_str(row, "status")?;
    Ok(ServiceAccount {
        id: get_id(row, "id")?,
        organization_id: get_id(row, "organization_id")?,
        member_id: get_id(row, "member_id")?,
        name: get_str(row, "name")?,
        description: get_str(row, "description")?,
        status: ServiceAccountStatus::parse(&status).unwrap_or(ServiceAccountStatus::Disabled),
        groups: Vec::new(),
        created_at: get_ts(row, "created_at")?,
        created_by: row_to_created_by(row, "created_by")?,
        last_used_at: get_opt_ts(row, "last_used_at")?,
        active_token_count: get_i64(row, "active_tokens")?,
    })
}

async fn fetch_sa(
    conn: &mut AnyConnection,
    now: DateTime<Utc>,
    org: OrganizationId,
    id: ServiceAccountId,
) -> Result<ServiceAccount> {
    let row = sqlx::query::<Any>(&format!(
        "{SA_SELECT} WHERE sa.organization_id = $2 AND sa.id = $3"
    ))
    .bind(ts(now))
    .bind(org.to_string())
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or(Error::NotFound)?;
    let mut sa = row_to_sa(&row)?;
    sa.groups = groups_of_members(conn, org, &[sa.member_id])
        .await?
        .remove(&sa.member_id)
        .unwrap_or_default();
    Ok(sa)
}

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

/// A change to a service account; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct ServiceAccountPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: Option<ServiceAccountStatus>,
}

impl OrgStore<'_> {
    pub async fn create_service_account(
        &self,
        name: String,
        description: String,
    ) -> Result<ServiceAccount> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let id = ServiceAccountId::new();
        let member_id = MemberId::new();
        let created_by = CreatedBy::from(&meta.actor);
        let mut tx = self.begin().await?;
        sqlx::query::<Any>(
            "INSERT INTO service_accounts (id, organization_id, name, description, status, created_at, \
             created_by_type, created_by_id, created_by_name) VALUES ($1, $2, $3, $4, 'active', $5, $6, $7, $8)",
        )
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(name.clone())
        .bind(description.clone())
        .bind(ts(now))
        .bind(created_by.kind.as_str())
        .bind(created_by.id.map(|i| i.to_string()))
        .bind(created_by.name.clone())
        .execute(&mut *tx)
        .await
        .map_err(unique_as("name", "a service account with this name"))?;
        sqlx::query::<Any>(
            "INSERT INTO members (id, organization_id, user_id, service_account_id, created_at) VALUES ($1, $2, NULL, $3, $4)",
        )
        .bind(member_id.to_string())
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.audit(
            Some(org),
            meta,
            now,
            "service_account.create",
            Target::new("service_account", id, name.clone()),
            json!({"name": name, "description": description, "member_id": member_id}),
        )
        .await?;
        let sa = fetch_sa(&mut tx, now, org, id).await?;
        tx.commit(&[]).await?;
        Ok(sa)
    }

    pub async fn list_service_accounts(&self, page: &PageRequest) -> Result<Page<ServiceAccount>> {
        let (now, org) = (self.now, self.org);
        let mut conn = self.read.acquire().await.map_err(db_err)?;
        let rows = sqlx::query::<Any>(&format!(
            "{SA_SELECT} WHERE sa.organization_id = $2 AND sa.id > $3 ORDER BY sa.id LIMIT {}",
            page.limit + 1
        ))
        .bind(ts(now))
        .bind(org.to_string())
        .bind(page.after.map(|a| a.to_string()).unwrap_or_default())
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        let mut items = rows.iter().map(row_to_sa).collect::<Result<Vec<_>>>()?;
        let ids: Vec<MemberId> = items.iter().map(|s| s.member_id).collect();
        let mut groups = groups_of_members(&mut conn, org, &ids).await?;
        for sa in &mut items {
            sa.groups = groups.remove(&sa.member_id).unwrap_or_default();
        }
        Ok(Page::from_rows(items, page.limit, |s| s.id.to_string()))
    }

    pub async fn get_service_account(&self, id: ServiceAccountId) -> Result<ServiceAccount> {
        let (now, org) = (self.now, self.org);
        let mut conn = self.read.acquire().await.map_err(db_err)?;
        fetch_sa(&mut conn, now, org, id).await
    }

    pub async fn update_service_account(
        &self,
        id: ServiceAccountId,
        patch: ServiceAccountPatch,
    ) -> Result<ServiceAccount> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        // Locked before it is read: of concurrent copies of one change (ten
        // disables), the first changes it and the others find nothing to do.
        self.lock_row(
            &mut tx,
            "service_accounts",
            org,
            id.to_string(),
            Lock::Update,
        )
        .await?;
        let current = fetch_sa(&mut tx, now, org, id).await?;
        let name = patch.name.clone().unwrap_or(current.name.clone());
        let description = patch
            .description
            .clone()
            .unwrap_or(current.description.clone());
        let status = patch.status.unwrap_or(current.status);
        // Nothing changes: nothing to write, no event (as for the other
        // idempotent operations).
        if name == current.name && description == current.description && status == current.status {
            tx.commit(&[]).await?;
            return Ok(current);
        }
        sqlx::query::<Any>(
            "UPDATE service_accounts SET name = $1, description = $2, status = $3 WHERE organization_id = $4 AND id = $5",
        )
        .bind(name.clone())
        .bind(description.clone())
        .bind(status.as_str())
        .bind(org.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(unique_as("name", "a service account with this name"))?;
        let action = match (current.status, status) {
            (ServiceAccountStatus::Active, ServiceAccountStatus::Disabled) => {
                "service_account.disable"
            }
            (ServiceAccountStatus::Disabled, ServiceAccountStatus::Active) => {
                "service_account.enable"
            }
            _ => "service_account.update",
        };
        // What changed.
        let mut details = serde_json::Map::new();
        if name != current.name {
            details.insert("name".into(), json!(name));
        }
        if description != current.description {
            details.insert("description".into(), json!(description));
        }
        if status != current.status {
            details.insert("status".into(), json!(status));
        }
        tx.audit(
            Some(org),
            meta,
            now,
            action,
            Target::new("service_account", id, name.clone()),
            serde_json::Value::Object(details),
        )
        .await?;
        if action == "service_account.disable" {
            let disabled = AccountDisabled {
                service_account: ServiceAccountRef {
                    id: id.0,
                    name: name.clone(),
                },
                disabled_by: actor_ref(meta),
            };
            tx.emit(&event(org, now, &disabled)?, None).await?;
        }
        let sa = fetch_sa(&mut tx, now, org, id).await?;
        tx.commit(&[Invalidation::ServiceAccount(id)]).await?;
        Ok(sa)
    }

    /// Deletes the service account: its tokens, member row and group
    /// memberships go with it. Returns the ids of the tokens it had.
    pub async fn delete_service_account(
        &self,
        id: ServiceAccountId,
    ) -> Result<(ServiceAccount, Vec<TokenId>)> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        // Locked first: a concurrent deletion that came first leaves
        // nothing (`404`), and a token being minted for it (which holds the
        // row) commits before this lists the tokens it takes along.
        self.lock_row(
            &mut tx,
            "service_accounts",
            org,
            id.to_string(),
            Lock::Update,
        )
        .await?;
        let sa = fetch_sa(&mut tx, now, org, id).await?;
        let rows = sqlx::query::<Any>("SELECT id FROM tokens WHERE service_account_id = $1")
            .bind(id.to_string())
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        let tokens = rows
            .iter()
            .map(|r| get_id(r, "id"))
            .collect::<Result<Vec<TokenId>>>()?;
        let deleted = sqlx::query::<Any>(
            "DELETE FROM service_accounts WHERE organization_id = $1 AND id = $2",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if deleted == 0 {
            return Err(Error::NotFound);
        }
        tx.audit(
            Some(org),
            meta,
            now,
            "service_account.delete",
            Target::new("service_account", id, sa.name.clone()),
            json!({"name": sa.name, "tokens_revoked": sa.active_token_count, "member_id": sa.member_id}),
        )
        .await?;
        let deleted = AccountDeleted {
            service_account: ServiceAccountRef {
                id: id.0,
                name: sa.name.clone(),
            },
            deleted_by: actor_ref(meta),
        };
        tx.emit(&event(org, now, &deleted)?, None).await?;
        tx.commit(&[
            Invalidation::ServiceAccount(id),
            Invalidation::Organization(org),
        ])
        .await?;
        Ok((sa, tokens))
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
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
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
