//! The test kit: starts the whole server in-process on port 0 over a fresh
//! database (a temporary SQLite file, or a new database on the PostgreSQL
//! server named by `TRON_TEST_POSTGRES_URL`) and drives it over HTTP.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tron_client::{
    Client, NewApplication, NewGroup, NewServiceAccount, NewToken, NewUser, Role, Scope, Uuid,
};
use tron_core::clock::OffsetClock;
use tron_core::token::ServerSecret;
use tron_server::{AppState, Config};
use tron_store::Store;

pub const ADMIN_EMAIL: &str = "root@example.com";
pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Fails loudly rather than skipping: CI always provides PostgreSQL.
pub fn postgres_admin_url() -> String {
    std::env::var("TRON_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!("TRON_TEST_POSTGRES_URL is not set: run the tests with scripts/test, which starts PostgreSQL")
    })
}

/// A fresh, empty database; the guard keeps a SQLite file alive.
pub async fn fresh_database(db: Db) -> (String, Option<tempfile::TempDir>) {
    match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}/tron.db", dir.path().display());
            (url, Some(dir))
        }
        Db::Postgres => {
            let admin = postgres_admin_url();
            let name = format!("tron_t_{}", uuid::Uuid::new_v4().simple());
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&admin)
                .await
                .expect("connect to the test PostgreSQL server");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&pool)
                .await
                .expect("create test database");
            pool.close().await;
            let base = admin
                .rsplit_once('/')
                .map(|(b, _)| b.to_owned())
                .expect("url has a path");
            (format!("{base}/{name}"), None)
        }
    }
}

/// An id the kit handed out as a string.
pub fn id(s: &str) -> Uuid {
    s.parse().unwrap_or_else(|_| panic!("{s:?} is not an id"))
}

pub struct TestServer {
    pub db: Db,
    pub base: String,
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    /// The typed client, presenting no token; see [`TestServer::client`].
    pub api: Client,
    pub clock: OffsetClock,
    pub store: Store,
    pub state: AppState,
    pub database_url: String,
    /// A session of the bootstrap superuser.
    pub root: String,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

pub fn test_secret() -> ServerSecret {
    ServerSecret::new(b"tron test secret, thirty-two bytes or more".to_vec()).expect("secret")
}

impl TestServer {
    pub async fn start(db: Db) -> Self {
        let (url, dir) = fresh_database(db).await;
        Self::start_on(db, url, dir).await
    }

    /// Starts a server whose configuration `configure` adjusts first.
    pub async fn start_configured(db: Db, configure: impl FnOnce(&mut Config)) -> Self {
        let (url, dir) = fresh_database(db).await;
        Self::start_on_configured(db, url, dir, configure).await
    }

    /// Starts a server on an existing database (several instances share
    /// one PostgreSQL database in the multi-instance tests).
    pub async fn start_on(db: Db, url: String, dir: Option<tempfile::TempDir>) -> Self {
        Self::start_on_configured(db, url, dir, |_| {}).await
    }

