//! Recursive-descent parser with bounded nesting.
//!
//! Grammar, loosest first: ternary `?:` (right-associative) < `&& ||` < comparisons
//! < `+ -` < `* / %` < `**` < prefix `! -` < postfix `.name`, `.*` < atoms. Binary operators
//! are left-associative.

use serde_json::{Map, Value};

use crate::ast::{Arg, BinOp, Node, UnOp};
use crate::error::ParseError;
use crate::lexer::{Lexer, Seg, Tok, Token};
use crate::stack::{self, StackScope};
use crate::value::number_value;

/// Deepest allowed syntax tree (also bounds evaluation and printing recursion).
pub(crate) const MAX_HEIGHT: u32 = 160;
/// Deepest allowed nesting of parentheses, brackets, calls and prefix operators.
const MAX_NESTING: usize = 100;

type P = (Node, u32);

struct Parser<'s> {
    src: &'s str,
    lexer: Lexer<'s>,
    peeked: Option<Token>,
    nesting: usize,
}

/// Parses a whole string as one expression.
pub(crate) fn parse_expression(src: &str) -> Result<Node, ParseError> {
    let _scope = StackScope::enter();
    let mut p = Parser::new(src, 0);
    let (node, _) = p.ternary()?;
    let t = p.next()?;
    if t.tok != Tok::Eof {
        return Err(p.err(
            t.start,
            format!("unexpected {} after the expression", t.tok.describe()),
        ));
    }
    Ok(node)
}

/// Parses the expression of a template segment starting at `start` (just after `{{`) up to
/// and including the closing `}}`; returns the node and the offset after `}}`.
pub(crate) fn parse_embedded(src: &str, start: usize) -> Result<(Node, usize), ParseError> {
    let _scope = StackScope::enter();
    let mut p = Parser::new(src, start);
    let (node, _) = p.ternary()?;
    let t = p.next()?;
    if t.tok == Tok::RBrace && src.as_bytes().get(t.end) == Some(&b'}') {
        return Ok((node, t.end + 1));
    }
    let message = if t.tok == Tok::Eof {
        "missing `}}` to close the expression".to_string()
    } else {
        format!("expected `}}}}`, found {}", t.tok.describe())
    };
    Err(p.err(t.start, message))
}

fn binop_level(op: BinOp) -> usize {
    match op.prec() {
        2 => 0,
        3 => 1,
        4 => 2,
        5 => 3,
        _ => 4,
    }
}

impl<'s> Parser<'s> {
    fn new(src: &'s str, start: usize) -> Self {
        Parser {
            src,
            lexer: Lexer::new(src, start),
            peeked: None,
            nesting: 0,
        }
    }

    fn err(&self, offset: usize, message: impl Into<String>) -> ParseError {
        ParseError::new(self.src, offset, message)
    }

