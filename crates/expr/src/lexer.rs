//! On-demand tokenizer. The parser pulls one token at a time, so a template's expression can
//! stop at its closing `}}` without the rest of the text being tokenized.

use crate::ast::BinOp;
use crate::error::ParseError;

/// One segment of an accessor path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seg {
    Name(String),
    Star,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Num(f64),
    Str(String),
    /// An accessor such as `env.HOME` or `a.*.b`; after a `.` it may start with `*` or digits.
    Path(Vec<Seg>),
    Bin(BinOp),
    Bang,
    Question,
    Colon,
    Comma,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Dot,
    Spread,
    Eof,
}

impl Tok {
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Num(_) => "a number".into(),
            Tok::Str(_) => "a string".into(),
            Tok::Path(_) => "a name".into(),
            Tok::Bin(op) => format!("`{}`", op.symbol()),
            Tok::Bang => "`!`".into(),
            Tok::Question => "`?`".into(),
            Tok::Colon => "`:`".into(),
            Tok::Comma => "`,`".into(),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBracket => "`[`".into(),
            Tok::RBracket => "`]`".into(),
            Tok::LBrace => "`{`".into(),
            Tok::RBrace => "`}`".into(),
            Tok::Dot => "`.`".into(),
            Tok::Spread => "`...`".into(),
            Tok::Eof => "the end of the expression".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

pub(crate) struct Lexer<'s> {
    src: &'s str,
    pos: usize,
    after_dot: bool,
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'s> Lexer<'s> {
    pub(crate) fn new(src: &'s str, pos: usize) -> Self {
        Lexer {
            src,
            pos,
            after_dot: false,
        }
    }

    fn byte(&self, i: usize) -> Option<u8> {
        self.src.as_bytes().get(i).copied()
    }

    fn skip_ws_from(&self, mut i: usize) -> usize {
        while self.byte(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        i
    }

    fn err(&self, offset: usize, message: impl Into<String>) -> ParseError {
        ParseError::new(self.src, offset, message)
    }

    pub(crate) fn next_token(&mut self) -> Result<Token, ParseError> {
        self.pos = self.skip_ws_from(self.pos);
        let start = self.pos;
        let after_dot = std::mem::take(&mut self.after_dot);
        let Some(b) = self.byte(start) else {
            return Ok(Token {
                tok: Tok::Eof,
                start,
                end: start,
            });
        };
        let tok = if after_dot && (is_word(b) || b == b'*') {
            Tok::Path(self.path()?)
        } else if b.is_ascii_digit() {
            self.number()?
        } else if is_word(b) {
            Tok::Path(self.path()?)
        } else if b == b'"' || b == b'\'' {
            Tok::Str(self.string(b)?)
        } else {
            self.punct(b)?
        };
        if tok == Tok::Dot {
            self.after_dot = true;
        }
        Ok(Token {
            tok,
            start,
            end: self.pos,
        })
    }

    fn punct(&mut self, b: u8) -> Result<Tok, ParseError> {
        let next = self.byte(self.pos + 1);
        let two = |tok: Tok| (tok, 2);
        let one = |tok: Tok| (tok, 1);
        let (tok, len) = match (b, next) {
            (b'!', Some(b'=')) => two(Tok::Bin(BinOp::Ne)),
            (b'<', Some(b'>')) => two(Tok::Bin(BinOp::Ne)),
            (b'=', Some(b'=')) => two(Tok::Bin(BinOp::Eq)),
            (b'>', Some(b'=')) => two(Tok::Bin(BinOp::Ge)),
            (b'<', Some(b'=')) => two(Tok::Bin(BinOp::Le)),
            (b'&', Some(b'&')) => two(Tok::Bin(BinOp::And)),
            (b'|', Some(b'|')) => two(Tok::Bin(BinOp::Or)),
            (b'*', Some(b'*')) => two(Tok::Bin(BinOp::Pow)),
            (b'.', Some(b'.')) if self.byte(self.pos + 2) == Some(b'.') => (Tok::Spread, 3),
            (b'!', _) => one(Tok::Bang),
            (b'=', _) => one(Tok::Bin(BinOp::Eq)),
            (b'>', _) => one(Tok::Bin(BinOp::Gt)),
            (b'<', _) => one(Tok::Bin(BinOp::Lt)),
            (b'+', _) => one(Tok::Bin(BinOp::Add)),
            (b'-', _) => one(Tok::Bin(BinOp::Sub)),
            (b'*', _) => one(Tok::Bin(BinOp::Mul)),
            (b'/', _) => one(Tok::Bin(BinOp::Div)),
            (b'%', _) => one(Tok::Bin(BinOp::Mod)),
            (b'?', _) => one(Tok::Question),
            (b':', _) => one(Tok::Colon),
            (b',', _) => one(Tok::Comma),
            (b'(', _) => one(Tok::LParen),
            (b')', _) => one(Tok::RParen),
            (b'[', _) => one(Tok::LBracket),
            (b']', _) => one(Tok::RBracket),
            (b'{', _) => one(Tok::LBrace),
            (b'}', _) => one(Tok::RBrace),
            (b'.', _) => one(Tok::Dot),
            (b'&', _) | (b'|', _) => {
                return Err(self.err(
                    self.pos,
                    format!("unexpected `{}` (did you mean `{0}{0}`?)", b as char),
                ));
            }
            _ => {
                let ch = self.src[self.pos..].chars().next().unwrap_or('?');
                return Err(self.err(self.pos, format!("unexpected character `{ch}`")));
            }
        };
        self.pos += len;
        Ok(tok)
    }

    /// `[a-zA-Z0-9_]+` (or `*` right after a dot), then `(\s*\.\s*([a-zA-Z0-9_]+|\*))*`.
    fn path(&mut self) -> Result<Vec<Seg>, ParseError> {
        let mut segs = Vec::new();
        if self.byte(self.pos) == Some(b'*') {
            self.pos += 1;
            segs.push(Seg::Star);
        } else {
            segs.push(Seg::Name(self.word()));
        }
        loop {
            let dot = self.skip_ws_from(self.pos);
            if self.byte(dot) != Some(b'.') || self.byte(dot + 1) == Some(b'.') {
                break;
            }
            let next = self.skip_ws_from(dot + 1);
            match self.byte(next) {
                Some(b'*') => {
                    self.pos = next + 1;
                    segs.push(Seg::Star);
                }
                Some(b) if is_word(b) => {
                    self.pos = next;
                    segs.push(Seg::Name(self.word()));
                }
                _ => break,
            }
        }
        Ok(segs)
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        while self.byte(self.pos).is_some_and(is_word) {
            self.pos += 1;
        }
        self.src[start..self.pos].to_string()
    }

    fn digits(&self, mut i: usize) -> usize {
        while self.byte(i).is_some_and(|b| b.is_ascii_digit()) {
            i += 1;
        }
        i
    }

    /// `\d+(\.\d+)?([eE][+-]?\d+)?`; a digit-led word that is not a number (e.g. `1abc`) is
    /// an accessor.
    fn number(&mut self) -> Result<Tok, ParseError> {
        let start = self.pos;
        let mut i = self.digits(start);
        let mut fraction = false;
        if self.byte(i) == Some(b'.') && self.byte(i + 1).is_some_and(|b| b.is_ascii_digit()) {
            i = self.digits(i + 1);
            fraction = true;
        }
        if matches!(self.byte(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(self.byte(j), Some(b'+' | b'-')) {
                j += 1;
            }
            if self.byte(j).is_some_and(|b| b.is_ascii_digit()) {
                i = self.digits(j);
            }
        }
        if self.byte(i).is_some_and(is_word) {
            if fraction {
                return Err(self.err(start, "invalid number"));
            }
            return Ok(Tok::Path(self.path()?));
        }
        let text = &self.src[start..i];
        self.pos = i;
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Tok::Num(f)),
            _ => Err(self.err(start, format!("number `{text}` is out of range"))),
        }
    }

    /// A `"double"` or `'single'` quoted string with JSON escapes (plus `\'`); raw newlines
    /// and tabs are allowed inside.
    fn string(&mut self, quote: u8) -> Result<String, ParseError> {
        let start = self.pos;
        let mut out = String::new();
        let mut chars = self.src[start + 1..].char_indices();
        while let Some((i, c)) = chars.next() {
            let at = start + 1 + i;
            match c {
                c if c as u32 == quote as u32 => {
                    self.pos = at + 1;
                    return Ok(out);
                }
                '\\' => {
                    let Some((_, e)) = chars.next() else { break };
                    match e {
                        '"' | '\\' | '/' | '\'' => out.push(e),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'u' => {
                            let hi = self.hex4(at + 2)?;
                            chars.nth(3);
                            let c = if (0xD800..0xDC00).contains(&hi) {
                                let low = if self.src.get(at + 6..at + 8) == Some("\\u") {
                                    self.hex4(at + 8).ok()
                                } else {
                                    None
                                };
                                match low {
                                    Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                                        chars.nth(5);
                                        char::from_u32(
                                            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00),
                                        )
                                    }
                                    _ => None,
                                }
                            } else {
                                char::from_u32(hi)
                            };
                            match c {
                                Some(c) => out.push(c),
                                None => return Err(self.err(at, "invalid unicode escape")),
                            }
                        }
                        other => {
                            return Err(self.err(at, format!("invalid escape `\\{other}`")));
                        }
                    }
                }
                c => out.push(c),
            }
        }
        Err(self.err(start, "unterminated string"))
    }

    fn hex4(&self, at: usize) -> Result<u32, ParseError> {
        self.src
            .get(at..at + 4)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.err(at.saturating_sub(2), "invalid unicode escape"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        let mut lx = Lexer::new(src, 0);
        let mut out = Vec::new();
        loop {
            match lx.next_token() {
                Ok(t) if t.tok == Tok::Eof => return out,
                Ok(t) => out.push(t.tok),
                Err(e) => panic!("{e}"),
            }
        }
    }

    fn name(s: &str) -> Seg {
        Seg::Name(s.into())
    }

    #[test]
    fn accessors_with_spaces_digits_and_stars() {
        assert_eq!(
            toks("env . HOME"),
            vec![Tok::Path(vec![name("env"), name("HOME")])]
        );
        assert_eq!(
            toks("services.db.0.ip"),
            vec![Tok::Path(vec![
                name("services"),
                name("db"),
                name("0"),
                name("ip")
            ])]
        );
        assert_eq!(
            toks("a.*.b"),
            vec![Tok::Path(vec![name("a"), Seg::Star, name("b")])]
        );
        assert_eq!(toks("a..."), vec![Tok::Path(vec![name("a")]), Tok::Spread]);
        assert_eq!(
            toks("f().0.5"),
            vec![
                Tok::Path(vec![name("f")]),
                Tok::LParen,
                Tok::RParen,
                Tok::Dot,
                Tok::Path(vec![name("0"), name("5")])
            ]
        );
    }

    #[test]
    fn numbers_and_words() {
        assert_eq!(toks("1.5e+3"), vec![Tok::Num(1500.0)]);
        assert_eq!(toks("2e-2"), vec![Tok::Num(0.02)]);
        assert_eq!(toks("1abc"), vec![Tok::Path(vec![name("1abc")])]);
        assert_eq!(toks("1..."), vec![Tok::Num(1.0), Tok::Spread]);
        assert_eq!(
            toks("7.x"),
            vec![Tok::Num(7.0), Tok::Dot, Tok::Path(vec![name("x")])]
        );
    }

    #[test]
    fn operators() {
        assert_eq!(
            toks("a<>b != c"),
            vec![
                Tok::Path(vec![name("a")]),
                Tok::Bin(BinOp::Ne),
                Tok::Path(vec![name("b")]),
                Tok::Bin(BinOp::Ne),
                Tok::Path(vec![name("c")])
            ]
        );
        assert_eq!(
            toks("--5"),
            vec![Tok::Bin(BinOp::Sub), Tok::Bin(BinOp::Sub), Tok::Num(5.0)]
        );
        assert_eq!(
            toks("** *"),
            vec![Tok::Bin(BinOp::Pow), Tok::Bin(BinOp::Mul)]
        );
    }

    #[test]
    fn strings() {
        assert_eq!(toks(r#""a\"b\n""#), vec![Tok::Str("a\"b\n".into())]);
        assert_eq!(toks(r"'it\'s'"), vec![Tok::Str("it's".into())]);
        assert_eq!(toks("\"x\ny\""), vec![Tok::Str("x\ny".into())]);
        assert_eq!(
            toks(r#""\u00e9\ud83d\ude00""#),
            vec![Tok::Str("é😀".into())]
        );
        assert_eq!(toks("'say \"hi\"'"), vec![Tok::Str("say \"hi\"".into())]);
        let err = Lexer::new("  \"abc", 0).next_token().unwrap_err();
        assert_eq!(err.offset, 2);
        assert!(Lexer::new(r#""\q""#, 0).next_token().is_err());
        assert!(Lexer::new(r#""\ud83d""#, 0).next_token().is_err());
    }
}
