//! The clock port: what "now" is for answers, leases and scheduled work. Running, it is the
//! system's clock; a test sets it and moves it on, so that what depends on time (an expiry, a
//! lease, a rotation's hand-over) is tested without waiting.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

/// A clock; cheap to clone, clones share the time a test set.
#[derive(Clone, Debug, Default)]
pub struct Clock(Option<Arc<Mutex<DateTime<Utc>>>>);

impl Clock {
    /// The system's clock.
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock standing at `at` until it is set or moved on.
    pub fn fixed(at: DateTime<Utc>) -> Clock {
        Clock(Some(Arc::new(Mutex::new(at))))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.0 {
            None => Utc::now(),
            Some(t) => *t.lock().expect("clock"),
        }
    }

    /// Seconds since the epoch.
    pub fn timestamp(&self) -> i64 {
        self.now().timestamp()
    }

    /// Sets a fixed clock to `at`; the system's clock cannot be set.
    pub fn set(&self, at: DateTime<Utc>) {
        if let Some(t) = &self.0 {
            *t.lock().expect("clock") = at;
        }
    }

    /// Moves a fixed clock on by `by`; the system's clock moves by itself.
    pub fn advance(&self, by: Duration) {
        if let Some(t) = &self.0 {
            *t.lock().expect("clock") += by;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_stands_still_until_moved_and_clones_move_together() {
        let at: DateTime<Utc> = "2026-12-01T09:00:00Z".parse().unwrap();
        let clock = Clock::fixed(at);
        let seen_elsewhere = clock.clone();
        assert_eq!(clock.now(), at);
        clock.advance(Duration::minutes(90));
        assert_eq!(seen_elsewhere.now(), at + Duration::minutes(90));
        assert!(Clock::system().now() > at - Duration::days(365 * 10));
    }
}
