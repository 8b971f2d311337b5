//! Organizations. Creating one makes the creator a member of an
//! `Administrators` group (admin, organization scope).
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection};
use tron_core::ids::{GroupId, MemberId, OrganizationId, UserId};
use tron_core::settings::OrganizationSettings;
use tron_core::{Error, Result};

use crate::audit::Target;
use crate::db::*;
use crate::invalidate::Invalidation;
use crate::models::{Organization, RequestMeta};
use crate::scope::OrgStore;
use crate::{Backend, Store};

pub const ADMIN_GROUP_NAME: &str = "Administrators";

fn row_to_org(row: &AnyRow) -> Result<Organization> {
    Ok(Organization {
        id: get_id(row, "id")?,
        name: get_str(row, "name")?,
        settings: OrganizationSettings {
            max_token_lifetime_days: get_opt_i64(row, "max_token_lifetime_days")?
                .map(|d| d.clamp(0, i64::from(u32::MAX)) as u32),
            service_token_rate_limit_per_minute: get_i64(
                row,
                "service_token_rate_limit_per_minute",
            )?
            .clamp(1, i64::from(u32::MAX)) as u32,
        },
        created_at: get_ts(row, "created_at")?,
    })
}

const ORG_COLUMNS: &str =
    "o.id, o.name, o.max_token_lifetime_days, o.service_token_rate_limit_per_minute, o.created_at";

