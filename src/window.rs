//! Posting windows (`windows: ["Mon-Fri 08:00-20:00", "Sat 10:00-12:00"]`):
//! the hours of the week in the site's time zone when a target's posts may
//! go. A post due outside them waits for the next one to open.
//!
//! Times are wall-clock times in the zone: across a change to or from
//! summer time a window opens at the same local hour, and a local time
//! that does not exist that day opens at the first instant after the gap.

use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use serde::de::{self, Deserializer};

/// Days and the hours of each day in which posts may go. `end` is
/// exclusive; an end before the start runs past midnight into the next
/// day (`Fri 22:00-02:00`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Monday first.
    days: [bool; 7],
    start: NaiveTime,
    end: NaiveTime,
    text: String,
}

const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

/// The index (Monday 0) of a day written as its first three letters or
/// its whole English name, in any case.
fn day(word: &str) -> Result<usize, String> {
    let lower = word.to_ascii_lowercase();
    DAYS.iter()
        .position(|(short, d)| {
            lower == *short || {
                let full = match d {
                    Weekday::Mon => "monday",
                    Weekday::Tue => "tuesday",
                    Weekday::Wed => "wednesday",
                    Weekday::Thu => "thursday",
                    Weekday::Fri => "friday",
                    Weekday::Sat => "saturday",
                    Weekday::Sun => "sunday",
                };
                lower == full
            }
        })
        .ok_or_else(|| format!("{word:?} is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun)"))
}

fn time(word: &str) -> Result<NaiveTime, String> {
    if word == "24:00" {
        return Ok(NaiveTime::MIN);
    }
    NaiveTime::parse_from_str(word, "%H:%M")
        .map_err(|_| format!("{word:?} is not a time of day as HH:MM"))
}

impl std::str::FromStr for Window {
    type Err = String;

    /// `Mon-Fri 08:00-20:00`, `Sat,Sun 10:00-12:00`, `daily 09:00-17:00`,
    /// or only the hours (every day).
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (days_part, hours) = match text.rsplit_once(' ') {
            Some((d, h)) => (Some(d.trim()), h),
            None => (None, text),
        };
        let mut days = [false; 7];
        match days_part {
            None => days = [true; 7],
            Some(d) if d.eq_ignore_ascii_case("daily") || d.eq_ignore_ascii_case("every day") => {
                days = [true; 7];
            }
            Some(d) => {
                for part in d.split(',') {
                    let part = part.trim();
                    match part.split_once('-') {
                        Some((from, to)) => {
                            let (from, to) = (day(from.trim())?, day(to.trim())?);
                            let mut i = from;
                            loop {
                                days[i] = true;
                                if i == to {
                                    break;
                                }
                                i = (i + 1) % 7;
                            }
                        }
                        None => days[day(part)?] = true,
                    }
                }
            }
        }
        let (start, end) = hours.split_once('-').ok_or_else(|| {
            format!("{text:?}: expected hours as HH:MM-HH:MM, as in \"Mon-Fri 08:00-20:00\"")
        })?;
        let (start, end) = (time(start.trim())?, time(end.trim())?);
        if start == end && hours.trim() != "00:00-24:00" {
            return Err(format!(
                "{text:?}: the window opens and closes at the same time"
            ));
        }
        Ok(Window {
            days,
            start,
            end,
            text: text.to_string(),
        })
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Window {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(de::Error::custom)
    }
}

impl Window {
    /// The spans this window is open on the local day `date`, as instants:
    /// from its start that day to its end (the next day when it runs past
    /// midnight).
    fn span_on(&self, date: chrono::NaiveDate, tz: Tz) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.days[date.weekday().num_days_from_monday() as usize] {
            return None;
        }
        let end_date = if self.end <= self.start {
            date.succ_opt()?
        } else {
            date
        };
        Some((
            local(date.and_time(self.start), tz)?,
            local(end_date.and_time(self.end), tz)?,
        ))
    }
}

