//! Templates: text with `{{ expr }}` segments.

use std::fmt::{self, Display, Write};

use crate::ast::{Expr, Node};
use crate::error::{EvalError, ParseError};
use crate::machine::Machine;
use crate::parser::parse_embedded;
use crate::print::write_node;
use crate::value::to_string_form;

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Expr(Expr),
}

/// A parsed template: literal text and `{{ expr }}` segments.
///
/// `Display` prints template text back; literal `{{` in the text is written `{{"{{"}}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses template text.
    pub fn parse(src: &str) -> Result<Template, ParseError> {
        let mut t = Template::default();
        let mut pos = 0;
        while let Some(rel) = src.get(pos..).and_then(|s| s.find("{{")) {
            t.push_text(&src[pos..pos + rel]);
            let (node, end) = parse_embedded(src, pos + rel + 2)?;
            t.parts.push(Part::Expr(Expr::from_node(node)));
            pos = end;
        }
        t.push_text(src.get(pos..).unwrap_or(""));
        Ok(t)
    }

    /// A template that is just the given literal text.
    pub fn text(s: &str) -> Template {
        let mut t = Template::default();
        t.push_text(s);
        t
    }

    fn push_text(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if let Some(Part::Text(last)) = self.parts.last_mut() {
            last.push_str(s);
        } else {
            self.parts.push(Part::Text(s.to_string()));
        }
    }

    /// Partially evaluates every segment; resolved segments become text.
    pub fn resolve(&self, m: &dyn Machine) -> Result<Template, EvalError> {
        let mut out = Template::default();
        for part in &self.parts {
            match part {
                Part::Text(s) => out.push_text(s),
                Part::Expr(e) => {
                    let r = e.resolve(m)?;
                    match r.static_value() {
                        Some(v) => out.push_text(&to_string_form(v)),
                        None => out.parts.push(Part::Expr(r)),
                    }
                }
            }
        }
        Ok(out)
    }

    /// Evaluates fully to the final string.
    pub fn finalize(&self, m: &dyn Machine) -> Result<String, EvalError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(s) => out.push_str(s),
                Part::Expr(e) => out.push_str(&to_string_form(&e.finalize(m)?)),
            }
        }
        Ok(out)
    }

    /// The final string when no expression is left (static segments count as text).
    pub fn static_string(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(s) => out.push_str(s),
                Part::Expr(e) => out.push_str(&to_string_form(e.static_value()?)),
            }
        }
        Some(out)
    }

    /// The expression, when the template is exactly one `{{expr}}` with no text around it.
    pub fn single_expr(&self) -> Option<&Expr> {
        match self.parts.as_slice() {
            [Part::Expr(e)] => Some(e),
            _ => None,
        }
    }

    /// The expressions of the template, in order.
    pub fn expressions(&self) -> impl Iterator<Item = &Expr> {
        self.parts.iter().filter_map(|p| match p {
            Part::Expr(e) => Some(e),
            Part::Text(_) => None,
        })
    }

    /// Free variables of all segments, in order of first use.
    pub fn variables(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in self.expressions() {
            for v in e.variables() {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
        }
        out
    }
}

impl std::str::FromStr for Template {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Template, ParseError> {
        Template::parse(s)
    }
}

/// Writes literal text so that it parses back as the same text: `{{` becomes `{{"{{"}}`, and a
/// `{` right before an expression segment becomes `{{"{"}}`.
fn write_text(f: &mut dyn Write, s: &str, before_expr: bool) -> fmt::Result {
    let mut rest = s;
    while let Some(i) = rest.find("{{") {
        f.write_str(&rest[..i])?;
        f.write_str(r#"{{"{{"}}"#)?;
        rest = &rest[i + 2..];
    }
    match rest.strip_suffix('{') {
        Some(head) if before_expr => {
            f.write_str(head)?;
            f.write_str(r#"{{"{"}}"#)
        }
        _ => f.write_str(rest),
    }
}

impl Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, part) in self.parts.iter().enumerate() {
            match part {
                Part::Text(s) => {
                    let before_expr = matches!(self.parts.get(i + 1), Some(Part::Expr(_)));
                    write_text(f, s, before_expr)?;
                }
                Part::Expr(e) => {
                    f.write_str("{{")?;
                    write_node(f, &e.node)?;
                    f.write_str("}}")?;
                }
            }
        }
        Ok(())
    }
}

/// Escapes literal text as template text (`{{` → `{{"{{"}}`). A trailing `{` is escaped too
/// (`{{"{"}}`), so the result may be followed directly by a `{{expr}}` segment.
pub fn escape_template(text: &str) -> String {
    let mut out = String::new();
    let _ = write_text(&mut out, text, true);
    out
}

/// Whether an expression is a bare wildcard accessor (comma-joined by list expansion).
pub(crate) fn is_bare_wildcard(e: &Expr) -> bool {
    matches!(e.node, Node::Wildcard(..))
}
