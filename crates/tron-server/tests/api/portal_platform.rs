//! Issue 19 in the browser: the CI set-up journey counted in clicks, the
//! organization overview and its section pages (search, paging, errors
//! shown in place), environments, applications and an instance with its
//! deployment history (who, with which token, when).
use fantoccini::{Client, Locator};
use reqwest::StatusCode;
use serde_json::json;

use crate::kit::{env_scope, Db, TestServer, ADMIN_EMAIL, PASSWORD};
use crate::portal::{
    assert_accessible, el, exists, fill, no_sideways_scroll, open_browser, path, screenshot,
    select, source, start_chromedriver, value,
};

/// Clicks, counted: the journey's length is part of what is measured.
struct Clicks<'a> {
    c: &'a Client,
    n: u32,
}

impl Clicks<'_> {
    async fn on(&mut self, css: &str) {
        el(self.c, css).await.click().await.expect("click");
        self.n += 1;
    }
}

/// Both widths of one page: `NAME-1280.png` and `NAME-390.png`, with no
/// sideways scrolling on the phone and no serious accessibility violation.
async fn both_widths(c: &Client, name: &str) {
    c.set_window_size(1280, 1000).await.expect("resize");
    assert_accessible(c, name).await;
    screenshot(c, &format!("{name}-1280.png")).await;
    c.set_window_size(390, 1200).await.expect("resize");
    no_sideways_scroll(c, &format!("{name} at 390 px")).await;
    screenshot(c, &format!("{name}-390.png")).await;
    c.set_window_size(1280, 1000).await.expect("resize");
}

