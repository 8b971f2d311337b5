//! Issue 13 (hardening): the login throttle under concurrency, changing a
//! password, and `POST /tokens/revoke-leaked` at its largest.
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tron_core::token::{SecretToken, TokenKind};

use crate::contract;
use crate::kit::{retry_after, TestServer, ADMIN_EMAIL, PASSWORD};

contract!(
    parallel_wrong_logins_for_one_email_check_at_most_five_passwords,
    parallel_wrong_logins_from_one_address_check_at_most_fifty_passwords,
    overlong_emails_are_invalid_credentials_throttled_per_address,
    changing_ones_own_password_needs_the_current_one_and_ends_other_sessions,
    a_superuser_setting_a_password_ends_every_session_of_that_user,
    revoke_leaked_at_its_largest_revokes_the_live_and_flushes_no_cache,
    concurrent_revoke_leaked_calls_revoke_and_audit_each_token_once,
);

/// Sends every body to `POST /auth/login` at once; the statuses.
async fn parallel_logins(s: &TestServer, bodies: Vec<Value>) -> Vec<StatusCode> {
    let mut calls = tokio::task::JoinSet::new();
    for body in bodies {
        let http = s.http.clone();
        let url = s.url("/auth/login");
        calls.spawn(async move {
            let resp = http.post(url).json(&body).send().await.expect("send");
            let status = resp.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                let retry = retry_after(&resp);
                assert!(retry > 0, "Retry-After is at least a second");
                let body: Value = resp.json().await.expect("json");
                assert_eq!(body["error"]["code"], "rate_limited");
            }
            status
        });
    }
    calls.join_all().await
}

fn count(statuses: &[StatusCode], which: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == which).count()
}

/// Every platform event matching `query` (`action=…`), all pages.
async fn platform_events(s: &TestServer, query: &str) -> Vec<Value> {
    s.all_pages(&format!("/audit-events?{query}"), &s.root, 200)
        .await
}

/// SPEC §4 `POST /auth/login`: a burst of parallel guesses never gets more
/// than 5 passwords checked. Each checked password is one
/// `auth.login_failed` event.
async fn parallel_wrong_logins_for_one_email_check_at_most_five_passwords(s: TestServer) {
    s.user("ann@example.com").await;
    let wrong = json!({"email": "ann@example.com", "password": "wrong password!"});
    let statuses = parallel_logins(&s, vec![wrong; 30]).await;
    let failed = count(&statuses, StatusCode::UNAUTHORIZED);
    assert_eq!(
        failed + count(&statuses, StatusCode::TOO_MANY_REQUESTS),
        30,
        "{statuses:?}"
    );
    assert_eq!(failed, 5, "exactly the limit is checked: {statuses:?}");
    let events = platform_events(&s, "action=auth.login_failed").await;
    assert_eq!(events.len(), 5, "one event per checked password");
    assert!(events
        .iter()
        .all(|e| e["target"]["name"] == "ann@example.com"));
    // The email stays blocked, even for the right password; others are not.
    let statuses = parallel_logins(
        &s,
        vec![json!({"email": "ann@example.com", "password": PASSWORD})],
    )
    .await;
    assert_eq!(statuses, [StatusCode::TOO_MANY_REQUESTS]);
    s.login(ADMIN_EMAIL, PASSWORD).await;
    s.advance(chrono::Duration::minutes(15) + chrono::Duration::seconds(1));
    s.login("ann@example.com", PASSWORD).await;
}

