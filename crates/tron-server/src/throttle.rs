//! Sliding-window counters for the login and leaked-token throttles.
//! Memory is bounded: keys idle for a whole window are evicted, and the
//! callers bound the length of a key.
//!
//! Checking and counting are one step under the key's lock, so a burst of
//! parallel attempts cannot all pass a check made before any of them is
//! counted: [`WindowCounter::try_hit`] counts at once, and
//! [`WindowCounter::reserve`] holds a place for an attempt whose outcome is
//! not known yet (a login whose password is being checked).
//!
//! A [`Throttle`] counts in Redis too when it is configured
//! (`crate::shared`): its answer then decides, and the local counter,
//! which counts every attempt all along, answers while Redis does not.
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use moka::sync::Cache;

use crate::shared::{SharedLimits, SharedSlot, Window as SharedWindow};

#[derive(Default)]
struct Window {
    /// Counted hits in the window, oldest first; never more than the limit.
    hits: VecDeque<DateTime<Utc>>,
    /// Attempts under way, each of which may yet become a hit.
    in_flight: usize,
}

type Entry = Arc<Mutex<Window>>;

fn lock(entry: &Entry) -> MutexGuard<'_, Window> {
    // Nothing panics while holding the lock; a poisoned one is still sound.
    entry.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Clone)]
pub struct WindowCounter {
    window: Duration,
    limit: usize,
    entries: Cache<String, Entry>,
}

impl WindowCounter {
    pub fn new(window: Duration, limit: usize, max_keys: u64) -> Self {
        let idle = window.to_std().unwrap_or(StdDuration::from_secs(60));
        WindowCounter {
            window,
            limit,
            entries: Cache::builder()
                .max_capacity(max_keys)
                .time_to_idle(idle)
                .build(),
        }
    }

    /// `Err(retry_after_seconds)` while `w` (hits and attempts under way)
    /// is at the limit. Hits older than the window are dropped first.
    fn check(&self, w: &mut Window, now: DateTime<Utc>) -> Result<(), u64> {
        while w.hits.front().is_some_and(|t| *t <= now - self.window) {
            w.hits.pop_front();
        }
        if w.hits.len() + w.in_flight < self.limit {
            return Ok(());
        }
        // An attempt under way ends within moments and may free its place;
        // otherwise the oldest hit must leave the window.
        let wait_ms = match w.hits.front() {
            Some(oldest) if w.in_flight == 0 => {
                (*oldest + self.window - now).num_milliseconds().max(0)
            }
            _ => 0,
        };
        Err(((wait_ms + 999) / 1000).max(1) as u64)
    }

    fn record(&self, w: &mut Window, at: DateTime<Utc>) {
        w.hits.push_back(at);
        // Never keep more than the limit needs.
        while w.hits.len() > self.limit {
            w.hits.pop_front();
        }
    }

    /// Counts a hit for `key` unless it is at its limit, in which case it
    /// answers `Err(retry_after_seconds)` and counts nothing.
    pub fn try_hit(&self, key: &str, now: DateTime<Utc>) -> Result<(), u64> {
        let entry = self.entries.get_with_by_ref(key, Default::default);
        let mut w = lock(&entry);
        self.check(&mut w, now)?;
        self.record(&mut w, now);
        Ok(())
    }

    /// Holds a place for an attempt on `key` whose outcome is not known yet,
    /// unless the hits and the attempts already under way fill the limit
    /// (`Err(retry_after_seconds)`). The attempt then ends with
    /// [`Slot::hit`] or [`Slot::release`]; one that ends otherwise (its
    /// request cancelled half-way) counts as a hit, so dropping the
    /// connection mid-attempt cannot escape the limit.
    pub fn reserve(&self, key: &str, now: DateTime<Utc>) -> Result<Slot, u64> {
        let entry = self.entries.get_with_by_ref(key, Default::default);
        {
            let mut w = lock(&entry);
            self.check(&mut w, now)?;
            w.in_flight += 1;
        }
        Ok(Slot {
            counter: self.clone(),
            entry: Some(entry),
            at: now,
        })
    }
}

/// A place held by [`WindowCounter::reserve`].
#[must_use = "a slot dropped without an outcome counts as a hit"]
pub struct Slot {
    counter: WindowCounter,
    entry: Option<Entry>,
    at: DateTime<Utc>,
}

impl Slot {
    /// The attempt counts (a failed login).
    pub fn hit(mut self) {
        self.finish(true);
    }

    /// The attempt does not count (a successful login, or one that never
    /// got as far as checking a password).
    pub fn release(mut self) {
        self.finish(false);
    }

