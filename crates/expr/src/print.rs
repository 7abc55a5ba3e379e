//! Printing expressions back to source with minimal parentheses.

use std::fmt::{self, Display, Write};

use serde_json::Value;

use crate::ast::{Expr, Node, UnOp};
use crate::value::format_number;

impl Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_node(f, &self.node)
    }
}

/// Prints a value as an expression literal.
pub(crate) fn write_value(f: &mut dyn Write, v: &Value) -> fmt::Result {
    match v {
        Value::Number(n) => f.write_str(&format_number(n)),
        other => f.write_str(&serde_json::to_string(other).map_err(|_| fmt::Error)?),
    }
}

fn write_paren(f: &mut dyn Write, node: &Node, paren: bool) -> fmt::Result {
    if paren {
        f.write_char('(')?;
        write_node(f, node)?;
        f.write_char(')')
    } else {
        write_node(f, node)
    }
}

/// Whether `node` must be parenthesised to be the base of `.name` / `.*`.
fn postfix_base_needs_paren(node: &Node, is_prop: bool) -> bool {
    match node {
        Node::Value(Value::Number(_) | Value::Bool(_) | Value::Null) => true,
        // `a.b` would read as the accessor `a.b`, and `x.*.a.b` would extend the wildcard.
        Node::Var(_) | Node::Wildcard(..) => is_prop,
        other => other.prec() < 8,
    }
}

pub(crate) fn write_node(f: &mut dyn Write, node: &Node) -> fmt::Result {
    match node {
        Node::Value(v) => write_value(f, v),
        Node::Var(name) => f.write_str(name),
        Node::Prop(base, name) => {
            write_paren(f, base, postfix_base_needs_paren(base, true))?;
            write!(f, ".{name}")
        }
        Node::Wildcard(base, path) => {
            write_paren(f, base, postfix_base_needs_paren(base, false))?;
            f.write_str(".*")?;
            for p in path {
                write!(f, ".{p}")?;
            }
            Ok(())
        }
        Node::Unary(op, operand) => {
            f.write_char(match op {
                UnOp::Not => '!',
                UnOp::Neg => '-',
            })?;
            // `-5` would read back as the literal -5: keep `-(5)` distinct.
            let literal = matches!(operand.as_ref(), Node::Value(Value::Number(_)));
            write_paren(
                f,
                operand,
                operand.prec() < 7 || (*op == UnOp::Neg && literal),
            )
        }
        Node::Binary(op, l, r) => {
            let p = op.prec();
            write_paren(f, l, l.prec() < p)?;
            f.write_str(op.symbol())?;
            write_paren(f, r, r.prec() <= p)
        }
        Node::Ternary(c, a, b) => {
            write_paren(f, c, c.prec() <= 1)?;
            f.write_char('?')?;
            write_paren(f, a, a.prec() <= 1)?;
            f.write_char(':')?;
            write_node(f, b)
        }
        Node::Call(name, args) => {
            write!(f, "{name}(")?;
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    f.write_char(',')?;
                }
                write_node(f, &a.node)?;
                if a.spread {
                    f.write_str("...")?;
                }
            }
            f.write_char(')')
        }
        Node::List(items) => {
            f.write_char('[')?;
            for (i, n) in items.iter().enumerate() {
                if i > 0 {
                    f.write_char(',')?;
                }
                write_node(f, n)?;
            }
            f.write_char(']')
        }
        Node::Object(pairs) => {
            f.write_char('{')?;
            for (i, (k, n)) in pairs.iter().enumerate() {
                if i > 0 {
                    f.write_char(',')?;
                }
                write_value(f, &Value::String(k.clone()))?;
                f.write_char(':')?;
                write_node(f, n)?;
            }
            f.write_char('}')
        }
    }
}