    async fn start_on_configured(
        db: Db,
        url: String,
        dir: Option<tempfile::TempDir>,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        let store = Store::connect_with(&url, 8).await.expect("connect store");
        store.migrate().await.expect("migrate");
        tron_server::bootstrap::ensure_admin(
            &store,
            Some(ADMIN_EMAIL.into()),
            Some(PASSWORD.into()),
        )
        .await
        .expect("bootstrap");
        let clock = OffsetClock::default();
        let mut config = Config::new(test_secret());
        config.usage_flush_interval = std::time::Duration::from_millis(200);
        configure(&mut config);
        let state = AppState::with_clock(store.clone(), config, Arc::new(clock.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let serve_state = state.clone();
        let handle = tokio::spawn(async move {
            tron_server::serve(listener, serve_state, async {
                let _ = rx.await;
            })
            .await
            .expect("serve");
        });
        let http = reqwest::Client::builder().build().expect("client");
        let base = format!("http://{addr}");
        let api = Client::with_http_client(base.clone(), http.clone());
        let mut s = TestServer {
            db,
            base,
            addr,
            http,
            api,
            clock,
            store,
            state,
            database_url: url,
            root: String::new(),
            shutdown: Some(tx),
            handle: Some(handle),
            _dir: dir,
        };
        s.root = s.login(ADMIN_EMAIL, PASSWORD).await;
        s
    }

    /// Graceful stop: in-flight requests finish, usage is flushed.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("/api/")
            || path.starts_with("/healthz")
            || path.starts_with("/readyz")
            || path.starts_with("/metrics")
        {
            format!("{}{}", self.base, path)
        } else {
            format!("{}/api/v1{}", self.base, path)
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn put(&self, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(token), body).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// The typed client presenting `token`.
    pub fn client(&self, token: &str) -> Client {
        self.api.with_token(token)
    }

    /// The typed client presenting no token.
    pub fn anon(&self) -> Client {
        self.api.clone()
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let session = self
            .anon()
            .login(email, password)
            .await
            .unwrap_or_else(|e| panic!("login {email}: {e}"));
        session.token.into_inner()
    }

    /// Creates a user (as the superuser) and logs it in.
    pub async fn user(&self, email: &str) -> (String, String) {
        let user = self
            .client(&self.root)
            .create_user(&NewUser {
                email: email.into(),
                name: email.into(),
                password: PASSWORD.into(),
                is_superuser: None,
            })
            .await
            .unwrap_or_else(|e| panic!("create user {email}: {e}"));
        (user.id.to_string(), self.login(email, PASSWORD).await)
    }

    /// Creates an organization as `token`; returns its id.
    pub async fn org(&self, token: &str, name: &str) -> String {
        let org = self
            .client(token)
            .create_organization(name)
            .await
            .unwrap_or_else(|e| panic!("create organization {name}: {e}"));
        org.id.to_string()
    }

    /// Adds a user to an organization; returns the member id.
    pub async fn add_member(&self, admin: &str, org: &str, email: &str) -> String {
        let member = self
            .client(admin)
            .add_member(id(org), email)
            .await
            .unwrap_or_else(|e| panic!("add member {email}: {e}"));
        member.id.to_string()
    }

    /// Creates a group; returns its id. `role` and `scope` are as on the
    /// wire (`"viewer"`, `{"type": "organization"}`).
    pub async fn group(
        &self,
        admin: &str,
        org: &str,
        name: &str,
        role: &str,
        scope: Value,
    ) -> String {
        let role: Role = serde_json::from_value(json!(role)).expect("a role");
        let scope: Scope = serde_json::from_value(scope).expect("a scope");
        let group = self
            .client(admin)
            .create_group(
                id(org),
                &NewGroup {
                    name: name.into(),
                    description: None,
                    role,
                    scope,
                },
            )
            .await
            .unwrap_or_else(|e| panic!("create group {name}: {e}"));
        group.id.to_string()
    }

    pub async fn join(&self, admin: &str, org: &str, group: &str, member: &str) {
        self.client(admin)
            .add_group_member(id(org), id(group), id(member))
            .await
            .unwrap_or_else(|e| panic!("add {member} to group {group}: {e}"));
    }

    pub async fn env(&self, token: &str, org: &str, name: &str) -> String {
        let env = self
            .client(token)
            .create_environment(id(org), name)
            .await
            .unwrap_or_else(|e| panic!("create environment {name}: {e}"));
        env.id.to_string()
    }

    pub async fn app(&self, token: &str, org: &str, name: &str) -> String {
        let app = self
            .client(token)
            .create_application(
                id(org),
                &NewApplication {
                    name: name.into(),
                    repository: None,
                },
            )
            .await
            .unwrap_or_else(|e| panic!("create application {name}: {e}"));
        app.id.to_string()
    }

    /// Creates a service account; returns `(id, member_id)`.
    pub async fn service_account(&self, admin: &str, org: &str, name: &str) -> (String, String) {
        let sa = self
            .client(admin)
            .create_service_account(
                id(org),
                &NewServiceAccount {
                    name: name.into(),
                    description: None,
                },
            )
            .await
            .unwrap_or_else(|e| panic!("create service account {name}: {e}"));
        (sa.id.to_string(), sa.member_id.to_string())
    }

    /// Mints a service token; `body` is `{name, expires_at?}`. Returns
    /// `(token_id, plaintext)`.
    pub async fn service_token(
        &self,
        admin: &str,
        org: &str,
        sa: &str,
        body: Value,
    ) -> (String, String) {
        let body: NewToken = serde_json::from_value(body).expect("{name, expires_at?}");
        let created = self
            .client(admin)
            .create_service_token(id(org), id(sa), &body)
            .await
            .unwrap_or_else(|e| panic!("create service token: {e}"));
        (created.item.id.to_string(), created.token.into_inner())
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Runs a contract test on both backends: `name::sqlite` and
/// `name::postgres`.
#[macro_export]
macro_rules! contract {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::kit::TestServer::start($crate::kit::Db::Sqlite).await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::kit::TestServer::start($crate::kit::Db::Postgres).await).await
            }
        }
    )*};
}

/// Polls `check` every 5 ms until it is true, for at most `deadline`;
/// how long that took.
pub async fn until(deadline: Duration, mut check: impl AsyncFnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}
