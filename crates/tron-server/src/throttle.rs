//! Sliding-window counters for the login and leaked-token throttles.
//! Memory is bounded: keys idle for a whole window are evicted.
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use moka::sync::Cache;

#[derive(Clone)]
pub struct WindowCounter {
    window: Duration,
    limit: usize,
    hits: Cache<String, Arc<Mutex<VecDeque<DateTime<Utc>>>>>,
}

impl WindowCounter {
    pub fn new(window: Duration, limit: usize, max_keys: u64) -> Self {
        let idle = window.to_std().unwrap_or(StdDuration::from_secs(60));
        WindowCounter {
            window,
            limit,
            hits: Cache::builder()
                .max_capacity(max_keys)
                .time_to_idle(idle)
                .build(),
        }
    }

    /// `Some(retry_after_seconds)` while `key` is over its limit.
    pub fn blocked(&self, key: &str, now: DateTime<Utc>) -> Option<u64> {
        let entry = self.hits.get(key)?;
        let mut q = entry.lock().ok()?;
        while q.front().is_some_and(|t| *t <= now - self.window) {
            q.pop_front();
        }
        let blocked = if q.len() >= self.limit {
            let oldest = *q.front()?;
            let wait = (oldest + self.window - now).num_milliseconds().max(0);
            Some(((wait + 999) / 1000).max(1) as u64)
        } else {
            None
        };
        blocked
    }

    pub fn hit(&self, key: &str, now: DateTime<Utc>) {
        let entry = self.hits.get_with(key.to_owned(), Default::default);
        if let Ok(mut q) = entry.lock() {
            while q.front().is_some_and(|t| *t <= now - self.window) {
                q.pop_front();
            }
            q.push_back(now);
            // Never keep more than the limit needs.
            while q.len() > self.limit {
                q.pop_front();
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_limit_until_window_passes() {
        let c = WindowCounter::new(Duration::minutes(15), 5, 100);
        let t0 = Utc::now();
        for i in 0..5 {
            assert_eq!(c.blocked("a", t0), None, "{i}");
            c.hit("a", t0 + Duration::seconds(i));
        }
        let wait = c.blocked("a", t0 + Duration::seconds(10));
        assert_eq!(wait, Some(15 * 60 - 10));
        assert_eq!(c.blocked("b", t0), None);
        assert_eq!(
            c.blocked("a", t0 + Duration::minutes(15) + Duration::seconds(1)),
            None
        );
    }
}