    fn finish(&mut self, hit: bool) {
        if let Some(entry) = self.entry.take() {
            let mut w = lock(&entry);
            w.in_flight = w.in_flight.saturating_sub(1);
            if hit {
                self.counter.record(&mut w, self.at);
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.finish(true);
    }
}

/// A [`WindowCounter`] of this instance, shared through Redis when it is
/// configured.
pub struct Throttle {
    /// Names the throttle in its Redis keys.
    name: &'static str,
    window: Duration,
    limit: usize,
    local: WindowCounter,
    shared: Option<Arc<SharedLimits>>,
}

/// A place held by [`Throttle::reserve`]; dropped without an outcome, it
/// counts as a hit.
#[must_use = "a slot dropped without an outcome counts as a hit"]
pub struct ThrottleSlot {
    local: Slot,
    shared: Option<(Arc<SharedLimits>, SharedSlot)>,
}

impl Throttle {
    pub fn new(
        name: &'static str,
        window: Duration,
        limit: usize,
        shared: Option<Arc<SharedLimits>>,
    ) -> Self {
        Throttle {
            name,
            window,
            limit,
            local: WindowCounter::new(window, limit, 100_000),
            shared,
        }
    }

    /// [`WindowCounter::try_hit`], across instances.
    pub async fn try_hit(&self, key: &str, now: DateTime<Utc>) -> Result<(), u64> {
        let slot = self.reserve_as(key, now, false).await?;
        slot.local.hit();
        Ok(())
    }

    /// [`WindowCounter::reserve`], across instances.
    pub async fn reserve(&self, key: &str, now: DateTime<Utc>) -> Result<ThrottleSlot, u64> {
        self.reserve_as(key, now, true).await
    }

    async fn reserve_as(
        &self,
        key: &str,
        now: DateTime<Utc>,
        hold: bool,
    ) -> Result<ThrottleSlot, u64> {
        // The local count is a subset of the shared one: full here is full
        // there, with no round trip.
        let local = self.local.reserve(key, now)?;
        let Some(shared) = &self.shared else {
            return Ok(ThrottleSlot {
                local,
                shared: None,
            });
        };
        let spec = (self.window, self.limit);
        match shared.window(self.name, key, spec, hold, now).await {
            Some(SharedWindow::Full { retry_after_secs }) => {
                local.release();
                Err(retry_after_secs)
            }
            Some(SharedWindow::Counted(slot)) => Ok(ThrottleSlot {
                local,
                shared: slot.map(|s| (shared.clone(), s)),
            }),
            None => Ok(ThrottleSlot {
                local,
                shared: None,
            }),
        }
    }
}

impl ThrottleSlot {
    /// The attempt counts (a failed login).
    pub async fn hit(self) {
        self.local.hit();
        if let Some((shared, slot)) = self.shared {
            shared.finish(slot, true).await;
        }
    }

    /// The attempt does not count.
    pub async fn release(self) {
        self.local.release();
        if let Some((shared, slot)) = self.shared {
            shared.finish(slot, false).await;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_limit_until_window_passes() {
        let c = WindowCounter::new(Duration::minutes(15), 5, 100);
        let t0 = Utc::now();
        for i in 0..5 {
            assert_eq!(c.try_hit("a", t0 + Duration::seconds(i)), Ok(()), "{i}");
        }
        let wait = c.try_hit("a", t0 + Duration::seconds(10));
        assert_eq!(wait, Err(15 * 60 - 10));
        assert_eq!(c.try_hit("b", t0), Ok(()));
        assert_eq!(
            c.try_hit("a", t0 + Duration::minutes(15) + Duration::seconds(1)),
            Ok(())
        );
    }

    #[test]
    fn attempts_under_way_hold_their_places() {
        let c = WindowCounter::new(Duration::minutes(15), 5, 100);
        let t0 = Utc::now();
        let slots: Vec<Slot> = (0..5).map(|_| c.reserve("a", t0).expect("room")).collect();
        // Full while five are under way, with a short wait.
        assert!(matches!(c.reserve("a", t0), Err(1)));
        assert_eq!(c.try_hit("a", t0), Err(1));
        let mut slots = slots.into_iter();
        // A success frees its place.
        slots.next().expect("slot").release();
        c.reserve("a", t0).expect("a place was freed").release();
        // Failures count from when they started; a dropped slot counts too.
        slots.next().expect("slot").hit();
        drop(slots.next());
        for s in slots {
            s.hit();
        }
        // Four hits; a fifth fills the limit, until the first four leave.
        let later = t0 + Duration::seconds(30);
        assert_eq!(c.try_hit("a", later), Ok(()));
        assert!(matches!(c.reserve("a", later), Err(w) if w == 15 * 60 - 30));
        c.reserve("a", t0 + Duration::minutes(15) + Duration::seconds(1))
            .expect("the first four left the window")
            .release();
    }
}
