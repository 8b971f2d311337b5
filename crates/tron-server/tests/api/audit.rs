//! Issue 6: the audit log. Every mutating API route — enumerated from the
//! served OpenAPI document, so a new route cannot be forgotten — writes
//! exactly one event on success and none on failure, in the change's
//! transaction; and the log's filters.
use std::collections::{BTreeSet, HashMap};
use tron_core::clock::Clock;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::contract;
use crate::kit::{TestServer, PASSWORD};

contract!(audit_log_filters_and_access);
contract!(filters_read_the_whole_of_a_long_log);

/// On both backends, with a trusted test issuer (`POST /oidc/token`'s
/// successful call exchanges one of its ID tokens).
mod every_mutating_route_writes_exactly_one_event {
    use crate::kit::{Db, TestServer};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let (s, idp) = TestServer::start_with_issuer(Db::Sqlite, |_| {}).await;
        super::every_mutating_route_writes_exactly_one_event(s, idp).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let (s, idp) = TestServer::start_with_issuer(Db::Postgres, |_| {}).await;
        super::every_mutating_route_writes_exactly_one_event(s, idp).await
    }
}

/// `/api/v1/organizations/{org}/groups/{group_id}` → `/organizations/{}/groups/{}`.
fn normalize(path: &str) -> String {
    let p = path.strip_prefix("/api/v1").unwrap_or(path);
    let mut out = String::new();
    let mut in_param = false;
    for c in p.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

/// The mutating operations the served OpenAPI document describes.
async fn mutating_routes(s: &TestServer) -> BTreeSet<(String, String)> {
    let (status, doc) = s.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK, "the OpenAPI document is served");
    let mut routes = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for method in ["post", "put", "patch", "delete"] {
            if ops.get(method).is_some() {
                routes.insert((method.to_uppercase(), normalize(path)));
            }
        }
    }
    routes
}

struct World {
    org: String,
    env: String,
    env2: String,
    app: String,
    app2: String,
    sa: String,
    sa_member: String,
    group: String,
    ann_id: String,
    ann_member: String,
    sa_token_id: String,
    sa_token: String,
}

