//! Conditions as AND-chains of expression terms.
//!
//! Upstream builds conditions by string concatenation; we keep the terms apart until the end so
//! duplicates can be dropped and a term like `a || b` is parenthesised instead of silently
//! changing meaning when joined with `&&`.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    terms: Vec<String>,
}

impl Condition {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn of(term: &str) -> Self {
        let mut c = Self::new();
        c.push_back(term);
        c
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Adds a term at the end unless it is already there.
    pub fn push_back(&mut self, term: &str) {
        let term = term.trim();
        if !term.is_empty() && !self.terms.iter().any(|t| t == term) {
            self.terms.push(term.to_owned());
        }
    }

    /// Puts `newer` first, then the existing terms (upstream's "new first, existing last").
    pub fn prepend(&mut self, newer: &Condition) {
        let mut merged = newer.clone();
        for t in &self.terms {
            merged.push_back(t);
        }
        *self = merged;
    }

    /// The expression text, e.g. `passed&&(a || b)`; `None` when there is no term.
    pub fn expression(&self) -> Option<String> {
        if self.terms.is_empty() {
            return None;
        }
        if self.terms.len() == 1 {
            return Some(self.terms[0].clone());
        }
        Some(
            self.terms
                .iter()
                .map(|t| parenthesize(t))
                .collect::<Vec<_>>()
                .join("&&"),
        )
    }
}

/// Wraps a term in parentheses unless it is a plain (possibly negated) accessor or literal.
pub fn parenthesize(term: &str) -> String {
    let simple = term
        .trim_start_matches('!')
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if simple {
        term.to_owned()
    } else {
        format!("({term})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_dropped_and_new_terms_come_first() {
        let mut c = Condition::of("passed");
        c.prepend(&Condition::of("env.TEST"));
        c.push_back("passed");
        assert_eq!(c.expression().as_deref(), Some("env.TEST&&passed"));
    }

    #[test]
    fn complex_terms_keep_their_meaning() {
        let mut c = Condition::of("a || b");
        c.push_back("c");
        assert_eq!(c.expression().as_deref(), Some("(a || b)&&c"));
    }
}
