//! The `tron` command-line client as a user runs it: the built binary,
//! driven with `assert_cmd`, against the real server started in-process on
//! port 0 over a fresh SQLite database, with its own config directory.
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;

use assert_cmd::Command;
use serde_json::Value;
use tron_core::clock::SystemClock;
use tron_core::token::ServerSecret;
use tron_server::{AppState, Config};
use tron_store::Store;

const ADMIN: &str = "root@example.com";
const PASSWORD: &str = "correct horse battery staple";

/// The server on its own runtime and thread; dropped with the test.
struct Server {
    url: String,
    config: tempfile::TempDir,
    _db: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    fn start() -> Server {
        Self::start_with(|_| {})
    }

    /// A server whose configuration `configure` adjusts first.
    fn start_with(configure: impl FnOnce(&mut Config)) -> Server {
        let db = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/tron.db", db.path().display());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let addr = runtime.block_on(async {
            let store = Store::connect_with(&url, 4).await.expect("store");
            store.migrate().await.expect("migrate");
            tron_server::bootstrap::ensure_admin(&store, Some(ADMIN.into()), Some(PASSWORD.into()))
                .await
                .expect("bootstrap");
            let secret =
                ServerSecret::new(b"tron cli test secret, thirty-two bytes or more".to_vec())
                    .expect("secret");
            let mut config = Config::new(secret);
            configure(&mut config);
            let state = AppState::with_clock(store, config, Arc::new(SystemClock));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            tokio::spawn(async move {
                let _ = tron_server::serve(listener, state, std::future::pending()).await;
            });
            addr
        });
        Server {
            url: format!("http://{addr}"),
            config: tempfile::tempdir().expect("temp dir"),
            _db: db,
            _runtime: runtime,
        }
    }

    /// `tron` with only this test's environment: its server, its config
    /// directory, no token.
    fn tron(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tron"));
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.config.path())
            .env("XDG_CONFIG_HOME", self.config.path())
            .env("TRON_URL", &self.url);
        c
    }

    /// `tron` presenting `token` (TRON_TOKEN), in organization Acme.
    fn as_token(&self, token: &str) -> Command {
        let mut c = self.tron();
        c.env("TRON_TOKEN", token).env("TRON_ORG", "Acme");
        c
    }

    /// Creates a user through the API as the signed-in superuser (the CLI
    /// has no user commands).
    fn create_user(&self, email: &str) {
        let saved: toml::Table =
            toml::from_str(&std::fs::read_to_string(self.credentials()).unwrap()).unwrap();
        let session = saved["servers"][&self.url]["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let body = tron_client::CreateUser {
            email: tron_client::Email::parse("email", email).unwrap(),
            name: tron_client::DisplayName::parse("name", email).unwrap(),
            password: PASSWORD.into(),
            is_superuser: false,
        };
        self._runtime
            .block_on(
                tron_client::Client::new(&self.url)
                    .with_token(session)
                    .create_user(&body),
            )
            .expect("create user");
    }

    fn credentials(&self) -> PathBuf {
        self.config.path().join("tron").join("credentials.toml")
    }

    fn login(&self) {
        let out = self
            .tron()
            .args(["login", "--email", ADMIN, "--password-stdin"])
            .write_stdin(format!("{PASSWORD}\n"))
            .output()
            .expect("run");
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `c`, asserts exit status 0, answers stdout.
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

/// Runs `c`, asserts exit status `code`, answers (stdout, stderr).
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

/// The one error line: `error: <code>: <message>`.
fn assert_error(stderr: &str, code: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(
        lines[0].starts_with(&format!("error: {code}: ")),
        "expected error: {code}: …, got {stderr}"
    );
}

#[test]
fn login_saves_a_private_session_and_logout_forgets_it() {
    let s = Server::start();
    let (_, err) = fails(s.tron().arg("whoami"), 1);
    assert_error(&err, "not_signed_in");
    // An empty TRON_URL is the default address, not "".
    let (_, err) = fails(s.tron().env("TRON_URL", "").arg("whoami"), 1);
    assert!(err.contains("no token for http://127.0.0.1:8080:"), "{err}");

    let out = s
        .tron()
        .args(["login", "--password-stdin", "--email", ADMIN])
        .write_stdin(format!("{PASSWORD}\n"))
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("Signed in to {} as {ADMIN}", s.url)));

    let path = s.credentials();
    let mode = std::fs::metadata(&path).expect("file").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let saved: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let token = saved["servers"][&s.url]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(token.starts_with("trn_ses_"));
    // The session is never printed.
    assert!(!text(&out.stdout).contains(&token) && !text(&out.stderr).contains(&token));
    // No temporary file is left next to it.
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("credentials.toml")]);

    // Global options anywhere: before and after the command.
    let me = json(s.tron().args(["-o", "json", "whoami"]));
    assert_eq!(me["principal"]["email"], ADMIN);
    assert_eq!(me["token"]["kind"], "session");
    let me = json(s.tron().args(["whoami", "--output", "json"]));
    assert_eq!(me["principal"]["is_superuser"], true);
    let table = ok(s.tron().arg("whoami"));
    assert!(
        table.contains(ADMIN) && table.contains("session"),
        "{table}"
    );

    // A wrong password: the API's code, exit 1, nothing saved over.
    let (_, err) = fails(
        s.tron()
            .args(["login", "--email", ADMIN, "--password-stdin"])
            .write_stdin("wrong password\n"),
        1,
    );
    assert_error(&err, "invalid_credentials");
    assert!(!err.contains("wrong password"));

    ok(s.tron().arg("logout"));
    let saved: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(saved["servers"].as_table().unwrap().is_empty());
    // The session was ended on the server, not only forgotten.
    let (_, err) = fails(s.as_token(&token).arg("whoami"), 1);
    assert_error(&err, "token_revoked");
    let (_, err) = fails(s.tron().arg("whoami"), 1);
    assert_error(&err, "not_signed_in");
}

