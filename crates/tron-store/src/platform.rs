//! Instances (an application in an environment) and their deployments.
//! Lists take the caller's visibility so they return only what it may
//! view. Environments and applications themselves are in `named`.
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Any;
use tron_core::authz::Visible;
use tron_core::ids::*;
use tron_core::{Error, Result};

use crate::audit::Target;
use crate::db::*;
use crate::invalidate::Invalidation;
use crate::models::*;
use crate::named::{get_row, row_to_app, row_to_env};
use crate::scope::OrgStore;
use crate::tokens::row_to_created_by;

fn row_to_instance(row: &AnyRow) -> Result<Instance> {
    Ok(Instance {
        application_id: get_id(row, "application_id")?,
        environment_id: get_id(row, "environment_id")?,
        application_name: get_str(row, "application_name")?,
        environment_name: get_str(row, "environment_name")?,
        image: get_str(row, "image")?,
        replicas: get_i64(row, "replicas")?,
        updated_at: get_ts(row, "updated_at")?,
    })
}

/// An instance with the names of its application and environment, which
/// whoever may view the instance may know (SPEC §4). Both joins stay within
/// the instance's organization.
const INSTANCE_SELECT: &str =
    "SELECT i.application_id, i.environment_id, i.image, i.replicas, i.updated_at, \
     a.name AS application_name, e.name AS environment_name \
     FROM instances i \
     JOIN applications a ON a.id = i.application_id AND a.organization_id = i.organization_id \
     JOIN environments e ON e.id = i.environment_id AND e.organization_id = i.organization_id";

fn row_to_deployment(row: &AnyRow) -> Result<Deployment> {
    Ok(Deployment {
        id: get_id(row, "id")?,
        image: get_str(row, "image")?,
        version: get_opt_str(row, "version")?,
        created_at: get_ts(row, "created_at")?,
        created_by: row_to_created_by(row, "created_by")?,
        token_id: get_opt_str(row, "created_by_token_id")?.and_then(|t| t.parse().ok()),
    })
}

/// Appends `AND column IN (…)` for a restricted visibility; `None` when
/// nothing is visible at all.
pub(crate) fn visibility_clause<T: Ord + ToString>(
    column: &str,
    visible: &Visible<T>,
    next_arg: usize,
) -> Option<(String, Vec<String>)> {
    match visible {
        Visible::All => Some((String::new(), Vec::new())),
        Visible::Only(set) if set.is_empty() => None,
        Visible::Only(set) => {
            let args: Vec<String> = set.iter().map(ToString::to_string).collect();
            Some((
                format!(" AND {column} IN ({})", placeholders(next_arg, args.len())),
                args,
            ))
        }
    }
}

