//! Number formatting for people: thousands separators, durations and money.

use std::fmt::Write;

use crate::units::SimTime;

/// Above this, counts and dollars are shown in scientific notation: past 10^15 an `f64` no
/// longer holds every digit, and a row of them would only push columns apart.
const HUGE: f64 = 1e15;

/// `1234567` as `1,234,567`; from 10^15, `1.235e15`.
pub fn thousands(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    if x.abs() >= HUGE {
        return format!("{x:.3e}");
    }
    let rounded = x.round();
    let digits = format!("{}", rounded.abs() as u128);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if rounded < 0.0 {
        out.insert(0, '-');
    }
    out
}

/// Milliseconds with three significant digits (at most one decimal above 100). From 10^6 ms
/// (about 17 minutes, an overloaded queue) in minutes, hours or days with their unit, so that
/// a latency never takes more than seven characters and columns never run together.
pub fn ms(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    if x >= 1e6 {
        let min = x / 60e3;
        return if min < 99.95 {
            format!("{min:.1}min")
        } else if min < 99.95 * 60.0 {
            format!("{:.1}h", min / 60.0)
        } else if min < 9999.95 * 1440.0 {
            format!("{:.1}d", min / 1440.0)
        } else {
            format!("{:.0e}d", min / 1440.0)
        };
    }
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// Dollars with cents, thousands separated.
pub fn usd(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    if x != 0.0 && x.abs() < 0.01 {
        return format!("${x:.4}");
    }
    if x.abs() >= HUGE {
        return format!("${x:.3e}");
    }
    let cents = (x * 100.0).round();
    let whole = (cents / 100.0).trunc();
    let frac = (cents - whole * 100.0).abs();
    format!("${}.{:02}", thousands(whole), frac as u64)
}

/// A small price with three significant digits (`$0.0143`), for unit costs such as per 1,000
/// requests; from $10 up, as [`usd`].
pub fn usd_unit(x: f64) -> String {
    if !x.is_finite() || x == 0.0 || x.abs() >= 10.0 {
        return usd(x);
    }
    let decimals = (2 - x.abs().log10().floor() as i32).max(2) as usize;
    format!("${x:.decimals$}")
}

/// A fraction as a percentage with no decimals (one below 10 %).
pub fn pct(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let p = x * 100.0;
    if p < 10.0 && p > 0.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

/// A span of time in the largest sensible units, cut (not rounded) to the two largest:
/// `23h50m`, `1m30s`, `50s`, `250ms`.
pub fn span(t: SimTime) -> String {
    let s = t.0 / SimTime::NS_PER_SEC;
    let (d, h, m, sec) = (s / 86_400, s / 3_600 % 24, s / 60 % 60, s % 60);
    match (d, h, m, sec) {
        (0, 0, 0, 0) if !t.0.is_multiple_of(SimTime::NS_PER_SEC) => {
            crate::units::format_duration(t)
        }
        (0, 0, 0, s) => format!("{s}s"),
        (0, 0, m, 0) => format!("{m}m"),
        (0, 0, m, s) => format!("{m}m{s}s"),
        (0, h, 0, _) => format!("{h}h"),
        (0, h, m, _) => format!("{h}h{m}m"),
        (d, 0, _, _) => format!("{d}d"),
        (d, h, _, _) => format!("{d}d{h}h"),
    }
}

/// `s` cut to `n` characters, the last one an ellipsis when cut.
pub fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// `items` joined by " · " after `lead`, wrapped at 80 columns under the first item.
pub fn wrapped(out: &mut String, lead: &str, items: &[String]) {
    let indent = " ".repeat(lead.chars().count());
    let mut line = lead.to_string();
    for (i, item) in items.iter().enumerate() {
        let piece = if i == 0 {
            item.clone()
        } else {
            format!(" · {item}")
        };
        if i > 0 && line.chars().count() + piece.chars().count() > 80 {
            let _ = writeln!(out, "{line}");
            line = format!("{indent}{item}");
        } else {
            line.push_str(&piece);
        }
    }
    let _ = writeln!(out, "{line}");
}

/// SLO targets in a few characters: `1000 ms`, `ttft+tpot`, `tpot`, or `-`.
pub fn slo_label(t: Option<&crate::sim::result::SloTargets>) -> String {
    match t.map(|t| (t.p99_ms, t.ttft_p99_ms, t.tpot_p99_ms)) {
        Some((Some(p), _, _)) => format!("{} ms", ms(p)),
        Some((None, Some(_), tpot)) => format!("ttft{}", if tpot.is_some() { "+tpot" } else { "" }),
        Some((None, None, Some(_))) => "tpot".to_string(),
        _ => "-".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_lines_stay_within_80_columns() {
        let items: Vec<String> = (0..12).map(|i| format!("item number {i}")).collect();
        let mut out = String::new();
        wrapped(&mut out, "lead: ", &items);
        assert!(out.lines().count() > 1);
        assert!(out.lines().all(|l| l.chars().count() <= 80), "{out}");
        assert!(
            out.lines().skip(1).all(|l| l.starts_with("      item")),
            "{out}"
        );
        let joined: String = out.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(joined.contains("item number 0 · item number 1"), "{out}");
    }

    #[test]
    fn formats() {
        assert_eq!(thousands(1_234_567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(-1_000.0), "-1,000");
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(6.16e305), "6.160e305");
        assert_eq!(usd(999_999_999_999_999.0), "$999,999,999,999,999.00");
        assert_eq!(usd(6.16e305), "$6.160e305");
        assert_eq!(usd(-2e20), "$-2.000e20");
        assert_eq!(ms(5152.2), "5152");
        assert_eq!(ms(999_999.0), "999999");
        assert_eq!(ms(1e6), "16.7min");
        assert_eq!(ms(5_990_000.0), "99.8min");
        assert_eq!(ms(8_012_261_491.0), "92.7d");
        assert_eq!(ms(170_792_059.0), "47.4h");
        assert_eq!(ms(1e300), "1e292d");
        for x in [1e6, 5.997e6, 3.6e8, 3.599e8, 8.64e11, 8.639e11, 1e12, 1e300] {
            assert!(ms(x).chars().count() <= 7, "{x}: {}", ms(x));
        }
        assert_eq!(ms(63.94), "63.9");
        assert_eq!(ms(2.5), "2.50");
        assert_eq!(usd(1234.567), "$1,234.57");
        assert_eq!(usd(0.004), "$0.0040");
        assert_eq!(usd(0.0), "$0.00");
        assert_eq!(usd_unit(0.01432), "$0.0143");
        assert_eq!(usd_unit(0.4), "$0.400");
        assert_eq!(usd_unit(3.456), "$3.46");
        assert_eq!(usd_unit(1234.5), "$1,234.50");
        assert_eq!(pct(0.8), "80%");
        assert_eq!(pct(0.05), "5.0%");
        assert_eq!(span(SimTime::from_secs(85_800)), "23h50m");
        assert_eq!(span(SimTime::from_secs(90)), "1m30s");
        assert_eq!(span(SimTime::from_millis(250)), "250ms");
        assert_eq!(span(SimTime::from_secs(2 * 86_400 + 3_600)), "2d1h");
    }
}
