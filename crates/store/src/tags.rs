//! Tags a person gives an execution (`testwerk run --tag team=payments`, the agent API's
//! `tags`), and how they are filtered on. One rule for every surface: a key is 1 to 63 of
//! `A-Z a-z 0-9 . _ / -` and does not start with [`RESERVED_PREFIX`] (testwerk's own links, such
//! as a child's parent, which nobody may forge); a value is at most 253 characters without
//! control characters.

/// Keys testwerk sets itself.
pub const RESERVED_PREFIX: &str = "testwerk.io/";

const MAX_KEY: usize = 63;
const MAX_VALUE: usize = 253;

/// `key=value`, checked: a tag a person gives.
pub fn parse_tag(pair: &str) -> Result<(String, String), String> {
    let (key, value) = parse_filter(pair)?;
    check_tag(&key, &value)?;
    Ok((key, value))
}

/// `key=value` to look for: any key, testwerk's own too (`testwerk.io/parent=<id>`).
pub fn parse_filter(pair: &str) -> Result<(String, String), String> {
    pair.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("tag `{pair}`: expected KEY=VALUE, e.g. team=payments"))
}

/// Whether `key` and `value` make a tag a person may give.
pub fn check_tag(key: &str, value: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(format!(
            "tag key `{key}`: 1 to {MAX_KEY} characters, e.g. team=payments"
        ));
    }
    if let Some(bad) = key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-')))
    {
        return Err(format!(
            "tag key `{}`: {bad:?} is not allowed (letters, digits, `.`, `_`, `/`, `-`)",
            key.escape_debug()
        ));
    }
    if key.starts_with(RESERVED_PREFIX) {
        return Err(format!(
            "tag key `{key}`: keys under {RESERVED_PREFIX} are testwerk's own"
        ));
    }
    if value.chars().count() > MAX_VALUE {
        return Err(format!(
            "tag `{key}`: the value is longer than {MAX_VALUE} characters"
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("tag `{key}`: the value holds a control character"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_checked_with_what_to_fix() {
        assert_eq!(
            parse_tag("team=payments"),
            Ok(("team".into(), "payments".into()))
        );
        assert_eq!(
            parse_tag("git/rev=a1b2=c"),
            Ok(("git/rev".into(), "a1b2=c".into()))
        );
        assert_eq!(parse_tag("empty="), Ok(("empty".into(), String::new())));
        for (bad, says) in [
            ("novalue", "expected KEY=VALUE"),
            ("=x", "1 to 63"),
            ("sp ace=x", "' ' is not allowed"),
            ("testwerk.io/parent=6b1", "testwerk's own"),
            ("k=a\nb", "control character"),
        ] {
            let err = parse_tag(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
        }
        assert!(parse_tag(&format!("k={}", "v".repeat(254))).is_err());
        assert!(parse_tag(&format!("{}=v", "k".repeat(64))).is_err());
    }
}

/// The link that records the configuration an execution was given (`--config k=v`, the
/// API's `config`), so that it can be run again the same way and runs can be compared: a
/// JSON object of the values, where a sensitive parameter's value is `null` (never stored).
pub const CONFIG_TAG: &str = "testwerk.io/config";

/// The [`CONFIG_TAG`] value for `values`; `sensitive` says which parameters are sensitive.
/// `None` when nothing was given.
pub fn config_tag<'a>(
    values: impl IntoIterator<Item = (&'a String, &'a String)>,
    sensitive: impl Fn(&str) -> bool,
) -> Option<String> {
    let object: serde_json::Map<String, serde_json::Value> = values
        .into_iter()
        .map(|(k, v)| {
            let value = if sensitive(k) {
                serde_json::Value::Null
            } else {
                serde_json::Value::from(v.as_str())
            };
            (k.clone(), value)
        })
        .collect();
    (!object.is_empty()).then(|| serde_json::Value::Object(object).to_string())
}

/// The configuration a [`CONFIG_TAG`] recorded, in order, or why it cannot be given again.
pub fn config_from_tag(text: &str) -> Result<Vec<(String, String)>, String> {
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
        .map_err(|e| format!("the recorded configuration is damaged: {e}"))?;
    object
        .into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k, s)),
            _ => Err(format!(
                "`{k}` is a sensitive parameter, whose value is not kept: run the workflow again with its value"
            )),
        })
        .collect()
}

#[cfg(test)]
mod config_tests {
    use super::*;

    #[test]
    fn the_configuration_is_recorded_without_sensitive_values() {
        let values = [
            ("env".to_owned(), "prod".to_owned()),
            ("password".to_owned(), "hunter2".to_owned()),
        ];
        let tag =
            config_tag(values.iter().map(|(k, v)| (k, v)), |k| k == "password").unwrap_or_default();
        assert!(!tag.contains("hunter2"), "{tag}");
        let err = config_from_tag(&tag).err().unwrap_or_default();
        assert!(err.contains("`password` is a sensitive parameter"), "{err}");
        let plain =
            config_tag(values[..1].iter().map(|(k, v)| (k, v)), |_| false).unwrap_or_default();
        assert_eq!(
            config_from_tag(&plain),
            Ok(vec![("env".into(), "prod".into())])
        );
        assert_eq!(config_tag(std::iter::empty(), |_| false), None);
    }
}
