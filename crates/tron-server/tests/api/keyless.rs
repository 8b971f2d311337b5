//! Keyless CI (SPEC §7) end to end: trust policies under a service
//! account, and `POST /oidc/token` exchanging a local test issuer's ID
//! tokens for short-lived service tokens — on both backends, with the
//! server's clock injected (the issuer signs tokens for that clock).
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tron_core::clock::Clock;
use tron_oidc::testing::TestIssuer;
use tron_oidc::wire::NO_POLICY_ACCEPTS;

use crate::kit::{o, org_scope, str_of, Db, TestServer, GITHUB_ACTIONS as GITHUB};

const AUD: &str = "https://tron.test";

/// Runs a keyless test on both backends with a fresh test issuer that the
/// server trusts (with GitHub Actions' issuer, for the pinning rule).
macro_rules! keyless {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (s, idp) = super::start($crate::kit::Db::Sqlite, 300).await;
                super::$name(s, idp).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let (s, idp) = super::start($crate::kit::Db::Postgres, 300).await;
                super::$name(s, idp).await
            }
        }
    )*};
}

keyless!(
    trust_policy_lifecycle,
    trust_policy_validation,
    trust_policy_permissions,
    exchange_mints_a_short_lived_service_token,
    exchange_refusals_say_what_failed_about_the_token,
    mismatches_are_audited_once_a_minute_with_the_claim,
    policy_changes_apply_to_the_next_exchange,
    concurrent_exchanges_of_one_id_token_mint_one_token,
    keys_that_cannot_be_had_answer_503,
);

async fn start(db: Db, per_minute: usize) -> (TestServer, TestIssuer) {
    TestServer::start_with_issuer(db, |c| c.oidc_exchanges_per_minute = per_minute).await
}

/// An admin's token, an organization, and a service account in a viewer
/// group of it: `(admin, org, sa)`.
async fn setup(s: &TestServer) -> (String, String, String) {
    let (admin, org) = s.admin_and_org().await;
    let viewers = s
        .group(&admin, &org, "ci-viewers", "viewer", org_scope())
        .await;
    let (sa, _) = s
        .service_account_in(&admin, &org, "deployer", &viewers)
        .await;
    (admin, org, sa)
}

fn policies(org: &str, sa: &str) -> String {
    o(org, &format!("/service-accounts/{sa}/trust-policies"))
}

fn policy_body(idp: &TestIssuer) -> Value {
    json!({
        "name": "main branch",
        "issuer": idp.issuer(),
        "audience": AUD,
        "conditions": {"repository_owner_id": "42", "ref": "refs/heads/*"},
        "token_ttl_seconds": 600,
    })
}

async fn create_policy(s: &TestServer, admin: &str, org: &str, sa: &str, body: Value) -> Value {
    let (status, p) = s.post(&policies(org, sa), admin, body).await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    p
}

/// `POST /oidc/token`, form-encoded as RFC 8693 says, not sent yet.
pub(crate) fn exchange_request(
    s: &TestServer,
    id_token: &str,
    sa: &str,
) -> reqwest::RequestBuilder {
    s.http.post(s.url("/oidc/token")).form(&[
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ),
        ("subject_token", id_token),
        (
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:id_token",
        ),
        ("service_account", sa),
    ])
}