/// A local wall-clock time as an instant: the earlier of two in a repeated
/// hour, the end of the gap for a skipped one.
fn local(t: chrono::NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&t) {
        chrono::LocalResult::Single(d) => Some(d.to_utc()),
        chrono::LocalResult::Ambiguous(a, _) => Some(a.to_utc()),
        chrono::LocalResult::None => {
            // Summer time skips at most a few hours: the first valid
            // minute after the gap.
            (1..=180).find_map(
                |m| match tz.from_local_datetime(&(t + Duration::minutes(m))) {
                    chrono::LocalResult::Single(d) | chrono::LocalResult::Ambiguous(d, _) => {
                        Some(d.to_utc())
                    }
                    chrono::LocalResult::None => None,
                },
            )
        }
    }
}

/// When a post due at `at` may go: `at` itself when it falls in one of
/// `windows` (or there are none), else the next opening; None when no
/// window opens in the coming eight days (a window list with no day).
pub fn next_open(windows: &[Window], tz: Tz, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if windows.is_empty() {
        return Some(at);
    }
    let today = at.with_timezone(&tz).date_naive();
    let mut best: Option<DateTime<Utc>> = None;
    // Yesterday's window may run past midnight into today.
    for offset in -1..=8 {
        let Some(date) = today.checked_add_signed(Duration::days(offset)) else {
            continue;
        };
        for w in windows {
            let Some((open, close)) = w.span_on(date, tz) else {
                continue;
            };
            if open <= at && at < close {
                return Some(at);
            }
            if open > at && best.is_none_or(|b| open < b) {
                best = Some(open);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn windows_read_days_ranges_and_hours() {
        let w: Window = "Mon-Fri 08:00-20:00".parse().unwrap();
        assert_eq!(w.days, [true, true, true, true, true, false, false]);
        let w: Window = "Fri-Mon 22:00-02:00".parse().unwrap();
        assert_eq!(w.days, [true, false, false, false, true, true, true]);
        let w: Window = "sat,sunday 10:00-12:00".parse().unwrap();
        assert_eq!(w.days, [false, false, false, false, false, true, true]);
        assert_eq!("09:00-17:00".parse::<Window>().unwrap().days, [true; 7]);
        for bad in [
            "Mon-Fri",
            "Mon-Fry 08:00-20:00",
            "Mon 8-20",
            "Mon 10:00-10:00",
            "Mon 25:00-26:00",
        ] {
            assert!(bad.parse::<Window>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_post_waits_for_the_next_window_in_the_site_s_zone() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let windows: Vec<Window> = vec![
            "Mon-Fri 08:00-20:00".parse().unwrap(),
            "Sat 10:00-12:00".parse().unwrap(),
        ];
        // Friday 2024-02-09 21:00 Berlin (20:00 UTC): Saturday 10:00 Berlin.
        assert_eq!(
            next_open(&windows, tz, at("2024-02-09T20:00:00Z")),
            Some(at("2024-02-10T09:00:00Z"))
        );
        // Inside: now.
        assert_eq!(
            next_open(&windows, tz, at("2024-02-09T10:00:00Z")),
            Some(at("2024-02-09T10:00:00Z"))
        );
        // Saturday 12:30: Monday 08:00.
        assert_eq!(
            next_open(&windows, tz, at("2024-02-10T11:30:00Z")),
            Some(at("2024-02-12T07:00:00Z"))
        );
        // Past midnight, yesterday's window is still open.
        let late: Vec<Window> = vec!["Fri 22:00-02:00".parse().unwrap()];
        assert_eq!(
            next_open(&late, tz, at("2024-02-10T00:30:00Z")),
            Some(at("2024-02-10T00:30:00Z"))
        );
    }

    #[test]
    fn summer_time_keeps_the_local_hour() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let windows: Vec<Window> = vec!["Sun 02:30-04:00".parse().unwrap()];
        // 2024-03-31: 02:00 jumps to 03:00 in Berlin; the window opens at
        // 03:00 local, 01:00 UTC.
        assert_eq!(
            next_open(&windows, tz, at("2024-03-30T12:00:00Z")),
            Some(at("2024-03-31T01:00:00Z"))
        );
        let nine: Vec<Window> = vec!["09:00-10:00".parse().unwrap()];
        // Before the change 09:00 is 08:00 UTC; after it, 07:00 UTC.
        assert_eq!(
            next_open(&nine, tz, at("2024-03-30T09:00:00Z")),
            Some(at("2024-03-31T07:00:00Z"))
        );
    }
}
