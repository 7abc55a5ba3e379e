//! Config parameter values: casting to the declared type and checking the declared constraints.

use serde_json::Value;
use testwerk_spec::{ParameterSchema, ParameterType};

/// Casts the text of a value to the parameter's type and checks it against the schema.
/// Errors read like upstream's (`error while converting value to number`), without the
/// `config.<name>: ` prefix, which the caller adds.
pub fn cast(text: &str, schema: &ParameterSchema) -> Result<Value, String> {
    let ty = schema.r#type.unwrap_or_default();
    let value = match ty {
        ParameterType::String => Value::String(text.to_owned()),
        ParameterType::Integer => Value::from(to_integer(text)?),
        ParameterType::Number => to_number(text)?,
        ParameterType::Boolean => Value::Bool(to_bool(text)?),
    };
    check(&value, text, ty, schema)?;
    Ok(value)
}

fn to_integer(text: &str) -> Result<i64, String> {
    let t = text.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Ok(i);
    }
    // `2.0` is an integer written as a float; `2.5` is not, and truncating it would hide a
    // mistake (upstream truncates; we refuse).
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        Ok(_) => Err(format!(
            "error while converting value to number: {text:?} is not an integer"
        )),
        Err(_) => Err(format!(
            "error while converting value to number: {text:?} is not a number"
        )),
    }
}

fn to_number(text: &str) -> Result<Value, String> {
    let t = text.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Ok(Value::from(i));
    }
    t.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| format!("error while converting value to number: {text:?} is not a number"))
}

/// Accepts the spellings people use for switches; anything else is refused rather than read
/// as "true" (upstream treats every non-empty, non-"false" text as true).
fn to_bool(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(format!(
            "error while converting value to bool: {text:?} is not a boolean (true or false)"
        )),
    }
}

fn check(
    value: &Value,
    text: &str,
    ty: ParameterType,
    schema: &ParameterSchema,
) -> Result<(), String> {
    if !schema.r#enum.is_empty() {
        let form = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if !schema
            .r#enum
            .iter()
            .any(|e| *e == form || e.trim() == text.trim())
        {
            return Err(format!(
                "value {text:?} is not one of the allowed values: {}",
                schema.r#enum.join(", ")
            ));
        }
    }
    if ty == ParameterType::String {
        check_string(text, schema)?;
    }
    if let Some(n) = value
        .as_f64()
        .filter(|_| matches!(ty, ParameterType::Integer | ParameterType::Number))
    {
        check_number(n, schema)?;
    }
    Ok(())
}

fn check_string(text: &str, schema: &ParameterSchema) -> Result<(), String> {
    let len = text.chars().count() as i64;
    if let Some(min) = schema.min_length.filter(|min| len < *min) {
        return Err(format!(
            "value {text:?} is shorter than the minimum length {min}"
        ));
    }
    if let Some(max) = schema.max_length.filter(|max| len > *max) {
        return Err(format!(
            "value {text:?} is longer than the maximum length {max}"
        ));
    }
    if let Some(pattern) = &schema.pattern {
        let re = regex_lite::Regex::new(pattern).map_err(|e| {
            format!("the parameter's pattern {pattern:?} is not a valid regular expression: {e}")
        })?;
        // JSON Schema semantics: the pattern may match anywhere unless it anchors itself.
        if !re.is_match(text) {
            return Err(format!(
                "value {text:?} does not match the pattern {pattern:?}"
            ));
        }
    }
    Ok(())
}

