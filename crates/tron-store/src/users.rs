//! Users and their passwords (argon2id hashes, computed by the caller).
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Any;
use tron_core::ids::{TokenId, UserId};
use tron_core::{Error, Result};

use crate::audit::Target;
use crate::db::*;
use crate::invalidate::Invalidation;
use crate::models::{RequestMeta, User};
use crate::{Backend, Store};

const USER_COLUMNS: &str = "id, email, name, is_superuser, is_active, created_at";

fn row_to_user(row: &AnyRow) -> Result<User> {
    Ok(User {
        id: get_id(row, "id")?,
        email: get_str(row, "email")?,
        name: get_str(row, "name")?,
        is_superuser: get_bool(row, "is_superuser")?,
        is_active: get_bool(row, "is_active")?,
        created_at: get_ts(row, "created_at")?,
    })
}

pub struct NewUser {
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub is_superuser: bool,
}

/// A change to a user; `None` leaves a field as it is.
#[derive(Default)]
pub struct UserPatch {
    pub name: Option<String>,
    /// A new password ends every session of the user but `keep_session`
    /// (personal tokens are kept).
    pub password_hash: Option<String>,
    pub is_active: Option<bool>,
    pub is_superuser: Option<bool>,
    /// With `password_hash`: the hash the caller checked the current
    /// password against. If the password changed meanwhile, nothing is
    /// changed and the answer is `Forbidden` (the current password given is
    /// no longer the current one).
    pub current_password_hash: Option<String>,
    /// With `password_hash`: the session that made the change, which goes
    /// on working.
    pub keep_session: Option<TokenId>,
}

impl Store {
    pub async fn count_users(&self) -> Result<i64> {
        let row = sqlx::query::<Any>("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&self.read)
            .await
            .map_err(db_err)?;
        get_i64(&row, "n")
    }

    pub async fn create_user(
        &self,
        meta: &RequestMeta,
        now: DateTime<Utc>,
        new: NewUser,
    ) -> Result<User> {
        let user = User {
            id: UserId::new(),
            email: new.email,
            name: new.name,
            is_superuser: new.is_superuser,
            is_active: true,
            created_at: now,
        };
        let mut tx = self.begin().await?;
        sqlx::query::<Any>(
            "INSERT INTO users (id, email, name, password_hash, is_superuser, is_active, created_at) \
             VALUES ($1, $2, $3, $4, $5, 1, $6)",
        )
        .bind(user.id.to_string())
        .bind(user.email.clone())
        .bind(user.name.clone())
        .bind(new.password_hash)
        .bind(i64::from(user.is_superuser))
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(unique_as("email", "a user with this email"))?;
        tx.audit(
            None,
            meta,
            now,
            "user.create",
            Target::new("user", user.id, user.email.clone()),
            json!({"email": user.email, "name": user.name, "is_superuser": user.is_superuser}),
        )
        .await?;
        tx.commit(&[]).await?;
        Ok(user)
    }

    /// First start: creates `new` only while there are no users at all;
    /// `None` when there already are. Several instances starting at once
    /// on one fresh database create exactly one: on PostgreSQL the users
    /// table is locked against other writers (and other first starts) for
    /// the transaction; on SQLite the conditional insert is one statement,
    /// which holds the database's write lock.
    pub async fn create_first_user(
        &self,
        meta: &RequestMeta,
        now: DateTime<Utc>,
        new: NewUser,
    ) -> Result<Option<User>> {
        let user = User {
            id: UserId::new(),
            email: new.email,
            name: new.name,
            is_superuser: new.is_superuser,
            is_active: true,
            created_at: now,
        };
        let mut tx = self.begin().await?;
        if self.backend() == Backend::Postgres {
            sqlx::query::<Any>("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        let inserted = sqlx::query::<Any>(
            "INSERT INTO users (id, email, name, password_hash, is_superuser, is_active, created_at) \
             SELECT $1, $2, $3, $4, $5, 1, $6 WHERE NOT EXISTS (SELECT 1 FROM users)",
        )
        .bind(user.id.to_string())
        .bind(user.email.clone())
        .bind(user.name.clone())
        .bind(new.password_hash)
        .bind(i64::from(user.is_superuser))
        .bind(ts(now))
        .execute(&mut *tx)
        .await
        .map_err(unique_as("email", "a user with this email"))?
        .rows_affected();
        if inserted == 0 {
            return Ok(None);
        }
        tx.audit(
            None,
            meta,
            now,
            "user.create",
            Target::new("user", user.id, user.email.clone()),
            json!({"email": user.email, "name": user.name, "is_superuser": user.is_superuser}),
        )
        .await?;
        tx.commit(&[]).await?;
        Ok(Some(user))
    }

    pub async fn get_user(&self, id: UserId) -> Result<User> {
        let row = sqlx::query::<Any>(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.read)
            .await
            .map_err(db_err)?
            .ok_or(Error::NotFound)?;
        row_to_user(&row)
    }

    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        let row = sqlx::query::<Any>(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        ))
        .bind(email.to_owned())
        .fetch_optional(&self.read)
        .await
        .map_err(db_err)?;
        row.as_ref().map(row_to_user).transpose()
    }

