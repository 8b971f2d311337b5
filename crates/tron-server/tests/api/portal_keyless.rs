//! Keyless CI in the portal, in headless Chromium: an admin makes trust
//! policies from the GitHub Actions preset and for another trusted issuer,
//! copies the pipeline snippet, sees a rejected exchange with the claim
//! that failed and the policy's last use, and deletes a policy after
//! confirming.
use chrono::Duration;
use fantoccini::Locator;
use reqwest::StatusCode;
use serde_json::json;
use tron_core::clock::Clock;

use crate::keyless::exchange;
use crate::kit::{Db, TestServer, ADMIN_EMAIL};
use crate::portal::{
    assert_accessible, click, el, exists, fill, log_in, open_browser, path, screenshot, select,
    source, start_chromedriver,
};

/// Waits (at most 10 s) until the page lists `n` policies.
async fn policy_count(c: &fantoccini::Client, n: usize) {
    for _ in 0..200 {
        let found = c
            .find_all(Locator::Css("article.policy"))
            .await
            .expect("policies")
            .len();
        if found == n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the page never listed {n} policies: {}", source(c).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyless_ci_in_the_browser() {
    let (s, idp) = TestServer::start_with_issuer(Db::Sqlite, |_| {}).await;
    let base = s.base.clone();
    let (status, org) = s
        .post("/organizations", &s.root, json!({"name": "acme"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    let org = org["id"].as_str().expect("id").to_owned();
    let (sa, _) = s.service_account(&s.root, &org, "deployer").await;
    let driver = start_chromedriver().await;
    let profile = tempfile::tempdir().expect("profile dir");
    let c = open_browser(&driver, profile.path()).await;
    log_in(&c, &base, ADMIN_EMAIL).await;
    let page = format!("{base}/orgs/{org}/service-accounts/{sa}");
    c.goto(&page).await.expect("goto");
    assert!(exists(&c, "#no-policies").await);
    assert_eq!(el(&c, "#sa-id").await.text().await.expect("text"), sa);

    // The GitHub preset refuses a policy that pins no id, in place.
    click(&c, "#preset-github summary").await;
    fill(&c, "#preset-github input[name=name]", "main").await;
    fill(&c, "#preset-github input[name=repository]", "acme/app").await;
    click(&c, "#create-github-policy").await;
    let html = el(&c, "#policy-github .form-error")
        .await
        .text()
        .await
        .expect("text");
    assert!(
        html.contains("must pin repository_owner_id or repository_id exactly"),
        "{html}"
    );
    let (_, list) = s
        .get(
            &format!("/organizations/{org}/service-accounts/{sa}/trust-policies"),
            &s.root,
        )
        .await;
    assert_eq!(list["items"].as_array().expect("items").len(), 0);

    // With the owner id it is made; the snippet names the account.
    c.goto(&page).await.expect("goto");
    click(&c, "#preset-github summary").await;
    fill(&c, "#preset-github input[name=name]", "deploy from main").await;
    fill(&c, "#preset-github input[name=repository_owner_id]", "42").await;
    fill(&c, "#preset-github input[name=ref]", "refs/heads/main").await;
    click(&c, "#create-github-policy").await;
    el(&c, "article.policy").await;
    assert_eq!(path(&c).await, format!("/orgs/{org}/service-accounts/{sa}"));
    let html = source(&c).await;
    assert!(html.contains("Trust policy created"), "{html}");
    assert!(html.contains("repository_owner_id = 42"), "{html}");
    assert!(html.contains("id-token: write"), "{html}");
    assert!(html.contains(&format!("service_account={sa}")), "{html}");

    // A policy for the other trusted issuer, from raw conditions.
    click(&c, "#preset-custom summary").await;
    fill(&c, "#preset-custom input[name=name]", "local ci").await;
    select(&c, "#policy-issuer", &idp.issuer()).await;
    fill(
        &c,
        "#policy-conditions",
        "repository_owner_id = 42\nref = refs/heads/*",
    )
    .await;
    click(&c, "#create-custom-policy").await;
    policy_count(&c, 2).await;

    // A job from a pull request is refused; the page says which claim.
    let mut claims = idp.github_claims("tron", s.clock.now());
    claims["ref"] = json!("refs/pull/7/merge");
    let (status, _) = exchange(&s, &idp.sign(&claims), &sa).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // One from a branch gets its token; the policy shows its last use.
    s.advance(Duration::seconds(1));
    let claims = idp.github_claims("tron", s.clock.now());
    let (status, body) = exchange(&s, &idp.sign(&claims), &sa).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    c.goto(&page).await.expect("goto");
    let rejection = el(&c, "li.rejection").await.text().await.expect("text");
    assert!(
        rejection.contains("no policy accepted the token")
            && rejection.contains("local ci: ref wanted refs/heads/*, seen refs/pull/7/merge"),
        "{rejection}"
    );
    let html = source(&c).await;
    assert!(!html.contains(body["access_token"].as_str().expect("token")));
    let last_used: Vec<String> = {
        let mut out = Vec::new();
        for e in c.find_all(Locator::Css(".last-used")).await.expect("cells") {
            out.push(e.text().await.expect("text"));
        }
        out
    };
    assert!(last_used.iter().any(|t| t != "never"), "{last_used:?}");
    // The exchanged token is listed, marked, and offers no rotation.
    let row = el(&c, "tr.token").await.text().await.expect("text");
    assert!(row.contains("keyless CI"), "{row}");
    assert!(!exists(&c, "tr.token a.rotate").await);
    c.execute(
        "document.getElementById('trust-policies').scrollIntoView()",
        vec![],
    )
    .await
    .expect("scroll");
    screenshot(&c, "service-account-keyless.png").await;
    assert_accessible(&c, "service account page with trust policies").await;

    // Deleting asks first.
    click(&c, "article.policy a.delete-policy").await;
    let html = el(&c, ".confirm h1").await.text().await.expect("text");
    assert!(html.contains("Delete the trust policy"), "{html}");
    click(&c, ".confirm button[type=submit]").await;
    policy_count(&c, 1).await;
    assert!(source(&c).await.contains("Trust policy deleted"));

    c.close().await.expect("close the browser");
    drop(driver);
    s.stop().await;
}
