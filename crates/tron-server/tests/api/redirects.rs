//! Issue 13, defect 4: after login the portal returns only to a local path.
use reqwest::StatusCode;

use crate::kit::{Db, TestServer};

/// `GET /login?next=…` by a signed-in user redirects at once: where to is
/// what `safe_next` allows. Before the fix `/%09/evil.example` was
/// followed (browsers drop the tab and land on `//evil.example`) and
/// `/%0A/x` answered `500`.
#[tokio::test]
async fn login_returns_only_to_local_paths() {
    let s = TestServer::start(Db::Sqlite).await;
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for (next, to) in [
        ("/orgs", "/orgs"),
        ("/%09/evil.example", "/"),
        ("/%0A/x", "/"),
        ("/%0D%0ASet-Cookie:%20x=1", "/"),
        ("//evil.example", "/"),
        ("/%5Cevil.example", "/"),
        ("https://evil.example", "/"),
        ("/%C3%A9", "/"),
    ] {
        let resp = raw
            .get(format!("{}/login?next={next}", s.base))
            .header("cookie", format!("tron_session={}", s.root))
            .send()
            .await
            .expect("login page");
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(resp.headers()["location"], to, "{next}");
    }
}

/// Behind a trusted proxy that says the client used https, the portal's
/// cookies are `Secure`; the same header from anyone else is not believed
/// (the portal test checks that side).
#[tokio::test]
async fn a_trusted_proxys_https_makes_cookies_secure() {
    let s = TestServer::start_configured(Db::Sqlite, |c| {
        c.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
    })
    .await;
    let resp = reqwest::Client::new()
        .get(format!("{}/login", s.base))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .expect("login page");
    let cookie = resp.headers()["set-cookie"].to_str().expect("cookie");
    assert!(cookie.contains("; Secure"), "{cookie}");
}