impl Store {
    /// Serializes changes guarded by organization-wide invariants (the
    /// last-admin rule) on PostgreSQL; SQLite has a single writer already.
    /// `NO KEY UPDATE`: these changes serialize with one another and with
    /// the organization's deletion, but not with changes that only add a
    /// row under the organization (see [`Store::hold_org`]).
    pub(crate) async fn lock_org(
        &self,
        conn: &mut AnyConnection,
        org: OrganizationId,
    ) -> Result<()> {
        if self.backend() == Backend::Postgres {
            sqlx::query::<Any>("SELECT id FROM organizations WHERE id = $1 FOR NO KEY UPDATE")
                .bind(org.to_string())
                .execute(conn)
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }

    /// Keeps the organization from being deleted until the transaction
    /// ends (`FOR KEY SHARE` on PostgreSQL). Taken first by a change that
    /// adds a row with two parents under the organization (a token under a
    /// service account, an instance, a deployment, a group membership): the
    /// organization's deletion locks the organization, then cascades to
    /// each parent, so a change that held a parent and then waited for the
    /// organization (its other foreign key) would deadlock with it.
    pub(crate) async fn hold_org(
        &self,
        conn: &mut AnyConnection,
        org: OrganizationId,
    ) -> Result<()> {
        if self.backend() == Backend::Postgres {
            sqlx::query::<Any>("SELECT id FROM organizations WHERE id = $1 FOR KEY SHARE")
                .bind(org.to_string())
                .fetch_optional(conn)
                .await
                .map_err(db_err)?
                .ok_or(Error::NotFound)?;
        }
        Ok(())
    }

    pub async fn create_organization(
        &self,
        meta: &RequestMeta,
        now: DateTime<Utc>,
        name: String,
        creator: UserId,
    ) -> Result<Organization> {
        let org = Organization {
            id: OrganizationId::new(),
            name,
            settings: OrganizationSettings::default(),
            created_at: now,
        };
        let member_id = MemberId::new();
        let group_id = GroupId::new();
        let mut tx = self.begin().await?;
        sqlx::query::<Any>(
            "INSERT INTO organizations (id, name, max_token_lifetime_days, service_token_rate_limit_per_minute, created_at) \
             VALUES ($1, $2, NULL, $3, $4)",
        )
        .bind(org.id.to_string())
        .bind(org.name.clone())
        .bind(i64::from(org.settings.service_token_rate_limit_per_minute))
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query::<Any>(
            "INSERT INTO members (id, organization_id, user_id, service_account_id, created_at) VALUES ($1, $2, $3, NULL, $4)",
        )
        .bind(member_id.to_string())
        .bind(org.id.to_string())
        .bind(creator.to_string())
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query::<Any>(
            "INSERT INTO org_groups (id, organization_id, name, description, role, scope_type, created_at) \
             VALUES ($1, $2, $3, $4, 'admin', 'organization', $5)",
        )
        .bind(group_id.to_string())
        .bind(org.id.to_string())
        .bind(ADMIN_GROUP_NAME)
        .bind("Created with the organization: full control.")
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query::<Any>(
            "INSERT INTO group_members (group_id, member_id, created_at) VALUES ($1, $2, $3)",
        )
        .bind(group_id.to_string())
        .bind(member_id.to_string())
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.audit(
            Some(org.id),
            meta,
            now,
            "organization.create",
            Target::new("organization", org.id, org.name.clone()),
            json!({"name": org.name, "admin_group_id": group_id, "creator_member_id": member_id}),
        )
        .await?;
        tx.commit(&[]).await?;
        Ok(org)
    }

    pub async fn get_organization(&self, id: OrganizationId) -> Result<Organization> {
        let row = sqlx::query::<Any>(&format!(
            "SELECT {ORG_COLUMNS} FROM organizations o WHERE o.id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await
        .map_err(db_err)?
        .ok_or(Error::NotFound)?;
        row_to_org(&row)
    }

    /// Organizations the user is a member of, or every one (`all`).
    pub async fn list_organizations(
        &self,
        member: Option<UserId>,
        page: &PageRequest,
    ) -> Result<Page<Organization>> {
        let after = page.after.map(|a| a.to_string()).unwrap_or_default();
        let rows = match member {
            Some(user) => {
                let sql = format!(
                    "SELECT {ORG_COLUMNS} FROM organizations o JOIN members m ON m.organization_id = o.id \
                     WHERE m.user_id = $1 AND o.id > $2 ORDER BY o.id LIMIT {}",
                    page.limit + 1
                );
                sqlx::query::<Any>(&sql)
                    .bind(user.to_string())
                    .bind(after)
                    .fetch_all(&self.read)
                    .await
            }
            None => {
                let sql = format!(
                    "SELECT {ORG_COLUMNS} FROM organizations o WHERE o.id > $1 ORDER BY o.id LIMIT {}",
                    page.limit + 1
                );
                sqlx::query::<Any>(&sql).bind(after).fetch_all(&self.read).await
            }
        }
        .map_err(db_err)?;
        let items = rows.iter().map(row_to_org).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, page.limit, |o| o.id.to_string()))
    }
}

impl OrgStore<'_> {
    pub async fn update_organization(
        &self,
        name: Option<String>,
        settings_patch: Option<&tron_core::settings::SettingsPatch>,
    ) -> Result<Organization> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        self.lock_org(&mut tx, org).await?;
        let row = sqlx::query::<Any>(&format!(
            "SELECT {ORG_COLUMNS} FROM organizations o WHERE o.id = $1"
        ))
        .bind(org.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .ok_or(Error::NotFound)?;
        let mut current = row_to_org(&row)?;
        let mut details = serde_json::Map::new();
        if let Some(n) = name {
            details.insert("name".into(), json!(n));
            current.name = n;
        }
        if let Some(p) = settings_patch {
            current.settings = current.settings.merge(p)?;
            details.insert("settings".into(), json!(current.settings));
        }
        sqlx::query::<Any>(
            "UPDATE organizations SET name = $1, max_token_lifetime_days = $2, service_token_rate_limit_per_minute = $3 WHERE id = $4",
        )
        .bind(current.name.clone())
        .bind(current.settings.max_token_lifetime_days.map(i64::from))
        .bind(i64::from(current.settings.service_token_rate_limit_per_minute))
        .bind(org.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.audit(
            Some(org),
            meta,
            now,
            "organization.update",
            Target::new("organization", org, current.name.clone()),
            serde_json::Value::Object(details),
        )
        .await?;
        tx.commit(&[Invalidation::Organization(org)]).await?;
        Ok(current)
    }

    /// Deletes the organization and everything it owns. Its own audit
    /// events are kept (no foreign key) for forensics; the deletion itself
    /// goes to the platform log, the one place a superuser can still read.
    pub async fn delete_organization(&self) -> Result<Organization> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        let row = sqlx::query::<Any>(&format!(
            "SELECT {ORG_COLUMNS} FROM organizations o WHERE o.id = $1"
        ))
        .bind(org.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .ok_or(Error::NotFound)?;
        let current = row_to_org(&row)?;
        // Tokens of its service accounts are deleted with them (cascade).
        // Nothing deleted: a concurrent deletion came first, and recorded it.
        let deleted = sqlx::query::<Any>("DELETE FROM organizations WHERE id = $1")
            .bind(org.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        if deleted == 0 {
            return Err(Error::NotFound);
        }
        tx.audit(
            None,
            meta,
            now,
            "organization.delete",
            Target::new("organization", org, current.name.clone()),
            json!({"name": current.name}),
        )
        .await?;
        tx.commit(&[Invalidation::Organization(org)]).await?;
        Ok(current)
    }
}
