//! Value semantics: string forms, truthiness and number handling.

use serde_json::{Number, Value};

/// Truthiness: `null` is false, lists and maps are true when non-empty, anything else is true
/// unless its string form is `""`, `"false"`, `"0"` or `"off"`.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
        other => !matches!(to_string_form(other).as_str(), "" | "false" | "0" | "off"),
    }
}

/// The string form of a value, as used by templates, `==`, `string()` and friends:
/// `null` → `""`, numbers like Go's `%v` (see [`format_number`]), lists joined with `,`,
/// maps as JSON, booleans as `true`/`false`.
pub fn to_string_form(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format_number(n),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(to_string_form)
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => serde_json::to_string(v).unwrap_or_default(),
    }
}

/// Formats a number: integers exactly; other numbers with the shortest digits that read back
/// to the same float, in exponent form (`1e+21`, `1.5e-07`) when the exponent is below -4 or
/// at least 21, else in plain decimal form.
pub fn format_number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    format_float(n.as_f64().unwrap_or(0.0))
}

pub(crate) fn format_float(f: f64) -> String {
    if f == 0.0 {
        return "0".to_string();
    }
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (sci.as_str(), 0),
    };
    if !(-4..21).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    } else {
        format!("{f}")
    }
}

/// Makes a JSON number from a float: integral values within ±2^53 become integers (so they
/// print without a fraction), non-finite values are refused.
pub(crate) fn number_value(f: f64) -> Option<Value> {
    if !f.is_finite() {
        return None;
    }
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        return Some(Value::from(f as i64));
    }
    Number::from_f64(f).map(Value::Number)
}

/// Converts a value to a float: `null` → 0, numbers as they are, anything else through its
/// string form (so `"5"` → 5, `true` fails).
pub(crate) fn to_number(v: &Value) -> Result<f64, String> {
    match v {
        Value::Null => Ok(0.0),
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| format!("cannot use {} as a number", describe(v))),
        other => {
            let s = to_string_form(other);
            match s.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(f),
                _ => Err(format!("cannot use {} as a number", describe(other))),
            }
        }
    }
}

/// Converts a value to an integer (truncating), through [`to_number`].
pub(crate) fn to_int(v: &Value) -> Result<i64, String> {
    let f = to_number(v)?;
    if f.abs() >= 9.2e18 {
        return Err(format!("{} is too large for an integer", describe(v)));
    }
    Ok(f.trunc() as i64)
}

/// A short description of a value for error messages: its JSON text, shortened.
pub(crate) fn describe(v: &Value) -> String {
    let text = serde_json::to_string(v).unwrap_or_default();
    if text.chars().count() > 60 {
        let short: String = text.chars().take(57).collect();
        format!("{short}...")
    } else {
        text
    }
}

/// The kind of a value, for error messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_forms() {
        assert_eq!(to_string_form(&json!(null)), "");
        assert_eq!(to_string_form(&json!(true)), "true");
        assert_eq!(to_string_form(&json!(1)), "1");
        assert_eq!(to_string_form(&json!(0.5)), "0.5");
        assert_eq!(to_string_form(&json!(1e21)), "1e+21");
        assert_eq!(to_string_form(&json!(1e20)), "100000000000000000000");
        assert_eq!(to_string_form(&json!(1000000.0)), "1000000");
        assert_eq!(to_string_form(&json!(0.00001)), "1e-05");
        assert_eq!(to_string_form(&json!(0.0001)), "0.0001");
        assert_eq!(to_string_form(&json!(-2.5e-7)), "-2.5e-07");
        assert_eq!(to_string_form(&json!(2.0)), "2");
        assert_eq!(to_string_form(&json!(["a", 1, ["b", null]])), "a,1,b,");
        assert_eq!(to_string_form(&json!({"a": [1]})), r#"{"a":[1]}"#);
    }

    #[test]
    fn truthiness() {
        for v in [
            json!(null),
            json!(false),
            json!(0),
            json!(0.0),
            json!(""),
            json!("false"),
            json!("0"),
            json!("off"),
            json!([]),
            json!({}),
        ] {
            assert!(!truthy(&v), "{v} should be falsy");
        }
        for v in [
            json!(true),
            json!(1),
            json!(-0.5),
            json!("x"),
            json!("False"),
            json!("on"),
            json!([0]),
            json!({"a": null}),
        ] {
            assert!(truthy(&v), "{v} should be truthy");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(to_number(&json!("2.5")), Ok(2.5));
        assert_eq!(to_number(&json!(null)), Ok(0.0));
        assert!(to_number(&json!(true)).is_err());
        assert!(to_number(&json!("abc")).is_err());
        assert!(to_number(&json!("inf")).is_err());
        assert_eq!(number_value(3.0), Some(json!(3)));
        assert_eq!(number_value(f64::NAN), None);
        assert_eq!(to_int(&json!(-2.7)), Ok(-2));
    }
}
