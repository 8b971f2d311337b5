//! Issue 20: limits that hold across instances. Two servers share one
//! database and one Redis; a token's quota and the login throttle are
//! counted once for both. An instance whose Redis goes away keeps serving
//! on its own limiters, says so in `/readyz` and `/metrics`, and counts in
//! Redis again once it is back.
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tron_server::Config;

use crate::kit::{redis_test_url, retry_after, until, Db, TestServer, PASSWORD};

/// Two instances on one database, counting in the Redis at `url` under a
/// key prefix of their own (other tests share the server).
async fn pair(db: Db, url: &str) -> (TestServer, TestServer) {
    let a = TestServer::start_configured(db, counting_in(url, &test_prefix())).await;
    let b = another_instance(&a, url, &a.state.config.redis_prefix).await;
    (a, b)
}

/// A key prefix no other test uses.
fn test_prefix() -> String {
    format!("tron-test:{}:", uuid::Uuid::new_v4().simple())
}

fn counting_in<'a>(url: &'a str, prefix: &'a str) -> impl FnOnce(&mut Config) + 'a {
    move |c: &mut Config| {
        c.redis = Some(redis::Client::open(url).expect("a Redis URL"));
        c.redis_prefix = prefix.to_owned();
    }
}

/// Another instance on `s`'s database, counting in Redis under `prefix`.
async fn another_instance(s: &TestServer, url: &str, prefix: &str) -> TestServer {
    TestServer::start_on_configured(s.db, s.database_url.clone(), None, counting_in(url, prefix))
        .await
}

/// The Redis keys of `s`'s instances.
async fn redis_keys(s: &TestServer) -> Vec<String> {
    let client = redis::Client::open(redis_test_url()).expect("a Redis URL");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to Redis");
    redis::cmd("KEYS")
        .arg(format!("{}*", s.state.config.redis_prefix))
        .query_async(&mut conn)
        .await
        .expect("KEYS")
}

