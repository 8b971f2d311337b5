//! Issue 2: users, sessions, personal tokens, organizations, members and
//! the error contract.
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::contract;
use crate::kit::{retry_after, TestServer, ADMIN_EMAIL, PASSWORD};

contract!(
    login_me_logout,
    login_failures_are_indistinguishable_and_throttled,
    personal_token_lifecycle,
    token_presentation_and_401_codes,
    users_api_rules,
    disabled_user_is_locked_out,
    organizations_and_members,
    error_contract,
    pagination,
    deployments_are_newest_first,
    revoke_leaked_tokens,
);

async fn login_me_logout(s: TestServer) {
    let (status, me) = s.get("/me", &s.root).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["principal"]["type"], "user");
    assert_eq!(me["principal"]["email"], ADMIN_EMAIL);
    assert_eq!(me["principal"]["is_superuser"], true);
    assert_eq!(me["token"]["kind"], "session");
    assert!(me["token"]["expires_at"].is_string());
    let session = s.login(ADMIN_EMAIL, PASSWORD).await;
    assert!(
        session.starts_with("trn_ses_") && session.len() == 57,
        "{session}"
    );
    let (status, _) = s.post("/auth/logout", &session, json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = s.get("/me", &session).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "token_revoked");
    // Sessions expire after 12 hours.
    let session = s.login(ADMIN_EMAIL, PASSWORD).await;
    s.advance(chrono::Duration::hours(12) + chrono::Duration::seconds(1));
    let (status, body) = s.get("/me", &session).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "token_expired");
}

