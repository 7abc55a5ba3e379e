//! # testwerk-cron
//!
//! When a workflow's `spec.events[].cronjob` runs: [`Schedule::parse`] reads the `cron` and
//! `timezone` fields, [`Schedule::next_after`] gives the next tick.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use testwerk_cron::Schedule;
//!
//! let nightly = Schedule::parse("30 2 * * MON-FRI", Some("Europe/Berlin")).unwrap();
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600); // 2026-01-01 00:00 UTC
//! let next = nightly.next_after(now).unwrap();
//! // Thursday 2026-01-01 02:30 in Berlin is 01:30 UTC.
//! assert_eq!(next, now + Duration::from_secs(90 * 60));
//! ```
//!
//! What is accepted is what Testkube's scheduler (robfig/cron's standard parser) accepts:
//!
//! - five fields: minute (0–59), hour (0–23), day of month (1–31), month (1–12 or
//!   `JAN`–`DEC`), day of week (0–6 or `SUN`–`SAT`, 7 is Sunday too); each a `*` (or `?`), a
//!   number, a range `a-b`, a step `*/n`, `a-b/n` or `a/n`, or a comma-separated list of these;
//! - when both day fields are restricted, a day matches either (as in every cron);
//! - `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`), `@hourly`;
//! - `@every <duration>` (`90s`, `5m`, `1h30m`; at least one second). Unlike robfig's, whose
//!   ticks count from when the schedule was added, these count from the Unix epoch: every
//!   replica of the agent computes the same ticks, so each tick runs once.
//!
//! Times are civil times in the `timezone` (an IANA name; default UTC). A time that a DST
//! change skips runs as if the clock had not jumped (02:30 becomes 03:30 when 02:00–03:00 is
//! skipped); a time that happens twice runs once, the first time.

use std::time::{Duration, SystemTime};

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

/// Why a schedule is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error(
        "`{expr}`: expected five fields (minute hour day-of-month month day-of-week), found {found}; e.g. `*/15 * * * *`, or a descriptor like `@hourly`"
    )]
    FieldCount { expr: String, found: usize },
    #[error("`{expr}`: the {field} field `{value}` is not valid: {why}")]
    Field {
        expr: String,
        field: &'static str,
        value: String,
        why: String,
    },
    #[error(
        "`{expr}`: unknown descriptor; use @yearly, @monthly, @weekly, @daily, @hourly or @every <duration>"
    )]
    Descriptor { expr: String },
    #[error(
        "`{expr}`: `{duration}` is not a duration of at least one second (like 30s, 5m, 1h30m)"
    )]
    Every { expr: String, duration: String },
    #[error("unknown time zone `{0}`: use an IANA name like Europe/Berlin or America/New_York")]
    TimeZone(String),
}

/// A parsed schedule in its time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    kind: Kind,
    zone: TimeZone,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Fields(Fields),
    /// Every this many seconds, counted from the Unix epoch.
    Every(u64),
}

/// One bit per allowed value.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fields {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// `*` in the day-of-month field (then only the weekday restricts days).
    any_day: bool,
    /// `*` in the day-of-week field.
    any_weekday: bool,
}

struct Spec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: Spec = Spec {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Spec = Spec {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY: Spec = Spec {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Spec = Spec {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
};
const WEEKDAY: Spec = Spec {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
};

impl Schedule {
    /// Parses `expr` for `timezone` (an IANA name; `None` or empty is UTC).
    pub fn parse(expr: &str, timezone: Option<&str>) -> Result<Schedule, CronError> {
        let zone = match timezone.map(str::trim).filter(|t| !t.is_empty()) {
            None => TimeZone::UTC,
            Some(name) => TimeZone::get(name).map_err(|_| CronError::TimeZone(name.to_owned()))?,
        };
        let trimmed = expr.trim();
        let kind = if let Some(descriptor) = trimmed.strip_prefix('@') {
            descriptor_kind(trimmed, descriptor)?
        } else {
            Kind::Fields(fields(trimmed)?)
        };
        Ok(Schedule { kind, zone })
    }

