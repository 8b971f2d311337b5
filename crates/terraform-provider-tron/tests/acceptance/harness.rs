//! The harness: the real server in-process over a fresh SQLite database, and
//! the real `terraform` binary pointed at the provider through a
//! `dev_overrides` CLI configuration (so no `terraform init`).
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use tron_client::{Client, OrganizationId};
use tron_core::clock::OffsetClock;
use tron_core::token::ServerSecret;
use tron_server::{AppState, Config};
use tron_store::Store;

pub const ADMIN_EMAIL: &str = "root@example.com";
pub const PASSWORD: &str = "correct horse battery staple";
pub const GITHUB_ACTIONS: &str = "https://token.actions.githubusercontent.com";

pub struct Server {
    pub base: String,
    _dir: tempfile::TempDir,
}

pub async fn start_server() -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/tron.db", dir.path().display());
    let store = Store::connect_with(&url, 8).await.expect("connect store");
    store.migrate().await.expect("migrate");
    tron_server::bootstrap::ensure_admin(&store, Some(ADMIN_EMAIL.into()), Some(PASSWORD.into()))
        .await
        .expect("bootstrap");
    let secret =
        ServerSecret::new(b"tron test secret, thirty-two bytes or more".to_vec()).expect("secret");
    let mut config = Config::new(secret);
    // The test's webhooks point at 127.0.0.1 over http.
    config.webhook_allow_private = true;
    config.oidc_issuers =
        tron_oidc::TrustedIssuers::parse(Some(GITHUB_ACTIONS)).expect("trusted issuers");
    let state = AppState::with_clock(store, config, Arc::new(OffsetClock::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        tron_server::serve(listener, state, std::future::pending::<()>())
            .await
            .expect("serve");
    });
    Server {
        base: format!("http://{addr}"),
        _dir: dir,
    }
}

pub struct Tf {
    pub dir: PathBuf,
    pub cli_config: PathBuf,
    pub url: String,
    pub token: String,
}

pub struct Run {
    pub code: i32,
    pub out: String,
}

impl Tf {
    /// A working folder `dir` whose CLI configuration points `tron/tron` at
    /// the provider binary built for this test.
    pub fn new(dir: &Path, url: &str, token: &str) -> Tf {
        let cli_config = dir.join("dev.tfrc");
        std::fs::write(
            &cli_config,
            format!(
                "provider_installation {{\n  dev_overrides {{\n    \"tron/tron\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
                provider_dir().display()
            ),
        )
        .expect("cli config");
        Tf {
            dir: dir.to_path_buf(),
            cli_config,
            url: url.to_owned(),
            token: token.to_owned(),
        }
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let out = Command::new("terraform")
            .args(args)
            .current_dir(&self.dir)
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("TRON_URL", &self.url)
            .env("TRON_TOKEN", &self.token)
            .env_remove("TF_LOG")
            .output()
            .expect("run terraform");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        println!("$ terraform {}\n{text}", args.join(" "));
        Run {
            code: out.status.code().unwrap_or(-1),
            out: text,
        }
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(r.code, 0, "terraform {args:?} failed:\n{}", r.out);
        r.out
    }

    pub fn apply(&self) -> String {
        self.ok(&["apply", "-auto-approve", "-input=false", "-no-color"])
    }

    /// `plan -detailed-exitcode` must find nothing to do.
    pub fn no_changes(&self) {
        let r = self.run(&["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
        assert_eq!(r.code, 0, "expected an empty plan:\n{}", r.out);
    }

    pub fn output(&self, name: &str) -> String {
        self.ok(&["output", "-raw", name])
            .lines()
            .last()
            .unwrap_or("")
            .trim()
            .to_owned()
    }

    pub fn write(&self, org: OrganizationId, body: &str) {
        let text = format!(
            r#"terraform {{
  required_providers {{
    tron = {{ source = "tron/tron" }}
  }}
}}
provider "tron" {{
  organization_id = "{org}"
}}
{body}
"#
        );
        std::fs::write(self.dir.join("main.tf"), text).expect("write main.tf");
    }
}

pub fn terraform_version() -> String {
    match Command::new("terraform").arg("version").output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned(),
        _ => panic!(
            "the `terraform` binary is not on the PATH: the provider's acceptance test needs \
             Terraform (1.11 or later) installed; it does not skip"
        ),
    }
}

pub fn provider_dir() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_terraform-provider-tron"));
    bin.parent().expect("binary folder").to_path_buf()
}

pub async fn works(api: &Client, token: &str) -> bool {
    api.with_token(token).me().await.is_ok()
}
