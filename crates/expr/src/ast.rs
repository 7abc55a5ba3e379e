//! The syntax tree and the public [`Expr`] type.

use serde_json::Value;

use crate::error::{EvalError, ParseError};
use crate::eval::{Ctx, Limits};
use crate::machine::Machine;
use crate::stack::StackScope;
use crate::value::truthy;

/// Binary operators, from the loosest to the tightest binding group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    And,
    Or,
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
}

impl BinOp {
    /// Binding strength: higher binds tighter. Ternary is 1, unary 7, postfix 8, atoms 9.
    pub(crate) fn prec(self) -> u8 {
        match self {
            BinOp::And | BinOp::Or => 2,
            BinOp::Eq | BinOp::Ne | BinOp::Gt | BinOp::Ge | BinOp::Lt | BinOp::Le => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Mod => 5,
            BinOp::Pow => 6,
        }
    }

    pub(crate) fn symbol(self) -> &'static str {
        match self {
            BinOp::And => "&&",
            BinOp::Or => "||",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Pow => "**",
        }
    }
}

/// Prefix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnOp {
    Not,
    Neg,
}

/// A call argument; `spread` marks `arg...`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Arg {
    pub node: Node,
    pub spread: bool,
}

/// A node of the syntax tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// A literal or a resolved value.
    Value(Value),
    /// A dotted accessor such as `env.HOME` (never containing `*`).
    Var(String),
    /// `base.name`
    Prop(Box<Node>, String),
    /// `base.*.p1.p2`: the list of `.p1.p2` of every element (or map value) of `base`.
    Wildcard(Box<Node>, Vec<String>),
    Unary(UnOp, Box<Node>),
    Binary(BinOp, Box<Node>, Box<Node>),
    /// `cond ? then : else`
    Ternary(Box<Node>, Box<Node>, Box<Node>),
    Call(String, Vec<Arg>),
    /// A list literal with at least one non-static element.
    List(Vec<Node>),
    /// A map literal with at least one non-static value.
    Object(Vec<(String, Node)>),
}

impl Node {
    pub(crate) fn as_value(&self) -> Option<&Value> {
        match self {
            Node::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Binding strength of the node's outermost construct (see [`BinOp::prec`]).
    pub(crate) fn prec(&self) -> u8 {
        match self {
            Node::Ternary(..) => 1,
            Node::Binary(op, ..) => op.prec(),
            Node::Unary(..) => 7,
            Node::Prop(..) | Node::Wildcard(..) | Node::Call(..) => 8,
            Node::Value(_) | Node::Var(_) | Node::List(_) | Node::Object(_) => 9,
        }
    }

    fn walk(&self, f: &mut dyn FnMut(&Node)) {
        f(self);
        match self {
            Node::Value(_) | Node::Var(_) => {}
            Node::Prop(base, _) | Node::Wildcard(base, _) | Node::Unary(_, base) => base.walk(f),
            Node::Binary(_, l, r) => {
                l.walk(f);
                r.walk(f);
            }
            Node::Ternary(c, a, b) => {
                c.walk(f);
                a.walk(f);
                b.walk(f);
            }
            Node::Call(_, args) => args.iter().for_each(|a| a.node.walk(f)),
            Node::List(items) => items.iter().for_each(|n| n.walk(f)),
            Node::Object(pairs) => pairs.iter().for_each(|(_, n)| n.walk(f)),
        }
    }
}

/// A parsed expression, possibly partially evaluated.
///
/// `Display` prints valid source with minimal parentheses; parsing that text gives back an
/// expression that evaluates the same way.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub(crate) node: Node,
}

impl Expr {
    pub(crate) fn from_node(node: Node) -> Self {
        Expr { node }
    }

    /// Parses an expression such as `config.x + 1`. The result is not simplified: use
    /// [`Expr::resolve`] (with [`crate::NoMachine`] if there are no variables) to fold it.
    pub fn parse(src: &str) -> Result<Expr, ParseError> {
        crate::parser::parse_expression(src).map(Expr::from_node)
    }

    /// A literal value.
    pub fn value(v: Value) -> Expr {
        Expr::from_node(Node::Value(v))
    }

    /// An accessor (variable reference) with the given dotted name, e.g. `env.HOME`.
    pub fn var(name: &str) -> Expr {
        Expr::from_node(Node::Var(name.to_string()))
    }

    /// A call of `name` with the given arguments.
    pub fn call(name: &str, args: Vec<Expr>) -> Expr {
        let args = args
            .into_iter()
            .map(|e| Arg {
                node: e.node,
                spread: false,
            })
            .collect();
        Expr::from_node(Node::Call(name.to_string(), args))
    }

    /// The value, when the expression is fully resolved.
    pub fn static_value(&self) -> Option<&Value> {
        self.node.as_value()
    }

    /// The value, when the expression is fully resolved.
    pub fn into_static_value(self) -> Option<Value> {
        match self.node {
            Node::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Truthiness of the value when the expression is fully resolved.
    pub fn is_truthy_static(&self) -> Option<bool> {
        self.static_value().map(truthy)
    }

    /// Partially evaluates: everything the machine (and the standard library) can answer is
    /// computed, unknown variables and functions stay symbolic. The result is stable: resolving
    /// it again with the same machine changes nothing.
    pub fn resolve(&self, m: &dyn Machine) -> Result<Expr, EvalError> {
        let _scope = StackScope::enter();
        let limits = Limits::default();
        let ctx = Ctx::new(m, false, &limits);
        ctx.eval(&self.node).map(Expr::from_node)
    }

    /// Fully evaluates; unknown variables and functions are errors.
    pub fn finalize(&self, m: &dyn Machine) -> Result<Value, EvalError> {
        let _scope = StackScope::enter();
        let limits = Limits::default();
        let ctx = Ctx::new(m, true, &limits);
        match ctx.eval(&self.node)? {
            Node::Value(v) => Ok(v),
            other => Err(EvalError::NotStatic(Expr::from_node(other).to_string())),
        }
    }

    /// The free accessor names (full dotted names, before any `*`), in order of first use.
    pub fn variables(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        self.node.walk(&mut |n| {
            if let Node::Var(name) = n
                && !out.contains(name)
            {
                out.push(name.clone());
            }
        });
        out
    }

    /// The names of the functions called, in order of first use.
    pub fn functions(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        self.node.walk(&mut |n| {
            if let Node::Call(name, _) = n
                && !out.contains(name)
            {
                out.push(name.clone());
            }
        });
        out
    }

    /// True when the expression is a bare wildcard accessor such as `services.db.*.ip`
    /// (list expansion joins these with commas instead of expanding them).
    pub fn is_wildcard(&self) -> bool {
        matches!(self.node, Node::Wildcard(..))
    }

    /// The expression as template text: a static value becomes its (escaped) string form,
    /// anything else `{{expr}}`.
    pub fn to_template(&self) -> String {
        match self.static_value() {
            Some(v) => crate::template::escape_template(&crate::value::to_string_form(v)),
            None => format!("{{{{{self}}}}}"),
        }
    }
}

impl std::str::FromStr for Expr {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Expr, ParseError> {
        Expr::parse(s)
    }
}

impl From<Value> for Expr {
    fn from(v: Value) -> Self {
        Expr::value(v)
    }
}
