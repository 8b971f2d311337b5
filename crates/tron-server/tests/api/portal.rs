//! Issue 7: the portal in a real browser. Headless Chromium, driven through
//! its own chromedriver process, against a server started by the kit (on
//! SQLite: the portal adds no storage of its own, the contract tests cover
//! both backends). Screenshots of the main pages go to
//! `target/screenshots/`.
//!
//! It never skips: without chromedriver or Chromium it fails and says what
//! to install.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::kit::{Db, TestServer, ADMIN_EMAIL, PASSWORD};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn tool(var: &str, default: &str, package: &str) -> String {
    let path = std::env::var(var).unwrap_or_else(|_| default.to_string());
    assert!(
        Path::new(&path).exists(),
        "{var}: {path} does not exist. The browser test needs Debian's `{package}` \
         (scripts/test installs it when run as root), or set {var} to its path."
    );
    path
}

/// A chromedriver process on a free port, killed on drop.
pub(crate) struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) async fn start_chromedriver() -> Driver {
    let bin = tool("CHROMEDRIVER", "/usr/bin/chromedriver", "chromium-driver");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(&bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if let Ok(resp) = http.get(format!("{}/status", driver.url)).send().await {
            if let Ok(v) = resp.json::<Value>().await {
                if v["value"]["ready"] == json!(true) {
                    return driver;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver ({bin}) did not become ready on port {port} within 10 seconds");
}

pub(crate) async fn open_browser(driver: &Driver, profile: &Path) -> Client {
    let chromium = tool("CHROMIUM", "/usr/bin/chromium", "chromium");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session through chromedriver")
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    dir
}

pub(crate) async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    let path = screenshot_dir().join(name);
    std::fs::write(&path, png).expect("write screenshot");
    println!("screenshot: {}", path.display());
}

pub(crate) async fn el(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| {
            panic!("no element {css}: {e}");
        })
}

pub(crate) async fn exists(c: &Client, css: &str) -> bool {
    !c.find_all(Locator::Css(css))
        .await
        .expect("find_all")
        .is_empty()
}

pub(crate) async fn click(c: &Client, css: &str) {
    el(c, css).await.click().await.expect("click");
}

pub(crate) async fn fill(c: &Client, css: &str, text: &str) {
    let e = el(c, css).await;
    e.clear().await.expect("clear");
    e.send_keys(text).await.expect("type");
}

pub(crate) async fn select(c: &Client, css: &str, value: &str) {
    el(c, css)
        .await
        .select_by_value(value)
        .await
        .expect("select");
}

/// The `value` of the field `css` (what is typed or chosen in it).
pub(crate) async fn value(c: &Client, css: &str) -> String {
    el(c, css)
        .await
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default()
}

/// The page shown is no wider than the window (checked at 390 px).
pub(crate) async fn no_sideways_scroll(c: &Client, what: &str) {
    let overflow = c
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            vec![],
        )
        .await
        .expect("measure");
    assert_eq!(overflow.as_i64(), Some(0), "{what} scrolls sideways");
}

pub(crate) async fn source(c: &Client) -> String {
    c.source().await.expect("page source")
}

pub(crate) async fn path(c: &Client) -> String {
    c.current_url().await.expect("url").path().to_string()
}

pub(crate) async fn log_in(c: &Client, base: &str, email: &str) {
    c.goto(&format!("{base}/login")).await.expect("goto");
    fill(c, "#email", email).await;
    fill(c, "#password", PASSWORD).await;
    click(c, "#login").await;
    el(c, "#logout").await;
}

/// axe-core, vendored with its licence (tests/vendor/README.md).
const AXE: &str = include_str!("../vendor/axe.min.js");

/// Runs axe-core on the page shown and fails listing every violation of
/// impact "serious" or "critical" (rule, help, elements). WebDriver's
/// scripts are not subject to the page's Content-Security-Policy, so the
/// page itself keeps refusing inline script.
pub(crate) async fn assert_accessible(c: &Client, page_name: &str) {
    let serious = serious_violations(c, page_name).await;
    assert!(
        serious.is_empty(),
        "accessibility violations on the {page_name}:\n{}",
        serious.join("\n")
    );
}

/// axe-core's serious and critical violations on the page shown, a line
/// each; the lesser ones are printed.
pub(crate) async fn serious_violations(c: &Client, page_name: &str) -> Vec<String> {
    c.execute(AXE, vec![]).await.expect("inject axe-core");
    let found = c
        .execute_async(
            r#"var done = arguments[arguments.length - 1];
            axe.run(document, { resultTypes: ["violations"] }).then(function (r) {
              done(r.violations.map(function (v) {
                return { id: v.id, impact: v.impact, help: v.help,
                         nodes: v.nodes.map(function (n) { return n.target.join(" "); }) };
              }));
            }, function (e) { done({ error: String(e) }); });"#,
            vec![],
        )
        .await
        .expect("run axe-core");
    let violations = found
        .as_array()
        .unwrap_or_else(|| panic!("axe-core failed on the {page_name}: {found}"));
    let mut serious = Vec::new();
    for v in violations {
        let line = format!(
            "{} ({}): {} at {}",
            v["id"].as_str().unwrap_or("?"),
            v["impact"].as_str().unwrap_or("?"),
            v["help"].as_str().unwrap_or("?"),
            v["nodes"]
        );
        if matches!(v["impact"].as_str(), Some("serious" | "critical")) {
            serious.push(line);
        } else {
            println!("axe on the {page_name}, not failing: {line}");
        }
    }
    serious
}

/// The value of the token panel's field, which must be there.
async fn shown_token(c: &Client) -> String {
    let t = el(c, "#new-token")
        .await
        .prop("value")
        .await
        .expect("value")
        .expect("a token in the field");
    assert!(t.starts_with("trn_sat_") && t.len() == 57, "{t}");
    t
}

async fn me(s: &TestServer, token: &str) -> (StatusCode, Value) {
    s.get("/me", token).await
}

/// The portal as a person uses it: an admin manages a service account and
/// its tokens; a viewer sees no management buttons and is refused when it
/// forces a POST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_in_a_browser() {
    let s = TestServer::start(Db::Sqlite).await;
    let base = s.base.clone();
    let driver = start_chromedriver().await;
    let profile = tempfile::tempdir().expect("profile dir");
    let c = open_browser(&driver, profile.path()).await;

    // Headers of every page: CSP, and a no-store cache policy.
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let login = raw
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(login.headers()["content-security-policy"], CSP);
    assert_eq!(login.headers()["cache-control"], "no-store");
    let set_cookie = login.headers()["set-cookie"].to_str().expect("cookie");
    assert!(
        set_cookie.contains("HttpOnly")
            && set_cookie.contains("SameSite=Strict")
            && !set_cookie.contains("Secure"),
        "{set_cookie}"
    );
    // `X-Forwarded-Proto` from a client that is not a trusted proxy is not
    // believed (SPEC §4; behind a trusted one cookies are Secure:
    // redirects::a_trusted_proxys_https_makes_cookies_secure).
    let login = raw
        .get(format!("{base}/login"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .expect("login");
    let set_cookie = login.headers()["set-cookie"].to_str().expect("cookie");
    assert!(!set_cookie.contains("Secure"), "{set_cookie}");
    // Browsers get pages for errors, the API keeps JSON.
    let resp = raw
        .get(format!("{base}/no/such/page"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.headers()["content-security-policy"], CSP);
    assert!(resp.text().await.expect("body").contains("Not found"));
    let resp = raw
        .get(format!("{base}/logout"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(resp.text().await.expect("body").contains("Not available"));
    let (status, body) = s.get("/no/such/thing", &s.root).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");

    // Not signed in: to the login page, coming back afterwards.
    c.goto(&format!("{base}/")).await.expect("goto");
    assert_eq!(path(&c).await, "/login");
    screenshot(&c, "login.png").await;
    assert_accessible(&c, "login page").await;

    // A wrong password is refused in words.
    fill(&c, "#email", ADMIN_EMAIL).await;
    fill(&c, "#password", "not the password").await;
    click(&c, "#login").await;
    let err = el(&c, "#login-error").await.text().await.expect("text");
    assert!(err.contains("email or password is wrong"), "{err}");

    log_in(&c, &base, ADMIN_EMAIL).await;
    assert_eq!(path(&c).await, "/");
    assert_accessible(&c, "home page").await;
    let cookie = c
        .get_named_cookie("tron_session")
        .await
        .expect("session cookie");
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(format!("{:?}", cookie.same_site()), "Some(Strict)");
    let admin_cookie = cookie.value().to_string();

    // Create an organization.
    fill(&c, "#org-name", "Acme Platform").await;
    click(&c, "#create-org").await;
    el(&c, "#section-members").await;
    let org_path = path(&c).await;
    let org = org_path
        .strip_prefix("/orgs/")
        .expect("on the organization page")
        .to_string();
    assert!(source(&c).await.contains("Organization created"));

    // Deleting an organization asks for its name to be typed.
    let scratch = s.org(&s.root, "Scratch").await;
    c.goto(&format!("{base}/orgs/{scratch}/delete"))
        .await
        .expect("goto");
    fill(&c, "#confirm-name", "scratch").await;
    click(&c, "#confirm").await;
    let refused = el(&c, "section.error-page")
        .await
        .text()
        .await
        .expect("text");
    assert!(refused.contains("organization's name exactly"), "{refused}");
    let (status, _) = s.get(&format!("/organizations/{scratch}"), &s.root).await;
    assert_eq!(status, StatusCode::OK, "deleted without its name");
    c.goto(&format!("{base}/orgs/{scratch}/delete"))
        .await
        .expect("goto");
    fill(&c, "#confirm-name", "Scratch").await;
    click(&c, "#confirm").await;
    el(&c, ".notice").await;
    let (status, _) = s.get(&format!("/organizations/{scratch}"), &s.root).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    c.goto(&format!("{base}{org_path}")).await.expect("goto");

    // Some environments and applications, through the API.
    s.env(&s.root, &org, "staging").await;
    s.env(&s.root, &org, "production").await;
    s.app(&s.root, &org, "billing-api").await;

    // A group, created in the portal, on the Groups page.
    c.goto(&format!("{base}{org_path}/groups"))
        .await
        .expect("goto");
    fill(&c, "#group-name", "Deployers").await;
    select(&c, "#group-role", "editor").await;
    click(&c, "#create-group").await;
    el(&c, "#group-members").await;
    assert!(source(&c).await.contains("Group created"));
    screenshot(&c, "group.png").await;
    assert_accessible(&c, "group page").await;
    let (_, groups) = s
        .get(&format!("/organizations/{org}/groups"), &s.root)
        .await;
    let deployers = groups["items"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["name"] == "Deployers")
        .expect("Deployers")["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(
        groups["items"]
            .as_array()
            .expect("groups")
            .iter()
            .find(|g| g["name"] == "Deployers")
            .expect("Deployers")["role"],
        "editor"
    );

    // A viewer member, through the API.
    let (_, _, vera_member) = s.member(&s.root, &org, "vera@example.com").await;
    let viewers = s.org_group(&s.root, &org, "Viewers", "viewer").await;
    s.join(&s.root, &org, &viewers, &vera_member).await;
    // Removing a member from a group asks first; Cancel keeps it.
    c.goto(&format!("{base}{org_path}/groups/{viewers}"))
        .await
        .expect("goto");
    click(&c, "a.remove-member").await;
    let ask = el(&c, "section.confirm").await.text().await.expect("text");
    assert!(ask.contains("out of Viewers?"), "{ask}");
    click(&c, "#cancel").await;
    el(&c, "#group-members").await;
    assert!(source(&c).await.contains("vera@example.com"));

    // Create a service account, on the Service accounts page.
    c.goto(&format!("{base}{org_path}/service-accounts"))
        .await
        .expect("goto");
    fill(&c, "#sa-name", "deploy-bot").await;
    fill(&c, "#sa-description", "Deploys from CI").await;
    click(&c, "#create-sa").await;
    el(&c, "#sa-groups").await;
    let sa_path = path(&c).await;
    assert!(sa_path.starts_with(&format!("{org_path}/service-accounts/")));
    let sa = sa_path.rsplit('/').next().expect("sa id").to_string();
    assert!(source(&c).await.contains("Service account created"));

    // Ids to copy, for the pipeline's configuration.
    assert_eq!(el(&c, "#id-sa").await.text().await.expect("text"), sa);
    assert_eq!(el(&c, "#id-org").await.text().await.expect("text"), org);

    // The group picker starts on nothing and names role and scope; an
    // admin group asks first, and Cancel leaves the account as it was.
    let picker = el(&c, "#assign-group").await;
    assert_eq!(
        picker.prop("value").await.expect("value"),
        Some(String::new())
    );
    let options = picker.text().await.expect("text");
    assert!(options.contains("choose a group"), "{options}");
    assert!(
        options.contains("Deployers — editor on the whole organization"),
        "{options}"
    );
    let admins = groups["items"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["role"] == "admin")
        .expect("an admin group")["id"]
        .as_str()
        .expect("id")
        .to_string();
    select(&c, "#assign-group", &admins).await;
    click(&c, "#assign").await;
    let ask = el(&c, "section.confirm").await.text().await.expect("text");
    assert!(
        ask.contains("Give deploy-bot admin power?") && ask.contains("is an admin group"),
        "{ask}"
    );
    screenshot(&c, "confirm-admin-group.png").await;
    click(&c, "#cancel").await;
    el(&c, "#assign-group").await;
    assert!(
        !exists(&c, "li.sa-group").await,
        "Cancel assigned the admin group"
    );

    // Assign it to a group.
    select(&c, "#assign-group", &deployers).await;
    click(&c, "#assign").await;
    el(&c, "li.sa-group").await;
    let groups_text = el(&c, "#sa-groups").await.text().await.expect("text");
    assert!(groups_text.contains("Deployers"), "{groups_text}");

    // Generate a token: shown once, with a copy button and a warning.
    fill(&c, "#token-name", "ci").await;
    select(&c, "#token-expiry", "30").await;
    click(&c, "#generate-token").await;
    let t1 = shown_token(&c).await;
    let panel = el(&c, "#new-token-panel").await.text().await.expect("text");
    assert!(panel.contains("It will not be shown again"), "{panel}");
    // What the pipeline needs next to it: the organization, the API, a
    // request to try and the CI snippets, none of which holds the token.
    assert_eq!(el(&c, "#wire-org").await.text().await.expect("text"), org);
    let curl = el(&c, "#wire-curl").await.text().await.expect("text");
    assert!(
        curl.contains("/api/v1/me") && curl.contains("$TRON_TOKEN"),
        "{curl}"
    );
    let wire = source(&c).await;
    assert!(
        wire.contains("secrets.TRON_TOKEN") && wire.contains("wire-gitlab"),
        "no CI snippets"
    );
    assert_eq!(
        wire.matches(t1.as_str()).count(),
        1,
        "the token is in a snippet"
    );
    assert!(exists(&c, "#wire-docs").await);
    assert!(
        el(&c, "#copy-token")
            .await
            .is_displayed()
            .await
            .expect("displayed"),
        "the copy button is shown by the external script"
    );
    c.set_window_size(1280, 1300).await.expect("resize");
    screenshot(&c, "service-account-new-token.png").await;
    assert_accessible(&c, "service account page with a new token").await;
    // On a phone: no sideways scrolling, the token table in stacked rows.
    c.set_window_size(390, 1400).await.expect("resize");
    no_sideways_scroll(&c, "the service account page").await;
    screenshot(&c, "service-account-new-token-390.png").await;
    c.set_window_size(1280, 1300).await.expect("resize");
    // The address is the account's again (the POST's entry was replaced).
    assert_eq!(path(&c).await, sa_path);

    // Gone after a reload.
    c.refresh().await.expect("refresh");
    el(&c, "#tokens").await;
    assert!(!exists(&c, "#new-token").await, "the token is shown again");
    assert!(!source(&c).await.contains(&t1));
    assert!(exists(&c, "tr.token[data-status=active]").await);

    // The token works against the API, as the service account.
    let (status, body) = me(&s, &t1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["principal"]["type"], "service_account");
    assert_eq!(body["principal"]["name"], "deploy-bot");

    // Rotate it, with confirmation: a new token, the old one revoked.
    click(&c, "a.rotate").await;
    el(&c, "#grace").await;
    assert!(source(&c).await.contains("Rotate the token ci"));
    screenshot(&c, "confirm-rotate.png").await;
    assert_accessible(&c, "confirmation page").await;
    select(&c, "#grace", "0").await;
    click(&c, "#confirm").await;
    let t2 = shown_token(&c).await;
    assert_ne!(t1, t2);
    assert!(source(&c).await.contains("has stopped working"));
    // Successor and predecessor name each other by their hints.
    let hint = |t: &str| t[t.len() - 4..].to_string();
    let linked = el(&c, "#tokens").await.text().await.expect("text");
    assert!(
        linked.contains(&format!("replaces …{}", hint(&t1)))
            && linked.contains(&format!("replaced by …{}", hint(&t2))),
        "{linked}"
    );
    let (status, body) = me(&s, &t1).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "token_revoked");
    let (status, body) = me(&s, &t2).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Revoke the new one, with confirmation.
    c.goto(&format!("{base}{sa_path}")).await.expect("goto");
    click(&c, "tr.token[data-status=active] a.revoke").await;
    assert!(source(&c).await.contains("Revoke the token ci"));
    click(&c, "#confirm").await;
    el(&c, "#tokens").await;
    assert!(source(&c).await.contains("Token revoked"));
    assert!(!exists(&c, "tr.token[data-status=active]").await);
    let (status, body) = me(&s, &t2).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "token_revoked");

    // The token page is never cached: a POST by hand with the admin's
    // session and CSRF token.
    let csrf = el(&c, "input[name=csrf]")
        .await
        .prop("value")
        .await
        .expect("value")
        .expect("csrf");
    let resp = raw
        .post(format!("{base}{sa_path}/tokens"))
        .header("cookie", format!("tron_session={admin_cookie}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "by-hand"),
            ("expires_in", "7"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["content-security-policy"], CSP);
    let html = resp.text().await.expect("body");
    assert!(html.contains("trn_sat_") && html.contains("It will not be shown again"));

    // Disable the account: its tokens are refused; enable it again.
    c.refresh().await.expect("refresh");
    fill(&c, "#token-name", "ci-2").await;
    click(&c, "#generate-token").await;
    let t3 = shown_token(&c).await;
    click(&c, "#disable-sa").await;
    let ask = el(&c, "section.confirm").await.text().await.expect("text");
    assert!(
        ask.contains("Disable the service account deploy-bot?"),
        "{ask}"
    );
    click(&c, "#confirm").await;
    el(&c, "#enable-sa").await;
    assert_eq!(
        el(&c, "#sa-status").await.text().await.expect("text"),
        "disabled"
    );
    let (status, body) = me(&s, &t3).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "principal_disabled");
    click(&c, "#enable-sa").await;
    el(&c, "#disable-sa").await;
    let (status, _) = me(&s, &t3).await;
    assert_eq!(status, StatusCode::OK);

    // A service account's token never opens the portal.
    let resp = raw
        .get(format!("{base}{org_path}"))
        .header("cookie", format!("tron_session={t3}"))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(resp.headers()["location"]
        .to_str()
        .expect("location")
        .starts_with("/login"));

    // The section pages: members (users and service accounts told
    // apart), service accounts with their token counts, the audit log.
    c.goto(&format!("{base}{org_path}/members"))
        .await
        .expect("goto");
    el(&c, "#members").await;
    let sa_member = el(&c, "tr.member-sa").await.text().await.expect("text");
    assert!(
        sa_member.contains("deploy-bot") && sa_member.contains("service account"),
        "{sa_member}"
    );
    let user_member = el(&c, "tr.member-user").await.text().await.expect("text");
    assert!(user_member.contains("user"), "{user_member}");
    c.goto(&format!("{base}{org_path}/service-accounts"))
        .await
        .expect("goto");
    let sa_row = el(&c, "tr.service-account")
        .await
        .text()
        .await
        .expect("text");
    assert!(
        sa_row.contains("deploy-bot") && sa_row.contains("active") && sa_row.contains("Deployers"),
        "{sa_row}"
    );
    c.goto(&format!("{base}{org_path}/audit"))
        .await
        .expect("goto");
    let audit = el(&c, "#audit-log").await.text().await.expect("text");
    for action in [
        "service_account.create",
        "group.member_add",
        "service_token.create",
        "service_token.rotate",
        "service_token.revoke",
        "service_account.disable",
        "service_account.enable",
    ] {
        assert!(audit.contains(action), "audit log lacks {action}");
    }
    c.goto(&format!("{base}{org_path}")).await.expect("goto");
    el(&c, "#section-service-accounts").await;
    screenshot(&c, "organization.png").await;
    assert_accessible(&c, "organization page").await;

    // Audit filters.
    c.goto(&format!("{base}{org_path}/audit?action=service_account.*"))
        .await
        .expect("goto");
    let audit = el(&c, "#audit-log").await.text().await.expect("text");
    assert!(audit.contains("service_account.disable"));
    assert!(!audit.contains("service_token.create"), "{audit}");

    // A non-member gets the 404 page, in words.
    let (_, nina) = s.user("nina@example.com").await;
    let resp = raw
        .get(format!("{base}{org_path}"))
        .header("cookie", format!("tron_session={nina}"))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html")));
    assert!(resp.text().await.expect("body").contains("Not found"));

    // Log out: the session stops working.
    click(&c, "#logout").await;
    el(&c, "#login").await;
    assert_eq!(path(&c).await, "/login");
    let (status, body) = me(&s, &admin_cookie).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "token_revoked");
    c.goto(&format!("{base}{org_path}")).await.expect("goto");
    assert_eq!(path(&c).await, "/login");

    // A viewer: everything visible, nothing to manage.
    log_in(&c, &base, "vera@example.com").await;
    c.goto(&format!("{base}{org_path}")).await.expect("goto");
    el(&c, "#section-service-accounts").await;
    assert!(
        !exists(&c, "#section-audit").await,
        "a viewer is offered the audit log"
    );
    for (page, offered) in [
        ("service-accounts", "#create-sa"),
        ("members", "#add-member"),
        ("groups", "#create-group"),
        ("settings", "#save-settings"),
        ("environments", "#create-env"),
        ("applications", "#create-app"),
    ] {
        c.goto(&format!("{base}{org_path}/{page}"))
            .await
            .expect("goto");
        el(&c, "main h1").await;
        assert!(!exists(&c, offered).await, "a viewer is offered {offered}");
    }
    c.goto(&format!("{base}{org_path}/service-accounts"))
        .await
        .expect("goto");
    assert!(source(&c).await.contains("deploy-bot"));
    c.goto(&format!("{base}{sa_path}")).await.expect("goto");
    el(&c, "#tokens").await;
    for css in [
        "#disable-sa",
        "#delete-sa",
        "#generate-token",
        "#assign",
        "a.revoke",
        "a.rotate",
        "a.unassign",
    ] {
        assert!(!exists(&c, css).await, "a viewer is offered {css}");
    }
    assert!(source(&c).await.contains("Only organization admins"));
    screenshot(&c, "service-account-viewer.png").await;
    // Forcing the way to a confirmation: a 403 page, in words.
    c.goto(&format!("{base}{sa_path}/delete"))
        .await
        .expect("goto");
    let refused = el(&c, "main").await.text().await.expect("text");
    assert!(
        refused.contains("Not allowed") && refused.contains("permission"),
        "{refused}"
    );
    screenshot(&c, "forbidden.png").await;
    assert_accessible(&c, "forbidden page").await;
    c.goto(&format!("{base}{sa_path}")).await.expect("goto");

    // Forced POSTs with the viewer's own session and CSRF token: 403 pages.
    let vera_cookie = c
        .get_named_cookie("tron_session")
        .await
        .expect("cookie")
        .value()
        .to_string();
    let vera_csrf = el(&c, "input[name=csrf]")
        .await
        .prop("value")
        .await
        .expect("value")
        .expect("csrf");
    let forced = [
        (
            format!("{org_path}/service-accounts"),
            vec![("name", "sneaky")],
        ),
        (format!("{sa_path}/status"), vec![("status", "disabled")]),
        (
            format!("{sa_path}/tokens"),
            vec![("name", "x"), ("expires_in", "7")],
        ),
        (format!("{sa_path}/delete"), vec![]),
    ];
    for (url, fields) in forced {
        let mut form = vec![("csrf", vera_csrf.as_str())];
        form.extend(fields);
        let resp = raw
            .post(format!("{base}{url}"))
            .header("cookie", format!("tron_session={vera_cookie}"))
            .form(&form)
            .send()
            .await
            .expect("post");
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{url}");
        let html = resp.text().await.expect("body");
        assert!(html.contains("Not allowed"), "{url}: {html}");
    }
    // Without the CSRF token, even an allowed action is refused.
    let resp = raw
        .post(format!("{base}/orgs"))
        .header("cookie", format!("tron_session={vera_cookie}"))
        .form(&[("name", "csrf-less")])
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp
        .text()
        .await
        .expect("body")
        .contains("This form has expired"));
    let (_, sa_now) = s
        .get(
            &format!("/organizations/{org}/service-accounts/{sa}"),
            &s.root,
        )
        .await;
    assert_eq!(sa_now["status"], "active");
    let (_, orgs) = s.get("/organizations?all=true", &s.root).await;
    assert_eq!(orgs["items"].as_array().expect("orgs").len(), 1);

    c.close().await.expect("close the browser");
    drop(driver);
    s.stop().await;
}
