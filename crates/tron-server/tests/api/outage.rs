//! Issue 13, defects 11 and 13: two instances on one PostgreSQL database,
//! the second one reaching it through a proxy that can freeze or cut its
//! connections. A revocation made on the first must reach the second within
//! a second or so whatever happens to the second's connections, and an
//! outage must answer clean, quick `503`s.
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::kit::{until, Db, TestServer};
use crate::proxy::{upstream_of, Proxy};

/// How soon a revocation must reach the other instance: the SPEC's 1 s
/// with a margin for a loaded test machine, and far below the 30 s cache
/// lifetime, so expiry cannot pass the test.
const PROMPTLY: Duration = Duration::from_secs(2);

struct Pair {
    a: TestServer,
    b: TestServer,
    proxy: Proxy,
    org: String,
    sa: String,
}

/// `a` on the database, `b` on the same database through the proxy, an
/// organization with a service account; `b`'s listener is listening.
async fn pair() -> Pair {
    let a = TestServer::start(Db::Postgres).await;
    let proxy = Proxy::start(upstream_of(&a.database_url)).await;
    let b = TestServer::start_on(Db::Postgres, proxy.url_for(&a.database_url), None).await;
    let org = a.org(&a.root, "Acme").await;
    let (sa, _) = a.service_account(&a.root, &org, "ci").await;
    assert!(
        until(Duration::from_secs(5), async || b
            .state
            .cache
            .live()
            .load(std::sync::atomic::Ordering::SeqCst))
        .await
        .is_some(),
        "b's listener started"
    );
    Pair {
        a,
        b,
        proxy,
        org,
        sa,
    }
}

impl Pair {
    /// A new token, used (and so cached) on `b`.
    async fn cached_token(&self, name: &str) -> (String, String) {
        let (id, token) = self
            .a
            .service_token(&self.a.root, &self.org, &self.sa, json!({"name": name}))
            .await;
        for _ in 0..3 {
            assert_eq!(self.b.get("/me", &token).await.0, StatusCode::OK);
        }
        (id, token)
    }

    async fn revoke_on_a(&self, id: &str) {
        let (status, body) = self
            .a
            .delete(
                &format!(
                    "/organizations/{}/service-accounts/{}/tokens/{id}",
                    self.org, self.sa
                ),
                &self.a.root,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }

    /// How long until `b` refuses `token`, if within [`PROMPTLY`].
    async fn refused_on_b_after(&self, token: &str) -> Option<Duration> {
        until(PROMPTLY, async || {
            self.b.get("/me", token).await.0 == StatusCode::UNAUTHORIZED
        })
        .await
    }
}

/// Defect 11: the listener's connection goes half-open (no error, no
/// data). Before the fix `b` never noticed and kept accepting the revoked
/// token from its cache for up to 30 s; now the missing heartbeat gives it
/// away, `b` flushes and reconnects, and the revocation is honoured.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_half_open_listener_is_found_and_revocations_still_arrive() {
    let p = pair().await;
    let (id, token) = p.cached_token("ci").await;
    assert!(
        p.proxy.freeze_listeners() >= 1,
        "b's listener connection was found"
    );
    p.revoke_on_a(&id).await;
    let d = p.refused_on_b_after(&token).await;
    println!("half-open listener: revocation honoured by the other instance after {d:?}");
    assert!(d.is_some(), "b kept accepting a revoked token");
    // And b listens again: the next revocation arrives the usual way.
    let (id, token) = p.cached_token("second").await;
    p.revoke_on_a(&id).await;
    assert!(p.refused_on_b_after(&token).await.is_some());
}

/// Defect 13: while `b` cannot reach the database, `/readyz` answers `503`
/// at once and requests answer `503 unavailable` (before: `/readyz` hung
/// and requests answered `500`); afterwards a revocation reaches `b`
/// promptly, though its request pool reconnected before its listener.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_outage_answers_503_and_invalidation_resumes_after_it() {
    let p = pair().await;
    let (id, token) = p.cached_token("ci").await;
    p.proxy.cut();

    let started = Instant::now();
    let ready =
        p.b.http
            .get(p.b.url("/readyz"))
            .timeout(Duration::from_secs(4))
            .send()
            .await
            .expect("readyz answers during the outage");
    println!(
        "outage: /readyz answered {} after {:?}",
        ready.status(),
        started.elapsed()
    );
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    let started = Instant::now();
    let (status, body) =
        p.b.post(
            &format!("/organizations/{}/environments", p.org),
            &p.b.root,
            json!({"name": "during-outage"}),
        )
        .await;
    println!(
        "outage: a write answered {status} after {:?}",
        started.elapsed()
    );
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    assert!(!body.to_string().contains("database"), "{body}");

    // While b is cut off, a revokes; then b's database comes back.
    p.revoke_on_a(&id).await;
    p.proxy.restore().await;
    let d = p.refused_on_b_after(&token).await;
    println!("outage: revocation made during it honoured by b {d:?} after the restore");
    assert!(d.is_some(), "b accepted a token revoked during its outage");
    let (id, token) = p.cached_token("after").await;
    p.revoke_on_a(&id).await;
    let d = p.refused_on_b_after(&token).await;
    println!("outage: revocation after it honoured by b after {d:?}");
    assert!(d.is_some());
}
