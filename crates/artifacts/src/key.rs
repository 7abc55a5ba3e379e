//! [`ArtifactKey`]: which execution, step and name an artifact is, checked so that no upload
//! can name a place outside its own execution's folder (`..`, absolute paths, NUL).

use std::fmt;

/// Longest name accepted (bytes); a file system allows 4096 for a path, we keep room for the
/// storage root and the execution's prefix.
const MAX_NAME_BYTES: usize = 1024;
/// Longest single path component (bytes), as Linux allows.
const MAX_COMPONENT_BYTES: usize = 255;

/// A checked `(execution, step, name)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactKey {
    execution: String,
    step: String,
    name: String,
}

impl ArtifactKey {
    /// Checks each part: the execution is 24 hex digits; the step ref is letters, digits,
    /// `_` and `-`; the name is a relative `/`-separated path without empty, `.` or `..`
    /// components and without control characters.
    pub fn new(execution: &str, step: &str, name: &str) -> Result<ArtifactKey, String> {
        if execution.len() != 24 || !execution.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("`{execution}` is not an execution id"));
        }
        if step.is_empty()
            || step.len() > 64
            || !step
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(format!(
                "`{step}` is not a step ref (letters, digits, `_` and `-`)"
            ));
        }
        check_name(name)?;
        Ok(ArtifactKey {
            execution: execution.to_owned(),
            step: step.to_owned(),
            name: name.to_owned(),
        })
    }

    pub fn execution(&self) -> &str {
        &self.execution
    }

    pub fn step(&self) -> &str {
        &self.step
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

/// `<execution>/<step>/<name>`: the storage key, below the storage's root or prefix.
impl fmt::Display for ArtifactKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.execution, self.step, self.name)
    }
}

/// Whether `name` is a valid artifact name (see [`ArtifactKey::new`]): also what a client
/// checks before writing a downloaded artifact under a folder.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the artifact has no name".into());
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "the artifact's name is {} bytes long; at most {MAX_NAME_BYTES}",
            name.len()
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(format!(
            "`{}`: control characters in an artifact's name",
            name.escape_debug()
        ));
    }
    for part in name.split('/') {
        match part {
            "" => {
                return Err(format!(
                    "`{name}`: empty path component (a leading, trailing or double `/`)"
                ));
            }
            "." | ".." => {
                return Err(format!(
                    "`{name}`: `{part}` is not allowed in an artifact's name"
                ));
            }
            p if p.len() > MAX_COMPONENT_BYTES => {
                return Err(format!(
                    "`{name}`: a component is longer than {MAX_COMPONENT_BYTES} bytes"
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef01234567";

    #[test]
    fn keys_stay_inside_their_execution() {
        let key =
            ArtifactKey::new(ID, "r5", "reports/junit 1.xml").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key.to_string(), format!("{ID}/r5/reports/junit 1.xml"));
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "a/",
            "./a",
            "a\0b",
            "a\nb",
        ] {
            assert!(ArtifactKey::new(ID, "r5", bad).is_err(), "{bad:?}");
        }
        for step in ["", "r/1", "..", "r 1"] {
            assert!(ArtifactKey::new(ID, step, "a").is_err(), "{step:?}");
        }
        for id in [
            "",
            "0123",
            "../../../../../../../../x",
            "0123456789abcdef0123456g",
        ] {
            assert!(ArtifactKey::new(id, "r1", "a").is_err(), "{id:?}");
        }
        assert!(ArtifactKey::new(ID, "r1", &"a".repeat(256)).is_err());
        assert!(ArtifactKey::new(ID, "r1", &"a/".repeat(600)).is_err());
    }
}
