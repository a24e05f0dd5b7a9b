//! The run's clock: a start time (the system's, or `--now`) moved on by the
//! time elapsed on tokio's clock. Ledger times, `min_interval`, retry waits
//! and the scheduler all read this one clock, so `--now` and the plan share
//! one timeline, and tests that pause tokio's clock control all of it.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// A point on the calendar that advances with tokio's clock.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base: DateTime<Utc>,
    started: tokio::time::Instant,
}

impl Clock {
    /// A clock that reads `base` now.
    pub fn starting_at(base: DateTime<Utc>) -> Self {
        Clock {
            base,
            started: tokio::time::Instant::now(),
        }
    }

    /// The system's clock.
    pub fn system() -> Self {
        Self::starting_at(Utc::now())
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.base + chrono::TimeDelta::from_std(self.elapsed()).unwrap_or(chrono::TimeDelta::MAX)
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Waits until `at` on this clock (at once when it is past).
    pub async fn sleep_until(&self, at: DateTime<Utc>) {
        let wait = (at - self.now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_clock_moves_with_tokios_paused_time() {
        let base = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let clock = Clock::starting_at(base);
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(clock.now(), base + chrono::TimeDelta::hours(1));
        clock.sleep_until(base + chrono::TimeDelta::hours(3)).await;
        assert_eq!(clock.now(), base + chrono::TimeDelta::hours(3));
    }
}