/// A service token of an organization whose tokens may make `per_minute`
/// requests a minute.
async fn limited_token(s: &TestServer, per_minute: u32) -> String {
    let (admin, org) = s.admin_and_org().await;
    let (status, body) = s
        .patch(
            &format!("/organizations/{org}"),
            &admin,
            json!({"settings": {"service_token_rate_limit_per_minute": per_minute}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    s.robot(&admin, &org, "deployer", "ci").await.token
}

/// `GET /me` with `token`: the status and the `RateLimit-*` headers.
async fn me(s: &TestServer, token: &str) -> (StatusCode, [String; 3], Option<u64>) {
    let resp = s
        .http
        .get(s.url("/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    let h = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().expect("ascii").to_owned())
            .unwrap_or_default()
    };
    let headers = [
        h("ratelimit-limit"),
        h("ratelimit-remaining"),
        h("ratelimit-reset"),
    ];
    let retry = (resp.status() == StatusCode::TOO_MANY_REQUESTS).then(|| retry_after(&resp));
    let status = resp.status();
    if status == StatusCode::TOO_MANY_REQUESTS {
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    }
    (status, headers, retry)
}

async fn token_quota_is_shared(db: Db) {
    let (a, b) = pair(db, &redis_test_url()).await;
    let token = limited_token(&a, 5).await;
    let mut allowed = 0;
    for i in 0..12 {
        let s = if i % 2 == 0 { &a } else { &b };
        let (status, [limit, remaining, reset], retry) = me(s, &token).await;
        assert_eq!(limit, "5", "request {i}");
        if status == StatusCode::OK {
            // One count for both: the remaining quota goes down by one a
            // request, whichever instance takes it.
            assert_eq!(remaining, (4 - allowed).to_string(), "request {i}");
            let reset: u64 = reset.parse().expect("a number");
            assert_eq!(reset, 12 * (allowed + 1), "request {i}");
            allowed += 1;
        } else {
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "request {i}");
            assert_eq!(remaining, "0");
            assert_eq!(reset, "60");
            assert!(retry.is_some_and(|r| (1..=12).contains(&r)), "{retry:?}");
        }
    }
    assert_eq!(allowed, 5, "five requests a minute across both instances");
    // One cell comes back every 12 s: both instances see it, once.
    for s in [&a, &b] {
        s.advance(chrono::Duration::seconds(13));
    }
    assert_eq!(me(&b, &token).await.0, StatusCode::OK);
    assert_eq!(me(&a, &token).await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.counter("tron_redis_up").await, 1);
    assert_eq!(a.counter("tron_redis_fallbacks_total").await, 0);
    // The token's count is keyed by its id, never by the token.
    let keys = redis_keys(&a).await;
    assert!(keys.iter().any(|k| k.contains(":gcra:")), "{keys:?}");
    for k in &keys {
        assert!(!k.contains(&token[8..20]), "a token in a Redis key: {k}");
    }
}

async fn login(s: &TestServer, email: &str, password: &str) -> (StatusCode, Option<u64>) {
    let resp = s
        .http
        .post(s.url("/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("send");
    let retry = (resp.status() == StatusCode::TOO_MANY_REQUESTS).then(|| retry_after(&resp));
    (resp.status(), retry)
}

async fn login_throttle_is_shared(db: Db) {
    let (a, b) = pair(db, &redis_test_url()).await;
    let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
    a.user(&email).await;
    for i in 0..5 {
        let s = if i % 2 == 0 { &a } else { &b };
        let (status, _) = login(s, &email, "wrong password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "failure {i}");
    }
    // Five failures across both instances: each refuses, even the right
    // password, for the rest of the 15 minutes.
    for s in [&a, &b] {
        let (status, retry) = login(s, &email, PASSWORD).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(
            retry.is_some_and(|r| (15 * 60 - 60..=15 * 60).contains(&r)),
            "{retry:?}"
        );
    }
    // Emails and addresses are in the keys only as keyed hashes.
    let keys = redis_keys(&a).await;
    assert!(
        keys.iter().any(|k| k.contains(":w:login_email:")),
        "{keys:?}"
    );
    assert!(keys.iter().any(|k| k.contains(":w:login_ip:")), "{keys:?}");
    let local = email.split('@').next().expect("an email");
    for k in &keys {
        assert!(!k.contains(local) && !k.contains("127.0.0.1"), "{k}");
    }
    for s in [&a, &b] {
        s.advance(chrono::Duration::minutes(15) + chrono::Duration::seconds(1));
    }
    assert_eq!(login(&b, &email, PASSWORD).await.0, StatusCode::OK);
    assert_eq!(login(&a, &email, PASSWORD).await.0, StatusCode::OK);
}

/// `TRON_REDIS_KEY_PREFIX`: two deployments sharing one Redis (here, on
/// one database too, with one token) count apart under different
/// prefixes, while the instances of one deployment share its prefix's
/// count.
async fn prefixes_keep_deployments_apart(db: Db) {
    let url = redis_test_url();
    let (blue, green) = (test_prefix(), test_prefix());
    let a = TestServer::start_configured(db, counting_in(&url, &blue)).await;
    let token = limited_token(&a, 3).await;
    for remaining in ["2", "1", "0"] {
        let (status, [_, r, _], _) = me(&a, &token).await;
        assert_eq!((status, r.as_str()), (StatusCode::OK, remaining), "blue");
    }
    assert_eq!(me(&a, &token).await.0, StatusCode::TOO_MANY_REQUESTS);
    // The other deployment has a full quota of its own.
    let other = another_instance(&a, &url, &green).await;
    for remaining in ["2", "1", "0"] {
        let (status, [_, r, _], _) = me(&other, &token).await;
        assert_eq!((status, r.as_str()), (StatusCode::OK, remaining), "green");
    }
    assert_eq!(me(&other, &token).await.0, StatusCode::TOO_MANY_REQUESTS);
    // A second instance of the first deployment finds its quota spent.
    let b = another_instance(&a, &url, &blue).await;
    let (status, [limit, remaining, _], retry) = me(&b, &token).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!((limit.as_str(), remaining.as_str()), ("3", "0"));
    assert!(retry.is_some());
    // Each deployment's keys are under its prefix, and only there.
    let (blue_keys, green_keys) = (redis_keys(&a).await, redis_keys(&other).await);
    assert!(
        blue_keys.iter().any(|k| k.contains(":gcra:")),
        "{blue_keys:?}"
    );
    assert!(
        green_keys.iter().any(|k| k.contains(":gcra:")),
        "{green_keys:?}"
    );
    assert!(blue_keys.iter().all(|k| !green_keys.contains(k)));
    assert_eq!(a.counter("tron_redis_fallbacks_total").await, 0);
    assert_eq!(other.counter("tron_redis_fallbacks_total").await, 0);
}

/// The leaked-token report's 10 calls per address a minute, across both.
async fn leaked_report_throttle_is_shared(db: Db) {
    let (a, b) = pair(db, &redis_test_url()).await;
    let mut answers = Vec::new();
    for i in 0..12 {
        let s = if i % 2 == 0 { &a } else { &b };
        let resp = s
            .http
            .post(s.url("/tokens/revoke-leaked"))
            .json(&json!({"tokens": []}))
            .send()
            .await
            .expect("send");
        answers.push(resp.status());
    }
    let ok = answers.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 10, "{answers:?}");
    assert_eq!(&answers[10..], [StatusCode::TOO_MANY_REQUESTS; 2]);
}

/// A redis-server of the test's own, on a port that stays the same across
/// restarts; killed when dropped.
struct OwnRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl OwnRedis {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut r = OwnRedis {
            port,
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        };
        r.restart();
        r
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn restart(&mut self) {
        let bin = std::env::var("TRON_TEST_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(&bin)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin} (install redis-server): {e}"));
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    async fn answers(&self) -> bool {
        let Ok(client) = redis::Client::open(self.url()) else {
            return false;
        };
        let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
            return false;
        };
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .is_ok()
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn readyz(s: &TestServer) -> Value {
    let resp = s.http.get(s.url("/readyz")).send().await.expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.expect("json")
}

async fn falls_back_while_redis_is_away(db: Db) {
    let mut redis = OwnRedis::start();
    assert!(
        until(Duration::from_secs(10), async || redis.answers().await)
            .await
            .is_some(),
        "redis-server did not start"
    );
    let url = redis.url();
    let a = TestServer::start_configured(db, |c| {
        c.redis = Some(redis::Client::open(url.as_str()).expect("a Redis URL"));
    })
    .await;
    let token = limited_token(&a, 10).await;
    for remaining in ["9", "8"] {
        let (status, [_, r, _], _) = me(&a, &token).await;
        assert_eq!((status, r.as_str()), (StatusCode::OK, remaining));
    }
    assert_eq!(readyz(&a).await, json!({"status": "ready", "redis": "up"}));
    assert_eq!(a.counter("tron_redis_up").await, 1);

    redis.kill();
    // Served on the instance's own count, which saw the first two.
    let mut allowed = 0;
    loop {
        let (status, [_, r, _], _) = me(&a, &token).await;
        if status != StatusCode::OK {
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
            break;
        }
        assert_eq!(r, (7 - allowed).to_string());
        allowed += 1;
        assert!(allowed <= 8, "the local limit did not hold");
    }
    assert_eq!(allowed, 8);
    let ready = readyz(&a).await;
    assert_eq!(ready["status"], "degraded", "{ready}");
    assert_eq!(ready["redis"], "down", "{ready}");
    assert!(ready["detail"]
        .as_str()
        .is_some_and(|d| d.contains("per instance")));
    assert_eq!(a.counter("tron_redis_up").await, 0);
    assert!(a.counter("tron_redis_fallbacks_total").await >= 9);
    // Logins still work, and so do their throttles.
    assert_eq!(
        login(&a, crate::kit::ADMIN_EMAIL, PASSWORD).await.0,
        StatusCode::OK
    );

    redis.restart();
    let back = until(Duration::from_secs(20), async || {
        readyz(&a).await["redis"] == "up"
    })
    .await;
    assert!(back.is_some(), "the instance did not find Redis again");
    // Redis came back empty: its count, not the exhausted local one, answers.
    let (status, [_, r, _], _) = me(&a, &token).await;
    assert_eq!((status, r.as_str()), (StatusCode::OK, "9"));
    assert_eq!(a.counter("tron_redis_up").await, 1);
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::kit::Db::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(crate::kit::Db::Postgres).await
            }
        }
    )*};
}

on_both!(
    token_quota_is_shared,
    login_throttle_is_shared,
    leaked_report_throttle_is_shared,
    prefixes_keep_deployments_apart,
    falls_back_while_redis_is_away
);
