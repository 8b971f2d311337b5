//! Service accounts and service tokens (SPEC §4 "Service accounts and
//! service tokens"): the account's lifecycle, its tokens, rotation, the
//! lifetime policy, what a service token can never do, `last_used_at`,
//! leaked-token revocation, rejection events, and the CI pipeline story.
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tron_core::clock::Clock;
use tron_core::token::SecretToken;

use crate::contract;
use crate::kit::{env_scope, items, str_of, TestServer};

contract!(
    service_account_lifecycle,
    service_account_names,
    service_account_membership_and_groups,
    service_account_permissions_by_role,
    service_token_lifecycle,
    service_token_expiry_and_policy,
    rotation_with_grace_period,
    rotation_refusals,
    rotated_token_cannot_rotate_again,
    rotation_keeps_lifetime_clamped_to_policy,
    concurrent_rotations_mint_one_replacement,
    self_rotation,
    disable_enable_and_delete,
    what_a_service_token_can_never_do,
    service_token_identity_and_minimal_access,
    last_used_at_is_recorded,
    revoke_leaked_service_token,
    rejected_service_tokens_are_audited_once_per_minute,
    ci_pipeline_story,
);

// ---- helpers --------------------------------------------------------------

fn ts(v: &Value) -> DateTime<Utc> {
    let s = v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}"));
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("bad timestamp {s}: {e}"))
        .with_timezone(&Utc)
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}

fn sorted(k: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = k.iter().map(|s| (*s).to_owned()).collect();
    k.sort();
    k
}

/// Asserts a 401 with the given error code and `WWW-Authenticate: Bearer`.
async fn assert_401(s: &TestServer, token: &str, code: &str) {
    let resp = s
        .http
        .get(s.url("/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "expected {code}");
    assert!(
        resp.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Bearer")),
        "401 without WWW-Authenticate: Bearer"
    );
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], code, "{body}");
}