fn check_number(n: f64, schema: &ParameterSchema) -> Result<(), String> {
    let show = |f: f64| {
        if f.fract() == 0.0 {
            format!("{}", f as i64)
        } else {
            f.to_string()
        }
    };
    if let Some(min) = schema.minimum.filter(|m| n < *m as f64) {
        return Err(format!("value {} is less than the minimum {min}", show(n)));
    }
    if let Some(max) = schema.maximum.filter(|m| n > *m as f64) {
        return Err(format!(
            "value {} is greater than the maximum {max}",
            show(n)
        ));
    }
    if let Some(min) = schema.exclusive_minimum.filter(|m| n <= *m as f64) {
        return Err(format!("value {} must be greater than {min}", show(n)));
    }
    if let Some(max) = schema.exclusive_maximum.filter(|m| n >= *m as f64) {
        return Err(format!("value {} must be less than {max}", show(n)));
    }
    if let Some(step) = schema.multiple_of.filter(|m| *m != 0) {
        let ratio = n / step as f64;
        if (ratio - ratio.round()).abs() > 1e-9 {
            return Err(format!("value {} is not a multiple of {step}", show(n)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn of(ty: ParameterType) -> ParameterSchema {
        ParameterSchema {
            r#type: Some(ty),
            ..Default::default()
        }
    }

    #[test]
    fn casts_to_the_declared_type() {
        assert_eq!(cast("20", &of(ParameterType::Integer)), Ok(json!(20)));
        assert_eq!(cast("2.0", &of(ParameterType::Integer)), Ok(json!(2)));
        assert_eq!(cast("2.5", &of(ParameterType::Number)), Ok(json!(2.5)));
        assert_eq!(cast("7", &of(ParameterType::Number)), Ok(json!(7)));
        assert_eq!(cast("TRUE", &of(ParameterType::Boolean)), Ok(json!(true)));
        assert_eq!(cast("off", &of(ParameterType::Boolean)), Ok(json!(false)));
        assert_eq!(cast("42", &ParameterSchema::default()), Ok(json!("42")));
    }

    #[test]
    fn refuses_values_of_the_wrong_type() {
        let err = cast("text", &of(ParameterType::Integer)).unwrap_err();
        assert!(
            err.contains("error while converting value to number"),
            "{err}"
        );
        assert!(cast("2.5", &of(ParameterType::Integer)).is_err());
        assert!(cast("abc", &of(ParameterType::Number)).is_err());
        assert!(cast("inf", &of(ParameterType::Number)).is_err());
        let err = cast("maybe", &of(ParameterType::Boolean)).unwrap_err();
        assert!(err.contains("converting value to bool"), "{err}");
    }

    #[test]
    fn checks_enum_and_string_constraints() {
        let schema = ParameterSchema {
            r#enum: vec!["chrome".into(), "firefox".into()],
            ..Default::default()
        };
        assert!(cast("chrome", &schema).is_ok());
        assert!(
            cast("edge", &schema)
                .unwrap_err()
                .contains("chrome, firefox")
        );

        let schema = ParameterSchema {
            pattern: Some("^v[0-9]+$".into()),
            min_length: Some(2),
            max_length: Some(4),
            ..Default::default()
        };
        assert!(cast("v12", &schema).is_ok());
        assert!(cast("v", &schema).unwrap_err().contains("minimum length 2"));
        assert!(
            cast("v12345", &schema)
                .unwrap_err()
                .contains("maximum length 4")
        );
        assert!(cast("x12", &schema).unwrap_err().contains("pattern"));

        let broken = ParameterSchema {
            pattern: Some("(".into()),
            ..Default::default()
        };
        assert!(
            cast("x", &broken)
                .unwrap_err()
                .contains("not a valid regular expression")
        );
    }

    #[test]
    fn checks_number_constraints() {
        let schema = ParameterSchema {
            r#type: Some(ParameterType::Integer),
            minimum: Some(1),
            maximum: Some(10),
            multiple_of: Some(2),
            ..Default::default()
        };
        assert_eq!(cast("4", &schema), Ok(json!(4)));
        assert!(cast("0", &schema).unwrap_err().contains("minimum 1"));
        assert!(cast("12", &schema).unwrap_err().contains("maximum 10"));
        assert!(cast("3", &schema).unwrap_err().contains("multiple of 2"));

        let exclusive = ParameterSchema {
            r#type: Some(ParameterType::Number),
            exclusive_minimum: Some(0),
            exclusive_maximum: Some(1),
            ..Default::default()
        };
        assert!(cast("0.5", &exclusive).is_ok());
        assert!(cast("0", &exclusive).is_err());
        assert!(cast("1", &exclusive).is_err());
    }
}
