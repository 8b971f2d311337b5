//! Portal sessions: login, logout, the session cookie and CSRF tokens.
//!
//! Invariants: the session cookie holds a session token of an active user
//! and is `HttpOnly`, `SameSite=Strict`, and `Secure` when served over
//! https. Every POST of a signed-in page carries
//! `HMAC-SHA256(server_secret, "portal-csrf:" + session token id)`, and the
//! login form `HMAC-SHA256(server_secret, "portal-login:" + nonce)` where
//! the nonce is a random pre-session cookie; both are compared in constant
//! time before anything happens. Login goes through the API's
//! [`password_login`]: the same throttles and audit events, email and
//! password only, so service accounts cannot log in.
use askama::Template;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tron_core::ids::TokenId;
use tron_core::principal::Principal;
use tron_core::token::{SecretToken, TokenKind};
use tron_core::{AuthFailure, Error};
use tron_store::models::RequestMeta;

use crate::api::me::password_login;
use crate::auth::{authenticate, is_user, ClientInfo};
use crate::portal::error::PortalError;
use crate::portal::form::{read_form, Form, QueryMap};
use crate::portal::view::{render_with_status, Layout};
use crate::state::AppState;

pub(crate) const SESSION_COOKIE: &str = "tron_session";
const LOGIN_COOKIE: &str = "tron_login";

/// The signed-in user of a portal request, set by [`session_layer`].
#[derive(Clone)]
pub(crate) struct PortalSession {
    pub principal: Principal,
    pub csrf: String,
    pub client: ClientInfo,
}

impl PortalSession {
    pub(crate) fn meta(&self) -> RequestMeta {
        self.client.meta(self.principal.actor())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PortalSession {
    type Rejection = PortalError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<PortalSession>()
            .cloned()
            .ok_or_else(|| PortalError::from(Error::internal("page mounted outside session_layer")))
    }
}

/// A cookie's value from the `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The session cookie's value, if it has the shape of a session token:
/// anything else (a personal or service token, garbage) is not looked up.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, SESSION_COOKIE)
        .filter(|raw| SecretToken::parse(raw).is_some_and(|t| t.kind() == TokenKind::Session))
}

/// Whether the browser reached us over https: a trusted proxy said so, or
/// the configured public address is https.
fn is_https(state: &AppState, client: &ClientInfo) -> bool {
    let public = state
        .config
        .public_url
        .as_deref()
        .is_some_and(|u| u.trim().to_ascii_lowercase().starts_with("https://"));
    client.forwarded_https || public
}

fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{secure}"
    ))
    .ok()
}

