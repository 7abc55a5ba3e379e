//! Masking of sensitive values before they reach the database.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

/// Values shorter than this many characters are not masked: they would match too much.
pub const MIN_SECRET_CHARS: usize = 4;

/// The sensitive values of one execution.
#[derive(Clone, Default)]
pub(crate) struct Masker {
    /// Distinct secrets of at least [`MIN_SECRET_CHARS`] characters.
    secrets: Vec<String>,
}

impl fmt::Debug for Masker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Masker(<{} secrets>)", self.secrets.len())
    }
}

impl Masker {
    /// Adds secrets; those shorter than [`MIN_SECRET_CHARS`] characters are ignored.
    ///
    /// Logs are stored line by line, so each line of a multi-line secret (a PEM key, say) is
    /// added as a secret of its own too.
    pub(crate) fn add<S: AsRef<str>>(&mut self, values: impl IntoIterator<Item = S>) {
        for value in values {
            let value = value.as_ref();
            self.add_one(value);
            if value.contains('\n') {
                for line in value.lines() {
                    self.add_one(line.trim());
                }
            }
        }
    }

    fn add_one(&mut self, value: &str) {
        if value.chars().count() >= MIN_SECRET_CHARS && !self.secrets.iter().any(|s| s == value) {
            self.secrets.push(value.to_owned());
        }
    }

    /// `text` with every occurrence of a secret replaced by `****` and its last two characters.
    ///
    /// Overlapping or adjacent occurrences (of one secret or of several) are masked as one
    /// region, so no part of a secret survives except the two characters a reader is shown.
    pub(crate) fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut regions: Vec<(usize, usize)> = Vec::new();
        for secret in &self.secrets {
            // Find overlapping occurrences too: step one character past each match start.
            let mut from = 0;
            while let Some(found) = text[from..].find(secret.as_str()) {
                let start = from + found;
                regions.push((start, start + secret.len()));
                from = start + text[start..].chars().next().map_or(1, char::len_utf8);
            }
        }
        if regions.is_empty() {
            return Cow::Borrowed(text);
        }
        regions.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(regions.len());
        for (start, end) in regions {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        let mut out = String::with_capacity(text.len());
        let mut done = 0;
        for (start, end) in merged {
            out.push_str(&text[done..start]);
            out.push_str("****");
            let region = &text[start..end];
            let tail_start = region
                .char_indices()
                .rev()
                .nth(1)
                .map_or(0, |(index, _)| index);
            out.push_str(&region[tail_start..]);
            done = end;
        }
        out.push_str(&text[done..]);
        Cow::Owned(out)
    }

    /// `value` with its strings (keys too) masked. A number or boolean whose text contains a
    /// secret becomes the masked text, as a string.
    pub(crate) fn mask_json(&self, value: &Value) -> Value {
        if self.secrets.is_empty() {
            return value.clone();
        }
        match value {
            Value::String(text) => Value::String(self.mask(text).into_owned()),
            Value::Number(_) | Value::Bool(_) => {
                let text = value.to_string();
                match self.mask(&text) {
                    Cow::Borrowed(_) => value.clone(),
                    Cow::Owned(masked) => Value::String(masked),
                }
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| self.mask_json(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.mask(k).into_owned(), self.mask_json(v)))
                    .collect(),
            ),
            Value::Null => Value::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn masker(secrets: &[&str]) -> Masker {
        let mut m = Masker::default();
        m.add(secrets);
        m
    }

    #[test]
    fn masks_all_but_the_last_two_characters() {
        let m = masker(&["hunter22", "tok€n"]);
        assert_eq!(m.mask("pw=hunter22 x"), "pw=****22 x");
        assert_eq!(m.mask("hunter22hunter22"), "****22");
        assert_eq!(m.mask("a tok€n b"), "a ****€n b");
        assert_eq!(m.mask("nothing here"), "nothing here");
    }

    #[test]
    fn short_values_are_left_alone() {
        let m = masker(&["abc", "", "é€"]);
        assert!(m.secrets.is_empty());
        assert_eq!(m.mask("abc abc"), "abc abc");
    }

    #[test]
    fn each_line_of_a_multi_line_secret_is_masked() {
        let m = masker(&["-----BEGIN KEY-----\nMIIEvQIBADANBg\n-----END KEY-----\n"]);
        assert_eq!(m.mask("  MIIEvQIBADANBg"), "  ****Bg");
        assert_eq!(m.mask("-----END KEY-----"), "****--");
    }

    #[test]
    fn overlapping_secrets_are_masked_as_one_region() {
        let m = masker(&["abcdef", "defgh"]);
        assert_eq!(m.mask("xabcdefghy"), "x****ghy");
        let m = masker(&["aaaa"]);
        assert_eq!(m.mask("aaaaaa!"), "****aa!");
    }

    #[test]
    fn masks_json_strings_keys_and_scalars() {
        let m = masker(&["s3cret", "123456"]);
        let value = json!({"s3cret-key": ["a s3cret", 123456, true, null], "n": 1});
        assert_eq!(
            m.mask_json(&value),
            json!({"****et-key": ["a ****et", "****56", true, null], "n": 1})
        );
    }
}
