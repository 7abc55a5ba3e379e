//! Writes JSON values as block-style YAML that any YAML reader, 1.1 or 1.2, reads back the same.

use serde_json::Value;

/// `value` as a YAML document (without a `---` line). Multi-line strings are written as literal
/// blocks (`|`) so scripts stay readable; anything a reader could mistake for another type is
/// quoted.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, 0, &mut out);
    out
}

fn write_value(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (i, (k, child)) in map.iter().enumerate() {
                if i > 0 {
                    pad(indent, out);
                }
                out.push_str(&quote_if_needed(k));
                out.push(':');
                write_nested(child, indent + 2, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, child) in items.iter().enumerate() {
                if i > 0 {
                    pad(indent, out);
                }
                out.push_str("- ");
                write_value(child, indent + 2, out);
            }
        }
        other => {
            write_scalar(other, indent, out);
            out.push('\n');
        }
    }
}

/// A value after `key:`: collections start on the next line, scalars stay on this one.
fn write_nested(v: &Value, indent: usize, out: &mut String) {
    let is_block = matches!(v, Value::Object(m) if !m.is_empty())
        || matches!(v, Value::Array(a) if !a.is_empty());
    if is_block {
        out.push('\n');
        pad(indent, out);
        write_value(v, indent, out);
    } else {
        out.push(' ');
        write_scalar(v, indent, out);
        out.push('\n');
    }
}

fn pad(indent: usize, out: &mut String) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn write_scalar(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::String(s) if literal_block_ok(s) => {
            let trailing = s.len() - s.trim_end_matches('\n').len();
            out.push_str(match trailing {
                0 => "|-",
                1 => "|",
                _ => "|+",
            });
            for line in s.trim_end_matches('\n').split('\n') {
                out.push('\n');
                if !line.is_empty() {
                    pad(indent, out);
                    out.push_str(line);
                }
            }
            // `|+` keeps the extra newlines as empty lines; the last one ends the scalar.
            for _ in 1..trailing {
                out.push('\n');
            }
        }
        Value::String(s) => out.push_str(&quote_if_needed(s)),
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
        other => out.push_str(&other.to_string()),
    }
}

/// Whether `s` survives a literal block unchanged: several lines, printable characters only,
/// and a first line that does not start with whitespace (which would need an indentation
/// indicator).
fn literal_block_ok(s: &str) -> bool {
    s.contains('\n')
        && !s.starts_with([' ', '\t', '\n'])
        && s.chars().all(|c| {
            c == '\n'
                || c == '\t'
                || (!c.is_control() && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}'))
        })
}

/// Plain when no YAML reader could take it for something else, else a JSON string (valid
/// double-quoted YAML). YAML 1.1 words such as `yes` and `on` are quoted for older readers.
fn quote_if_needed(s: &str) -> String {
    const WORDS: [&str; 11] = [
        "true", "false", "null", "yes", "no", "on", "off", "y", "n", "~", "nan",
    ];
    let plain = s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        && !WORDS.contains(&s.to_ascii_lowercase().as_str());
    if plain {
        s.to_owned()
    } else {
        Value::from(s).to_string()
    }
}