/// The per-address limit (50 failures a minute) holds under concurrency
/// too: 60 parallel guesses for 60 emails get at most 50 passwords checked.
async fn parallel_wrong_logins_from_one_address_check_at_most_fifty_passwords(s: TestServer) {
    let bodies = (0..60)
        .map(|i| json!({"email": format!("u{i}@example.com"), "password": "wrong password!"}))
        .collect();
    let statuses = parallel_logins(&s, bodies).await;
    let failed = count(&statuses, StatusCode::UNAUTHORIZED);
    assert_eq!(
        failed + count(&statuses, StatusCode::TOO_MANY_REQUESTS),
        60,
        "{statuses:?}"
    );
    assert!(failed <= 50, "{failed} passwords checked");
    let events = platform_events(&s, "action=auth.login_failed").await;
    assert_eq!(events.len(), failed, "one event per checked password");
    if failed == 50 {
        // The address is blocked now, whatever the email.
        let statuses = parallel_logins(
            &s,
            vec![json!({"email": ADMIN_EMAIL, "password": PASSWORD})],
        )
        .await;
        assert_eq!(statuses, [StatusCode::TOO_MANY_REQUESTS]);
    }
}

/// An email longer than any user's can be no user's: invalid credentials,
/// counted per address only, and never kept as a throttle key.
async fn overlong_emails_are_invalid_credentials_throttled_per_address(s: TestServer) {
    let long = format!("{}@example.com", "a".repeat(60_000));
    let (status, body) = s
        .call(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({"email": long, "password": "wrong password!"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "invalid_credentials");
    assert!(!body.to_string().contains("aaaa"));
    let events = platform_events(&s, "action=auth.login_failed").await;
    assert_eq!(events.len(), 1);
    let name = events[0]["target"]["name"].as_str().unwrap_or_default();
    assert!(name.chars().count() <= 254, "{} characters", name.len());
    // Not kept per email: the same one fails again and again, with no 429.
    for _ in 0..9 {
        let statuses = parallel_logins(
            &s,
            vec![json!({"email": long, "password": "wrong password!"})],
        )
        .await;
        assert_eq!(statuses, [StatusCode::UNAUTHORIZED]);
    }
    // Counted per address: 40 more failures (50 in all) block the address.
    let bodies = (0..40)
        .map(|i| json!({"email": format!("{i}{long}"), "password": "wrong password!"}))
        .collect();
    let statuses = parallel_logins(&s, bodies).await;
    assert_eq!(
        count(&statuses, StatusCode::UNAUTHORIZED),
        40,
        "{statuses:?}"
    );
    let statuses = parallel_logins(
        &s,
        vec![json!({"email": ADMIN_EMAIL, "password": PASSWORD})],
    )
    .await;
    assert_eq!(statuses, [StatusCode::TOO_MANY_REQUESTS]);
}

/// SPEC §4 users row: changing one's own password needs `current_password`
/// (`403 forbidden` when wrong) and ends the user's other sessions; the
/// session that made the change and personal tokens keep working.
async fn changing_ones_own_password_needs_the_current_one_and_ends_other_sessions(s: TestServer) {
    let (ann_id, ann) = s.user("ann@example.com").await;
    let other = s.login("ann@example.com", PASSWORD).await;
    let (_, pat) = s.post("/me/tokens", &ann, json!({"name": "script"})).await;
    let pat = pat["token"].as_str().expect("token").to_owned();
    // Warm the token cache with the session about to end.
    for _ in 0..2 {
        assert_eq!(s.get("/me", &other).await.0, StatusCode::OK);
    }
    let path = format!("/users/{ann_id}");
    let new_password = "a brand new passphrase";

    let (status, body) = s
        .patch(&path, &ann, json!({"password": new_password}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "validation_error");
    assert_eq!(body["error"]["field"], "current_password");

    let (status, body) = s
        .patch(
            &path,
            &ann,
            json!({"password": new_password, "current_password": "not my password"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    assert!(!body.to_string().contains("not my password"));
    // Nothing changed: the other session still works, the old password too.
    assert_eq!(s.get("/me", &other).await.0, StatusCode::OK);
    let events = platform_events(&s, "action=user.update").await;
    assert!(events.is_empty(), "{events:?}");

    let (status, body) = s
        .patch(
            &path,
            &ann,
            json!({"password": new_password, "current_password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = s.get("/me", &other).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "token_revoked");
    assert_eq!(s.get("/me", &ann).await.0, StatusCode::OK, "this session");
    assert_eq!(s.get("/me", &pat).await.0, StatusCode::OK, "personal token");
    let events = platform_events(&s, "action=user.update").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["details"]["password_changed"], true);
    assert_eq!(events[0]["details"]["sessions_revoked"], 1);
    assert!(!Value::Array(events).to_string().contains(new_password));
    // The new password logs in, the old one no longer does.
    let (status, _) = s
        .call(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({"email": "ann@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    s.login("ann@example.com", new_password).await;

    // From a personal token, every session ends.
    let (status, body) = s
        .patch(
            &path,
            &pat,
            json!({"password": PASSWORD, "current_password": new_password}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(s.get("/me", &ann).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(s.get("/me", &pat).await.0, StatusCode::OK);

    // Guessing the current password is throttled like a login for the
    // user's email (the wrong guess and the login with the old password
    // above were two of its five failures): a stolen session is no password
    // oracle.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let (status, _) = s
            .patch(
                &path,
                &pat,
                json!({"password": new_password, "current_password": "guess guess guess"}),
            )
            .await;
        statuses.push(status);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::FORBIDDEN,
            StatusCode::FORBIDDEN,
            StatusCode::FORBIDDEN,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}

/// A superuser sets another user's password without knowing the old one;
/// every session of that user ends, its personal tokens do not.
async fn a_superuser_setting_a_password_ends_every_session_of_that_user(s: TestServer) {
    let (ann_id, ann) = s.user("ann@example.com").await;
    let other = s.login("ann@example.com", PASSWORD).await;
    let (_, pat) = s.post("/me/tokens", &ann, json!({"name": "script"})).await;
    let pat = pat["token"].as_str().expect("token").to_owned();
    let (bob_id, bob) = s.user("bob@example.com").await;
    for t in [&ann, &other, &bob] {
        assert_eq!(s.get("/me", t).await.0, StatusCode::OK);
    }
    // Not for a non-superuser on someone else.
    let (status, _) = s
        .patch(
            &format!("/users/{ann_id}"),
            &bob,
            json!({"password": "a brand new passphrase", "current_password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = s
        .patch(
            &format!("/users/{ann_id}"),
            &s.root,
            json!({"password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for t in [&ann, &other] {
        let (status, body) = s.get("/me", t).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["code"], "token_revoked");
    }
    assert_eq!(s.get("/me", &pat).await.0, StatusCode::OK);
    assert_eq!(s.get("/me", &bob).await.0, StatusCode::OK);
    assert_eq!(s.get("/me", &s.root).await.0, StatusCode::OK);
    let events = platform_events(&s, "action=user.update").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["details"]["sessions_revoked"], 2);
    s.login("ann@example.com", "a brand new passphrase").await;
    // Other fields need no current password.
    let (status, body) = s
        .patch(&format!("/users/{bob_id}"), &bob, json!({"name": "Bob"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(s.get("/me", &bob).await.0, StatusCode::OK);
}

const TOKEN_HITS: &str = "tron_cache_requests_total{cache=\"token\",result=\"hit\"}";
const TOKEN_MISSES: &str = "tron_cache_requests_total{cache=\"token\",result=\"miss\"}";

async fn revoke_leaked(s: &TestServer, tokens: &[String]) -> (StatusCode, Value) {
    s.call(
        Method::POST,
        "/tokens/revoke-leaked",
        None,
        Some(json!({ "tokens": tokens })),
    )
    .await
}

/// 1000 tokens, 300 of them live: `{revoked: 300}`, 300 events, each
/// answers `401 token_revoked`, and no cache is flushed (on PostgreSQL the
/// invalidations go out in several notifications rather than one "forget
/// everything").
async fn revoke_leaked_at_its_largest_revokes_the_live_and_flushes_no_cache(s: TestServer) {
    let (_, ann) = s.user("ann@example.com").await;
    let (_, bob) = s.user("bob@example.com").await;
    let mut live = Vec::new();
    for i in 0..300 {
        let (status, body) = s
            .post("/me/tokens", &ann, json!({"name": format!("pat {i}")}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        live.push(body["token"].as_str().expect("token").to_owned());
    }
    let mut dead = Vec::new();
    for i in 0..20 {
        let (_, body) = s
            .post("/me/tokens", &ann, json!({"name": format!("old {i}")}))
            .await;
        let id = body["id"].as_str().expect("id");
        assert_eq!(
            s.delete(&format!("/me/tokens/{id}"), &ann).await.0,
            StatusCode::NO_CONTENT
        );
        dead.push(body["token"].as_str().expect("token").to_owned());
    }
    // Well-formed tokens that were never issued.
    let unknown: Vec<String> = (0..680)
        .map(|i| {
            let kind = [TokenKind::Session, TokenKind::Personal, TokenKind::Service][i % 3];
            SecretToken::generate(kind).reveal()
        })
        .collect();
    let mut all: Vec<String> = live.iter().chain(&dead).chain(&unknown).cloned().collect();
    all.sort();
    assert_eq!(all.len(), 1000);
    // An unrelated token, warm in the cache.
    for _ in 0..2 {
        assert_eq!(s.get("/me", &bob).await.0, StatusCode::OK);
    }

    let started = std::time::Instant::now();
    let (status, body) = revoke_leaked(&s, &all).await;
    let took = started.elapsed();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["revoked"], 300);
    eprintln!("revoke-leaked of 1000 tokens (300 live) took {took:?}");

    // Give the PostgreSQL listener time to deliver this instance's own
    // notifications: a flush would arrive through it.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (hits, misses) = (s.counter(TOKEN_HITS).await, s.counter(TOKEN_MISSES).await);
    assert_eq!(s.get("/me", &bob).await.0, StatusCode::OK);
    assert_eq!(
        (s.counter(TOKEN_HITS).await, s.counter(TOKEN_MISSES).await),
        (hits + 1, misses),
        "the unrelated token is still served from the cache"
    );

    let events = platform_events(&s, "action=personal_token.revoke_leaked").await;
    assert_eq!(events.len(), 300);
    assert!(events.iter().all(|e| e["actor"]["type"] == "anonymous"));
    for t in &live {
        let (status, body) = s.get("/me", t).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["code"], "token_revoked");
    }
    assert_eq!(s.get("/me", &ann).await.0, StatusCode::OK);
    let (_, body) = revoke_leaked(&s, &all).await;
    assert_eq!(body["revoked"], 0);
}

/// Identical calls at once: each token is revoked, counted and audited by
/// exactly one of them.
async fn concurrent_revoke_leaked_calls_revoke_and_audit_each_token_once(s: TestServer) {
    let (_, ann) = s.user("ann@example.com").await;
    for round in 0..3 {
        let mut tokens = Vec::new();
        for i in 0..20 {
            let (_, body) = s
                .post("/me/tokens", &ann, json!({"name": format!("{round}-{i}")}))
                .await;
            tokens.push(body["token"].as_str().expect("token").to_owned());
        }
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let http = s.http.clone();
            let url = s.url("/tokens/revoke-leaked");
            let body = json!({ "tokens": tokens });
            calls.spawn(async move {
                let resp = http.post(url).json(&body).send().await.expect("send");
                assert_eq!(resp.status(), StatusCode::OK);
                let body: Value = resp.json().await.expect("json");
                body["revoked"].as_u64().expect("count")
            });
        }
        let revoked: u64 = calls.join_all().await.into_iter().sum();
        assert_eq!(revoked, 20, "round {round}");
        let events = platform_events(&s, "action=personal_token.revoke_leaked").await;
        assert_eq!(events.len(), 20 * (round + 1), "round {round}");
        // The per-address throttle (10 calls a minute) is not what this
        // tests.
        s.advance(chrono::Duration::minutes(1) + chrono::Duration::seconds(1));
    }
}