async fn world(s: &TestServer) -> World {
    let org = s.org(&s.root, "Acme").await;
    let env = s.env(&s.root, &org, "staging").await;
    let env2 = s.env(&s.root, &org, "scratch").await;
    let app = s.app(&s.root, &org, "web").await;
    let app2 = s.app(&s.root, &org, "scratch").await;
    let (st, _) = s
        .put(
            &format!("/organizations/{org}/applications/{app}/instances/{env}"),
            &s.root,
            Some(json!({"image": "web:1"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (sa, sa_member) = s.service_account(&s.root, &org, "ci").await;
    let group = s.org_group(&s.root, &org, "deployers", "editor").await;
    s.join(&s.root, &org, &group, &sa_member).await;
    let (ann_id, _, ann_member) = s.member(&s.root, &org, "ann@example.com").await;
    let (sa_token_id, sa_token) = s
        .service_token(&s.root, &org, &sa, json!({"name": "ci"}))
        .await;
    World {
        org,
        env,
        env2,
        app,
        app2,
        sa,
        sa_member,
        group,
        ann_id,
        ann_member,
        sa_token_id,
        sa_token,
    }
}

/// One route's successful call and failing call: (method, path, token,
/// body) each.
type Call = (Method, String, String, Option<Value>);

async fn recipes(s: &TestServer, w: &World) -> HashMap<(String, String), (Call, Call)> {
    let o = format!("/organizations/{}", w.org);
    let root = s.root.clone();
    let missing = uuid::Uuid::now_v7().to_string();
    let bad_name = json!({"name": ""});
    let mut r: HashMap<(String, String), (Call, Call)> = HashMap::new();
    let mut add = |m: Method, template: &str, ok: Call, fail: Call| {
        r.insert((m.to_string(), template.to_owned()), (ok, fail));
    };
    // A fresh session to log out, a personal token to revoke, a service
    // token to rotate itself and one to report as leaked.
    let session = s.login("ann@example.com", PASSWORD).await;
    let (_, pat) = s
        .post("/me/tokens", &root, json!({"name": "to revoke"}))
        .await;
    let pat_id = pat["id"].as_str().expect("id").to_owned();
    let (_, self_rotating) = s
        .service_token(&root, &w.org, &w.sa, json!({"name": "self"}))
        .await;
    let (_, leaked) = s
        .service_token(&root, &w.org, &w.sa, json!({"name": "leaked"}))
        .await;
    let (del_sa, _) = s.service_account(&root, &w.org, "to-delete").await;
    let del_group = s.org_group(&root, &w.org, "to delete", "viewer").await;
    let del_org = s.org(&root, "Doomed").await;
    s.user("bob@example.com").await;
    s.user("dave@example.com").await;
    let bob_member = s.add_member(&root, &w.org, "bob@example.com").await;

    use Method as M;
    let c = |m: Method, p: String, t: &str, b: Option<Value>| -> Call { (m, p, t.to_owned(), b) };
    add(
        M::POST,
        "/auth/login",
        c(
            M::POST,
            "/auth/login".into(),
            "",
            Some(json!({"email": "ann@example.com", "password": PASSWORD})),
        ),
        c(M::POST, "/auth/login".into(), "", Some(json!({"email": 5}))),
    );
    add(
        M::POST,
        "/auth/logout",
        c(M::POST, "/auth/logout".into(), &session, None),
        c(M::POST, "/auth/logout".into(), "trn_ses_nonsense", None),
    );
    add(
        M::POST,
        "/me/tokens",
        c(
            M::POST,
            "/me/tokens".into(),
            &root,
            Some(json!({"name": "pat"})),
        ),
        c(M::POST, "/me/tokens".into(), &root, Some(bad_name.clone())),
    );
    add(
        M::DELETE,
        "/me/tokens/{}",
        c(M::DELETE, format!("/me/tokens/{pat_id}"), &root, None),
        c(M::DELETE, format!("/me/tokens/{missing}"), &root, None),
    );
    add(
        M::POST,
        "/me/token/rotate",
        c(
            M::POST,
            "/me/token/rotate".into(),
            &self_rotating,
            Some(json!({})),
        ),
        c(M::POST, "/me/token/rotate".into(), &root, Some(json!({}))),
    );
    add(
        M::POST,
        "/users",
        c(
            M::POST,
            "/users".into(),
            &root,
            Some(json!({"email": "carl@example.com", "name": "Carl", "password": PASSWORD})),
        ),
        c(
            M::POST,
            "/users".into(),
            &root,
            Some(json!({"email": "ann@example.com", "name": "Ann", "password": PASSWORD})),
        ),
    );
    add(
        M::PATCH,
        "/users/{}",
        c(
            M::PATCH,
            format!("/users/{}", w.ann_id),
            &root,
            Some(json!({"name": "Ann B"})),
        ),
        c(
            M::PATCH,
            format!("/users/{}", w.ann_id),
            &root,
            Some(json!({"password": "short"})),
        ),
    );
    add(
        M::POST,
        "/tokens/revoke-leaked",
        c(
            M::POST,
            "/tokens/revoke-leaked".into(),
            "",
            Some(json!({"tokens": [leaked]})),
        ),
        c(
            M::POST,
            "/tokens/revoke-leaked".into(),
            "",
            Some(json!({"tokens": "nope"})),
        ),
    );
    add(
        M::POST,
        "/organizations",
        c(
            M::POST,
            "/organizations".into(),
            &root,
            Some(json!({"name": "New"})),
        ),
        c(
            M::POST,
            "/organizations".into(),
            &w.sa_token,
            Some(json!({"name": "New"})),
        ),
    );
    add(
        M::PATCH,
        "/organizations/{}",
        c(M::PATCH, o.clone(), &root, Some(json!({"name": "Acme 2"}))),
        c(
            M::PATCH,
            o.clone(),
            &root,
            Some(json!({"settings": {"max_token_lifetime_days": 0}})),
        ),
    );
    add(
        M::DELETE,
        "/organizations/{}",
        c(M::DELETE, format!("/organizations/{del_org}"), &root, None),
        c(M::DELETE, format!("/organizations/{missing}"), &root, None),
    );
    add(
        M::POST,
        "/organizations/{}/members",
        c(
            M::POST,
            format!("{o}/members"),
            &root,
            Some(json!({"email": "dave@example.com"})),
        ),
        c(
            M::POST,
            format!("{o}/members"),
            &root,
            Some(json!({"email": "ann@example.com"})),
        ),
    );
    add(
        M::DELETE,
        "/organizations/{}/members/{}",
        c(M::DELETE, format!("{o}/members/{bob_member}"), &root, None),
        c(
            M::DELETE,
            format!("{o}/members/{}", w.sa_member),
            &root,
            None,
        ),
    );
    add(
        M::POST,
        "/organizations/{}/groups",
        c(
            M::POST,
            format!("{o}/groups"),
            &root,
            Some(json!({"name": "g2", "role": "viewer", "scope": {"type": "organization"}})),
        ),
        c(
            M::POST,
            format!("{o}/groups"),
            &root,
            Some(json!({"name": "g3", "role": "boss", "scope": {"type": "organization"}})),
        ),
    );
    add(
        M::PATCH,
        "/organizations/{}/groups/{}",
        c(
            M::PATCH,
            format!("{o}/groups/{}", w.group),
            &root,
            Some(json!({"description": "deploys"})),
        ),
        c(
            M::PATCH,
            format!("{o}/groups/{}", w.group),
            &root,
            Some(json!({"scope": {"type": "environment", "environment_ids": []}})),
        ),
    );
    add(
        M::DELETE,
        "/organizations/{}/groups/{}",
        c(M::DELETE, format!("{o}/groups/{del_group}"), &root, None),
        c(M::DELETE, format!("{o}/groups/{missing}"), &root, None),
    );
    add(
        M::PUT,
        "/organizations/{}/groups/{}/members/{}",
        c(
            M::PUT,
            format!("{o}/groups/{}/members/{}", w.group, w.ann_member),
            &root,
            None,
        ),
        c(
            M::PUT,
            format!("{o}/groups/{}/members/{missing}", w.group),
            &root,
            None,
        ),
    );
    add(
        M::DELETE,
        "/organizations/{}/groups/{}/members/{}",
        c(
            M::DELETE,
            format!("{o}/groups/{}/members/{}", w.group, w.ann_member),
            &root,
            None,
        ),
        c(
            M::DELETE,
            format!("{o}/groups/{missing}/members/{}", w.ann_member),
            &root,
            None,
        ),
    );
    add(
        M::POST,
        "/organizations/{}/environments",
        c(
            M::POST,
            format!("{o}/environments"),
            &root,
            Some(json!({"name": "qa"})),
        ),
        c(
            M::POST,
            format!("{o}/environments"),
            &root,
            Some(json!({"name": "staging"})),
        ),
    );
    add(
        M::PATCH,
        "/organizations/{}/environments/{}",
        c(
            M::PATCH,
            format!("{o}/environments/{}", w.env),
            &root,
            Some(json!({"name": "stage"})),
        ),
        c(
            M::PATCH,
            format!("{o}/environments/{}", w.env),
            &root,
            Some(json!({"name": "Bad Name"})),
        ),
    );
    add(
        M::DELETE,
        "/organizations/{}/environments/{}",
        c(
            M::DELETE,
            format!("{o}/environments/{}", w.env2),
            &root,
            None,
        ),
        c(
            M::DELETE,
            format!("{o}/environments/{missing}"),
            &root,
            None,
        ),
    );
    add(
        M::POST,
        "/organizations/{}/applications",
        c(
            M::POST,
            format!("{o}/applications"),
            &root,
            Some(json!({"name": "api"})),
        ),
        c(
            M::POST,
            format!("{o}/applications"),
            &root,
            Some(json!({"name": "-api"})),
        ),
    );
    add(
        M::PATCH,
        "/organizations/{}/applications/{}",
        c(
            M::PATCH,
            format!("{o}/applications/{}", w.app),
            &root,
            Some(json!({"repository": "git@example.com:web"})),
        ),
        c(
            M::PATCH,
            format!("{o}/applications/{missing}"),
            &root,
            Some(json!({"name": "x"})),
        ),
    );
    add(
        M::DELETE,
        "/organizations/{}/applications/{}",
        c(
            M::DELETE,
            format!("{o}/applications/{}", w.app2),
            &root,
            None,
        ),
        c(
            M::DELETE,
            format!("{o}/applications/{missing}"),
            &root,
            None,
        ),
    );
    add(
        M::PUT,
        "/organizations/{}/applications/{}/instances/{}",
        c(
            M::PUT,
            format!("{o}/applications/{}/instances/{}", w.app, w.env),
            &root,
            Some(json!({"image": "web:2"})),
        ),
        c(
            M::PUT,
            format!("{o}/applications/{}/instances/{}", w.app, w.env),
            &root,
            Some(json!({"image": "web:2", "replicas": 5000})),
        ),
    );
    add(
        M::DELETE,
        "/organizations/{}/applications/{}/instances/{}",
        c(
            M::DELETE,
            format!("{o}/applications/{}/instances/{}", w.app, w.env),
            &root,
            None,
        ),
        c(
            M::DELETE,
            format!("{o}/applications/{}/instances/{missing}", w.app),
            &root,
            None,
        ),
    );
    add(
        M::POST,
        "/organizations/{}/applications/{}/instances/{}/deployments",
        c(
            M::POST,
            format!("{o}/applications/{}/instances/{}/deployments", w.app, w.env),
            &w.sa_token,
            Some(json!({"image": "web:3", "version": "3"})),
        ),
        c(
            M::POST,
            format!("{o}/applications/{}/instances/{}/deployments", w.app, w.env),
            &w.sa_token,
            Some(json!({"image": ""})),
        ),
    );
    add(
        M::POST,
        "/organizations/{}/service-accounts",
        c(
            M::POST,
            format!("{o}/service-accounts"),
            &root,
            Some(json!({"name": "bot"})),
        ),
        c(
            M::POST,
            format!("{o}/service-accounts"),
            &root,
            Some(json!({"name": "ci"})),
        ),
    );
    add(
        M::PATCH,
        "/organizations/{}/service-accounts/{}",
        c(
            M::PATCH,
            format!("{o}/service-accounts/{}", w.sa),
            &root,
            Some(json!({"description": "CI"})),
        ),
        c(
            M::PATCH,
            format!("{o}/service-accounts/{}", w.sa),
            &root,
            Some(json!({"status": "sleeping"})),
        ),
    );
    add(
        M::DELETE,
        "/organizations/{}/service-accounts/{}",
        c(
            M::DELETE,
            format!("{o}/service-accounts/{del_sa}"),
            &root,
            None,
        ),
        c(
            M::DELETE,
            format!("{o}/service-accounts/{missing}"),
            &root,
            None,
        ),
    );
    add(
        M::POST,
        "/organizations/{}/service-accounts/{}/tokens",
        c(
            M::POST,
            format!("{o}/service-accounts/{}/tokens", w.sa),
            &root,
            Some(json!({"name": "t"})),
        ),
        c(
            M::POST,
            format!("{o}/service-accounts/{}/tokens", w.sa),
            &root,
            Some(json!({"name": "t", "expires_at": "2001-01-01T00:00:00Z"})),
        ),
    );
    add(
        M::DELETE,
        "/organizations/{}/service-accounts/{}/tokens/{}",
        c(
            M::DELETE,
            format!("{o}/service-accounts/{}/tokens/{}", w.sa, w.sa_token_id),
            &root,
            None,
        ),
        c(
            M::DELETE,
            format!("{o}/service-accounts/{}/tokens/{missing}", w.sa),
            &root,
            None,
        ),
    );
    r
}

async fn every_mutating_route_writes_exactly_one_event(
    s: TestServer,
    idp: tron_oidc::testing::TestIssuer,
) {
    let w = world(&s).await;
    let routes = mutating_routes(&s).await;
    assert!(
        routes.len() >= 30,
        "the document lists the API's mutating routes: {routes:?}"
    );
    let mut table = recipes(&s, &w).await;
    // Rotation needs a live token of its own; added here since the
    // revocation recipe above revokes the world's token.
    let (rot_id, _) = s
        .service_token(&s.root, &w.org, &w.sa, json!({"name": "rotating"}))
        .await;
    let o = format!("/organizations/{}", w.org);
    table.insert(
        (
            "POST".into(),
            "/organizations/{}/service-accounts/{}/tokens/{}/rotate".into(),
        ),
        (
            (
                Method::POST,
                format!("{o}/service-accounts/{}/tokens/{rot_id}/rotate", w.sa),
                s.root.clone(),
                Some(json!({"grace_period_seconds": 10})),
            ),
            (
                Method::POST,
                format!("{o}/service-accounts/{}/tokens/{rot_id}/rotate", w.sa),
                s.root.clone(),
                Some(json!({"grace_period_seconds": 86401})),
            ),
        ),
    );
    keyless_recipes(&s, &w, &idp, &mut table).await;
    webhook_recipes(&s, &w, &mut table).await;
    let missing: Vec<_> = routes.iter().filter(|r| !table.contains_key(*r)).collect();
    assert!(
        missing.is_empty(),
        "mutating routes without an audit recipe: {missing:?}"
    );
    let s = &s;
    let call = |c: &Call| {
        let (m, p, t, b) = c.clone();
        async move {
            s.call(m, &p, (!t.is_empty()).then_some(t.as_str()), b)
                .await
        }
    };
    // The failing calls first (they must not change anything), then the
    // successful ones.
    for route in &routes {
        let (_, fail) = &table[route];
        let before = s.store.count_audit_events().await.expect("count");
        let (status, body) = call(fail).await;
        assert!(
            status.is_client_error(),
            "{route:?} failing call answered {status}: {body}"
        );
        let after = s.store.count_audit_events().await.expect("count");
        assert_eq!(
            after, before,
            "{route:?} wrote an event on failure ({status})"
        );
    }
    // Deletions last, so that what they remove is still there for the others.
    let mut order: Vec<_> = routes.iter().collect();
    order.sort_by_key(|(m, p)| (m == "DELETE", p.clone(), m.clone()));
    let mut checked = 0;
    for route in order {
        let (ok, _) = &table[route];
        let before = s.store.count_audit_events().await.expect("count");
        let (status, body) = call(ok).await;
        assert!(
            status.is_success(),
            "{route:?} successful call answered {status}: {body}"
        );
        let after = s.store.count_audit_events().await.expect("count");
        assert_eq!(after, before + 1, "{route:?} must write exactly one event");
        checked += 1;
    }
    println!("audit: {checked} mutating routes from the OpenAPI document, one event each on success, none on failure");
}

/// Trust policies (two on the world's account: one to change, one to
/// delete) and the exchange.
async fn keyless_recipes(
    s: &TestServer,
    w: &World,
    idp: &tron_oidc::testing::TestIssuer,
    table: &mut HashMap<(String, String), (Call, Call)>,
) {
    let policies = format!(
        "/organizations/{}/service-accounts/{}/trust-policies",
        w.org, w.sa
    );
    let policy = |name: &str| {
        json!({
            "name": name, "issuer": idp.issuer(), "audience": "tron",
            "conditions": {"repository_owner_id": "42"},
        })
    };
    let mut ids = Vec::new();
    for name in ["to change", "to delete"] {
        let (st, p) = s.post(&policies, &s.root, policy(name)).await;
        assert_eq!(st, StatusCode::CREATED, "{p}");
        ids.push(p["id"].as_str().expect("id").to_owned());
    }
    let missing = uuid::Uuid::now_v7();
    let root = s.root.clone();
    let call = |m: Method, p: String, b: Option<Value>| -> Call { (m, p, root.clone(), b) };
    let template = "/organizations/{}/service-accounts/{}/trust-policies".to_owned();
    let one = format!("{template}/{{}}");
    table.insert(
        ("POST".into(), template),
        (
            call(Method::POST, policies.clone(), Some(policy("new"))),
            call(
                Method::POST,
                policies.clone(),
                Some(json!({"name": "bad", "issuer": "https://ci.example", "audience": "tron", "conditions": {"a": "b"}})),
            ),
        ),
    );
    table.insert(
        ("PATCH".into(), one.clone()),
        (
            call(
                Method::PATCH,
                format!("{policies}/{}", ids[0]),
                Some(json!({"token_ttl_seconds": 120})),
            ),
            call(
                Method::PATCH,
                format!("{policies}/{}", ids[0]),
                Some(json!({"token_ttl_seconds": 1})),
            ),
        ),
    );
    table.insert(
        ("DELETE".into(), one),
        (
            call(Method::DELETE, format!("{policies}/{}", ids[1]), None),
            call(Method::DELETE, format!("{policies}/{missing}"), None),
        ),
    );
    let exchange = |grant: &str| {
        json!({
            "grant_type": grant,
            "subject_token": idp.sign(&idp.github_claims("tron", s.clock.now())),
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "service_account": w.sa,
        })
    };
    table.insert(
        ("POST".into(), "/oidc/token".into()),
        (
            (
                Method::POST,
                "/oidc/token".into(),
                String::new(),
                Some(exchange("urn:ietf:params:oauth:grant-type:token-exchange")),
            ),
            (
                Method::POST,
                "/oidc/token".into(),
                String::new(),
                Some(exchange("password")),
            ),
        ),
    );
}

/// Webhooks: one to change, ping and rotate, one to delete, and a delivery
/// to redeliver.
async fn webhook_recipes(
    s: &TestServer,
    w: &World,
    table: &mut HashMap<(String, String), (Call, Call)>,
) {
    let hooks = format!("/organizations/{}/webhooks", w.org);
    let body = json!({"url": "https://hooks.example.com/tron", "events": ["*"]});
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (st, h) = s.post(&hooks, &s.root, body.clone()).await;
        assert_eq!(st, StatusCode::CREATED, "{h}");
        ids.push(h["id"].as_str().expect("id").to_owned());
    }
    let (st, _) = s
        .post(&format!("{hooks}/{}/ping", ids[0]), &s.root, json!({}))
        .await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let (_, list) = s
        .get(&format!("{hooks}/{}/deliveries", ids[0]), &s.root)
        .await;
    let delivery = list["items"][0]["id"]
        .as_str()
        .expect("a delivery")
        .to_owned();
    let missing = uuid::Uuid::now_v7();
    let root = s.root.clone();
    let call = |m: Method, p: String, b: Option<Value>| -> Call { (m, p, root.clone(), b) };
    let t = "/organizations/{}/webhooks";
    let one = format!("{hooks}/{}", ids[0]);
    let mut add = |m: Method, template: String, ok: Call, fail: Call| {
        table.insert((m.to_string(), template), (ok, fail));
    };
    add(
        Method::POST,
        t.to_owned(),
        call(Method::POST, hooks.clone(), Some(body.clone())),
        call(
            Method::POST,
            hooks.clone(),
            Some(json!({"url": "https://hooks.example.com", "events": ["nothing"]})),
        ),
    );
    add(
        Method::PATCH,
        format!("{t}/{{}}"),
        call(
            Method::PATCH,
            one.clone(),
            Some(json!({"description": "changed"})),
        ),
        call(
            Method::PATCH,
            one.clone(),
            Some(json!({"url": "http://10.0.0.1/x"})),
        ),
    );
    add(
        Method::DELETE,
        format!("{t}/{{}}"),
        call(Method::DELETE, format!("{hooks}/{}", ids[1]), None),
        call(Method::DELETE, format!("{hooks}/{missing}"), None),
    );
    add(
        Method::POST,
        format!("{t}/{{}}/rotate-secret"),
        call(Method::POST, format!("{one}/rotate-secret"), None),
        call(
            Method::POST,
            format!("{hooks}/{missing}/rotate-secret"),
            None,
        ),
    );
    add(
        Method::POST,
        format!("{t}/{{}}/ping"),
        call(Method::POST, format!("{one}/ping"), None),
        call(Method::POST, format!("{hooks}/{missing}/ping"), None),
    );
    add(
        Method::POST,
        format!("{t}/{{}}/deliveries/{{}}/redeliver"),
        call(
            Method::POST,
            format!("{one}/deliveries/{delivery}/redeliver"),
            None,
        ),
        call(
            Method::POST,
            format!("{one}/deliveries/{missing}/redeliver"),
            None,
        ),
    );
}

async fn audit_log_filters_and_access(s: TestServer) {
    let w = world(&s).await;
    let o = format!("/organizations/{}", w.org);
    // A deployment by the service account, with its token.
    let (st, _) = s
        .post(
            &format!("{o}/applications/{}/instances/{}/deployments", w.app, w.env),
            &w.sa_token,
            json!({"image": "web:9"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, page) = s
        .get(
            &format!("{o}/audit-events?actor_type=service_account"),
            &s.root,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{page}");
    let e = &items[0];
    assert_eq!(e["action"], "deployment.create");
    assert_eq!(e["actor"]["id"], w.sa.as_str());
    assert_eq!(e["actor"]["token_id"], w.sa_token_id.as_str());
    assert_eq!(e["actor"]["name"], "ci");
    assert!(e["request_id"].is_string() && e["ip"] == "127.0.0.1", "{e}");
    // Newest first, prefixes, exact actions, targets, actors, time windows.
    let (_, all) = s.get(&format!("{o}/audit-events?limit=200"), &s.root).await;
    let all = all["items"].as_array().expect("items").clone();
    // Compared as instants: RFC 3339 text drops trailing zeros of the
    // fraction ("…13.480Z" is later than "…13.479024Z" but sorts after
    // "…13.480741Z" as a string).
    let times: Vec<chrono::DateTime<chrono::Utc>> = all
        .iter()
        .map(|e| {
            let t = e["occurred_at"].as_str().expect("time");
            chrono::DateTime::parse_from_rfc3339(t)
                .expect("RFC 3339")
                .with_timezone(&chrono::Utc)
        })
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    let (_, groups) = s
        .get(&format!("{o}/audit-events?action=group.*"), &s.root)
        .await;
    assert!(groups["items"].is_array(), "{groups}");
    let actions: BTreeSet<&str> = groups["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["action"].as_str().expect("a"))
        .collect();
    assert_eq!(
        actions,
        BTreeSet::from(["group.create", "group.member_add"])
    );
    let (_, exact) = s
        .get(&format!("{o}/audit-events?action=group.create"), &s.root)
        .await;
    assert_eq!(exact["items"].as_array().map(Vec::len), Some(1));
    let (_, none) = s
        .get(&format!("{o}/audit-events?action=group"), &s.root)
        .await;
    assert_eq!(
        none["items"].as_array().map(Vec::len),
        Some(0),
        "no implicit prefix"
    );
    let (_, target) = s
        .get(&format!("{o}/audit-events?target_id={}", w.sa), &s.root)
        .await;
    assert_eq!(target["items"][0]["action"], "service_account.create");
    let root_id = s.get("/me", &s.root).await.1["principal"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (_, by_root) = s
        .get(
            &format!("{o}/audit-events?actor_id={root_id}&limit=200"),
            &s.root,
        )
        .await;
    assert_eq!(
        by_root["items"].as_array().map(Vec::len),
        Some(all.len() - 1)
    );
    let newest = all[0]["occurred_at"].as_str().expect("t").to_owned();
    let enc = |t: &str| t.replace('+', "%2B").replace(':', "%3A");
    let (_, since) = s
        .get(&format!("{o}/audit-events?since={}", enc(&newest)), &s.root)
        .await;
    assert_eq!(
        since["items"].as_array().map(Vec::len),
        Some(1),
        "since is inclusive"
    );
    let (_, until) = s
        .get(
            &format!("{o}/audit-events?until={}&limit=200", enc(&newest)),
            &s.root,
        )
        .await;
    assert_eq!(
        until["items"].as_array().map(Vec::len),
        Some(all.len() - 1),
        "until is exclusive"
    );
    // Pagination.
    let (_, p1) = s.get(&format!("{o}/audit-events?limit=2"), &s.root).await;
    let cursor = p1["next_cursor"].as_str().expect("cursor");
    let (_, p2) = s
        .get(
            &format!("{o}/audit-events?limit=2&cursor={cursor}"),
            &s.root,
        )
        .await;
    assert_eq!(p2["items"][0]["id"], all[2]["id"]);
    // Bad filters.
    for bad in [
        "since=yesterday",
        "until=2020",
        "actor_type=robot",
        "limit=0",
    ] {
        let (st, body) = s.get(&format!("{o}/audit-events?{bad}"), &s.root).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    // Admins only; the platform log is for superusers.
    let ann = s.login("ann@example.com", PASSWORD).await;
    assert_eq!(
        s.get(&format!("{o}/audit-events"), &ann).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.get(&format!("{o}/audit-events"), &w.sa_token).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(s.get("/audit-events", &ann).await.0, StatusCode::FORBIDDEN);
    let (_, platform) = s.get("/audit-events?action=user.*", &s.root).await;
    assert!(platform["items"]
        .as_array()
        .expect("items")
        .iter()
        .any(|e| e["action"] == "user.create"));
    // No secret ever reaches the log.
    let (_, everything) = s.get(&format!("{o}/audit-events?limit=200"), &s.root).await;
    assert!(!everything.to_string().contains(&w.sa_token[8..]));
    assert!(!everything.to_string().contains("trn_"));
}

/// A log far longer than SQLite's first look at the newest 1,000 events
/// (issue 20): each filter, paged to the end, gives exactly the events of
/// the whole log that match it, in the log's order: those among the newest
/// events, and those the filter's own index finds further back.
async fn filters_read_the_whole_of_a_long_log(s: TestServer) {
    use tron_core::ids::{OrganizationId, UserId};
    use tron_core::principal::{Actor, ActorType};
    use tron_store::members::MemberKey;
    use tron_store::models::RequestMeta;

    let (admin, org) = s.admin_and_org().await;
    let (st, _) = s
        .post(
            &format!("/organizations/{org}/service-accounts"),
            &admin,
            json!({"name": "ci"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    // 2,400 events over the last year, older than the ones above.
    let me = s.get("/me", &admin).await.1;
    let user: UserId = me["principal"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("a user id");
    let org_id: OrganizationId = org.parse().expect("an organization id");
    let access = s
        .state
        .store
        .load_access(org_id, MemberKey::User(user))
        .await
        .expect("access");
    let meta = RequestMeta {
        actor: Actor {
            kind: ActorType::User,
            id: Some(user.0),
            name: Some("Ann".into()),
            token_id: None,
        },
        request_id: None,
        ip: None,
    };
    s.state
        .store
        .organization(access.key, &meta, &s.clock)
        .seed_audit_events(2400, chrono::Duration::days(365))
        .await
        .expect("seeded");

    let log = format!("/organizations/{org}/audit-events");
    let all = s.all_pages(&log, &admin, 200).await;
    assert!(all.len() > 2400, "{}", all.len());
    let far = &all[2000];
    let day = |e: &Value| e["occurred_at"].as_str().expect("time").to_owned();
    let (since, until) = (day(&all[1900]), day(&all[1800]));
    let ids = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .map(|e| e["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let at = |e: &Value| {
        chrono::DateTime::parse_from_rfc3339(e["occurred_at"].as_str().expect("time"))
            .expect("RFC 3339")
    };
    let (lo, hi) = (at(&all[1900]), at(&all[1800]));
    type Pick = Box<dyn Fn(&Value) -> bool>;
    let far_target = far["target"]["id"].clone();
    let cases: Vec<(String, Pick)> = vec![
        (
            "action=deployment.*".into(),
            Box::new(|e: &Value| {
                e["action"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("deployment."))
            }),
        ),
        (
            "action=service_account.*".into(),
            Box::new(|e: &Value| {
                e["action"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("service_account."))
            }),
        ),
        (
            "action=service_token.rotate".into(),
            Box::new(|e: &Value| e["action"] == "service_token.rotate"),
        ),
        (
            format!("target_id={}", far_target.as_str().expect("target")),
            Box::new(move |e: &Value| e["target"]["id"] == far_target),
        ),
        (
            format!("actor_id={user}"),
            Box::new(move |e: &Value| e["actor"]["id"] == user.to_string()),
        ),
        (
            "actor_type=service_account".into(),
            Box::new(|e: &Value| e["actor"]["type"] == "service_account"),
        ),
        (
            format!("since={since}&until={until}"),
            Box::new(move |e: &Value| (lo..hi).contains(&at(e))),
        ),
        (
            format!("action=group.*&since={since}"),
            Box::new(move |e: &Value| {
                e["action"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("group."))
                    && at(e) >= lo
            }),
        ),
    ];
    for (query, pick) in cases {
        let query = query.replace('+', "%2B");
        let want: Vec<Value> = all.iter().filter(|e| pick(e)).cloned().collect();
        let got = s.all_pages(&format!("{log}?{query}"), &admin, 50).await;
        assert_eq!(ids(&got), ids(&want), "{query}");
    }
}
