//! ANSI colours in log lines as HTML: SGR sequences (`ESC [ … m`) become `<span>`s with
//! classes; every other escape sequence is dropped; the text is escaped.

use crate::html::esc;

/// The line as HTML with its colours.
pub fn to_html(line: &str) -> String {
    let mut out = String::new();
    let mut style = Style::default();
    let mut open = false;
    let mut rest = line;
    while let Some(at) = rest.find('\u{1b}') {
        push_text(&mut out, &rest[..at]);
        let after = &rest[at + 1..];
        let Some(body) = after.strip_prefix('[') else {
            // A lone ESC or another kind of sequence: dropped with its next character.
            rest = after.get(1..).unwrap_or("");
            continue;
        };
        let end = body
            .find(|c: char| c.is_ascii_alphabetic() || c == '@' || c == '~')
            .unwrap_or(body.len());
        let (params, kind) = (&body[..end], body[end..].chars().next());
        rest = body
            .get(end + kind.map_or(0, char::len_utf8)..)
            .unwrap_or("");
        if kind != Some('m') {
            continue;
        }
        style.apply(params);
        if open {
            out.push_str("</span>");
            open = false;
        }
        let classes = style.classes();
        if !classes.is_empty() {
            out.push_str(&format!(r#"<span class="{classes}">"#));
            open = true;
        }
    }
    push_text(&mut out, rest);
    if open {
        out.push_str("</span>");
    }
    out
}

fn push_text(out: &mut String, text: &str) {
    out.push_str(&esc(text));
}

#[derive(Default)]
struct Style {
    bold: bool,
    fg: Option<u8>,
    bg: Option<u8>,
}

impl Style {
    fn apply(&mut self, params: &str) {
        let mut codes = params.split(';').map(|p| p.parse::<u16>().unwrap_or(0));
        while let Some(code) = codes.next() {
            match code {
                0 => *self = Style::default(),
                1 => self.bold = true,
                22 => self.bold = false,
                30..=37 => self.fg = Some((code - 30) as u8),
                90..=97 => self.fg = Some((code - 90 + 8) as u8),
                39 => self.fg = None,
                40..=47 => self.bg = Some((code - 40) as u8),
                100..=107 => self.bg = Some((code - 100 + 8) as u8),
                49 => self.bg = None,
                // 256-colour and true colour: the next numbers belong to it; the first 16 of
                // the 256 are kept, the rest shown plain.
                38 | 48 => {
                    let colour = match codes.next() {
                        Some(5) => codes
                            .next()
                            .and_then(|n| u8::try_from(n).ok())
                            .filter(|n| *n < 16),
                        Some(2) => {
                            codes.next();
                            codes.next();
                            codes.next();
                            None
                        }
                        _ => None,
                    };
                    if code == 38 {
                        self.fg = colour;
                    } else {
                        self.bg = colour;
                    }
                }
                _ => {}
            }
        }
    }

    fn classes(&self) -> String {
        let mut c = Vec::new();
        if self.bold {
            c.push("b".to_owned());
        }
        if let Some(n) = self.fg {
            c.push(format!("f{n}"));
        }
        if let Some(n) = self.bg {
            c.push(format!("g{n}"));
        }
        c.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_become_classes_and_other_escapes_go() {
        assert_eq!(
            to_html("\u{1b}[1;31merror\u{1b}[0m: <bad>"),
            r#"<span class="b f1">error</span>: &lt;bad&gt;"#
        );
        assert_eq!(
            to_html("a\u{1b}[2Kb\u{1b}[92mc"),
            r#"ab<span class="f10">c</span>"#
        );
        assert_eq!(to_html("\u{1b}[38;5;200mx\u{1b}[38;2;1;2;3my"), "xy");
        assert_eq!(to_html("\u{1b}"), "");
        assert_eq!(
            to_html("\u{1b}[31"),
            "",
            "an unfinished sequence is dropped"
        );
    }
}
