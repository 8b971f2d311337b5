//! The sessions saved by `tron login`: one entry per server URL in
//! `$XDG_CONFIG_HOME/tron/credentials.toml` (else
//! `~/.config/tron/credentials.toml`).
//!
//! Invariant: this file is the only place the CLI writes a token, and it is
//! only ever written whole, as a new file of mode 0600 renamed over the old
//! one, so it is never readable by others nor left half written.
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tron_client::Secret;

use super::error::{CliError, Result};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Credentials {
    #[serde(default)]
    pub servers: BTreeMap<String, Entry>,
}

/// One server's session. `Debug` shows no token (`Secret`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub token: Secret,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// The key of a server: its URL without a trailing slash.
pub fn key(url: &str) -> String {
    url.trim_end_matches('/').to_owned()
}

/// Where the file lives.
pub fn path() -> Result<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".config"),
            None => {
                return Err(CliError::failed(
                    "no_config_dir",
                    "neither XDG_CONFIG_HOME nor HOME is set",
                ))
            }
        },
    };
    Ok(base.join("tron").join("credentials.toml"))
}

impl Credentials {
    /// The saved sessions; none when the file does not exist.
    pub fn load(path: &Path) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => {
                return Err(CliError::failed(
                    "io_error",
                    format!("cannot read {}: {e}", path.display()),
                ))
            }
        };
        // toml's error quotes the offending line, which may hold a token.
        toml::from_str(&text).map_err(|_| {
            CliError::failed(
                "bad_credentials_file",
                format!("{} is not a tron credentials file", path.display()),
            )
        })
    }

    /// Writes the whole file: a new mode-0600 file next to it, synced, then
    /// renamed over it.
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = path
            .parent()
            .ok_or_else(|| CliError::failed("io_error", "the credentials path has no directory"))?;
        // The directory is private too when tron creates it.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let text = toml::to_string(self)
            .map_err(|e| CliError::failed("io_error", format!("cannot encode: {e}")))?;
        let tmp = dir.join(format!(".credentials.toml.{}.tmp", std::process::id()));
        // Left over by a run of the same pid that crashed mid-write.
        let _ = std::fs::remove_file(&tmp);
        let written = (|| -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(CliError::failed(
                "io_error",
                format!("cannot write {}: {e}", path.display()),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn saves_with_mode_0600_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tron").join("credentials.toml");
        let mut c = Credentials::default();
        c.servers.insert(
            key("http://h:1/"),
            Entry {
                token: Secret::from("trn_ses_x"),
                email: Some("a@b.c".into()),
                expires_at: None,
            },
        );
        c.save(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        // Saving again replaces the file whole.
        c.save(&path).unwrap();
        let back = Credentials::load(&path).unwrap();
        assert_eq!(back.servers["http://h:1"].token.expose(), "trn_ses_x");
        assert!(!format!("{back:?}").contains("trn_ses_x"));
        assert!(Credentials::load(&dir.path().join("none"))
            .unwrap()
            .servers
            .is_empty());
    }
}
