use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use tron_core::clock::{from_micros, to_micros};
use tron_core::Error;

/// How long a request waits for a PostgreSQL connection before it answers
/// `503`: long enough for a fast restart, short enough that an outage is
/// reported rather than hung on.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `/readyz` waits for the database.
pub const PING_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Refuses unknown schemes rather than guessing.
    pub fn from_url(url: &str) -> Result<Self, Error> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(Error::bad_request(format!(
                "unsupported database URL scheme in {:?}: use sqlite://PATH or postgres://…",
                url.split(':').next().unwrap_or_default()
            )))
        }
    }
}

/// The storage handle. On SQLite, writes go through a single connection so
/// that transactions never fail with `SQLITE_BUSY` on lock upgrades, while
/// reads use a pool; on PostgreSQL both are the same pool.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) read: AnyPool,
    pub(crate) write: AnyPool,
    backend: Backend,
    url: String,
    pub(crate) hooks: std::sync::Arc<crate::invalidate::Hooks>,
    /// Woken when a commit queued webhook deliveries (this instance's
    /// worker need not wait for its next poll).
    pub(crate) queued: std::sync::Arc<tokio::sync::Notify>,
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The file behind a `sqlite://` URL, if any.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        None
    } else {
        Some(PathBuf::from(path))
    }
}

impl Store {
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with(url, 16).await
    }

    pub async fn connect_with(url: &str, max_connections: u32) -> Result<Self, Error> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        match backend {
            Backend::Sqlite => {
                let mut full = url.to_owned();
                if let Some(path) = sqlite_path(url) {
                    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                        std::fs::create_dir_all(dir).map_err(|e| {
                            Error::internal(format!("cannot create {}: {e}", dir.display()))
                        })?;
                    }
                }
                if !full.contains("mode=") {
                    full.push_str(if full.contains('?') {
                        "&mode=rwc"
                    } else {
                        "?mode=rwc"
                    });
                }
                let opts = || {
                    AnyPoolOptions::new()
                        .acquire_timeout(Duration::from_secs(30))
                        .after_connect(|conn, _| {
                            Box::pin(async move {
                                sqlx::query(
                                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL",
                                )
                                .execute(&mut *conn)
                                .await?;
                                Ok(())
                            })
                        })
                };
                let write = opts()
                    .max_connections(1)
                    .connect(&full)
                    .await
                    .map_err(|e| Error::internal(format!("cannot open {url}: {e}")))?;
                sqlx::query("PRAGMA journal_mode = WAL")
                    .execute(&write)
                    .await
                    .map_err(db_err)?;
                let read = opts()
                    .max_connections(max_connections.clamp(1, 8))
                    .connect(&full)
                    .await
                    .map_err(|e| Error::internal(format!("cannot open {url}: {e}")))?;
                Ok(Store {
                    read,
                    write,
                    backend,
                    url: url.to_owned(),
                    hooks: Default::default(),
                    queued: Default::default(),
                })
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect(url)
                    .await
                    .map_err(|e| Error::internal(format!("cannot connect to PostgreSQL: {e}")))?;
                Ok(Store {
                    read: pool.clone(),
                    write: pool,
                    backend,
                    url: url.to_owned(),
                    hooks: Default::default(),
                    queued: Default::default(),
                })
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn sqlite_file(&self) -> Option<PathBuf> {
        sqlite_path(&self.url)
    }

    pub async fn migrate(&self) -> Result<(), Error> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        };
        migrator
            .run(&self.write)
            .await
            .map_err(|e| Error::internal(format!("migration failed: {e}")))
    }

    /// `/readyz`: storage answers within [`PING_TIMEOUT`].
    pub async fn ping(&self) -> Result<(), Error> {
        match tokio::time::timeout(PING_TIMEOUT, sqlx::query("SELECT 1").execute(&self.read)).await
        {
            Ok(done) => done.map(drop).map_err(db_err),
            Err(_) => Err(Error::unavailable("the database did not answer in time")),
        }
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// Any database failure that is not a known constraint is internal: logged
/// by the HTTP layer, never echoed. A foreign-key violation is `404`: every
/// foreign key of the schema points from a row to its parent (and deletes
/// cascade), so a change violates one only when a parent it checked was
/// deleted meanwhile by a concurrent change — what it refers to is gone.
pub(crate) fn db_err(e: sqlx::Error) -> Error {
    if is_unavailable(&e) {
        return Error::unavailable(format!("database: {e}"));
    }
    match e.as_database_error() {
        Some(d) if d.is_foreign_key_violation() => Error::NotFound,
        _ => Error::internal(format!("database: {e}")),
    }
}

/// Whether `e` says the database cannot serve now rather than that the
/// request or the code is wrong: the connection is lost or cannot be had,
/// the server is shutting down or starting, or a transaction lost a
/// deadlock or serialization race or waited too long for SQLite's writer.
/// Retrying later can succeed, so it is `503`, not `500`.
pub(crate) fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => d.code().is_some_and(|c| unavailable_code(&c)),
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs of connection exceptions (class 08), operator
/// intervention (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot
/// connect now), too many connections, deadlock and serialization
/// failures; SQLite's BUSY and LOCKED (with their extended codes).
fn unavailable_code(code: &str) -> bool {
    code.starts_with("08")
        || matches!(code, "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01")
        // SQLite's codes are numbers below 5 digits (PostgreSQL's are 5
        // characters); the primary code is the low byte.
        || (code.len() < 5 && matches!(code.parse::<u32>(), Ok(c) if c & 0xff == 5 || c & 0xff == 6))
}

/// How [`Store::lock_row`] locks a row on PostgreSQL. SQLite needs no row
/// locks: its one writer connection runs write transactions one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lock {
    /// The row stays (it is not deleted, its key does not change) until
    /// this transaction ends: taken by a change that adds a child to it.
    KeyShare,
    /// This transaction changes or deletes the row: a concurrent change of
    /// it waits, then reads what this one committed.
    Update,
}

