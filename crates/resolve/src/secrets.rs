//! Values of sensitive parameters, kept out of the resolved workflow.

use indexmap::IndexMap;
use testwerk_expr::Expr;

/// Collects sensitive values under Secret keys, and hands out the expression that reads each
/// back at run time (`secret("<name>", "<key>")`).
#[derive(Clone, Debug, Default)]
pub struct Secrets {
    name: String,
    values: IndexMap<String, String>,
}

impl Secrets {
    /// Values will live in the Secret called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Secrets {
            name: name.into(),
            values: IndexMap::new(),
        }
    }

    /// Stores `value` under `key` (or `key.2`, `key.3`… if `key` already holds another value,
    /// as when one template is used twice with different secrets) and returns the expression
    /// that reads it.
    pub fn store(&mut self, key: &str, value: String) -> Expr {
        let mut candidate = key.to_owned();
        let mut n = 1;
        loop {
            match self.values.get(&candidate) {
                None => {
                    self.values.insert(candidate.clone(), value);
                    break;
                }
                Some(existing) if *existing == value => break,
                Some(_) => {
                    n += 1;
                    candidate = format!("{key}.{n}");
                }
            }
        }
        Expr::call(
            "secret",
            vec![
                Expr::value(self.name.clone().into()),
                Expr::value(candidate.into()),
            ],
        )
    }

    pub fn into_values(self) -> IndexMap<String, String> {
        self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_do_not_collide() {
        let mut s = Secrets::new("wf-secret");
        let a = s.store("tpl.db.password", "one".into());
        let again = s.store("tpl.db.password", "one".into());
        let b = s.store("tpl.db.password", "two".into());
        assert_eq!(a, again);
        assert_ne!(a, b);
        assert_eq!(a.to_string(), r#"secret("wf-secret","tpl.db.password")"#);
        assert_eq!(b.to_string(), r#"secret("wf-secret","tpl.db.password.2")"#);
        let values = s.into_values();
        assert_eq!(values.len(), 2);
        assert_eq!(
            values.get("tpl.db.password.2").map(String::as_str),
            Some("two")
        );
    }
}