fn with_cookie(mut resp: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(c) = cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

fn mac(state: &AppState, purpose: &str, data: &str) -> String {
    let mut m = match Hmac::<Sha256>::new_from_slice(state.config.secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    m.update(purpose.as_bytes());
    m.update(b":");
    m.update(data.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The CSRF token of a session: stable for the session's life, useless
/// without the server secret, and never stored.
pub(crate) fn csrf_for(state: &AppState, session: TokenId) -> String {
    mac(state, "portal-csrf", &session.to_string())
}

/// Authenticates the session cookie and, on a POST, reads the form and
/// checks its CSRF token, before any signed-in page runs.
pub(crate) async fn session_layer(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let client = match ClientInfo::from_request_parts(&mut parts, &state).await {
        Ok(c) => c,
        Err(e) => return PortalError::from(e).into_response(),
    };
    let had_cookie = cookie(&parts.headers, SESSION_COOKIE).is_some();
    let principal = match session_cookie(&parts.headers) {
        None => return to_login(&state, &parts, &client, had_cookie),
        Some(raw) => match authenticate(&state, Some(raw), &client).await {
            // Only a user's session opens the portal.
            Ok(p) if p.token_kind == TokenKind::Session && is_user(&p) => p,
            Ok(_) | Err(Error::Unauthenticated(_)) => {
                return to_login(&state, &parts, &client, true)
            }
            Err(e) => return PortalError::from(e).into_response(),
        },
    };
    let csrf = csrf_for(&state, principal.token_id);
    let body = if parts.method == Method::POST {
        let form = match read_form(&parts.headers, body).await {
            Ok(f) => f,
            Err(e) => return e.into_response(),
        };
        if !form.get("csrf").is_some_and(|t| ct_eq(t, &csrf)) {
            return PortalError::csrf().into_response();
        }
        parts.extensions.insert(form);
        Body::empty()
    } else {
        body
    };
    parts.extensions.insert(PortalSession {
        principal,
        csrf,
        client,
    });
    next.run(Request::from_parts(parts, body)).await
}

/// Not signed in: to the login page, coming back here afterwards (for a
/// GET). A stale cookie is cleared.
fn to_login(state: &AppState, parts: &Parts, client: &ClientInfo, had_cookie: bool) -> Response {
    let mut query: Vec<(&str, &str)> = Vec::new();
    let here = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    if parts.method == Method::GET && here != "/" {
        query.push(("next", here));
    }
    if had_cookie {
        query.push(("expired", "1"));
    }
    let qs = serde_urlencoded::to_string(&query).unwrap_or_default();
    let target = if qs.is_empty() {
        "/login".to_string()
    } else {
        format!("/login?{qs}")
    };
    let resp = Redirect::to(&target).into_response();
    if had_cookie {
        with_cookie(
            resp,
            set_cookie(SESSION_COOKIE, "", 0, is_https(state, client)),
        )
    } else {
        resp
    }
}

/// Only a local path is a place to return to after login.
/// Where to go after login: only a path of this site (SPEC §5). A browser
/// drops tabs and newlines from a URL and reads `\\` as `/`, so
/// `/%09/evil.example` would become `//evil.example`, another host: the
/// path is refused when it, or its percent-decoding, holds a control
/// character, a backslash, or a second leading slash. Anything refused goes
/// home; the value is then always a valid `Location`.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if is_own_path(n) => n.into(),
        _ => "/".into(),
    }
}

fn is_own_path(n: &str) -> bool {
    let clean = |s: &[u8]| {
        s.first() == Some(&b'/')
            && s.get(1) != Some(&b'/')
            && !s.iter().any(|&b| b == b'\\' || b.is_ascii_control())
    };
    // Only the printable ASCII a URL may carry as is; everything else is
    // percent-encoded by whoever built the link.
    if !n.bytes().all(|b| b.is_ascii_graphic()) || !clean(n.as_bytes()) {
        return false;
    }
    clean(&percent_decode(n.as_bytes()))
}

/// `%XX` decoded once; anything else kept as it is.
fn percent_decode(s: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            if let (Some(h), Some(l)) = (
                s.get(i + 1).copied().and_then(hex),
                s.get(i + 2).copied().and_then(hex),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    csrf: String,
    email: String,
    next: String,
    error: Option<String>,
    info: Option<&'static str>,
}

fn random_nonce() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The login page, with the pre-session nonce cookie (kept if the browser
/// has one, so that two open login tabs both work).
#[allow(clippy::too_many_arguments)]
fn login_form(
    state: &AppState,
    headers: &HeaderMap,
    client: &ClientInfo,
    status: StatusCode,
    email: String,
    next: String,
    error: Option<String>,
    info: Option<&'static str>,
) -> Response {
    let nonce = cookie(headers, LOGIN_COOKIE)
        .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned)
        .unwrap_or_else(random_nonce);
    let page = LoginPage {
        layout: Layout::anonymous("Log in"),
        csrf: mac(state, "portal-login", &nonce),
        email,
        next,
        error,
        info,
    };
    with_cookie(
        render_with_status(status, &page),
        set_cookie(LOGIN_COOKIE, &nonce, 3600, is_https(state, client)),
    )
}

pub(crate) async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: ClientInfo,
    q: QueryMap,
) -> Response {
    // Already signed in: straight to the organizations.
    if let Some(raw) = session_cookie(&headers) {
        if let Ok(p) = authenticate(&state, Some(raw), &client).await {
            if p.token_kind == TokenKind::Session && is_user(&p) {
                return Redirect::to(&safe_next(q.get("next"))).into_response();
            }
        }
    }
    let info = if q.get("expired").is_some() {
        Some("Your session has ended. Log in again to continue.")
    } else if q.get("done") == Some("logged_out") {
        Some("You have logged out.")
    } else {
        None
    };
    login_form(
        &state,
        &headers,
        &client,
        StatusCode::OK,
        String::new(),
        q.get("next").unwrap_or("").to_string(),
        None,
        info,
    )
}

pub(crate) async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let form = match read_form(&headers, body).await {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let email = form.text("email").trim().to_string();
    let next = form.text("next").to_string();
    let fail = |status: StatusCode, message: String| {
        login_form(
            &state,
            &headers,
            &client,
            status,
            email.clone(),
            next.clone(),
            Some(message),
            None,
        )
    };
    let csrf_ok = cookie(&headers, LOGIN_COOKIE)
        .is_some_and(|nonce| ct_eq(form.text("csrf"), &mac(&state, "portal-login", nonce)));
    if !csrf_ok {
        return fail(
            StatusCode::FORBIDDEN,
            "The login form had expired. Please try again.".into(),
        );
    }
    match password_login(&state, &client, &email, form.text("password").to_string()).await {
        Ok(session) => {
            let secure = is_https(&state, &client);
            let max_age = (session.expires_at - state.now()).num_seconds().max(1);
            let resp = Redirect::to(&safe_next(Some(&next))).into_response();
            let resp = with_cookie(
                resp,
                set_cookie(SESSION_COOKIE, &session.token.reveal(), max_age, secure),
            );
            with_cookie(resp, set_cookie(LOGIN_COOKIE, "", 0, secure))
        }
        Err(Error::InvalidCredentials) => fail(
            StatusCode::UNAUTHORIZED,
            "The email or password is wrong.".into(),
        ),
        Err(Error::Unauthenticated(AuthFailure::PrincipalDisabled)) => fail(
            StatusCode::UNAUTHORIZED,
            "This account is disabled. Ask an administrator to enable it.".into(),
        ),
        Err(Error::RateLimited { retry_after_secs }) => {
            let mut resp = fail(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "Too many failed logins. Try again in {} seconds.",
                    retry_after_secs.max(1)
                ),
            );
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs.max(1)),
            );
            resp
        }
        Err(e) => PortalError::from(e).back("/login").into_response(),
    }
}