#[test]
fn usage_errors_exit_2_and_api_errors_exit_1_on_one_line() {
    let s = Server::start();
    s.login();
    fails(s.tron().args(["envs", "frobnicate"]), 2);
    fails(
        s.tron().args([
            "tokens",
            "create",
            "ci",
            "--name",
            "t",
            "--expires-in",
            "3y",
        ]),
        2,
    );
    fails(s.tron().args(["-o", "yaml", "whoami"]), 2);
    fails(s.tron().args(["can-i", "fly", "organization"]), 2);
    // Two organizations and no --org: which one is a usage error.
    ok(s.tron().args(["orgs", "create", "One"]));
    ok(s.tron().args(["orgs", "create", "Two"]));
    let (_, err) = fails(s.tron().args(["envs", "list"]), 2);
    assert!(err.starts_with("error: usage: "), "{err}");

    let (_, err) = fails(
        s.tron()
            .args(["--org", "One", "envs", "create", "Not A Slug"]),
        1,
    );
    assert_error(&err, "validation_error");
    assert!(!err.contains("Not A Slug"), "{err}");
    let (_, err) = fails(s.tron().args(["orgs", "show", "Nope"]), 1);
    assert_error(&err, "not_found");
    let (_, err) = fails(
        s.tron().args([
            "--org",
            "One",
            "envs",
            "show",
            "00000000-0000-0000-0000-000000000000",
        ]),
        1,
    );
    assert_error(&err, "not_found");
    ok(s.tron().args(["--org", "One", "envs", "create", "dev"]));
    let (_, err) = fails(s.tron().args(["--org", "One", "envs", "create", "dev"]), 1);
    assert_error(&err, "conflict");
    // A server that is not there.
    let (_, err) = fails(
        s.tron()
            .args(["--url", "http://127.0.0.1:9", "--token", "x", "whoami"]),
        1,
    );
    assert_error(&err, "unreachable");

    let bash = ok(s.tron().args(["completions", "bash"]));
    assert!(bash.contains("tron") && bash.contains("can-i"), "{bash}");
    ok(s.tron().args(["completions", "zsh"]));
    ok(s.tron().args(["completions", "fish"]));
    fails(s.tron().args(["completions", "powershell-ish"]), 2);
}

