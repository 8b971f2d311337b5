//! Service accounts (their tokens: `service_tokens`). A service account is a member of its
//! organization; deleting it deletes its tokens (so they answer
//! `invalid_token`), its member row and its group memberships.
use chrono::{DateTime, Utc};
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
use crate::tokens::row_to_created_by;
use crate::webhooks::produce::{actor_ref, event};
use tron_webhooks::data::{AccountDeleted, AccountDisabled, ServiceAccountRef};

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

pub(crate) async fn fetch_sa(
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
}
