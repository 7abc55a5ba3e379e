//! Field paths such as `spec.steps[0].shell` or `metadata.labels["app.kubernetes.io/name"]`.
//!
//! One spelling is used everywhere — the location index, schema validation, serde errors and the
//! later stages — so that a path produced by any of them finds its line in the file.

/// `parent` extended by a mapping key. Keys that are not plain words are quoted, so that a dot
/// inside a label name cannot be mistaken for nesting.
pub fn key(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (parent.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{}]", serde_json::Value::from(key)),
    }
}

/// `parent` extended by a sequence index.
pub fn index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// The path one level up, or `None` for the document itself (`""`).
pub fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    // The last separator outside a quoted key marks where the last segment starts.
    let mut cut = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in path.char_indices() {
        if in_quotes {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_quotes = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_quotes = true,
            '.' | '[' => cut = i,
            _ => {}
        }
    }
    Some(&path[..cut])
}

/// The last segment as written by a person: `shell`, `steps[0]`, `app.kubernetes.io/name`.
pub fn last_name(path: &str) -> String {
    let Some(parent) = parent(path) else {
        return String::new();
    };
    let last = path[parent.len()..].trim_start_matches('.');
    if let Some(quoted) = last.strip_prefix('[').and_then(|l| l.strip_suffix(']'))
        && quoted.starts_with('"')
    {
        return serde_json::from_str::<String>(quoted).unwrap_or_else(|_| quoted.to_owned());
    }
    if last.starts_with('[') {
        // An index: name it after the list it belongs to.
        return format!("{}{last}", last_name(parent));
    }
    last.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_splits_paths() {
        let p = key(&index(&key("spec", "steps"), 0), "shell");
        assert_eq!(p, "spec.steps[0].shell");
        assert_eq!(parent(&p), Some("spec.steps[0]"));
        assert_eq!(parent("spec.steps[0]"), Some("spec.steps"));
        assert_eq!(parent("spec"), Some(""));
        assert_eq!(parent(""), None);

        let l = key("metadata.labels", "app.kubernetes.io/name");
        assert_eq!(l, r#"metadata.labels["app.kubernetes.io/name"]"#);
        assert_eq!(parent(&l), Some("metadata.labels"));
        assert_eq!(last_name(&l), "app.kubernetes.io/name");
        assert_eq!(last_name("spec.steps[3]"), "steps[3]");
        assert_eq!(key("", "a b"), r#"["a b"]"#);
        assert_eq!(parent(r#"["a.\"[b"]"#), Some(""));
    }
}
