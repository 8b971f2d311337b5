//! Issue 5: caches that never outlive a change, per-token rate limits,
//! metrics, and several instances on one PostgreSQL database.
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::contract;
use crate::kit::{env_scope, retry_after, until, Db, Robot, TestServer};

contract!(
    cached_answers_never_outlive_changes,
    cached_instances_never_outlive_changes,
    service_tokens_are_rate_limited,
    metrics_expose_requests_auth_cache_and_limits,
    cache_entries_follow_distinct_tokens,
);

/// An organization with an admin, an environment `staging`, and a service
/// account in an editor group scoped to it, with a token.
struct Fixture {
    org: String,
    staging: String,
    sa: String,
    member: String,
    group: String,
    token_id: String,
    token: String,
}

async fn fixture(s: &TestServer) -> Fixture {
    let org = s.org(&s.root, "Acme").await;
    let staging = s.env(&s.root, &org, "staging").await;
    let group = s
        .group(
            &s.root,
            &org,
            "staging editors",
            "editor",
            env_scope(&[&staging]),
        )
        .await;
    let Robot {
        id: sa,
        member,
        token_id,
        token,
    } = s.robot_in(&s.root, &org, "ci-deployer", &group, "ci").await;
    Fixture {
        org,
        staging,
        sa,
        member,
        group,
        token_id,
        token,
    }
}

async fn cached_answers_never_outlive_changes(s: TestServer) {
    let f = fixture(&s).await;
    let env_path = format!("/organizations/{}/environments/{}", f.org, f.staging);
    // Warm the caches, then change things: the very next request sees it.
    for _ in 0..3 {
        assert_eq!(s.get(&env_path, &f.token).await.0, StatusCode::OK);
    }
    s.delete(
        &format!(
            "/organizations/{}/groups/{}/members/{}",
            f.org, f.group, f.member
        ),
        &s.root,
    )
    .await;
    assert_eq!(s.get(&env_path, &f.token).await.0, StatusCode::FORBIDDEN);
    s.join(&s.root, &f.org, &f.group, &f.member).await;
    assert_eq!(s.get(&env_path, &f.token).await.0, StatusCode::OK);
    // A scope change.
    let other = s.env(&s.root, &f.org, "production").await;
    let (st, _) = s
        .patch(
            &format!("/organizations/{}/groups/{}", f.org, f.group),
            &s.root,
            json!({"scope": {"type": "environment", "environment_ids": [other]}}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(s.get(&env_path, &f.token).await.0, StatusCode::FORBIDDEN);
    // Disable and enable.
    let sa_path = format!("/organizations/{}/service-accounts/{}", f.org, f.sa);
    s.patch(&sa_path, &s.root, json!({"status": "disabled"}))
        .await;
    let (st, body) = s.get("/me", &f.token).await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("principal_disabled"))
    );
    s.patch(&sa_path, &s.root, json!({"status": "active"}))
        .await;
    assert_eq!(s.get("/me", &f.token).await.0, StatusCode::OK);
    // Settings reach the cached token at once (rate limit of 1 a minute).
    s.patch(
        &format!("/organizations/{}", f.org),
        &s.root,
        json!({"settings": {"service_token_rate_limit_per_minute": 1}}),
    )
    .await;
    assert_eq!(s.get("/me", &f.token).await.0, StatusCode::OK);
    assert_eq!(
        s.get("/me", &f.token).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    s.patch(
        &format!("/organizations/{}", f.org),
        &s.root,
        json!({"settings": {"service_token_rate_limit_per_minute": 600}}),
    )
    .await;
    // Revocation.
    assert_eq!(s.get("/me", &f.token).await.0, StatusCode::OK);
    s.delete(&format!("{sa_path}/tokens/{}", f.token_id), &s.root)
        .await;
    let (st, body) = s.get("/me", &f.token).await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_revoked"))
    );
    // A user disabled after a cached request.
    let (ann_id, ann) = s.user("ann@example.com").await;
    assert_eq!(s.get("/me", &ann).await.0, StatusCode::OK);
    s.set_active(&ann_id, false).await;
    assert_eq!(s.get("/me", &ann).await.0, StatusCode::UNAUTHORIZED);
    // Expiry is checked on every request, cached or not.
    let at = (chrono::Utc::now() + chrono::Duration::minutes(5)).to_rfc3339();
    let (_, t2) = s
        .service_token(
            &s.root,
            &f.org,
            &f.sa,
            json!({"name": "short", "expires_at": at}),
        )
        .await;
    assert_eq!(s.get("/me", &t2).await.0, StatusCode::OK);
    s.advance(chrono::Duration::minutes(6));
    let (st, body) = s.get("/me", &t2).await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_expired"))
    );
    // Deleting the organization.
    let (_, t3) = s
        .service_token(&s.root, &f.org, &f.sa, json!({"name": "third"}))
        .await;
    assert_eq!(s.get("/me", &t3).await.0, StatusCode::OK);
    let (st, body) = s
        .delete(&format!("/organizations/{}", f.org), &s.root)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let (st, body) = s.get("/me", &t3).await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
}

