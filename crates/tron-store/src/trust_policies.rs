//! Trust policies of service accounts (SPEC §7): which ID tokens of one
//! issuer may act as the account. The rules of a policy (trusted issuer,
//! conditions, TTL bounds) are checked by `tron-oidc` before anything
//! reaches this module; here a policy is stored, listed, changed under a
//! row lock and deleted, each change with its audit event.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection};
use tron_core::ids::{OrganizationId, ServiceAccountId, TrustPolicyId};
use tron_core::{Error, Result};

use crate::audit::Target;
use crate::db::*;
use crate::models::CreatedBy;
use crate::scope::OrgStore;
use crate::tokens::row_to_created_by;

pub(crate) const POLICY_COLUMNS: &str =
    "p.id, p.service_account_id, p.name, p.issuer, p.audience, p.conditions, \
     p.token_ttl_seconds, p.created_at, p.created_by_type, p.created_by_id, p.created_by_name, \
     p.last_used_at";

/// A stored trust policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPolicyRecord {
    pub id: TrustPolicyId,
    pub service_account_id: ServiceAccountId,
    pub name: String,
    pub issuer: String,
    pub audience: String,
    /// Claim name → pattern (`*` matches any run of characters).
    pub conditions: BTreeMap<String, String>,
    pub token_ttl_seconds: i64,
    pub created_at: DateTime<Utc>,
    pub created_by: CreatedBy,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The fields of a policy an admin sets, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFields {
    pub name: String,
    pub issuer: String,
    pub audience: String,
    pub conditions: BTreeMap<String, String>,
    pub token_ttl_seconds: i64,
}

impl TrustPolicyRecord {
    pub fn fields(&self) -> PolicyFields {
        PolicyFields {
            name: self.name.clone(),
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            conditions: self.conditions.clone(),
            token_ttl_seconds: self.token_ttl_seconds,
        }
    }
}

impl PolicyFields {
    /// What an audit event records of a policy: all of it (a policy holds
    /// no secret).
    fn details(&self, sa: ServiceAccountId) -> serde_json::Value {
        json!({
            "service_account_id": sa,
            "name": self.name,
            "issuer": self.issuer,
            "audience": self.audience,
            "conditions": self.conditions,
            "token_ttl_seconds": self.token_ttl_seconds,
        })
    }

    fn conditions_json(&self) -> Result<String> {
        serde_json::to_string(&self.conditions).map_err(|e| Error::internal(e.to_string()))
    }
}

pub(crate) fn row_to_policy(row: &AnyRow) -> Result<TrustPolicyRecord> {
    let conditions = serde_json::from_str(&get_str(row, "conditions")?)
        .map_err(|_| Error::internal("a stored trust policy's conditions are not a JSON object"))?;
    Ok(TrustPolicyRecord {
        id: get_id(row, "id")?,
        service_account_id: get_id(row, "service_account_id")?,
        name: get_str(row, "name")?,
        issuer: get_str(row, "issuer")?,
        audience: get_str(row, "audience")?,
        conditions,
        token_ttl_seconds: get_i64(row, "token_ttl_seconds")?,
        created_at: get_ts(row, "created_at")?,
        created_by: row_to_created_by(row, "created_by")?,
        last_used_at: get_opt_ts(row, "last_used_at")?,
    })
}

/// `suffix` is appended to the query (`FOR UPDATE` on PostgreSQL).
async fn fetch_policy(
    conn: &mut AnyConnection,
    org: OrganizationId,
    sa: ServiceAccountId,
    id: TrustPolicyId,
    suffix: &str,
) -> Result<TrustPolicyRecord> {
    let row = sqlx::query::<Any>(&format!(
        "SELECT {POLICY_COLUMNS} FROM trust_policies p \
         WHERE p.organization_id = $1 AND p.service_account_id = $2 AND p.id = $3{suffix}"
    ))
    .bind(org.to_string())
    .bind(sa.to_string())
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or(Error::NotFound)?;
    row_to_policy(&row)
}

const NAME_TAKEN: (&str, &str) = (
    "name",
    "a trust policy of this service account with this name",
);

