//! Issue 13 (hardening, the HTTP edge): no request value in an error body,
//! request timestamps bounded, `next` after login, malformed credentials.
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tron_core::token::{SecretToken, TokenKind};

use crate::contract;
use crate::kit::{TestServer, ADMIN_EMAIL, PASSWORD};

contract!(
    error_bodies_never_repeat_a_request_value,
    request_timestamps_are_1970_to_9999,
    a_token_expiring_in_9999_rotates_twice,
    login_next_returns_only_to_own_paths,
    non_utf8_credentials_are_invalid_tokens,
);

/// A token-looking value: what a leaked secret pasted in the wrong place is.
fn leaked() -> String {
    SecretToken::generate(TokenKind::Service).reveal()
}

/// Sends `body` as raw JSON text; the status and the body text.
async fn raw_post(
    s: &TestServer,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (StatusCode, String) {
    let mut req = s
        .http
        .post(s.url(path))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("send");
    (resp.status(), resp.text().await.expect("text"))
}

async fn error_bodies_never_repeat_a_request_value(s: TestServer) {
    let secret = leaked();
    let body_of = |t: &str| -> Value { serde_json::from_str(t).expect("json error body") };

    // A wrong-typed field.
    let (status, text) = raw_post(
        &s,
        "/tokens/revoke-leaked",
        None,
        &json!({ "tokens": secret }).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(!text.contains(&secret), "wrong type echoed: {text}");
    let err = body_of(&text);
    assert_eq!(err["error"]["code"], "validation_error");
    assert_eq!(err["error"]["field"], "tokens", "{text}");

    // A wrong-typed element of a list.
    let (status, text) = raw_post(
        &s,
        "/tokens/revoke-leaked",
        None,
        &format!(r#"{{"tokens": ["ok", {{"{secret}": 1}}]}}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(!text.contains(&secret), "list element echoed: {text}");
    assert_eq!(body_of(&text)["error"]["field"], "tokens[1]", "{text}");

    // An unknown field named like a token: not named.
    let (status, text) = raw_post(
        &s,
        "/tokens/revoke-leaked",
        None,
        &format!(r#"{{"tokens": [], "{secret}": true}}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(!text.contains(&secret), "unknown field echoed: {text}");
    assert!(!text.contains("trn_"), "{text}");
    // A plain unknown name is named, as the field.
    let (status, text) = raw_post(
        &s,
        "/tokens/revoke-leaked",
        None,
        r#"{"tokens": [], "tokenz": true}"#,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert_eq!(body_of(&text)["error"]["field"], "tokenz", "{text}");

    // A wrong-typed string where a number is expected, and a bad enum value.
    let org = s.org(&s.root, "Echo").await;
    let (status, text) = raw_post(
        &s,
        &format!("/organizations/{org}"),
        Some(&s.root),
        &format!(r#"{{"settings": {{"max_token_lifetime_days": "{secret}"}}}}"#),
    )
    .await;
    assert!(status.is_client_error(), "{status} {text}");
    assert!(!text.contains(&secret), "settings echoed: {text}");
    let (status, text) = raw_post(
        &s,
        &format!("/organizations/{org}/groups"),
        Some(&s.root),
        &json!({"name": "g", "role": secret, "scope": {"type": "organization"}}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(!text.contains(&secret), "variant echoed: {text}");
    assert_eq!(body_of(&text)["error"]["field"], "role", "{text}");

    // A missing field is named.
    let (status, text) = raw_post(&s, "/tokens/revoke-leaked", None, "{}").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert_eq!(body_of(&text)["error"]["field"], "tokens", "{text}");

    // Malformed JSON around a token.
    let (status, text) = raw_post(
        &s,
        "/tokens/revoke-leaked",
        None,
        &format!(r#"{{"tokens": ["{secret}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(!text.contains(&secret), "{text}");

    // A query parameter.
    for q in ["limit", "cursor", "since", "actor_type", "all"] {
        let resp = s
            .http
            .get(s.url(&format!("/organizations/{org}/audit-events?{q}={secret}")))
            .bearer_auth(&s.root)
            .send()
            .await
            .expect("send");
        let status = resp.status();
        let text = resp.text().await.expect("text");
        assert!(
            status.is_client_error() || status.is_success(),
            "{q}: {status}"
        );
        assert!(!text.contains(&secret), "query {q} echoed: {text}");
    }

    // A path segment.
    for path in [
        format!("/organizations/{secret}"),
        format!("/organizations/{org}/groups/{secret}"),
        format!("/users/{secret}"),
    ] {
        let (status, body) = s.get(&path, &s.root).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!body.to_string().contains(&secret), "path echoed: {body}");
    }

    // A portal form: the login page with a token as the email, and a form
    // on a page that is not the login one.
    let resp = s
        .http
        .post(format!("{}/login", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("email=a%40b&password={secret}&{secret}=1"))
        .send()
        .await
        .expect("send");
    let text = resp.text().await.expect("text");
    assert!(!text.contains(&secret), "login form echoed: {text}");
    let resp = s
        .http
        .get(format!("{}/orgs/{secret}", s.base))
        .header("cookie", format!("tron_session={}", s.root))
        .send()
        .await
        .expect("send");
    let text = resp.text().await.expect("text");
    assert!(!text.contains(&secret), "portal path echoed: {text}");
}

async fn request_timestamps_are_1970_to_9999(s: TestServer) {
    let org = s.org(&s.root, "Times").await;
    let (sa, _) = s.service_account(&s.root, &org, "ci").await;
    let tokens = format!("/organizations/{org}/service-accounts/{sa}/tokens");
    for bad in [
        "+262142-12-31T23:59:59Z",
        "10000-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "tomorrow",
    ] {
        let (status, body) = s
            .post(&tokens, &s.root, json!({"name": "t", "expires_at": bad}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "validation_error", "{bad}: {body}");
        assert_eq!(body["error"]["field"], "expires_at", "{bad}: {body}");
        assert!(!body.to_string().contains(bad), "{bad} echoed: {body}");
        let (status, body) = s
            .post(
                "/me/tokens",
                &s.root,
                json!({"name": "t", "expires_at": bad}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"]["field"], "expires_at", "{bad}: {body}");
    }
    let (token_id, _) = s
        .service_token(&s.root, &org, &sa, json!({"name": "t"}))
        .await;
    let (status, body) = s
        .post(
            &format!("{tokens}/{token_id}/rotate"),
            &s.root,
            json!({"expires_at": "+262142-12-31T23:59:59Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "expires_at", "{body}");
    let (status, body) = s
        .get(
            &format!("/organizations/{org}/audit-events?since=+262142-12-31T23:59:59Z"),
            &s.root,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "since", "{body}");
}

async fn a_token_expiring_in_9999_rotates_twice(s: TestServer) {
    let org = s.org(&s.root, "Far").await;
    let (sa, _) = s.service_account(&s.root, &org, "ci").await;
    let (_, secret) = s
        .service_token(
            &s.root,
            &org,
            &sa,
            json!({"name": "t", "expires_at": "9999-12-31T23:59:59Z"}),
        )
        .await;
    s.advance(chrono::Duration::seconds(1));
    let (status, first) = s
        .call(Method::POST, "/me/token/rotate", Some(&secret), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let next = first["token"].as_str().expect("token").to_string();
    let expires = first["expires_at"].as_str().expect("expires_at");
    assert!(expires.starts_with("9999-12-31T23:59:59"), "{expires}");
    s.advance(chrono::Duration::days(400));
    let (status, second) = s
        .call(Method::POST, "/me/token/rotate", Some(&next), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let expires = second["expires_at"].as_str().expect("expires_at");
    assert!(
        expires.starts_with("9999-12-31T23:59:59"),
        "clamped: {expires}"
    );
}

/// Logs in through the portal's form with `next`; where it redirects.
async fn portal_login_to(s: &TestServer, next: &str) -> (StatusCode, Option<String>) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = http
        .get(format!("{}/login", s.base))
        .send()
        .await
        .expect("login page");
    let nonce = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("tron_login="))
        .and_then(|c| c.split(';').next())
        .expect("login cookie")
        .to_string();
    let html = page.text().await.expect("html");
    let csrf = html
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("csrf field")
        .to_string();
    let form = serde_urlencoded::to_string([
        ("email", ADMIN_EMAIL),
        ("password", PASSWORD),
        ("csrf", csrf.as_str()),
        ("next", next),
    ])
    .expect("form");
    let resp = http
        .post(format!("{}/login", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("tron_login={nonce}"))
        .body(form)
        .send()
        .await
        .expect("login");
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (resp.status(), location)
}

async fn login_next_returns_only_to_own_paths(s: TestServer) {
    for (next, expected) in [
        ("/orgs", "/orgs"),
        ("/%09/evil.example", "/"),
        ("/%0A/x", "/"),
        ("/\t/evil.example", "/"),
        ("/\n/x", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/%5C/evil.example", "/"),
        ("https://evil.example/", "/"),
    ] {
        let (status, location) = portal_login_to(&s, next).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(location.as_deref(), Some(expected), "{next:?}");
    }
}

/// Sends one request with raw header bytes; the status line's code.
async fn raw_status(s: &TestServer, header: &[u8]) -> (u16, String) {
    let mut conn = tokio::net::TcpStream::connect(s.addr)
        .await
        .expect("connect");
    let mut req = b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".to_vec();
    req.extend_from_slice(header);
    req.extend_from_slice(b"\r\n\r\n");
    conn.write_all(&req).await.expect("write");
    let mut out = Vec::new();
    conn.read_to_end(&mut out).await.expect("read");
    let text = String::from_utf8_lossy(&out).to_string();
    let code = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, text)
}

async fn non_utf8_credentials_are_invalid_tokens(s: TestServer) {
    let secret = leaked();
    let mut lookalike = secret.clone().into_bytes();
    lookalike[10] = 0xCE; // the first byte of a Greek letter
    for header in [
        [b"Authorization: Bearer ".as_slice(), &lookalike].concat(),
        [b"x-tron-token: ".as_slice(), &lookalike].concat(),
        b"Authorization: Bearer \xff\xfe".to_vec(),
        b"x-tron-token: \xff".to_vec(),
        b"Authorization: \xc3\xa9".to_vec(),
    ] {
        let (code, text) = raw_status(&s, &header).await;
        assert_eq!(code, 401, "{text}");
        assert!(text.contains(r#""code":"invalid_token""#), "{text}");
    }
    // Nothing at all is still `unauthenticated`.
    let (code, text) = raw_status(&s, b"X-Other: 1").await;
    assert_eq!(code, 401, "{text}");
    assert!(text.contains(r#""code":"unauthenticated""#), "{text}");
    // A proxy's Basic credentials leave `x-tron-token` usable.
    let resp = s
        .http
        .get(s.url("/me"))
        .header("authorization", "Basic cHJveHk6cHJveHk=")
        .header("x-tron-token", &s.root)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
}

/// A server over SQLite with a short header-read timeout and at most
/// `max_per_address` connections per address; its address and its stop.
async fn start_edge_server(
    max_per_address: usize,
    trusted_proxies: &[&str],
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    Option<tempfile::TempDir>,
) {
    let (url, dir) = crate::kit::fresh_database(crate::kit::Db::Sqlite).await;
    let store = tron_store::Store::connect_with(&url, 4)
        .await
        .expect("store");
    store.migrate().await.expect("migrate");
    let mut config = tron_server::Config::new(crate::kit::test_secret());
    config.header_read_timeout = std::time::Duration::from_secs(1);
    config.max_connections_per_address = max_per_address;
    config.trusted_proxies = trusted_proxies
        .iter()
        .map(|n| n.parse().expect("cidr"))
        .collect();
    let state = tron_server::AppState::with_clock(
        store,
        config,
        std::sync::Arc::new(tron_core::clock::OffsetClock::default()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        tron_server::serve(listener, state, async {
            let _ = rx.await;
        })
        .await
        .expect("serve");
    });
    (addr, tx, dir)
}

/// Connects from `source` (a loopback address) to `addr`.
async fn connect_from(source: &str, addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{source}:0").parse().expect("source"))
        .expect("bind source");
    socket.connect(addr).await.expect("connect")
}

/// Sends a keep-alive `GET /healthz` and reads its answer's head.
async fn healthz_on(conn: &mut tokio::net::TcpStream) -> String {
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = vec![0u8; 4096];
    let n = conn.read(&mut buf).await.expect("read");
    String::from_utf8_lossy(&buf[..n]).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_sending_half_its_headers_is_closed() {
    let (addr, _stop, _dir) = start_edge_server(16, &[]).await;
    let mut slow = tokio::net::TcpStream::connect(addr).await.expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .expect("write");
    // The server closes it (after the configured 1 s); the outer bound only
    // keeps a regression from hanging the test run.
    let mut out = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        slow.read_to_end(&mut out),
    )
    .await;
    assert!(
        closed.is_ok(),
        "the half-sent request's connection stayed open"
    );
    // Meanwhile a normal client is served.
    let mut normal = tokio::net::TcpStream::connect(addr).await.expect("connect");
    assert!(healthz_on(&mut normal).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_per_address_cap_are_closed() {
    let (addr, _stop, _dir) = start_edge_server(2, &[]).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = connect_from("127.0.0.1", addr).await;
        assert!(healthz_on(&mut c).await.starts_with("HTTP/1.1 200"));
        held.push(c);
    }
    // The third from the same address: closed without an answer.
    let mut extra = connect_from("127.0.0.1", addr).await;
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        extra.read_to_end(&mut out),
    )
    .await
    .expect("the extra connection was closed");
    assert!(
        !String::from_utf8_lossy(&out).contains("HTTP/1.1"),
        "the extra connection was served: {}",
        String::from_utf8_lossy(&out)
    );
    // Another address is served, and the held ones still are.
    let mut other = connect_from("127.0.0.2", addr).await;
    assert!(healthz_on(&mut other).await.starts_with("HTTP/1.1 200"));
    assert!(healthz_on(&mut held[0]).await.starts_with("HTTP/1.1 200"));
}

/// A wrong login forwarded by the proxy (127.0.0.1, trusted) with `xff`.
async fn wrong_login_via_proxy(
    http: &reqwest::Client,
    addr: std::net::SocketAddr,
    xff: &str,
) -> StatusCode {
    // Each for another email: the per-email limit stays out of the way.
    let email = format!("nobody-{}@example.com", uuid::Uuid::new_v4().simple());
    http.post(format!("http://{addr}/api/v1/auth/login"))
        .header("x-forwarded-for", xff)
        .json(&json!({"email": email, "password": "wrong password here"}))
        .send()
        .await
        .expect("send")
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_throttle_is_keyed_by_the_forwarded_client() {
    let (addr, _stop, _dir) = start_edge_server(256, &["127.0.0.0/8"]).await;
    let http = reqwest::Client::new();
    // One client behind the proxy uses up its 50 failures a minute.
    for _ in 0..50 {
        assert_eq!(
            wrong_login_via_proxy(&http, addr, "198.51.100.7").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        wrong_login_via_proxy(&http, addr, "198.51.100.7").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client behind the same proxy keeps its own bucket, also when
    // written in its IPv4-mapped form.
    assert_eq!(
        wrong_login_via_proxy(&http, addr, "198.51.100.8").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        wrong_login_via_proxy(&http, addr, "::ffff:198.51.100.7").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A forged left-hand value behind an entry that does not parse is not
    // believed: the walk stops at the garbage, and the request is the
    // proxy's (127.0.0.1), not the throttled client's.
    assert_eq!(
        wrong_login_via_proxy(&http, addr, "198.51.100.7, not-an-address").await,
        StatusCode::UNAUTHORIZED
    );
}
