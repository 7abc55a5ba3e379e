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
