//! Password hashing with argon2id, off the async threads.
//!
//! Each hash or verification holds about 19 MiB for tens of milliseconds,
//! so the server runs a bounded number at once ([`Passwords`]); the rest
//! wait their turn for a while, then answer `429 rate_limited`.
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::rngs::OsRng;
use tokio::sync::Semaphore;
use tron_core::Error;

fn hash_now(password: &str) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("argon2: {e}")))
}

/// Hashes with no bound on how many run at once: for start-up and the
/// command line, never for a request.
pub async fn hash(password: String) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(Error::internal)?
}

/// A hash to verify against when the email is unknown, so that unknown
/// emails and wrong passwords take the same time.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_now("no such user, no such password").unwrap_or_default())
}

fn verify_now(password: &str, stored: Option<&str>) -> bool {
    let known = stored.is_some();
    let stored = stored.unwrap_or_else(|| dummy_hash());
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    ok && known
}

/// The argon2 work of requests, at most `permits` at once (each about
/// 19 MiB). A request waits at most `wait` for its turn, then answers
/// `429 rate_limited` (`Retry-After: 1`); the wait is well inside the
/// request timeout. A turn is held until the hash is done even when the
/// request is dropped meanwhile, so the bound is real.
pub struct Passwords {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl Passwords {
    pub fn new(permits: usize, wait: Duration) -> Self {
        Passwords {
            permits: Arc::new(Semaphore::new(permits.max(1))),
            wait,
        }
    }

    /// One at a time per core (argon2 is all computation; more at once
    /// would only share the cores), at most 8, waiting up to 10 seconds.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Passwords::new(cores.clamp(1, 8), Duration::from_secs(10))
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Error> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| {
                tracing::warn!("password checks are queued past their wait; answering 429");
                Error::RateLimited {
                    retry_after_secs: 1,
                }
            })?
            .map_err(Error::internal)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(Error::internal)
    }

    pub async fn hash(&self, password: String) -> Result<String, Error> {
        self.run(move || hash_now(&password)).await?
    }

    /// Whether `password` matches `stored`; with no stored hash (an unknown
    /// email) it takes as long and answers `false`.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, Error> {
        self.run(move || verify_now(&password, stored.as_deref()))
            .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verifies_and_bounds_the_work_at_once() {
        let p = Passwords::new(1, Duration::from_millis(1));
        let h = p.hash("correct horse".into()).await.expect("hash");
        assert!(p
            .verify("correct horse".into(), Some(h.clone()))
            .await
            .expect("ran"));
        assert!(!p.verify("wrong horse".into(), Some(h)).await.expect("ran"));
        assert!(!p.verify("correct horse".into(), None).await.expect("ran"));
        // With the only turn taken, the next waits 1 ms and gives up.
        let held = p.permits.clone().acquire_owned().await.expect("permit");
        let r = p.verify("x".into(), None).await;
        assert!(
            matches!(
                r,
                Err(Error::RateLimited {
                    retry_after_secs: 1
                })
            ),
            "{r:?}"
        );
        drop(held);
        assert!(p.verify("x".into(), None).await.is_ok());
    }
}
