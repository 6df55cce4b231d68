//! Units that live in types: simulated time and durations.
//!
//! Simulated time is an integer count of nanoseconds (`SimTime`), never a float: two events at the
//! same instant compare equal exactly, and u64 nanoseconds cover 584 years. Durations in scenario
//! files are strings with a unit (`"250ms"`, `"1.5s"`, `"10m"`, `"24h"`), parsed by [`parse_duration`].

use std::fmt;

/// A point in simulated time, or a span of it, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);
    pub const NS_PER_SEC: u64 = 1_000_000_000;

    pub const fn from_secs(s: u64) -> SimTime {
        SimTime(s * Self::NS_PER_SEC)
    }

    pub const fn from_millis(ms: u64) -> SimTime {
        SimTime(ms * 1_000_000)
    }

    /// Rounds to the nearest nanosecond; negative and NaN inputs give zero, huge ones saturate.
    #[inline]
    pub fn from_secs_f64(s: f64) -> SimTime {
        SimTime(round_ns(s * 1e9))
    }

    /// Rounds a non-negative count of nanoseconds (`f64::round` is a library call on baseline
    /// x86-64, and this is on the hot path of every draw).
    #[inline]
    pub fn from_nanos_f64(ns: f64) -> SimTime {
        SimTime(round_ns(ns))
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    pub fn as_hours_f64(self) -> f64 {
        self.0 as f64 / 3.6e12
    }

    pub fn saturating_add(self, d: SimTime) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }

    pub fn saturating_sub(self, d: SimTime) -> SimTime {
        SimTime(self.0.saturating_sub(d.0))
    }
}

impl fmt::Display for SimTime {
    /// The shortest exact form with one unit, as a scenario file would write it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(*self))
    }
}

/// Nearest integer of a non-negative value; negative and NaN give 0, huge values saturate.
#[inline]
fn round_ns(x: f64) -> u64 {
    // Through i64: one conversion instruction, where f64 -> u64 needs a compare and a branch.
    // Exact below 2^63 ns (292 years); beyond that, saturate.
    let y = (x + 0.5).max(0.0); // NaN and negatives become 0
    if y < 9.2e18 {
        y as i64 as u64
    } else {
        u64::MAX
    }
}

const UNITS: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
];

/// Why a duration string did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration; write a number and a unit, e.g. \"250ms\"")]
    Empty,
    #[error(
        "duration {0:?} has no unit; write e.g. \"{0}s\" or \"{0}ms\" (units: ns, us, ms, s, m, h, d)"
    )]
    NoUnit(String),
    #[error("duration {0:?} has an unknown unit; use one of ns, us, ms, s, m, h, d")]
    BadUnit(String),
    #[error("duration {0:?} is not a number followed by a unit, e.g. \"1.5s\" or \"1h30m\"")]
    BadNumber(String),
    #[error("duration {0:?} is negative")]
    Negative(String),
    #[error("duration {0:?} is too long (the limit is about 584 years)")]
    TooLong(String),
}

/// Parses `"250ms"`, `"1.5s"`, `"10m"`, `"24h"`, `"2d"`, and sums such as `"1h30m"` or
/// `"1h 30m"`, into nanoseconds (a fraction is rounded to the nanosecond).
///
/// Hand written because the common crates (humantime, go-parse-duration) reject fractions or `µs`.
pub fn parse_duration(text: &str) -> Result<SimTime, DurationError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut rest = s;
    let mut total = 0.0f64;
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == '_'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(split);
        let after = after.trim_start();
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c.is_whitespace() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(DurationError::NoUnit(s.to_string()));
        }
        let Some(&(_, scale)) = UNITS.iter().find(|(u, _)| *u == unit) else {
            return Err(DurationError::BadUnit(s.to_string()));
        };
        let value: f64 = num
            .replace('_', "")
            .parse()
            .map_err(|_| DurationError::BadNumber(s.to_string()))?;
        if !value.is_finite() {
            return Err(DurationError::BadNumber(s.to_string()));
        }
        if value < 0.0 {
            return Err(DurationError::Negative(s.to_string()));
        }
        total += value * scale as f64;
        rest = after.trim_start();
    }
    if total >= u64::MAX as f64 {
        return Err(DurationError::TooLong(s.to_string()));
    }
    Ok(SimTime(total.round() as u64))
}

