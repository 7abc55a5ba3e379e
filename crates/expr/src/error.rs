//! Error types: parse errors (with the byte offset of the problem) and evaluation errors.

use std::fmt;

/// A syntax error in an expression or a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset of the problem in [`ParseError::input`].
    pub offset: usize,
    /// What is wrong, e.g. "unterminated string".
    pub message: String,
    /// The whole text that was parsed.
    pub input: String,
}

impl ParseError {
    pub(crate) fn new(input: &str, offset: usize, message: impl Into<String>) -> Self {
        ParseError {
            offset: offset.min(input.len()),
            message: message.into(),
            input: input.to_string(),
        }
    }

    /// 1-based column (in characters, counted from the start of the input) of the problem.
    pub fn column(&self) -> usize {
        let mut end = self.offset.min(self.input.len());
        while end > 0 && !self.input.is_char_boundary(end) {
            end -= 1;
        }
        self.input[..end].chars().count() + 1
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at column {} in `{}`",
            self.message,
            self.column(),
            self.input
        )
    }
}

impl std::error::Error for ParseError {}

/// A failure while evaluating an expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// A variable that no machine knows, while finalizing. Holds the full dotted name.
    #[error("{0}: unknown variable")]
    UnknownVariable(String),
    /// A function that neither a machine nor the standard library knows, while finalizing.
    #[error("{0}: unknown function")]
    UnknownFunction(String),
    /// A function was called with bad arguments, or failed.
    #[error("{function}: {message}")]
    Call {
        /// The function's name.
        function: String,
        /// What went wrong, naming the argument where it applies.
        message: String,
    },
    /// An operator or a property access failed (e.g. division by zero, index out of bounds).
    #[error("{expr}: {message}")]
    Operation {
        /// The failing sub-expression, printed as source.
        expr: String,
        /// What went wrong.
        message: String,
    },
    /// A safety limit was hit (evaluation depth, nesting of `eval`/`map`).
    #[error("{0}")]
    Limit(String),
    /// The evaluation used up its budget of steps or memory: a hostile or runaway expression
    /// (`map(range(1000000), "range(1000000)")`) is stopped before it can exhaust the process.
    /// The caller adds the field the expression came from.
    #[error("{}", budget_message(*.resource, *.limit))]
    Budget {
        /// What ran out.
        resource: Resource,
        /// The budget: steps, or bytes of values built.
        limit: u64,
    },
    /// Finalizing produced an expression that is still not a value.
    #[error("{0}: expression could not be fully resolved")]
    NotStatic(String),
}

impl EvalError {
    pub(crate) fn call(function: &str, message: impl Into<String>) -> Self {
        EvalError::Call {
            function: function.to_string(),
            message: message.into(),
        }
    }

    /// True for safety limits and exhausted budgets: errors that must end the evaluation
    /// instead of being deferred or tried around (`any`, untaken branches, `map` items).
    pub fn is_limit(&self) -> bool {
        matches!(self, EvalError::Limit(_) | EvalError::Budget { .. })
    }

    /// True for errors that only mean "not known (yet)": an unknown variable or function.
    pub fn is_unknown(&self) -> bool {
        matches!(
            self,
            EvalError::UnknownVariable(_) | EvalError::UnknownFunction(_)
        )
    }
}

/// The resources an evaluation has a budget of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Node evaluations (every operator, variable, call, and every item of `map`/`filter`).
    Steps,
    /// Bytes of values built (lists, maps and strings; an estimate of their size in memory).
    Memory,
}

fn budget_message(resource: Resource, limit: u64) -> String {
    match resource {
        Resource::Steps => {
            format!("expression too costly: evaluation took more than {limit} steps")
        }
        Resource::Memory => format!(
            "expression too costly: evaluation built more than {} MiB of values",
            limit >> 20
        ),
    }
}

/// Either kind of error, for the convenience functions that parse and evaluate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text did not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The evaluation failed.
    #[error(transparent)]
    Eval(#[from] EvalError),
}