impl OrgStore<'_> {
    pub async fn create_trust_policy(
        &self,
        sa: ServiceAccountId,
        fields: PolicyFields,
    ) -> Result<TrustPolicyRecord> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        // The account stays until this commits (a deletion waits, then
        // takes the policy along), and must be this organization's.
        self.hold_org(&mut tx, org).await?;
        self.lock_row(
            &mut tx,
            "service_accounts",
            org,
            sa.to_string(),
            Lock::KeyShare,
        )
        .await?;
        let id = TrustPolicyId::new();
        let created_by = CreatedBy::from(&meta.actor);
        sqlx::query::<Any>(
            "INSERT INTO trust_policies (id, organization_id, service_account_id, name, issuer, audience, \
             conditions, token_ttl_seconds, created_at, created_by_type, created_by_id, created_by_name) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(sa.to_string())
        .bind(fields.name.clone())
        .bind(fields.issuer.clone())
        .bind(fields.audience.clone())
        .bind(fields.conditions_json()?)
        .bind(fields.token_ttl_seconds)
        .bind(ts(now))
        .bind(created_by.kind.as_str())
        .bind(created_by.id.map(|i| i.to_string()))
        .bind(created_by.name.clone())
        .execute(&mut *tx)
        .await
        .map_err(unique_as(NAME_TAKEN.0, NAME_TAKEN.1))?;
        tx.audit(
            Some(org),
            meta,
            now,
            "trust_policy.create",
            Target::new("trust_policy", id, fields.name.clone()),
            fields.details(sa),
        )
        .await?;
        tx.commit(&[]).await?;
        Ok(TrustPolicyRecord {
            id,
            service_account_id: sa,
            name: fields.name,
            issuer: fields.issuer,
            audience: fields.audience,
            conditions: fields.conditions,
            token_ttl_seconds: fields.token_ttl_seconds,
            created_at: now,
            created_by,
            last_used_at: None,
        })
    }

    /// A service account's policies, oldest first (ids are random, so by
    /// id for paging).
    pub async fn list_trust_policies(
        &self,
        sa: ServiceAccountId,
        page: &PageRequest,
    ) -> Result<Page<TrustPolicyRecord>> {
        let rows = sqlx::query::<Any>(&format!(
            "SELECT {POLICY_COLUMNS} FROM trust_policies p \
             WHERE p.organization_id = $1 AND p.service_account_id = $2 AND p.id > $3 \
             ORDER BY p.id LIMIT {}",
            page.limit + 1
        ))
        .bind(self.org.to_string())
        .bind(sa.to_string())
        .bind(page.after.map(|a| a.to_string()).unwrap_or_default())
        .fetch_all(&self.read)
        .await
        .map_err(db_err)?;
        let items = rows.iter().map(row_to_policy).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, page.limit, |p| p.id.to_string()))
    }

    pub async fn get_trust_policy(
        &self,
        sa: ServiceAccountId,
        id: TrustPolicyId,
    ) -> Result<TrustPolicyRecord> {
        let mut conn = self.read.acquire().await.map_err(db_err)?;
        fetch_policy(&mut conn, self.org, sa, id, "").await
    }

    /// Changes a policy: `change` gets the stored policy, read under a row
    /// lock, and answers the fields to store (a `PATCH` merged over it and
    /// validated again), so two concurrent changes cannot lose each other's
    /// fields.
    pub async fn update_trust_policy(
        &self,
        sa: ServiceAccountId,
        id: TrustPolicyId,
        change: impl FnOnce(&TrustPolicyRecord) -> Result<PolicyFields>,
    ) -> Result<TrustPolicyRecord> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        let lock = self.lock_suffix(Lock::Update);
        let old = fetch_policy(&mut tx, org, sa, id, lock).await?;
        let fields = change(&old)?;
        if fields == old.fields() {
            return Ok(old);
        }
        sqlx::query::<Any>(
            "UPDATE trust_policies SET name = $1, issuer = $2, audience = $3, conditions = $4, \
             token_ttl_seconds = $5 WHERE organization_id = $6 AND id = $7",
        )
        .bind(fields.name.clone())
        .bind(fields.issuer.clone())
        .bind(fields.audience.clone())
        .bind(fields.conditions_json()?)
        .bind(fields.token_ttl_seconds)
        .bind(org.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(unique_as(NAME_TAKEN.0, NAME_TAKEN.1))?;
        let mut details = fields.details(sa);
        details["before"] = old.fields().details(sa);
        tx.audit(
            Some(org),
            meta,
            now,
            "trust_policy.update",
            Target::new("trust_policy", id, fields.name.clone()),
            details,
        )
        .await?;
        tx.commit(&[]).await?;
        Ok(TrustPolicyRecord {
            name: fields.name,
            issuer: fields.issuer,
            audience: fields.audience,
            conditions: fields.conditions,
            token_ttl_seconds: fields.token_ttl_seconds,
            ..old
        })
    }

    /// Deletes a policy; the tokens it minted live out their short
    /// lifetime (revoke them one by one, or disable the account, to end
    /// them sooner).
    pub async fn delete_trust_policy(&self, sa: ServiceAccountId, id: TrustPolicyId) -> Result<()> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        let lock = self.lock_suffix(Lock::Update);
        let old = fetch_policy(&mut tx, org, sa, id, lock).await?;
        sqlx::query::<Any>("DELETE FROM trust_policies WHERE organization_id = $1 AND id = $2")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.audit(
            Some(org),
            meta,
            now,
            "trust_policy.delete",
            Target::new("trust_policy", id, old.name.clone()),
            old.fields().details(sa),
        )
        .await?;
        tx.commit(&[]).await?;
        Ok(())
    }
}
