//! # testwerk-time
//!
//! The one place dates are computed. testwerk needs only UTC: timestamps in the results store
//! and in `testwerk-init`'s events, credential expiry and SigV4 dates in the registry client,
//! and the expression language's `date()`. A date-time crate would add size to
//! `testwerk-init` (which has a 2 MB budget) for little, so this crate holds the few
//! conversions with no dependency at all: the clock, days ↔ civil dates (H. Hinnant's
//! algorithms, proleptic Gregorian, any year), and RFC 3339 with milliseconds.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// Now, in Unix seconds (0 if the clock is before 1970).
pub fn now_unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Now, in Unix milliseconds (0 if the clock is before 1970).
pub fn now_unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Whether `year` has a 29 February.
pub fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days in `month` (1–12) of `year`; 0 for a month that does not exist.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        _ => 0,
    }
}

/// The day of the year (1–366) of a date.
pub fn day_of_year(year: i64, month: u32, day: u32) -> u32 {
    const BEFORE: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let leap = u32::from(month > 2 && is_leap(year));
    let index = usize::try_from(month.saturating_sub(1)).unwrap_or(0);
    BEFORE.get(index).copied().unwrap_or(0) + day + leap
}

/// Days since 1970-01-01 of a date (`month` 1–12, `day` 1–31).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month 1–12, day 1–31) of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // Both are in range by construction (day 1–31, month 1–12).
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// A UTC instant split into its calendar and clock fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
}

impl Civil {
    /// The fields of `millis` milliseconds after the Unix epoch (before it when negative).
    pub fn from_unix_millis(millis: i64) -> Self {
        let (year, month, day) = civil_from_days(millis.div_euclid(DAY_MS));
        // 0 ≤ ms_of_day < 86 400 000, so every field below fits.
        let ms_of_day = u32::try_from(millis.rem_euclid(DAY_MS)).unwrap_or(0);
        let secs = ms_of_day / 1000;
        Self {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: secs / 60 % 60,
            second: secs % 60,
            millis: ms_of_day % 1000,
        }
    }
}

/// `2025-01-02T03:04:05.678Z`: RFC 3339 in UTC with milliseconds. For years 0000–9999 the
/// text is fixed-width, so it sorts in time order.
pub fn format_rfc3339_millis(millis: i64) -> String {
    let c = Civil::from_unix_millis(millis);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.millis
    )
}

/// Unix milliseconds of an RFC 3339 date-time: `T`, `t` or a space between date and time, any
/// number of fraction digits (the first three are kept), and a `Z` or `±hh:mm` offset, which
/// is required. Surrounding whitespace is ignored; anything else is `None`. A leap second is
/// folded into the following second, as most systems do.
pub fn parse_rfc3339_millis(text: &str) -> Option<i64> {
    let s = text.trim().as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = s.get(range)?;
        digits.iter().try_fold(0i64, |acc, &b| {
            b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
        })
    };
    let sep = |i: usize, expected: &[u8]| s.get(i).is_some_and(|b| expected.contains(b));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let month = u32::try_from(month).ok().filter(|m| (1..=12).contains(m))?;
    let day = u32::try_from(day)
        .ok()
        .filter(|d| *d >= 1 && *d <= days_in_month(year, month))?;
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0;
    if s.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while let Some(b) = s.get(i).filter(|b| b.is_ascii_digit()) {
            if i - start < 3 {
                millis = millis * 10 + i64::from(b - b'0');
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return None;
        }
        for _ in digits..3 {
            millis *= 10;
        }
    }
    let offset_minutes = match s.get(i..)? {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            let minutes = h * 60 + m;
            if *sign == b'-' { -minutes } else { minutes }
        }
        _ => return None,
    };
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_minutes * 60;
    Some(secs * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_dates_convert_both_ways() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        assert_eq!(days_from_civil(2024, 3, 1), 19_783);
        for days in [
            -800_000, -1000, -1, 0, 59, 11_016, 19_782, 60_000, 2_932_896,
        ] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{days}");
        }
    }

    #[test]
    fn calendar_rules() {
        assert!(is_leap(2000) && is_leap(2024) && !is_leap(1900) && !is_leap(2023));
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2023, 2), 28);
        assert_eq!(days_in_month(2023, 4), 30);
        assert_eq!(days_in_month(2023, 13), 0);
        assert_eq!(day_of_year(2024, 12, 31), 366);
        assert_eq!(day_of_year(2023, 12, 31), 365);
        assert_eq!(day_of_year(2023, 3, 1), 60);
    }

    #[test]
    fn formats_utc_with_millis() {
        assert_eq!(format_rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_rfc3339_millis(1_735_787_045_678),
            "2025-01-02T03:04:05.678Z"
        );
        assert_eq!(format_rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            format_rfc3339_millis(951_782_400_000),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn parses_rfc3339_forms() {
        assert_eq!(
            parse_rfc3339_millis("2015-08-30T12:36:00Z"),
            Some(1_440_938_160_000)
        );
        assert_eq!(
            parse_rfc3339_millis(" 2015-08-30T12:36:00.5Z\n"),
            Some(1_440_938_160_500)
        );
        assert_eq!(
            parse_rfc3339_millis("2015-08-30T14:36:00+02:00"),
            Some(1_440_938_160_000)
        );
        assert_eq!(
            parse_rfc3339_millis("2024-03-01T11:04:56.780999-01:30"),
            Some(1_709_296_496_780)
        );
        for millis in [0, -1, 1_709_296_496_789, 253_402_300_799_999] {
            assert_eq!(
                parse_rfc3339_millis(&format_rfc3339_millis(millis)),
                Some(millis)
            );
        }
        for bad in [
            "",
            "yesterday",
            "2024-03-01",
            "2024-03-01T12:34:56",
            "2024-02-30T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-03-01T24:00:00Z",
            "2024-03-01T12:34:56.Z",
            "2024-03-01T12:34:56+0200",
            "2024-03-01T12:34:56Zjunk",
        ] {
            assert_eq!(parse_rfc3339_millis(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_clock_is_after_2020() {
        assert!(now_unix_secs() > 1_577_836_800);
        assert!(now_unix_millis() / 1000 >= now_unix_secs() - 1);
    }
}
