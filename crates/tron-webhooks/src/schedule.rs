//! When to try a failed delivery again.
//!
//! Exponential backoff with ±20 % jitter: about 5 s, 1 min, 10 min, 1 h,
//! 3 h, 6 h, then every 6 h, for 24 h after the event ([`RETRY_WINDOW`]).
//! A retry that would fall past that deadline is moved to the deadline
//! itself, so an endpoint that comes back late in the day still gets a last
//! attempt at 24 h; after the deadline there is none, and the delivery is
//! `failed`. The first attempt is always made, however late (an event found
//! after an outage is still sent once). Pure: the clock and the randomness
//! come in as arguments.

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;

/// How long after the event a delivery is retried.
pub const RETRY_WINDOW: TimeDelta = TimeDelta::hours(24);

/// The delay after the 1st, 2nd, … failed attempt; the last one repeats.
const BACKOFF_SECONDS: [i64; 6] = [5, 60, 10 * 60, 60 * 60, 3 * 60 * 60, 6 * 60 * 60];

/// Jitter: each delay is multiplied by a factor in this range.
const JITTER: std::ops::RangeInclusive<f64> = 0.8..=1.2;

/// The last moment a delivery of an event that happened at `event_time` is
/// attempted.
pub fn deadline(event_time: DateTime<Utc>) -> DateTime<Utc> {
    event_time
        .checked_add_signed(RETRY_WINDOW)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// When to make the next attempt, after `attempts_so_far` attempts (the one
/// that just failed included) at `now`; `None`: give up, the delivery is
/// `failed`. With no attempt yet, the answer is `now`.
pub fn next_attempt<R: Rng + ?Sized>(
    event_time: DateTime<Utc>,
    attempts_so_far: u32,
    now: DateTime<Utc>,
    rng: &mut R,
) -> Option<DateTime<Utc>> {
    if attempts_so_far == 0 {
        return Some(now);
    }
    let deadline = deadline(event_time);
    if now >= deadline {
        return None;
    }
    let step = usize::try_from(attempts_so_far - 1)
        .unwrap_or(usize::MAX)
        .min(BACKOFF_SECONDS.len() - 1);
    let base_ms = BACKOFF_SECONDS[step] as f64 * 1000.0;
    let delay_ms = (base_ms * rng.gen_range(JITTER)).round() as i64;
    let at = now
        .checked_add_signed(TimeDelta::milliseconds(delay_ms))
        .unwrap_or(deadline);
    Some(at.min(deadline))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn secs(d: TimeDelta) -> f64 {
        d.num_milliseconds() as f64 / 1000.0
    }

    #[test]
    fn the_first_attempt_is_now_even_after_the_window() {
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(next_attempt(t0(), 0, t0(), &mut rng), Some(t0()));
        let late = t0() + TimeDelta::hours(30);
        assert_eq!(next_attempt(t0(), 0, late, &mut rng), Some(late));
    }

    #[test]
    fn delays_follow_the_backoff_within_the_jitter() {
        let bases = [5.0, 60.0, 600.0, 3600.0, 10800.0, 21600.0, 21600.0, 21600.0];
        for seed in 0..200 {
            let mut rng = StdRng::seed_from_u64(seed);
            // Attempts made right after the event, so no deadline bites.
            for (i, base) in bases.iter().enumerate() {
                let attempts = i as u32 + 1;
                let next = next_attempt(t0(), attempts, t0(), &mut rng).unwrap();
                let delay = secs(next - t0());
                assert!(
                    delay >= base * 0.8 && delay <= base * 1.2,
                    "seed {seed}, after attempt {attempts}: {delay} s"
                );
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let run = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (1..=5)
                .map(|n| next_attempt(t0(), n, t0(), &mut rng).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    /// A receiver that is down all day: the whole life of one delivery.
    #[test]
    fn a_delivery_that_always_fails_ends_at_the_deadline() {
        for seed in 0..50 {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut now = t0();
            let mut attempts = 0;
            let mut times = vec![];
            while let Some(at) = next_attempt(t0(), attempts, now, &mut rng) {
                assert!(at >= now, "never in the past");
                assert!(at <= deadline(t0()), "never past 24 h");
                now = at;
                attempts += 1;
                times.push(at);
            }
            // 5 s + 1 min + 10 min + 1 h + 3 h + 6 h ≈ 10.2 h, then 6 h
            // steps: about 10 attempts, the last clamped to 24 h.
            assert!(
                (9..=12).contains(&attempts),
                "seed {seed}: {attempts} attempts"
            );
            assert_eq!(*times.last().unwrap(), deadline(t0()), "seed {seed}");
            let first_retry = secs(times[1] - times[0]);
            assert!((4.0..=6.0).contains(&first_retry));
        }
    }

    #[test]
    fn gives_up_at_and_after_the_deadline() {
        let mut rng = StdRng::seed_from_u64(3);
        let d = deadline(t0());
        assert_eq!(next_attempt(t0(), 3, d, &mut rng), None);
        assert_eq!(
            next_attempt(t0(), 1, d + TimeDelta::seconds(1), &mut rng),
            None
        );
        // A second before it, the retry is clamped to it.
        let just_before = d - TimeDelta::seconds(1);
        assert_eq!(next_attempt(t0(), 6, just_before, &mut rng), Some(d));
        // Huge attempt counts do not overflow.
        assert!(next_attempt(t0(), u32::MAX, t0(), &mut rng).is_some());
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let mut rng = StdRng::seed_from_u64(4);
        let end = DateTime::<Utc>::MAX_UTC;
        assert_eq!(deadline(end), end);
        assert_eq!(
            next_attempt(end, 6, end - TimeDelta::hours(1), &mut rng),
            Some(end)
        );
        assert_eq!(next_attempt(end, 6, end, &mut rng), None);
    }
}