/// From nothing to a pipeline that may deploy to staging only.
#[test]
fn sets_up_ci_access_from_nothing() {
    let s = Server::start();
    s.login();
    let org = json(s.tron().args(["orgs", "create", "Acme", "-o", "json"]));
    assert_eq!(org["name"], "Acme");
    // One organization: no --org needed.
    ok(s.tron().args(["envs", "create", "staging"]));
    let acme = || {
        let mut c = s.tron();
        c.env("TRON_ORG", "Acme");
        c
    };
    let prod = json(acme().args(["envs", "create", "production", "-o", "json"]));
    let prod_id = prod["id"].as_str().unwrap().to_owned();
    let web = json(acme().args([
        "apps",
        "create",
        "web",
        "--repository",
        "git@x:acme/web",
        "-o",
        "json",
    ]));
    let web_id = web["id"].as_str().unwrap().to_owned();
    let envs = ok(acme().args(["envs", "list"]));
    let lines: Vec<&str> = envs.lines().collect();
    assert!(
        lines[0].starts_with("NAME ") && lines[0].contains("ID"),
        "{envs}"
    );
    assert_eq!(lines.len(), 3, "{envs}");
    // Aligned: every row's second column starts where the header's does.
    let col = lines[0].find("ID").unwrap();
    assert!(
        lines[1..]
            .iter()
            .all(|l| l[col..].len() >= 36 && &l[col - 2..col] == "  "),
        "{envs}"
    );

    let sa = json(acme().args([
        "sa",
        "create",
        "ci",
        "--description",
        "pipeline",
        "-o",
        "json",
    ]));
    assert_eq!(sa["status"], "active");
    let group = json(acme().args([
        "groups",
        "create",
        "deployers",
        "--role",
        "editor",
        "--scope",
        "environment:staging",
        "-o",
        "json",
    ]));
    assert_eq!(group["scope"]["type"], "environment");
    ok(acme().args(["groups", "add-member", "deployers", "ci"]));
    let members = json(acme().args(["groups", "members", "deployers", "-o", "json"]));
    assert_eq!(members[0]["service_account"]["name"], "ci");
    let shown = ok(acme().args(["groups", "show", "deployers"]));
    assert!(shown.contains("environment:staging"), "{shown}");

    // The token alone on stdout, its warning on stderr.
    let out = acme()
        .args([
            "tokens",
            "create",
            "ci",
            "--name",
            "deploy",
            "--expires-in",
            "30d",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let token = stdout.trim_end_matches('\n').to_owned();
    assert_eq!(stdout, format!("{token}\n"));
    assert!(token.starts_with("trn_sat_") && !token.contains(char::is_whitespace));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("warning: ") && stderr.contains("shown this once"),
        "{stderr}"
    );
    assert!(!stderr.contains(&token));

    // The pipeline's view.
    let me = json(s.as_token(&token).args(["whoami", "-o", "json"]));
    assert_eq!(me["principal"]["type"], "service_account");
    let yes = ok(s
        .as_token(&token)
        .args(["can-i", "update", "environment:staging"]));
    assert!(
        yes.starts_with("yes")
            && yes.contains("granted by deployers (editor on environment:staging)"),
        "{yes}"
    );
    let (no, _) = fails(
        s.as_token(&token)
            .args(["can-i", "update", &format!("environment:{prod_id}")]),
        1,
    );
    assert_eq!(no.trim(), "no");
    // An admin asks about the service account, by names.
    let (no, _) = fails(
        acme().args(["can-i", "create", "instance:web:production", "--as", "ci"]),
        1,
    );
    assert_eq!(no.trim(), "no");
    ok(acme().args(["can-i", "create", "instance:web:staging", "--as", "ci"]));
    let decision = json(acme().args(["can-i", "delete", "organization", "-o", "json"]));
    assert_eq!(decision["allowed"], true);

    // Deploy: the instance is created, then the deployment recorded.
    let out =
        ok(s.as_token(&token)
            .args(["deploy", &web_id, "staging", "web:1.0", "--version", "1.0"]));
    assert!(out.contains("Deployed web:1.0"), "{out}");
    let again = json(
        s.as_token(&token)
            .args(["deploy", &web_id, "staging", "web:1.1", "-o", "json"]),
    );
    assert_eq!(again["image"], "web:1.1");
    assert_eq!(again["created_by"]["type"], "service_account");
    let instances = json(acme().args(["apps", "instances", "web", "-o", "json"]));
    assert_eq!(instances.as_array().unwrap().len(), 1);
    assert_eq!(instances[0]["image"], "web:1.1");
    // Refused on production.
    let (_, err) = fails(
        s.as_token(&token)
            .args(["deploy", &web_id, &prod_id, "web:1.1"]),
        1,
    );
    assert!(
        err.starts_with("error: forbidden: ") || err.starts_with("error: not_found: "),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
    // People deploy by names.
    ok(acme().args(["deploy", "web", "production", "web:1.1"]));

    // Rotate with a grace period: both tokens work until the old one's
    // grace ends; the new one is printed alone.
    let rotated = ok(acme().args(["tokens", "rotate", "ci", "deploy", "--grace", "1h"]));
    let new_token = rotated.trim_end().to_owned();
    assert_eq!(rotated, format!("{new_token}\n"));
    assert!(new_token.starts_with("trn_sat_") && new_token != token);
    ok(s.as_token(&token).arg("whoami"));
    ok(s.as_token(&new_token).arg("whoami"));
    let tokens = json(acme().args(["tokens", "list", "ci", "-o", "json"]));
    let tokens = tokens.as_array().unwrap();
    assert_eq!(tokens.len(), 2);
    assert!(tokens
        .iter()
        .all(|t| t["status"] == "active" && t["name"] == "deploy"));
    let new_id = tokens
        .iter()
        .find(|t| new_token.ends_with(t["hint"].as_str().unwrap()))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Two active tokens named deploy: a name is ambiguous now, an id is not.
    let (_, err) = fails(acme().args(["tokens", "revoke", "ci", "deploy"]), 1);
    assert_error(&err, "ambiguous");
    ok(acme().args(["tokens", "revoke", "ci", &new_id]));
    let (_, err) = fails(s.as_token(&new_token).arg("whoami"), 1);
    assert_error(&err, "token_revoked");

    // Disable and enable.
    ok(acme().args(["sa", "disable", "ci"]));
    let (_, err) = fails(s.as_token(&token).arg("whoami"), 1);
    assert_error(&err, "principal_disabled");
    ok(acme().args(["sa", "enable", "ci"]));
    ok(s.as_token(&token).arg("whoami"));

    // The audit log, as JSON: the API's events.
    let events = json(acme().args([
        "audit",
        "--action",
        "service_token.*",
        "--since",
        "1h",
        "-o",
        "json",
    ]));
    let actions: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    // Newest first; the revoked and the disabled token were each refused once.
    assert_eq!(
        actions,
        [
            "service_token.rejected",
            "service_token.rejected",
            "service_token.revoke",
            "service_token.rotate",
            "service_token.create"
        ]
    );
    let by_ci = json(acme().args([
        "-o",
        "json",
        "audit",
        "--actor-type",
        "service_account",
        "--action",
        "deployment.create",
    ]));
    let images: Vec<&str> = by_ci
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["details"]["image"].as_str().unwrap())
        .collect();
    assert_eq!(images, ["web:1.1", "web:1.0"]);
    assert!(by_ci
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["actor"]["name"] == "ci"));
    let table = ok(acme().args(["audit", "--limit", "3"]));
    assert_eq!(table.lines().count(), 4, "{table}");
    assert!(table.starts_with("TIME"), "{table}");
    // No secret ever reached a file but the credentials file, nor the log.
    let everything = ok(acme().args(["audit", "--limit", "200", "-o", "json"]));
    assert!(!everything.contains(&token) && !everything.contains(&new_token));
}

