//! The bridge to `testwerk-expr`: substituting known variables in one string, and reading a
//! config value's text.

use testwerk_expr::{Expr, Machine, NoMachine, Template, expand_list};

use crate::phase::answers;
use crate::walk::Rewriter;

/// Substitutes what a machine knows, leaving every other variable as written.
///
/// A string is rewritten only when it refers to something the machine knows (or to `config`),
/// so text that needs nothing from this phase keeps its exact spelling. With `strict`, a
/// `config.*` the machine does not know is an error: config is complete at this point, so such
/// a reference can never be resolved later.
pub struct Resolving<'m> {
    machine: &'m dyn Machine,
    strict: bool,
}

impl<'m> Resolving<'m> {
    pub fn new(machine: &'m dyn Machine, strict: bool) -> Self {
        Resolving { machine, strict }
    }

    fn relevant(&self, variables: &[String]) -> bool {
        variables
            .iter()
            .any(|v| is_config(v) || answers(self.machine, v))
    }

    fn check(&self, variables: Vec<String>) -> Result<(), String> {
        match variables.into_iter().find(|v| self.strict && is_config(v)) {
            Some(v) => Err(format!("{v}: unknown variable")),
            None => Ok(()),
        }
    }
}

fn is_config(name: &str) -> bool {
    name == "config" || name.starts_with("config.")
}

fn parse_template(text: &str) -> Result<Template, String> {
    Template::parse(text).map_err(|e| format!("invalid template: {e}"))
}

impl Rewriter for Resolving<'_> {
    fn template(&mut self, text: &str) -> Result<Option<String>, String> {
        if !text.contains("{{") {
            return Ok(None);
        }
        let t = parse_template(text)?;
        if !self.relevant(&t.variables()) {
            return Ok(None);
        }
        let resolved = t.resolve(self.machine).map_err(|e| e.to_string())?;
        self.check(resolved.variables())?;
        Ok(Some(resolved.to_string()))
    }

    fn expression(&mut self, text: &str) -> Result<Option<String>, String> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        let e = Expr::parse(text).map_err(|e| format!("invalid expression: {e}"))?;
        if !self.relevant(&e.variables()) {
            return Ok(None);
        }
        let resolved = e.resolve(self.machine).map_err(|e| e.to_string())?;
        self.check(resolved.variables())?;
        Ok(Some(resolved.to_string()))
    }

    fn list_item(&mut self, text: &str) -> Result<Option<Vec<String>>, String> {
        if !text.contains("{{") {
            return Ok(None);
        }
        if !self.relevant(&parse_template(text)?.variables()) {
            return Ok(None);
        }
        let items = expand_list(&[text.to_owned()], self.machine).map_err(|e| e.to_string())?;
        for item in &items {
            self.check(parse_template(item)?.variables())?;
        }
        Ok(Some(items))
    }
}

/// The final text of a value, when it needs no variable: `"5"`, `"a{{1+1}}"` → `"a2"`.
pub fn static_template(text: &str) -> Result<Option<String>, String> {
    let t = parse_template(text)?;
    let folded = t.resolve(&NoMachine).map_err(|e| e.to_string())?;
    Ok(folded.static_string())
}

/// The expression a template stands for: its only `{{ }}` segment, or the concatenation of
/// its parts (`"a-{{x}}"` → `string("a-",x)`).
pub fn template_expression(text: &str) -> Result<Expr, String> {
    let t = parse_template(text)?;
    if let Some(e) = t.single_expr() {
        return e.resolve(&NoMachine).map_err(|e| e.to_string());
    }
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(Expr::value(rest[..start].into()));
        }
        let (segment, end) = first_segment(&rest[start..])?;
        parts.push(segment);
        rest = &rest[start + end..];
    }
    if !rest.is_empty() {
        parts.push(Expr::value(rest.into()));
    }
    Expr::call("string", parts)
        .resolve(&NoMachine)
        .map_err(|e| e.to_string())
}

/// The expression of the `{{ }}` segment `text` starts with, and the segment's length: the
/// shortest prefix ending in `}}` that parses as exactly one segment (a `}}` inside a string
/// literal does not end it).
fn first_segment(text: &str) -> Result<(Expr, usize), String> {
    let mut from = 2;
    while let Some(rel) = text.get(from..).and_then(|s| s.find("}}")) {
        let end = from + rel + 2;
        if let Ok(t) = Template::parse(&text[..end])
            && let Some(e) = t.single_expr()
        {
            return Ok((e.clone(), end));
        }
        from = from + rel + 1;
    }
    Err(format!("invalid template: unterminated `{{{{` in {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use testwerk_expr::Value;

    #[test]
    fn rewrites_only_what_the_machine_knows() {
        let mut m = crate::configure::ConfigMachine::default();
        m.set("x", Value::from("X").into());
        let mut r = Resolving::new(&m, true);
        assert_eq!(r.template("keep {{ env.A }}"), Ok(None));
        assert_eq!(
            r.template("{{config.x}}-{{ env.A }}"),
            Ok(Some("X-{{env.A}}".into()))
        );
        assert_eq!(r.expression("passed"), Ok(None));
        assert_eq!(r.expression("config.x == 'X'"), Ok(Some("true".into())));
        assert_eq!(
            r.template("{{config.y}}"),
            Err("config.y: unknown variable".into())
        );
    }

    #[test]
    fn reads_config_value_text() {
        assert_eq!(static_template("a{{1+1}}"), Ok(Some("a2".into())));
        assert_eq!(static_template("{{env.X}}"), Ok(None));
        let e = template_expression("a-{{ env.X }}-{{ \"}}\" }}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.to_string(), r#"string("a-",env.X,"-","}}")"#);
    }
}
