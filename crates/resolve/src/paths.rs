//! Field paths in the spelling of `testwerk_spec`'s location index (`spec.steps[0].use[1]`),
//! so that every path built here finds its line in the file.

pub use testwerk_spec::path::{index, key};

/// `parent.a.b…` for several plain keys at once.
pub fn keys(parent: &str, names: &[&str]) -> String {
    names.iter().fold(parent.to_owned(), |p, k| key(&p, k))
}