async fn login_failures_are_indistinguishable_and_throttled(s: TestServer) {
    let (_, _) = s.user("ann@example.com").await;
    let bad = |email: &str| json!({"email": email, "password": "wrong password!"});
    let (st1, b1) = s
        .call(
            Method::POST,
            "/auth/login",
            None,
            Some(bad("ann@example.com")),
        )
        .await;
    let (st2, b2) = s
        .call(
            Method::POST,
            "/auth/login",
            None,
            Some(bad("nobody@example.com")),
        )
        .await;
    assert_eq!(st1, StatusCode::UNAUTHORIZED);
    assert_eq!(st2, StatusCode::UNAUTHORIZED);
    assert_eq!(b1, b2, "unknown email and wrong password answer the same");
    assert_eq!(b1["error"]["code"], "invalid_credentials");
    for _ in 0..4 {
        let (st, _) = s
            .call(
                Method::POST,
                "/auth/login",
                None,
                Some(bad("ann@example.com")),
            )
            .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
    // Five failures: even the right password is refused until the window passes.
    let resp = s
        .http
        .post(s.url("/auth/login"))
        .json(&json!({"email": "ann@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = retry_after(&resp);
    assert!(retry > 0 && retry <= 15 * 60, "{retry}");
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");
    // Another email from the same address still works (below 50 a minute).
    s.login(ADMIN_EMAIL, PASSWORD).await;
    s.advance(chrono::Duration::minutes(15) + chrono::Duration::seconds(1));
    s.login("ann@example.com", PASSWORD).await;
    // The failures are in the platform audit log, without the password.
    let (_, events) = s
        .get("/audit-events?action=auth.login_failed", &s.root)
        .await;
    let items = events["items"].as_array().expect("items");
    assert!(items.len() >= 6, "{events}");
    assert!(!events.to_string().contains("wrong password"));
}

async fn personal_token_lifecycle(s: TestServer) {
    let (_, ann) = s.user("ann@example.com").await;
    let (status, created) = s
        .post("/me/tokens", &ann, json!({"name": "laptop script"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let pat = created["token"].as_str().expect("token").to_owned();
    assert!(pat.starts_with("trn_pat_"));
    assert_eq!(created["hint"], pat[pat.len() - 4..]);
    assert_eq!(created["status"], "active");
    let id = created["id"].as_str().expect("id").to_owned();
    let (status, me) = s.get("/me", &pat).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["token"]["kind"], "personal");
    // The list never shows the plaintext again.
    let (_, list) = s.get("/me/tokens", &ann).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    assert!(list["items"][0].get("token").is_none());
    assert!(!list.to_string().contains(&pat));
    // last_used_at is recorded, shortly after use.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let (_, list) = s.get("/me/tokens", &ann).await;
    assert!(list["items"][0]["last_used_at"].is_string(), "{list}");
    // Revoke: 204, then 401 token_revoked; revoking again is idempotent.
    let (status, _) = s.delete(&format!("/me/tokens/{id}"), &ann).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = s.get("/me", &pat).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "token_revoked");
    let (status, _) = s.delete(&format!("/me/tokens/{id}"), &ann).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Another user cannot see or revoke it.
    let (_, bob) = s.user("bob@example.com").await;
    let (status, _) = s.delete(&format!("/me/tokens/{id}"), &bob).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Expiry.
    let at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let (status, created) = s
        .post(
            "/me/tokens",
            &ann,
            json!({"name": "short", "expires_at": at}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let short = created["token"].as_str().expect("token").to_owned();
    s.advance(chrono::Duration::hours(2));
    let (status, body) = s.get("/me", &short).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "token_expired");
    // A past expiry is refused with its field.
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let (status, body) = s
        .post(
            "/me/tokens",
            &s.root,
            json!({"name": "x", "expires_at": past}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "expires_at");
}

async fn token_presentation_and_401_codes(s: TestServer) {
    // Both headers, and a case-insensitive scheme.
    let resp = s
        .http
        .get(s.url("/me"))
        .header("authorization", format!("bEaReR {}", s.root))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = s
        .http
        .get(s.url("/me"))
        .header("x-tron-token", &s.root)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    // Nothing presented.
    let resp = s.http.get(s.url("/me")).send().await.expect("send");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .starts_with("Bearer"));
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unauthenticated");
    // Malformed, bad checksum, unknown: invalid_token.
    let mut forged = s.root.clone();
    forged.replace_range(10..11, if &forged[10..11] == "a" { "b" } else { "a" });
    let unknown =
        tron_core::token::SecretToken::generate(tron_core::token::TokenKind::Session).reveal();
    for t in ["nonsense", forged.as_str(), unknown.as_str(), ""] {
        let resp = s
            .http
            .get(s.url("/me"))
            .header("authorization", format!("Bearer {t}"))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{t}");
        assert!(resp.headers().contains_key("www-authenticate"));
        let body: serde_json::Value = resp.json().await.expect("json");
        assert_eq!(body["error"]["code"], "invalid_token", "{t}");
    }
    // Basic auth is not a bearer token.
    let resp = s
        .http
        .get(s.url("/me"))
        .header("authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

async fn users_api_rules(s: TestServer) {
    let (ann_id, ann) = s.user("ann@example.com").await;
    // Duplicate email.
    let (status, body) = s
        .post(
            "/users",
            &s.root,
            json!({"email": "ANN@example.com", "name": "x", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["field"], "email");
    // Short password.
    let (status, body) = s
        .post(
            "/users",
            &s.root,
            json!({"email": "c@example.com", "name": "c", "password": "short"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "password");
    // Non-superusers cannot list or create users.
    let (status, _) = s.get("/users", &ann).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = s
        .post(
            "/users",
            &ann,
            json!({"email": "d@example.com", "name": "d", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A user reads itself and changes its own name and password (with its
    // current password: auth_hardening has the rest of that rule).
    let (status, me) = s.get(&format!("/users/{ann_id}"), &ann).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email"], "ann@example.com");
    assert!(me.get("password_hash").is_none());
    let (status, _) = s
        .patch(
            &format!("/users/{ann_id}"),
            &ann,
            json!({"name": "Ann", "password": "a brand new passphrase", "current_password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    s.login("ann@example.com", "a brand new passphrase").await;
    let (status, _) = s
        .patch(
            &format!("/users/{ann_id}"),
            &ann,
            json!({"is_superuser": true}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (root_id, _) = (
        s.get("/me", &s.root).await.1["principal"]["id"]
            .as_str()
            .expect("id")
            .to_owned(),
        (),
    );
    let (status, _) = s.get(&format!("/users/{root_id}"), &ann).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, list) = s.get("/users", &s.root).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2));
}

async fn disabled_user_is_locked_out(s: TestServer) {
    let (ann_id, ann) = s.user("ann@example.com").await;
    let (_, pat) = s.post("/me/tokens", &ann, json!({"name": "pat"})).await;
    let pat = pat["token"].as_str().expect("token").to_owned();
    s.set_active(&ann_id, false).await;
    for t in [&ann, &pat] {
        let (status, body) = s.get("/me", t).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["code"], "principal_disabled");
    }
    s.set_active(&ann_id, true).await;
    let (status, _) = s.get("/me", &pat).await;
    assert_eq!(status, StatusCode::OK);
}

async fn organizations_and_members(s: TestServer) {
    let (_, ann) = s.user("ann@example.com").await;
    let (_, bob) = s.user("bob@example.com").await;
    let org = s.org(&ann, "  Acme Inc  ").await;
    let (status, body) = s.get(&format!("/organizations/{org}"), &ann).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["name"], "Acme Inc");
    assert_eq!(body["settings"]["service_token_rate_limit_per_minute"], 600);
    // A non-member sees nothing: 404 everywhere under the organization.
    for path in [
        "",
        "/members",
        "/groups",
        "/environments",
        "/service-accounts",
        "/audit-events",
    ] {
        let (status, _) = s.get(&format!("/organizations/{org}{path}"), &bob).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (_, mine) = s.get("/organizations", &bob).await;
    assert_eq!(mine["items"].as_array().map(Vec::len), Some(0));
    // The creator is in Administrators.
    let (_, members) = s.get(&format!("/organizations/{org}/members"), &ann).await;
    assert_eq!(members["items"][0]["groups"][0]["name"], "Administrators");
    assert_eq!(members["items"][0]["principal_type"], "user");
    let bob_member = s.add_member(&ann, &org, "bob@example.com").await;
    let (status, body) = s
        .post(
            &format!("/organizations/{org}/members"),
            &ann,
            json!({"email": "bob@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = s
        .post(
            &format!("/organizations/{org}/members"),
            &ann,
            json!({"email": "ghost@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, mine) = s.get("/organizations", &bob).await;
    assert_eq!(mine["items"][0]["id"], org.as_str());
    let (status, list) = s
        .get(
            &format!("/organizations/{org}/members?principal_type=user"),
            &ann,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2));
    let (status, list) = s
        .get(
            &format!("/organizations/{org}/members?principal_type=service_account"),
            &ann,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0));
    let (status, _) = s
        .get(
            &format!("/organizations/{org}/members?principal_type=robot"),
            &ann,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Rename, then remove bob; the last admin cannot be removed.
    let (status, body) = s
        .patch(
            &format!("/organizations/{org}"),
            &ann,
            json!({"name": "Acme"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = s
        .delete(&format!("/organizations/{org}/members/{bob_member}"), &ann)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let ann_member = members["items"][0]["id"].as_str().expect("id").to_owned();
    let (status, body) = s
        .delete(&format!("/organizations/{org}/members/{ann_member}"), &ann)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "last_admin");
    // Superusers see every organization with ?all=true; others may not ask.
    let (_, all) = s.get("/organizations?all=true", &s.root).await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(1));
    let (status, _) = s.get("/organizations?all=true", &ann).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A superuser acts as an admin everywhere.
    let (status, _) = s
        .get(&format!("/organizations/{org}/members"), &s.root)
        .await;
    assert_eq!(status, StatusCode::OK);
    // Delete.
    let (status, _) = s.delete(&format!("/organizations/{org}"), &ann).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s.get(&format!("/organizations/{org}"), &ann).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn error_contract(s: TestServer) {
    // x-request-id is generated, or echoed.
    let resp = s.http.get(s.url("/healthz")).send().await.expect("send");
    assert!(resp.headers().contains_key("x-request-id"));
    let resp = s
        .http
        .get(s.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.headers()["x-request-id"], "abc-123");
    let resp = s.http.get(s.url("/readyz")).send().await.expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    // Non-JSON: 415; malformed JSON and unknown fields: 400; over 64 KiB: 413.
    let resp = s
        .http
        .post(s.url("/organizations"))
        .bearer_auth(&s.root)
        .body("name=x")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unsupported_media_type");
    let resp = s
        .http
        .post(s.url("/organizations"))
        .bearer_auth(&s.root)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], "validation_error");
    let (status, body) = s
        .post(
            "/organizations",
            &s.root,
            json!({"name": "x", "color": "red"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let big = "x".repeat(70 * 1024);
    let (status, body) = s
        .post("/organizations", &s.root, json!({"name": big}))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    // Names.
    for bad in ["", "   ", "a\u{0007}b"] {
        let (status, body) = s
            .post("/organizations", &s.root, json!({"name": bad}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}");
        assert_eq!(body["error"]["field"], "name");
    }
    // Unknown routes and methods.
    let (status, body) = s.get("/nothing-here", &s.root).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    let (status, body) = s.call(Method::PUT, "/me", Some(&s.root), None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"]["code"], "method_not_allowed");
    // A malformed id in a path is simply not found.
    let (status, _) = s.get("/organizations/not-a-uuid", &s.root).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn pagination(s: TestServer) {
    for i in 0..5 {
        s.org(&s.root, &format!("org {i}")).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/organizations?limit=2&cursor={c}"),
            None => "/organizations?limit=2".to_string(),
        };
        let (status, page) = s.get(&path, &s.root).await;
        assert_eq!(status, StatusCode::OK);
        for item in page["items"].as_array().expect("items") {
            seen.push(item["name"].as_str().expect("name").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, (0..5).map(|i| format!("org {i}")).collect::<Vec<_>>());
    for bad in ["limit=0", "limit=201", "limit=abc", "cursor=zzz"] {
        let (status, body) = s.get(&format!("/organizations?{bad}"), &s.root).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["error"]["code"], "validation_error");
    }
    let (status, _) = s.get("/organizations?unknown=1", &s.root).await;
    assert_eq!(status, StatusCode::OK);
}

/// `GET …/instances/{env}/deployments` lists the newest first (SPEC, the
/// OpenAPI document), and its cursor pages on through older ones.
async fn deployments_are_newest_first(s: TestServer) {
    let org = s.org(&s.root, "Acme").await;
    let env = s.env(&s.root, &org, "staging").await;
    let app = s.app(&s.root, &org, "web").await;
    let inst = format!("/organizations/{org}/applications/{app}/instances/{env}");
    let (status, _) = s.put(&inst, &s.root, Some(json!({"image": "web:0"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let mut made = Vec::new();
    for i in 1..=5 {
        let (status, d) = s
            .post(
                &format!("{inst}/deployments"),
                &s.root,
                json!({"image": format!("web:{i}")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{d}");
        made.push(d["id"].as_str().expect("id").to_owned());
    }
    made.reverse();
    let (_, first) = s.get(&format!("{inst}/deployments"), &s.root).await;
    let images: Vec<&str> = first["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|d| d["image"].as_str().expect("image"))
        .collect();
    assert_eq!(images, ["web:5", "web:4", "web:3", "web:2", "web:1"]);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("{inst}/deployments?limit=2&cursor={c}"),
            None => format!("{inst}/deployments?limit=2"),
        };
        let (status, page) = s.get(&path, &s.root).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for d in page["items"].as_array().expect("items") {
            seen.push(d["id"].as_str().expect("id").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, made, "every deployment once, newest first");
}

async fn revoke_leaked_tokens(s: TestServer) {
    let (_, ann) = s.user("ann@example.com").await;
    let (_, pat) = s.post("/me/tokens", &ann, json!({"name": "pat"})).await;
    let pat = pat["token"].as_str().expect("token").to_owned();
    let (status, body) = s
        .call(
            Method::POST,
            "/tokens/revoke-leaked",
            None,
            Some(json!({"tokens": [pat, ann, "garbage", pat]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["revoked"], 2);
    let (status, body) = s.get("/me", &pat).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "token_revoked");
    let (_, body) = s
        .call(
            Method::POST,
            "/tokens/revoke-leaked",
            None,
            Some(json!({"tokens": [pat]})),
        )
        .await;
    assert_eq!(body["revoked"], 0);
    let many: Vec<String> = (0..1001).map(|i| format!("t{i}")).collect();
    let (status, _) = s
        .call(
            Method::POST,
            "/tokens/revoke-leaked",
            None,
            Some(json!({"tokens": many})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
