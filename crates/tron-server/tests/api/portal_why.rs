//! Issue 19 in headless Chromium: "What can it do?" on a service account's
//! page and on a member's page answers, cell by cell, what the API's
//! access-check answers for that member, naming the granting groups; and a
//! refused page says which role (on which scope) would be needed.
use fantoccini::{Client, Locator};
use reqwest::StatusCode;
use serde_json::json;

use crate::kit::{env_scope, o, org_scope, Db, TestServer};
use crate::portal::{
    assert_accessible, click, el, exists, log_in, open_browser, path, screenshot,
    serious_violations, source, start_chromedriver,
};

/// The cell of the row of `kind` named `name`, for `action`.
fn cell(kind: &str, name: &str, action: &str) -> String {
    format!("tr.perm-row[data-kind={kind}][data-name=\"{name}\"] td[data-action={action}]")
}

async fn allowed(c: &Client, css: &str) -> String {
    el(c, css)
        .await
        .attr("data-allowed")
        .await
        .expect("attribute")
        .expect("data-allowed")
}

async fn text(c: &Client, css: &str) -> String {
    el(c, css).await.text().await.expect("text")
}

/// Every cell of the table shown says what access-check says about
/// `member` (asked as `admin`): allowed, refused, or `400` for "—".
async fn table_matches_access_check(
    c: &Client,
    s: &TestServer,
    admin: &str,
    org: &str,
    member: &str,
) {
    let cells = c
        .find_all(Locator::Css("#what-can-it-do td[data-action]"))
        .await
        .expect("cells");
    assert!(cells.len() >= 4 * 12, "a row per resource: {}", cells.len());
    for td in cells {
        let action = td.attr("data-action").await.expect("attr").expect("action");
        let state = td.attr("data-allowed").await.expect("attr").expect("state");
        let row = td
            .find(Locator::XPath("./ancestor::tr[1]"))
            .await
            .expect("its row");
        let resource = row
            .attr("data-resource")
            .await
            .expect("attr")
            .expect("resource");
        let (status, body) = s
            .access_check(
                admin,
                org,
                &format!("resource={resource}&action={action}&member_id={member}"),
            )
            .await;
        let api = match (status, body["allowed"].as_bool()) {
            (StatusCode::BAD_REQUEST, _) => "na",
            (StatusCode::OK, Some(true)) => "yes",
            (StatusCode::OK, Some(false)) => "no",
            _ => panic!("access-check {resource} {action}: {status} {body}"),
        };
        assert_eq!(state, api, "{action} on {resource}");
        if api == "yes" {
            let shown = td.text().await.expect("text");
            for g in body["granted_by"].as_array().expect("granted_by") {
                let name = g["group_name"].as_str().expect("group name");
                assert!(
                    shown.contains(name),
                    "{action} on {resource}: {shown} names {name}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_can_it_do_and_what_would_be_needed() {
    let s = TestServer::start(Db::Sqlite).await;
    let base = s.base.clone();
    let (_, admin) = s.user("ada@example.com").await;
    let org = s.org(&admin, "acme").await;
    let staging = s.env(&admin, &org, "staging").await;
    s.env(&admin, &org, "production").await;
    s.app(&admin, &org, "web").await;
    let deployers = s
        .group(&admin, &org, "deployers", "editor", env_scope(&[&staging]))
        .await;
    let (sa, sa_member) = s
        .service_account_in(&admin, &org, "ci-bot", &deployers)
        .await;
    let (viewer, viewer_member, _) = s
        .member_in_group(&admin, &org, "vera@example.com", "viewer", org_scope())
        .await;

    let driver = start_chromedriver().await;
    let profile = tempfile::tempdir().expect("profile dir");
    let c = open_browser(&driver, profile.path()).await;
    log_in(&c, &base, "ada@example.com").await;

    // The service account's table, reached from the link at the top.
    c.goto(&format!("{base}/orgs/{org}/service-accounts/{sa}"))
        .await
        .expect("goto");
    click(&c, "#what-link").await;
    el(&c, "#what-can-it-do table.permissions").await;
    let update_staging = cell("environment", "staging", "update");
    assert_eq!(allowed(&c, &update_staging).await, "yes");
    let why = text(&c, &update_staging).await;
    assert!(
        why.contains("deployers (editor on environments: staging)"),
        "{why}"
    );
    assert_eq!(
        allowed(&c, &cell("environment", "production", "update")).await,
        "no"
    );
    assert_eq!(
        allowed(&c, &cell("environment", "staging", "view")).await,
        "yes"
    );
    assert_eq!(
        allowed(&c, &cell("environment", "staging", "delete")).await,
        "no"
    );
    // An environment is not created "in" itself: the pair is meaningless.
    let create_staging = cell("environment", "staging", "create");
    assert_eq!(allowed(&c, &create_staging).await, "na");
    assert_eq!(text(&c, &create_staging).await, "—");
    assert_eq!(
        allowed(&c, &cell("application", "web", "update")).await,
        "no"
    );
    assert_eq!(
        allowed(&c, &cell("organization", "name and settings", "view")).await,
        "yes"
    );
    assert!(text(&c, &cell("organization", "name and settings", "view"))
        .await
        .contains("every member"));
    assert_eq!(
        allowed(&c, &cell("organization", "audit events", "view")).await,
        "no"
    );
    table_matches_access_check(&c, &s, &admin, &org, &sa_member).await;
    screenshot(&c, "service-account-what-can-it-do.png").await;
    assert_accessible(&c, "service account page with its permissions").await;

    // A user's member page, from the organization's member list.
    c.goto(&format!("{base}/orgs/{org}/members"))
        .await
        .expect("goto");
    click(
        &c,
        &format!("#members a[href$=\"/members/{viewer_member}\"]"),
    )
    .await;
    el(&c, "#member-name").await;
    assert!(text(&c, "#member-email").await.contains("vera@example.com"));
    assert!(text(&c, "#member-groups")
        .await
        .contains("vera@example.com"));
    assert_eq!(
        allowed(&c, &cell("environment", "production", "view")).await,
        "yes"
    );
    assert_eq!(
        allowed(&c, &cell("environment", "production", "update")).await,
        "no"
    );
    table_matches_access_check(&c, &s, &admin, &org, &viewer_member).await;
    assert_accessible(&c, "member page").await;

    // The viewer: refused pages name what would be needed.
    click(&c, "#logout").await;
    el(&c, "#email").await;
    log_in(&c, &base, "vera@example.com").await;
    c.goto(&format!("{base}/orgs/{org}/environments/{staging}/delete"))
        .await
        .expect("goto");
    el(&c, ".error-page").await;
    let said = text(&c, ".error-page .message").await;
    assert!(
        said.starts_with(
            "You need the admin role on environment staging (or on the whole organization) \
             to do this."
        ),
        "{said}"
    );
    screenshot(&c, "forbidden-names-the-role.png").await;
    assert_accessible(&c, "forbidden page").await;

    // Another member's table is for admins; its own is not.
    c.goto(&format!("{base}/orgs/{org}/members/{sa_member}"))
        .await
        .expect("goto");
    let said = text(&c, ".error-page .message").await;
    assert!(
        said.starts_with("You need the admin role on the whole organization to do this."),
        "{said}"
    );
    c.goto(&format!("{base}/orgs/{org}/members/{viewer_member}"))
        .await
        .expect("goto");
    el(&c, "#what-can-it-do").await;
    assert_eq!(
        path(&c).await,
        format!("/orgs/{org}/members/{viewer_member}")
    );
    assert_eq!(
        allowed(&c, &cell("organization", "members", "create")).await,
        "no"
    );
    // Its service-account page shows no table (an admin's question).
    c.goto(&format!("{base}/orgs/{org}/service-accounts/{sa}"))
        .await
        .expect("goto");
    el(&c, "#sa-groups").await;
    assert!(!exists(&c, "#what-can-it-do").await, "{}", source(&c).await);

    // The API's answer to the same refusal is unchanged.
    let (status, body) = s
        .delete(&o(&org, &format!("/environments/{staging}")), &viewer)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!({"error": {"code": "forbidden", "message": "You do not have permission to do this."}})
    );

    c.close().await.expect("close");
}

/// The accessibility check the browser tests rely on does find problems:
/// a page with an image without text and a button without a name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_accessibility_check_finds_violations() {
    let driver = start_chromedriver().await;
    let profile = tempfile::tempdir().expect("profile dir");
    let c = open_browser(&driver, profile.path()).await;
    c.goto("data:text/html,<!doctype html><html lang=en><title>t</title><main><img src=x.png><button></button></main></html>")
        .await
        .expect("goto");
    let found = serious_violations(&c, "broken page").await.join("\n");
    assert!(found.contains("image-alt (critical)"), "{found}");
    assert!(found.contains("button-name (critical)"), "{found}");
    c.close().await.expect("close");
}
