//! Bytes → text a YAML reader can be trusted with.
//!
//! The YAML parser stops at a NUL byte as if the file ended there, so a NUL inside a comment
//! would silently drop every step after it, and the workflow would pass. Characters YAML does
//! not allow are therefore refused before parsing, and invalid UTF-8 is reported at its line
//! and column instead of as an unplaced "stream did not contain valid UTF-8".

use crate::{Diagnostic, Location};

const BYTE_ORDER_MARK: char = '\u{feff}';

/// Decodes a file's bytes as UTF-8, naming the line and column of the first invalid byte.
/// The error is a list (of one), as every loader error is.
pub(crate) fn decode(file: &str, bytes: Vec<u8>) -> Result<String, Vec<Diagnostic>> {
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let valid_up_to = e.utf8_error().valid_up_to();
        // The prefix is valid by definition; decoding it again cannot fail.
        let before = std::str::from_utf8(&bytes[..valid_up_to]).unwrap_or_default();
        let end = e
            .utf8_error()
            .error_len()
            .map_or(bytes.len(), |n| valid_up_to + n);
        let shown: Vec<String> = bytes[valid_up_to..end]
            .iter()
            .map(|b| format!("0x{b:02X}"))
            .collect();
        let what = if e.utf8_error().error_len().is_none() {
            "the file ends inside a UTF-8 character"
        } else {
            "invalid UTF-8"
        };
        vec![
            Diagnostic {
                location: Some(position_after(before)),
                ..Diagnostic::file(file, format!("{what} (byte {})", shown.join(" ")))
            }
            .with_expected("a UTF-8 text file (YAML is read as UTF-8)")
            .with_suggestion(
                "re-save the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 <file>` if it was Latin-1",
            ),
        ]
    })
}

/// `text` without a leading byte order mark, once every character in it is one YAML allows.
///
/// A UTF-8 byte order mark at the start is accepted and dropped, as YAML 1.2 allows (editors on
/// Windows write one); it does not count as a column.
pub(crate) fn checked<'a>(file: &str, text: &'a str) -> Result<&'a str, Vec<Diagnostic>> {
    let text = text.strip_prefix(BYTE_ORDER_MARK).unwrap_or(text);
    match text.char_indices().find(|(_, c)| !allowed(*c)) {
        None => Ok(text),
        Some((at, c)) => {
            let message = if c == '\0' {
                "NUL byte in the file: YAML does not allow it, and everything after it would be \
                 lost"
                    .to_string()
            } else {
                format!(
                    "control character U+{:04X} in the file: YAML does not allow it",
                    c as u32
                )
            };
            Err(vec![
                Diagnostic {
                    location: Some(position_after(&text[..at])),
                    ..Diagnostic::file(file, message)
                }
                .with_expected("printable characters, tabs and line breaks")
                .with_suggestion(
                    "delete the character (it may be invisible in an editor: `cat -A <file>` shows it)",
                ),
            ])
        }
    }
}

/// YAML 1.2's printable set (c-printable), where a string that is already valid UTF-8 can
/// break it: C0 controls other than tab and line breaks, DEL, C1 controls other than NEL, and
/// the noncharacters U+FFFE and U+FFFF. A byte order mark is allowed (YAML permits one at the
/// start of each document).
fn allowed(c: char) -> bool {
    match c {
        '\t' | '\n' | '\r' | '\u{85}' => true,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}' => false,
        _ => true,
    }
}

/// The 1-based line and column of the character that follows `before`; columns count
/// characters, as the YAML parser's positions do.
fn position_after(before: &str) -> Location {
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Location {
        line,
        column: before[line_start..].chars().count() + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_from_one() {
        assert_eq!(position_after(""), Location { line: 1, column: 1 });
        assert_eq!(position_after("ab\ncdé"), Location { line: 2, column: 4 });
        assert_eq!(position_after("ab\n"), Location { line: 2, column: 1 });
    }

    #[test]
    fn allows_what_yaml_prints() {
        for c in [
            '\t',
            '\n',
            '\r',
            ' ',
            '~',
            '\u{85}',
            '\u{a0}',
            'é',
            '😀',
            BYTE_ORDER_MARK,
        ] {
            assert!(allowed(c), "{c:?}");
        }
        for c in [
            '\0', '\u{1}', '\u{1b}', '\u{7f}', '\u{80}', '\u{9f}', '\u{fffe}',
        ] {
            assert!(!allowed(c), "{c:?}");
        }
    }
}
