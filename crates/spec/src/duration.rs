//! The two duration syntaxes of workflows: Go's (`timeout`) and the stricter one of `delay`.

use std::time::Duration;

/// Parses a Go duration (`time.ParseDuration`): a sequence of decimal numbers, each with an
/// optional fraction and a unit among `ns`, `us` (`µs`), `ms`, `s`, `m`, `h`, e.g. `1h2m3.5s`,
/// `500ms`, `1us`; a bare `0` is allowed. Negative durations are refused: nothing here may last
/// less than nothing.
pub fn parse_go(s: &str) -> Result<Duration, String> {
    let invalid = |why: &str| format!("invalid duration `{s}`: {why}");
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest == "0" || rest == "-0" {
        return Ok(Duration::ZERO);
    }
    if rest.starts_with('-') {
        return Err(invalid("a duration cannot be negative"));
    }
    if rest.is_empty() {
        return Err(invalid("it is empty; write e.g. `30s`, `5m` or `1h30m`"));
    }
    // Go limits durations to what fits in an i64 of nanoseconds (about 292 years).
    const MAX_NANOS: u128 = i64::MAX as u128;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_digits, after) = rest.split_at(int_len);
        let (frac_digits, after) = match after.strip_prefix('.') {
            Some(a) => {
                let n = a.bytes().take_while(u8::is_ascii_digit).count();
                a.split_at(n)
            }
            None => ("", after),
        };
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(invalid("expected a number"));
        }
        let unit_len = after
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(after.len(), |(i, _)| i);
        let (unit, after) = after.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(invalid("missing unit; use ns, us, ms, s, m or h")),
            other => {
                return Err(invalid(&format!(
                    "unknown unit `{other}`; use ns, us, ms, s, m or h"
                )));
            }
        };
        let too_large = || invalid("too large");
        let int: u128 = if int_digits.is_empty() {
            0
        } else {
            int_digits.parse().map_err(|_| too_large())?
        };
        let mut part = int.checked_mul(unit_nanos).ok_or_else(too_large)?;
        // Fractions beyond nanosecond precision cannot matter; cap the digits to keep the
        // arithmetic exact and bounded.
        let frac_digits = &frac_digits[..frac_digits.len().min(20)];
        if !frac_digits.is_empty() {
            let scale = 10u128.pow(frac_digits.len() as u32);
            let frac: u128 = frac_digits.parse().map_err(|_| too_large())?;
            part = part
                .checked_add(frac * unit_nanos / scale)
                .ok_or_else(too_large)?;
        }
        total = total
            .checked_add(part)
            .filter(|t| *t <= MAX_NANOS)
            .ok_or_else(too_large)?;
        rest = after;
    }
    let nanos = u64::try_from(total).map_err(|_| invalid("too large"))?;
    Ok(Duration::from_nanos(nanos))
}

/// Parses a step's `delay`: whole numbers with units `h`, `m`, `s`, `ms`, each at most once and
/// in that order (`1h30m`, `10s`, `1s500ms`), matching upstream's
/// `^((0|[1-9][0-9]*)h)?((0|[1-9][0-9]*)m)?((0|[1-9][0-9]*)s)?((0|[1-9][0-9]*)ms)?$`.
/// As in that pattern, the empty string means no delay.
pub fn parse_delay(s: &str) -> Result<Duration, String> {
    const UNITS: [(&str, u64); 4] = [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)];
    let invalid = |why: &str| {
        format!(
            "invalid delay `{s}`: {why}; write whole numbers with units h, m, s, ms in that order, e.g. `1m30s` or `500ms`"
        )
    };
    let mut rest = s;
    let mut next_unit = 0;
    let mut millis: u64 = 0;
    while !rest.is_empty() {
        let digits_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (digits, after) = rest.split_at(digits_len);
        if digits.is_empty() {
            return Err(invalid("expected a number"));
        }
        if digits.len() > 1 && digits.starts_with('0') {
            return Err(invalid("a number cannot start with 0"));
        }
        let unit_len = after.bytes().take_while(|b| !b.is_ascii_digit()).count();
        let (unit, after) = after.split_at(unit_len);
        let Some(position) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(if unit.is_empty() {
                invalid("missing unit")
            } else {
                invalid(&format!("unknown unit `{unit}`"))
            });
        };
        if position < next_unit {
            return Err(invalid(&format!("unit `{unit}` out of order or repeated")));
        }
        next_unit = position + 1;
        let n: u64 = digits.parse().map_err(|_| invalid("too large"))?;
        let part = n
            .checked_mul(UNITS[position].1)
            .ok_or_else(|| invalid("too large"))?;
        millis = millis
            .checked_add(part)
            .ok_or_else(|| invalid("too large"))?;
        rest = after;
    }
    Ok(Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let ok = [
            ("0", Duration::ZERO),
            ("1h2m3.5s", Duration::from_millis(3_723_500)),
            ("500ms", Duration::from_millis(500)),
            ("1us", Duration::from_micros(1)),
            ("1µs", Duration::from_micros(1)),
            ("2ns", Duration::from_nanos(2)),
            (".5s", Duration::from_millis(500)),
            ("1.s", Duration::from_secs(1)),
            ("+5m", Duration::from_secs(300)),
            ("1h1h", Duration::from_secs(7200)),
            ("0.000000001s", Duration::from_nanos(1)),
            ("2562047h", Duration::from_secs(2_562_047 * 3600)),
        ];
        for (s, want) in ok {
            assert_eq!(parse_go(s), Ok(want), "{s}");
        }
        for (s, why) in [
            ("", "empty"),
            ("5", "missing unit"),
            ("5x", "unknown unit `x`"),
            ("1d", "unknown unit `d`"),
            ("-1s", "negative"),
            (".s", "expected a number"),
            ("1h x", "unknown unit `h x`"),
            ("3000000h", "too large"),
            ("99999999999999999999999999999999999999999h", "too large"),
            ("94522879700260684295381835397713.9h", "too large"),
        ] {
            let err = parse_go(s).expect_err(s);
            assert!(err.contains(why), "{s}: {err}");
        }
    }

    #[test]
    fn delays() {
        for (s, ms) in [
            ("", 0),
            ("0s", 0),
            ("1h30m", 5_400_000),
            ("10s", 10_000),
            ("1s500ms", 1_500),
            ("5ms", 5),
            ("5m", 300_000),
        ] {
            assert_eq!(parse_delay(s), Ok(Duration::from_millis(ms)), "{s}");
        }
        for (s, why) in [
            ("5", "missing unit"),
            ("1.5s", "unknown unit `.`"),
            ("05s", "start with 0"),
            ("1s1m", "out of order"),
            ("1s1s", "out of order"),
            ("1d", "unknown unit `d`"),
            ("s", "expected a number"),
            ("1 s", "unknown unit ` s`"),
            ("99999999999999999999h", "too large"),
        ] {
            let err = parse_delay(s).expect_err(s);
            assert!(err.contains(why), "{s}: {err}");
        }
    }
}
