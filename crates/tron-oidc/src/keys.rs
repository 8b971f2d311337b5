//! The key cache: each trusted issuer's signing keys, fetched through its
//! discovery document and kept per issuer.
//!
//! Invariants:
//! - nothing is fetched for an issuer outside the trusted list;
//! - keys are fetched on first use and again once they are an hour old;
//! - a `kid` missing from fresh keys triggers a refetch at most once a
//!   minute per issuer (the first fetch and the hourly refresh do not count),
//!   so a flood of unknown `kid`s costs at most one fetch a minute;
//! - concurrent callers that need a fetch share one (single flight);
//! - each request times out (5 s), reads at most 256 KiB, uses no proxy and
//!   follows redirects only within the host it was sent to;
//! - a failed fetch is not retried for [`KeyCacheConfig::failure_backoff`];
//!   meanwhile keys fetched within the last 24 h keep being used.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tron_core::clock::Clock;

use crate::issuers::{Issuer, TrustedIssuers};
use crate::jwks::{KeySet, PublicKey};

#[derive(Debug, Clone)]
pub struct KeyCacheConfig {
    /// Per request (discovery, JWKS).
    pub timeout: Duration,
    /// Largest document read.
    pub max_document: usize,
    /// Keys older than this are fetched again.
    pub refresh: chrono::Duration,
    /// At most one refetch for an unknown `kid` per this, per issuer.
    pub unknown_kid_cooldown: chrono::Duration,
    /// After a failed fetch, no new attempt for this long.
    pub failure_backoff: chrono::Duration,
    /// While fetches fail, keys this young are still used.
    pub max_stale: chrono::Duration,
}

impl Default for KeyCacheConfig {
    fn default() -> Self {
        KeyCacheConfig {
            timeout: Duration::from_secs(5),
            max_document: 256 * 1024,
            refresh: chrono::Duration::hours(1),
            unknown_kid_cooldown: chrono::Duration::minutes(1),
            failure_backoff: chrono::Duration::seconds(10),
            max_stale: chrono::Duration::hours(24),
        }
    }
}

/// Why an issuer's keys could not be had. The server answers
/// `503 temporarily_unavailable`; the reason is for its log (it names no
/// token, only the issuer's documents).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("the request timed out")]
    Timeout,
    #[error("the issuer could not be reached")]
    Unreachable,
    #[error("the issuer answered HTTP {0}")]
    Status(u16),
    #[error("the document is larger than the limit")]
    TooLarge,
    #[error("the discovery document is not valid")]
    BadDiscovery,
    #[error("the discovery document names another issuer")]
    IssuerMismatch,
    #[error("the discovery document's jwks_uri is not an https:// URL (or http:// on loopback)")]
    BadJwksUri,
    #[error("the JWKS document is not valid")]
    BadJwks,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the issuer is not trusted")]
    UntrustedIssuer,
    #[error("no key of the issuer has this kid")]
    UnknownKid,
    #[error("the issuer's keys cannot be fetched: {0}")]
    Unavailable(FetchError),
}

#[derive(Default)]
struct State {
    keys: Option<Arc<KeySet>>,
    fetched_at: Option<DateTime<Utc>>,
    /// Bumped after every fetch attempt, so callers that waited for one
    /// look again instead of fetching again.
    generation: u64,
    last_kid_refetch: Option<DateTime<Utc>>,
    failure: Option<(DateTime<Utc>, FetchError)>,
    attempts: u64,
}

struct Entry {
    issuer: Issuer,
    state: Mutex<State>,
    fetching: tokio::sync::Mutex<()>,
}

pub struct KeyCache {
    issuers: TrustedIssuers,
    entries: HashMap<String, Arc<Entry>>,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
    config: KeyCacheConfig,
}

/// Rounds of [`KeyCache::key`] (each at most one fetch) before it answers
/// from what it has.
const MAX_ROUNDS: u32 = 3;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