const INSTANCE_HITS: &str = "tron_cache_requests_total{cache=\"instance\",result=\"hit\"}";

/// Instance reads come from the cache, and every change to an instance
/// (update, deployment, deletion, and deleting its environment or its
/// application) is seen by the very next read.
async fn cached_instances_never_outlive_changes(s: TestServer) {
    let f = fixture(&s).await;
    let app = s.app(&s.root, &f.org, "web").await;
    let path = format!(
        "/organizations/{}/applications/{app}/instances/{}",
        f.org, f.staging
    );
    let image = async |token: &str| {
        let (st, body) = s.get(&path, token).await;
        (st, body["image"].as_str().map(str::to_owned))
    };
    let (st, _) = s.put(&path, &s.root, Some(json!({"image": "web:1"}))).await;
    assert_eq!(st, StatusCode::CREATED);
    // Warm: the second read is served by the cache.
    let hits = s.counter(INSTANCE_HITS).await;
    for _ in 0..2 {
        assert_eq!(
            image(&f.token).await,
            (StatusCode::OK, Some("web:1".into()))
        );
    }
    assert!(
        s.counter(INSTANCE_HITS).await > hits,
        "the instance cache was not used"
    );
    // An update by someone else, then a deployment by the service account.
    let (st, _) = s.put(&path, &s.root, Some(json!({"image": "web:2"}))).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        image(&f.token).await,
        (StatusCode::OK, Some("web:2".into()))
    );
    let (st, _) = s
        .post(
            &format!("{path}/deployments"),
            &f.token,
            json!({"image": "web:3"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(
        image(&f.token).await,
        (StatusCode::OK, Some("web:3".into()))
    );
    // Deletion, and the same instance created again.
    assert_eq!(s.delete(&path, &s.root).await.0, StatusCode::NO_CONTENT);
    assert_eq!(image(&f.token).await.0, StatusCode::NOT_FOUND);
    s.put(&path, &s.root, Some(json!({"image": "web:4"}))).await;
    assert_eq!(
        image(&f.token).await,
        (StatusCode::OK, Some("web:4".into()))
    );
    assert_eq!(
        image(&f.token).await,
        (StatusCode::OK, Some("web:4".into()))
    );
    // Deleting the application takes its instances with it.
    s.delete(
        &format!("/organizations/{}/applications/{app}", f.org),
        &s.root,
    )
    .await;
    assert_eq!(image(&s.root).await.0, StatusCode::NOT_FOUND);
    // Same with the environment (an application of the same id cannot come
    // back, so a new one is used).
    let app2 = s.app(&s.root, &f.org, "api").await;
    let path2 = format!(
        "/organizations/{}/applications/{app2}/instances/{}",
        f.org, f.staging
    );
    s.put(&path2, &s.root, Some(json!({"image": "api:1"})))
        .await;
    for _ in 0..2 {
        assert_eq!(s.get(&path2, &s.root).await.0, StatusCode::OK);
    }
    s.delete(
        &format!("/organizations/{}/environments/{}", f.org, f.staging),
        &s.root,
    )
    .await;
    assert_eq!(s.get(&path2, &s.root).await.0, StatusCode::NOT_FOUND);
}

async fn service_tokens_are_rate_limited(s: TestServer) {
    let f = fixture(&s).await;
    s.patch(
        &format!("/organizations/{}", f.org),
        &s.root,
        json!({"settings": {"service_token_rate_limit_per_minute": 3}}),
    )
    .await;
    for expected_remaining in [2, 1, 0] {
        let resp = s
            .http
            .get(s.url("/me"))
            .bearer_auth(&f.token)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::OK);
        let h = resp.headers();
        assert_eq!(h["ratelimit-limit"], "3");
        assert_eq!(
            h["ratelimit-remaining"],
            expected_remaining.to_string().as_str()
        );
        let reset: u64 = h["ratelimit-reset"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("number");
        assert!((1..=60).contains(&reset), "{reset}");
    }
    let resp = s
        .http
        .get(s.url("/me"))
        .bearer_auth(&f.token)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = retry_after(&resp);
    assert!((1..=20).contains(&retry), "{retry}");
    assert_eq!(resp.headers()["ratelimit-remaining"], "0");
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");
    // Another token of the same account has its own quota; users are not limited.
    let (_, other) = s
        .service_token(&s.root, &f.org, &f.sa, json!({"name": "other"}))
        .await;
    assert_eq!(s.get("/me", &other).await.0, StatusCode::OK);
    // Under an organization, the context's authentication is the request's
    // only one: each request takes one from the quota.
    for (path, expected_remaining) in [
        (format!("/organizations/{}", f.org), "1"),
        (format!("/organizations/{}/environments", f.org), "0"),
    ] {
        let resp = s
            .http
            .get(s.url(&path))
            .bearer_auth(&other)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_eq!(
            resp.headers()["ratelimit-remaining"],
            expected_remaining,
            "{path}"
        );
    }
    for _ in 0..10 {
        let resp = s
            .http
            .get(s.url("/me"))
            .bearer_auth(&s.root)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(!resp.headers().contains_key("ratelimit-limit"));
    }
}

async fn metrics_expose_requests_auth_cache_and_limits(s: TestServer) {
    let f = fixture(&s).await;
    s.patch(
        &format!("/organizations/{}", f.org),
        &s.root,
        json!({"settings": {"service_token_rate_limit_per_minute": 2}}),
    )
    .await;
    for _ in 0..3 {
        s.get(
            &format!("/organizations/{}/environments/{}", f.org, f.staging),
            &f.token,
        )
        .await;
    }
    let resp = s.http.get(s.url("/metrics")).send().await.expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.expect("text");
    for needle in [
        "tron_http_requests_total{method=\"GET\",route=\"/api/v1/organizations/{org}/environments/{env_id}\",status=\"200\"}",
        "tron_http_request_duration_seconds_bucket",
        "tron_authentications_total{kind=\"service\",outcome=\"ok\"}",
        "tron_authentications_total{kind=\"service\",outcome=\"rate_limited\"} 1",
        "tron_cache_requests_total{cache=\"token\",result=\"hit\"}",
        "tron_cache_requests_total{cache=\"access\",result=\"miss\"}",
        "tron_rate_limited_total{limiter=\"service_token\"} 1",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    assert!(!text.contains(&f.token[8..]), "a token leaked into metrics");
}

const TOKEN_ENTRIES: &str = "tron_cache_entries{cache=\"token\"}";

/// `tron_cache_entries` (what the scale benchmark reads to say how many
/// principals are cached): one entry per distinct token presented, however
/// often, and one fewer once a token is revoked.
async fn cache_entries_follow_distinct_tokens(s: TestServer) {
    let f = fixture(&s).await;
    let mut tokens = vec![f.token.clone()];
    let mut ids = Vec::new();
    for i in 0..3 {
        let (id, token) = s
            .service_token(&s.root, &f.org, &f.sa, json!({"name": format!("t{i}")}))
            .await;
        ids.push(id);
        tokens.push(token);
    }
    let before = s.counter(TOKEN_ENTRIES).await;
    for _ in 0..3 {
        for t in &tokens {
            assert_eq!(s.get("/me", t).await.0, StatusCode::OK);
        }
    }
    assert_eq!(s.counter(TOKEN_ENTRIES).await, before + 4);
    let (st, body) = s
        .delete(
            &format!(
                "/organizations/{}/service-accounts/{}/tokens/{}",
                f.org, f.sa, ids[0]
            ),
            &s.root,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(s.counter(TOKEN_ENTRIES).await, before + 3);
}

/// Two servers on one PostgreSQL database: a change made on one is honoured
/// by the other (whose caches were warm) through LISTEN/NOTIFY. The delays
/// are printed; the test only requires them to be far below the 30 s
/// cache lifetime, so it cannot pass by expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn multi_instance_invalidation_on_postgres() {
    let a = TestServer::start(Db::Postgres).await;
    let b = TestServer::start_on(Db::Postgres, a.database_url.clone(), None).await;
    // Let b's listener connect.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let f = fixture(&a).await;
    let env_path = format!("/organizations/{}/environments/{}", f.org, f.staging);
    let mut delays = Vec::new();

    // Group removal.
    for _ in 0..3 {
        assert_eq!(b.get(&env_path, &f.token).await.0, StatusCode::OK);
    }
    a.delete(
        &format!(
            "/organizations/{}/groups/{}/members/{}",
            f.org, f.group, f.member
        ),
        &a.root,
    )
    .await;
    let d = until(Duration::from_secs(5), async || {
        b.get(&env_path, &f.token).await.0 == StatusCode::FORBIDDEN
    })
    .await;
    delays.push(("group member removal", d));
    a.join(&a.root, &f.org, &f.group, &f.member).await;
    until(Duration::from_secs(5), async || {
        b.get(&env_path, &f.token).await.0 == StatusCode::OK
    })
    .await;

    // Disable.
    let sa_path = format!("/organizations/{}/service-accounts/{}", f.org, f.sa);
    assert_eq!(b.get("/me", &f.token).await.0, StatusCode::OK);
    a.patch(&sa_path, &a.root, json!({"status": "disabled"}))
        .await;
    let d = until(Duration::from_secs(5), async || {
        b.get("/me", &f.token).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
    delays.push(("service account disable", d));
    a.patch(&sa_path, &a.root, json!({"status": "active"}))
        .await;
    until(Duration::from_secs(5), async || {
        b.get("/me", &f.token).await.0 == StatusCode::OK
    })
    .await;

    // Revoke.
    assert_eq!(b.get("/me", &f.token).await.0, StatusCode::OK);
    a.delete(&format!("{sa_path}/tokens/{}", f.token_id), &a.root)
        .await;
    let d = until(Duration::from_secs(5), async || {
        b.get("/me", &f.token).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
    delays.push(("token revocation", d));

    // The listener loses its connection: it reconnects and flushes, so a
    // change made meanwhile is still honoured.
    let (t2_id, t2) = a
        .service_token(&a.root, &f.org, &f.sa, json!({"name": "second"}))
        .await;
    assert_eq!(b.get("/me", &t2).await.0, StatusCode::OK);
    let admin = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&a.database_url)
        .await
        .expect("connect");
    let killed: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
    )
    .fetch_all(&admin)
    .await
    .expect("terminate listeners");
    assert!(!killed.is_empty(), "the listeners' connections were found");
    a.delete(&format!("{sa_path}/tokens/{t2_id}"), &a.root)
        .await;
    let d = until(Duration::from_secs(5), async || {
        b.get("/me", &t2).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
    delays.push(("token revocation while the listener reconnects", d));

    // A deployment: the other instance's cached copy of the instance follows.
    let app = a.app(&a.root, &f.org, "web").await;
    let path = format!(
        "/organizations/{}/applications/{app}/instances/{}",
        f.org, f.staging
    );
    a.put(&path, &a.root, Some(json!({"image": "web:1"}))).await;
    for _ in 0..3 {
        assert_eq!(b.get(&path, &b.root).await.1["image"], "web:1");
    }
    let (st, _) = a
        .post(
            &format!("{path}/deployments"),
            &a.root,
            json!({"image": "web:2"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let d = until(Duration::from_secs(5), async || {
        b.get(&path, &b.root).await.1["image"] == "web:2"
    })
    .await;
    delays.push(("deployment (cached instance read)", d));

    for (what, d) in &delays {
        match d {
            Some(d) => println!(
                "multi-instance: {what} honoured by the other instance after {:.1} ms",
                d.as_secs_f64() * 1000.0
            ),
            None => println!("multi-instance: {what} NOT honoured within 5 s"),
        }
    }
    assert!(delays.iter().all(|(_, d)| d.is_some()), "{delays:?}");
    b.stop().await;
    a.stop().await;
}