impl Store {
    /// What a `SELECT` appends to take `lock` on the rows it reads: the
    /// PostgreSQL clause, or nothing on SQLite, whose transactions hold the
    /// only writer.
    pub(crate) fn lock_suffix(&self, lock: Lock) -> &'static str {
        match (self.backend, lock) {
            (Backend::Sqlite, _) => "",
            (Backend::Postgres, Lock::KeyShare) => " FOR KEY SHARE",
            (Backend::Postgres, Lock::Update) => " FOR UPDATE",
        }
    }

    /// Locks row `id` of `table` (a table with an `organization_id`) of
    /// organization `org` until the transaction on `conn` ends; `NotFound`
    /// when there is no such row (any more). Reads after it see the row as
    /// the last concurrent change committed it, so a read-check-write that
    /// starts with it is not raced.
    pub(crate) async fn lock_row(
        &self,
        conn: &mut sqlx::AnyConnection,
        table: &'static str,
        org: tron_core::ids::OrganizationId,
        id: String,
        lock: Lock,
    ) -> Result<(), Error> {
        let suffix = self.lock_suffix(lock);
        sqlx::query::<sqlx::Any>(&format!(
            "SELECT id FROM {table} WHERE organization_id = $1 AND id = $2{suffix}"
        ))
        .bind(org.to_string())
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .map(|_| ())
        .ok_or(Error::NotFound)
    }
}

/// Maps a unique violation to `409 conflict` on `field`.
pub(crate) fn unique_as(field: &'static str, what: &'static str) -> impl Fn(sqlx::Error) -> Error {
    move |e| match e.as_database_error() {
        Some(d) if d.is_unique_violation() => {
            Error::conflict(field, format!("{what} already exists"))
        }
        _ => db_err(e),
    }
}

pub(crate) fn get_str(row: &AnyRow, col: &str) -> Result<String, Error> {
    row.try_get::<String, _>(col).map_err(db_err)
}

pub(crate) fn get_opt_str(row: &AnyRow, col: &str) -> Result<Option<String>, Error> {
    row.try_get::<Option<String>, _>(col).map_err(db_err)
}

pub(crate) fn get_i64(row: &AnyRow, col: &str) -> Result<i64, Error> {
    row.try_get::<i64, _>(col).map_err(db_err)
}

pub(crate) fn get_opt_i64(row: &AnyRow, col: &str) -> Result<Option<i64>, Error> {
    row.try_get::<Option<i64>, _>(col).map_err(db_err)
}

pub(crate) fn get_bool(row: &AnyRow, col: &str) -> Result<bool, Error> {
    get_i64(row, col).map(|v| v != 0)
}

pub(crate) fn get_id<T: FromStr>(row: &AnyRow, col: &str) -> Result<T, Error> {
    get_str(row, col)?
        .parse()
        .map_err(|_| Error::internal(format!("column {col} holds a malformed id")))
}

pub(crate) fn get_opt_id<T: FromStr>(row: &AnyRow, col: &str) -> Result<Option<T>, Error> {
    get_opt_str(row, col)?
        .map(|s| {
            s.parse()
                .map_err(|_| Error::internal(format!("column {col} holds a malformed id")))
        })
        .transpose()
}

pub(crate) fn get_ts(row: &AnyRow, col: &str) -> Result<DateTime<Utc>, Error> {
    get_i64(row, col).map(from_micros)
}

pub(crate) fn get_opt_ts(row: &AnyRow, col: &str) -> Result<Option<DateTime<Utc>>, Error> {
    get_opt_i64(row, col).map(|v| v.map(from_micros))
}

pub(crate) fn ts(t: DateTime<Utc>) -> i64 {
    to_micros(t)
}

pub(crate) fn opt_ts(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(to_micros)
}

/// `limit` and `cursor` of a list request, already validated.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub limit: u32,
    /// The id of the last item of the previous page.
    pub after: Option<uuid::Uuid>,
}

/// A page of a list: `next_cursor` is `null` on the last page.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows.
    pub(crate) fn from_rows(mut items: Vec<T>, limit: u32, id_of: impl Fn(&T) -> String) -> Self {
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(id_of)
        } else {
            None
        };
        Page { items, next_cursor }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

/// Builds `$n, $n+1, …` placeholders for an `IN (…)` list.
pub(crate) fn placeholders(start: usize, count: usize) -> String {
    (start..start + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod unavailable_tests {
    use super::*;

    /// Issue 13, defect 13: losing the database is `503`, not `500`.
    #[test]
    fn lost_connections_and_retryable_failures_are_unavailable() {
        for code in [
            "08006", "08003", "57P01", "57P02", "57P03", "53300", "40001", "40P01", "5", "6",
            "261", "517",
        ] {
            assert!(unavailable_code(code), "{code}");
        }
        for code in ["23505", "23503", "22001", "42P01", "1", "19", "2067", "787"] {
            assert!(!unavailable_code(code), "{code}");
        }
        assert!(is_unavailable(&sqlx::Error::PoolTimedOut));
        assert!(is_unavailable(&sqlx::Error::Io(std::io::Error::other(
            "reset"
        ))));
        assert!(!is_unavailable(&sqlx::Error::RowNotFound));
        assert!(matches!(
            db_err(sqlx::Error::PoolClosed),
            Error::Unavailable(_)
        ));
        assert!(matches!(
            db_err(sqlx::Error::RowNotFound),
            Error::Internal(_)
        ));
    }
}
