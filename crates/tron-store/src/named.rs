//! Environments and applications: the organization's named resources, the
//! ids a group's scope lists. One implementation serves both; they differ
//! only in their table and in the application's repository.
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection};
use tron_core::authz::Visible;
use tron_core::ids::*;
use tron_core::{Error, Result};

use crate::audit::Target;
use crate::db::*;
use crate::invalidate::Invalidation;
use crate::models::*;
use crate::platform::visibility_clause;
use crate::scope::OrgStore;

/// Which named resource.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kind {
    table: &'static str,
    /// The audit target type and the action prefix.
    name: &'static str,
    /// Completes "… already exists" in a conflict.
    taken: &'static str,
    has_repository: bool,
}

pub(crate) const ENVIRONMENTS: Kind = Kind {
    table: "environments",
    name: "environment",
    taken: "an environment with this name",
    has_repository: false,
};

pub(crate) const APPLICATIONS: Kind = Kind {
    table: "applications",
    name: "application",
    taken: "an application with this name",
    has_repository: true,
};

/// An update's outcome: the row as read under the change, and the name and
/// repository it has now.
struct Updated {
    before: AnyRow,
    name: String,
    repository: Option<String>,
}

pub(crate) fn row_to_env(row: &AnyRow) -> Result<Environment> {
    Ok(Environment {
        id: get_id(row, "id")?,
        name: get_str(row, "name")?,
        created_at: get_ts(row, "created_at")?,
    })
}

pub(crate) fn row_to_app(row: &AnyRow) -> Result<Application> {
    Ok(Application {
        id: get_id(row, "id")?,
        name: get_str(row, "name")?,
        repository: get_opt_str(row, "repository")?,
        created_at: get_ts(row, "created_at")?,
    })
}

pub(crate) async fn get_row(
    conn: &mut AnyConnection,
    table: &str,
    org: OrganizationId,
    id: String,
) -> Result<AnyRow> {
    sqlx::query::<Any>(&format!(
        "SELECT * FROM {table} WHERE organization_id = $1 AND id = $2"
    ))
    .bind(org.to_string())
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or(Error::NotFound)
}