async fn assert_works(s: &TestServer, token: &str) {
    let (status, body) = s.get("/me", token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The server's current time (the injectable clock).
fn server_now(s: &TestServer) -> DateTime<Utc> {
    s.clock.now()
}

async fn token_list(s: &TestServer, admin: &str, org: &str, sa: &str) -> Vec<Value> {
    let (status, body) = s
        .get(
            &format!("/organizations/{org}/service-accounts/{sa}/tokens"),
            admin,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    items(&body)
}

async fn token_in_list(s: &TestServer, admin: &str, org: &str, sa: &str, id: &str) -> Value {
    token_list(s, admin, org, sa)
        .await
        .into_iter()
        .find(|t| t["id"] == id)
        .unwrap_or_else(|| panic!("token {id} not listed"))
}

fn rotate_path(org: &str, sa: &str, token_id: &str) -> String {
    format!("/organizations/{org}/service-accounts/{sa}/tokens/{token_id}/rotate")
}

// ---- 1. service accounts ------------------------------------------------

async fn service_account_lifecycle(s: TestServer) {
    let (ann, org) = s.admin_and_org().await;
    let ann_id = str_of(&s.get("/me", &ann).await.1["principal"]["id"]);
    let base = format!("/organizations/{org}/service-accounts");

    let (status, sa) = s
        .post(
            &base,
            &ann,
            json!({"name": "ci-deployer", "description": "Deploys from CI"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sa}");
    assert_eq!(
        keys(&sa),
        sorted(&[
            "id",
            "organization_id",
            "member_id",
            "name",
            "description",
            "status",
            "groups",
            "created_at",
            "created_by",
            "last_used_at",
        ]),
        "{sa}"
    );
    let id = str_of(&sa["id"]);
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    assert!(uuid::Uuid::parse_str(&str_of(&sa["member_id"])).is_ok());
    assert_eq!(sa["organization_id"], org.as_str());
    assert_eq!(sa["name"], "ci-deployer");
    assert_eq!(sa["description"], "Deploys from CI");
    assert_eq!(sa["status"], "active");
    assert_eq!(sa["groups"], json!([]));
    assert!(sa["last_used_at"].is_null());
    ts(&sa["created_at"]);
    assert_eq!(
        sa["created_by"],
        json!({"type": "user", "id": ann_id, "name": "ann@example.com"})
    );

    // Description is optional and defaults to empty.
    let (status, other) = s.post(&base, &ann, json!({"name": "terraform"})).await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    assert_eq!(other["description"], "");

    // Get and list agree with what creation answered.
    let (status, got) = s.get(&format!("{base}/{id}"), &ann).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, sa);
    let (status, list) = s.get(&base, &ann).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<String> = items(&list).iter().map(|x| str_of(&x["name"])).collect();
    assert_eq!(names, ["ci-deployer", "terraform"]);
    assert!(list["next_cursor"].is_null());
    let (_, page) = s.get(&format!("{base}?limit=1"), &ann).await;
    assert_eq!(items(&page).len(), 1);
    let cursor = str_of(&page["next_cursor"]);
    let (_, page) = s
        .get(&format!("{base}?limit=1&cursor={cursor}"), &ann)
        .await;
    assert_eq!(items(&page)[0]["name"], "terraform");

    // Update: name, description, status; each field alone.
    let (status, upd) = s
        .patch(
            &format!("{base}/{id}"),
            &ann,
            json!({"name": "ci-deploy", "description": "new words"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{upd}");
    assert_eq!(upd["name"], "ci-deploy");
    assert_eq!(upd["description"], "new words");
    assert_eq!(upd["status"], "active");
    assert_eq!(upd["id"], id.as_str());
    assert_eq!(upd["member_id"], sa["member_id"]);
    let (status, upd) = s
        .patch(&format!("{base}/{id}"), &ann, json!({"status": "disabled"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{upd}");
    assert_eq!(upd["status"], "disabled");
    assert_eq!(upd["name"], "ci-deploy");
    let (status, upd) = s
        .patch(&format!("{base}/{id}"), &ann, json!({"status": "active"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(upd["status"], "active");
    let (status, body) = s
        .patch(&format!("{base}/{id}"), &ann, json!({"status": "paused"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "status");
    let (status, _) = s
        .patch(&format!("{base}/{id}"), &ann, json!({"color": "red"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = s
        .patch(
            &format!("{base}/{id}"),
            &ann,
            json!({"description": "x".repeat(1001)}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "description");
    // A change to what already is changes nothing, and records nothing.
    for same in [
        json!({}),
        json!({"status": "active"}),
        json!({"name": "ci-deploy", "description": "new words", "status": "active"}),
    ] {
        let (status, body) = s.patch(&format!("{base}/{id}"), &ann, same).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["name"], "ci-deploy");
        assert_eq!(body["status"], "active");
    }

    // Unknown and malformed ids.
    let ghost = uuid::Uuid::now_v7();
    let (status, _) = s.get(&format!("{base}/{ghost}"), &ann).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s
        .patch(&format!("{base}/{ghost}"), &ann, json!({"name": "x"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.get(&format!("{base}/not-a-uuid"), &ann).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Delete.
    let (status, _) = s.delete(&format!("{base}/{id}"), &ann).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s.get(&format!("{base}/{id}"), &ann).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.delete(&format!("{base}/{id}"), &ann).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = s.get(&base, &ann).await;
    assert_eq!(items(&list).len(), 1);

    // Every change is in the audit log, by the admin, with what changed.
    let log = s.audit_events(&ann, &org, &format!("target_id={id}")).await;
    assert_eq!(
        log[3]["details"],
        json!({"name": "ci-deploy", "description": "new words"})
    );
    assert_eq!(log[2]["details"], json!({"status": "disabled"}));
    let actions: Vec<String> = log
        .iter()
        .map(|e| {
            assert_eq!(e["actor"]["type"], "user", "{e}");
            str_of(&e["action"])
        })
        .collect();
    assert_eq!(
        actions,
        [
            "service_account.delete",
            "service_account.enable",
            "service_account.disable",
            "service_account.update",
            "service_account.create",
        ]
    );
}

async fn service_account_names(s: TestServer) {
    let (ann, org) = s.admin_and_org().await;
    let base = format!("/organizations/{org}/service-accounts");
    let long = "a".repeat(64);
    for bad in [
        "",
        "-ci",
        "ci-",
        "CI",
        "ci_deployer",
        "ci deployer",
        "ci.deployer",
        "é",
        long.as_str(),
    ] {
        let (status, body) = s.post(&base, &ann, json!({"name": bad})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}: {body}");
        assert_eq!(body["error"]["code"], "validation_error", "{bad:?}");
        assert_eq!(body["error"]["field"], "name", "{bad:?}");
    }
    let max = "a".repeat(63);
    for good in ["a", "9", "a-b", "ci--x", "0ci9", max.as_str()] {
        let (status, body) = s.post(&base, &ann, json!({"name": good})).await;
        assert_eq!(status, StatusCode::CREATED, "{good:?}: {body}");
    }
    // Unique per organization, on create and on rename.
    let (status, body) = s.post(&base, &ann, json!({"name": "a-b"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "conflict");
    assert_eq!(body["error"]["field"], "name");
    let (id, _) = s.service_account(&ann, &org, "renamed-later").await;
    let (status, body) = s
        .patch(&format!("{base}/{id}"), &ann, json!({"name": "a-b"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["field"], "name");
    let (status, body) = s
        .patch(&format!("{base}/{id}"), &ann, json!({"name": "Bad Name"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "name");
    // Keeping its own name is not a conflict.
    let (status, _) = s
        .patch(
            &format!("{base}/{id}"),
            &ann,
            json!({"name": "renamed-later"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Another organization may use the same name.
    let other = s.org(&ann, "Other").await;
    s.service_account(&ann, &other, "a-b").await;
}

async fn service_account_membership_and_groups(s: TestServer) {
    let (ann, org) = s.admin_and_org().await;
    let (sa, member) = s.service_account(&ann, &org, "ci-deployer").await;
    let members = format!("/organizations/{org}/members");

    // The service account is a member, distinguished from users.
    let (_, all) = s.get(&members, &ann).await;
    let listed = items(&all)
        .into_iter()
        .find(|m| m["id"] == member.as_str())
        .expect("service account is a member");
    assert_eq!(listed["principal_type"], "service_account");
    assert!(listed["user"].is_null());
    assert_eq!(
        listed["service_account"],
        json!({"id": sa, "name": "ci-deployer"})
    );
    assert_eq!(listed["groups"], json!([]));
    let (_, only) = s
        .get(&format!("{members}?principal_type=service_account"), &ann)
        .await;
    let only = items(&only);
    assert_eq!(only.len(), 1);
    assert_eq!(only[0]["id"], member.as_str());
    let (_, users) = s.get(&format!("{members}?principal_type=user"), &ann).await;
    assert!(items(&users)
        .iter()
        .all(|m| m["principal_type"] == "user" && m["id"] != member.as_str()));

    // Group membership shows in `groups`, on the account and the member.
    let env = s.env(&ann, &org, "staging").await;
    let deployers = s
        .group(&ann, &org, "Deployers", "editor", env_scope(&[&env]))
        .await;
    let readers = s.org_group(&ann, &org, "Readers", "viewer").await;
    s.join(&ann, &org, &deployers, &member).await;
    s.join(&ann, &org, &deployers, &member).await; // idempotent
    s.join(&ann, &org, &readers, &member).await;
    let sa_path = format!("/organizations/{org}/service-accounts/{sa}");
    let (_, got) = s.get(&sa_path, &ann).await;
    assert_eq!(
        got["groups"],
        json!([{"id": deployers, "name": "Deployers"}, {"id": readers, "name": "Readers"}])
    );
    let (_, list) = s
        .get(&format!("/organizations/{org}/service-accounts"), &ann)
        .await;
    assert_eq!(items(&list)[0]["groups"], got["groups"]);
    let (_, only) = s
        .get(&format!("{members}?principal_type=service_account"), &ann)
        .await;
    assert_eq!(items(&only)[0]["groups"], got["groups"]);
    let (_, gm) = s
        .get(
            &format!("/organizations/{org}/groups/{deployers}/members"),
            &ann,
        )
        .await;
    assert_eq!(items(&gm).len(), 1);
    assert_eq!(items(&gm)[0]["principal_type"], "service_account");

    let (status, _) = s
        .delete(
            &format!("/organizations/{org}/groups/{readers}/members/{member}"),
            &ann,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s
        .delete(
            &format!("/organizations/{org}/groups/{readers}/members/{member}"),
            &ann,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "removing is idempotent");
    let (_, got) = s.get(&sa_path, &ann).await;
    assert_eq!(
        got["groups"],
        json!([{"id": deployers, "name": "Deployers"}])
    );

    // A service account leaves only by being deleted.
    let (status, body) = s.delete(&format!("{members}/{member}"), &ann).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "conflict");
    let (_, got) = s.get(&sa_path, &ann).await;
    assert_eq!(got["status"], "active");
    let (_, only) = s
        .get(&format!("{members}?principal_type=service_account"), &ann)
        .await;
    assert_eq!(items(&only).len(), 1);

    // The member of a service account of another organization cannot be
    // put in a group here.
    let other = s.org(&ann, "Other").await;
    let (_, foreign_member) = s.service_account(&ann, &other, "ci-deployer").await;
    let (status, _) = s
        .put(
            &format!("/organizations/{org}/groups/{readers}/members/{foreign_member}"),
            &ann,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn service_account_permissions_by_role(s: TestServer) {
    let (ann, org) = s.admin_and_org().await;
    let (sa, token_id, _) = s.sa_with_token(&ann, &org, "ci-deployer", "t").await;
    let env = s.env(&ann, &org, "staging").await;
    let mut who = Vec::new();
    for (email, role, scope) in [
        (
            "viewer@example.com",
            "viewer",
            json!({"type": "organization"}),
        ),
        (
            "editor@example.com",
            "editor",
            json!({"type": "organization"}),
        ),
        (
            "envadmin@example.com",
            "admin",
            json!({"type": "environment", "environment_ids": [env]}),
        ),
    ] {
        let (token, _, _) = s.member_in_group(&ann, &org, email, role, scope).await;
        who.push((email, token));
    }
    let (_, nogroup, _) = s.member(&ann, &org, "nogroup@example.com").await;

    let base = format!("/organizations/{org}/service-accounts");
    let tokens = format!("{base}/{sa}/tokens");
    let (viewer, editor, envadmin) = (&who[0].1, &who[1].1, &who[2].1);

    // Viewing service accounts needs viewer at organization scope.
    for t in [viewer, editor] {
        let (status, body) = s.get(&base, t).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(items(&body).len(), 1);
        let (status, _) = s.get(&format!("{base}/{sa}"), t).await;
        assert_eq!(status, StatusCode::OK);
    }
    for t in [envadmin, &nogroup] {
        let (status, body) = s.get(&base, t).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"]["code"], "forbidden");
        let (status, _) = s.get(&format!("{base}/{sa}"), t).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    // Managing service accounts and anything about tokens needs admin at
    // organization scope.
    for t in [viewer, editor, envadmin, &nogroup] {
        let checks = [
            s.post(&base, t, json!({"name": "new-one"})).await,
            s.patch(&format!("{base}/{sa}"), t, json!({"description": "x"}))
                .await,
            s.patch(&format!("{base}/{sa}"), t, json!({"status": "disabled"}))
                .await,
            s.delete(&format!("{base}/{sa}"), t).await,
            s.get(&tokens, t).await,
            s.post(&tokens, t, json!({"name": "mine"})).await,
            s.post(&format!("{tokens}/{token_id}/rotate"), t, json!({}))
                .await,
            s.delete(&format!("{tokens}/{token_id}"), t).await,
        ];
        for (i, (status, body)) in checks.iter().enumerate() {
            assert_eq!(*status, StatusCode::FORBIDDEN, "check {i}: {body}");
            assert_eq!(body["error"]["code"], "forbidden", "check {i}");
        }
    }
    // Nothing changed.
    let (_, got) = s.get(&format!("{base}/{sa}"), &ann).await;
    assert_eq!(got["status"], "active");
    assert_eq!(got["description"], "");
    let listed = token_list(&s, &ann, &org, &sa).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "active");

    // A non-member sees nothing at all.
    let (_, stranger) = s.user("stranger@example.com").await;
    for path in [base.clone(), format!("{base}/{sa}"), tokens.clone()] {
        let (status, _) = s.get(&path, &stranger).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = s.post(&base, &stranger, json!({"name": "x"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// ---- 2. service tokens ------------------------------------------------------

async fn service_token_lifecycle(s: TestServer) {
    let (ann, org) = s.admin_and_org().await;
    let ann_id = str_of(&s.get("/me", &ann).await.1["principal"]["id"]);
    let (sa, _) = s.service_account(&ann, &org, "ci-deployer").await;
    let tokens = format!("/organizations/{org}/service-accounts/{sa}/tokens");
    let expires = server_now(&s) + Duration::days(30);

    let (status, created) = s
        .post(
            &tokens,
            &ann,
            json!({"name": "  GitHub Actions  ", "expires_at": expires}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        keys(&created),
        sorted(&[
            "id",
            "name",
            "hint",
            "status",
            "created_at",
            "created_by",
            "expires_at",
            "revoked_at",
            "last_used_at",
            "source",
            "trust_policy_id",
            "token",
        ]),
        "{created}"
    );
    assert_eq!(created["source"], "manual");
    assert!(created["trust_policy_id"].is_null());
    let secret = str_of(&created["token"]);
    assert!(secret.starts_with("trn_sat_"), "{secret}");
    assert_eq!(secret.len(), 8 + 49);
    assert!(secret[8..].bytes().all(|b| b.is_ascii_alphanumeric()));
    assert!(SecretToken::parse(&secret).is_some(), "checksum is valid");
    assert_eq!(created["hint"], &secret[secret.len() - 4..]);
    assert_eq!(created["name"], "GitHub Actions");
    assert_eq!(created["status"], "active");
    assert!(created["revoked_at"].is_null());
    assert!(created["last_used_at"].is_null());
    assert!(
        (ts(&created["expires_at"]) - expires)
            .num_milliseconds()
            .abs()
            < 1
    );
    assert_eq!(
        created["created_by"],
        json!({"type": "user", "id": ann_id, "name": "ann@example.com"})
    );
    let id = str_of(&created["id"]);
    assert_works(&s, &secret).await;

    // A second token, without expiry.
    let (status, second) = s.post(&tokens, &ann, json!({"name": "nightly"})).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert!(second["expires_at"].is_null());
    let second_secret = str_of(&second["token"]);
    assert_ne!(second_secret, secret);

    // The list never holds the plaintext.
    let (status, list) = s.get(&tokens, &ann).await;
    assert_eq!(status, StatusCode::OK);
    let text = list.to_string();
    assert!(!text.contains(&secret) && !text.contains(&second_secret));
    assert!(!text.contains("trn_sat_"));
    let listed = items(&list);
    assert_eq!(listed.len(), 2);
    for t in &listed {
        assert!(t.get("token").is_none(), "{t}");
    }
    // The listed token is the created one, less its plaintext (its
    // last_used_at may have been written meanwhile).
    let mut expected = created.clone();
    let mut first = listed[0].clone();
    for v in [&mut expected, &mut first] {
        let o = v.as_object_mut().expect("object");
        o.remove("token");
        o.remove("last_used_at");
    }
    assert_eq!(first, expected);

    // Nor does any audit event.
    let log = s.audit_events(&ann, &org, "").await;
    let log_text = serde_json::to_string(&log).expect("json");
    assert!(!log_text.contains(&secret) && !log_text.contains(&second_secret));
    let create_event = log
        .iter()
        .find(|e| e["action"] == "service_token.create" && e["target"]["id"] == id.as_str())
        .expect("service_token.create");
    assert_eq!(create_event["actor"]["type"], "user");

    // Token names are validated.
    for bad in ["", "   ", "a\u{0007}b"] {
        let (status, body) = s.post(&tokens, &ann, json!({"name": bad})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}");
        assert_eq!(body["error"]["field"], "name");
    }
    let (status, _) = s.post(&tokens, &ann, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Tokens of an unknown service account.
    let ghost = uuid::Uuid::now_v7();
    let (status, _) = s
        .post(
            &format!("/organizations/{org}/service-accounts/{ghost}/tokens"),
            &ann,
            json!({"name": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s
        .get(
            &format!("/organizations/{org}/service-accounts/{ghost}/tokens"),
            &ann,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A token is reachable only under its own service account.
    let (other_sa, _) = s.service_account(&ann, &org, "other").await;
    let (status, _) = s
        .delete(
            &format!("/organizations/{org}/service-accounts/{other_sa}/tokens/{id}"),
            &ann,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_works(&s, &secret).await;

    // Revoke: 204, idempotent, effective on the very next request.
    let (status, _) = s.delete(&format!("{tokens}/{id}"), &ann).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_401(&s, &secret, "token_revoked").await;
    let (status, _) = s.delete(&format!("{tokens}/{id}"), &ann).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s
        .delete(&format!("{tokens}/{}", uuid::Uuid::now_v7()), &ann)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let revoked = token_in_list(&s, &ann, &org, &sa, &id).await;
    assert_eq!(revoked["status"], "revoked");
    ts(&revoked["revoked_at"]);
    // The other token is untouched.
    assert_works(&s, &second_secret).await;
    // One revoke event, although it was revoked twice.
    let revokes = s
        .audit_events_about(&ann, &org, "service_token.revoke", &id)
        .await;
    assert_eq!(revokes.len(), 1);
}

async fn service_token_expiry_and_policy(s: TestServer) {
    let (ann, org) = s.admin_and_org().await;
    let (sa, _) = s.service_account(&ann, &org, "ci-deployer").await;
    let tokens = format!("/organizations/{org}/service-accounts/{sa}/tokens");

    // expires_at in the past (or now) is refused, with its field.
    for past in [
        server_now(&s) - Duration::seconds(1),
        server_now(&s) - Duration::days(3),
    ] {
        let (status, body) = s
            .post(&tokens, &ann, json!({"name": "t", "expires_at": past}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["code"], "validation_error");
        assert_eq!(body["error"]["field"], "expires_at");
    }
    let (status, body) = s
        .post(
            &tokens,
            &ann,
            json!({"name": "t", "expires_at": "tomorrow"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Expiry: token_expired, and the list says expired.
    let (id, secret) = s
        .service_token(
            &ann,
            &org,
            &sa,
            json!({"name": "short", "expires_at": server_now(&s) + Duration::hours(1)}),
        )
        .await;
    assert_works(&s, &secret).await;
    s.advance(Duration::minutes(59));
    assert_works(&s, &secret).await;
    s.advance(Duration::minutes(1) + Duration::seconds(1));
    assert_401(&s, &secret, "token_expired").await;
    let t = token_in_list(&s, &ann, &org, &sa, &id).await;
    assert_eq!(t["status"], "expired");
    assert!(t["revoked_at"].is_null());
    // Revoking an expired token: revocation wins in the status.
    let (status, _) = s.delete(&format!("{tokens}/{id}"), &ann).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let t = token_in_list(&s, &ann, &org, &sa, &id).await;
    assert_eq!(t["status"], "revoked");
    assert_401(&s, &secret, "token_revoked").await;

    // The organization's maximum lifetime.
    let (status, body) = s
        .patch(
            &format!("/organizations/{org}"),
            &ann,
            json!({"settings": {"max_token_lifetime_days": 30}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["settings"]["max_token_lifetime_days"], 30);
    assert_eq!(body["settings"]["service_token_rate_limit_per_minute"], 600);
    let (status, body) = s.post(&tokens, &ann, json!({"name": "forever"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "expiry_required");
    assert_eq!(body["error"]["field"], "expires_at");
    let (status, body) = s
        .post(
            &tokens,
            &ann,
            json!({"name": "long", "expires_at": server_now(&s) + Duration::days(31)}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "expiry_too_long");
    assert_eq!(body["error"]["field"], "expires_at");
    let (status, body) = s
        .post(
            &tokens,
            &ann,
            json!({"name": "ok", "expires_at": server_now(&s) + Duration::days(29)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = s
        .post(
            &tokens,
            &ann,
            json!({"name": "past", "expires_at": server_now(&s) - Duration::days(1)}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "expires_at");
    // Out-of-range settings are refused; null lifts the limit.
    for bad in [json!(0), json!(3651), json!("30")] {
        let (status, body) = s
            .patch(
                &format!("/organizations/{org}"),
                &ann,
                json!({"settings": {"max_token_lifetime_days": bad}}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, body) = s
        .patch(
            &format!("/organizations/{org}"),
            &ann,
            json!({"settings": {"max_token_lifetime_days": null}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["settings"]["max_token_lifetime_days"].is_null());
    let (status, body) = s.post(&tokens, &ann, json!({"name": "forever"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

// ---- 3. rotation --------------------------------------------------------------

async fn rotation_with_grace_period(s: TestServer) {
    let (ann, org) = s.admin_and_org().await;
    let (sa, old_id, old) = s
        .sa_with_token(&ann, &org, "ci-deployer", "deploy key")
        .await;

    // Grace of 30 seconds: both work until it passes.
    let (status, rotated) = s
        .post(
            &rotate_path(&org, &sa, &old_id),
            &ann,
            json!({"grace_period_seconds": 30}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rotated}");
    let new = str_of(&rotated["token"]);
    let new_id = str_of(&rotated["id"]);
    assert_ne!(new_id, old_id);
    assert_ne!(new, old);
    assert!(SecretToken::parse(&new).is_some());
    assert!(new.starts_with("trn_sat_"));
    assert_eq!(rotated["name"], "deploy key");
    assert_eq!(rotated["hint"], &new[new.len() - 4..]);
    assert_eq!(rotated["status"], "active");
    assert!(rotated["expires_at"].is_null());
    assert_works(&s, &old).await;
    assert_works(&s, &new).await;
    let listed = token_in_list(&s, &ann, &org, &sa, &old_id).await;
    assert_eq!(
        listed["status"], "active",
        "still active in its grace period"
    );
    s.advance(Duration::seconds(29));
    assert_works(&s, &old).await;
    s.advance(Duration::seconds(2));
    assert_401(&s, &old, "token_revoked").await;
    assert_works(&s, &new).await;
    let listed = token_in_list(&s, &ann, &org, &sa, &old_id).await;
    assert_eq!(listed["status"], "revoked");
    ts(&listed["revoked_at"]);
    let rot = s
        .audit_events_about(&ann, &org, "service_token.rotate", &old_id)
        .await;
    assert_eq!(rot.len(), 1);
    assert_eq!(rot[0]["actor"]["type"], "user");
    assert!(!rot[0].to_string().contains(&new));

    // Default grace is 0: the old token stops at once.
    let (status, again) = s
        .post(&rotate_path(&org, &sa, &new_id), &ann, json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_401(&s, &new, "token_revoked").await;
    let newer = str_of(&again["token"]);
    assert_works(&s, &newer).await;
    // Without a body at all, and with an explicit 0.
    let newer_id = str_of(&again["id"]);
    let resp = s
        .http
        .post(s.url(&rotate_path(&org, &sa, &newer_id)))
        .bearer_auth(&ann)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::CREATED);
    let third: Value = resp.json().await.expect("json");
    assert_401(&s, &newer, "token_revoked").await;
    let third_secret = str_of(&third["token"]);
    let (status, fourth) = s
        .post(
            &rotate_path(&org, &sa, &str_of(&third["id"])),
            &ann,
            json!({"grace_period_seconds": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_401(&s, &third_secret, "token_revoked").await;
    assert_works(&s, &str_of(&fourth["token"])).await;
    // The maximum grace, one day.
    let (status, fifth) = s
        .post(
            &rotate_path(&org, &sa, &str_of(&fourth["id"])),
            &ann,
            json!({"grace_period_seconds": 86400}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{fifth}");
    s.advance(Duration::hours(23));
    assert_works(&s, &str_of(&fourth["token"])).await;
    s.advance(Duration::hours(1) + Duration::seconds(1));
    assert_401(&s, &str_of(&fourth["token"]), "token_revoked").await;
    assert_works(&s, &str_of(&fifth["token"])).await;
}

async fn rotation_refusals(s: TestServer) {
    let (ann, org) = s.admin_and_org().await;
    let (sa, id, secret) = s.sa_with_token(&ann, &org, "ci-deployer", "t").await;

    // Grace outside 0..=86400.
    for bad in [json!(-1), json!(86401), json!("30"), json!(1.5)] {
        let (status, body) = s
            .post(
                &rotate_path(&org, &sa, &id),
                &ann,
                json!({"grace_period_seconds": bad}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "validation_error");
    }
    let (_, body) = s
        .post(
            &rotate_path(&org, &sa, &id),
            &ann,
            json!({"grace_period_seconds": 86401}),
        )
        .await;
    assert_eq!(body["error"]["field"], "grace_period_seconds");
    let (status, body) = s
        .post(
            &rotate_path(&org, &sa, &id),
            &ann,
            json!({"expires_at": server_now(&s) - Duration::hours(1)}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "expires_at");
    // None of these rotated anything.
    assert_eq!(token_list(&s, &ann, &org, &sa).await.len(), 1);
    assert_works(&s, &secret).await;

    // Unknown token, or a token of another service account: 404.
    let ghost = uuid::Uuid::now_v7();
    let (status, _) = s
        .post(&rotate_path(&org, &sa, &ghost.to_string()), &ann, json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (other, _) = s.service_account(&ann, &org, "other").await;
    let (status, _) = s
        .post(&rotate_path(&org, &other, &id), &ann, json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A revoked token cannot be rotated.
    let (status, _) = s
        .delete(
            &format!("/organizations/{org}/service-accounts/{sa}/tokens/{id}"),
            &ann,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = s.post(&rotate_path(&org, &sa, &id), &ann, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "conflict");

    // Nor an expired one.
    let (exp_id, _) = s
        .service_token(
            &ann,
            &org,
            &sa,
            json!({"name": "short", "expires_at": server_now(&s) + Duration::minutes(5)}),
        )
        .await;
    s.advance(Duration::minutes(6));
    let (status, body) = s
        .post(&rotate_path(&org, &sa, &exp_id), &ann, json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Nor one whose grace period already ended.
    let (old_id, _) = s.service_token(&ann, &org, &sa, json!({"name": "g"})).await;
    let (status, _) = s
        .post(
            &rotate_path(&org, &sa, &old_id),
            &ann,
            json!({"grace_period_seconds": 10}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    s.advance(Duration::seconds(11));
    let (status, _) = s
        .post(&rotate_path(&org, &sa, &old_id), &ann, json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Refusals minted nothing: revoked t, expired short, rotated g and its
    // replacement.
    assert_eq!(token_list(&s, &ann, &org, &sa).await.len(), 4);
}

/// A token living out its grace period already has its successor: it
/// cannot be rotated again, by an admin or by itself (SPEC §4), so a leaked
/// token cannot multiply itself. Its successor can; an explicit revocation
/// still cuts the grace period short.
async fn rotated_token_cannot_rotate_again(s: TestServer) {
    let (ann, org) = s.admin_and_org().await;
    let (sa, old_id, old) = s.sa_with_token(&ann, &org, "ci-deployer", "ci").await;
    let (status, first) = s
        .post(
            &rotate_path(&org, &sa, &old_id),
            &ann,
            json!({"grace_period_seconds": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_works(&s, &old).await;
    for (path, token, body) in [
        (
            "/me/token/rotate".to_owned(),
            &old,
            json!({"grace_period_seconds": 86400}),
        ),
        ("/me/token/rotate".to_owned(), &old, json!({})),
        (rotate_path(&org, &sa, &old_id), &ann, json!({})),
        (
            rotate_path(&org, &sa, &old_id),
            &ann,
            json!({"grace_period_seconds": 60}),
        ),
    ] {
        let (status, resp) = s.post(&path, token, body.clone()).await;
        assert_eq!(status, StatusCode::CONFLICT, "{path} {body}: {resp}");
        assert_eq!(resp["error"]["code"], "conflict");
    }
    // Nothing was minted and the one event tells the real revocation time.
    assert_eq!(token_list(&s, &ann, &org, &sa).await.len(), 2);
    let rot = s
        .audit_events_about(&ann, &org, "service_token.rotate", &old_id)
        .await;
    assert_eq!(rot.len(), 1);
    s.advance(Duration::seconds(3));
    assert_401(&s, &old, "token_revoked").await;
    let listed = token_in_list(&s, &ann, &org, &sa, &old_id).await;
    assert_eq!(
        ts(&listed["revoked_at"]),
        ts(&rot[0]["details"]["old_token_revoked_at"])
    );
    // The successor rotates as any token.
    let (status, second) = s
        .post("/me/token/rotate", &str_of(&first["token"]), json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");

    // Revoking a token in its grace period ends it now, once.
    let (id, secret) = s.service_token(&ann, &org, &sa, json!({"name": "g"})).await;
    let (status, _) = s
        .post(
            &rotate_path(&org, &sa, &id),
            &ann,
            json!({"grace_period_seconds": 600}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_works(&s, &secret).await;
    let revoke = format!("/organizations/{org}/service-accounts/{sa}/tokens/{id}");
    for _ in 0..2 {
        let (status, _) = s.delete(&revoke, &ann).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_401(&s, &secret, "token_revoked").await;
    }
    let revokes = s
        .audit_events_about(&ann, &org, "service_token.revoke", &id)
        .await;
    assert_eq!(revokes.len(), 1);
}

async fn rotation_keeps_lifetime_clamped_to_policy(s: TestServer) {
    let (ann, org) = s.admin_and_org().await;
    let (sa, _) = s.service_account(&ann, &org, "ci-deployer").await;
    let close = |a: Duration, b: Duration| (a - b).num_milliseconds().abs() <= 1000;
    let lifetime = |t: &Value| ts(&t["expires_at"]) - ts(&t["created_at"]);

    // A 10-day token rotated 4 days later lives 10 days from the rotation.
    let (status, old) = s
        .post(
            &format!("/organizations/{org}/service-accounts/{sa}/tokens"),
            &ann,
            json!({"name": "ten days", "expires_at": server_now(&s) + Duration::days(10)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let old_lifetime = lifetime(&old);
    s.advance(Duration::days(4));
    let (status, new) = s
        .post(
            &rotate_path(&org, &sa, &str_of(&old["id"])),
            &ann,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{new}");
    assert!(
        close(lifetime(&new), old_lifetime),
        "{new} vs lifetime {old_lifetime}"
    );
    assert!(ts(&new["created_at"]) >= ts(&old["created_at"]) + Duration::days(4));
    assert!(ts(&new["expires_at"]) > ts(&old["expires_at"]));

    // A token without expiry stays without one when there is no limit.
    let (forever_id, _) = s
        .service_token(&ann, &org, &sa, json!({"name": "forever"}))
        .await;
    let (status, rotated) = s
        .post(&rotate_path(&org, &sa, &forever_id), &ann, json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(rotated["expires_at"].is_null(), "{rotated}");
    let unlimited_id = str_of(&rotated["id"]);

    // A 20-day token, then a 7-day limit: the rotation is clamped.
    let (status, long) = s
        .post(
            &format!("/organizations/{org}/service-accounts/{sa}/tokens"),
            &ann,
            json!({"name": "twenty days", "expires_at": server_now(&s) + Duration::days(20)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = s
        .patch(
            &format!("/organizations/{org}"),
            &ann,
            json!({"settings": {"max_token_lifetime_days": 7}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, clamped) = s
        .post(
            &rotate_path(&org, &sa, &str_of(&long["id"])),
            &ann,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{clamped}");
    assert!(
        close(lifetime(&clamped), Duration::days(7)),
        "{clamped} is clamped to 7 days"
    );
    // A shorter lifetime is kept under the limit.
    let (status, new_again) = s
        .post(
            &rotate_path(&org, &sa, &str_of(&new["id"])),
            &ann,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{new_again}");
    assert!(
        close(lifetime(&new_again), Duration::days(7)),
        "10 days clamped to 7: {new_again}"
    );
    let (status, short) = s
        .post(
            &format!("/organizations/{org}/service-accounts/{sa}/tokens"),
            &ann,
            json!({"name": "two days", "expires_at": server_now(&s) + Duration::days(2)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, short_rotated) = s
        .post(
            &rotate_path(&org, &sa, &str_of(&short["id"])),
            &ann,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(close(lifetime(&short_rotated), lifetime(&short)));

    // A token without expiry gets the limit once a limit is set.
    let (status, limited) = s
        .post(&rotate_path(&org, &sa, &unlimited_id), &ann, json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{limited}");
    assert!(
        close(lifetime(&limited), Duration::days(7)),
        "no expiry gets the 7-day limit: {limited}"
    );

    // An explicit expires_at on rotation follows the policy.
    let (status, body) = s
        .post(
            &rotate_path(&org, &sa, &str_of(&limited["id"])),
            &ann,
            json!({"expires_at": server_now(&s) + Duration::days(8)}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "expiry_too_long");
    let at = server_now(&s) + Duration::days(3);
    let (status, body) = s
        .post(
            &rotate_path(&org, &sa, &str_of(&limited["id"])),
            &ann,
            json!({"expires_at": at}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!((ts(&body["expires_at"]) - at).num_milliseconds().abs() < 1);
}

/// Of simultaneous rotations of one token, exactly one succeeds and the
/// others answer `409` (or `401 token_revoked`, for a self-rotation that
/// comes after a rotation without grace): without grace the token is
/// revoked, with grace it already has its successor, so it never gets a
/// second one.
async fn concurrent_rotations_mint_one_replacement(s: TestServer) {
    let (ann, org) = s.admin_and_org().await;
    let (sa, _) = s.service_account(&ann, &org, "ci-deployer").await;
    for (round, grace) in [0, 0, 30, 86_400].into_iter().enumerate() {
        let (id, secret) = s
            .service_token(&ann, &org, &sa, json!({"name": format!("r{round}")}))
            .await;
        let admin_url = s.url(&rotate_path(&org, &sa, &id));
        let self_url = s.url("/me/token/rotate");
        let mut calls = tokio::task::JoinSet::new();
        for i in 0..20 {
            // Half by the admin, half by the token itself.
            let (url, bearer) = if i % 2 == 0 {
                (admin_url.clone(), ann.clone())
            } else {
                (self_url.clone(), secret.clone())
            };
            let http = s.http.clone();
            calls.spawn(async move {
                let resp = http
                    .post(url)
                    .bearer_auth(bearer)
                    .json(&json!({"grace_period_seconds": grace}))
                    .send()
                    .await
                    .expect("send");
                let status = resp.status();
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                (status, body)
            });
        }
        let results = calls.join_all().await;
        let created = results
            .iter()
            .filter(|(st, _)| *st == StatusCode::CREATED)
            .count();
        for (status, body) in &results {
            assert!(
                *status == StatusCode::CREATED
                    || *status == StatusCode::CONFLICT
                    || (grace == 0
                        && *status == StatusCode::UNAUTHORIZED
                        && body["error"]["code"] == "token_revoked"),
                "{status} {body}"
            );
        }
        assert_eq!(created, 1, "round {round}: {results:?}");
        let rotations = s
            .audit_events_about(&ann, &org, "service_token.rotate", &id)
            .await;
        assert_eq!(rotations.len(), 1, "round {round}");
        let replacements = token_list(&s, &ann, &org, &sa)
            .await
            .into_iter()
            .filter(|t| t["name"] == format!("r{round}").as_str())
            .count();
        assert_eq!(
            replacements, 2,
            "round {round}: the token and one replacement"
        );
    }
}

async fn self_rotation(s: TestServer) {
    let (ann, org) = s.admin_and_org().await;
    let (sa, _) = s.service_account(&ann, &org, "ci-deployer").await;
    let (old_id, old) = s
        .service_token(
            &ann,
            &org,
            &sa,
            json!({"name": "ci", "expires_at": server_now(&s) + Duration::days(30)}),
        )
        .await;

    // No group at all: a service token may still rotate itself.
    let (status, rotated) = s
        .post(
            "/me/token/rotate",
            &old,
            json!({"grace_period_seconds": 30}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rotated}");
    let new = str_of(&rotated["token"]);
    assert!(new.starts_with("trn_sat_") && SecretToken::parse(&new).is_some());
    assert_eq!(rotated["name"], "ci");
    assert_eq!(rotated["hint"], &new[new.len() - 4..]);
    let lifetime = ts(&rotated["expires_at"]) - ts(&rotated["created_at"]);
    assert!((lifetime - Duration::days(30)).num_milliseconds().abs() <= 1000);
    assert_works(&s, &old).await;
    assert_works(&s, &new).await;
    let (_, me) = s.get("/me", &new).await;
    assert_eq!(me["principal"]["id"], sa.as_str());
    assert_eq!(me["token"]["id"], rotated["id"]);
    s.advance(Duration::seconds(31));
    assert_401(&s, &old, "token_revoked").await;
    assert_works(&s, &new).await;
    // The event names the service account (and its token) as the actor.
    let rot = s
        .audit_events_about(&ann, &org, "service_token.rotate", &old_id)
        .await;
    assert_eq!(rot.len(), 1);
    assert_eq!(rot[0]["actor"]["type"], "service_account");
    assert_eq!(rot[0]["actor"]["id"], sa.as_str());
    assert_eq!(rot[0]["actor"]["token_id"], old_id.as_str());
    let t = token_in_list(&s, &ann, &org, &sa, &str_of(&rotated["id"])).await;
    assert_eq!(t["created_by"]["type"], "service_account");

    // Default grace 0, no body.
    let resp = s
        .http
        .post(s.url("/me/token/rotate"))
        .bearer_auth(&new)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::CREATED);
    let again: Value = resp.json().await.expect("json");
    assert_401(&s, &new, "token_revoked").await;
    let newest = str_of(&again["token"]);
    assert_works(&s, &newest).await;

    // Rules as for rotate: grace range; only grace may be given.
    for body in [
        json!({"grace_period_seconds": -1}),
        json!({"grace_period_seconds": 86401}),
        json!({"expires_at": server_now(&s) + Duration::days(1)}),
    ] {
        let (status, resp) = s.post("/me/token/rotate", &newest, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {resp}");
    }
    assert_works(&s, &newest).await;

    // The organization's limit clamps a self-rotation too.
    let (status, _) = s
        .patch(
            &format!("/organizations/{org}"),
            &ann,
            json!({"settings": {"max_token_lifetime_days": 7}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, clamped) = s.post("/me/token/rotate", &newest, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{clamped}");
    let lifetime = ts(&clamped["expires_at"]) - ts(&clamped["created_at"]);
    assert!((lifetime - Duration::days(7)).num_milliseconds().abs() <= 1000);

    // Users cannot: session or personal token.
    let (status, body) = s.post("/me/token/rotate", &ann, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    let (_, pat) = s.post("/me/tokens", &ann, json!({"name": "pat"})).await;
    let (status, _) = s
        .post("/me/token/rotate", &str_of(&pat["token"]), json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = s.post("/me/token/rotate", &s.root, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = s
        .call(Method::POST, "/me/token/rotate", None, Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthenticated");
}

// ---- 4. disable, enable, delete ---------------------------------------------

async fn disable_enable_and_delete(s: TestServer) {
    let (ann, org) = s.admin_and_org().await;
    let (sa, member) = s.service_account(&ann, &org, "ci-deployer").await;
    let group = s.org_group(&ann, &org, "Readers", "viewer").await;
    s.join(&ann, &org, &group, &member).await;
    let (_, t1) = s.service_token(&ann, &org, &sa, json!({"name": "a"})).await;
    let (_, t2) = s.service_token(&ann, &org, &sa, json!({"name": "b"})).await;
    let sa_path = format!("/organizations/{org}/service-accounts/{sa}");
    for t in [&t1, &t2] {
        let (status, _) = s.get(&format!("/organizations/{org}/members"), t).await;
        assert_eq!(status, StatusCode::OK);
    }

    let (status, body) = s.patch(&sa_path, &ann, json!({"status": "disabled"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for t in [&t1, &t2] {
        assert_401(&s, t, "principal_disabled").await;
        let (status, body) = s.get(&format!("/organizations/{org}"), t).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["code"], "principal_disabled");
        let (status, _) = s.post("/me/token/rotate", t, json!({})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The tokens themselves stay active; a new one is just as disabled.
    for t in token_list(&s, &ann, &org, &sa).await {
        assert_eq!(t["status"], "active");
    }
    let (_, t3) = s.service_token(&ann, &org, &sa, json!({"name": "c"})).await;
    assert_401(&s, &t3, "principal_disabled").await;
    // Other changes keep it disabled.
    let (_, body) = s
        .patch(&sa_path, &ann, json!({"description": "paused"}))
        .await;
    assert_eq!(body["status"], "disabled");
    assert_401(&s, &t1, "principal_disabled").await;

    let (status, _) = s.patch(&sa_path, &ann, json!({"status": "active"})).await;
    assert_eq!(status, StatusCode::OK);
    for t in [&t1, &t2, &t3] {
        assert_works(&s, t).await;
    }
    let kinds: Vec<String> = s
        .audit_events(&ann, &org, &format!("target_id={sa}"))
        .await
        .iter()
        .map(|e| str_of(&e["action"]))
        .collect();
    assert_eq!(
        kinds,
        [
            "service_account.enable",
            "service_account.update",
            "service_account.disable",
            "service_account.create",
        ]
    );

    // Delete: tokens are unknown afterwards, member and memberships gone.
    let (status, _) = s.delete(&sa_path, &ann).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for t in [&t1, &t2, &t3] {
        assert_401(&s, t, "invalid_token").await;
    }
    let (status, _) = s.get(&sa_path, &ann).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.get(&format!("{sa_path}/tokens"), &ann).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, members) = s
        .get(
            &format!("/organizations/{org}/members?principal_type=service_account"),
            &ann,
        )
        .await;
    assert_eq!(items(&members).len(), 0);
    let (_, all_members) = s.get(&format!("/organizations/{org}/members"), &ann).await;
    assert!(items(&all_members)
        .iter()
        .all(|m| m["id"] != member.as_str()));
    let (_, gm) = s
        .get(
            &format!("/organizations/{org}/groups/{group}/members"),
            &ann,
        )
        .await;
    assert_eq!(items(&gm).len(), 0);
    let (_, g) = s
        .get(&format!("/organizations/{org}/groups/{group}"), &ann)
        .await;
    assert_eq!(g["member_count"], 0, "{g}");
    let (status, _) = s
        .put(
            &format!("/organizations/{org}/groups/{group}/members/{member}"),
            &ann,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let deleted = s
        .audit_events_about(&ann, &org, "service_account.delete", &sa)
        .await;
    assert_eq!(deleted.len(), 1);
    // The name is free again.
    let (status, _) = s
        .post(
            &format!("/organizations/{org}/service-accounts"),
            &ann,
            json!({"name": "ci-deployer"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

// ---- 5. what a service token can never do -----------------------------------

async fn what_a_service_token_can_never_do(s: TestServer) {
    // Created by the superuser, in an Administrators group: still no
    // platform power.
    let org = s.org(&s.root, "Acme").await;
    let (sa, member) = s.service_account(&s.root, &org, "robot").await;
    let (_, groups) = s
        .get(&format!("/organizations/{org}/groups"), &s.root)
        .await;
    let admins = str_of(
        &items(&groups)
            .into_iter()
            .find(|g| g["name"] == "Administrators")
            .expect("Administrators")["id"],
    );
    s.join(&s.root, &org, &admins, &member).await;
    let (_, token) = s
        .service_token(&s.root, &org, &sa, json!({"name": "t"}))
        .await;
    let (ann_id, _) = s.user("ann@example.com").await;
    let other = s.org(&s.root, "Other").await;

    let forbidden = [
        (
            Method::POST,
            "/organizations".to_owned(),
            Some(json!({"name": "Mine"})),
        ),
        (Method::GET, "/organizations?all=true".to_owned(), None),
        (Method::GET, "/me/tokens".to_owned(), None),
        (
            Method::POST,
            "/me/tokens".to_owned(),
            Some(json!({"name": "pat"})),
        ),
        (
            Method::DELETE,
            format!("/me/tokens/{}", uuid::Uuid::now_v7()),
            None,
        ),
        (Method::GET, "/users".to_owned(), None),
        (
            Method::POST,
            "/users".to_owned(),
            Some(
                json!({"email": "x@example.com", "name": "x", "password": "long enough password"}),
            ),
        ),
        (
            Method::PATCH,
            format!("/users/{ann_id}"),
            Some(json!({"is_active": false})),
        ),
        (Method::GET, "/audit-events".to_owned(), None),
    ];
    for (method, path, body) in forbidden {
        let (status, resp) = s.call(method.clone(), &path, Some(&token), body).await;
        assert!(
            status == StatusCode::FORBIDDEN
                || (status == StatusCode::NOT_FOUND && path.starts_with("/users/")),
            "{method} {path}: {status} {resp}"
        );
    }
    let (status, _) = s.get(&format!("/users/{ann_id}"), &token).await;
    assert!(
        status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND,
        "{status}"
    );
    // Logging out is for sessions only.
    let (status, _) = s.post("/auth/logout", &token, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_works(&s, &token).await;
    // Nothing was created.
    let (_, all) = s.get("/organizations?all=true", &s.root).await;
    assert_eq!(items(&all).len(), 2);
    let (_, users) = s.get("/users", &s.root).await;
    assert_eq!(items(&users).len(), 2);

    // Its own organization is its only one.
    let (status, mine) = s.get("/organizations", &token).await;
    assert_eq!(status, StatusCode::OK);
    let mine = items(&mine);
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["id"], org.as_str());

    // Another organization does not exist for it, whatever the path.
    let env = s.env(&s.root, &other, "staging").await;
    let app = s.app(&s.root, &other, "web").await;
    let (osa, _) = s.service_account(&s.root, &other, "robot").await;
    let reads = [
        String::new(),
        "/members".into(),
        "/groups".into(),
        "/environments".into(),
        format!("/environments/{env}"),
        "/applications".into(),
        format!("/applications/{app}"),
        format!("/applications/{app}/instances/{env}"),
        "/service-accounts".into(),
        format!("/service-accounts/{osa}"),
        format!("/service-accounts/{osa}/tokens"),
        "/audit-events".into(),
        "/access-check?resource=organization&action=view".into(),
    ];
    for path in &reads {
        let (status, body) = s
            .get(&format!("/organizations/{other}{path}"), &token)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "GET {path}: {body}");
        assert_eq!(body["error"]["code"], "not_found");
    }
    let writes = [
        (Method::PATCH, String::new(), Some(json!({"name": "Mine"}))),
        (Method::DELETE, String::new(), None),
        (
            Method::POST,
            "/environments".into(),
            Some(json!({"name": "x"})),
        ),
        (
            Method::PUT,
            format!("/applications/{app}/instances/{env}"),
            Some(json!({"image": "nginx:1"})),
        ),
        (
            Method::POST,
            "/service-accounts".into(),
            Some(json!({"name": "x"})),
        ),
        (
            Method::POST,
            format!("/service-accounts/{osa}/tokens"),
            Some(json!({"name": "x"})),
        ),
        (
            Method::POST,
            "/members".into(),
            Some(json!({"email": "ann@example.com"})),
        ),
    ];
    for (method, path, body) in writes {
        let (status, resp) = s
            .call(
                method.clone(),
                &format!("/organizations/{other}{path}"),
                Some(&token),
                body,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {resp}");
    }
    let (_, o) = s.get(&format!("/organizations/{other}"), &s.root).await;
    assert_eq!(o["name"], "Other");

    // Not a superuser, even with a superuser's creation and admin group.
    let (status, check) = s
        .access_check(&token, &org, "resource=organization&action=update")
        .await;
    assert_eq!(status, StatusCode::OK, "{check}");
    assert_eq!(check["superuser"], false);
    assert_eq!(check["allowed"], true, "through Administrators");
    assert_eq!(check["granted_by"][0]["group_name"], "Administrators");

    // Only organization admins' permissions, in its own organization: it may
    // manage service accounts there (not a platform power).
    let (status, _) = s
        .get(&format!("/organizations/{org}/service-accounts"), &token)
        .await;
    assert_eq!(status, StatusCode::OK);
}

async fn service_token_identity_and_minimal_access(s: TestServer) {
    let (ann, org) = s.admin_and_org().await;
    let (sa, _) = s.service_account(&ann, &org, "ci-deployer").await;
    let expires = server_now(&s) + Duration::days(1);
    let (token_id, token) = s
        .service_token(&ann, &org, &sa, json!({"name": "t", "expires_at": expires}))
        .await;

    // GET /me.
    let (status, me) = s.get("/me", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["principal"]["type"], "service_account");
    assert_eq!(me["principal"]["id"], sa.as_str());
    assert_eq!(me["principal"]["name"], "ci-deployer");
    assert_eq!(me["principal"]["organization_id"], org.as_str());
    assert!(me["principal"].get("email").is_none_or(Value::is_null));
    assert!(me["principal"]["is_superuser"] != true);
    assert_eq!(me["token"]["kind"], "service");
    assert_eq!(me["token"]["id"], token_id.as_str());
    assert!(
        (ts(&me["token"]["expires_at"]) - expires)
            .num_milliseconds()
            .abs()
            < 1
    );
    // Also through x-tron-token.
    let resp = s
        .http
        .get(s.url("/me"))
        .header("x-tron-token", &token)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);

    // With no group: member-level things only.
    let (status, o) = s.get(&format!("/organizations/{org}"), &token).await;
    assert_eq!(status, StatusCode::OK, "{o}");
    assert_eq!(o["id"], org.as_str());
    let (status, body) = s
        .post(
            &format!("/organizations/{org}/environments"),
            &token,
            json!({"name": "staging"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    let (status, body) = s
        .get(&format!("/organizations/{org}/environments"), &token)
        .await;
    assert_eq!(status, StatusCode::OK, "lists are filtered: {body}");
    for path in [
        "/members",
        "/groups",
        "/service-accounts",
        "/audit-events",
        &format!("/service-accounts/{sa}/tokens"),
    ] {
        let (status, _) = s.get(&format!("/organizations/{org}{path}"), &token).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    // It cannot mint itself more tokens or re-enable itself.
    let (status, _) = s
        .post(
            &format!("/organizations/{org}/service-accounts/{sa}/tokens"),
            &token,
            json!({"name": "more"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = s
        .patch(
            &format!("/organizations/{org}/service-accounts/{sa}"),
            &token,
            json!({"name": "renamed"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = s
        .patch(
            &format!("/organizations/{org}"),
            &token,
            json!({"settings": {"max_token_lifetime_days": null}}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(token_list(&s, &ann, &org, &sa).await.len(), 1);
}

// ---- 6. last_used_at --------------------------------------------------------

async fn last_used_at_is_recorded(s: TestServer) {
    let (ann, org) = s.admin_and_org().await;
    let (sa, used_id, used) = s.sa_with_token(&ann, &org, "ci-deployer", "a").await;
    let (unused_id, _) = s.service_token(&ann, &org, &sa, json!({"name": "b"})).await;
    let before = server_now(&s);
    assert_works(&s, &used).await;
    let after = server_now(&s);

    // Written by the background flush (every 200 ms in tests); wait for it
    // rather than for a fixed time. This is not a performance assertion.
    let mut token = Value::Null;
    let mut account = Value::Null;
    for _ in 0..100 {
        tokio::time::sleep(StdDuration::from_millis(100)).await;
        token = token_in_list(&s, &ann, &org, &sa, &used_id).await;
        account = s
            .get(&format!("/organizations/{org}/service-accounts/{sa}"), &ann)
            .await
            .1;
        if !token["last_used_at"].is_null() && !account["last_used_at"].is_null() {
            break;
        }
    }
    let t_used = ts(&token["last_used_at"]);
    let a_used = ts(&account["last_used_at"]);
    assert!(before <= t_used && t_used <= after, "{t_used}");
    assert!(before <= a_used && a_used <= after, "{a_used}");
    let unused = token_in_list(&s, &ann, &org, &sa, &unused_id).await;
    assert!(unused["last_used_at"].is_null());
    let (_, list) = s
        .get(&format!("/organizations/{org}/service-accounts"), &ann)
        .await;
    assert_eq!(items(&list)[0]["last_used_at"], account["last_used_at"]);

    // A later use moves it forward; a refused one does not count.
    s.advance(Duration::minutes(5));
    let later = server_now(&s);
    assert_works(&s, &used).await;
    let mut moved = Value::Null;
    for _ in 0..100 {
        tokio::time::sleep(StdDuration::from_millis(100)).await;
        moved = token_in_list(&s, &ann, &org, &sa, &used_id).await;
        if !moved["last_used_at"].is_null() && ts(&moved["last_used_at"]) >= later {
            break;
        }
    }
    assert!(ts(&moved["last_used_at"]) >= later, "{moved}");
    let (status, _) = s
        .delete(
            &format!("/organizations/{org}/service-accounts/{sa}/tokens/{used_id}"),
            &ann,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    s.advance(Duration::minutes(5));
    assert_401(&s, &used, "token_revoked").await;
    // Give a flush the chance to (wrongly) record the refused use.
    tokio::time::sleep(StdDuration::from_millis(600)).await;
    let after_refusal = token_in_list(&s, &ann, &org, &sa, &used_id).await;
    assert_eq!(after_refusal["last_used_at"], moved["last_used_at"]);
}

// ---- 7. leaked tokens -------------------------------------------------------

async fn revoke_leaked_service_token(s: TestServer) {
    let (ann, org) = s.admin_and_org().await;
    let (sa, id, token) = s.sa_with_token(&ann, &org, "ci-deployer", "t").await;
    let (_, kept) = s.service_token(&ann, &org, &sa, json!({"name": "k"})).await;

    let (status, body) = s
        .call(
            Method::POST,
            "/tokens/revoke-leaked",
            None,
            Some(json!({"tokens": [token]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"revoked": 1}));
    assert_401(&s, &token, "token_revoked").await;
    assert_works(&s, &kept).await;
    let t = token_in_list(&s, &ann, &org, &sa, &id).await;
    assert_eq!(t["status"], "revoked");

    let log = s
        .audit_events(&ann, &org, "action=service_token.revoke_leaked")
        .await;
    assert_eq!(log.len(), 1, "{log:?}");
    let e = &log[0];
    assert_eq!(e["actor"]["type"], "anonymous");
    assert!(e["actor"]["id"].is_null());
    assert_eq!(e["target"]["type"], "service_token");
    assert_eq!(e["target"]["id"], id.as_str());
    assert!(!e.to_string().contains(&token));
    // Filtering by actor type finds it too.
    let anon = s.audit_events(&ann, &org, "actor_type=anonymous").await;
    assert!(anon
        .iter()
        .any(|x| x["action"] == "service_token.revoke_leaked"));
    // Not in the platform log.
    let (_, platform) = s
        .get("/audit-events?action=service_token.revoke_leaked", &s.root)
        .await;
    assert_eq!(items(&platform).len(), 0);

    // Reporting it again revokes nothing and records nothing.
    let (status, body) = s
        .call(
            Method::POST,
            "/tokens/revoke-leaked",
            None,
            Some(json!({"tokens": [token]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"revoked": 0}));
    assert_eq!(
        s.audit_events(&ann, &org, "action=service_token.revoke_leaked")
            .await
            .len(),
        1
    );

    // A token in its rotation grace period is still active: it can leak.
    let (rid, rtoken) = s.service_token(&ann, &org, &sa, json!({"name": "r"})).await;
    let (status, _) = s
        .post(
            &rotate_path(&org, &sa, &rid),
            &ann,
            json!({"grace_period_seconds": 3600}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_works(&s, &rtoken).await;
    let (_, body) = s
        .call(
            Method::POST,
            "/tokens/revoke-leaked",
            None,
            Some(json!({"tokens": [rtoken]})),
        )
        .await;
    assert_eq!(body, json!({"revoked": 1}));
    assert_401(&s, &rtoken, "token_revoked").await;
}

// ---- 8. rejection events ------------------------------------------------------

async fn rejected_service_tokens_are_audited_once_per_minute(s: TestServer) {
    let (ann, org) = s.admin_and_org().await;
    let (sa, revoked_id, revoked) = s.sa_with_token(&ann, &org, "ci-deployer", "r").await;
    let (expired_id, expired) = s
        .service_token(
            &ann,
            &org,
            &sa,
            json!({"name": "e", "expires_at": server_now(&s) + Duration::minutes(1)}),
        )
        .await;
    let (status, _) = s
        .delete(
            &format!("/organizations/{org}/service-accounts/{sa}/tokens/{revoked_id}"),
            &ann,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    s.advance(Duration::minutes(2));

    // Nothing yet: no rejection happened.
    assert_eq!(
        s.audit_events(&ann, &org, "action=service_token.rejected")
            .await
            .len(),
        0
    );
    for _ in 0..4 {
        assert_401(&s, &revoked, "token_revoked").await;
        assert_401(&s, &expired, "token_expired").await;
        let (status, _) = s.get(&format!("/organizations/{org}"), &revoked).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let by_token = |id: &str| format!("action=service_token.rejected&target_id={id}");
    let r = s.audit_events(&ann, &org, &by_token(&revoked_id)).await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0]["actor"]["type"], "service_account");
    assert_eq!(r[0]["actor"]["id"], sa.as_str());
    assert_eq!(r[0]["actor"]["token_id"], revoked_id.as_str());
    assert_eq!(r[0]["target"]["type"], "service_token");
    assert_eq!(r[0]["details"]["reason"], "token_revoked");
    assert!(!r[0].to_string().contains(&revoked));
    let e = s.audit_events(&ann, &org, &by_token(&expired_id)).await;
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0]["details"]["reason"], "token_expired");

    // A disabled account's token.
    let (disabled_id, disabled) = s.service_token(&ann, &org, &sa, json!({"name": "d"})).await;
    let (status, _) = s
        .patch(
            &format!("/organizations/{org}/service-accounts/{sa}"),
            &ann,
            json!({"status": "disabled"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for _ in 0..3 {
        assert_401(&s, &disabled, "principal_disabled").await;
    }
    let d = s.audit_events(&ann, &org, &by_token(&disabled_id)).await;
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0]["details"]["reason"], "principal_disabled");
    assert_eq!(
        s.audit_events(&ann, &org, "action=service_token.rejected")
            .await
            .len(),
        3
    );

    // Unknown and malformed tokens, and valid uses, record nothing.
    let unknown =
        tron_core::token::SecretToken::generate(tron_core::token::TokenKind::Service).reveal();
    assert_401(&s, &unknown, "invalid_token").await;
    assert_401(&s, "trn_sat_nonsense", "invalid_token").await;
    let (status, _) = s
        .patch(
            &format!("/organizations/{org}/service-accounts/{sa}"),
            &ann,
            json!({"status": "active"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_works(&s, &disabled).await;
    assert_eq!(
        s.audit_events(&ann, &org, "action=service_token.rejected")
            .await
            .len(),
        3
    );
    // Users' tokens are not service tokens: nothing in the organization log.
    let (_, pat) = s.post("/me/tokens", &ann, json!({"name": "pat"})).await;
    let pat_id = str_of(&pat["id"]);
    let (status, _) = s.delete(&format!("/me/tokens/{pat_id}"), &ann).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_401(&s, &str_of(&pat["token"]), "token_revoked").await;
    assert_eq!(
        s.audit_events(&ann, &org, "action=service_token.rejected")
            .await
            .len(),
        3
    );
}

// ---- 9. the CI pipeline story ---------------------------------------------------

async fn ci_pipeline_story(s: TestServer) {
    // An admin sets the organization up.
    let (ann, org) = s.admin_and_org().await;
    let staging = s.env(&ann, &org, "staging").await;
    let production = s.env(&ann, &org, "production").await;
    let app = s.app(&ann, &org, "web").await;
    let (sa, member) = s.service_account(&ann, &org, "ci-deployer").await;
    let group = s
        .group(
            &ann,
            &org,
            "Staging deployers",
            "editor",
            env_scope(&[&staging]),
        )
        .await;
    s.join(&ann, &org, &group, &member).await;
    let (_, got) = s
        .get(&format!("/organizations/{org}/service-accounts/{sa}"), &ann)
        .await;
    assert_eq!(got["groups"][0]["name"], "Staging deployers");
    let (token_id, token) = s
        .service_token(
            &ann,
            &org,
            &sa,
            json!({"name": "github-actions", "expires_at": server_now(&s) + Duration::days(90)}),
        )
        .await;
    // Production already runs something.
    let (status, _) = s
        .put(
            &format!("/organizations/{org}/applications/{app}/instances/{production}"),
            &ann,
            Some(json!({"image": "registry.example.com/web:1.0"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // The pipeline creates the staging instance and deploys to it.
    let staging_instance = format!("/organizations/{org}/applications/{app}/instances/{staging}");
    let (status, inst) = s
        .put(
            &staging_instance,
            &token,
            Some(json!({"image": "registry.example.com/web:1.1", "replicas": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{inst}");
    assert_eq!(inst["replicas"], 2);
    let (status, dep) = s
        .post(
            &format!("{staging_instance}/deployments"),
            &token,
            json!({"image": "registry.example.com/web:1.2", "version": "1.2.0"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{dep}");
    assert_eq!(
        dep["created_by"],
        json!({"type": "service_account", "id": sa, "name": "ci-deployer"})
    );
    let (_, inst) = s.get(&staging_instance, &token).await;
    assert_eq!(inst["image"], "registry.example.com/web:1.2");
    // The instance object names its application and environment (SPEC §4),
    // so a pipeline that cannot view the application finds it by name
    // through the environment's instances.
    assert_eq!(
        keys(&inst),
        [
            "application_id",
            "application_name",
            "environment_id",
            "environment_name",
            "image",
            "replicas",
            "updated_at"
        ]
    );
    assert_eq!(inst["application_name"], "web");
    assert_eq!(inst["environment_name"], "staging");
    let (status, _) = s
        .get(&format!("/organizations/{org}/applications/{app}"), &token)
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the application itself stays out of view"
    );
    let (status, list) = s
        .get(
            &format!("/organizations/{org}/environments/{staging}/instances"),
            &token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["items"][0]["application_name"], "web");
    assert_eq!(list["items"][0]["application_id"], app.as_str());
    assert_eq!(list["items"][0]["environment_name"], "staging");
    let (_, by_app) = s
        .get(
            &format!("/organizations/{org}/applications/{app}/instances"),
            &ann,
        )
        .await;
    let mut names: Vec<&str> = by_app["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["environment_name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["production", "staging"], "{by_app}");
    // A rename shows at once, also where the instance was cached.
    for name in ["storefront", "web"] {
        let (status, _) = s
            .patch(
                &format!("/organizations/{org}/applications/{app}"),
                &ann,
                json!({ "name": name }),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (_, inst) = s.get(&staging_instance, &token).await;
        assert_eq!(inst["application_name"], name);
    }
    // The audit log says a service account did it, with which token.
    let deploys = s.audit_events(&ann, &org, "action=deployment.create").await;
    assert_eq!(deploys.len(), 1);
    assert_eq!(deploys[0]["actor"]["type"], "service_account");
    assert_eq!(deploys[0]["actor"]["id"], sa.as_str());
    assert_eq!(deploys[0]["actor"]["token_id"], token_id.as_str());
    let by_sa = s.audit_events(&ann, &org, &format!("actor_id={sa}")).await;
    assert_eq!(by_sa.len(), 2, "instance.create and deployment.create");

    // Production is out of reach.
    let prod_instance = format!("/organizations/{org}/applications/{app}/instances/{production}");
    let (status, body) = s
        .post(
            &format!("{prod_instance}/deployments"),
            &token,
            json!({"image": "registry.example.com/web:evil"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = s
        .put(
            &prod_instance,
            &token,
            Some(json!({"image": "registry.example.com/web:evil"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = s
        .delete(
            &format!("/organizations/{org}/environments/{staging}"),
            &token,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "editor cannot delete");
    let (_, prod) = s.get(&prod_instance, &ann).await;
    assert_eq!(prod["image"], "registry.example.com/web:1.0");
    let (_, envs) = s
        .get(&format!("/organizations/{org}/environments"), &token)
        .await;
    let names: Vec<String> = items(&envs).iter().map(|e| str_of(&e["name"])).collect();
    assert_eq!(names, ["staging"], "lists only what it may view");

    // The job renews its own secret with 30 seconds of grace.
    let (status, rotated) = s
        .post(
            "/me/token/rotate",
            &token,
            json!({"grace_period_seconds": 30}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rotated}");
    let new_token = str_of(&rotated["token"]);
    let new_id = str_of(&rotated["id"]);
    for (i, t) in [&token, &new_token].into_iter().enumerate() {
        let (status, body) = s
            .post(
                &format!("{staging_instance}/deployments"),
                t,
                json!({"image": format!("registry.example.com/web:1.3.{i}")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "token {i}: {body}");
    }
    s.advance(Duration::seconds(31));
    let (status, body) = s
        .post(
            &format!("{staging_instance}/deployments"),
            &token,
            json!({"image": "registry.example.com/web:1.4"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "token_revoked");
    let (status, _) = s
        .post(
            &format!("{staging_instance}/deployments"),
            &new_token,
            json!({"image": "registry.example.com/web:1.4"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // The admin revokes it: the very next request is refused.
    let (status, _) = s
        .delete(
            &format!("/organizations/{org}/service-accounts/{sa}/tokens/{new_id}"),
            &ann,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = s
        .post(
            &format!("{staging_instance}/deployments"),
            &new_token,
            json!({"image": "registry.example.com/web:1.5"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "token_revoked");
    let (_, deps) = s
        .get(&format!("{staging_instance}/deployments"), &ann)
        .await;
    assert_eq!(items(&deps).len(), 4);
    let (_, inst) = s.get(&staging_instance, &ann).await;
    assert_eq!(inst["image"], "registry.example.com/web:1.4");
}