#[test]
fn members_orgs_apps_and_groups_round_trip() {
    let s = Server::start();
    s.login();
    ok(s.tron().args(["orgs", "create", "Acme"]));
    let acme = || {
        let mut c = s.tron();
        c.env("TRON_ORG", "Acme");
        c
    };
    // The org by name, renamed, its settings changed.
    let o = json(acme().args([
        "orgs",
        "update",
        "--name",
        "Acme Corp",
        "--max-token-lifetime-days",
        "90",
        "-o",
        "json",
    ]));
    assert_eq!(o["name"], "Acme Corp");
    assert_eq!(o["settings"]["max_token_lifetime_days"], 90);
    let acme = || {
        let mut c = s.tron();
        c.env("TRON_ORG", "Acme Corp");
        c
    };
    // A token without expiry is now refused by the organization's policy.
    ok(acme().args(["sa", "create", "bot"]));
    let (_, err) = fails(acme().args(["tokens", "create", "bot", "--name", "t"]), 1);
    assert_error(&err, "expiry_required");
    let t = ok(acme().args([
        "tokens",
        "create",
        "bot",
        "--name",
        "t",
        "--expires-in",
        "7d",
    ]));
    assert!(t.starts_with("trn_sat_"));

    let list = ok(acme().args(["members", "list"]));
    assert!(list.contains(ADMIN) && list.contains("bot"), "{list}");
    let users = json(acme().args(["members", "list", "--type", "user", "-o", "json"]));
    assert_eq!(users.as_array().unwrap().len(), 1);
    let (_, err) = fails(acme().args(["members", "add", "nobody@example.com"]), 1);
    assert_error(&err, "not_found");
    s.create_user("bob@example.com");
    let bob = json(acme().args(["members", "add", "Bob@Example.com", "-o", "json"]));
    assert_eq!(bob["user"]["email"], "bob@example.com");
    assert_eq!(bob["principal_type"], "user");
    ok(acme().args(["sa", "create", "helper"]));
    ok(acme().args([
        "groups",
        "create",
        "ops",
        "--role",
        "viewer",
        "--scope",
        "organization",
    ]));
    // Members by email (any case) and by service account name.
    ok(acme().args(["groups", "add-member", "ops", "BOB@example.com"]));
    ok(acme().args(["groups", "add-member", "ops", "helper"]));
    let in_ops = json(acme().args(["groups", "members", "ops", "-o", "json"]));
    assert_eq!(in_ops.as_array().unwrap().len(), 2);
    // A service account leaves only by being deleted: the API's conflict.
    let (_, err) = fails(acme().args(["members", "remove", "helper"]), 1);
    assert_error(&err, "conflict");
    ok(acme().args(["members", "remove", "bob@example.com"]));
    let users = json(acme().args(["members", "list", "--type", "user", "-o", "json"]));
    assert_eq!(users.as_array().unwrap().len(), 1);
    ok(acme().args(["sa", "delete", "helper"]));
    ok(acme().args(["groups", "delete", "ops"]));

    ok(acme().args(["apps", "create", "api"]));
    let a = json(acme().args([
        "apps",
        "update",
        "api",
        "--name",
        "api2",
        "--repository",
        "r",
        "-o",
        "json",
    ]));
    assert_eq!(
        (a["name"].as_str(), a["repository"].as_str()),
        (Some("api2"), Some("r"))
    );
    let a = json(acme().args(["apps", "update", "api2", "--no-repository", "-o", "json"]));
    assert_eq!(a["repository"], Value::Null);
    ok(acme().args(["envs", "create", "dev"]));
    ok(acme().args(["envs", "update", "dev", "--name", "development"]));
    let g = json(acme().args([
        "groups",
        "create",
        "readers",
        "--role",
        "viewer",
        "--scope",
        "application:api2",
        "-o",
        "json",
    ]));
    assert_eq!(g["role"], "viewer");
    let g = json(acme().args([
        "groups",
        "update",
        "readers",
        "--role",
        "admin",
        "--scope",
        "organization",
        "-o",
        "json",
    ]));
    assert_eq!(
        (g["role"].as_str(), g["scope"]["type"].as_str()),
        (Some("admin"), Some("organization"))
    );
    ok(acme().args(["groups", "add-member", "readers", "bot"]));
    ok(acme().args(["groups", "remove-member", "readers", "bot"]));
    let g = json(acme().args(["groups", "show", "readers", "-o", "json"]));
    assert_eq!(g["member_count"], 0);
    ok(acme().args(["groups", "delete", "readers"]));
    ok(acme().args(["apps", "delete", "api2"]));
    ok(acme().args(["envs", "delete", "development"]));
    ok(acme().args(["sa", "delete", "bot"]));
    assert_eq!(
        json(acme().args(["apps", "list", "-o", "json"])),
        Value::Array(vec![])
    );
    assert_eq!(
        json(acme().args(["sa", "list", "-o", "json"])),
        Value::Array(vec![])
    );
    ok(acme().args(["orgs", "delete", "Acme Corp"]));
    assert_eq!(
        json(s.tron().args(["orgs", "list", "-o", "json"])),
        Value::Array(vec![])
    );
}