impl OrgStore<'_> {
    /// Instances of one application, restricted to the visible
    /// environments.
    pub async fn list_instances_of_application(
        &self,
        app: ApplicationId,
        visible_envs: &Visible<EnvironmentId>,
        page: &PageRequest,
    ) -> Result<Page<Instance>> {
        let org = self.org;
        self.list_instances(
            org,
            "application_id",
            app.to_string(),
            "environment_id",
            visible_envs,
            page,
        )
        .await
    }

    pub async fn list_instances_of_environment(
        &self,
        env: EnvironmentId,
        visible_apps: &Visible<ApplicationId>,
        page: &PageRequest,
    ) -> Result<Page<Instance>> {
        let org = self.org;
        self.list_instances(
            org,
            "environment_id",
            env.to_string(),
            "application_id",
            visible_apps,
            page,
        )
        .await
    }

    async fn list_instances<T: Ord + ToString>(
        &self,
        org: OrganizationId,
        fixed_col: &str,
        fixed: String,
        other_col: &str,
        visible: &Visible<T>,
        page: &PageRequest,
    ) -> Result<Page<Instance>> {
        let Some((clause, args)) = visibility_clause(&format!("i.{other_col}"), visible, 4) else {
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            });
        };
        // The cursor is the other side's id: unique within this list.
        let sql = format!(
            "{INSTANCE_SELECT} WHERE i.organization_id = $1 AND i.{fixed_col} = $2 AND i.{other_col} > $3{clause} \
             ORDER BY i.{other_col} LIMIT {}",
            page.limit + 1
        );
        let mut q = sqlx::query::<Any>(&sql)
            .bind(org.to_string())
            .bind(fixed)
            .bind(page.after.map(|a| a.to_string()).unwrap_or_default());
        for a in args {
            q = q.bind(a);
        }
        let rows = q.fetch_all(&self.read).await.map_err(db_err)?;
        let items = rows
            .iter()
            .map(row_to_instance)
            .collect::<Result<Vec<_>>>()?;
        let by_env = other_col == "environment_id";
        Ok(Page::from_rows(items, page.limit, move |i| {
            if by_env {
                i.environment_id.to_string()
            } else {
                i.application_id.to_string()
            }
        }))
    }

    pub async fn get_instance(
        &self,
        app: ApplicationId,
        env: EnvironmentId,
    ) -> Result<Option<Instance>> {
        let org = self.org;
        let sql = format!(
            "{INSTANCE_SELECT} WHERE i.organization_id = $1 AND i.application_id = $2 AND i.environment_id = $3"
        );
        let row = sqlx::query::<Any>(&sql)
            .bind(org.to_string())
            .bind(app.to_string())
            .bind(env.to_string())
            .fetch_optional(&self.read)
            .await
            .map_err(db_err)?;
        row.as_ref().map(row_to_instance).transpose()
    }

    /// Creates or updates an instance; `true` when it was created. An
    /// upsert: of concurrent first `PUT`s, exactly one inserts the row (and
    /// records `instance.create`), the others update it.
    #[allow(clippy::too_many_arguments)]
    pub async fn put_instance(
        &self,
        app: ApplicationId,
        env: EnvironmentId,
        image: String,
        replicas: Option<i64>,
    ) -> Result<(Instance, bool)> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        self.hold_org(&mut tx, org).await?;
        let app_row = row_to_app(&get_row(&mut tx, "applications", org, app.to_string()).await?)?;
        let env_row = row_to_env(&get_row(&mut tx, "environments", org, env.to_string()).await?)?;
        let mut outcome = None;
        // A row found by the insert but gone before the update was deleted
        // in between: insert again.
        for _ in 0..3 {
            // On PostgreSQL an insert meeting a concurrent, uncommitted
            // insert of the same key waits for it, then does nothing.
            let inserted = sqlx::query::<Any>(
                "INSERT INTO instances (application_id, environment_id, organization_id, image, replicas, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (application_id, environment_id) DO NOTHING",
            )
            .bind(app.to_string())
            .bind(env.to_string())
            .bind(org.to_string())
            .bind(image.clone())
            .bind(replicas.unwrap_or(1))
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
            if inserted > 0 {
                outcome = Some((replicas.unwrap_or(1), true));
                break;
            }
            let updated = sqlx::query::<Any>(
                "UPDATE instances SET image = $1, replicas = COALESCE($2, replicas), updated_at = $3 \
                 WHERE organization_id = $4 AND application_id = $5 AND environment_id = $6 RETURNING replicas",
            )
            .bind(image.clone())
            .bind(replicas)
            .bind(ts(now))
            .bind(org.to_string())
            .bind(app.to_string())
            .bind(env.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
            if let Some(row) = updated {
                outcome = Some((get_i64(&row, "replicas")?, false));
                break;
            }
        }
        let Some((replicas, created)) = outcome else {
            return Err(Error::Conflict {
                message: "the instance is being changed concurrently; try again".into(),
                field: None,
            });
        };
        tx.audit(
            Some(org),
            meta,
            now,
            if created { "instance.create" } else { "instance.update" },
            Target::new("instance", format!("{app}:{env}"), format!("{}@{}", app_row.name, env_row.name)),
            json!({"application_id": app, "environment_id": env, "image": image, "replicas": replicas}),
        )
        .await?;
        tx.commit(&[Invalidation::instance(org, app, env)]).await?;
        Ok((
            Instance {
                application_id: app,
                environment_id: env,
                application_name: app_row.name,
                environment_name: env_row.name,
                image,
                replicas,
                updated_at: now,
            },
            created,
        ))
    }

    pub async fn delete_instance(&self, app: ApplicationId, env: EnvironmentId) -> Result<()> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        let r = sqlx::query::<Any>(
            "DELETE FROM instances WHERE organization_id = $1 AND application_id = $2 AND environment_id = $3",
        )
        .bind(org.to_string())
        .bind(app.to_string())
        .bind(env.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if r.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        tx.audit(
            Some(org),
            meta,
            now,
            "instance.delete",
            Target {
                kind: "instance",
                id: Some(format!("{app}:{env}")),
                name: None,
            },
            json!({"application_id": app, "environment_id": env}),
        )
        .await?;
        tx.commit(&[Invalidation::instance(org, app, env)]).await?;
        Ok(())
    }

    pub async fn list_deployments(
        &self,
        app: ApplicationId,
        env: EnvironmentId,
        page: &PageRequest,
    ) -> Result<Page<Deployment>> {
        let org = self.org;
        // Newest first: ids are UUIDv7, which sort by time, and the cursor
        // (the last id of the previous page) continues with older ones.
        let mut sql = String::from(
            "SELECT * FROM deployments WHERE organization_id = $1 AND application_id = $2 AND environment_id = $3",
        );
        if page.after.is_some() {
            sql.push_str(" AND id < $4");
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", page.limit + 1));
        let mut q = sqlx::query::<Any>(&sql)
            .bind(org.to_string())
            .bind(app.to_string())
            .bind(env.to_string());
        if let Some(after) = page.after {
            q = q.bind(after.to_string());
        }
        let rows = q.fetch_all(&self.read).await.map_err(db_err)?;
        let items = rows
            .iter()
            .map(row_to_deployment)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, page.limit, |d| d.id.to_string()))
    }

    /// Records a deployment; the instance now runs `image`.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_deployment(
        &self,
        app: ApplicationId,
        env: EnvironmentId,
        image: String,
        version: Option<String>,
    ) -> Result<Deployment> {
        let (meta, now, org) = (self.meta(), self.now, self.org);
        let mut tx = self.begin().await?;
        self.hold_org(&mut tx, org).await?;
        let r = sqlx::query::<Any>(
            "UPDATE instances SET image = $1, updated_at = $2 WHERE organization_id = $3 AND application_id = $4 AND environment_id = $5",
        )
        .bind(image.clone())
        .bind(ts(now))
        .bind(org.to_string())
        .bind(app.to_string())
        .bind(env.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if r.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        let created_by = CreatedBy::from(&meta.actor);
        let d = Deployment {
            id: DeploymentId::new(),
            image,
            version,
            created_at: now,
            created_by,
            token_id: meta.actor.token_id,
        };
        sqlx::query::<Any>(
            "INSERT INTO deployments (id, organization_id, application_id, environment_id, image, version, created_at, \
             created_by_type, created_by_id, created_by_name, created_by_token_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(d.id.to_string())
        .bind(org.to_string())
        .bind(app.to_string())
        .bind(env.to_string())
        .bind(d.image.clone())
        .bind(d.version.clone())
        .bind(ts(now))
        .bind(d.created_by.kind.as_str())
        .bind(d.created_by.id.map(|i| i.to_string()))
        .bind(d.created_by.name.clone())
        .bind(d.token_id.map(|t| t.to_string()))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.audit(Some(org), meta, now, "deployment.create",
            Target::new("deployment", d.id, d.image.clone()),
            json!({"application_id": app, "environment_id": env, "image": d.image, "version": d.version})).await?;
        tx.commit(&[Invalidation::instance(org, app, env)]).await?;
        Ok(d)
    }
}
