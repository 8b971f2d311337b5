//! Per-service-token rate limiting (GCRA, from `governor`), with the quota
//! of the token's organization. Limits are counted per instance, and with
//! Redis configured across instances too (`crate::shared`), whose answer
//! then decides; the instance's own count answers while Redis does not.
//! Memory is bounded: limiters of tokens idle for ten minutes are dropped,
//! and at most 100 000 are kept.
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use moka::sync::Cache;
use tron_core::ids::TokenId;

use crate::shared::SharedLimits;

type Gcra = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

/// One token's limiter, with its quota.
pub struct Limiter {
    per_minute: NonZeroU32,
    gcra: Gcra,
}

/// What the `RateLimit-*` headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateInfo {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the quota is full again.
    pub reset: u64,
    /// Set when the request is refused: seconds to wait.
    pub retry_after: Option<u64>,
}

pub struct TokenLimiter {
    limiters: Cache<(TokenId, u32), Arc<Limiter>>,
    clock: DefaultClock,
}

impl Default for TokenLimiter {
    fn default() -> Self {
        TokenLimiter {
            limiters: Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(600))
                .build(),
            clock: DefaultClock::default(),
        }
    }
}

impl TokenLimiter {
    /// Counts one request of `token` against `per_minute` (burst of the same
    /// size). A change of the organization's setting starts a new limiter.
    /// The token's limiter is remembered in `slot`, which lives in the cached
    /// token and so is dropped whenever the token or its organization's
    /// settings change; a new slot finds the same limiter again here.
    pub fn check_cached(
        &self,
        slot: &OnceLock<Arc<Limiter>>,
        token: TokenId,
        per_minute: u32,
    ) -> RateInfo {
        self.check_with(slot.get_or_init(|| self.limiter(token, per_minute)))
    }

    /// [`TokenLimiter::check_cached`], then the count across instances
    /// when `shared` is there and answers.
    pub async fn check(
        &self,
        shared: Option<&SharedLimits>,
        slot: &OnceLock<Arc<Limiter>>,
        token: TokenId,
        per_minute: u32,
        now: DateTime<Utc>,
    ) -> RateInfo {
        let local = self.check_cached(slot, token, per_minute);
        match shared {
            Some(shared) => shared.gcra(token, per_minute, now).await.unwrap_or(local),
            None => local,
        }
    }

    fn limiter(&self, token: TokenId, per_minute: u32) -> Arc<Limiter> {
        let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        self.limiters.get_with((token, n.get()), || {
            Arc::new(Limiter {
                per_minute: n,
                gcra: RateLimiter::direct(Quota::per_minute(n)).with_middleware(),
            })
        })
    }

    fn check_with(&self, limiter: &Limiter) -> RateInfo {
        let n = limiter.per_minute;
        let per_cell = 60.0 / f64::from(n.get());
        match limiter.gcra.check() {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let used = n.get().saturating_sub(remaining);
                RateInfo {
                    limit: n.get(),
                    remaining,
                    reset: (f64::from(used) * per_cell).ceil() as u64,
                    retry_after: None,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let retry = wait.as_secs_f64().ceil().max(1.0) as u64;
                RateInfo {
                    limit: n.get(),
                    remaining: 0,
                    reset: (f64::from(n.get()) * per_cell).ceil() as u64,
                    retry_after: Some(retry),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refusal() {
        let l = TokenLimiter::default();
        let t = TokenId::new();
        // Each cached entry of the token brings its own slot: a fresh slot
        // per call is an entry dropped and reloaded between requests, which
        // must not reset the quota.
        let check = |t, n| l.check_cached(&OnceLock::new(), t, n);
        let slot = OnceLock::new();
        for i in 0..5 {
            let info = if i % 2 == 0 {
                l.check_cached(&slot, t, 5)
            } else {
                check(t, 5)
            };
            assert_eq!(info.retry_after, None, "{i}");
            assert_eq!(info.remaining, 4 - i);
            assert_eq!(info.limit, 5);
        }
        for refused in [check(t, 5), l.check_cached(&slot, t, 5)] {
            assert!(
                refused.retry_after.is_some_and(|r| (1..=12).contains(&r)),
                "{refused:?}"
            );
            assert_eq!(refused.remaining, 0);
        }
        // Another token has its own quota; a new setting a new limiter.
        assert_eq!(check(TokenId::new(), 5).retry_after, None);
        assert_eq!(check(t, 6).retry_after, None);
    }
}
