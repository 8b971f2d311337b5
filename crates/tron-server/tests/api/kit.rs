//! The test kit: starts the whole server in-process on port 0 over a fresh
//! database (a temporary SQLite file, or a new database on the PostgreSQL
//! server named by `TRON_TEST_POSTGRES_URL`) and drives it over HTTP.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tron_client::{
    Client, CreateApplication, CreateGroup, CreateServiceAccount, CreateToken, CreateUser,
    DisplayName, Email, Name,
};
use tron_core::clock::OffsetClock;
use tron_core::token::ServerSecret;
use tron_server::{AppState, Config};
use tron_store::Store;

pub const ADMIN_EMAIL: &str = "root@example.com";
pub const PASSWORD: &str = "correct horse battery staple";
pub const GITHUB_ACTIONS: &str = "https://token.actions.githubusercontent.com";

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

/// Fails loudly rather than skipping: CI always provides Redis (scripts/test
/// starts one with scripts/redis-tmp).
pub fn redis_test_url() -> String {
    std::env::var("TRON_TEST_REDIS_URL").unwrap_or_else(|_| {
        panic!(
            "TRON_TEST_REDIS_URL is not set: run the tests with scripts/test, which starts Redis"
        )
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

/// An id the kit handed out as a string, of the kind the call needs.
pub fn id<T: std::str::FromStr>(s: &str) -> T {
    s.parse().unwrap_or_else(|_| panic!("{s:?} is not an id"))
}

// ---------------------------------------------------------------------------
// Paths, values and assertions shared by the test files
// ---------------------------------------------------------------------------

/// `/organizations/{org}{path}`.
pub fn o(org: &str, path: &str) -> String {
    format!("/organizations/{org}{path}")
}

pub fn str_of(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

/// The `items` of a list answer.
pub fn items(v: &Value) -> Vec<Value> {
    v["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .clone()
}

/// The ids of a list answer's items.
pub fn ids_of(list: &Value) -> BTreeSet<String> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
}

pub fn set<I: IntoIterator<Item = S>, S: ToString>(items: I) -> BTreeSet<String> {
    items.into_iter().map(|s| s.to_string()).collect()
}

/// Asserts an error answer: its status and its `error.code`.
pub fn assert_error(status: StatusCode, body: &Value, want: StatusCode, code: &str, what: &str) {
    assert_eq!(status, want, "{what}: {body}");
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
}

/// The `Retry-After` of an answer, in seconds.
pub fn retry_after(resp: &reqwest::Response) -> u64 {
    resp.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("number")
}

/// Asserts a 400 `validation_error`.
pub fn assert_invalid(status: StatusCode, body: &Value, what: &str) {
    assert_error(
        status,
        body,
        StatusCode::BAD_REQUEST,
        "validation_error",
        what,
    );
}

/// The group scope `{"type": "organization"}`.
pub fn org_scope() -> Value {
    json!({"type": "organization"})
}

/// An environment group scope over `ids`.
pub fn env_scope<S: AsRef<str>>(ids: &[S]) -> Value {
    let ids: Vec<&str> = ids.iter().map(AsRef::as_ref).collect();
    json!({"type": "environment", "environment_ids": ids})
}

/// An application group scope over `ids`.
pub fn app_scope<S: AsRef<str>>(ids: &[S]) -> Value {
    let ids: Vec<&str> = ids.iter().map(AsRef::as_ref).collect();
    json!({"type": "application", "application_ids": ids})
}

/// ann@example.com, who created the organization Acme (and so is its
/// admin); bob@example.com and carol@example.com, users who are not members
/// yet; Acme's environments dev and prod and applications web and api. The
/// strings are session tokens and ids.
pub struct Acme {
    pub ann: String,
    pub bob: String,
    pub carol: String,
    pub org: String,
    pub dev: String,
    pub prod: String,
    pub web: String,
    pub api: String,
}

/// A row of [`TestServer::expect_each`]: method, path, body, status.
pub type Expect = (Method, String, Option<Value>, StatusCode);

/// A service account with one token, as [`TestServer::robot`] makes it.
#[derive(Debug, Clone)]
pub struct Robot {
    pub id: String,
    pub member: String,
    pub token_id: String,
    pub token: String,
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

    /// Starts a server that trusts a fresh local OIDC issuer (and GitHub
    /// Actions' issuer, for its pinning rule), after `configure`.
    pub async fn start_with_issuer(
        db: Db,
        configure: impl FnOnce(&mut Config),
    ) -> (Self, tron_oidc::testing::TestIssuer) {
        let idp = tron_oidc::testing::TestIssuer::start()
            .await
            .expect("test issuer");
        let list = format!("{},{GITHUB_ACTIONS}", idp.issuer());
        let s = Self::start_configured(db, |c| {
            c.oidc_issuers = tron_oidc::TrustedIssuers::parse(Some(&list)).expect("issuers");
            configure(c);
        })
        .await;
        (s, idp)
    }

    /// Starts a server on an existing database (several instances share
    /// one PostgreSQL database in the multi-instance tests).
    pub async fn start_on(db: Db, url: String, dir: Option<tempfile::TempDir>) -> Self {
        Self::start_on_configured(db, url, dir, |_| {}).await
    }

    pub async fn start_on_configured(
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

    /// Every item of a list (`path` with its query), `limit` a page,
    /// following `next_cursor` to the end; each page must answer `200`.
    pub async fn all_pages(&self, path: &str, token: &str, limit: u32) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut cursor: Option<String> = None;
        let mut out = Vec::new();
        loop {
            let page_path = match &cursor {
                Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
                None => format!("{path}{sep}limit={limit}"),
            };
            let (status, page) = self.get(&page_path, token).await;
            assert_eq!(status, StatusCode::OK, "{page_path}: {page}");
            out.extend(page["items"].as_array().expect("items").iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return out,
            }
        }
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

    /// Sends each call of the table in turn as `token` and asserts its
    /// status; a failure names the call.
    pub async fn expect_each(&self, token: &str, calls: Vec<Expect>) {
        for (method, path, body, want) in calls {
            let what = format!("{method} {path}");
            let (status, resp) = self.call(method, &path, Some(token), body).await;
            assert_eq!(status, want, "{what}: {resp}");
        }
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
            .create_user(&CreateUser {
                email: Email::parse("email", email).expect("an email"),
                name: DisplayName::parse("name", email).expect("a name"),
                password: PASSWORD.into(),
                is_superuser: false,
            })
            .await
            .unwrap_or_else(|e| panic!("create user {email}: {e}"));
        (user.id.to_string(), self.login(email, PASSWORD).await)
    }

    /// Creates a user and adds it to `org` as `admin`; returns `(user_id,
    /// token, member_id)`.
    pub async fn member(&self, admin: &str, org: &str, email: &str) -> (String, String, String) {
        let (user_id, token) = self.user(email).await;
        let member = self.add_member(admin, org, email).await;
        (user_id, token, member)
    }

    /// A member (see [`TestServer::member`]) in a new group of `role` and
    /// `scope` named after its email; returns `(token, member_id,
    /// group_id)`.
    pub async fn member_in_group(
        &self,
        admin: &str,
        org: &str,
        email: &str,
        role: &str,
        scope: Value,
    ) -> (String, String, String) {
        let (_, token, member) = self.member(admin, org, email).await;
        let group = self.group(admin, org, email, role, scope).await;
        self.join(admin, org, &group, &member).await;
        (token, member, group)
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
        let group = self
            .client(admin)
            .create_group(
                id(org),
                &CreateGroup {
                    name: DisplayName::parse("name", name).expect("a group name"),
                    description: None,
                    role: role.into(),
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
                &CreateApplication {
                    name: Name::parse("name", name).expect("an application name"),
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
                &CreateServiceAccount {
                    name: Name::parse("name", name).expect("a service account name"),
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
        let body: CreateToken = serde_json::from_value(body).expect("{name, expires_at?}");
        let created = self
            .client(admin)
            .create_service_token(id(org), id(sa), &body)
            .await
            .unwrap_or_else(|e| panic!("create service token: {e}"));
        (created.item.id.to_string(), created.token.into_inner())
    }

    /// A user who created an organization (and so is its admin), acting
    /// with a personal token without expiry (tests that move the clock past
    /// session expiry need one): `ann@example.com` and `Acme`. Returns
    /// `(token, org)`.
    pub async fn admin_and_org(&self) -> (String, String) {
        let (_, session) = self.user("ann@example.com").await;
        let (status, pat) = self
            .post("/me/tokens", &session, json!({"name": "admin"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{pat}");
        let ann = str_of(&pat["token"]);
        let org = self.org(&ann, "Acme").await;
        (ann, org)
    }

    /// The organization of [`Acme`], with its three users.
    pub async fn acme(&self) -> Acme {
        let (_, ann) = self.user("ann@example.com").await;
        let (_, bob) = self.user("bob@example.com").await;
        let (_, carol) = self.user("carol@example.com").await;
        let org = self.org(&ann, "Acme").await;
        let dev = self.env(&ann, &org, "dev").await;
        let prod = self.env(&ann, &org, "prod").await;
        let web = self.app(&ann, &org, "web").await;
        let api = self.app(&ann, &org, "api").await;
        Acme {
            ann,
            bob,
            carol,
            org,
            dev,
            prod,
            web,
            api,
        }
    }

    /// A group of organization scope; returns its id.
    pub async fn org_group(&self, admin: &str, org: &str, name: &str, role: &str) -> String {
        self.group(admin, org, name, role, org_scope()).await
    }

    /// The member id of a user, by email, read as `token`.
    pub async fn member_of(&self, token: &str, org: &str, email: &str) -> String {
        let (status, list) = self.get(&o(org, "/members?limit=200"), token).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|m| m["user"]["email"] == email)
            .map(|m| str_of(&m["id"]))
            .unwrap_or_else(|| panic!("{email} is not a member: {list}"))
    }

    /// The group of that name, read as `token`.
    pub async fn group_named(&self, token: &str, org: &str, name: &str) -> Value {
        let (status, list) = self.get(&o(org, "/groups?limit=200"), token).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|g| g["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no group {name}: {list}"))
    }

    /// The id of the organization's auto-created Administrators group.
    pub async fn admins_group(&self, token: &str, org: &str) -> String {
        str_of(&self.group_named(token, org, "Administrators").await["id"])
    }

    /// Creates the instance of `app` in `env` (image
    /// `registry.example/app:1`); asserts 201.
    pub async fn put_instance(&self, token: &str, org: &str, app: &str, env: &str) {
        let (status, body) = self
            .put(
                &o(org, &format!("/applications/{app}/instances/{env}")),
                token,
                Some(json!({"image": "registry.example/app:1"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    /// The organization's audit events matching `query` (newest first), as
    /// seen by `token`.
    pub async fn audit_events(&self, token: &str, org: &str, query: &str) -> Vec<Value> {
        let (status, body) = self
            .get(&o(org, &format!("/audit-events?limit=200&{query}")), token)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        items(&body)
    }

    /// The organization's audit events of `action` about `target`.
    pub async fn audit_events_about(
        &self,
        token: &str,
        org: &str,
        action: &str,
        target: &str,
    ) -> Vec<Value> {
        let query = format!("action={action}&target_id={target}");
        self.audit_events(token, org, &query).await
    }

    /// Counts the organization's audit events with this exact action.
    pub async fn audit_count(&self, token: &str, org: &str, action: &str) -> usize {
        let query = format!("action={action}");
        self.audit_events(token, org, &query).await.len()
    }

    /// Asks the organization's access-check, as `token`; `query` is
    /// `resource=…&action=…[&member_id=…]`.
    pub async fn access_check(&self, token: &str, org: &str, query: &str) -> (StatusCode, Value) {
        self.get(&o(org, &format!("/access-check?{query}")), token)
            .await
    }

    /// A service account put in `group`; returns `(id, member_id)`.
    pub async fn service_account_in(
        &self,
        admin: &str,
        org: &str,
        name: &str,
        group: &str,
    ) -> (String, String) {
        let (sa, member) = self.service_account(admin, org, name).await;
        self.join(admin, org, group, &member).await;
        (sa, member)
    }

    /// A service account with one token named `token_name`.
    pub async fn robot(&self, admin: &str, org: &str, name: &str, token_name: &str) -> Robot {
        let (id, member) = self.service_account(admin, org, name).await;
        self.with_token(admin, org, id, member, token_name).await
    }

    /// A service account with one token named `token_name`; returns
    /// `(id, token_id, token)`.
    pub async fn sa_with_token(
        &self,
        admin: &str,
        org: &str,
        name: &str,
        token_name: &str,
    ) -> (String, String, String) {
        let robot = self.robot(admin, org, name, token_name).await;
        (robot.id, robot.token_id, robot.token)
    }

    /// A service account put in `group`, then given one token named
    /// `token_name`.
    pub async fn robot_in(
        &self,
        admin: &str,
        org: &str,
        name: &str,
        group: &str,
        token_name: &str,
    ) -> Robot {
        let (id, member) = self.service_account_in(admin, org, name, group).await;
        self.with_token(admin, org, id, member, token_name).await
    }

    async fn with_token(
        &self,
        admin: &str,
        org: &str,
        id: String,
        member: String,
        token_name: &str,
    ) -> Robot {
        let (token_id, token) = self
            .service_token(admin, org, &id, json!({ "name": token_name }))
            .await;
        Robot {
            id,
            member,
            token_id,
            token,
        }
    }

    /// Disables or re-enables a user, as the superuser; asserts 200.
    pub async fn set_active(&self, user_id: &str, active: bool) {
        let (status, body) = self
            .patch(
                &format!("/users/{user_id}"),
                &self.root,
                json!({ "is_active": active }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "is_active {active}: {body}");
    }

    /// The value of one counter in `/metrics` (0 when absent).
    pub async fn counter(&self, series: &str) -> u64 {
        let text = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("send")
            .text()
            .await
            .expect("text");
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0)
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
