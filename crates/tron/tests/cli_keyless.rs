//! Keyless CI from the command line: `tron trust-policies` and
//! `tron auth exchange`, the built binary against the in-process server
//! trusting a local OIDC issuer (`tron_oidc::testing::TestIssuer`), and a
//! fake GitHub Actions runner endpoint for the job's ID token.
use std::path::Path;
use std::sync::{Arc, Mutex};

use assert_cmd::Command;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tron_core::clock::SystemClock;
use tron_core::token::ServerSecret;
use tron_oidc::testing::TestIssuer;
use tron_server::{AppState, Config};
use tron_store::Store;

const ADMIN: &str = "root@example.com";
const PASSWORD: &str = "correct horse battery staple";
const GITHUB_ACTIONS: &str = "https://token.actions.githubusercontent.com";
const AUDIENCE: &str = "tron-cli-test";
const RUNNER_SECRET: &str = "runner-request-token";

struct Server {
    url: String,
    idp: TestIssuer,
    config: tempfile::TempDir,
    /// A config directory with no saved session: a CI job's.
    ci_home: tempfile::TempDir,
    _db: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
}

impl Server {
    fn start() -> Server {
        let db = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/tron.db", db.path().display());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (addr, idp) = runtime.block_on(async {
            let idp = TestIssuer::start().await.expect("issuer");
            let store = Store::connect_with(&url, 4).await.expect("store");
            store.migrate().await.expect("migrate");
            tron_server::bootstrap::ensure_admin(&store, Some(ADMIN.into()), Some(PASSWORD.into()))
                .await
                .expect("bootstrap");
            let secret =
                ServerSecret::new(b"tron cli test secret, thirty-two bytes or more".to_vec())
                    .expect("secret");
            let mut config = Config::new(secret);
            let list = format!("{},{GITHUB_ACTIONS}", idp.issuer());
            config.oidc_issuers = tron_oidc::TrustedIssuers::parse(Some(&list)).expect("issuers");
            let state = AppState::with_clock(store, config, Arc::new(SystemClock));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            tokio::spawn(async move {
                let _ = tron_server::serve(listener, state, std::future::pending()).await;
            });
            (addr, idp)
        });
        Server {
            url: format!("http://{addr}"),
            idp,
            config: tempfile::tempdir().expect("temp dir"),
            ci_home: tempfile::tempdir().expect("temp dir"),
            _db: db,
            runtime,
        }
    }

    fn base(&self, home: &Path) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tron"));
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home)
            .env("TRON_URL", &self.url);
        c
    }

    /// `tron` as the signed-in admin.
    fn admin(&self) -> Command {
        let mut c = self.base(self.config.path());
        c.env("TRON_ORG", "Acme");
        c
    }

    /// `tron` as a CI job: no saved session, no TRON_TOKEN.
    fn ci(&self) -> Command {
        self.base(self.ci_home.path())
    }

    /// Signs in, creates Acme, a staging environment, a service account `ci`
    /// with a policy trusting the local issuer's GitHub-like claims of
    /// owner 42 on main; answers the account's id.
    fn setup(&self) -> String {
        let out = self
            .base(self.config.path())
            .args(["login", "--email", ADMIN, "--password-stdin"])
            .write_stdin(format!("{PASSWORD}\n"))
            .output()
            .expect("run");
        assert!(out.status.success(), "{}", text(&out.stderr));
        ok(self.admin().args(["orgs", "create", "Acme"]));
        let sa = json(self.admin().args(["sa", "create", "ci", "-o", "json"]));
        let table = ok(self.admin().args([
            "trust-policies",
            "create",
            "main",
            "--sa",
            "ci",
            "--issuer",
            &self.idp.issuer(),
            "--audience",
            AUDIENCE,
            "--condition",
            "repository_owner_id=42",
            "--condition",
            "ref=refs/heads/main",
            "--ttl",
            "10m",
        ]));
        assert!(table.contains("name:"), "{table}");
        assert!(
            table.contains("conditions:      ref=refs/heads/main,repository_owner_id=42"),
            "{table}"
        );
        assert!(table.contains("token ttl:       600s"), "{table}");
        sa["id"].as_str().unwrap().to_owned()
    }

    /// A fresh GitHub-like ID token (new `jti`) for `aud`.
    fn id_token(&self, aud: &str, edit: impl FnOnce(&mut Value)) -> String {
        let mut claims = self.idp.github_claims(aud, chrono::Utc::now());
        edit(&mut claims);
        self.idp.sign(&claims)
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(c: &mut Command) -> String {
    let out = c.output().expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn fails(c: &mut Command, code: i32) -> (String, String) {
    let out = c.output().expect("run");
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    (text(&out.stdout), text(&out.stderr))
}

fn json(c: &mut Command) -> Value {
    let out = ok(c);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// The service token alone on one line.
fn single_token(stdout: &str) -> String {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(lines[0].starts_with("trn_sat_"), "{stdout}");
    lines[0].to_owned()
}

/// `tron whoami` with TRON_TOKEN=token: the service account's name.
fn whoami(s: &Server, token: &str) -> Value {
    json(
        s.ci()
            .env("TRON_TOKEN", token)
            .args(["whoami", "-o", "json"]),
    )
}

#[test]
fn an_id_token_file_or_tron_id_token_exchanges_for_a_working_token() {
    let s = Server::start();
    let sa = s.setup();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("id_token");
    let id_token = s.id_token(AUDIENCE, |_| {});
    std::fs::write(&file, format!("{id_token}\n")).unwrap();

    let out = s
        .ci()
        .args([
            "auth",
            "exchange",
            "--service-account",
            &sa,
            "--id-token-file",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let token = single_token(&text(&out.stdout));
    let me = whoami(&s, &token);
    assert_eq!(me["principal"]["type"], "service_account");
    assert_eq!(me["principal"]["name"], "ci");
    assert_eq!(me["token"]["kind"], "service");
    // Listed among the account's tokens as minted by the policy.
    let tokens = json(s.admin().args(["tokens", "list", "ci", "-o", "json"]));
    let minted: Vec<&Value> = tokens
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["source"] == "oidc")
        .collect();
    assert_eq!(minted.len(), 1, "{tokens}");
    assert_eq!(minted[0]["name"], "main");

    // The same ID token again: refused, naming RFC 6749's code, with
    // neither token in the message.
    let (stdout, stderr) = fails(
        s.ci()
            .args([
                "auth",
                "exchange",
                "--service-account",
                &sa,
                "--id-token-file",
            ])
            .arg(&file),
        1,
    );
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.starts_with("error: invalid_request: ") && stderr.contains("already exchanged"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!stderr.contains(&id_token) && !stderr.contains(&token));

    // GitLab's way: the ID token in TRON_ID_TOKEN; -o json is the answer.
    let answer = json(
        s.ci()
            .env("TRON_ID_TOKEN", s.id_token(AUDIENCE, |_| {}))
            .args(["auth", "exchange", "--service-account", &sa, "-o", "json"]),
    );
    assert_eq!(answer["token_type"], "Bearer");
    assert!(answer["expires_in"].as_i64().unwrap() <= 600);
    let second = answer["access_token"].as_str().unwrap();
    assert_ne!(second, token);
    assert_eq!(whoami(&s, second)["principal"]["name"], "ci");

    // A token the policy does not accept (another branch).
    let mismatch = s.id_token(AUDIENCE, |c| c["ref"] = json!("refs/heads/dev"));
    let (_, stderr) = fails(
        s.ci()
            .env("TRON_ID_TOKEN", &mismatch)
            .args(["auth", "exchange", "--service-account", &sa]),
        1,
    );
    assert_eq!(
        stderr.trim_end(),
        "error: invalid_request: no trust policy of this service account accepts this token"
    );
    // Another audience is refused the same way.
    let (_, stderr) = fails(
        s.ci()
            .env("TRON_ID_TOKEN", s.id_token("someone-else", |_| {}))
            .args(["auth", "exchange", "--service-account", &sa]),
        1,
    );
    assert!(stderr.starts_with("error: invalid_request: "), "{stderr}");

    // A name needs a token to be looked up: a CI job without one is told
    // to use the id (usage, exit 2) ...
    let (_, stderr) = fails(
        s.ci()
            .env("TRON_ID_TOKEN", s.id_token(AUDIENCE, |_| {}))
            .args(["auth", "exchange", "--service-account", "ci"]),
        2,
    );
    assert!(
        stderr.starts_with("error: usage: --service-account must be the service account's id"),
        "{stderr}"
    );
    // ... while with a token that may list service accounts (here the
    // admin's saved session) the name resolves.
    let out = ok(s
        .admin()
        .env("TRON_ID_TOKEN", s.id_token(AUDIENCE, |_| {}))
        .args(["auth", "exchange", "--service-account", "ci"]));
    single_token(&out);

    // No ID token anywhere: a usage error.
    let (_, stderr) = fails(
        s.ci().args(["auth", "exchange", "--service-account", &sa]),
        2,
    );
    assert!(stderr.starts_with("error: usage: no ID token"), "{stderr}");
}

/// One request to the runner: its Authorization, `audience`, `api-version`.
type Call = (Option<String>, Option<String>, Option<String>);

/// What the fake runner saw and serves.
#[derive(Default)]
struct Runner {
    id_token: Mutex<Option<String>>,
    calls: Mutex<Vec<Call>>,
}

async fn runner_token(
    State(r): State<Arc<Runner>>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    r.calls.lock().unwrap().push((
        auth.clone(),
        q.get("audience").cloned(),
        q.get("api-version").cloned(),
    ));
    if auth.as_deref() != Some(&format!("bearer {RUNNER_SECRET}")) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if q.get("audience").map(String::as_str) != Some(AUDIENCE) {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let value = r.id_token.lock().unwrap().take();
    Json(json!({"count": 1, "value": value})).into_response()
}

#[test]
fn in_github_actions_it_asks_the_runner_and_github_env_gets_the_masked_token() {
    let s = Server::start();
    let sa = s.setup();
    let runner = Arc::new(Runner::default());
    let runner_url = s.runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/token", get(runner_token))
            .with_state(runner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        // As the runner writes it: with a query string already.
        format!("http://{addr}/token?api-version=2.0")
    });
    let github = |secret: &str| {
        let mut c = s.ci();
        c.env("ACTIONS_ID_TOKEN_REQUEST_URL", &runner_url)
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", secret);
        c
    };

    *runner.id_token.lock().unwrap() = Some(s.id_token(AUDIENCE, |_| {}));
    let out = ok(github(RUNNER_SECRET).args([
        "auth",
        "exchange",
        "--service-account",
        &sa,
        "--audience",
        AUDIENCE,
    ]));
    let token = single_token(&out);
    assert_eq!(whoami(&s, &token)["principal"]["name"], "ci");
    assert_eq!(
        runner.calls.lock().unwrap().last().unwrap(),
        &(
            Some(format!("bearer {RUNNER_SECRET}")),
            Some(AUDIENCE.to_owned()),
            Some("2.0".to_owned())
        )
    );

    // --github-env: the mask line alone on stdout, the token in the file.
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("github_env");
    std::fs::write(&env_file, "EARLIER=1\n").unwrap();
    *runner.id_token.lock().unwrap() = Some(s.id_token(AUDIENCE, |_| {}));
    let out = github(RUNNER_SECRET)
        .env("GITHUB_ENV", &env_file)
        .args([
            "auth",
            "exchange",
            "--service-account",
            &sa,
            "--audience",
            AUDIENCE,
            "--github-env",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let masked = lines[0]
        .strip_prefix("::add-mask::")
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(masked.starts_with("trn_sat_"));
    assert!(!text(&out.stderr).contains(masked));
    let written = std::fs::read_to_string(&env_file).unwrap();
    assert_eq!(written, format!("EARLIER=1\nTRON_TOKEN={masked}\n"));
    assert_eq!(whoami(&s, masked)["principal"]["name"], "ci");

    // A wrong runner secret: the runner refuses; the error names the
    // failure, not the secret.
    let calls = runner.calls.lock().unwrap().len();
    let (_, stderr) = fails(
        github("wrong-secret").args([
            "auth",
            "exchange",
            "--service-account",
            &sa,
            "--audience",
            AUDIENCE,
        ]),
        1,
    );
    assert!(
        stderr.starts_with("error: id_token_unavailable: ") && stderr.contains("401"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-secret"));
    assert_eq!(runner.calls.lock().unwrap().len(), calls + 1);

    // The runner's token for another audience than the policy's (the
    // default audience is --url): refused by the runner here.
    fails(
        github(RUNNER_SECRET).args(["auth", "exchange", "--service-account", &sa]),
        1,
    );
    assert_eq!(
        runner.calls.lock().unwrap().last().unwrap().1.as_deref(),
        Some(s.url.as_str())
    );

    // --github-env outside GitHub Actions is a usage error.
    let (_, stderr) = fails(
        s.ci()
            .env("TRON_ID_TOKEN", s.id_token(AUDIENCE, |_| {}))
            .args(["auth", "exchange", "--service-account", &sa, "--github-env"]),
        2,
    );
    assert!(stderr.contains("GITHUB_ENV"), "{stderr}");
}

#[test]
fn trust_policies_list_show_update_delete_and_presets() {
    let s = Server::start();
    s.setup();
    let list = ok(s.admin().args(["trust-policies", "list", "--sa", "ci"]));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines[0].starts_with("NAME ") && lines[0].contains("CONDITIONS"));
    assert!(lines[1].starts_with("main ") && lines[1].contains(AUDIENCE));

    let shown =
        json(
            s.admin()
                .args(["trust-policies", "show", "main", "--sa", "ci", "-o", "json"]),
        );
    assert_eq!(shown["issuer"], s.idp.issuer());
    assert_eq!(
        shown["conditions"],
        json!({"repository_owner_id": "42", "ref": "refs/heads/main"})
    );
    assert_eq!(shown["token_ttl_seconds"], 600);
    let id = shown["id"].as_str().unwrap().to_owned();

    // --condition on update replaces the conditions as a whole.
    let updated = json(s.admin().args([
        "trust-policies",
        "update",
        &id,
        "--sa",
        "ci",
        "--condition",
        "repository_id=100",
        "--ttl",
        "900",
        "--name",
        "any-branch",
        "-o",
        "json",
    ]));
    assert_eq!(updated["conditions"], json!({"repository_id": "100"}));
    assert_eq!(updated["token_ttl_seconds"], 900);
    assert_eq!(updated["name"], "any-branch");

    // GitHub preset: the issuer and the pinned id, other conditions added.
    let gh = json(s.admin().args([
        "trust-policies",
        "create",
        "gh",
        "--sa",
        "ci",
        "--audience",
        AUDIENCE,
        "--github-repository-id",
        "100",
        "--condition",
        "environment=production",
        "-o",
        "json",
    ]));
    assert_eq!(gh["issuer"], GITHUB_ACTIONS);
    assert_eq!(
        gh["conditions"],
        json!({"repository_id": "100", "environment": "production"})
    );
    assert_eq!(gh["token_ttl_seconds"], 900);
    // GitLab presets name gitlab.com, which this server does not trust:
    // the API's refusal names the field.
    let (_, stderr) = fails(
        s.admin().args([
            "trust-policies",
            "create",
            "gl",
            "--sa",
            "ci",
            "--audience",
            AUDIENCE,
            "--gitlab-project-id",
            "4242",
        ]),
        1,
    );
    assert!(stderr.starts_with("error: validation_error: "), "{stderr}");
    // GitHub's issuer without a pinned id: refused by the API.
    let (_, stderr) = fails(
        s.admin().args([
            "trust-policies",
            "create",
            "loose",
            "--sa",
            "ci",
            "--audience",
            AUDIENCE,
            "--issuer",
            GITHUB_ACTIONS,
            "--condition",
            "repository=acme/app",
        ]),
        1,
    );
    assert!(stderr.starts_with("error: validation_error: "), "{stderr}");
    // No issuer and no preset, or no condition: usage errors.
    fails(
        s.admin().args([
            "trust-policies",
            "create",
            "x",
            "--sa",
            "ci",
            "--audience",
            AUDIENCE,
            "--condition",
            "a=b",
        ]),
        2,
    );
    fails(
        s.admin().args([
            "trust-policies",
            "create",
            "x",
            "--sa",
            "ci",
            "--audience",
            AUDIENCE,
            "--issuer",
            GITHUB_ACTIONS,
        ]),
        2,
    );
    fails(
        s.admin().args([
            "trust-policies",
            "create",
            "x",
            "--sa",
            "ci",
            "--audience",
            AUDIENCE,
            "--github-owner-id",
            "1",
            "--gitlab-project-id",
            "2",
        ]),
        2,
    );

    let out = ok(s
        .admin()
        .args(["trust-policies", "delete", "gh", "--sa", "ci"]));
    assert!(out.contains("Deleted trust policy gh of ci."), "{out}");
    let left = json(
        s.admin()
            .args(["trust-policies", "list", "--sa", "ci", "-o", "json"]),
    );
    let names: Vec<&str> = left
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["any-branch"]);
    let (_, stderr) = fails(
        s.admin()
            .args(["trust-policies", "show", "gh", "--sa", "ci"]),
        1,
    );
    assert!(stderr.starts_with("error: not_found: "), "{stderr}");
}
