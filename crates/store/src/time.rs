//! [`Timestamp`]: an instant in UTC with millisecond precision, written as RFC 3339.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant in UTC with millisecond precision.
///
/// Displayed (and stored) as RFC 3339 with milliseconds and a `Z` offset, e.g.
/// `2025-03-01T12:34:56.789Z`; this fixed-width form sorts as text in time order.
/// Parsing accepts any RFC 3339 date-time (`T` or space separator, any offset, any number of
/// fraction digits, of which the first three are kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    millis: i64,
}

/// The range [`Timestamp`] can display: years 0000 to 9999.
const MIN_MILLIS: i64 = -62_167_219_200_000; // 0000-01-01T00:00:00Z
const MAX_MILLIS: i64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

impl Timestamp {
    /// The current time, truncated to milliseconds.
    pub fn now() -> Timestamp {
        Timestamp::from(SystemTime::now())
    }

    /// The instant `millis` milliseconds after the Unix epoch, clamped to years 0000–9999.
    pub fn from_unix_millis(millis: i64) -> Timestamp {
        Timestamp {
            millis: millis.clamp(MIN_MILLIS, MAX_MILLIS),
        }
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(self) -> i64 {
        self.millis
    }

    /// Milliseconds from `earlier` to `self`, or `None` if `earlier` is later.
    pub fn millis_since(self, earlier: Timestamp) -> Option<u64> {
        u64::try_from(self.millis - earlier.millis).ok()
    }
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Timestamp {
        let millis = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
            Err(before) => {
                // Round towards the past so that truncation is consistent on both sides of 1970.
                let d = before.duration();
                let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
                let partial = i64::from(d.subsec_nanos() % 1_000_000 != 0);
                -ms.saturating_add(partial)
            }
        };
        Timestamp::from_unix_millis(millis)
    }
}

impl From<Timestamp> for SystemTime {
    fn from(t: Timestamp) -> SystemTime {
        let magnitude = Duration::from_millis(t.millis.unsigned_abs());
        if t.millis >= 0 {
            UNIX_EPOCH + magnitude
        } else {
            UNIX_EPOCH - magnitude
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&testwerk_time::format_rfc3339_millis(self.millis))
    }
}

/// Why a text is not an RFC 3339 date-time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not an RFC 3339 date-time like 2025-03-01T12:34:56.789Z")]
pub struct ParseTimestampError {
    text: String,
}

impl FromStr for Timestamp {
    type Err = ParseTimestampError;

    fn from_str(text: &str) -> Result<Timestamp, ParseTimestampError> {
        testwerk_time::parse_rfc3339_millis(text)
            .map(Timestamp::from_unix_millis)
            .ok_or_else(|| ParseTimestampError {
                text: text.to_owned(),
            })
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_rfc3339_with_millis() {
        assert_eq!(
            Timestamp::from_unix_millis(0).to_string(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp::from_unix_millis(1_709_296_496_789).to_string(),
            "2024-03-01T12:34:56.789Z"
        );
        assert_eq!(
            Timestamp::from_unix_millis(-1).to_string(),
            "1969-12-31T23:59:59.999Z"
        );
        assert_eq!(
            Timestamp::from_unix_millis(951_782_400_000).to_string(),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn parses_what_it_displays_and_other_rfc3339_forms() {
        for millis in [
            0,
            -1,
            1_709_296_496_789,
            951_782_400_000,
            MIN_MILLIS,
            MAX_MILLIS,
        ] {
            let t = Timestamp::from_unix_millis(millis);
            assert_eq!(t.to_string().parse::<Timestamp>(), Ok(t));
        }
        let expected = Timestamp::from_unix_millis(1_709_296_496_780);
        for text in [
            "2024-03-01T12:34:56.78Z",
            "2024-03-01t12:34:56.780999z",
            "2024-03-01 14:34:56.78+02:00",
            "2024-03-01T11:04:56.78-01:30",
        ] {
            assert_eq!(text.parse::<Timestamp>(), Ok(expected), "{text}");
        }
        assert_eq!(
            "2024-03-01T12:34:56Z".parse::<Timestamp>(),
            Ok(Timestamp::from_unix_millis(1_709_296_496_000))
        );
    }

    #[test]
    fn rejects_malformed_dates() {
        for text in [
            "",
            "2024-03-01",
            "2024-03-01T12:34:56",
            "2024-02-30T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-03-01T24:00:00Z",
            "2024-03-01T12:34:56.Z",
            "2024-03-01T12:34:56+0200",
            "2024-03-01T12:34:56Zjunk",
            "２024-03-01T12:34:56Z",
        ] {
            assert!(text.parse::<Timestamp>().is_err(), "{text}");
        }
    }

    #[test]
    fn converts_from_system_time_by_truncating_towards_the_past() {
        let t = UNIX_EPOCH + Duration::from_micros(1_500);
        assert_eq!(Timestamp::from(t).unix_millis(), 1);
        let t = UNIX_EPOCH - Duration::from_micros(1_500);
        assert_eq!(Timestamp::from(t).unix_millis(), -2);
        assert_eq!(
            SystemTime::from(Timestamp::from_unix_millis(-2)),
            UNIX_EPOCH - Duration::from_millis(2)
        );
    }
}
