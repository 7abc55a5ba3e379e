//! Plain scalars under the YAML 1.2 core schema.
//!
//! Only `true`/`false` are booleans, so `on`, `yes` and `no` stay strings (YAML 1.1 readers turn
//! them into booleans, a classic surprise). Infinity and NaN have no JSON form and stay strings.
//!
//! One YAML 1.1 rule is kept: a zero-prefixed integer (`0755`) is octal, as Kubernetes' own
//! YAML reader (and so `kubectl apply` and Testkube) reads it, so that `mode: 0755` on a content
//! file means `rwxr-xr-x` here as on the cluster.

use serde_json::{Number, Value};

pub(super) fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(n) = integer(text) {
        return Value::Number(n);
    }
    if is_float(text)
        && let Ok(f) = text.parse::<f64>()
        && let Some(n) = Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(text.to_owned())
}

/// `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`, or (YAML 1.1, as Kubernetes) `0[0-7]+`.
fn integer(text: &str) -> Option<Number> {
    let radix_digits = |prefix: &str, radix: u32| -> Option<Number> {
        let digits = text.strip_prefix(prefix)?;
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        u64::from_str_radix(digits, radix).ok().map(Number::from)
    };
    if let Some(n) = radix_digits("0o", 8)
        .or_else(|| radix_digits("0x", 16))
        .or_else(|| radix_digits("0", 8))
    {
        return Some(n);
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let decimal = text.strip_prefix('+').unwrap_or(text);
    if let Ok(i) = decimal.parse::<i64>() {
        return Some(Number::from(i));
    }
    if let Ok(u) = decimal.parse::<u64>() {
        return Some(Number::from(u));
    }
    // Too large for 64 bits: keep it as a number, with a float's precision.
    decimal.parse::<f64>().ok().and_then(Number::from_f64)
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_float(text: &str) -> bool {
    let s = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        // `.5` and `5.` are floats; `.` alone is not.
        Some((int, frac)) => digits(int) && digits(frac) && !(int.is_empty() && frac.is_empty()),
        None => !mantissa.is_empty() && digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn core_schema() {
        for (text, want) in [
            ("", json!(null)),
            ("~", json!(null)),
            ("true", json!(true)),
            ("FALSE", json!(false)),
            ("on", json!("on")),
            ("yes", json!("yes")),
            ("no", json!("no")),
            ("0", json!(0)),
            ("-12", json!(-12)),
            ("+7", json!(7)),
            ("0o17", json!(15)),
            ("0x1F", json!(31)),
            ("0755", json!(493)),
            ("0644", json!(420)),
            ("08", json!(8)),
            ("18446744073709551615", json!(18446744073709551615u64)),
            ("1.5", json!(1.5)),
            ("5.", json!(5.0)),
            (".5", json!(0.5)),
            ("1e3", json!(1000.0)),
            (".inf", json!(".inf")),
            (".nan", json!(".nan")),
            ("1h", json!("1h")),
            ("0.0.1", json!("0.0.1")),
            (".", json!(".")),
            ("-", json!("-")),
            ("1e", json!("1e")),
            ("0x", json!("0x")),
        ] {
            assert_eq!(resolve_plain(text), want, "{text:?}");
        }
    }
}
