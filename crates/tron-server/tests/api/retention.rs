//! Issue 20: retention. With the injected clock moved on, one purge pass
//! (small batches, so it loops) deletes the audit events older than the
//! audit retention and the tokens revoked or expired more than the token
//! retention ago, keeps everything else, and keeps a pruned token's audit
//! history while that is within its own retention.
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;
use tron_server::retention::{purge, Purged};

use crate::kit::{items, o, set, str_of, Db, TestServer};

async fn token_names(
    s: &TestServer,
    admin: &str,
    org: &str,
    sa: &str,
) -> std::collections::BTreeSet<String> {
    let (status, body) = s
        .get(&o(org, &format!("/service-accounts/{sa}/tokens")), admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    items(&body).iter().map(|t| str_of(&t["name"])).collect()
}

async fn old_rows_are_purged(db: Db) {
    let s = TestServer::start_configured(db, |c| {
        c.audit_retention = Some(Duration::days(100));
    })
    .await;
    let (ann, org) = s.admin_and_org().await;
    let robot = s.robot(&ann, &org, "deployer", "ci").await;
    let sa = robot.id.clone();
    let (old, _) = s
        .service_token(&ann, &org, &sa, json!({"name": "old"}))
        .await;
    let (status, body) = s
        .delete(
            &o(&org, &format!("/service-accounts/{sa}/tokens/{old}")),
            &ann,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let expires = (s.state.now() + Duration::days(30)).to_rfc3339();
    s.service_token(
        &ann,
        &org,
        &sa,
        json!({"name": "expiring", "expires_at": expires}),
    )
    .await;
    assert_eq!(
        token_names(&s, &ann, &org, &sa).await,
        set(["ci", "old", "expiring"])
    );
    let day0 = s.audit_events(&ann, &org, "").await.len();
    assert!(day0 >= 4, "{day0}");

    // Nothing is old enough yet.
    assert_eq!(purge(&s.state, 2).await, Purged::default());

    // Day 91: the revoked token and the sessions of day 0 (expired after
    // 12 hours) are past the 90 days; the token that expired on day 30 and
    // the audit log (100 days) are not.
    s.advance(Duration::days(91));
    let purged = purge(&s.state, 2).await;
    assert_eq!(purged.audit_events, 0);
    assert!(purged.tokens >= 3, "{purged:?}");
    assert_eq!(
        token_names(&s, &ann, &org, &sa).await,
        set(["ci", "expiring"])
    );
    // The pruned token's history stays.
    assert_eq!(
        s.audit_events_about(&ann, &org, "service_token.revoke", &old)
            .await
            .len(),
        1
    );
    // Day 121: the token expired on day 30 is pruned too.
    s.advance(Duration::days(30));
    let (status, body) = s
        .patch(&o(&org, ""), &ann, json!({"name": "Acme Two"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let purged = purge(&s.state, 2).await;
    // Day 0's events (the organization's and the platform's) are past
    // the 100 days; today's rename stays.
    assert!(purged.audit_events >= day0 as u64, "{purged:?}");
    assert_eq!(purged.tokens, 1, "{purged:?}");
    assert_eq!(token_names(&s, &ann, &org, &sa).await, set(["ci"]));
    let left = s.audit_events(&ann, &org, "").await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["action"], "organization.update");
    // The active token still works; a second pass finds nothing.
    assert_eq!(s.get("/me", &robot.token).await.0, StatusCode::OK);
    assert_eq!(purge(&s.state, 2).await, Purged::default());
}

mod old_rows_are_purged {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::old_rows_are_purged(crate::kit::Db::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::old_rows_are_purged(crate::kit::Db::Postgres).await
    }
}
