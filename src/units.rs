//! Units a config is written in, parsed once into checked types: a time
//! span that always fits the calendar (`TimeSpan`), a byte size, a count,
//! and text that YAML may have read as a number.
//!
//! A `TimeSpan` is bounded when it is parsed, so no later date arithmetic
//! can overflow or silently turn a huge span into zero.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// The longest span herald takes: 1000 years. Any `now + span` stays far
/// inside the calendar chrono can represent.
pub const MAX_SPAN: Duration = Duration::from_secs(365_000 * 86_400);

/// A length of time, at most `MAX_SPAN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TimeSpan(Duration);

impl TimeSpan {
    pub const ZERO: TimeSpan = TimeSpan(Duration::ZERO);

    /// `d` if it is within `MAX_SPAN`.
    pub fn new(d: Duration) -> Option<TimeSpan> {
        (d <= MAX_SPAN).then_some(TimeSpan(d))
    }

    pub const fn from_secs(secs: u64) -> TimeSpan {
        // Callers pass constants far below MAX_SPAN.
        TimeSpan(Duration::from_secs(secs))
    }

    pub const fn from_millis(ms: u64) -> TimeSpan {
        TimeSpan(Duration::from_millis(ms))
    }

    pub fn std(self) -> Duration {
        self.0
    }

    /// The same span for calendar arithmetic; never fails, as the span is
    /// bounded.
    pub fn delta(self) -> chrono::TimeDelta {
        chrono::TimeDelta::from_std(self.0).unwrap_or(chrono::TimeDelta::MAX)
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

/// The largest unit that divides it: `7d`, `90m`, `45s`, `250ms`.
impl fmt::Display for TimeSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if !ms.is_multiple_of(1000) {
            return write!(f, "{ms}ms");
        }
        let s = self.0.as_secs();
        if s > 0 && s.is_multiple_of(86_400) {
            write!(f, "{}d", s / 86_400)
        } else if s > 0 && s.is_multiple_of(3600) {
            write!(f, "{}h", s / 3600)
        } else if s > 0 && s.is_multiple_of(60) {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

fn duration_message(text: &str) -> String {
    format!("expected a duration such as 30s, 15m, 2h or 7d, found {text:?}")
}

/// Parses `90s`, `15m`, `2h`, `7d`, `2w`, `36500d`, `1h30m`, `250ms`; a bare
/// number is seconds. Longer than `MAX_SPAN` is an error, not a wrap.
pub fn parse_duration(text: &str) -> Result<TimeSpan, String> {
    let bad = || duration_message(text);
    let t = text.trim();
    if t.is_empty() {
        return Err(bad());
    }
    let too_long =
        || format!("{text:?} is longer than herald allows (at most 365000d, a thousand years)");
    if let Some(ms) = t.strip_suffix("ms") {
        let ms: u64 = ms.parse().map_err(|_| bad())?;
        return TimeSpan::new(Duration::from_millis(ms)).ok_or_else(too_long);
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = t.parse().map_err(|_| too_long())?;
        return TimeSpan::new(Duration::from_secs(secs)).ok_or_else(too_long);
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(bad()),
        };
        if digits.is_empty() {
            return Err(bad());
        }
        // All digits: a number that does not fit is too long, not wrong.
        let n: u64 = digits.parse().map_err(|_| too_long())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(too_long)?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(bad());
    }
    TimeSpan::new(Duration::from_secs(total)).ok_or_else(too_long)
}

impl<'de> Deserialize<'de> for TimeSpan {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TimeSpan;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as 30s, 15m, 2h or 7d")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<TimeSpan, E> {
                parse_duration(&v.to_string()).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<TimeSpan, E> {
                Err(E::custom(duration_message(&v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<TimeSpan, E> {
                Err(E::custom(duration_message(&v.to_string())))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TimeSpan, E> {
                parse_duration(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A non-negative whole number, with a message users understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count(pub u64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a positive number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Count, E> {
                Ok(Count(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Count, E> {
                u64::try_from(v)
                    .map(Count)
                    .map_err(|_| E::custom(format!("expected a positive number, found {v}")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Count, E> {
                Err(E::custom(format!("expected a positive number, found {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Count, E> {
                Err(E::custom(format!(
                    "expected a positive number, found {v:?}"
                )))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Count, E> {
                Err(E::custom(format!("expected a positive number, found {v}")))
            }
        }
        d.deserialize_any(V)
    }
}

impl Count {
    /// As a `u32`, saturating: no limit herald has needs more.
    pub fn saturating_u32(self) -> u32 {
        u32::try_from(self.0).unwrap_or(u32::MAX)
    }
}

/// A size in bytes, or with a unit: `10MB`, `512KB`, `1GiB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as 10MB")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                parse_byte_size(v).map(ByteSize).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses `123`, `10MB`, `512KB`, `1GiB`.
pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let bad = || format!("expected a size such as 10MB, found {text:?}");
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "kib" => 1 << 10,
        "mb" | "m" => 1_000_000,
        "mib" => 1 << 20,
        "gb" | "g" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

/// Text written as any YAML scalar: `chat_id: -1001234` is read by YAML as
/// a number, but it is an id, kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a text value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        let cases = [
            ("0s", 0),
            ("90s", 90),
            ("15m", 900),
            ("2h", 7200),
            ("7d", 604_800),
            ("2w", 1_209_600),
            ("36500d", 3_153_600_000),
            ("1h30m", 5400),
            ("45", 45),
        ];
        for (text, secs) in cases {
            assert_eq!(
                parse_duration(text),
                Ok(TimeSpan::from_secs(secs)),
                "{text}"
            );
        }
        assert_eq!(parse_duration("250ms"), Ok(TimeSpan::from_millis(250)));
        for bad in ["", "7 days", "h", "1x", "5m3", "ms"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn spans_past_a_thousand_years_are_refused_not_wrapped() {
        for huge in [
            "100000000d",
            "365001d",
            "99999999999999999999s",
            "31536000001",
        ] {
            let e = parse_duration(huge).unwrap_err();
            assert!(e.contains("longer than herald allows"), "{huge}: {e}");
        }
        let max = parse_duration("365000d").unwrap();
        // The largest span still moves any date forward, never backward.
        let now = chrono::Utc::now();
        assert!(now + max.delta() > now);
    }

    #[test]
    fn spans_display_in_their_largest_unit() {
        for (text, shown) in [("7d", "7d"), ("90m", "90m"), ("3600", "1h"), ("45s", "45s")] {
            assert_eq!(parse_duration(text).unwrap().to_string(), shown);
        }
        assert_eq!(TimeSpan::from_millis(250).to_string(), "250ms");
        assert_eq!(TimeSpan::ZERO.to_string(), "0s");
    }

    #[test]
    fn byte_sizes_take_units() {
        assert_eq!(parse_byte_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_byte_size("1KiB"), Ok(1024));
        assert!(parse_byte_size("ten").is_err());
    }
}
