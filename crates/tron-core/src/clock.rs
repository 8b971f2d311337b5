//! Time is injected: expiry, grace periods and throttling windows read the
//! clock through this trait so tests can move time without sleeping.
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Timelike, Utc};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        micros_precision(Utc::now())
    }
}

/// Storage keeps microseconds; so does every time handed out, so that what
/// a response says equals what a later read says.
fn micros_precision(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_nanosecond(t.nanosecond() / 1000 * 1000).unwrap_or(t)
}

/// A clock for tests: it follows the wall clock plus an offset that a test
/// may advance, so the server keeps working while the test moves time.
#[derive(Debug, Default, Clone)]
pub struct OffsetClock {
    offset_micros: Arc<AtomicI64>,
}

impl OffsetClock {
    pub fn advance(&self, by: Duration) {
        self.offset_micros.fetch_add(
            by.num_microseconds().unwrap_or(i64::MAX / 4),
            Ordering::SeqCst,
        );
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        micros_precision(
            Utc::now() + Duration::microseconds(self.offset_micros.load(Ordering::SeqCst)),
        )
    }
}

/// Timestamps are stored as microseconds since the Unix epoch on both
/// backends, which keeps ordering and range filters portable.
pub fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn from_micros(us: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(us).single().unwrap_or_default()
}