/// An exchange's status and body.
pub(crate) async fn exchange(s: &TestServer, id_token: &str, sa: &str) -> (StatusCode, Value) {
    let resp = exchange_request(s, id_token, sa)
        .send()
        .await
        .expect("exchange");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn github_token(s: &TestServer, idp: &TestIssuer, edit: impl FnOnce(&mut Value)) -> String {
    let mut claims = idp.github_claims(AUD, s.clock.now());
    edit(&mut claims);
    idp.sign(&claims)
}

fn assert_no_policy(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_request", "{body}");
    assert_eq!(body["error_description"], NO_POLICY_ACCEPTS, "{body}");
}

// ---- trust policies ---------------------------------------------------------

async fn trust_policy_lifecycle(s: TestServer, idp: TestIssuer) {
    let (admin, org, sa) = setup(&s).await;
    let p = create_policy(&s, &admin, &org, &sa, policy_body(&idp)).await;
    let mut keys: Vec<&str> = p.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "audience",
            "conditions",
            "created_at",
            "created_by",
            "id",
            "issuer",
            "last_used_at",
            "name",
            "service_account_id",
            "token_ttl_seconds"
        ]
    );
    assert_eq!(p["service_account_id"], sa.as_str());
    assert_eq!(p["issuer"], idp.issuer());
    assert_eq!(
        p["conditions"],
        json!({"repository_owner_id": "42", "ref": "refs/heads/*"})
    );
    assert_eq!(p["token_ttl_seconds"], 600);
    assert_eq!(p["last_used_at"], Value::Null);
    assert_eq!(p["created_by"]["type"], "user");
    let id = str_of(&p["id"]);
    let one = format!("{}/{id}", policies(&org, &sa));

    // The default TTL is 900 s; a name is unique per account.
    let mut second = policy_body(&idp);
    second["name"] = json!("tags");
    second.as_object_mut().unwrap().remove("token_ttl_seconds");
    let p2 = create_policy(&s, &admin, &org, &sa, second.clone()).await;
    assert_eq!(p2["token_ttl_seconds"], 900);
    let (status, body) = s.post(&policies(&org, &sa), &admin, second).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["field"], "name");

    let (status, list) = s.get(&policies(&org, &sa), &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let (status, got) = s.get(&one, &admin).await;
    assert_eq!((status, got.clone()), (StatusCode::OK, p.clone()));

    // PATCH replaces the fields it names (conditions as a whole).
    let (status, changed) = s
        .patch(
            &one,
            &admin,
            json!({"conditions": {"repository_id": "100"}, "token_ttl_seconds": 120}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["conditions"], json!({"repository_id": "100"}));
    assert_eq!(changed["token_ttl_seconds"], 120);
    assert_eq!(changed["name"], "main branch");
    assert_eq!(changed["created_at"], p["created_at"]);
    let (status, body) = s
        .patch(&one, &admin, json!({"token_ttl_seconds": 59}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "token_ttl_seconds");

    let (status, _) = s.delete(&one, &admin).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s.get(&one, &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.delete(&one, &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    for action in [
        "trust_policy.create",
        "trust_policy.update",
        "trust_policy.delete",
    ] {
        let events = s.audit_events_about(&admin, &org, action, &id).await;
        assert_eq!(events.len(), 1, "{action}: {events:?}");
        assert_eq!(events[0]["details"]["service_account_id"], sa.as_str());
    }
    let update = &s
        .audit_events_about(&admin, &org, "trust_policy.update", &id)
        .await[0];
    assert_eq!(update["details"]["token_ttl_seconds"], 120);
    assert_eq!(update["details"]["before"]["token_ttl_seconds"], 600);

    // Deleting the account deletes its policies.
    let (status, _) = s
        .delete(&o(&org, &format!("/service-accounts/{sa}")), &admin)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s.get(&policies(&org, &sa), &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn trust_policy_validation(s: TestServer, idp: TestIssuer) {
    let (admin, org, sa) = setup(&s).await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"issuer": "https://ci.example"}), "issuer"),
        (json!({"issuer": format!("{}/", idp.issuer())}), "issuer"),
        (json!({"audience": ""}), "audience"),
        (json!({"audience": "a".repeat(256)}), "audience"),
        (json!({"conditions": {}}), "conditions"),
        (json!({"conditions": ["ref"]}), "conditions"),
        (json!({"conditions": {"ref": "refs/heads/*"}}), "conditions"),
        (json!({"conditions": {"Ref": "main"}}), "conditions"),
        (json!({"conditions": {"ref": 1}}), "conditions"),
        (json!({"conditions": {"ref": ""}}), "conditions"),
        (
            json!({"conditions": (0..21).map(|i| (format!("c{i}"), json!("x"))).collect::<serde_json::Map<_, _>>()}),
            "conditions",
        ),
        // GitHub Actions signs for everyone: names can be re-registered,
        // ids cannot.
        (
            json!({"issuer": GITHUB, "conditions": {"repository": "acme/app"}}),
            "conditions",
        ),
        (
            json!({"issuer": GITHUB, "conditions": {"repository_owner_id": "4*", "repository": "acme/app"}}),
            "conditions",
        ),
        (json!({"token_ttl_seconds": 59}), "token_ttl_seconds"),
        (json!({"token_ttl_seconds": 3601}), "token_ttl_seconds"),
        (json!({"token_ttl_seconds": "600"}), "token_ttl_seconds"),
        (json!({"name": ""}), "name"),
    ];
    for (edit, field) in cases {
        let mut body = policy_body(&idp);
        for (k, v) in edit.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, err) = s.post(&policies(&org, &sa), &admin, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {err}");
        assert_eq!(err["error"]["code"], "validation_error", "{body}: {err}");
        assert_eq!(err["error"]["field"], field, "{body}: {err}");
    }
    // Messages read as sentences.
    let mut body = policy_body(&idp);
    body["issuer"] = json!("https://ci.example");
    let (_, err) = s.post(&policies(&org, &sa), &admin, body).await;
    assert_eq!(
        err["error"]["message"],
        "issuer must be one of the trusted issuers"
    );
    let mut body = policy_body(&idp);
    body["issuer"] = json!(GITHUB);
    body["conditions"] = json!({"repository": "acme/app"});
    let (_, err) = s.post(&policies(&org, &sa), &admin, body).await;
    assert_eq!(
        err["error"]["message"],
        "GitHub Actions policies must pin repository_owner_id or repository_id exactly"
    );
    let mut github = policy_body(&idp);
    github["issuer"] = json!(GITHUB);
    github["conditions"] = json!({"repository_owner_id": "42", "ref": "refs/heads/main"});
    create_policy(&s, &admin, &org, &sa, github).await;
    let (status, err) = s
        .post(
            &policies(&org, &sa),
            &admin,
            json!({"name": "x", "extra": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    // Nothing half-written: only the valid policy exists.
    let (_, list) = s.get(&policies(&org, &sa), &admin).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

async fn trust_policy_permissions(s: TestServer, idp: TestIssuer) {
    let (admin, org, sa) = setup(&s).await;
    let p = create_policy(&s, &admin, &org, &sa, policy_body(&idp)).await;
    let one = format!("{}/{}", policies(&org, &sa), str_of(&p["id"]));
    let (viewer, _, _) = s
        .member_in_group(&admin, &org, "vic@example.com", "viewer", org_scope())
        .await;
    let (status, _) = s.get(&one, &viewer).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s.get(&policies(&org, &sa), &viewer).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s
        .post(&policies(&org, &sa), &viewer, policy_body(&idp))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = s.patch(&one, &viewer, json!({"audience": "x"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = s.delete(&one, &viewer).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Another organization's admin sees nothing of it.
    let (_, other_session) = s.user("olga@example.com").await;
    let other = s.org(&other_session, "Other").await;
    let (status, _) = s.get(&policies(&other, &sa), &other_session).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s
        .post(&policies(&other, &sa), &other_session, policy_body(&idp))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// ---- the exchange -------------------------------------------------------------

async fn exchange_mints_a_short_lived_service_token(s: TestServer, idp: TestIssuer) {
    let (admin, org, sa) = setup(&s).await;
    let p = create_policy(&s, &admin, &org, &sa, policy_body(&idp)).await;
    let policy_id = str_of(&p["id"]);
    let claims = idp.github_claims(AUD, s.clock.now());
    let jti = str_of(&claims["jti"]);
    let id_token = idp.sign(&claims);

    let resp = s
        .http
        .post(s.url("/oidc/token"))
        .form(&[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", id_token.as_str()),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:id_token",
            ),
            ("service_account", sa.as_str()),
            (
                "requested_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    let token = str_of(&body["access_token"]);
    assert!(token.starts_with("trn_sat_"), "{token}");

    // An ordinary service token of the account, with its groups' power.
    let (status, me) = s.get("/me", &token).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["principal"]["type"], "service_account", "{me}");
    assert_eq!(me["principal"]["id"], sa.as_str(), "{me}");
    let (status, _) = s.get(&o(&org, "/environments"), &token).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s
        .post(&o(&org, "/environments"), &token, json!({"name": "prod"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Listed with its source and policy, named after the policy, expiring
    // after the policy's TTL.
    let (_, list) = s
        .get(&o(&org, &format!("/service-accounts/{sa}/tokens")), &admin)
        .await;
    let tokens = list["items"].as_array().unwrap();
    assert_eq!(tokens.len(), 1);
    let t = &tokens[0];
    assert_eq!(t["source"], "oidc");
    assert_eq!(t["trust_policy_id"], policy_id.as_str());
    assert_eq!(t["name"], "main branch");
    assert_eq!(t["created_by"]["type"], "service_account");
    assert_eq!(t["created_by"]["id"], sa.as_str());
    let created = chrono::DateTime::parse_from_rfc3339(t["created_at"].as_str().unwrap()).unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(t["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(expires - created, Duration::seconds(600));

    // It cannot be rotated, by an admin or by itself: a job exchanges again.
    let token_id = str_of(&t["id"]);
    let (status, body) = s
        .post(
            &o(
                &org,
                &format!("/service-accounts/{sa}/tokens/{token_id}/rotate"),
            ),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = s.post("/me/token/rotate", &token, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // The event, by the service account and the token, with what a
    // reviewer needs.
    let events = s
        .audit_events_about(&admin, &org, "service_token.exchange", &sa)
        .await;
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e["actor"]["type"], "service_account");
    assert_eq!(e["actor"]["id"], sa.as_str());
    assert_eq!(e["actor"]["token_id"], token_id.as_str());
    let d = &e["details"];
    assert_eq!(d["issuer"], idp.issuer());
    assert_eq!(d["sub"], "repo:acme/app:environment:staging");
    assert_eq!(d["jti"], jti.as_str());
    assert_eq!(d["trust_policy_id"], policy_id.as_str());
    assert_eq!(d["claims"]["repository"], "acme/app");
    assert_eq!(d["claims"]["ref"], "refs/heads/main");
    assert_eq!(d["claims"]["run_id"], "7");
    assert!(
        !e.to_string().contains(&token),
        "the event holds the secret"
    );
    assert!(
        !e.to_string().contains(&id_token),
        "the event holds the ID token"
    );

    let (_, p) = s
        .get(&format!("{}/{policy_id}", policies(&org, &sa)), &admin)
        .await;
    assert!(p["last_used_at"].is_string(), "{p}");

    // A JSON body is accepted too; ES256 like RS256.
    let claims = idp.github_claims(AUD, s.clock.now());
    let resp = s
        .http
        .post(s.url("/oidc/token"))
        .json(&json!({
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": idp.sign_es256(&claims),
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "service_account": sa,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    // The token expires with the policy's TTL.
    s.advance(Duration::seconds(601));
    let (status, body) = s.get("/me", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "token_expired");
}

async fn exchange_refusals_say_what_failed_about_the_token(s: TestServer, idp: TestIssuer) {
    let (admin, org, sa) = setup(&s).await;
    create_policy(&s, &admin, &org, &sa, policy_body(&idp)).await;

    // A replayed ID token.
    let id_token = github_token(&s, &idp, |_| {});
    assert_eq!(exchange(&s, &id_token, &sa).await.0, StatusCode::OK);
    let (status, body) = exchange(&s, &id_token, &sa).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("already exchanged"),
        "{body}"
    );

    // What is wrong with the token itself is said.
    let cases: Vec<(String, &str)> = vec![
        (
            github_token(&s, &idp, |c| {
                c["exp"] = json!(c["iat"].as_i64().unwrap() - 60);
                c["iat"] = json!(c["iat"].as_i64().unwrap() - 120);
            }),
            "expired",
        ),
        (
            github_token(&s, &idp, |c| {
                c["iss"] = json!("https://ci.example");
            }),
            "not trusted",
        ),
        (
            github_token(&s, &idp, |c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
            "jti",
        ),
        (
            github_token(&s, &idp, |c| {
                c["exp"] = json!(c["iat"].as_i64().unwrap() + 25 * 3600);
            }),
            "24 hours",
        ),
        ("not.a.jwt".to_owned(), "well-formed"),
        (
            {
                let t = github_token(&s, &idp, |_| {});
                let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
                parts[1] = github_token(&s, &idp, |c| c["ref"] = json!("refs/heads/evil"))
                    .split('.')
                    .nth(1)
                    .unwrap()
                    .to_owned();
                parts.join(".")
            },
            "bad signature",
        ),
    ];
    for (id_token, what) in cases {
        let (status, body) = exchange(&s, &id_token, &sa).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert_eq!(body["error"], "invalid_request", "{what}: {body}");
        assert!(
            body["error_description"].as_str().unwrap().contains(what),
            "{what}: {body}"
        );
    }

    // Unknown, malformed and disabled accounts are refused like a mismatch.
    let unknown = uuid::Uuid::now_v7().to_string();
    let (status, body) = exchange(&s, &github_token(&s, &idp, |_| {}), &unknown).await;
    assert_no_policy(status, &body);
    let (status, body) = exchange(&s, &github_token(&s, &idp, |_| {}), "nope").await;
    assert_no_policy(status, &body);
    let (status, _) = s
        .patch(
            &o(&org, &format!("/service-accounts/{sa}")),
            &admin,
            json!({"status": "disabled"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = exchange(&s, &github_token(&s, &idp, |_| {}), &sa).await;
    assert_no_policy(status, &body);
    let rejected = s
        .audit_events_about(&admin, &org, "service_token.exchange_rejected", &sa)
        .await;
    let reasons: Vec<&str> = rejected
        .iter()
        .map(|e| e["details"]["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"replayed"), "{reasons:?}");
    assert!(reasons.contains(&"service_account_disabled"), "{reasons:?}");

    // The request itself.
    let resp = s
        .http
        .post(s.url("/oidc/token"))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_grant_type", "{body}");
    let resp = s
        .http
        .post(s.url("/oidc/token"))
        .form(&[(
            "grant_type",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        )])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["error_description"], "subject_token is missing",
        "{body}"
    );
    let resp = s
        .http
        .post(s.url("/oidc/token"))
        .header("content-type", "text/plain")
        .body("grant_type=x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request", "{body}");
    let resp = s
        .http
        .post(s.url("/oidc/token"))
        .form(&[("subject_token", "x".repeat(70 * 1024))])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request", "{body}");
}

async fn mismatches_are_audited_once_a_minute_with_the_claim(s: TestServer, idp: TestIssuer) {
    let (admin, org, sa) = setup(&s).await;
    let p = create_policy(&s, &admin, &org, &sa, policy_body(&idp)).await;
    let mut tags = policy_body(&idp);
    tags["name"] = json!("tags");
    tags["conditions"] = json!({"repository_owner_id": "42", "ref": "refs/tags/v*"});
    let p2 = create_policy(&s, &admin, &org, &sa, tags).await;

    let evil = |s: &TestServer| github_token(s, &idp, |c| c["ref"] = json!("refs/pull/1/merge"));
    let (status, body) = exchange(&s, &evil(&s), &sa).await;
    assert_no_policy(status, &body);
    assert!(!body.to_string().contains("refs/pull"), "{body}");
    let rejected = s
        .audit_events_about(&admin, &org, "service_token.exchange_rejected", &sa)
        .await;
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    let d = &rejected[0]["details"];
    assert_eq!(d["reason"], "no_policy_accepts");
    assert_eq!(rejected[0]["actor"]["type"], "anonymous");
    let seen: Vec<(String, String, String, String)> = d["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                str_of(&p["id"]),
                str_of(&p["claim"]),
                str_of(&p["wanted"]),
                str_of(&p["seen"]),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                str_of(&p["id"]),
                "ref".into(),
                "refs/heads/*".into(),
                "refs/pull/1/merge".into()
            ),
            (
                str_of(&p2["id"]),
                "ref".into(),
                "refs/tags/v*".into(),
                "refs/pull/1/merge".into()
            ),
        ]
    );

    // The same refusal again within the minute: no second event. Another
    // reason (the audience) is a new one.
    let (status, body) = exchange(&s, &evil(&s), &sa).await;
    assert_no_policy(status, &body);
    let (status, body) = exchange(
        &s,
        &github_token(&s, &idp, |c| c["aud"] = json!([AUD, "other"])),
        &sa,
    )
    .await;
    assert_no_policy(status, &body);
    let rejected = s
        .audit_events_about(&admin, &org, "service_token.exchange_rejected", &sa)
        .await;
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert!(rejected
        .iter()
        .any(|e| e["details"]["policies"][0]["claim"] == "aud"));
    s.advance(Duration::seconds(61));
    let (status, body) = exchange(&s, &evil(&s), &sa).await;
    assert_no_policy(status, &body);
    let rejected = s
        .audit_events_about(&admin, &org, "service_token.exchange_rejected", &sa)
        .await;
    assert_eq!(rejected.len(), 3, "{rejected:?}");

    // A forged token is never audited: nothing about the account is
    // believed before the signature holds.
    let claims = idp.github_claims(AUD, s.clock.now());
    let forged = idp.sign_with(
        &json!({"alg": "none", "typ": "JWT"}),
        tron_oidc::testing::Signer::Unsigned,
        &claims,
    );
    let (status, body) = exchange(&s, &forged, &sa).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    s.advance(Duration::seconds(61));
    let (status, _) = exchange(&s, &forged, &sa).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let rejected = s
        .audit_events_about(&admin, &org, "service_token.exchange_rejected", &sa)
        .await;
    assert_eq!(rejected.len(), 3, "{rejected:?}");
}

async fn policy_changes_apply_to_the_next_exchange(s: TestServer, idp: TestIssuer) {
    let (admin, org, sa) = setup(&s).await;
    let p = create_policy(&s, &admin, &org, &sa, policy_body(&idp)).await;
    let one = format!("{}/{}", policies(&org, &sa), str_of(&p["id"]));
    assert_eq!(
        exchange(&s, &github_token(&s, &idp, |_| {}), &sa).await.0,
        StatusCode::OK
    );
    let (status, _) = s
        .patch(
            &one,
            &admin,
            json!({"conditions": {"repository_owner_id": "43"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = exchange(&s, &github_token(&s, &idp, |_| {}), &sa).await;
    assert_no_policy(status, &body);
    let (status, _) = s
        .patch(
            &one,
            &admin,
            json!({"conditions": {"repository_owner_id": "42"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        exchange(&s, &github_token(&s, &idp, |_| {}), &sa).await.0,
        StatusCode::OK
    );
    let (status, _) = s.delete(&one, &admin).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = exchange(&s, &github_token(&s, &idp, |_| {}), &sa).await;
    assert_no_policy(status, &body);
}

async fn concurrent_exchanges_of_one_id_token_mint_one_token(s: TestServer, idp: TestIssuer) {
    let (admin, org, sa) = setup(&s).await;
    create_policy(&s, &admin, &org, &sa, policy_body(&idp)).await;
    let id_token = github_token(&s, &idp, |_| {});
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let req = exchange_request(&s, &id_token, &sa);
        set.spawn(async move {
            let resp = req.send().await.expect("send");
            let status = resp.status();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        });
    }
    let results = set.join_all().await;
    let ok = results
        .iter()
        .filter(|(st, _)| *st == StatusCode::OK)
        .count();
    assert_eq!(ok, 1, "{results:?}");
    for (status, body) in &results {
        if *status != StatusCode::OK {
            assert_eq!(*status, StatusCode::BAD_REQUEST, "{body}");
            assert!(
                body["error_description"]
                    .as_str()
                    .unwrap()
                    .contains("already exchanged"),
                "{body}"
            );
        }
    }
    let (_, list) = s
        .get(&o(&org, &format!("/service-accounts/{sa}/tokens")), &admin)
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(
        s.audit_count(&admin, &org, "service_token.exchange").await,
        1
    );
}

async fn keys_that_cannot_be_had_answer_503(s: TestServer, idp: TestIssuer) {
    let (admin, org, sa) = setup(&s).await;
    create_policy(&s, &admin, &org, &sa, policy_body(&idp)).await;
    idp.set_discovery_status(Some(500));
    let (status, body) = exchange(&s, &github_token(&s, &idp, |_| {}), &sa).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable");
}

// ---- the throttle (one backend is enough: it is in memory) -------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchanges_are_throttled_per_client_address() {
    let (s, idp) = start(Db::Sqlite, 3).await;
    let (_, _, sa) = setup(&s).await;
    for _ in 0..3 {
        let (status, body) = exchange(&s, &github_token(&s, &idp, |_| {}), &sa).await;
        assert_no_policy(status, &body);
    }
    let resp = s
        .http
        .post(s.url("/oidc/token"))
        .form(&[("grant_type", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "slow_down", "{body}");
}

keyless!(typed_client_trust_policies_and_exchange);

/// `tron-client`'s trust-policy calls and `exchange_id_token` (what the
/// CLI uses): the policy's life, a working token, and RFC 6749 refusals
/// read as the client's error with `error` as the code.
async fn typed_client_trust_policies_and_exchange(s: TestServer, idp: TestIssuer) {
    use tron_client::{
        ClientError, CreateTrustPolicy, DisplayName, ListParams, OrganizationId, Secret,
        ServiceAccountId, UpdateTrustPolicy, Uuid,
    };
    let (admin, org, sa) = setup(&s).await;
    let org = OrganizationId(Uuid::parse_str(&org).unwrap());
    let sa = ServiceAccountId(Uuid::parse_str(&sa).unwrap());
    let c = s.client(&admin);
    let created = c
        .create_trust_policy(
            org,
            sa,
            &CreateTrustPolicy {
                name: DisplayName::parse("name", "main").unwrap(),
                issuer: idp.issuer(),
                audience: AUD.into(),
                conditions: json!({"repository_owner_id": "42", "ref": "refs/heads/main"}),
                token_ttl_seconds: Some(600),
            },
        )
        .await
        .unwrap();
    assert_eq!(created.service_account_id, sa);
    assert_eq!(created.conditions["ref"], "refs/heads/main");
    let listed = c
        .list_trust_policies(org, sa, &ListParams::default())
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].id, created.id);
    let updated = c
        .update_trust_policy(
            org,
            sa,
            created.id,
            &UpdateTrustPolicy {
                token_ttl_seconds: Some(300),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.token_ttl_seconds, 300);
    assert_eq!(
        c.get_trust_policy(org, sa, created.id)
            .await
            .unwrap()
            .token_ttl_seconds,
        300
    );

    // The exchange, through a client holding the admin's token: sent
    // anonymously all the same, and the minted token is the account's.
    let id_token = Secret::new(idp.sign(&idp.github_claims(AUD, s.clock.now())));
    let answer = c.exchange_id_token(sa, &id_token).await.unwrap();
    assert!(answer.access_token.starts_with("trn_sat_"));
    assert_eq!(answer.token_type, "Bearer");
    assert_eq!(answer.expires_in, 300);
    assert!(!format!("{answer:?}").contains(&answer.access_token));
    let me = s.client(&answer.access_token).me().await.unwrap();
    assert_eq!(me.principal.id.to_string(), sa.to_string());

    // Replayed: RFC 6749's error as the client's error.
    match c.exchange_id_token(sa, &id_token).await {
        Err(e @ ClientError::Api { status: 400, .. }) => {
            assert_eq!(e.code(), Some("invalid_request"));
            assert!(!e.to_string().contains(id_token.expose()), "{e}");
        }
        other => panic!("expected invalid_request, got {other:?}"),
    }
    let other_branch = {
        let mut claims = idp.github_claims(AUD, s.clock.now());
        claims["ref"] = json!("refs/heads/dev");
        Secret::new(idp.sign(&claims))
    };
    let e = c.exchange_id_token(sa, &other_branch).await.unwrap_err();
    assert_eq!(e.code(), Some("invalid_request"));
    assert_eq!(
        e.to_string(),
        format!("400 invalid_request: {NO_POLICY_ACCEPTS}")
    );

    c.delete_trust_policy(org, sa, created.id).await.unwrap();
    let e = c.get_trust_policy(org, sa, created.id).await.unwrap_err();
    assert_eq!(e.code(), Some("not_found"));
    let fresh = Secret::new(idp.sign(&idp.github_claims(AUD, s.clock.now())));
    let e = c.exchange_id_token(sa, &fresh).await.unwrap_err();
    assert_eq!(e.code(), Some("invalid_request"));
}

/// The same ID token sent to two instances on one PostgreSQL database at
/// once: one exchange succeeds, on one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_across_two_instances_on_postgres() {
    let (a, idp) = start(Db::Postgres, 300).await;
    let list = format!("{},{GITHUB}", idp.issuer());
    let b = TestServer::start_on_configured(Db::Postgres, a.database_url.clone(), None, |c| {
        c.oidc_issuers = tron_oidc::TrustedIssuers::parse(Some(&list)).expect("issuers");
    })
    .await;
    let (admin, org, sa) = setup(&a).await;
    create_policy(&a, &admin, &org, &sa, policy_body(&idp)).await;
    let id_token = github_token(&a, &idp, |_| {});
    let mut set = tokio::task::JoinSet::new();
    for i in 0..16 {
        let server = if i % 2 == 0 { &a } else { &b };
        let req = exchange_request(server, &id_token, &sa);
        set.spawn(async move { req.send().await.expect("send").status() });
    }
    let statuses = set.join_all().await;
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{statuses:?}");
    assert!(statuses
        .iter()
        .all(|s| *s == StatusCode::OK || *s == StatusCode::BAD_REQUEST));
    assert_eq!(
        a.audit_count(&admin, &org, "service_token.exchange").await,
        1
    );
}