enum Need {
    Refresh,
    KidRefetch,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl KeyCache {
    pub fn new(
        issuers: TrustedIssuers,
        clock: Arc<dyn Clock>,
        config: KeyCacheConfig,
    ) -> Result<KeyCache, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let first = attempt.previous().first();
                let same = first.is_some_and(|f| {
                    f.scheme() == attempt.url().scheme()
                        && f.host_str() == attempt.url().host_str()
                        && f.port_or_known_default() == attempt.url().port_or_known_default()
                });
                if same && attempt.previous().len() < 5 {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }))
            .user_agent("tron-oidc")
            .build()?;
        let entries = issuers
            .iter()
            .map(|i| {
                let entry = Entry {
                    issuer: i.clone(),
                    state: Mutex::new(State::default()),
                    fetching: tokio::sync::Mutex::new(()),
                };
                (i.as_str().to_owned(), Arc::new(entry))
            })
            .collect();
        Ok(KeyCache {
            issuers,
            entries,
            client,
            clock,
            config,
        })
    }

    pub fn issuers(&self) -> &TrustedIssuers {
        &self.issuers
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// How many fetches have been attempted for `iss` (for metrics and
    /// tests).
    pub fn fetch_attempts(&self, iss: &str) -> u64 {
        self.entries.get(iss).map_or(0, |e| lock(&e.state).attempts)
    }

    /// The key `kid` of the trusted issuer `iss`, fetching as the rules
    /// allow.
    pub async fn key(&self, iss: &str, kid: &str) -> Result<Arc<PublicKey>, KeyError> {
        let entry = self.entries.get(iss).ok_or(KeyError::UntrustedIssuer)?;
        // Each round fetches at most once; the rules end the loop after one
        // or two, the cap guards against a configuration of zero durations.
        for round in 0.. {
            let now = self.clock.now();
            let (need, generation) = {
                let s = lock(&entry.state);
                if round >= MAX_ROUNDS {
                    return match &s.keys {
                        Some(keys) => keys.get(kid).ok_or(KeyError::UnknownKid),
                        None => Err(KeyError::Unavailable(
                            s.failure
                                .as_ref()
                                .map_or(FetchError::Unreachable, |(_, e)| e.clone()),
                        )),
                    };
                }
                let fresh = s.fetched_at.is_some_and(|t| now - t < self.config.refresh);
                let failed_recently = s
                    .failure
                    .as_ref()
                    .is_some_and(|(at, _)| now - *at < self.config.failure_backoff);
                match (&s.keys, fresh) {
                    (Some(keys), true) => match keys.get(kid) {
                        Some(key) => return Ok(key),
                        None => {
                            // The keys are fresh, so a recent failure is
                            // this kid's refetch: whether the issuer has
                            // rotated to it cannot be told (503, not 400).
                            if let (true, Some((_, e))) = (failed_recently, &s.failure) {
                                return Err(KeyError::Unavailable(e.clone()));
                            }
                            let may = s
                                .last_kid_refetch
                                .is_none_or(|t| now - t >= self.config.unknown_kid_cooldown);
                            if !may {
                                return Err(KeyError::UnknownKid);
                            }
                            (Need::KidRefetch, s.generation)
                        }
                    },
                    _ if failed_recently => {
                        let usable = s
                            .fetched_at
                            .is_some_and(|t| now - t < self.config.max_stale);
                        return match (&s.keys, usable) {
                            (Some(keys), true) => keys.get(kid).ok_or(KeyError::UnknownKid),
                            _ => Err(KeyError::Unavailable(
                                s.failure
                                    .as_ref()
                                    .map_or(FetchError::Unreachable, |(_, e)| e.clone()),
                            )),
                        };
                    }
                    _ => (Need::Refresh, s.generation),
                }
            };
            let _flight = entry.fetching.lock().await;
            {
                let mut s = lock(&entry.state);
                if s.generation != generation {
                    // Another caller fetched while this one waited.
                    continue;
                }
                if let Need::KidRefetch = need {
                    s.last_kid_refetch = Some(now);
                }
                s.attempts += 1;
            }
            let result = self.fetch(&entry.issuer).await;
            let mut s = lock(&entry.state);
            let at = self.clock.now();
            match result {
                Ok(keys) => {
                    s.keys = Some(Arc::new(keys));
                    s.fetched_at = Some(at);
                    s.failure = None;
                }
                Err(e) => s.failure = Some((at, e)),
            }
            s.generation += 1;
        }
        Err(KeyError::UnknownKid)
    }

    async fn fetch(&self, issuer: &Issuer) -> Result<KeySet, FetchError> {
        let body = self.get(&issuer.discovery_url()).await?;
        let discovery: Discovery =
            serde_json::from_slice(&body).map_err(|_| FetchError::BadDiscovery)?;
        if discovery.issuer != issuer.as_str() {
            return Err(FetchError::IssuerMismatch);
        }
        // The same rule as for issuers: https, or http on loopback.
        Issuer::parse(&discovery.jwks_uri).map_err(|_| FetchError::BadJwksUri)?;
        let body = self.get(&discovery.jwks_uri).await?;
        KeySet::parse(&body).map_err(|_| FetchError::BadJwks)
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let classify = |e: reqwest::Error| {
            if e.is_timeout() {
                FetchError::Timeout
            } else {
                FetchError::Unreachable
            }
        };
        let mut response = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(classify)?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status(status.as_u16()));
        }
        let max = self.config.max_document;
        if response
            .content_length()
            .is_some_and(|len| len > max as u64)
        {
            return Err(FetchError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > max {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}