    fn peek(&mut self) -> Result<&Token, ParseError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next_token()?);
        }
        match &self.peeked {
            Some(t) => Ok(t),
            None => Err(self.err(self.src.len(), "internal parser error")),
        }
    }

    fn next(&mut self) -> Result<Token, ParseError> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lexer.next_token(),
        }
    }

    fn eat(&mut self, tok: &Tok) -> Result<bool, ParseError> {
        if &self.peek()?.tok == tok {
            self.next()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn expect(&mut self, tok: &Tok, what: &str) -> Result<Token, ParseError> {
        let t = self.next()?;
        if &t.tok != tok {
            return Err(self.err(
                t.start,
                format!("expected {what}, found {}", t.tok.describe()),
            ));
        }
        Ok(t)
    }

    fn enter(&mut self, offset: usize) -> Result<(), ParseError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.err(offset, "expression is nested too deeply"));
        }
        if stack::exhausted() {
            return Err(self.err(
                offset,
                "expression is nested too deeply (maximum call stack exceeded)",
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.nesting = self.nesting.saturating_sub(1);
    }

    fn node(&self, offset: usize, node: Node, height: u32) -> Result<P, ParseError> {
        if height > MAX_HEIGHT {
            return Err(self.err(offset, "expression is too deeply nested or too long"));
        }
        Ok((node, height))
    }

    fn ternary(&mut self) -> Result<P, ParseError> {
        let offset = self.peek()?.start;
        let (cond, hc) = self.binary(0)?;
        if !self.eat(&Tok::Question)? {
            return Ok((cond, hc));
        }
        self.enter(offset)?;
        let (then, ht) = self.ternary()?;
        self.expect(&Tok::Colon, "`:` of the ternary operator")?;
        let (other, ho) = self.ternary()?;
        self.leave();
        let h = hc.max(ht).max(ho) + 1;
        let node = Node::Ternary(Box::new(cond), Box::new(then), Box::new(other));
        self.node(offset, node, h)
    }

    /// Precedence climbing over the binary operators whose level is at least `min_level`.
    fn binary(&mut self, min_level: usize) -> Result<P, ParseError> {
        let (mut left, mut hl) = self.unary()?;
        loop {
            let (op, offset) = match self.peek()?.tok {
                Tok::Bin(op) if binop_level(op) >= min_level => (op, self.peek()?.start),
                _ => break,
            };
            self.next()?;
            let (right, hr) = self.binary(binop_level(op) + 1)?;
            let node = Node::Binary(op, Box::new(left), Box::new(right));
            (left, hl) = self.node(offset, node, hl.max(hr) + 1)?;
        }
        Ok((left, hl))
    }

    fn unary(&mut self) -> Result<P, ParseError> {
        let t = self.peek()?;
        let offset = t.start;
        let op = match t.tok {
            Tok::Bang => UnOp::Not,
            Tok::Bin(BinOp::Sub) => UnOp::Neg,
            _ => return self.postfix(),
        };
        self.next()?;
        if op == UnOp::Neg
            && let Tok::Num(n) = self.peek()?.tok
        {
            let t = self.next()?;
            let v = number_value(-n).ok_or_else(|| self.err(t.start, "number out of range"))?;
            return self.postfix_of((Node::Value(v), 1));
        }
        self.enter(offset)?;
        let (operand, h) = self.unary()?;
        self.leave();
        self.node(offset, Node::Unary(op, Box::new(operand)), h + 1)
    }

    fn postfix(&mut self) -> Result<P, ParseError> {
        let base = self.primary()?;
        self.postfix_of(base)
    }

    fn postfix_of(&mut self, mut base: P) -> Result<P, ParseError> {
        while self.peek()?.tok == Tok::Dot {
            let dot = self.next()?;
            let t = self.next()?;
            let Tok::Path(segs) = t.tok else {
                return Err(self.err(
                    t.start,
                    format!(
                        "expected a property name after `.`, found {}",
                        t.tok.describe()
                    ),
                ));
            };
            base = self.apply_segments(dot.start, base, segs)?;
        }
        Ok(base)
    }

    /// Applies `.name` / `.*` segments of one accessor token; names after a `*` in the same
    /// token extend that wildcard's path.
    fn apply_segments(&self, offset: usize, base: P, segs: Vec<Seg>) -> Result<P, ParseError> {
        let (mut node, mut h) = base;
        let mut in_wildcard = false;
        for seg in segs {
            (node, h) = match (seg, node) {
                (Seg::Star, n) => {
                    in_wildcard = true;
                    self.node(offset, Node::Wildcard(Box::new(n), Vec::new()), h + 1)?
                }
                (Seg::Name(name), Node::Wildcard(b, mut path)) if in_wildcard => {
                    path.push(name);
                    (Node::Wildcard(b, path), h)
                }
                (Seg::Name(name), n) => self.node(offset, Node::Prop(Box::new(n), name), h + 1)?,
            };
        }
        Ok((node, h))
    }

    fn primary(&mut self) -> Result<P, ParseError> {
        let t = self.next()?;
        let offset = t.start;
        match t.tok {
            Tok::Num(n) => {
                let v = number_value(n).ok_or_else(|| self.err(offset, "number out of range"))?;
                Ok((Node::Value(v), 1))
            }
            Tok::Str(s) => Ok((Node::Value(Value::String(s)), 1)),
            Tok::Path(segs) => self.path(offset, segs),
            Tok::LParen => {
                self.enter(offset)?;
                let inner = self.ternary()?;
                self.expect(&Tok::RParen, "`)`")?;
                self.leave();
                Ok(inner)
            }
            Tok::LBracket => self.list(offset),
            Tok::LBrace => self.object(offset),
            other => Err(self.err(
                offset,
                format!("expected an expression, found {}", other.describe()),
            )),
        }
    }

    fn path(&mut self, offset: usize, segs: Vec<Seg>) -> Result<P, ParseError> {
        let mut names = Vec::new();
        let mut rest = Vec::new();
        let mut iter = segs.into_iter();
        for seg in iter.by_ref() {
            match seg {
                Seg::Name(n) => names.push(n),
                Seg::Star => {
                    rest.push(Seg::Star);
                    break;
                }
            }
        }
        rest.extend(iter);
        if names.is_empty() {
            return Err(self.err(offset, "expected a name before `.*`"));
        }
        let keyword = match names.first().map(String::as_str) {
            Some("null") => Some(Value::Null),
            Some("true") => Some(Value::Bool(true)),
            Some("false") => Some(Value::Bool(false)),
            _ => None,
        };
        if let Some(v) = keyword {
            let segs = names
                .into_iter()
                .skip(1)
                .map(Seg::Name)
                .chain(rest)
                .collect();
            return self.apply_segments(offset, (Node::Value(v), 1), segs);
        }
        if self.peek()?.tok == Tok::LParen {
            let at = self.peek()?.start;
            if names.len() == 1
                && rest.is_empty()
                && let Some(name) = names.pop()
            {
                return self.call(offset, name);
            }
            return Err(self.err(at, "only a plain name can be called as a function"));
        }
        self.apply_segments(offset, (Node::Var(names.join(".")), 1), rest)
    }

    fn call(&mut self, offset: usize, name: String) -> Result<P, ParseError> {
        self.expect(&Tok::LParen, "`(`")?;
        self.enter(offset)?;
        let mut args = Vec::new();
        let mut h = 0;
        if !self.eat(&Tok::RParen)? {
            loop {
                let (node, ha) = self.ternary()?;
                h = h.max(ha);
                let spread = self.eat(&Tok::Spread)?;
                args.push(Arg { node, spread });
                let t = self.next()?;
                match t.tok {
                    Tok::Comma => continue,
                    Tok::RParen => break,
                    other => {
                        return Err(self.err(
                            t.start,
                            format!(
                                "expected `,` or `)` in the call of {name}, found {}",
                                other.describe()
                            ),
                        ));
                    }
                }
            }
        }
        self.leave();
        self.node(offset, Node::Call(name, args), h + 1)
    }

    fn list(&mut self, offset: usize) -> Result<P, ParseError> {
        self.enter(offset)?;
        let mut items = Vec::new();
        let mut h = 0;
        if !self.eat(&Tok::RBracket)? {
            loop {
                let (node, hi) = self.ternary()?;
                h = h.max(hi);
                items.push(node);
                let t = self.next()?;
                match t.tok {
                    Tok::Comma => continue,
                    Tok::RBracket => break,
                    other => {
                        return Err(self.err(
                            t.start,
                            format!(
                                "expected `,` or `]` in the list, found {}",
                                other.describe()
                            ),
                        ));
                    }
                }
            }
        }
        self.leave();
        if items.iter().all(|n| n.as_value().is_some()) {
            let values = items
                .into_iter()
                .filter_map(|n| match n {
                    Node::Value(v) => Some(v),
                    _ => None,
                })
                .collect();
            return self.node(offset, Node::Value(Value::Array(values)), h + 1);
        }
        self.node(offset, Node::List(items), h + 1)
    }

    fn object(&mut self, offset: usize) -> Result<P, ParseError> {
        self.enter(offset)?;
        let mut pairs = Vec::new();
        let mut h = 0;
        if !self.eat(&Tok::RBrace)? {
            loop {
                let t = self.next()?;
                let Tok::Str(key) = t.tok else {
                    return Err(self.err(
                        t.start,
                        format!(
                            "expected a quoted key in the map, found {}",
                            t.tok.describe()
                        ),
                    ));
                };
                self.expect(&Tok::Colon, "`:` after the map key")?;
                let (node, hv) = self.ternary()?;
                h = h.max(hv);
                pairs.push((key, node));
                let t = self.next()?;
                match t.tok {
                    Tok::Comma => continue,
                    Tok::RBrace => break,
                    other => {
                        return Err(self.err(
                            t.start,
                            format!(
                                "expected `,` or `}}` in the map, found {}",
                                other.describe()
                            ),
                        ));
                    }
                }
            }
        }
        self.leave();
        if pairs.iter().all(|(_, n)| n.as_value().is_some()) {
            let mut map = Map::new();
            for (k, n) in pairs {
                if let Node::Value(v) = n {
                    map.insert(k, v);
                }
            }
            return self.node(offset, Node::Value(Value::Object(map)), h + 1);
        }
        self.node(offset, Node::Object(pairs), h + 1)
    }
}
