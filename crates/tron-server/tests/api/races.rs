//! Issue 13: races. Parallel copies of one change answer as if they had
//! come one after the other — one success and one audit event, the rest the
//! idempotent no-op or `404`, never a `5xx` — on both backends; on
//! PostgreSQL they really run at once.
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::contract;
use crate::kit::{fresh_database, items, str_of, Db, TestServer};

contract!(
    rotations_with_grace_mint_one_successor,
    concurrent_instance_creation_creates_once,
    concurrent_service_token_revocations_audit_once,
    concurrent_personal_token_revocations_audit_once,
    concurrent_disables_audit_once,
    concurrent_service_account_deletions_delete_once,
    concurrent_organization_deletions_delete_once,
    deletions_race_deletions_and_updates,
    token_creation_races_service_account_deletion,
);

/// Parallel copies of each outbound call: `calls` are `(method, path,
/// token, body)`. Returns each call's status and body, in order.
async fn burst(
    s: &TestServer,
    calls: Vec<(Method, String, String, Option<Value>)>,
) -> Vec<(StatusCode, Value)> {
    let mut set = tokio::task::JoinSet::new();
    for (i, (method, path, token, body)) in calls.into_iter().enumerate() {
        let mut req = s.http.request(method, s.url(&path)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        set.spawn(async move {
            let resp = req.send().await.expect("send");
            let status = resp.status();
            let text = resp.text().await.expect("body");
            let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
            (i, status, body)
        });
    }
    let mut out = set.join_all().await;
    out.sort_by_key(|(i, _, _)| *i);
    out.into_iter().map(|(_, st, b)| (st, b)).collect()
}

/// `n` copies of one call.
fn copies(
    n: usize,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Vec<(Method, String, String, Option<Value>)> {
    (0..n)
        .map(|_| {
            (
                method.clone(),
                path.to_owned(),
                token.to_owned(),
                body.clone(),
            )
        })
        .collect()
}

fn count(results: &[(StatusCode, Value)], status: StatusCode) -> usize {
    results.iter().filter(|(st, _)| *st == status).count()
}

/// Events of the organization (`Some`) or the platform log with `action`
/// about `target`, read by the superuser.
async fn events(s: &TestServer, org: Option<&str>, action: &str, target: &str) -> Vec<Value> {
    let base = match org {
        Some(o) => format!("/organizations/{o}/audit-events"),
        None => "/audit-events".to_owned(),
    };
    let (status, body) = s
        .get(
            &format!("{base}?limit=200&action={action}&target_id={target}"),
            &s.root,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    items(&body)
}

fn sa_path(org: &str, sa: &str) -> String {
    format!("/organizations/{org}/service-accounts/{sa}")
}

// ---- rotation ---------------------------------------------------------------

/// Twenty parallel rotations of one token with a grace period, half by an
/// admin and half by the token itself: the token stays active through its
/// grace period, yet exactly one rotation succeeds; the rest answer `409`.
async fn rotations_with_grace_mint_one_successor(s: TestServer) {
    let org = s.org(&s.root, "Acme").await;
    let (sa, _) = s.service_account(&s.root, &org, "ci").await;
    for (round, grace) in [30, 86_400].into_iter().enumerate() {
        let name = format!("r{round}");
        let (id, secret) = s
            .service_token(&s.root, &org, &sa, json!({"name": name}))
            .await;
        let admin = format!("{}/tokens/{id}/rotate", sa_path(&org, &sa));
        let body = Some(json!({"grace_period_seconds": grace}));
        let calls = (0..20)
            .map(|i| {
                if i % 2 == 0 {
                    (Method::POST, admin.clone(), s.root.clone(), body.clone())
                } else {
                    (
                        Method::POST,
                        "/me/token/rotate".to_owned(),
                        secret.clone(),
                        body.clone(),
                    )
                }
            })
            .collect();
        let results = burst(&s, calls).await;
        assert_eq!(count(&results, StatusCode::CREATED), 1, "{results:?}");
        assert_eq!(count(&results, StatusCode::CONFLICT), 19, "{results:?}");
        for (status, body) in &results {
            if *status == StatusCode::CONFLICT {
                assert_eq!(body["error"]["code"], "conflict", "{body}");
            }
        }
        let (_, list) = s
            .get(&format!("{}/tokens?limit=200", sa_path(&org, &sa)), &s.root)
            .await;
        let named = items(&list)
            .into_iter()
            .filter(|t| t["name"] == name.as_str())
            .count();
        assert_eq!(named, 2, "the token and its one successor: {list}");
        assert_eq!(
            events(&s, Some(&org), "service_token.rotate", &id)
                .await
                .len(),
            1
        );
        // The old token still works, through its grace period.
        let (status, _) = s.get("/me", &secret).await;
        assert_eq!(status, StatusCode::OK);
    }
}

// ---- instances --------------------------------------------------------------

/// Ten parallel `PUT`s of an instance that does not exist yet: one creates
/// it (`201`, one `instance.create`), the others update it (`200`).
async fn concurrent_instance_creation_creates_once(s: TestServer) {
    let org = s.org(&s.root, "Acme").await;
    let env = s.env(&s.root, &org, "staging").await;
    for round in 0..3 {
        let app = s.app(&s.root, &org, &format!("web-{round}")).await;
        let path = format!("/organizations/{org}/applications/{app}/instances/{env}");
        let calls = (0..10)
            .map(|i| {
                (
                    Method::PUT,
                    path.clone(),
                    s.root.clone(),
                    Some(json!({"image": format!("web:{i}")})),
                )
            })
            .collect();
        let results = burst(&s, calls).await;
        assert_eq!(count(&results, StatusCode::CREATED), 1, "{results:?}");
        assert_eq!(count(&results, StatusCode::OK), 9, "{results:?}");
        let target = format!("{app}:{env}");
        assert_eq!(
            events(&s, Some(&org), "instance.create", &target)
                .await
                .len(),
            1
        );
        assert_eq!(
            events(&s, Some(&org), "instance.update", &target)
                .await
                .len(),
            9
        );
        let (status, inst) = s.get(&path, &s.root).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(inst["replicas"], 1, "{inst}");
    }
}

// ---- one-shot changes -------------------------------------------------------

/// Ten parallel revocations of one service token: each answers `204`
/// (revoking is idempotent), one writes `service_token.revoke`.
async fn concurrent_service_token_revocations_audit_once(s: TestServer) {
    let org = s.org(&s.root, "Acme").await;
    let (sa, _) = s.service_account(&s.root, &org, "ci").await;
    for round in 0..3 {
        let (id, _) = s
            .service_token(&s.root, &org, &sa, json!({"name": format!("t{round}")}))
            .await;
        let path = format!("{}/tokens/{id}", sa_path(&org, &sa));
        let results = burst(&s, copies(10, Method::DELETE, &path, &s.root, None)).await;
        assert_eq!(count(&results, StatusCode::NO_CONTENT), 10, "{results:?}");
        let revokes = events(&s, Some(&org), "service_token.revoke", &id).await;
        assert_eq!(revokes.len(), 1, "round {round}");
    }
}

/// The same for `DELETE /me/tokens/{id}` (`personal_token.revoke`).
async fn concurrent_personal_token_revocations_audit_once(s: TestServer) {
    for round in 0..3 {
        let (status, pat) = s
            .post("/me/tokens", &s.root, json!({"name": format!("p{round}")}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let id = str_of(&pat["id"]);
        let path = format!("/me/tokens/{id}");
        let results = burst(&s, copies(10, Method::DELETE, &path, &s.root, None)).await;
        assert_eq!(count(&results, StatusCode::NO_CONTENT), 10, "{results:?}");
        let revokes = events(&s, None, "personal_token.revoke", &id).await;
        assert_eq!(revokes.len(), 1, "round {round}");
    }
}

/// Ten parallel `PATCH {status: disabled}` (then `active`) of one service
/// account: each answers `200` with the new status, one writes the event.
async fn concurrent_disables_audit_once(s: TestServer) {
    let org = s.org(&s.root, "Acme").await;
    for round in 0..3 {
        let (sa, _) = s
            .service_account(&s.root, &org, &format!("ci-{round}"))
            .await;
        let path = sa_path(&org, &sa);
        for (status, action) in [("disabled", "disable"), ("active", "enable")] {
            let body = Some(json!({"status": status}));
            let results = burst(&s, copies(10, Method::PATCH, &path, &s.root, body)).await;
            assert_eq!(count(&results, StatusCode::OK), 10, "{results:?}");
            for (_, sa) in &results {
                assert_eq!(sa["status"], status, "{sa}");
            }
            let action = format!("service_account.{action}");
            assert_eq!(
                events(&s, Some(&org), &action, &sa).await.len(),
                1,
                "round {round}: {action}"
            );
        }
    }
}

/// Ten parallel deletions of one service account: one `204` and one
/// `service_account.delete`, the rest `404`.
async fn concurrent_service_account_deletions_delete_once(s: TestServer) {
    let org = s.org(&s.root, "Acme").await;
    for round in 0..3 {
        let (sa, _) = s
            .service_account(&s.root, &org, &format!("ci-{round}"))
            .await;
        s.service_token(&s.root, &org, &sa, json!({"name": "ci"}))
            .await;
        let path = sa_path(&org, &sa);
        let results = burst(&s, copies(10, Method::DELETE, &path, &s.root, None)).await;
        assert_eq!(count(&results, StatusCode::NO_CONTENT), 1, "{results:?}");
        assert_eq!(count(&results, StatusCode::NOT_FOUND), 9, "{results:?}");
        let deletes = events(&s, Some(&org), "service_account.delete", &sa).await;
        assert_eq!(deletes.len(), 1, "round {round}");
    }
}

/// Ten parallel deletions of one organization: one `204` and one
/// `organization.delete` (platform log), the rest `404`.
async fn concurrent_organization_deletions_delete_once(s: TestServer) {
    for round in 0..3 {
        let org = s.org(&s.root, &format!("Acme {round}")).await;
        let path = format!("/organizations/{org}");
        let results = burst(&s, copies(10, Method::DELETE, &path, &s.root, None)).await;
        assert_eq!(count(&results, StatusCode::NO_CONTENT), 1, "{results:?}");
        assert_eq!(count(&results, StatusCode::NOT_FOUND), 9, "{results:?}");
        let deletes = events(&s, None, "organization.delete", &org).await;
        assert_eq!(deletes.len(), 1, "round {round}");
    }
}

/// Deleting an environment, an application, a group or a member ten times
/// at once: one `204` and one event, the rest `404`.
/// An update racing a deletion either happens before it (with its event)
/// or answers `404` (with none).
async fn deletions_race_deletions_and_updates(s: TestServer) {
    s.user("bob@example.com").await;
    for round in 0..2 {
        let org = s.org(&s.root, &format!("Acme {round}")).await;
        let o = |p: &str| format!("/organizations/{org}{p}");
        let env = s.env(&s.root, &org, "staging").await;
        let app = s.app(&s.root, &org, "web").await;
        let group = s.org_group(&s.root, &org, "Readers", "viewer").await;
        let member = s.add_member(&s.root, &org, "bob@example.com").await;
        for (path, what, deleted, patch) in [
            (
                o(&format!("/environments/{env}")),
                "environment",
                "environment.delete",
                Some(json!({"name": "qa"})),
            ),
            (
                o(&format!("/applications/{app}")),
                "application",
                "application.delete",
                Some(json!({"name": "api"})),
            ),
            (
                o(&format!("/groups/{group}")),
                "group",
                "group.delete",
                Some(json!({"name": "Viewers"})),
            ),
            (
                o(&format!("/members/{member}")),
                "member",
                "member.remove",
                None,
            ),
        ] {
            let target = path.rsplit('/').next().expect("id").to_owned();
            let mut calls = copies(10, Method::DELETE, &path, &s.root, None);
            if let Some(p) = &patch {
                calls.extend(copies(5, Method::PATCH, &path, &s.root, Some(p.clone())));
            }
            let results = burst(&s, calls).await;
            let (deletes, updates) = results.split_at(10);
            assert_eq!(
                count(deletes, StatusCode::NO_CONTENT),
                1,
                "{what}: {deletes:?}"
            );
            assert_eq!(
                count(deletes, StatusCode::NOT_FOUND),
                9,
                "{what}: {deletes:?}"
            );
            for (status, body) in updates {
                assert!(
                    *status == StatusCode::OK || *status == StatusCode::NOT_FOUND,
                    "{what}: {status} {body}"
                );
            }
            assert_eq!(
                events(&s, Some(&org), deleted, &target).await.len(),
                1,
                "{what}"
            );
            if patch.is_some() {
                assert_eq!(
                    events(&s, Some(&org), &format!("{what}.update"), &target)
                        .await
                        .len(),
                    count(updates, StatusCode::OK),
                    "{what}: an update event for each update that answered 200"
                );
            }
        }
    }
}

// ---- a parent that vanishes -------------------------------------------------

/// Tokens minted while their service account is deleted: each answers `201`
/// (minted before the deletion, which takes it along) or `404`, never a
/// `5xx`; none of them works afterwards.
async fn token_creation_races_service_account_deletion(s: TestServer) {
    let org = s.org(&s.root, "Acme").await;
    for round in 0..5 {
        let (sa, _) = s
            .service_account(&s.root, &org, &format!("doomed-{round}"))
            .await;
        let tokens = format!("{}/tokens", sa_path(&org, &sa));
        let mut calls = copies(
            10,
            Method::POST,
            &tokens,
            &s.root,
            Some(json!({"name": "ci"})),
        );
        calls.insert(
            5,
            (Method::DELETE, sa_path(&org, &sa), s.root.clone(), None),
        );
        let results = burst(&s, calls).await;
        assert_eq!(results[5].0, StatusCode::NO_CONTENT, "{results:?}");
        for (status, body) in &results {
            assert!(
                [
                    StatusCode::CREATED,
                    StatusCode::NOT_FOUND,
                    StatusCode::NO_CONTENT
                ]
                .contains(status),
                "{status} {body}"
            );
            if *status == StatusCode::CREATED {
                let (status, me) = s.get("/me", &str_of(&body["token"])).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{me}");
                assert_eq!(me["error"]["code"], "invalid_token");
            }
        }
    }
}

// ---- first start ------------------------------------------------------------

/// Two instances starting at once on one fresh database (each with its own
/// store, as two processes would have): one creates the superuser, the
/// other finds it and does nothing; neither fails.
async fn first_start_creates_one_superuser(db: Db) {
    for round in 0..5 {
        let (url, _dir) = fresh_database(db).await;
        let a = tron_store::Store::connect_with(&url, 4)
            .await
            .expect("store");
        let b = tron_store::Store::connect_with(&url, 4)
            .await
            .expect("store");
        a.migrate().await.expect("migrate");
        b.migrate().await.expect("migrate");
        let (ra, rb) = tokio::join!(
            tron_server::bootstrap::ensure_admin(
                &a,
                Some("first@example.com".into()),
                Some(crate::kit::PASSWORD.into())
            ),
            tron_server::bootstrap::ensure_admin(
                &b,
                Some("second@example.com".into()),
                Some(crate::kit::PASSWORD.into())
            ),
        );
        let created = [ra, rb]
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| panic!("round {round}: bootstrap failed: {e}")))
            .filter(|r| matches!(r, tron_server::bootstrap::Bootstrap::Created { .. }))
            .count();
        assert_eq!(created, 1, "round {round}");
        assert_eq!(a.count_users().await.expect("count"), 1, "round {round}");
        a.close().await;
        b.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_creates_one_superuser_sqlite() {
    first_start_creates_one_superuser(Db::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_creates_one_superuser_postgres() {
    first_start_creates_one_superuser(Db::Postgres).await
}
