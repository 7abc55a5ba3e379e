//! The registry client's timestamps: Unix seconds (credential expiry, cache ages) and SigV4's
//! `X-Amz-Date`, on top of the shared civil-time rules in testwerk-time.

pub use testwerk_time::now_unix_secs as now;

/// `20150830T123600Z` (SigV4's `X-Amz-Date`).
pub fn amz_datetime(unix: u64) -> String {
    let c = testwerk_time::Civil::from_unix_millis(i64::try_from(unix).unwrap_or(0) * 1000);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// Unix seconds of an RFC 3339 date-time (`2024-05-01T12:00:00Z`, `…T12:00:00.123Z`,
/// `…T12:00:00+02:00`), as credential services write expiry times; `None` before 1970.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let millis = testwerk_time::parse_rfc3339_millis(text)?;
    u64::try_from(millis.div_euclid(1000)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(amz_datetime(0), "19700101T000000Z");
        assert_eq!(amz_datetime(1_440_938_160), "20150830T123600Z");
        assert_eq!(parse_rfc3339("2015-08-30T12:36:00Z"), Some(1_440_938_160));
        assert_eq!(parse_rfc3339("2015-08-30T12:36:00.5Z"), Some(1_440_938_160));
        assert_eq!(
            parse_rfc3339("2015-08-30T14:36:00+02:00"),
            Some(1_440_938_160)
        );
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z"), Some(1_709_164_800));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