    /// The first tick strictly after `after`; `None` if there is none within five years (a
    /// schedule like `0 0 30 2 *`).
    pub fn next_after(&self, after: SystemTime) -> Option<SystemTime> {
        let after = Timestamp::try_from(after).ok()?;
        let next = match &self.kind {
            Kind::Every(seconds) => {
                let now = u64::try_from(after.as_second()).ok()?;
                let next = (now / seconds + 1).checked_mul(*seconds)?;
                Timestamp::from_second(i64::try_from(next).ok()?).ok()?
            }
            Kind::Fields(fields) => fields.next_after(after, &self.zone)?,
        };
        Some(SystemTime::from(next))
    }
}

fn descriptor_kind(expr: &str, descriptor: &str) -> Result<Kind, CronError> {
    let standard = match descriptor.to_ascii_lowercase().as_str() {
        "yearly" | "annually" => "0 0 1 1 *",
        "monthly" => "0 0 1 * *",
        "weekly" => "0 0 * * 0",
        "daily" | "midnight" => "0 0 * * *",
        "hourly" => "0 * * * *",
        other => {
            let Some(duration) = other.strip_prefix("every") else {
                return Err(CronError::Descriptor {
                    expr: expr.to_owned(),
                });
            };
            let duration = duration.trim();
            return parse_duration(duration)
                .filter(|d| d.as_secs() >= 1)
                .map(|d| Kind::Every(d.as_secs()))
                .ok_or_else(|| CronError::Every {
                    expr: expr.to_owned(),
                    duration: duration.to_owned(),
                });
        }
    };
    fields(standard).map(Kind::Fields)
}

/// `1h30m`, `90s`, `5m`, `2h` (Go's duration units from seconds up).
fn parse_duration(text: &str) -> Option<Duration> {
    let mut total: u64 = 0;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let (number, after) = rest.split_at(digits);
        let number: u64 = number.parse().ok()?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let seconds = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            _ => return None,
        };
        total = total.checked_add(number.checked_mul(seconds)?)?;
        rest = after;
    }
    Some(Duration::from_secs(total))
}

fn fields(expr: &str) -> Result<Fields, CronError> {
    let parts: Vec<&str> = expr.split_whitespace().collect();
    let [minute, hour, day, month, weekday] = parts.as_slice() else {
        return Err(CronError::FieldCount {
            expr: expr.to_owned(),
            found: parts.len(),
        });
    };
    let mut weekdays = field(expr, weekday, &WEEKDAY)?;
    // 7 is Sunday too.
    if weekdays & (1 << 7) != 0 {
        weekdays = (weekdays & !(1 << 7)) | 1;
    }
    Ok(Fields {
        minutes: field(expr, minute, &MINUTE)?,
        hours: field(expr, hour, &HOUR)?,
        days: field(expr, day, &DAY)?,
        months: field(expr, month, &MONTH)?,
        weekdays,
        any_day: is_any(day),
        any_weekday: is_any(weekday),
    })
}

fn is_any(text: &str) -> bool {
    text == "*" || text == "?"
}

fn field(expr: &str, text: &str, spec: &Spec) -> Result<u64, CronError> {
    let fail = |why: String| CronError::Field {
        expr: expr.to_owned(),
        field: spec.name,
        value: text.to_owned(),
        why,
    };
    let mut bits = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 =
                    step.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                        fail(format!("the step `{step}` is not a positive number"))
                    })?;
                (range, Some(step))
            }
            None => (item, None),
        };
        let (low, high) = if is_any(range) {
            (spec.min, spec.max)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                value(a, spec).map_err(&fail)?,
                value(b, spec).map_err(&fail)?,
            )
        } else {
            let v = value(range, spec).map_err(&fail)?;
            // `a/n` runs from `a` to the end.
            (v, if step.is_some() { spec.max } else { v })
        };
        if low > high {
            return Err(fail(format!("the range {low}-{high} runs backwards")));
        }
        let mut v = low;
        while v <= high {
            bits |= 1 << v;
            v += step.unwrap_or(1);
        }
    }
    Ok(bits)
}