#[test]
fn audit_follow_prints_new_events_once_as_they_come() {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};

    let s = Server::start();
    s.login();
    ok(s.tron().args(["orgs", "create", "Acme"]));
    ok(s.tron().args(["envs", "create", "dev"]));
    /// Stops the follower even when an assertion fails.
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tron"))
        .env_clear()
        .env("HOME", s.config.path())
        .env("XDG_CONFIG_HOME", s.config.path())
        .env("TRON_URL", &s.url)
        .args([
            "audit",
            "--follow",
            "-o",
            "json",
            "--action",
            "environment.*",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().unwrap();
    let _stop = Stop(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let next = |rx: &std::sync::mpsc::Receiver<String>| -> Value {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("an event line");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    };
    // What was there, then what comes, one JSON object a line.
    let first = next(&rx);
    assert_eq!(
        (first["action"].as_str(), first["target"]["name"].as_str()),
        (Some("environment.create"), Some("dev"))
    );
    ok(s.tron().args(["envs", "create", "staging"]));
    ok(s.tron().args(["envs", "delete", "staging"]));
    let created = next(&rx);
    assert_eq!(
        (
            created["action"].as_str(),
            created["target"]["name"].as_str()
        ),
        (Some("environment.create"), Some("staging"))
    );
    let deleted = next(&rx);
    assert_eq!(deleted["action"], "environment.delete");
    // Nothing is printed twice across polls.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
            panic!("printed again: {line}");
        }
    }
}

