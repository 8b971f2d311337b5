//! Groups: a role at a scope, and their members. Changes that could leave
//! an organization without an active admin user are refused (`last_admin`).
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection};
use tron_core::authz::{Role, Scope};
use tron_core::ids::*;
use tron_core::{Error, Result};

use crate::audit::Target;
use crate::db::*;
use crate::invalidate::Invalidation;
use crate::members::{count_active_admins, ensure_admin_kept, grants_of_groups};
use crate::models::*;
use crate::scope::OrgStore;

const GROUP_SELECT: &str = "SELECT g.id, g.name, g.description, g.role, g.scope_type, g.created_at, \
     (SELECT COUNT(*) FROM group_members gm WHERE gm.group_id = g.id) AS member_count FROM org_groups g";

async fn rows_to_groups(conn: &mut AnyConnection, rows: Vec<AnyRow>) -> Result<Vec<Group>> {
    let mut meta = Vec::with_capacity(rows.len());
    for r in &rows {
        meta.push((
            get_str(r, "description")?,
            get_i64(r, "member_count")?,
            get_ts(r, "created_at")?,
        ));
    }
    let grants = grants_of_groups(conn, rows).await?;
    Ok(grants
        .into_iter()
        .zip(meta)
        .map(|(g, (description, member_count, created_at))| Group {
            id: g.group_id,
            name: g.group_name,
            description,
            role: g.role,
            scope: g.scope,
            member_count,
            created_at,
        })
        .collect())
}

/// What a create or update asks for, validated for shape by the caller.
#[derive(Debug, Clone, Default)]
pub struct GroupPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub role: Option<Role>,
    pub scope: Option<Scope>,
}

/// A group to create, validated for shape by the caller.
#[derive(Debug, Clone)]
pub struct NewGroup {
    pub name: String,
    pub description: String,
    pub role: Role,
    pub scope: Scope,
}

/// Checks a scope's ids: non-empty, and all of this organization.
async fn check_scope(conn: &mut AnyConnection, org: OrganizationId, scope: &Scope) -> Result<()> {
    let (table, field, ids): (&str, &str, Vec<String>) = match scope {
        Scope::Organization => return Ok(()),
        Scope::Environment { environment_ids } => (
            "environments",
            "scope.environment_ids",
            environment_ids.iter().map(|i| i.to_string()).collect(),
        ),
        Scope::Application { application_ids } => (
            "applications",
            "scope.application_ids",
            application_ids.iter().map(|i| i.to_string()).collect(),
        ),
    };
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    if unique.is_empty() {
        return Err(Error::validation(
            field,
            format!("{field} must not be empty"),
        ));
    }
    if unique.len() > 1000 {
        return Err(Error::validation(
            field,
            format!("{field} may list at most 1000 ids"),
        ));
    }
    let sql = format!(
        "SELECT COUNT(*) AS n FROM {table} WHERE organization_id = $1 AND id IN ({})",
        placeholders(2, unique.len())
    );
    let mut q = sqlx::query::<Any>(&sql).bind(org.to_string());
    for id in &unique {
        q = q.bind(id.clone());
    }
    let n = get_i64(&q.fetch_one(&mut *conn).await.map_err(db_err)?, "n")?;
    if n != unique.len() as i64 {
        return Err(Error::validation(
            field,
            format!("{field} lists ids that are not of this organization"),
        ));
    }
    Ok(())
}

