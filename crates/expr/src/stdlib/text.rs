//! Text functions: `trim`, `shellquote`, `shellparse`.

use serde_json::Value;

use super::Args;
use crate::error::EvalError;
use crate::value::to_string_form;

pub(super) fn trim(args: &Args<'_>) -> Result<Value, EvalError> {
    args.count(1, 1)?;
    match args.get(0) {
        v @ (Value::Array(_) | Value::Object(_)) => Err(args.wrong_type(0, "a string", v)),
        v => Ok(Value::String(to_string_form(v).trim().to_string())),
    }
}

fn is_safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c)
}

/// Quotes one word for a POSIX shell: unchanged when it only has safe characters, else in
/// single quotes (`'` written as `'\''`); the empty word is `''`.
pub(crate) fn quote(word: &str) -> String {
    if word.is_empty() {
        return "''".to_string();
    }
    if word.chars().all(is_safe) {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

pub(super) fn shellquote(args: &Args<'_>) -> Value {
    Value::String(
        args.values
            .iter()
            .map(|v| quote(&to_string_form(v)))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Splits a command line into words like a POSIX shell (quotes and backslashes; no
/// expansions).
pub(crate) fn split_words(input: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = input.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(e) => {
                    word.push(e);
                    in_word = true;
                }
                None => return Err("unterminated backslash escape".into()),
            },
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(q) => word.push(q),
                        None => return Err("unterminated single-quoted string".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('\n') => {}
                            Some(e @ ('$' | '`' | '"' | '\\')) => word.push(e),
                            Some(e) => {
                                word.push('\\');
                                word.push(e);
                            }
                            None => return Err("unterminated double-quoted string".into()),
                        },
                        Some(q) => word.push(q),
                        None => return Err("unterminated double-quoted string".into()),
                    }
                }
            }
            other => {
                word.push(other);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

pub(super) fn shellparse(args: &Args<'_>) -> Result<Value, EvalError> {
    args.count(1, 1)?;
    let words = split_words(&args.string(0)).map_err(|m| args.err(m))?;
    Ok(Value::Array(words.into_iter().map(Value::String).collect()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn quoting_round_trips_through_splitting() {
        for word in [
            "abc",
            "a b",
            "",
            "it's",
            "$HOME",
            "x\"y",
            "tab\there",
            "ünï",
        ] {
            let q = quote(word);
            assert_eq!(split_words(&q).unwrap(), vec![word.to_string()], "{q}");
        }
        assert_eq!(quote("a b c"), "'a b c'");
        assert_eq!(quote("--flag=1"), "--flag=1");
    }

    #[test]
    fn splitting() {
        assert_eq!(
            split_words("a b  c 'a b c'").unwrap(),
            vec!["a", "b", "c", "a b c"]
        );
        assert_eq!(
            split_words(r#"x"y z"\ w "\$a\n""#).unwrap(),
            vec!["xy z w", "$a\\n"]
        );
        assert_eq!(split_words("a\\\nb").unwrap(), vec!["ab"]);
        assert_eq!(split_words("''").unwrap(), vec![""]);
        assert!(split_words("'abc").is_err());
        assert!(split_words("\"abc").is_err());
        assert!(split_words("abc\\").is_err());
    }
}
