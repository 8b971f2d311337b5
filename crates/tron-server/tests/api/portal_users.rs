//! Issue 19 in headless Chromium: a superuser manages users (create,
//! search, disable, superuser flag, password reset) on `/users`; a user
//! changes its password and manages its personal tokens on `/profile`;
//! the organization's and the platform's audit logs read as labelled
//! fields, filter by a click on an actor, and say a bad filter beside the
//! form. Screenshots `users-1280.png` and `users-390.png`.
use std::time::Duration;

use fantoccini::{Client, Locator};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::kit::{o, org_scope, Db, TestServer, ADMIN_EMAIL};
use crate::portal::{
    assert_accessible, click, el, exists, fill, log_in, no_sideways_scroll, open_browser, path,
    screenshot, select, source, start_chromedriver, value,
};

const DANA: &str = "dana@example.com";
const DANA_FIRST: &str = "dana's first password";
const DANA_RESET: &str = "a password the superuser typed";
const DANA_OWN: &str = "dana chose this one herself";

/// Waits (at most 10 s) until the element's text contains `text`.
async fn wait_text(c: &Client, css: &str, text: &str) -> String {
    for _ in 0..100 {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if let Ok(t) = e.text().await {
                if t.contains(text) {
                    return t;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} never contained {text:?}: {}", source(c).await);
}

async fn texts(c: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in c.find_all(Locator::Css(css)).await.expect("find_all") {
        out.push(e.text().await.expect("text"));
    }
    out
}

async fn attrs(c: &Client, css: &str, attr: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in c.find_all(Locator::Css(css)).await.expect("find_all") {
        out.push(e.attr(attr).await.expect("attr").unwrap_or_default());
    }
    out
}

/// `POST /auth/login` as the API sees it.
async fn api_login(s: &TestServer, email: &str, password: &str) -> (StatusCode, Value) {
    let resp = s
        .http
        .post(s.url("/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("login");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The status of a portal page fetched with a session cookie.
async fn page_status(s: &TestServer, session: &str, page: &str) -> StatusCode {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(format!("{}{page}", s.base))
        .header("cookie", format!("tron_session={session}"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("get")
        .status()
}

async fn log_in_as(c: &Client, base: &str, email: &str, password: &str) {
    c.goto(&format!("{base}/login")).await.expect("goto");
    fill(c, "#email", email).await;
    fill(c, "#password", password).await;
    click(c, "#login").await;
    el(c, "#logout").await;
}

async fn log_out(c: &Client) {
    click(c, "#logout").await;
    el(c, "#login").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_profile_and_audit_in_a_browser() {
    let s = TestServer::start(Db::Sqlite).await;
    let base = s.base.clone();
    let driver = start_chromedriver().await;
    let profile = tempfile::tempdir().expect("profile dir");
    let c = open_browser(&driver, profile.path()).await;

    // The superuser finds Users and the platform log in the top bar.
    log_in(&c, &base, ADMIN_EMAIL).await;
    assert!(exists(&c, "#nav-profile").await);
    assert!(exists(&c, "#nav-audit").await);
    click(&c, "#nav-users").await;
    el(&c, "#create-user").await;
    assert_eq!(path(&c).await, "/users");

    // Creates a user, who appears in the list.
    fill(&c, "#new-user-email", DANA).await;
    fill(&c, "#new-user-name", "Dana Scully").await;
    fill(&c, "#new-user-password", DANA_FIRST).await;
    click(&c, "#create-user").await;
    wait_text(&c, "p.notice", "User created").await;
    assert_eq!(
        el(&c, "#user-status").await.text().await.expect("t"),
        "active"
    );
    assert!(!exists(&c, "#user-superuser").await);
    let dana_id = el(&c, "#id-user").await.text().await.expect("id");
    let user_path = format!("/users/{dana_id}");
    assert_eq!(path(&c).await, user_path);
    let (status, _) = api_login(&s, DANA, DANA_FIRST).await;
    assert_eq!(status, StatusCode::OK);

    c.goto(&format!("{base}/users")).await.expect("goto");
    let row = el(&c, &format!("tr.user-row[data-user-id='{dana_id}']"))
        .await
        .text()
        .await
        .expect("text");
    assert!(
        row.contains(DANA) && row.contains("Dana Scully") && row.contains("active"),
        "{row}"
    );
    let root_row = texts(&c, "tr.user-row").await.join("\n");
    assert!(
        root_row.contains(ADMIN_EMAIL) && root_row.contains("superuser"),
        "{root_row}"
    );
    assert_accessible(&c, "users page").await;
    screenshot(&c, "users-1280.png").await;
    c.set_window_size(390, 1200).await.expect("resize");
    no_sideways_scroll(&c, "the page").await;
    screenshot(&c, "users-390.png").await;
    c.set_window_size(1280, 900).await.expect("resize");

    // Search by name (any case) finds only her; a miss says so.
    fill(&c, "#user-search", "SCULLY").await;
    click(&c, "#search-users").await;
    el(&c, "#all-users").await;
    assert_eq!(
        attrs(&c, "tr.user-row", "data-user-id").await,
        vec![dana_id.clone()]
    );
    assert_eq!(value(&c, "#user-search").await, "SCULLY");
    fill(&c, "#user-search", "nobody-by-this-name").await;
    click(&c, "#search-users").await;
    wait_text(&c, "#no-users", "No user matches").await;
    assert!(!exists(&c, "tr.user-row").await);

    // Disabling asks first, then her login fails with the API.
    c.goto(&format!("{base}{user_path}")).await.expect("goto");
    click(&c, "#disable-user").await;
    let heading = el(&c, ".confirm h1").await.text().await.expect("t");
    assert!(
        heading.contains("Disable") && heading.contains(DANA),
        "{heading}"
    );
    let (status, _) = api_login(&s, DANA, DANA_FIRST).await;
    assert_eq!(status, StatusCode::OK, "not disabled before confirming");
    click(&c, "#confirm").await;
    el(&c, "#enable-user").await;
    assert_eq!(
        el(&c, "#user-status").await.text().await.expect("t"),
        "disabled"
    );
    let (status, body) = api_login(&s, DANA, DANA_FIRST).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "principal_disabled");
    click(&c, "#enable-user").await;
    el(&c, ".confirm").await;
    click(&c, "#confirm").await;
    el(&c, "#disable-user").await;
    let (status, _) = api_login(&s, DANA, DANA_FIRST).await;
    assert_eq!(status, StatusCode::OK);

    // The superuser flag, on and off, each confirmed.
    click(&c, "#grant-superuser").await;
    el(&c, ".confirm").await;
    click(&c, "#confirm").await;
    el(&c, "#revoke-superuser").await;
    assert!(exists(&c, "#user-superuser").await);
    let (_, user) = s.get(&format!("/users/{dana_id}"), &s.root).await;
    assert_eq!(user["is_superuser"], true);
    click(&c, "#revoke-superuser").await;
    el(&c, ".confirm").await;
    click(&c, "#confirm").await;
    el(&c, "#grant-superuser").await;
    let (_, user) = s.get(&format!("/users/{dana_id}"), &s.root).await;
    assert_eq!(user["is_superuser"], false);

    // A password reset by the superuser: the new one logs in, the old one
    // does not.
    fill(&c, "#reset-password", DANA_RESET).await;
    click(&c, "#reset-password-button").await;
    wait_text(&c, "p.notice", "Password reset").await;
    let (status, _) = api_login(&s, DANA, DANA_FIRST).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = api_login(&s, DANA, DANA_RESET).await;
    assert_eq!(status, StatusCode::OK);

    // She is no superuser: no Users link, and the 403 page.
    log_out(&c).await;
    log_in_as(&c, &base, DANA, DANA_RESET).await;
    assert!(!exists(&c, "#nav-users").await);
    assert!(!exists(&c, "#nav-audit").await);
    c.goto(&format!("{base}/users")).await.expect("goto");
    wait_text(&c, "main", "Not allowed").await;
    let dana_session = s.login(DANA, DANA_RESET).await;
    for page in ["/users", user_path.as_str(), "/audit"] {
        assert_eq!(
            page_status(&s, &dana_session, page).await,
            StatusCode::FORBIDDEN,
            "{page}"
        );
    }

    // Profile: a wrong current password is said on the page.
    c.goto(&format!("{base}/")).await.expect("goto");
    click(&c, "#nav-profile").await;
    el(&c, "#change-password").await;
    fill(&c, "#current-password", "not my password at all").await;
    fill(&c, "#new-password", DANA_OWN).await;
    fill(&c, "#new-password-again", DANA_OWN).await;
    click(&c, "#change-password").await;
    let err = el(&c, "#password-error").await.text().await.expect("t");
    assert!(err.contains("current password is wrong"), "{err}");
    assert!(
        !source(&c).await.contains(DANA_OWN),
        "a typed password is echoed"
    );
    let (status, _) = api_login(&s, DANA, DANA_OWN).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The right one changes it, ends her other sessions, keeps this one.
    fill(&c, "#current-password", DANA_RESET).await;
    fill(&c, "#new-password", DANA_OWN).await;
    fill(&c, "#new-password-again", DANA_OWN).await;
    click(&c, "#change-password").await;
    wait_text(&c, "p.notice", "Password changed").await;
    let (status, body) = s.get("/me", &dana_session).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "token_revoked");
    c.goto(&format!("{base}/profile")).await.expect("goto");
    el(&c, "#create-token").await;
    assert_eq!(path(&c).await, "/profile", "this session goes on");
    assert_accessible(&c, "profile page").await;
    let (status, _) = api_login(&s, DANA, DANA_OWN).await;
    assert_eq!(status, StatusCode::OK);

    // A personal token: shown once, works, revoked after confirming.
    fill(&c, "#token-name", "laptop").await;
    select(&c, "#token-expiry", "never").await;
    click(&c, "#create-token").await;
    let panel = el(&c, "#new-token-panel").await.text().await.expect("t");
    assert!(panel.contains("It will not be shown again"), "{panel}");
    let pat = value(&c, "#new-token").await;
    assert!(pat.starts_with("trn_pat_") && pat.len() == 57, "{pat}");
    assert!(
        el(&c, "#copy-token")
            .await
            .is_displayed()
            .await
            .expect("displayed"),
        "the copy button is shown by the external script"
    );
    assert_eq!(path(&c).await, "/profile", "the POST's entry was replaced");
    let (status, me) = s.get("/me", &pat).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["principal"]["email"], DANA);
    assert_eq!(me["token"]["kind"], "personal");
    c.goto(&format!("{base}/profile")).await.expect("goto");
    let row = el(&c, "tr.token[data-status=active]")
        .await
        .text()
        .await
        .expect("t");
    assert!(
        row.contains("laptop") && row.contains(&pat[pat.len() - 4..]),
        "{row}"
    );
    assert!(!exists(&c, "#new-token").await);
    assert!(!source(&c).await.contains(&pat), "shown only once");
    click(&c, "tr.token a.revoke").await;
    el(&c, ".confirm").await;
    click(&c, "#confirm").await;
    el(&c, "tr.token[data-status=revoked]").await;
    let (status, body) = s.get("/me", &pat).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "token_revoked");
    log_out(&c).await;

    // An organization whose service account acts with its token.
    let (status, org) = s
        .post("/organizations", &s.root, json!({"name": "acme"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let org = org["id"].as_str().expect("id").to_owned();
    let group = s
        .group(&s.root, &org, "Deployers", "admin", org_scope())
        .await;
    let (sa, _) = s
        .service_account_in(&s.root, &org, "deployer", &group)
        .await;
    let (token_id, sat) = s
        .service_token(&s.root, &org, &sa, json!({"name": "ci"}))
        .await;
    let (status, _) = s
        .post(&o(&org, "/environments"), &sat, json!({"name": "staging"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Only admins read it: she is no member.
    let dana_session = s.login(DANA, DANA_OWN).await;
    assert_eq!(
        page_status(&s, &dana_session, &format!("/orgs/{org}/audit")).await,
        StatusCode::NOT_FOUND
    );

    // The organization's log: labelled details, actors as links.
    log_in(&c, &base, ADMIN_EMAIL).await;
    let audit = format!("{base}/orgs/{org}/audit");
    c.goto(&audit).await.expect("goto");
    el(&c, "#audit-filters").await;
    assert_accessible(&c, "organization audit log").await;
    let created = el(
        &c,
        "tr.audit-event[data-action='service_account.create'] dl.fields",
    )
    .await
    .text()
    .await
    .expect("t");
    assert!(
        created.contains("name") && created.contains("deployer"),
        "{created}"
    );
    assert!(!created.contains('{'), "raw JSON: {created}");
    let labels = texts(
        &c,
        "tr.audit-event[data-action='service_account.create'] dl.fields dt",
    )
    .await;
    assert!(labels.iter().any(|l| l == "name"), "{labels:?}");
    let env_row = el(&c, "tr.audit-event[data-action='environment.create']")
        .await
        .text()
        .await
        .expect("t");
    assert!(
        env_row.contains("deployer")
            && env_row.contains("service account")
            && env_row.contains(&format!("with token {}", &token_id[..8])),
        "{env_row}"
    );
    assert!(exists(&c, "tr.audit-event[data-action='organization.create']").await);
    // A click on the service account filters the log to it.
    click(
        &c,
        "tr.audit-event[data-action='environment.create'] a.actor-link",
    )
    .await;
    el(&c, "#audit-clear").await;
    let actors = attrs(&c, "tr.audit-event", "data-actor-id").await;
    assert!(!actors.is_empty());
    let sa_actor = actors[0].clone();
    assert!(actors.iter().all(|a| *a == sa_actor), "{actors:?}");
    assert_eq!(value(&c, "#audit-actor-id").await, sa_actor);
    let actions = attrs(&c, "tr.audit-event", "data-action").await;
    assert!(
        actions.contains(&"environment.create".to_owned()),
        "{actions:?}"
    );
    assert!(
        !actions.contains(&"organization.create".to_owned()),
        "{actions:?}"
    );
    for row in texts(&c, "tr.audit-event").await {
        assert!(row.contains("deployer"), "{row}");
    }
    // A bad date is said beside the filters, as typed.
    fill(&c, "#audit-since", "last tuesday").await;
    click(&c, "#audit-filter").await;
    let err = el(&c, "#audit-filter-error").await.text().await.expect("t");
    assert!(err.starts_with("Since must be a date"), "{err}");
    assert_eq!(value(&c, "#audit-since").await, "last tuesday");
    assert_eq!(value(&c, "#audit-actor-id").await, sa_actor);
    assert!(!exists(&c, "tr.audit-event").await);
    // A bad actor type too, kept in the select.
    c.goto(&format!("{audit}?actor_type=robot"))
        .await
        .expect("goto");
    let err = el(&c, "#audit-filter-error").await.text().await.expect("t");
    assert!(err.contains("actor type"), "{err}");
    assert_eq!(value(&c, "#audit-actor-type").await, "robot");

    // The platform's log shows the users' changes.
    click(&c, "#nav-audit").await;
    el(&c, "#audit-filters").await;
    assert_eq!(path(&c).await, "/audit");
    let create = el(
        &c,
        &format!("tr.audit-event[data-action='user.create'][data-target-id='{dana_id}']"),
    )
    .await
    .text()
    .await
    .expect("t");
    assert!(
        create.contains(DANA) && create.contains("Dana Scully"),
        "{create}"
    );
    let updates = attrs(
        &c,
        "tr.audit-event[data-action='user.update']",
        "data-target-id",
    )
    .await;
    assert!(
        updates.iter().filter(|t| **t == dana_id).count() >= 6,
        "{updates:?}"
    );
    for a in [
        "personal_token.create",
        "personal_token.revoke",
        "auth.login",
    ] {
        assert!(
            exists(&c, &format!("tr.audit-event[data-action='{a}']")).await,
            "no {a}"
        );
    }
    // A click on her as the target filters to her.
    click(
        &c,
        &format!(
            "tr.audit-event[data-action='user.create'][data-target-id='{dana_id}'] a.target-link"
        ),
    )
    .await;
    el(&c, "#audit-clear").await;
    let targets = attrs(&c, "tr.audit-event", "data-target-id").await;
    assert!(
        !targets.is_empty() && targets.iter().all(|t| *t == dana_id),
        "{targets:?}"
    );
    assert_accessible(&c, "platform audit log").await;
    c.set_window_size(390, 1400).await.expect("resize");
    no_sideways_scroll(&c, "the page").await;
    screenshot(&c, "platform-audit-390.png").await;
}