impl OrgStore<'_> {
    pub async fn list_environments(
        &self,
        visible: &Visible<EnvironmentId>,
        page: &PageRequest,
    ) -> Result<Page<Environment>> {
        let rows = self.list_named(ENVIRONMENTS, visible, page).await?;
        page_of(rows, page, row_to_env, |e| e.id.to_string())
    }

    pub async fn get_environment(&self, id: EnvironmentId) -> Result<Environment> {
        row_to_env(&self.get_named(ENVIRONMENTS, id.to_string()).await?)
    }

    pub async fn create_environment(&self, name: String) -> Result<Environment> {
        let id = EnvironmentId::new();
        let created_at = self
            .create_named(ENVIRONMENTS, id.to_string(), &name, None)
            .await?;
        Ok(Environment {
            id,
            name,
            created_at,
        })
    }

    pub async fn update_environment(
        &self,
        id: EnvironmentId,
        name: Option<String>,
    ) -> Result<Environment> {
        let u = self
            .update_named(ENVIRONMENTS, id.to_string(), name, None)
            .await?;
        let mut env = row_to_env(&u.before)?;
        env.name = u.name;
        Ok(env)
    }

    /// Deletes the environment and its instances, and takes it out of every
    /// group scope of the organization.
    pub async fn delete_environment(&self, id: EnvironmentId) -> Result<Environment> {
        row_to_env(&self.delete_named(ENVIRONMENTS, id.to_string()).await?)
    }

    pub async fn list_applications(
        &self,
        visible: &Visible<ApplicationId>,
        page: &PageRequest,
    ) -> Result<Page<Application>> {
        let rows = self.list_named(APPLICATIONS, visible, page).await?;
        page_of(rows, page, row_to_app, |a| a.id.to_string())
    }

    pub async fn get_application(&self, id: ApplicationId) -> Result<Application> {
        row_to_app(&self.get_named(APPLICATIONS, id.to_string()).await?)
    }

    pub async fn create_application(
        &self,
        name: String,
        repository: Option<String>,
    ) -> Result<Application> {
        let id = ApplicationId::new();
        let created_at = self
            .create_named(
                APPLICATIONS,
                id.to_string(),
                &name,
                Some(repository.as_deref()),
            )
            .await?;
        Ok(Application {
            id,
            name,
            repository,
            created_at,
        })
    }

    /// `repository: Some(None)` removes it.
    pub async fn update_application(
        &self,
        id: ApplicationId,
        name: Option<String>,
        repository: Option<Option<String>>,
    ) -> Result<Application> {
        let u = self
            .update_named(APPLICATIONS, id.to_string(), name, repository)
            .await?;
        let mut app = row_to_app(&u.before)?;
        app.name = u.name;
        app.repository = u.repository;
        Ok(app)
    }

    /// Deletes the application and its instances, and takes it out of every
    /// group scope of the organization.
    pub async fn delete_application(&self, id: ApplicationId) -> Result<Application> {
        row_to_app(&self.delete_named(APPLICATIONS, id.to_string()).await?)
    }

    /// One page of the visible rows, plus one to tell whether more follow.
    async fn list_named(
        &self,
        kind: Kind,
        visible: &Visible<impl Ord + ToString>,
        page: &PageRequest,
    ) -> Result<Vec<AnyRow>> {
        let Some((clause, args)) = visibility_clause("id", visible, 3) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT * FROM {} WHERE organization_id = $1 AND id > $2{clause} ORDER BY id LIMIT {}",
            kind.table,
            page.limit + 1
        );
        let mut q = sqlx::query::<Any>(&sql)
            .bind(self.org.to_string())
            .bind(page.after.map(|a| a.to_string()).unwrap_or_default());
        for a in args {
            q = q.bind(a);
        }
        q.fetch_all(&self.read).await.map_err(db_err)
    }

    async fn get_named(&self, kind: Kind, id: String) -> Result<AnyRow> {
        let mut conn = self.read.acquire().await.map_err(db_err)?;
        get_row(&mut conn, kind.table, self.org, id).await
    }

    /// Inserts the row (with its repository where the kind has one) and
    /// records `{kind}.create`; returns its creation time.
    async fn create_named(
        &self,
        kind: Kind,
        id: String,
        name: &str,
        repository: Option<Option<&str>>,
    ) -> Result<DateTime<Utc>> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let (columns, values) = if kind.has_repository {
            (", repository", ", $5")
        } else {
            ("", "")
        };
        let sql = format!(
            "INSERT INTO {} (id, organization_id, name, created_at{columns}) VALUES ($1, $2, $3, $4{values})",
            kind.table
        );
        let mut details = serde_json::Map::new();
        details.insert("name".into(), json!(name));
        let mut q = sqlx::query::<Any>(&sql)
            .bind(id.clone())
            .bind(org.to_string())
            .bind(name.to_owned())
            .bind(ts(now));
        if kind.has_repository {
            let repository = repository.flatten();
            details.insert("repository".into(), json!(repository));
            q = q.bind(repository.map(str::to_owned));
        }
        let mut tx = self.begin().await?;
        q.execute(&mut *tx)
            .await
            .map_err(unique_as("name", kind.taken))?;
        tx.audit(
            Some(org),
            meta,
            now,
            &format!("{}.create", kind.name),
            Target::new(kind.name, id, name.to_owned()),
            serde_json::Value::Object(details),
        )
        .await?;
        tx.commit(&[]).await?;
        Ok(now)
    }

    /// Renames (and for an application re-points) the row and records
    /// `{kind}.update` with what was asked.
    async fn update_named(
        &self,
        kind: Kind,
        id: String,
        name: Option<String>,
        repository: Option<Option<String>>,
    ) -> Result<Updated> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        let row = get_row(&mut tx, kind.table, org, id.clone()).await?;
        let old_name = get_str(&row, "name")?;
        let new_name = name.clone().unwrap_or_else(|| old_name.clone());
        let details = if kind.has_repository {
            let mut d = serde_json::Map::new();
            if let Some(n) = &name {
                d.insert("name".into(), json!(n));
            }
            if let Some(r) = &repository {
                d.insert("repository".into(), json!(r));
            }
            serde_json::Value::Object(d)
        } else {
            json!({ "name": name })
        };
        let new_repository = match repository {
            Some(r) => r,
            None if kind.has_repository => get_opt_str(&row, "repository")?,
            None => None,
        };
        let updated = if kind.has_repository {
            sqlx::query::<Any>(&format!(
                "UPDATE {} SET name = $1, repository = $2 WHERE organization_id = $3 AND id = $4",
                kind.table
            ))
            .bind(new_name.clone())
            .bind(new_repository.clone())
            .bind(org.to_string())
            .bind(id.clone())
            .execute(&mut *tx)
            .await
        } else {
            sqlx::query::<Any>(&format!(
                "UPDATE {} SET name = $1 WHERE organization_id = $2 AND id = $3",
                kind.table
            ))
            .bind(new_name.clone())
            .bind(org.to_string())
            .bind(id.clone())
            .execute(&mut *tx)
            .await
        }
        .map_err(unique_as("name", kind.taken))?
        .rows_affected();
        // Deleted since it was read: no update, no event.
        if updated == 0 {
            return Err(Error::NotFound);
        }
        tx.audit(
            Some(org),
            meta,
            now,
            &format!("{}.update", kind.name),
            Target::new(kind.name, id, new_name.clone()),
            details,
        )
        .await?;
        // Instance objects carry their application's and environment's
        // names, and cached ones would keep the old name: a rename (rare)
        // forgets the organization's cached entries.
        if new_name != old_name {
            tx.commit(&[Invalidation::Organization(org)]).await?;
        } else {
            tx.commit(&[]).await?;
        }
        Ok(Updated {
            before: row,
            name: new_name,
            repository: new_repository,
        })
    }

    /// Deletes the row: its instances go with it (foreign keys), it leaves
    /// every group scope of the organization, and `{kind}.delete` is
    /// recorded. Returns the deleted row.
    async fn delete_named(&self, kind: Kind, id: String) -> Result<AnyRow> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        // Serializes with group changes, which lock the organization too:
        // otherwise a group created or re-scoped concurrently could check
        // that this id exists, then commit it into its scope after the
        // clean-up below ran.
        self.lock_org(&mut tx, org).await?;
        let row = get_row(&mut tx, kind.table, org, id.clone()).await?;
        let name = get_str(&row, "name")?;
        sqlx::query::<Any>(
            "DELETE FROM group_scope_items WHERE resource_id = $1 \
             AND group_id IN (SELECT id FROM org_groups WHERE organization_id = $2)",
        )
        .bind(id.clone())
        .bind(org.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let deleted = sqlx::query::<Any>(&format!(
            "DELETE FROM {} WHERE organization_id = $1 AND id = $2",
            kind.table
        ))
        .bind(org.to_string())
        .bind(id.clone())
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
            &format!("{}.delete", kind.name),
            Target::new(kind.name, id, name.clone()),
            json!({ "name": name }),
        )
        .await?;
        tx.commit(&[Invalidation::Organization(org)]).await?;
        Ok(row)
    }
}

fn page_of<T>(
    rows: Vec<AnyRow>,
    page: &PageRequest,
    map: fn(&AnyRow) -> Result<T>,
    id_of: fn(&T) -> String,
) -> Result<Page<T>> {
    let items = rows.iter().map(map).collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(items, page.limit, id_of))
}