/// Formats a duration with the largest unit that keeps it exact, else as fractional seconds.
pub fn format_duration(t: SimTime) -> String {
    if t.0 == 0 {
        return "0s".to_string();
    }
    for &(unit, scale) in UNITS.iter().rev() {
        if unit == "µs" {
            continue;
        }
        if t.0.is_multiple_of(scale) {
            return format!("{}{unit}", t.0 / scale);
        }
    }
    format!("{}s", t.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_duration("250ms"), Ok(SimTime::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(SimTime::from_millis(1500)));
        assert_eq!(parse_duration("10m"), Ok(SimTime::from_secs(600)));
        assert_eq!(parse_duration("24h"), Ok(SimTime::from_secs(86_400)));
        assert_eq!(parse_duration("2d"), Ok(SimTime::from_secs(172_800)));
        assert_eq!(parse_duration("7us"), Ok(SimTime(7_000)));
        assert_eq!(parse_duration("7µs"), Ok(SimTime(7_000)));
        assert_eq!(parse_duration("3ns"), Ok(SimTime(3)));
        assert_eq!(parse_duration(" 0s "), Ok(SimTime::ZERO));
        assert_eq!(parse_duration("1_000ms"), Ok(SimTime::from_secs(1)));
        assert_eq!(parse_duration("1h15m"), Ok(SimTime::from_secs(4_500)));
        assert_eq!(parse_duration("1h 30m 15s"), Ok(SimTime::from_secs(5_415)));
        assert_eq!(parse_duration("1d12h"), Ok(SimTime::from_secs(129_600)));
    }

    #[test]
    fn rejects_bad_text() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert!(matches!(
            parse_duration("250"),
            Err(DurationError::NoUnit(_))
        ));
        assert!(matches!(
            parse_duration("5 parsecs"),
            Err(DurationError::BadUnit(_))
        ));
        assert!(matches!(
            parse_duration("s"),
            Err(DurationError::BadNumber(_))
        ));
        assert!(matches!(
            parse_duration("1.2.3s"),
            Err(DurationError::BadNumber(_))
        ));
        assert!(matches!(
            parse_duration("-1s"),
            Err(DurationError::Negative(_))
        ));
        assert!(matches!(
            parse_duration("1e30d"),
            Err(DurationError::BadUnit(_))
        ));
        assert!(matches!(
            parse_duration("99999999999d"),
            Err(DurationError::TooLong(_))
        ));
    }

    #[test]
    fn rounds_to_the_nearest_nanosecond() {
        assert_eq!(SimTime::from_secs_f64(1.5e-9), SimTime(2));
        assert_eq!(SimTime::from_secs_f64(1.4e-9), SimTime(1));
        assert_eq!(SimTime::from_secs_f64(-3.0), SimTime(0));
        assert_eq!(SimTime::from_secs_f64(f64::NAN), SimTime(0));
        assert_eq!(SimTime::from_secs_f64(1e30), SimTime::MAX);
        assert_eq!(SimTime::from_secs_f64(86_400.0), SimTime::from_secs(86_400));
    }

    #[test]
    fn formats_round_trip() {
        for s in ["250ms", "10m", "24h", "2d", "7us", "3ns", "1500ms", "90s"] {
            let t = parse_duration(s).unwrap();
            assert_eq!(parse_duration(&format_duration(t)).unwrap(), t, "{s}");
        }
        assert_eq!(format_duration(SimTime::from_secs(90)), "90s");
        assert_eq!(format_duration(SimTime::from_secs(3600)), "1h");
    }
}
