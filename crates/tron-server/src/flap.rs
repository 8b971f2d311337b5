//! Damping the log of a dependency that flaps (Redis going away and
//! coming back again and again): each kind of change (down, up) is logged
//! at most once per window; the changes in between are counted, and the
//! next line logged says how many were left out. A state whose line was
//! left out is logged once its window is over, by the first call that
//! still finds it, so the log always ends on the current state.
use chrono::{DateTime, Duration, Utc};

/// How long after a line another line of the same kind is held back.
pub const FLAP_WINDOW: Duration = Duration::seconds(60);

#[derive(Debug)]
pub struct FlapDamper {
    window: Duration,
    /// When a line was last logged, for `[down, up]`.
    logged_at: [Option<DateTime<Utc>>; 2],
    /// Changes not logged since the last line.
    suppressed: u64,
    /// The state (`true`: up) whose change was left out and is still owed
    /// a line.
    owed: Option<bool>,
}

impl FlapDamper {
    pub fn new(window: Duration) -> Self {
        FlapDamper {
            window,
            logged_at: [None, None],
            suppressed: 0,
            owed: None,
        }
    }

    /// The state changed to `up` at `now`: `Some(n)` when it is to be
    /// logged, `n` being the changes left out since the last line.
    pub fn changed(&mut self, up: bool, now: DateTime<Utc>) -> Option<u64> {
        if self.held_back(up, now) {
            self.suppressed += 1;
            self.owed = Some(up);
            return None;
        }
        Some(self.logged(up, now))
    }

    /// A call found the state `up` unchanged at `now`: `Some(n)` when the
    /// line its change was owed is now due.
    pub fn steady(&mut self, up: bool, now: DateTime<Utc>) -> Option<u64> {
        if self.owed != Some(up) || self.held_back(up, now) {
            return None;
        }
        Some(self.logged(up, now))
    }

    /// Whether a line is owed (callers check this before taking a lock).
    pub fn owes(&self) -> bool {
        self.owed.is_some()
    }

    fn held_back(&self, up: bool, now: DateTime<Utc>) -> bool {
        self.logged_at[usize::from(up)].is_some_and(|at| now - at < self.window)
    }

    fn logged(&mut self, up: bool, now: DateTime<Utc>) -> u64 {
        self.logged_at[usize::from(up)] = Some(now);
        self.owed = None;
        std::mem::take(&mut self.suppressed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tron_core::clock::{Clock, OffsetClock};

    #[test]
    fn a_flapping_dependency_is_logged_once_a_window_per_change() {
        let clock = OffsetClock::default();
        let mut d = FlapDamper::new(FLAP_WINDOW);
        // The first down and up are logged, with nothing left out.
        assert_eq!(d.changed(false, clock.now()), Some(0));
        clock.advance(Duration::seconds(1));
        assert_eq!(d.changed(true, clock.now()), Some(0));
        // Twenty flaps a second apart: none logged, all counted.
        for i in 0..20 {
            clock.advance(Duration::seconds(1));
            assert_eq!(d.changed(i % 2 == 1, clock.now()), None, "flap {i}");
            assert!(d.owes());
        }
        // Still up, 22 s after the first lines: nothing is due yet.
        assert_eq!(d.steady(true, clock.now()), None);
        // Down again after the window: logged, with the 20 left out.
        clock.advance(Duration::seconds(40));
        assert_eq!(d.changed(false, clock.now()), Some(20));
        assert!(!d.owes());
        assert_eq!(d.steady(false, clock.now()), None);
        // A minute of calm later, up is logged at once.
        clock.advance(Duration::seconds(61));
        assert_eq!(d.changed(true, clock.now()), Some(0));
    }

    #[test]
    fn a_state_left_out_is_logged_when_its_window_ends() {
        let clock = OffsetClock::default();
        let mut d = FlapDamper::new(FLAP_WINDOW);
        assert_eq!(d.changed(false, clock.now()), Some(0));
        clock.advance(Duration::seconds(2));
        assert_eq!(d.changed(true, clock.now()), Some(0));
        clock.advance(Duration::seconds(2));
        // Down again within the window, and it stays down.
        assert_eq!(d.changed(false, clock.now()), None);
        clock.advance(Duration::seconds(30));
        assert_eq!(d.steady(false, clock.now()), None, "within the window");
        // A call in the other state owes nothing.
        assert_eq!(d.steady(true, clock.now()), None);
        clock.advance(Duration::seconds(30));
        assert_eq!(d.steady(false, clock.now()), Some(1));
        // Logged once only.
        clock.advance(Duration::seconds(1));
        assert_eq!(d.steady(false, clock.now()), None);
        assert!(!d.owes());
    }
}
