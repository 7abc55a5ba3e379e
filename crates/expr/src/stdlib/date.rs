//! `date([layout])`: the current UTC time formatted with a Go reference layout
//! (`2006-01-02T15:04:05.000Z07:00` by default).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::Args;
use crate::error::EvalError;

const DEFAULT_LAYOUT: &str = "2006-01-02T15:04:05.000Z07:00";

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

pub(super) fn date(args: &Args<'_>) -> Result<Value, EvalError> {
    args.count(0, 1)?;
    let layout = if args.len() == 1 {
        args.string(0)
    } else {
        DEFAULT_LAYOUT.to_string()
    };
    // Nanoseconds too: layouts may ask for up to nine fraction digits.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = i64::try_from(now.as_secs()).unwrap_or(0);
    Ok(Value::String(format_go_time(
        secs,
        now.subsec_nanos(),
        &layout,
    )))
}

/// Formats a UTC instant with a Go layout: `2006 06 01 1 Jan January 02 2 _2 002 __2 15 03 3
/// 04 4 05 5 PM pm Mon Monday MST Z07:00 -07:00 Z0700 -0700 Z07 -07 .000 .999 ,000`.
pub(super) fn format_go_time(secs: i64, nanos: u32, layout: &str) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (year, month, day) = testwerk_time::civil_from_days(days);
    let (hour, minute, second) = (sod / 3600, sod / 60 % 60, sod % 60);
    let hour12 = if hour % 12 == 0 { 12 } else { hour % 12 };
    let weekday = usize::try_from((days + 4).rem_euclid(7)).unwrap_or(0);
    let month_name = usize::try_from(month)
        .ok()
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
        .copied()
        .unwrap_or("");
    let day_name = DAYS.get(weekday).copied().unwrap_or("");
    let yday = testwerk_time::day_of_year(year, month, day);

    // (token, replacement) in matching order: longer tokens first where they overlap.
    let tokens: Vec<(&str, String)> = vec![
        ("January", month_name.to_string()),
        ("Jan", month_name.chars().take(3).collect()),
        ("Monday", day_name.to_string()),
        ("Mon", day_name.chars().take(3).collect()),
        ("MST", "UTC".to_string()),
        ("2006", format!("{year:04}")),
        ("_2006", format!("_{year:04}")),
        ("__2", format!("{yday:>3}")),
        ("_2", format!("{day:>2}")),
        ("002", format!("{yday:03}")),
        ("01", format!("{month:02}")),
        ("02", format!("{day:02}")),
        ("03", format!("{hour12:02}")),
        ("04", format!("{minute:02}")),
        ("05", format!("{second:02}")),
        ("06", format!("{:02}", year.rem_euclid(100))),
        ("15", format!("{hour:02}")),
        ("1", month.to_string()),
        ("2", day.to_string()),
        ("3", hour12.to_string()),
        ("4", minute.to_string()),
        ("5", second.to_string()),
        ("PM", if hour >= 12 { "PM" } else { "AM" }.to_string()),
        ("pm", if hour >= 12 { "pm" } else { "am" }.to_string()),
        ("Z07:00:00", "Z".to_string()),
        ("Z070000", "Z".to_string()),
        ("Z07:00", "Z".to_string()),
        ("Z0700", "Z".to_string()),
        ("Z07", "Z".to_string()),
        ("-07:00:00", "+00:00:00".to_string()),
        ("-070000", "+000000".to_string()),
        ("-07:00", "+00:00".to_string()),
        ("-0700", "+0000".to_string()),
        ("-07", "+00".to_string()),
    ];

    let mut out = String::new();
    let mut rest = layout;
    'outer: while let Some(c) = rest.chars().next() {
        if c == '.' || c == ',' {
            let digit = rest[1..].chars().next();
            if let Some(d @ ('0' | '9')) = digit {
                let run = rest[1..].chars().take_while(|x| *x == d).count();
                let after = rest[1 + run..].chars().next();
                if !after.is_some_and(|a| a.is_ascii_digit()) {
                    let frac = format!("{nanos:09}");
                    let mut digits: String = frac.chars().take(run.min(9)).collect();
                    if d == '9' {
                        digits = digits.trim_end_matches('0').to_string();
                    }
                    if !digits.is_empty() {
                        out.push(c);
                        out.push_str(&digits);
                    }
                    rest = &rest[1 + run..];
                    continue;
                }
            }
        }
        for (token, replacement) in &tokens {
            if let Some(r) = rest.strip_prefix(token) {
                out.push_str(replacement);
                rest = r;
                continue 'outer;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2024-02-29T13:04:05.120Z, a Thursday.
    const T: i64 = 1_709_211_845;

    #[test]
    fn default_layout() {
        assert_eq!(
            format_go_time(T, 120_000_000, DEFAULT_LAYOUT),
            "2024-02-29T13:04:05.120Z"
        );
        assert_eq!(
            format_go_time(0, 0, DEFAULT_LAYOUT),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn tokens() {
        assert_eq!(
            format_go_time(T, 120_000_000, "Mon Jan _2 15:04:05.999 MST 2006"),
            "Thu Feb 29 13:04:05.12 UTC 2024"
        );
        assert_eq!(
            format_go_time(T, 0, "Monday, January 2, 06 3:4:5 PM -07:00 002"),
            "Thursday, February 29, 24 1:4:5 PM +00:00 060"
        );
        assert_eq!(format_go_time(T, 0, "2006-01-02"), "2024-02-29");
        assert_eq!(format_go_time(T, 0, "20060102.999"), "20240229");
        assert_eq!(
            format_go_time(-86_400, 0, "2006-01-02 Mon"),
            "1969-12-31 Wed"
        );
        assert_eq!(format_go_time(T, 0, "literal é"), "literal é");
    }
}
