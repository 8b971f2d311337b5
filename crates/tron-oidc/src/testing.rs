//! A local OIDC issuer for tests (feature `testing`): discovery and a JWKS
//! over HTTP on `127.0.0.1`, port 0, with RS256 and ES256 keys, rotation,
//! fetch counters, scripted failures, and signing of ordinary and hostile
//! tokens.
//!
//! RSA keys are three shipped test keys (ring cannot make RSA keys) that
//! every issuer reuses under kids of its own, rotating through them; a key
//! is only ever found by its kid. EC keys are made fresh.
//!
//! Test support: a setup failure (no key, no random bytes) panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    Ec,
}

/// How the issuer answers a JWKS request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksReply {
    Keys,
    Status(u16),
    /// A valid key set padded past 256 KiB.
    Oversize,
    /// `302` to this location.
    Redirect(String),
    /// Never answers.
    Hang,
}

/// What signs a token made with [`TestIssuer::sign_with`].
#[derive(Debug, Clone)]
pub enum Signer {
    /// RS256 with this issuer's key `kid`, whatever the header says.
    Rsa(String),
    /// ES256 with this issuer's key `kid`.
    Ec(String),
    /// HS256 with these bytes (e.g. a public key, for algorithm confusion).
    Hmac(Vec<u8>),
    /// An empty signature (`alg: none`).
    Unsigned,
}

struct Key {
    kid: String,
    rsa: Option<Arc<RsaKeyPair>>,
    ec: Option<Arc<EcdsaKeyPair>>,
    jwk: Value,
    published: bool,
}

struct Shared {
    base: String,
    keys: Mutex<Vec<Key>>,
    default_rsa: Mutex<String>,
    default_ec: Mutex<String>,
    discovery_issuer: Mutex<Option<String>>,
    jwks_uri: Mutex<Option<String>>,
    jwks_reply: Mutex<JwksReply>,
    discovery_status: Mutex<Option<u16>>,
    discovery_fetches: AtomicU64,
    jwks_fetches: AtomicU64,
}

pub struct TestIssuer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
    next: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Test-only RSA keys, shipped (see `testing_keys/README.md`).
const RSA_KEYS: [&[u8]; 3] = [
    include_bytes!("testing_keys/rsa-1.pkcs1.der"),
    include_bytes!("testing_keys/rsa-2.pkcs1.der"),
    include_bytes!("testing_keys/rsa-3.pkcs1.der"),
];

fn rsa_pool(i: usize) -> Arc<RsaKeyPair> {
    static POOL: [OnceLock<Arc<RsaKeyPair>>; 3] = [const { OnceLock::new() }; 3];
    let i = i % RSA_KEYS.len();
    POOL[i]
        .get_or_init(|| Arc::new(RsaKeyPair::from_der(RSA_KEYS[i]).expect("ring reads the key")))
        .clone()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn rsa_jwk(kid: &str, pair: &RsaKeyPair) -> Value {
    let public = pair.public();
    let n = public.modulus_len();
    let components: ring::rsa::PublicKeyComponents<Vec<u8>> = public.into();
    debug_assert_eq!(components.n.len(), n);
    json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
           "n": b64(&components.n), "e": b64(&components.e)})
}

fn ec_key() -> Arc<EcdsaKeyPair> {
    let rng = SystemRandom::new();
    let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("an EC key for tests");
    Arc::new(EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("ring reads the key"))
}

fn ec_jwk(kid: &str, pair: &EcdsaKeyPair) -> Value {
    let point = pair.public_key().as_ref();
    json!({"kty": "EC", "kid": kid, "use": "sig", "alg": "ES256", "crv": "P-256",
           "x": b64(&point[1..33]), "y": b64(&point[33..65])})
}

