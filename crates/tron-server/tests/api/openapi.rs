//! Issue 8: the OpenAPI document and `/api/docs`.
use reqwest::StatusCode;
use serde_json::Value;

use crate::kit::{Db, TestServer};

/// Every route of the spec's §4 tables (method, path as in the document).
const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/me/tokens"),
    ("post", "/api/v1/me/tokens"),
    ("delete", "/api/v1/me/tokens/{id}"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
    ("get", "/api/v1/users/{id}"),
    ("patch", "/api/v1/users/{id}"),
    ("post", "/api/v1/tokens/revoke-leaked"),
    ("get", "/api/v1/organizations"),
    ("post", "/api/v1/organizations"),
    ("get", "/api/v1/organizations/{org}"),
    ("patch", "/api/v1/organizations/{org}"),
    ("delete", "/api/v1/organizations/{org}"),
    ("get", "/api/v1/organizations/{org}/members"),
    ("post", "/api/v1/organizations/{org}/members"),
    ("delete", "/api/v1/organizations/{org}/members/{member_id}"),
    ("get", "/api/v1/organizations/{org}/groups"),
    ("post", "/api/v1/organizations/{org}/groups"),
    ("get", "/api/v1/organizations/{org}/groups/{group_id}"),
    ("patch", "/api/v1/organizations/{org}/groups/{group_id}"),
    ("delete", "/api/v1/organizations/{org}/groups/{group_id}"),
    (
        "get",
        "/api/v1/organizations/{org}/groups/{group_id}/members",
    ),
    (
        "put",
        "/api/v1/organizations/{org}/groups/{group_id}/members/{member_id}",
    ),
    (
        "delete",
        "/api/v1/organizations/{org}/groups/{group_id}/members/{member_id}",
    ),
    ("get", "/api/v1/organizations/{org}/access-check"),
    ("get", "/api/v1/organizations/{org}/environments"),
    ("post", "/api/v1/organizations/{org}/environments"),
    ("get", "/api/v1/organizations/{org}/environments/{env_id}"),
    ("patch", "/api/v1/organizations/{org}/environments/{env_id}"),
    (
        "delete",
        "/api/v1/organizations/{org}/environments/{env_id}",
    ),
    (
        "get",
        "/api/v1/organizations/{org}/environments/{env_id}/instances",
    ),
    ("get", "/api/v1/organizations/{org}/applications"),
    ("post", "/api/v1/organizations/{org}/applications"),
    ("get", "/api/v1/organizations/{org}/applications/{app_id}"),
    ("patch", "/api/v1/organizations/{org}/applications/{app_id}"),
    (
        "delete",
        "/api/v1/organizations/{org}/applications/{app_id}",
    ),
    (
        "get",
        "/api/v1/organizations/{org}/applications/{app_id}/instances",
    ),
    (
        "put",
        "/api/v1/organizations/{org}/applications/{app_id}/instances/{env_id}",
    ),
    (
        "get",
        "/api/v1/organizations/{org}/applications/{app_id}/instances/{env_id}",
    ),
    (
        "delete",
        "/api/v1/organizations/{org}/applications/{app_id}/instances/{env_id}",
    ),
    (
        "get",
        "/api/v1/organizations/{org}/applications/{app_id}/instances/{env_id}/deployments",
    ),
    (
        "post",
        "/api/v1/organizations/{org}/applications/{app_id}/instances/{env_id}/deployments",
    ),
    ("get", "/api/v1/organizations/{org}/service-accounts"),
    ("post", "/api/v1/organizations/{org}/service-accounts"),
    (
        "get",
        "/api/v1/organizations/{org}/service-accounts/{sa_id}",
    ),
    (
        "patch",
        "/api/v1/organizations/{org}/service-accounts/{sa_id}",
    ),
    (
        "delete",
        "/api/v1/organizations/{org}/service-accounts/{sa_id}",
    ),
    (
        "get",
        "/api/v1/organizations/{org}/service-accounts/{sa_id}/tokens",
    ),
    (
        "post",
        "/api/v1/organizations/{org}/service-accounts/{sa_id}/tokens",
    ),
    (
        "delete",
        "/api/v1/organizations/{org}/service-accounts/{sa_id}/tokens/{token_id}",
    ),
    (
        "post",
        "/api/v1/organizations/{org}/service-accounts/{sa_id}/tokens/{token_id}/rotate",
    ),
    ("post", "/api/v1/me/token/rotate"),
    (
        "get",
        "/api/v1/organizations/{org}/service-accounts/{sa_id}/trust-policies",
    ),
    (
        "post",
        "/api/v1/organizations/{org}/service-accounts/{sa_id}/trust-policies",
    ),
    (
        "get",
        "/api/v1/organizations/{org}/service-accounts/{sa_id}/trust-policies/{policy_id}",
    ),
    (
        "patch",
        "/api/v1/organizations/{org}/service-accounts/{sa_id}/trust-policies/{policy_id}",
    ),
    (
        "delete",
        "/api/v1/organizations/{org}/service-accounts/{sa_id}/trust-policies/{policy_id}",
    ),
    ("post", "/api/v1/oidc/token"),
    ("get", "/api/v1/organizations/{org}/webhooks"),
    ("post", "/api/v1/organizations/{org}/webhooks"),
    ("get", "/api/v1/organizations/{org}/webhooks/{webhook_id}"),
    ("patch", "/api/v1/organizations/{org}/webhooks/{webhook_id}"),
    (
        "delete",
        "/api/v1/organizations/{org}/webhooks/{webhook_id}",
    ),
    (
        "post",
        "/api/v1/organizations/{org}/webhooks/{webhook_id}/rotate-secret",
    ),
    (
        "post",
        "/api/v1/organizations/{org}/webhooks/{webhook_id}/ping",
    ),
    (
        "get",
        "/api/v1/organizations/{org}/webhooks/{webhook_id}/deliveries",
    ),
    (
        "post",
        "/api/v1/organizations/{org}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    ),
    ("get", "/api/v1/organizations/{org}/audit-events"),
    ("get", "/api/v1/audit-events"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/api/v1/openapi.json"),
];

/// The routes that need no token (§2, §4).
const PUBLIC: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/tokens/revoke-leaked"),
    ("post", "/api/v1/oidc/token"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/api/v1/openapi.json"),
];

async fn document(s: &TestServer) -> Value {
    let resp = s
        .http
        .get(format!("{}/api/v1/openapi.json", s.base))
        .send()
        .await
        .expect("GET openapi.json");
    assert_eq!(resp.status(), StatusCode::OK);
    let ct = resp.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(ct.starts_with("application/json"), "{ct}");
    resp.json().await.expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_covers_every_route() {
    let s = TestServer::start(Db::Sqlite).await;
    let doc = document(&s).await;
    let version = doc["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3.1"), "{version}");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["x-tron-token"]["in"], "header");
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());

    let paths = doc["paths"].as_object().expect("paths");
    for (method, path) in ROUTES {
        assert!(
            paths.get(*path).and_then(|p| p.get(*method)).is_some(),
            "{method} {path} is missing from the document"
        );
    }
    // Nothing documented that §4 does not list, and the 401 rule.
    let mut count = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            if !["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            count += 1;
            assert!(
                ROUTES.contains(&(method.as_str(), path.as_str())),
                "{method} {path} is documented but not in the spec's list"
            );
            let public = PUBLIC.contains(&(method.as_str(), path.as_str()));
            let responses = op["responses"].as_object().expect("responses");
            // The one exception: a login's wrong password is a 401
            // (`invalid_credentials`), though the login needs no token.
            let login = *path == "/api/v1/auth/login";
            assert_eq!(
                responses.contains_key("401"),
                !public || login,
                "{method} {path}: a 401 response iff a token is needed"
            );
            let security = op["security"]
                .as_array()
                .expect("security on every operation");
            assert_eq!(security.is_empty(), public, "{method} {path}: security");
            // The keyless CI exchange answers RFC 6749's error shape.
            let body = if *path == "/api/v1/oidc/token" {
                "#/components/schemas/OAuthErrorBody"
            } else {
                "#/components/schemas/ErrorBody"
            };
            for (status, r) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        r["content"]["application/json"]["schema"]["$ref"], body,
                        "{method} {path} {status} uses the error body"
                    );
                }
            }
        }
    }
    assert_eq!(count, ROUTES.len());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_page_and_assets() {
    let s = TestServer::start(Db::Sqlite).await;
    let get = |path: &'static str| {
        let url = format!("{}{}", s.base, path);
        let http = s.http.clone();
        async move { http.get(url).send().await.expect("GET") }
    };
    let page = get("/api/docs").await;
    assert_eq!(page.status(), StatusCode::OK);
    let h = page.headers().clone();
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>"), "no inline script");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no CDN"
    );
    for (path, ct) in [
        ("/api/docs/swagger-ui.css", "text/css"),
        ("/api/docs/swagger-ui-bundle.js", "text/javascript"),
        ("/api/docs/init.js", "text/javascript"),
        ("/api/docs/LICENSE", "text/plain"),
    ] {
        assert!(
            html.contains(path) || path.ends_with("LICENSE"),
            "{path} linked"
        );
        let r = get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let got = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(got.starts_with(ct), "{path}: {got}");
        assert!(!r.bytes().await.unwrap().is_empty());
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_everywhere() {
    let s = TestServer::start(Db::Sqlite).await;
    for path in [
        "/healthz",
        "/api/v1/me",
        "/api/v1/openapi.json",
        "/api/docs",
        "/nope",
    ] {
        let r = s
            .http
            .get(format!("{}{}", s.base, path))
            .send()
            .await
            .unwrap();
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert!(h.contains_key("referrer-policy"), "{path}");
    }
    s.stop().await;
}

/// Found by schemathesis: serde reads a struct from an array of its fields,
/// so `[null, null]` passed as a PATCH body (and as `settings`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_must_be_objects() {
    let s = TestServer::start(Db::Sqlite).await;
    let org = s.org(&s.root, "Objects").await;
    let path = format!("/organizations/{org}");
    let (st, body) = s
        .patch(&path, &s.root, serde_json::json!([null, null]))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "validation_error");
    let (st, body) = s
        .patch(&path, &s.root, serde_json::json!({"settings": [null, 5]}))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "validation_error");
    s.stop().await;
}