pub(crate) async fn logout(
    State(state): State<AppState>,
    session: PortalSession,
    _form: Form,
) -> Result<Response, PortalError> {
    let user_id = session
        .principal
        .user_id()
        .ok_or(Error::internal("a portal session without a user"))?;
    let user = state.store.get_user(user_id).await?;
    state
        .store
        .logout(
            &session.meta(),
            state.now(),
            &user,
            session.principal.token_id,
        )
        .await?;
    Ok(with_cookie(
        Redirect::to("/login?done=logged_out").into_response(),
        set_cookie(SESSION_COOKIE, "", 0, is_https(&state, &session.client)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(safe_next(Some("/orgs/x?y=1")), "/orgs/x?y=1");
        assert_eq!(safe_next(None), "/");
        assert_eq!(safe_next(Some("")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example/")), "/");
        assert_eq!(safe_next(Some("/%09/evil.example")), "/");
        assert_eq!(safe_next(Some("/%0A/x")), "/");
        assert_eq!(safe_next(Some("/\n/x")), "/");
        assert_eq!(safe_next(Some("/%2F/evil.example")), "/");
        assert_eq!(safe_next(Some("/%5Cevil.example")), "/");
        assert_eq!(safe_next(Some("/caf\u{e9}")), "/");
        assert_eq!(safe_next(Some("/a%20b/%41")), "/a%20b/%41");
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; tron_session_x=2; tron_session=abc"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("tron_login=n"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, LOGIN_COOKIE), Some("n"));
        assert_eq!(cookie(&h, "missing"), None);
        let mut empty = HeaderMap::new();
        empty.insert(header::COOKIE, HeaderValue::from_static("tron_session="));
        assert_eq!(cookie(&empty, SESSION_COOKIE), None);
    }

    #[test]
    fn set_cookie_attributes() {
        let v = set_cookie(SESSION_COOKIE, "t", 60, true).map(|v| v.to_str().map(str::to_owned));
        let v = v.and_then(Result::ok).unwrap_or_default();
        assert_eq!(
            v,
            "tron_session=t; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure"
        );
        let v = set_cookie(SESSION_COOKIE, "t", 60, false)
            .and_then(|v| v.to_str().ok().map(str::to_owned))
            .unwrap_or_default();
        assert!(!v.contains("Secure"), "{v}");
    }
}
