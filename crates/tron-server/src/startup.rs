//! What `tron serve` needs before the server can start: the server secret
//! (from `TRON_SECRET_KEY`, or on SQLite a key file beside the database),
//! the migrated store, the trusted proxies and the trusted OIDC issuers. Kept out of the binary's
//! `main.rs`, which only reads flags and prints where to log in.
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use ipnet::IpNet;
use tron_core::token::ServerSecret;
use tron_store::{sqlite_path, Backend, Store};

/// `TRON_SECRET_KEY`, or on SQLite a key file beside the database.
pub fn load_secret(url: &str) -> Result<ServerSecret> {
    if let Ok(key) = std::env::var("TRON_SECRET_KEY") {
        return ServerSecret::new(key.into_bytes())
            .map_err(|e| anyhow::anyhow!("TRON_SECRET_KEY: {e}"));
    }
    match Backend::from_url(url).map_err(|e| anyhow::anyhow!("{e}"))? {
        Backend::Postgres => bail!(
            "TRON_SECRET_KEY is required with PostgreSQL: every instance must share the same secret (at least 32 bytes)"
        ),
        Backend::Sqlite => {
            let db = sqlite_path(url).context("an in-memory SQLite database needs TRON_SECRET_KEY")?;
            let dir = db.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            key_file(&dir.join("secret.key"))
        }
    }
}

fn key_file(path: &Path) -> Result<ServerSecret> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if path.exists() {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let bytes = hex::decode(text.trim())
            .with_context(|| format!("{} is not a hex key", path.display()))?;
        return ServerSecret::new(bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
    }
    let secret = ServerSecret::generate();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    writeln!(f, "{}", hex::encode(secret.as_bytes()))?;
    tracing::info!(path = %path.display(), "generated a new server secret");
    Ok(secret)
}

pub async fn open_store(url: &str) -> Result<Store> {
    let store = Store::connect(url)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    store.migrate().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(store)
}

/// `TRON_TRUSTED_PROXIES`: CIDRs or plain addresses; empty items are
/// skipped.
pub fn trusted_proxies(items: &[String]) -> Result<Vec<IpNet>> {
    items
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|cidr| {
            IpNet::from_str(cidr)
                .or_else(|_| std::net::IpAddr::from_str(cidr).map(IpNet::from))
                .with_context(|| format!("TRON_TRUSTED_PROXIES: {cidr:?} is not a CIDR"))
        })
        .collect()
}

/// `TRON_OIDC_ISSUERS`; unset, GitHub Actions and gitlab.com.
pub fn oidc_issuers(raw: Option<&str>) -> Result<tron_oidc::TrustedIssuers> {
    tron_oidc::TrustedIssuers::parse(raw).map_err(|e| anyhow::anyhow!("TRON_OIDC_ISSUERS: {e}"))
}

/// `TRON_REDIS_URL`: unset or empty, limits are counted per instance. A
/// URL that cannot be Redis's is refused at start (without repeating it:
/// it may hold a password); an unreachable server is not, it is tried
/// again while the server runs.
pub fn redis_client(url: Option<&str>) -> Result<Option<redis::Client>> {
    let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    if !(url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("unix://"))
    {
        bail!("TRON_REDIS_URL must start with redis://, rediss:// or unix://");
    }
    redis::Client::open(url)
        .map(Some)
        .map_err(|e| anyhow::anyhow!("TRON_REDIS_URL is not a Redis URL ({:?})", e.kind()))
}

/// `TRON_REDIS_KEY_PREFIX`: put before every key this deployment writes,
/// so that deployments sharing one Redis count apart. 1 to 64 printable
/// ASCII characters (no spaces); anything else is refused at start.
pub fn redis_key_prefix(raw: &str) -> Result<String> {
    let len = raw.chars().count();
    if !(1..=64).contains(&len) {
        bail!("TRON_REDIS_KEY_PREFIX must be 1 to 64 characters long (it is {len})");
    }
    if let Some(c) = raw.chars().find(|c| !c.is_ascii_graphic()) {
        bail!(
            "TRON_REDIS_KEY_PREFIX may hold only printable ASCII characters without spaces (found {:?})",
            c
        );
    }
    Ok(raw.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn oidc_issuers_name_the_bad_entry() {
        assert_eq!(oidc_issuers(None).unwrap().iter().count(), 2);
        let err = oidc_issuers(Some("http://ci.example"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("TRON_OIDC_ISSUERS: "), "{err}");
        assert!(err.contains("http://ci.example"), "{err}");
        assert!(oidc_issuers(Some("http://127.0.0.1:9000")).is_ok());
    }

    #[test]
    fn redis_urls_are_checked_without_being_repeated() {
        assert!(redis_client(None).unwrap().is_none());
        assert!(redis_client(Some(" ")).unwrap().is_none());
        assert!(redis_client(Some("redis://127.0.0.1:6379/0"))
            .unwrap()
            .is_some());
        let err = redis_client(Some("http://user:hunter2@cache"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("TRON_REDIS_URL"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn redis_key_prefixes_are_short_and_printable() {
        assert_eq!(redis_key_prefix("tron:").unwrap(), "tron:");
        assert_eq!(redis_key_prefix("prod-eu:").unwrap(), "prod-eu:");
        assert!(redis_key_prefix(&"p".repeat(64)).is_ok());
        let long = redis_key_prefix(&"p".repeat(65)).unwrap_err().to_string();
        assert!(
            long.starts_with("TRON_REDIS_KEY_PREFIX must be 1 to 64"),
            "{long}"
        );
        assert!(redis_key_prefix("").is_err());
        for bad in ["two words", "tab\t", "new\nline", "é:"] {
            let err = redis_key_prefix(bad).unwrap_err().to_string();
            assert!(err.contains("printable"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn trusted_proxies_take_cidrs_and_addresses() {
        let nets = trusted_proxies(&["10.0.0.0/8".into(), " ".into(), "192.0.2.1".into()]).unwrap();
        assert_eq!(nets.len(), 2);
        assert!(nets[1].contains(&"192.0.2.1".parse::<std::net::IpAddr>().unwrap()));
        assert!(trusted_proxies(&["nope".into()]).is_err());
    }

    #[test]
    fn a_generated_key_file_is_read_back_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("tron-key-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secret.key");
        let first = key_file(&path).unwrap();
        let again = key_file(&path).unwrap();
        assert_eq!(first.as_bytes(), again.as_bytes());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