async fn write_scope(conn: &mut AnyConnection, group: GroupId, scope: &Scope) -> Result<()> {
    sqlx::query::<Any>("DELETE FROM group_scope_items WHERE group_id = $1")
        .bind(group.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    let mut ids: Vec<String> = match scope {
        Scope::Organization => Vec::new(),
        Scope::Environment { environment_ids } => {
            environment_ids.iter().map(|i| i.to_string()).collect()
        }
        Scope::Application { application_ids } => {
            application_ids.iter().map(|i| i.to_string()).collect()
        }
    };
    ids.sort();
    ids.dedup();
    for id in ids {
        sqlx::query::<Any>("INSERT INTO group_scope_items (group_id, resource_id) VALUES ($1, $2)")
            .bind(group.to_string())
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

async fn fetch_group(conn: &mut AnyConnection, org: OrganizationId, id: GroupId) -> Result<Group> {
    let rows = sqlx::query::<Any>(&format!(
        "{GROUP_SELECT} WHERE g.organization_id = $1 AND g.id = $2"
    ))
    .bind(org.to_string())
    .bind(id.to_string())
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    rows_to_groups(conn, rows)
        .await?
        .pop()
        .ok_or(Error::NotFound)
}

async fn fetch_member(
    conn: &mut AnyConnection,
    org: OrganizationId,
    id: MemberId,
) -> Result<(String, MemberId)> {
    let row = sqlx::query::<Any>(
        "SELECT m.id, COALESCE(u.email, sa.name) AS label FROM members m LEFT JOIN users u ON u.id = m.user_id \
         LEFT JOIN service_accounts sa ON sa.id = m.service_account_id WHERE m.organization_id = $1 AND m.id = $2",
    )
    .bind(org.to_string())
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or(Error::NotFound)?;
    Ok((get_str(&row, "label")?, id))
}

impl OrgStore<'_> {
    pub async fn list_groups(&self, page: &PageRequest) -> Result<Page<Group>> {
        let org = self.org;
        let mut conn = self.read.acquire().await.map_err(db_err)?;
        let rows = sqlx::query::<Any>(&format!(
            "{GROUP_SELECT} WHERE g.organization_id = $1 AND g.id > $2 ORDER BY g.id LIMIT {}",
            page.limit + 1
        ))
        .bind(org.to_string())
        .bind(page.after.map(|a| a.to_string()).unwrap_or_default())
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        let items = rows_to_groups(&mut conn, rows).await?;
        Ok(Page::from_rows(items, page.limit, |g| g.id.to_string()))
    }

    pub async fn get_group(&self, id: GroupId) -> Result<Group> {
        let org = self.org;
        let mut conn = self.read.acquire().await.map_err(db_err)?;
        fetch_group(&mut conn, org, id).await
    }

    pub async fn create_group(&self, new: NewGroup) -> Result<Group> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let NewGroup {
            name,
            description,
            role,
            scope,
        } = new;
        let id = GroupId::new();
        let mut tx = self.begin().await?;
        // The scope's ids must still exist when this commits: deleting an
        // environment or an application locks the organization as well.
        self.lock_org(&mut tx, org).await?;
        check_scope(&mut tx, org, &scope).await?;
        sqlx::query::<Any>(
            "INSERT INTO org_groups (id, organization_id, name, description, role, scope_type, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(name.clone())
        .bind(description)
        .bind(role.as_str())
        .bind(scope.kind_str())
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(unique_as("name", "a group with this name"))?;
        write_scope(&mut tx, id, &scope).await?;
        let group = fetch_group(&mut tx, org, id).await?;
        tx.audit(
            Some(org),
            meta,
            now,
            "group.create",
            Target::new("group", id, name),
            json!({"role": group.role, "scope": group.scope}),
        )
        .await?;
        tx.commit(&[]).await?;
        Ok(group)
    }

    pub async fn update_group(&self, id: GroupId, patch: GroupPatch) -> Result<Group> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        self.lock_org(&mut tx, org).await?;
        let current = fetch_group(&mut tx, org, id).await?;
        let before = count_active_admins(&mut tx, org).await?;
        let name = patch.name.clone().unwrap_or(current.name.clone());
        let description = patch
            .description
            .clone()
            .unwrap_or(current.description.clone());
        let role = patch.role.unwrap_or(current.role);
        let scope = patch.scope.clone().unwrap_or(current.scope.clone());
        if patch.scope.is_some() {
            check_scope(&mut tx, org, &scope).await?;
        }
        sqlx::query::<Any>(
            "UPDATE org_groups SET name = $1, description = $2, role = $3, scope_type = $4 WHERE organization_id = $5 AND id = $6",
        )
        .bind(name.clone())
        .bind(description)
        .bind(role.as_str())
        .bind(scope.kind_str())
        .bind(org.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(unique_as("name", "a group with this name"))?;
        if patch.scope.is_some() {
            write_scope(&mut tx, id, &scope).await?;
        }
        ensure_admin_kept(&mut tx, org, before).await?;
        let group = fetch_group(&mut tx, org, id).await?;
        let mut details = serde_json::Map::new();
        if let Some(n) = &patch.name {
            details.insert("name".into(), json!(n));
        }
        if patch.description.is_some() {
            details.insert("description_changed".into(), json!(true));
        }
        if let Some(r) = patch.role {
            details.insert("role".into(), json!(r));
        }
        if let Some(s) = &patch.scope {
            details.insert("scope".into(), json!(s));
        }
        tx.audit(
            Some(org),
            meta,
            now,
            "group.update",
            Target::new("group", id, name),
            serde_json::Value::Object(details),
        )
        .await?;
        tx.commit(&[Invalidation::Organization(org)]).await?;
        Ok(group)
    }

    /// Returns the deleted group and the ids of its members, whose access
    /// changed.
    pub async fn delete_group(&self, id: GroupId) -> Result<Group> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        self.lock_org(&mut tx, org).await?;
        let group = fetch_group(&mut tx, org, id).await?;
        let before = count_active_admins(&mut tx, org).await?;
        let deleted =
            sqlx::query::<Any>("DELETE FROM org_groups WHERE organization_id = $1 AND id = $2")
                .bind(org.to_string())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
        if deleted == 0 {
            return Err(Error::NotFound);
        }
        ensure_admin_kept(&mut tx, org, before).await?;
        tx.audit(
            Some(org),
            meta,
            now,
            "group.delete",
            Target::new("group", id, group.name.clone()),
            json!({"role": group.role, "scope": group.scope, "member_count": group.member_count}),
        )
        .await?;
        tx.commit(&[Invalidation::Organization(org)]).await?;
        Ok(group)
    }

    /// Idempotent: returns whether anything changed.
    pub async fn add_group_member(&self, group: GroupId, member: MemberId) -> Result<bool> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        // A group or member deleted meanwhile fails the insert's foreign
        // key: `404`.
        self.hold_org(&mut tx, org).await?;
        let g = fetch_group(&mut tx, org, group).await?;
        let (label, _) = fetch_member(&mut tx, org, member).await?;
        let r = sqlx::query::<Any>(
            "INSERT INTO group_members (group_id, member_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(group.to_string())
        .bind(member.to_string())
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let changed = r.rows_affected() > 0;
        if changed {
            tx.audit(
                Some(org),
                meta,
                now,
                "group.member_add",
                Target::new("group", group, g.name.clone()),
                json!({"member_id": member, "member": label}),
            )
            .await?;
        }
        tx.commit(&[Invalidation::Organization(org)]).await?;
        Ok(changed)
    }

    /// Idempotent: returns whether anything changed.
    pub async fn remove_group_member(&self, group: GroupId, member: MemberId) -> Result<bool> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        self.lock_org(&mut tx, org).await?;
        let g = fetch_group(&mut tx, org, group).await?;
        let (label, _) = fetch_member(&mut tx, org, member).await?;
        let before = count_active_admins(&mut tx, org).await?;
        let r =
            sqlx::query::<Any>("DELETE FROM group_members WHERE group_id = $1 AND member_id = $2")
                .bind(group.to_string())
                .bind(member.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        let changed = r.rows_affected() > 0;
        if changed {
            ensure_admin_kept(&mut tx, org, before).await?;
            tx.audit(
                Some(org),
                meta,
                now,
                "group.member_remove",
                Target::new("group", group, g.name.clone()),
                json!({"member_id": member, "member": label}),
            )
            .await?;
        }
        tx.commit(&[Invalidation::Organization(org)]).await?;
        Ok(changed)
    }
}