fn value(text: &str, spec: &Spec) -> Result<u32, String> {
    let upper = text.to_ascii_uppercase();
    let v = match spec.names.iter().position(|n| *n == upper) {
        Some(i) => i as u32 + if spec.min == 1 { 1 } else { 0 },
        None => text
            .parse()
            .map_err(|_| format!("`{text}` is not a number"))?,
    };
    if v < spec.min || v > spec.max {
        return Err(format!("{v} is outside {}-{}", spec.min, spec.max));
    }
    Ok(v)
}

fn has(bits: u64, v: i8) -> bool {
    v >= 0 && bits & (1 << v) != 0
}

impl Fields {
    fn day_matches(&self, date: Date) -> bool {
        let day = has(self.days, date.day());
        let weekday = has(self.weekdays, date.weekday().to_sunday_zero_offset());
        match (self.any_day, self.any_weekday) {
            (true, true) => true,
            (false, true) => day,
            (true, false) => weekday,
            (false, false) => day || weekday,
        }
    }

    fn next_after(&self, after: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let local = after.to_zoned(zone.clone()).datetime();
        let mut dt = local
            .with()
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .ok()?
            .checked_add(Span::new().minutes(1))
            .ok()?;
        let limit = local.date().checked_add(Span::new().years(5)).ok()?;
        let midnight = |date: Date| DateTime::from_parts(date, Time::midnight());
        while dt.date() <= limit {
            let date = dt.date();
            if !has(self.months, date.month()) {
                dt = midnight(
                    date.first_of_month()
                        .checked_add(Span::new().months(1))
                        .ok()?,
                );
            } else if !self.day_matches(date) {
                dt = midnight(date.tomorrow().ok()?);
            } else if !has(self.hours, dt.hour()) {
                dt = dt
                    .with()
                    .minute(0)
                    .build()
                    .ok()?
                    .checked_add(Span::new().hours(1))
                    .ok()?;
            } else if !has(self.minutes, dt.minute()) {
                dt = dt.checked_add(Span::new().minutes(1)).ok()?;
            } else {
                // A time a DST change skips runs just after the gap; the second occurrence of
                // a repeated time is a later instant with the same civil time, skipped here.
                let at = zone.to_ambiguous_zoned(dt).compatible().ok()?.timestamp();
                if at > after {
                    return Some(at);
                }
                dt = dt.checked_add(Span::new().minutes(1)).ok()?;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        let ts: Timestamp = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        SystemTime::from(ts)
    }

    fn next(expr: &str, tz: Option<&str>, after: &str) -> String {
        let schedule = Schedule::parse(expr, tz).unwrap_or_else(|e| panic!("{e}"));
        let next = schedule
            .next_after(at(after))
            .unwrap_or_else(|| panic!("no tick"));
        Timestamp::try_from(next)
            .map(|t| t.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn standard_fields_ranges_steps_lists_and_names() {
        assert_eq!(
            next("*/15 * * * *", None, "2026-03-10T10:07:30Z"),
            "2026-03-10T10:15:00Z"
        );
        assert_eq!(
            next("0 9-17/4 * * *", None, "2026-03-10T10:00:00Z"),
            "2026-03-10T13:00:00Z"
        );
        assert_eq!(
            next("5,35 * * * *", None, "2026-03-10T10:35:00Z"),
            "2026-03-10T11:05:00Z"
        );
        assert_eq!(
            next("0 0 1 jan *", None, "2026-03-10T10:00:00Z"),
            "2027-01-01T00:00:00Z"
        );
        // 2026-03-10 is a Tuesday.
        assert_eq!(
            next("0 8 * * MON", None, "2026-03-10T10:00:00Z"),
            "2026-03-16T08:00:00Z"
        );
        assert_eq!(
            next("0 8 * * 7", None, "2026-03-10T10:00:00Z"),
            "2026-03-15T08:00:00Z"
        );
        assert_eq!(
            next("30 * * * *", None, "2026-03-10T10:30:00Z"),
            "2026-03-10T11:30:00Z",
            "strictly after"
        );
    }

    #[test]
    fn restricted_day_fields_match_either() {
        // The 13th, or any Friday: Friday 2026-03-13 is both; next after it is Friday the 20th.
        assert_eq!(
            next("0 0 13 * FRI", None, "2026-03-13T00:00:00Z"),
            "2026-03-20T00:00:00Z"
        );
        assert_eq!(
            next("0 0 13 * FRI", None, "2026-03-27T00:00:00Z"),
            "2026-04-03T00:00:00Z"
        );
    }

    #[test]
    fn descriptors_and_every_count_from_the_epoch() {
        assert_eq!(
            next("@daily", None, "2026-03-10T10:00:00Z"),
            "2026-03-11T00:00:00Z"
        );
        assert_eq!(
            next("@hourly", None, "2026-03-10T10:00:00Z"),
            "2026-03-10T11:00:00Z"
        );
        assert_eq!(
            next("@weekly", None, "2026-03-10T10:00:00Z"),
            "2026-03-15T00:00:00Z"
        );
        assert_eq!(
            next("@every 5s", None, "2026-03-10T10:00:02Z"),
            "2026-03-10T10:00:05Z"
        );
        assert_eq!(
            next("@every 1h30m", None, "2026-03-10T10:00:00Z"),
            "2026-03-10T10:30:00Z"
        );
    }

    #[test]
    fn time_zones_and_daylight_saving() {
        assert_eq!(
            next(
                "0 9 * * *",
                Some("America/New_York"),
                "2026-03-10T10:00:00Z"
            ),
            "2026-03-10T13:00:00Z",
            "09:00 EDT"
        );
        // 2026-03-29 02:30 does not exist in Berlin: it runs as if the clock had not jumped,
        // at 03:30 CEST (01:30 UTC).
        assert_eq!(
            next("30 2 * * *", Some("Europe/Berlin"), "2026-03-28T12:00:00Z"),
            "2026-03-29T01:30:00Z"
        );
        // 2026-10-25 02:30 happens twice in Berlin: once (the first, 00:30 UTC), then the next
        // day's.
        assert_eq!(
            next("30 2 * * *", Some("Europe/Berlin"), "2026-10-24T12:00:00Z"),
            "2026-10-25T00:30:00Z"
        );
        assert_eq!(
            next("30 2 * * *", Some("Europe/Berlin"), "2026-10-25T00:30:00Z"),
            "2026-10-26T01:30:00Z"
        );
    }

    #[test]
    fn impossible_schedules_have_no_tick() {
        let feb30 = Schedule::parse("0 0 30 2 *", None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(feb30.next_after(at("2026-01-01T00:00:00Z")), None);
    }

    #[test]
    fn mistakes_are_named() {
        for (expr, tz, says) in [
            ("* * * *", None, "expected five fields"),
            ("60 * * * *", None, "the minute field `60`"),
            ("* * * * MOO", None, "the day-of-week field"),
            ("*/0 * * * *", None, "not a positive number"),
            ("5-1 * * * *", None, "runs backwards"),
            ("@sometimes", None, "unknown descriptor"),
            ("@every 0s", None, "at least one second"),
            ("@every soon", None, "not a duration"),
            (
                "* * * * *",
                Some("Mars/Olympus"),
                "unknown time zone `Mars/Olympus`",
            ),
        ] {
            let err = Schedule::parse(expr, tz).expect_err(expr).to_string();
            assert!(err.contains(says), "{expr}: {err}");
        }
    }
}
