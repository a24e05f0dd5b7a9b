//! `herald run`: publish at each time of `schedule.cron`, in the content's
//! time zone, until a stop is requested. The clock is the run's `Clock`, so
//! a test on tokio's paused clock steps through days of schedule at once.

use std::future::Future;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::clock::Clock;
use crate::config::Schedule;
use crate::social::driver::Stop;

/// How the scheduler ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// A stop was requested.
    Stopped,
    /// The schedule has no next time (from this moment on).
    NoNextTime,
}

/// Runs `publish` at every time of `schedule` (and once at the start when
/// `now_first`), telling `next` each time it waits, until `stop`. A publish
/// returns when a post it left waiting (`delay`, `windows`) becomes due:
/// the scheduler wakes then too, if that comes before the schedule's next
/// time. A publish that fails is the caller's to report; the scheduler
/// goes on. A stop requested during a publish ends the loop once that
/// publish returns.
pub async fn run<F, Fut>(
    schedule: &Schedule,
    tz: Tz,
    clock: &Clock,
    stop: &Stop,
    now_first: bool,
    mut next: impl FnMut(&DateTime<Tz>),
    mut publish: F,
) -> Ended
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<DateTime<Utc>>>,
{
    let mut due = None;
    if now_first {
        due = publish().await;
    }
    loop {
        if stop.is_requested() {
            return Ended::Stopped;
        }
        let now = clock.now().with_timezone(&tz);
        let scheduled = schedule.next_after(&now);
        // A waiting post's time, if it comes first (and is still ahead).
        let at = match (scheduled, due.filter(|d| *d > now.to_utc())) {
            (Some(s), Some(d)) if d < s.to_utc() => d.with_timezone(&tz),
            (Some(s), _) => s,
            (None, Some(d)) => d.with_timezone(&tz),
            (None, None) => return Ended::NoNextTime,
        };
        next(&at);
        tokio::select! {
            () = clock.sleep_until(at.to_utc()) => {}
            () = stop.requested() => return Ended::Stopped,
        }
        due = publish().await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use chrono::Utc;

    use super::*;

    fn at(text: &str) -> chrono::DateTime<Utc> {
        chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[tokio::test(start_paused = true)]
    async fn publishes_at_each_scheduled_time_in_the_content_time_zone() {
        let schedule = Schedule::parse("0 9 * * *").unwrap();
        let tz: Tz = "Europe/Paris".parse().unwrap();
        let clock = Clock::starting_at(at("2024-03-29T12:00:00Z"));
        let stop = Stop::default();
        let times = Arc::new(Mutex::new(Vec::new()));
        let announced = Mutex::new(Vec::new());
        let ended = run(
            &schedule,
            tz,
            &clock,
            &stop,
            false,
            |next| announced.lock().unwrap().push(next.to_rfc3339()),
            || {
                let times = times.clone();
                let stop = &stop;
                async move {
                    let mut t = times.lock().unwrap();
                    t.push(clock.now());
                    if t.len() == 3 {
                        stop.request();
                    }
                    None
                }
            },
        )
        .await;
        assert_eq!(ended, Ended::Stopped);
        // 09:00 in Paris, across the switch to summer time on 31 March.
        assert_eq!(
            *times.lock().unwrap(),
            vec![
                at("2024-03-30T08:00:00Z"),
                at("2024-03-31T07:00:00Z"),
                at("2024-04-01T07:00:00Z"),
            ]
        );
        assert_eq!(
            announced.lock().unwrap()[..2],
            [
                "2024-03-30T09:00:00+01:00".to_string(),
                "2024-03-31T09:00:00+02:00".to_string()
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_while_waiting_ends_at_once_and_now_first_publishes_first() {
        let schedule = Schedule::parse("0 0 1 1 *").unwrap();
        let clock = Clock::starting_at(at("2024-03-30T12:00:00Z"));
        let stop = Arc::new(Stop::default());
        let count = Arc::new(Mutex::new(0));
        let stopper = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            stopper.request();
        });
        let ended = run(
            &schedule,
            Tz::UTC,
            &clock,
            &stop,
            true,
            |_| {},
            || {
                let count = count.clone();
                async move {
                    *count.lock().unwrap() += 1;
                    None
                }
            },
        )
        .await;
        assert_eq!(ended, Ended::Stopped);
        assert_eq!(*count.lock().unwrap(), 1);
        // Stopped a minute in, not at the next new year.
        assert!(clock.now() < at("2024-03-30T12:02:00Z"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_post_waiting_for_a_time_wakes_the_scheduler_before_its_next_time() {
        let schedule = Schedule::parse("0 9 * * *").unwrap();
        let clock = Clock::starting_at(at("2024-03-30T10:00:00Z"));
        let stop = Stop::default();
        let times = Arc::new(Mutex::new(Vec::new()));
        run(
            &schedule,
            Tz::UTC,
            &clock,
            &stop,
            true,
            |_| {},
            || {
                let times = times.clone();
                let stop = &stop;
                async move {
                    let mut t = times.lock().unwrap();
                    t.push(clock.now());
                    // The first run leaves a post delayed until 14:30.
                    let due = (t.len() == 1).then(|| at("2024-03-30T14:30:00Z"));
                    if t.len() == 3 {
                        stop.request();
                    }
                    due
                }
            },
        )
        .await;
        assert_eq!(
            *times.lock().unwrap(),
            vec![
                at("2024-03-30T10:00:00Z"),
                at("2024-03-30T14:30:00Z"),
                at("2024-03-31T09:00:00Z"),
            ]
        );
    }
}