/// The texts of `css` once they satisfy `ready`: after a click the old
/// page may still be shown (or go stale under the reading) for a moment.
async fn texts_when(c: &Client, css: &str, ready: impl Fn(&[String]) -> bool) -> Vec<String> {
    let mut last = Vec::new();
    for _ in 0..100 {
        let mut out = Vec::new();
        let mut stale = false;
        for e in c.find_all(Locator::Css(css)).await.expect("find_all") {
            match e.text().await {
                Ok(t) => out.push(t),
                Err(_) => stale = true,
            }
        }
        if !stale && ready(&out) {
            return out;
        }
        last = out;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{css} never became ready: {last:?}");
}

async fn texts(c: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in c.find_all(Locator::Css(css)).await.expect("find_all") {
        out.push(e.text().await.expect("text"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_team_sets_up_ci_and_follows_its_deployments() {
    let s = TestServer::start(Db::Sqlite).await;
    let base = s.base.clone();
    let org = s.org(&s.root, "Acme").await;
    let staging = s.env(&s.root, &org, "staging").await;
    let production = s.env(&s.root, &org, "production").await;
    let web = s.app(&s.root, &org, "web").await;
    s.app(&s.root, &org, "billing").await;
    s.group(&s.root, &org, "Deployers", "editor", env_scope(&[&staging]))
        .await;
    // web already runs in production, deployed by a person.
    let (status, _) = s
        .put(
            &format!("/organizations/{org}/applications/{web}/instances/{production}"),
            &s.root,
            Some(json!({"image": "registry.example.com/web:1.4.0"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let driver = start_chromedriver().await;
    let profile = tempfile::tempdir().expect("profile dir");
    let c = open_browser(&driver, profile.path()).await;
    c.set_window_size(1280, 1000).await.expect("resize");

    // The journey: from the login page to a copied CI snippet.
    let mut clicks = Clicks { c: &c, n: 0 };
    c.goto(&format!("{base}/login")).await.expect("goto");
    fill(&c, "#email", ADMIN_EMAIL).await;
    fill(&c, "#password", PASSWORD).await;
    clicks.on("#login").await;
    clicks.on("a.org-link").await;
    el(&c, "#section-service-accounts").await;
    both_widths(&c, "organization-overview").await;
    clicks.on("#section-service-accounts").await;
    fill(&c, "#sa-name", "ci-deployer").await;
    clicks.on("#create-sa").await;
    el(&c, "#assign-group").await;
    let groups = el(&c, "#assign-group").await.text().await.expect("text");
    assert!(groups.contains("Deployers — editor on staging"), "{groups}");
    let deployers = c
        .find(Locator::XPath(
            "//select[@id='assign-group']/option[contains(., 'Deployers')]",
        ))
        .await
        .expect("the Deployers option")
        .attr("value")
        .await
        .expect("value")
        .expect("an id");
    select(&c, "#assign-group", &deployers).await;
    clicks.on("#assign").await;
    el(&c, "li.sa-group").await;
    fill(&c, "#token-name", "github").await;
    clicks.on("#generate-token").await;
    let token = el(&c, "#new-token")
        .await
        .prop("value")
        .await
        .expect("value")
        .expect("the token");
    clicks.on("#copy-token").await;
    clicks.on("#wire-github-open").await;
    clicks.on("#copy-github").await;
    let copied = el(&c, "#copy-github").await.text().await.expect("text");
    assert_eq!(copied, "Copied", "the snippet's copy button did not copy");
    let snippet = el(&c, "#wire-github").await.text().await.expect("text");
    assert!(
        snippet.contains("secrets.TRON_TOKEN") && !snippet.contains(&token),
        "{snippet}"
    );
    println!(
        "CI set-up journey: {} clicks from the login page to a copied snippet",
        clicks.n
    );
    assert!(clicks.n <= 9, "the journey takes {} clicks", clicks.n);
    c.set_window_size(1280, 1300).await.expect("resize");
    screenshot(&c, "service-account-fresh-token-1280.png").await;
    c.set_window_size(390, 1400).await.expect("resize");
    no_sideways_scroll(&c, "the service account with a fresh token").await;
    screenshot(&c, "service-account-fresh-token-390.png").await;
    c.set_window_size(1280, 1000).await.expect("resize");

    // The pipeline deploys with that token: to staging it may, to
    // production it may not.
    let (status, me) = s.get("/me", &token).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let token_id = me["token"]["id"].as_str().expect("token id").to_string();
    let (status, _) = s
        .put(
            &format!("/organizations/{org}/applications/{web}/instances/{staging}"),
            &token,
            Some(json!({"image": "registry.example.com/web:1.4.1"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = s
        .post(
            &format!("/organizations/{org}/applications/{web}/instances/{staging}/deployments"),
            &token,
            json!({"image": "registry.example.com/web:1.4.2", "version": "1.4.2"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // The overview's matrix: which image runs where.
    c.goto(&format!("{base}/orgs/{org}")).await.expect("goto");
    let matrix = el(&c, "table.matrix").await.text().await.expect("text");
    assert!(
        matrix.contains("web:1.4.2") && matrix.contains("web:1.4.0"),
        "{matrix}"
    );
    let row = texts(&c, "table.matrix tbody tr").await;
    let billing = row
        .iter()
        .find(|r| r.contains("billing"))
        .expect("billing row");
    assert!(!billing.contains("web:"), "billing runs nothing: {billing}");

    // The instance: its history says who deployed, with which token, when.
    c.find(Locator::Css(
        "a.instance-link[title='registry.example.com/web:1.4.2']",
    ))
    .await
    .expect("the staging cell")
    .click()
    .await
    .expect("click");
    el(&c, "#deployments").await;
    assert_eq!(
        path(&c).await,
        format!("/orgs/{org}/applications/{web}/instances/{staging}")
    );
    assert_eq!(
        el(&c, "#instance-image").await.text().await.expect("text"),
        "registry.example.com/web:1.4.2"
    );
    let rows = texts(&c, "tr.deployment").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0].contains("ci-deployer")
            && rows[0].contains("service account")
            && rows[0].contains(&format!("with token {}…", &token_id[..8]))
            && rows[0].contains("1.4.2"),
        "{rows:?}"
    );
    // Relative time, the exact one on hover.
    let when = el(&c, "tr.deployment time").await;
    assert_eq!(when.text().await.expect("text"), "just now");
    let exact = when.attr("title").await.expect("title").expect("a title");
    assert!(exact.ends_with(" UTC"), "{exact}");

    // A person deploys from the page; a bad image is shown in place.
    fill(&c, "#deploy-image", "not an image").await;
    fill(&c, "#deploy-version", "1.4.3").await;
    el(&c, "#deploy-submit").await.click().await.expect("click");
    let error = el(&c, "#deploy-image-error")
        .await
        .text()
        .await
        .expect("text");
    assert!(error.starts_with("Image "), "{error}");
    let field = el(&c, "#deploy-image").await;
    assert_eq!(
        field.attr("aria-invalid").await.expect("attr").as_deref(),
        Some("true")
    );
    assert_eq!(
        field.prop("value").await.expect("value").as_deref(),
        Some("not an image")
    );
    assert_eq!(
        el(&c, "#deploy-version")
            .await
            .prop("value")
            .await
            .expect("value")
            .as_deref(),
        Some("1.4.3"),
        "what was typed is kept"
    );
    fill(&c, "#deploy-image", "registry.example.com/web:1.4.3").await;
    el(&c, "#deploy-submit").await.click().await.expect("click");
    el(&c, ".notice").await;
    let rows = texts(&c, "tr.deployment").await;
    assert_eq!(rows.len(), 2);
    assert!(
        rows[0].contains("web:1.4.3") && rows[0].contains("user"),
        "{rows:?}"
    );
    both_widths(&c, "instance-deployments").await;

    // The application's page: where it runs, and a first deployment to
    // an environment where it does not run yet is not offered (it runs
    // everywhere).
    c.goto(&format!("{base}/orgs/{org}/applications/{web}"))
        .await
        .expect("goto");
    let instances = texts(&c, "tr.instance").await;
    assert_eq!(instances.len(), 2, "{instances:?}");
    assert!(!exists(&c, "#first-deploy").await);
    assert_accessible(&c, "application page").await;
    // billing runs nowhere: the first deployment creates its instance.
    c.goto(&format!("{base}/orgs/{org}/applications"))
        .await
        .expect("goto");
    c.find(Locator::LinkText("billing"))
        .await
        .expect("billing")
        .click()
        .await
        .expect("click");
    fill(&c, "#deploy-image", "registry.example.com/billing:2.0.0").await;
    el(&c, "#first-deploy").await.click().await.expect("click");
    el(&c, "#deployments").await;
    assert!(source(&c)
        .await
        .contains("registry.example.com/billing:2.0.0"));

    // The environment's page lists what runs there.
    c.goto(&format!("{base}/orgs/{org}/environments/{staging}"))
        .await
        .expect("goto");
    let here = texts(&c, "tr.instance").await;
    assert!(
        here.iter()
            .any(|r| r.contains("web") && r.contains("1.4.3")),
        "{here:?}"
    );
    assert_accessible(&c, "environment page").await;

    c.close().await.expect("close the browser");
    drop(driver);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn section_pages_search_page_and_show_errors_in_place() {
    let s = TestServer::start(Db::Sqlite).await;
    let base = s.base.clone();
    let org = s.org(&s.root, "Acme").await;
    for i in 0..55 {
        s.env(&s.root, &org, &format!("env-{i:02}")).await;
    }
    s.env(&s.root, &org, "staging").await;

    let driver = start_chromedriver().await;
    let profile = tempfile::tempdir().expect("profile dir");
    let c = open_browser(&driver, profile.path()).await;
    crate::portal::log_in(&c, &base, ADMIN_EMAIL).await;

    // Paging: 50, then the other 6.
    c.goto(&format!("{base}/orgs/{org}/environments"))
        .await
        .expect("goto");
    assert_eq!(texts(&c, "a.environments-link").await.len(), 50);
    el(&c, "a.next-page").await.click().await.expect("click");
    let second = texts_when(&c, "a.environments-link", |t| t.len() != 50).await;
    assert_eq!(second.len(), 6, "{second:?}");
    assert!(second.contains(&"staging".to_string()));
    assert!(!exists(&c, "a.next-page").await);

    // Search: only what matches, on any page.
    fill(&c, "input[name=q]", "STAG").await;
    el(&c, "form.search button")
        .await
        .click()
        .await
        .expect("click");
    assert_eq!(
        texts_when(&c, "a.environments-link", |t| t.len() == 1).await,
        vec!["staging".to_string()]
    );
    fill(&c, "input[name=q]", "nothing-like-this").await;
    el(&c, "form.search button")
        .await
        .click()
        .await
        .expect("click");
    texts_when(&c, "#environments p.muted", |t| {
        t.iter()
            .any(|m| m.contains("No environments you can see match"))
    })
    .await;

    // A refused form comes back with what was typed and the message beside
    // the field, with the API's status.
    c.goto(&format!("{base}/orgs/{org}/environments"))
        .await
        .expect("goto");
    fill(&c, "#env-name", "staging").await;
    el(&c, "#create-env").await.click().await.expect("click");
    let error = el(&c, "#env-name-error").await.text().await.expect("text");
    assert!(error.contains("already"), "{error}");
    let field = el(&c, "#env-name").await;
    assert_eq!(
        field.prop("value").await.expect("value").as_deref(),
        Some("staging")
    );
    assert_eq!(
        field.attr("aria-invalid").await.expect("attr").as_deref(),
        Some("true")
    );
    assert_eq!(path(&c).await, format!("/orgs/{org}/environments"));
    assert_accessible(&c, "environments page with an error").await;
    // The browser accepts the name pattern (Chromium compiles it with the
    // `v` flag): a name it forbids blocks the form, a good one passes.
    let valid = c
        .execute(
            "var f = document.getElementById('env-name'); f.value = 'Bad Name'; \
             var bad = f.checkValidity(); f.value = 'good-name-1'; \
             return [bad, f.checkValidity()];",
            vec![],
        )
        .await
        .expect("validity");
    assert_eq!(valid, json!([false, true]), "the pattern is not usable");

    // Settings: a refused value keeps the others as typed.
    c.goto(&format!("{base}/orgs/{org}/settings"))
        .await
        .expect("goto");
    c.execute(
        "document.getElementById('max-days').removeAttribute('max');",
        vec![],
    )
    .await
    .expect("script");
    fill(&c, "#max-days", "5000").await;
    fill(&c, "#rate-limit", "77").await;
    el(&c, "#save-settings").await.click().await.expect("click");
    let error = el(&c, "#max-days-error").await.text().await.expect("text");
    assert!(error.contains("3650"), "{error}");
    assert_eq!(
        el(&c, "#rate-limit")
            .await
            .prop("value")
            .await
            .expect("value")
            .as_deref(),
        Some("77")
    );
    assert_accessible(&c, "settings page with an error").await;

    // A refused "Generate a token" stays on the account's page: the name
    // kept, "on a date" still chosen, the message beside the expiry.
    let (sa, _) = s.service_account(&s.root, &org, "nightly").await;
    c.goto(&format!("{base}/orgs/{org}/service-accounts/{sa}"))
        .await
        .expect("goto");
    fill(&c, "#token-name", "nightly-ci").await;
    select(&c, "#token-expiry", "custom").await;
    el(&c, "#generate-token")
        .await
        .click()
        .await
        .expect("click");
    let error = el(&c, "#token-expiry-error")
        .await
        .text()
        .await
        .expect("text");
    assert!(error.contains("expiry date"), "{error}");
    let expiry = el(&c, "#token-expiry").await;
    assert_eq!(
        expiry.prop("value").await.expect("value").as_deref(),
        Some("custom")
    );
    assert_eq!(
        expiry.attr("aria-invalid").await.expect("attr").as_deref(),
        Some("true")
    );
    assert_eq!(
        el(&c, "#token-name")
            .await
            .prop("value")
            .await
            .expect("value")
            .as_deref(),
        Some("nightly-ci")
    );
    assert!(!exists(&c, "#new-token-panel").await, "no token was shown");
    let (_, tokens) = s
        .get(
            &format!("/organizations/{org}/service-accounts/{sa}/tokens"),
            &s.root,
        )
        .await;
    assert_eq!(tokens["items"], json!([]), "no token was made: {tokens}");
    assert_accessible(&c, "service account page with a refused token").await;
    let (_, o) = s.get(&format!("/organizations/{org}"), &s.root).await;
    assert_eq!(
        o["settings"]["max_token_lifetime_days"],
        json!(null),
        "saved anyway"
    );

    // The last admin is not offered "Remove"; a second admin makes both
    // removable.
    c.goto(&format!("{base}/orgs/{org}/members"))
        .await
        .expect("goto");
    el(&c, "tr.member-user").await;
    assert_accessible(&c, "members page").await;
    assert!(
        !exists(&c, "tr.member-user a.button").await,
        "the last admin can be removed"
    );
    let (_, _, bob) = s.member(&s.root, &org, "bob@example.com").await;
    let admins = s.admins_group(&s.root, &org).await;
    s.join(&s.root, &org, &admins, &bob).await;
    c.refresh().await.expect("refresh");
    el(&c, "tr.member-user").await;
    assert_eq!(
        c.find_all(Locator::Css("tr.member-user a.button"))
            .await
            .expect("links")
            .len(),
        2
    );
    fill(&c, "input[name=q]", "bob@").await;
    el(&c, "form.search button")
        .await
        .click()
        .await
        .expect("click");
    el(&c, "tr.member-user").await;
    let found = texts(&c, "tr.member").await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("bob@example.com"));

    c.close().await.expect("close the browser");
    drop(driver);
    s.stop().await;
}

async fn invalid(c: &Client, css: &str) -> bool {
    el(c, css)
        .await
        .attr("aria-invalid")
        .await
        .expect("attr")
        .as_deref()
        == Some("true")
}

/// Every form that can be refused comes back in place: the edit forms, the
/// webhook, trust policy, user, organization and personal token forms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_forms_keep_what_was_typed() {
    let s = TestServer::start(Db::Sqlite).await;
    let base = s.base.clone();
    let org = s.org(&s.root, "Acme").await;
    s.env(&s.root, &org, "staging").await;
    let (sa, _) = s.service_account(&s.root, &org, "deployer").await;
    s.service_account(&s.root, &org, "taken").await;
    let group = s
        .group(
            &s.root,
            &org,
            "readers",
            "viewer",
            json!({"type": "organization"}),
        )
        .await;

    let driver = start_chromedriver().await;
    let profile = tempfile::tempdir().expect("profile dir");
    let c = open_browser(&driver, profile.path()).await;
    crate::portal::log_in(&c, &base, ADMIN_EMAIL).await;

    // A service account renamed to a taken name.
    let sa_url = format!("{base}/orgs/{org}/service-accounts/{sa}");
    c.goto(&sa_url).await.expect("goto");
    fill(&c, "#edit-sa-name", "taken").await;
    fill(&c, "#edit-sa-description", "ships the web app").await;
    el(&c, "#save-sa").await.click().await.expect("click");
    let error = el(&c, "#edit-sa-name-error").await.text().await.expect("t");
    assert!(
        error.contains("taken") || error.contains("already"),
        "{error}"
    );
    assert!(invalid(&c, "#edit-sa-name").await);
    assert_eq!(value(&c, "#edit-sa-description").await, "ships the web app");

    // A GitHub policy that pins nothing: the message above the form, which
    // stays open with what was typed.
    c.goto(&sa_url).await.expect("goto");
    el(&c, "#preset-github summary")
        .await
        .click()
        .await
        .expect("open");
    fill(&c, "#policy-github-name", "from main").await;
    fill(&c, "#policy-github-repository", "acme/web").await;
    el(&c, "#create-github-policy")
        .await
        .click()
        .await
        .expect("click");
    let error = el(&c, "#policy-github .form-error")
        .await
        .text()
        .await
        .expect("t");
    assert!(error.contains("repository_owner_id"), "{error}");
    assert!(
        el(&c, "#preset-github")
            .await
            .attr("open")
            .await
            .expect("attr")
            .is_some(),
        "the refused preset stays open"
    );
    assert_eq!(value(&c, "#policy-github-name").await, "from main");
    assert_eq!(value(&c, "#policy-github-repository").await, "acme/web");
    assert_accessible(&c, "service account page with a refused policy").await;

    // A group given "some environments" without one.
    c.goto(&format!("{base}/orgs/{org}/groups/{group}"))
        .await
        .expect("goto");
    fill(&c, "#edit-group-name", "staging readers").await;
    el(&c, "#edit-group-form input[name=scope][value=environment]")
        .await
        .click()
        .await
        .expect("click");
    el(&c, "#edit-group-form button[type=submit]")
        .await
        .click()
        .await
        .expect("click");
    el(&c, "#edit-group-form .form-error").await;
    assert_eq!(value(&c, "#edit-group-name").await, "staging readers");
    let checked = c
        .execute(
            "return document.querySelector('#edit-group-form input[name=scope][value=environment]').checked;",
            vec![],
        )
        .await
        .expect("checked");
    assert_eq!(checked, json!(true), "the chosen scope kind is kept");
    let (_, g) = s
        .get(&format!("/organizations/{org}/groups/{group}"), &s.root)
        .await;
    assert_eq!(g["name"], "readers", "nothing was saved");

    // A webhook to a private address; the ticked events are kept.
    c.goto(&format!("{base}/orgs/{org}/webhooks"))
        .await
        .expect("goto");
    fill(&c, "#webhook-url", "https://10.1.2.3/hook").await;
    fill(&c, "#webhook-description", "pager").await;
    el(
        &c,
        "#create-webhook-form input[value='service_token.expiring']",
    )
    .await
    .click()
    .await
    .expect("tick");
    el(&c, "#create-webhook")
        .await
        .click()
        .await
        .expect("click");
    let error = el(&c, "#webhook-url-error").await.text().await.expect("t");
    assert!(!error.is_empty());
    assert_eq!(value(&c, "#webhook-url").await, "https://10.1.2.3/hook");
    assert_eq!(value(&c, "#webhook-description").await, "pager");
    let ticked = c
        .execute(
            "return document.querySelector(\"#create-webhook-form input[value='service_token.expiring']\").checked;",
            vec![],
        )
        .await
        .expect("checked");
    assert_eq!(ticked, json!(true));
    assert_accessible(&c, "webhooks page with an error").await;

    // A user with a short password: the email and name kept, the password
    // never sent back.
    c.goto(&format!("{base}/users")).await.expect("goto");
    fill(&c, "#new-user-email", "ann@example.com").await;
    fill(&c, "#new-user-name", "Ann").await;
    c.execute(
        "document.getElementById('new-user-password').removeAttribute('minlength');",
        vec![],
    )
    .await
    .expect("let the server judge");
    fill(&c, "#new-user-password", "short").await;
    el(&c, "#create-user").await.click().await.expect("click");
    let error = el(&c, "#new-user-password-error")
        .await
        .text()
        .await
        .expect("t");
    assert!(error.contains("12"), "{error}");
    assert_eq!(value(&c, "#new-user-email").await, "ann@example.com");
    assert_eq!(value(&c, "#new-user-name").await, "Ann");
    assert_eq!(value(&c, "#new-user-password").await, "");
    assert!(!source(&c).await.contains("value=\"short\""));

    // An organization named with spaces only.
    c.goto(&format!("{base}/")).await.expect("goto");
    fill(&c, "#org-name", "   ").await;
    el(&c, "#create-org").await.click().await.expect("click");
    el(&c, "#org-name-error").await;
    assert!(invalid(&c, "#org-name").await);

    // A personal token "on a date" without the date.
    c.goto(&format!("{base}/profile")).await.expect("goto");
    fill(&c, "#token-name", "laptop").await;
    select(&c, "#token-expiry", "custom").await;
    el(&c, "#create-token").await.click().await.expect("click");
    let error = el(&c, "#token-expiry-error").await.text().await.expect("t");
    assert!(error.contains("expiry date"), "{error}");
    assert_eq!(value(&c, "#token-name").await, "laptop");
    assert_eq!(value(&c, "#token-expiry").await, "custom");

    c.close().await.expect("close the browser");
    drop(driver);
    s.stop().await;
}
