//! Webhooks in the portal, in headless Chromium: the organization page
//! lists the service tokens expiring within 7 days (and the token table
//! marks them); an admin adds a webhook and sees its secret once, pings it,
//! reads the delivery log with the receiver's status code, redelivers,
//! rotates the secret and deletes the webhook after confirming.
use std::time::Duration as StdDuration;

use chrono::Duration;
use fantoccini::Locator;
use serde_json::json;
use tron_core::clock::Clock;
use tron_webhooks::testing::TestReceiver;
use tron_webhooks::WebhookSecret;

use crate::kit::{Db, TestServer, ADMIN_EMAIL};
use crate::portal::{
    assert_accessible, click, el, exists, fill, log_in, open_browser, path, screenshot, source,
    start_chromedriver,
};

/// Waits (at most 10 s, reloading) until the page lists `n` deliveries
/// with this status.
async fn deliveries(c: &fantoccini::Client, page: &str, status: &str, n: usize) {
    for _ in 0..100 {
        c.goto(page).await.expect("goto");
        let found = c
            .find_all(Locator::Css(&format!("tr.delivery[data-status={status}]")))
            .await
            .expect("rows")
            .len();
        if found == n {
            return;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    panic!("never {n} {status} deliveries: {}", source(c).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_in_the_browser() {
    let s = TestServer::start_configured(Db::Sqlite, |c| {
        c.webhook_allow_private = true;
        c.webhook_poll_interval = StdDuration::from_millis(20);
    })
    .await;
    let base = s.base.clone();
    let (status, org) = s
        .post("/organizations", &s.root, json!({"name": "acme"}))
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED);
    let org = org["id"].as_str().expect("id").to_owned();
    let (sa, _) = s.service_account(&s.root, &org, "deployer").await;
    let soon = (s.clock.now() + Duration::days(3)).to_rfc3339();
    s.service_token(
        &s.root,
        &org,
        &sa,
        json!({"name": "nightly", "expires_at": soon}),
    )
    .await;
    s.service_token(&s.root, &org, &sa, json!({"name": "later"}))
        .await;

    let driver = start_chromedriver().await;
    let profile = tempfile::tempdir().expect("profile dir");
    let c = open_browser(&driver, profile.path()).await;
    log_in(&c, &base, ADMIN_EMAIL).await;

    // Expiring soon: on the organization page and in the token table.
    c.goto(&format!("{base}/orgs/{org}")).await.expect("goto");
    let rows = c
        .find_all(Locator::Css("tr.expiring-token"))
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1);
    assert!(rows[0].text().await.expect("text").contains("nightly"));
    c.goto(&format!("{base}/orgs/{org}/service-accounts/{sa}"))
        .await
        .expect("goto");
    let marked = c
        .find_all(Locator::Css("tr.token .expires-soon"))
        .await
        .expect("badges");
    assert_eq!(
        marked.len(),
        1,
        "only the token expiring in 3 days is marked"
    );

    // A webhook, its secret shown once.
    c.goto(&format!("{base}/orgs/{org}")).await.expect("goto");
    click(&c, "#section-webhooks").await;
    el(&c, "#no-webhooks").await;
    assert_accessible(&c, "webhooks page").await;
    let rx = TestReceiver::start(WebhookSecret::generate())
        .await
        .expect("receiver");
    fill(&c, "#webhook-url", &rx.url()).await;
    click(&c, "#all-events").await;
    click(&c, "#create-webhook").await;
    let secret = el(&c, "#new-secret")
        .await
        .prop("value")
        .await
        .expect("value")
        .expect("a secret");
    assert!(secret.starts_with("whsec_"), "{secret}");
    rx.set_secret(WebhookSecret::parse(&secret).expect("secret"));
    let page = format!("{base}{}", path(&c).await);
    c.goto(&page).await.expect("goto");
    assert!(!exists(&c, "#new-secret").await, "the secret is shown once");
    assert!(!source(&c).await.contains(&secret));

    // Ping: delivered, signed, with the receiver's 200 in the log.
    click(&c, "#ping-webhook").await;
    let got = rx
        .wait_for(1, StdDuration::from_secs(10))
        .await
        .expect("the ping");
    assert!(got[0].verified.is_ok());
    deliveries(&c, &page, "delivered", 1).await;
    assert_eq!(
        el(&c, "tr.delivery .status-code")
            .await
            .text()
            .await
            .expect("text"),
        "200"
    );
    click(&c, "tr.delivery button.redeliver").await;
    let got = rx
        .wait_for(2, StdDuration::from_secs(10))
        .await
        .expect("the redelivery");
    assert_eq!(got[0].webhook_id(), got[1].webhook_id());
    deliveries(&c, &page, "delivered", 2).await;
    screenshot(&c, "webhook.png").await;
    assert_accessible(&c, "webhook page").await;

    // A new secret, shown once; then delete after confirming.
    click(&c, "#rotate-secret").await;
    let rotated = el(&c, "#new-secret")
        .await
        .prop("value")
        .await
        .expect("value")
        .expect("a secret");
    assert_ne!(rotated, secret);
    c.goto(&page).await.expect("goto");
    click(&c, "#delete-webhook").await;
    click(&c, ".confirm button[type=submit]").await;
    el(&c, "#no-webhooks").await;

    c.close().await.expect("close the browser");
    drop(driver);
    s.stop().await;
}