fn random_kid() -> String {
    let mut bytes = [0u8; 8];
    ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut bytes).expect("random bytes");
    hex_lower(&bytes)
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl TestIssuer {
    /// Listens on `127.0.0.1:0` with one RSA and one EC key published.
    pub async fn start() -> std::io::Result<TestIssuer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            base: format!("http://{addr}"),
            keys: Mutex::new(Vec::new()),
            default_rsa: Mutex::new(String::new()),
            default_ec: Mutex::new(String::new()),
            discovery_issuer: Mutex::new(None),
            jwks_uri: Mutex::new(None),
            jwks_reply: Mutex::new(JwksReply::Keys),
            discovery_status: Mutex::new(None),
            discovery_fetches: AtomicU64::new(0),
            jwks_fetches: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/jwks-moved", get(jwks_moved))
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let issuer = TestIssuer {
            addr,
            shared,
            server,
            next: AtomicUsize::new(0),
        };
        issuer.rotate(KeyKind::Rsa);
        issuer.rotate(KeyKind::Ec);
        Ok(issuer)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:{port}`: the `iss` of its tokens.
    pub fn issuer(&self) -> String {
        self.shared.base.clone()
    }

    /// Publishes a new key of `kind` and signs with it from now on (the
    /// old one stays published until [`TestIssuer::retire`]). Its kid.
    pub fn rotate(&self, kind: KeyKind) -> String {
        let kid = self.new_key(kind);
        match kind {
            KeyKind::Rsa => *lock(&self.shared.default_rsa) = kid.clone(),
            KeyKind::Ec => *lock(&self.shared.default_ec) = kid.clone(),
        }
        kid
    }

    /// Makes a key and publishes it; `sign` keeps its current key.
    pub fn new_key(&self, kind: KeyKind) -> String {
        self.make_key(kind, true)
    }

    /// Makes a key that the JWKS does not list (a token signed with it
    /// names an unknown kid until [`TestIssuer::publish`]).
    pub fn unpublished_key(&self, kind: KeyKind) -> String {
        self.make_key(kind, false)
    }

    fn make_key(&self, kind: KeyKind, published: bool) -> String {
        let kid = format!(
            "{}-{}",
            match kind {
                KeyKind::Rsa => "rsa",
                KeyKind::Ec => "ec",
            },
            random_kid()
        );
        let key = match kind {
            KeyKind::Rsa => {
                let pair = rsa_pool(self.next.fetch_add(1, Ordering::SeqCst));
                Key {
                    jwk: rsa_jwk(&kid, &pair),
                    kid: kid.clone(),
                    rsa: Some(pair),
                    ec: None,
                    published,
                }
            }
            KeyKind::Ec => {
                let pair = ec_key();
                Key {
                    jwk: ec_jwk(&kid, &pair),
                    kid: kid.clone(),
                    rsa: None,
                    ec: Some(pair),
                    published,
                }
            }
        };
        lock(&self.shared.keys).push(key);
        kid
    }

    pub fn publish(&self, kid: &str) {
        self.set_published(kid, true);
    }

    /// Takes a key out of the JWKS (tokens it signs stay signable).
    pub fn retire(&self, kid: &str) {
        self.set_published(kid, false);
    }

    fn set_published(&self, kid: &str, published: bool) {
        for k in lock(&self.shared.keys).iter_mut().filter(|k| k.kid == kid) {
            k.published = published;
        }
    }

    /// Rewrites a field of a published key's JWK (`alg`, `kty`, …);
    /// `Value::Null` removes it.
    pub fn edit_jwk(&self, kid: &str, field: &str, value: Value) {
        for k in lock(&self.shared.keys).iter_mut().filter(|k| k.kid == kid) {
            if let Some(map) = k.jwk.as_object_mut() {
                if value.is_null() {
                    map.remove(field);
                } else {
                    map.insert(field.to_owned(), value.clone());
                }
            }
        }
    }

    /// The JWK of key `kid`, as published.
    pub fn jwk(&self, kid: &str) -> Option<Value> {
        lock(&self.shared.keys)
            .iter()
            .find(|k| k.kid == kid)
            .map(|k| k.jwk.clone())
    }

    pub fn rsa_kid(&self) -> String {
        lock(&self.shared.default_rsa).clone()
    }

    pub fn ec_kid(&self) -> String {
        lock(&self.shared.default_ec).clone()
    }

    /// The discovery document's `issuer` (default: the real one).
    pub fn set_discovery_issuer(&self, issuer: Option<String>) {
        *lock(&self.shared.discovery_issuer) = issuer;
    }

    /// The discovery document's `jwks_uri` (default: `{issuer}/jwks`).
    pub fn set_jwks_uri(&self, uri: Option<String>) {
        *lock(&self.shared.jwks_uri) = uri;
    }

    pub fn set_jwks_reply(&self, reply: JwksReply) {
        *lock(&self.shared.jwks_reply) = reply;
    }

    /// Answers discovery with this status instead of the document.
    pub fn set_discovery_status(&self, status: Option<u16>) {
        *lock(&self.shared.discovery_status) = status;
    }

    pub fn discovery_fetches(&self) -> u64 {
        self.shared.discovery_fetches.load(Ordering::SeqCst)
    }

    /// JWKS requests answered so far (any reply).
    pub fn jwks_fetches(&self) -> u64 {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }

    /// RS256 with the current RSA key.
    pub fn sign(&self, claims: &Value) -> String {
        let kid = self.rsa_kid();
        self.sign_with(
            &json!({"alg": "RS256", "typ": "JWT", "kid": kid}),
            Signer::Rsa(kid.clone()),
            claims,
        )
    }

    /// ES256 with the current EC key.
    pub fn sign_es256(&self, claims: &Value) -> String {
        let kid = self.ec_kid();
        self.sign_with(
            &json!({"alg": "ES256", "typ": "JWT", "kid": kid}),
            Signer::Ec(kid.clone()),
            claims,
        )
    }

    /// Any header, any signer: for hostile tokens.
    pub fn sign_with(&self, header: &Value, signer: Signer, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = match signer {
            Signer::Unsigned => Vec::new(),
            Signer::Hmac(secret) => {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
                ring::hmac::sign(&key, input.as_bytes()).as_ref().to_vec()
            }
            Signer::Rsa(kid) => {
                let pair = self.key(&kid).rsa.expect("an RSA key of this issuer");
                let mut sig = vec![0; pair.public().modulus_len()];
                pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    input.as_bytes(),
                    &mut sig,
                )
                .expect("RSA signing");
                sig
            }
            Signer::Ec(kid) => {
                let pair = self.key(&kid).ec.expect("an EC key of this issuer");
                pair.sign(&SystemRandom::new(), input.as_bytes())
                    .expect("EC signing")
                    .as_ref()
                    .to_vec()
            }
        };
        format!("{input}.{}", b64(&sig))
    }

    fn key(&self, kid: &str) -> KeyRef {
        let keys = lock(&self.shared.keys);
        let k = keys.iter().find(|k| k.kid == kid);
        KeyRef {
            rsa: k.and_then(|k| k.rsa.clone()),
            ec: k.and_then(|k| k.ec.clone()),
        }
    }

    /// Claims as GitHub Actions writes them, issued at `now`, valid 5 min.
    pub fn github_claims(&self, aud: &str, now: DateTime<Utc>) -> Value {
        let iat = now.timestamp();
        json!({
            "iss": self.issuer(), "aud": aud, "jti": random_kid(),
            "sub": "repo:acme/app:environment:staging",
            "iat": iat, "nbf": iat, "exp": iat + 300,
            "repository": "acme/app", "repository_id": "100", "repository_owner": "acme",
            "repository_owner_id": "42", "ref": "refs/heads/main", "ref_type": "branch",
            "environment": "staging", "workflow": "deploy", "run_id": "7", "run_attempt": "1",
            "job_workflow_ref": "acme/app/.github/workflows/deploy.yml@refs/heads/main",
            "actor": "octocat", "event_name": "push",
        })
    }

    /// Claims as GitLab CI writes them, issued at `now`, valid 5 min.
    pub fn gitlab_claims(&self, aud: &str, now: DateTime<Utc>) -> Value {
        let iat = now.timestamp();
        json!({
            "iss": self.issuer(), "aud": aud, "jti": random_kid(),
            "sub": "project_path:acme/app:ref_type:branch:ref:main",
            "iat": iat, "nbf": iat, "exp": iat + 300,
            "namespace_id": "42", "namespace_path": "acme", "project_id": "100",
            "project_path": "acme/app", "ref": "main", "ref_type": "branch",
            "ref_protected": "true", "environment": "staging", "pipeline_id": "7",
            "job_id": "9", "user_login": "jo",
        })
    }
}

struct KeyRef {
    rsa: Option<Arc<RsaKeyPair>>,
    ec: Option<Arc<EcdsaKeyPair>>,
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Response {
    shared.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    if let Some(status) = *lock(&shared.discovery_status) {
        return StatusCode::from_u16(status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response();
    }
    let issuer = lock(&shared.discovery_issuer)
        .clone()
        .unwrap_or_else(|| shared.base.clone());
    let jwks_uri = lock(&shared.jwks_uri)
        .clone()
        .unwrap_or_else(|| format!("{}/jwks", shared.base));
    axum::Json(json!({
        "issuer": issuer, "jwks_uri": jwks_uri,
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
    }))
    .into_response()
}

fn key_set(shared: &Shared) -> Value {
    let keys: Vec<Value> = lock(&shared.keys)
        .iter()
        .filter(|k| k.published)
        .map(|k| k.jwk.clone())
        .collect();
    json!({ "keys": keys })
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let reply = lock(&shared.jwks_reply).clone();
    match reply {
        JwksReply::Keys => axum::Json(key_set(&shared)).into_response(),
        JwksReply::Status(s) => StatusCode::from_u16(s)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response(),
        JwksReply::Oversize => {
            let mut set = key_set(&shared);
            set["padding"] = Value::String("x".repeat(257 * 1024));
            axum::Json(set).into_response()
        }
        JwksReply::Redirect(to) => (StatusCode::FOUND, [(header::LOCATION, to)]).into_response(),
        JwksReply::Hang => {
            tokio::time::sleep(Duration::from_secs(600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    }
}

/// A JWKS at another path of the same host, for redirects.
async fn jwks_moved(State(shared): State<Arc<Shared>>) -> Response {
    shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    axum::Json(key_set(&shared)).into_response()
}