    /// The user and its password hash, for login.
    pub async fn user_credentials(&self, email: &str) -> Result<Option<(User, String)>> {
        let row = sqlx::query::<Any>(&format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1"
        ))
        .bind(email.to_owned())
        .fetch_optional(&self.read)
        .await
        .map_err(db_err)?;
        match row {
            Some(r) => Ok(Some((row_to_user(&r)?, get_str(&r, "password_hash")?))),
            None => Ok(None),
        }
    }

    /// The user and its password hash, by id (checking a current password).
    pub async fn user_credentials_by_id(&self, id: UserId) -> Result<(User, String)> {
        let row = sqlx::query::<Any>(&format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await
        .map_err(db_err)?
        .ok_or(Error::NotFound)?;
        Ok((row_to_user(&row)?, get_str(&row, "password_hash")?))
    }

    pub async fn list_users(&self, page: &PageRequest) -> Result<Page<User>> {
        let rows = sqlx::query::<Any>(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id > $1 ORDER BY id LIMIT {}",
            page.limit + 1
        ))
        .bind(page.after.map(|a| a.to_string()).unwrap_or_default())
        .fetch_all(&self.read)
        .await
        .map_err(db_err)?;
        let items = rows.iter().map(row_to_user).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, page.limit, |u| u.id.to_string()))
    }

    /// Users whose email or name contains `search` (case-insensitive for
    /// ASCII letters), in the same id order and with the same cursor as
    /// [`Store::list_users`]. `%`, `_` and `\` in `search` are literal.
    pub async fn search_users(&self, search: &str, page: &PageRequest) -> Result<Page<User>> {
        let mut pattern = String::from("%");
        for c in search.to_lowercase().chars() {
            if matches!(c, '%' | '_' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('%');
        let rows = sqlx::query::<Any>(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id > $1 \
             AND (LOWER(email) LIKE $2 ESCAPE '\\' OR LOWER(name) LIKE $2 ESCAPE '\\') \
             ORDER BY id LIMIT {}",
            page.limit + 1
        ))
        .bind(page.after.map(|a| a.to_string()).unwrap_or_default())
        .bind(pattern)
        .fetch_all(&self.read)
        .await
        .map_err(db_err)?;
        let items = rows.iter().map(row_to_user).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, page.limit, |u| u.id.to_string()))
    }

    pub async fn update_user(
        &self,
        meta: &RequestMeta,
        now: DateTime<Utc>,
        id: UserId,
        patch: UserPatch,
    ) -> Result<User> {
        let mut tx = self.begin().await?;
        // Locked: a login opening a session with the old password waits
        // for this change, or this change for it (`create_session`).
        let lock = self.lock_suffix(Lock::Update);
        let row = sqlx::query::<Any>(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = $1{lock}"
        ))
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .ok_or(Error::NotFound)?;
        let mut user = row_to_user(&row)?;
        let mut details = serde_json::Map::new();
        if let Some(name) = patch.name {
            details.insert("name".into(), json!(name));
            user.name = name;
        }
        if let Some(active) = patch.is_active {
            details.insert("is_active".into(), json!(active));
            user.is_active = active;
        }
        if let Some(su) = patch.is_superuser {
            details.insert("is_superuser".into(), json!(su));
            user.is_superuser = su;
        }
        let mut inv = vec![Invalidation::User(id)];
        if let Some(hash) = patch.password_hash {
            let changed = match patch.current_password_hash {
                Some(current) => sqlx::query::<Any>(
                    "UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3",
                )
                .bind(hash)
                .bind(id.to_string())
                .bind(current),
                None => sqlx::query::<Any>("UPDATE users SET password_hash = $1 WHERE id = $2")
                    .bind(hash)
                    .bind(id.to_string()),
            }
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
            if changed == 0 {
                return Err(Error::Forbidden);
            }
            let ended = sqlx::query::<Any>(
                "UPDATE tokens SET revoked_at = $1 WHERE user_id = $2 AND kind = 'session' AND id <> $3 \
                 AND (revoked_at IS NULL OR revoked_at > $1) AND (expires_at IS NULL OR expires_at > $1) \
                 RETURNING id",
            )
            .bind(ts(now))
            .bind(id.to_string())
            .bind(patch.keep_session.map(|t| t.to_string()).unwrap_or_default())
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
            for row in &ended {
                inv.push(Invalidation::Token(get_id::<TokenId>(row, "id")?));
            }
            details.insert("password_changed".into(), json!(true));
            details.insert("sessions_revoked".into(), json!(ended.len()));
        }
        sqlx::query::<Any>(
            "UPDATE users SET name = $1, is_active = $2, is_superuser = $3 WHERE id = $4",
        )
        .bind(user.name.clone())
        .bind(i64::from(user.is_active))
        .bind(i64::from(user.is_superuser))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.audit(
            None,
            meta,
            now,
            "user.update",
            Target::new("user", user.id, user.email.clone()),
            serde_json::Value::Object(details),
        )
        .await?;
        tx.commit(&inv).await?;
        Ok(user)
    }

    /// Records a platform event with no change (logins, failed logins).
    pub async fn record_platform_event(
        &self,
        meta: &RequestMeta,
        now: DateTime<Utc>,
        action: &str,
        target: Target,
        details: serde_json::Value,
    ) -> Result<()> {
        let mut work = self.begin().await?;
        work.audit(None, meta, now, action, target, details).await?;
        work.commit(&[]).await
    }
}