#[test]
fn login_without_a_terminal_needs_password_stdin() {
    let s = Server::start();
    // stdin is not a terminal here: no prompt, a usage error instead.
    let (_, err) = fails(
        s.tron().args(["login", "--email", ADMIN]).write_stdin(""),
        2,
    );
    assert!(
        err.starts_with("error: usage: ") && err.contains("--password-stdin"),
        "{err}"
    );
    let (_, err) = fails(
        s.tron()
            .args(["login", "--password-stdin"])
            .write_stdin("x\n"),
        2,
    );
    assert!(err.contains("--email"), "{err}");
    assert!(!s.credentials().exists());
}

/// A pipeline in an editor group scoped to staging only cannot view the
/// application, yet deploys by names: the application's name comes from
/// staging's instances (SPEC §4, §9).
#[test]
fn a_staging_only_pipeline_deploys_by_names() {
    let s = Server::start();
    s.login();
    ok(s.tron().args(["orgs", "create", "Acme"]));
    let acme = || {
        let mut c = s.tron();
        c.env("TRON_ORG", "Acme");
        c
    };
    ok(acme().args(["envs", "create", "staging"]));
    ok(acme().args(["envs", "create", "production"]));
    ok(acme().args(["apps", "create", "web"]));
    ok(acme().args(["apps", "create", "api"]));
    // Staging already runs web (the admin put it there).
    ok(acme().args(["deploy", "web", "staging", "web:0.9"]));
    ok(acme().args(["sa", "create", "ci"]));
    ok(acme().args([
        "groups",
        "create",
        "staging-deployers",
        "--role",
        "editor",
        "--scope",
        "environment:staging",
    ]));
    ok(acme().args(["groups", "add-member", "staging-deployers", "ci"]));
    let token = ok(acme().args(["tokens", "create", "ci", "--name", "deploy"]))
        .trim()
        .to_owned();

    // The application is out of the pipeline's view ...
    let (_, err) = fails(s.as_token(&token).args(["apps", "show", "web"]), 1);
    assert!(
        err.starts_with("error: not_found: ") || err.starts_with("error: forbidden: "),
        "{err}"
    );
    // ... but staging's instances name it.
    let listed = ok(s.as_token(&token).args(["envs", "instances", "staging"]));
    let rows: Vec<&str> = listed.lines().collect();
    assert_eq!(rows.len(), 2, "{listed}");
    assert!(
        rows[1].starts_with("web ") && rows[1].contains("staging") && rows[1].contains("web:0.9"),
        "{listed}"
    );
    let out =
        ok(s.as_token(&token)
            .args(["deploy", "web", "staging", "web:1.0", "--version", "1.0"]));
    assert!(out.contains("Deployed web:1.0 to web staging"), "{out}");
    let deployed = json(acme().args(["apps", "instances", "web", "-o", "json"]));
    assert_eq!(deployed.as_array().unwrap().len(), 1, "{deployed}");
    assert_eq!(deployed[0]["image"], "web:1.0");
    assert_eq!(deployed[0]["application_name"], "web");
    assert_eq!(deployed[0]["environment_name"], "staging");
    // can-i resolves the instance by names the same way.
    let yes = ok(s
        .as_token(&token)
        .args(["can-i", "update", "instance:web:staging"]));
    assert!(yes.starts_with("yes"), "{yes}");
    // Production stays out of reach, by name too.
    let (_, err) = fails(
        s.as_token(&token)
            .args(["deploy", "web", "production", "web:1.0"]),
        1,
    );
    assert_error(&err, "not_found");
    // By production's id: `web` is found through staging's instance, and
    // the API refuses the deploy itself.
    let prod = json(acme().args(["envs", "show", "production", "-o", "json"]));
    let prod_id = prod["id"].as_str().expect("id");
    let (_, err) = fails(
        s.as_token(&token)
            .args(["deploy", "web", prod_id, "web:1.0"]),
        1,
    );
    assert_error(&err, "forbidden");
    // An application with no instance in any environment it may view
    // cannot be found by name
    // (its id is needed to create the first one).
    let (_, err) = fails(
        s.as_token(&token)
            .args(["deploy", "api", "staging", "api:1.0"]),
        1,
    );
    assert!(
        err.starts_with("error: not_found: ") || err.starts_with("error: forbidden: "),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// `tron webhooks`: the secret printed once, a ping delivered and signed,
/// the delivery log, a redelivery with the same webhook-id, a rotated
/// secret, pause and delete.
#[test]
fn webhooks_from_the_command_line() {
    let s = Server::start_with(|c| {
        c.webhook_allow_private = true;
        c.webhook_poll_interval = std::time::Duration::from_millis(20);
    });
    s.login();
    ok(s.tron().args(["orgs", "create", "Acme"]));
    let rx = s
        ._runtime
        .block_on(tron_webhooks::testing::TestReceiver::start(
            tron_webhooks::WebhookSecret::generate(),
        ))
        .expect("receiver");
    let out = s
        .tron()
        .args([
            "--org",
            "Acme",
            "webhooks",
            "create",
            &rx.url(),
            "--events",
            "*",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let secret = text(&out.stdout);
    let secret = secret.trim();
    assert!(
        secret.starts_with("whsec_") && !secret.contains('\n'),
        "{secret}"
    );
    assert!(text(&out.stderr).contains("shown this once"));
    rx.set_secret(tron_webhooks::WebhookSecret::parse(secret).expect("secret"));

    let listed: Value = serde_json::from_str(&ok(s
        .tron()
        .args(["--org", "Acme", "webhooks", "list", "-o", "json"])))
    .unwrap();
    assert_eq!(listed[0]["url"], rx.url());
    assert_eq!(listed[0]["events"], serde_json::json!(["*"]));
    // By URL wherever an id is wanted.
    let pinged = ok(s
        .tron()
        .args(["--org", "Acme", "webhooks", "ping", &rx.url()]));
    assert!(pinged.starts_with("Queued a ping"), "{pinged}");
    let got = s
        ._runtime
        .block_on(rx.wait_for(1, std::time::Duration::from_secs(10)))
        .expect("the ping");
    assert!(got[0].verified.is_ok());
    let deliveries = || -> Value {
        serde_json::from_str(&ok(s.tron().args([
            "--org",
            "Acme",
            "webhooks",
            "deliveries",
            &rx.url(),
            "-o",
            "json",
        ])))
        .unwrap()
    };
    let mut d = deliveries();
    for _ in 0..200 {
        if d[0]["status"] == "delivered" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
        d = deliveries();
    }
    assert_eq!(d[0]["status"], "delivered", "{d}");
    assert_eq!(d[0]["last_status_code"], 200);
    let delivery = d[0]["id"].as_str().unwrap().to_owned();
    ok(s.tron().args([
        "--org",
        "Acme",
        "webhooks",
        "redeliver",
        &rx.url(),
        &delivery,
    ]));
    let got = s
        ._runtime
        .block_on(rx.wait_for(2, std::time::Duration::from_secs(10)))
        .expect("the redelivery");
    assert_eq!(got[0].webhook_id(), got[1].webhook_id());

    let rotated = ok(s
        .tron()
        .args(["--org", "Acme", "webhooks", "rotate-secret", &rx.url()]));
    assert!(rotated.trim().starts_with("whsec_") && rotated.trim() != secret);
    let paused = ok(s.tron().args([
        "--org",
        "Acme",
        "webhooks",
        "update",
        &rx.url(),
        "--active",
        "false",
        "-o",
        "json",
    ]));
    assert_eq!(
        serde_json::from_str::<Value>(&paused).unwrap()["active"],
        false
    );
    let out = s
        .tron()
        .args(["--org", "Acme", "webhooks", "ping", &rx.url()])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error: conflict:"),
        "{}",
        text(&out.stderr)
    );
    let out = s
        .tron()
        .args([
            "--org", "Acme", "webhooks", "create", "ftp://x", "--events", "*",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error: validation_error:"),
        "{}",
        text(&out.stderr)
    );
    ok(s.tron()
        .args(["--org", "Acme", "webhooks", "delete", &rx.url()]));
    let listed = ok(s
        .tron()
        .args(["--org", "Acme", "webhooks", "list", "-o", "json"]));
    assert_eq!(listed.trim(), "[]");
}
