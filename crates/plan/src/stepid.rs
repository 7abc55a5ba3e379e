//! Step ids: explicit ones are kept; missing ones are derived from the step's name.

use std::collections::HashSet;

use testwerk_spec::{SpecBody, Step};

/// Gives every named step without an id one derived from its name (`Run k6 tests` →
/// `run_k6_tests`), unique among all ids of the workflow (`_1`, `_2`… on collision).
/// A `parallel` block is a workflow of its own and gets its own namespace.
pub fn assign_ids(body: &mut SpecBody) {
    let mut taken = HashSet::new();
    for step in body.setup.iter().chain(&body.steps).chain(&body.after) {
        collect_explicit(step, &mut taken);
    }
    for step in body
        .setup
        .iter_mut()
        .chain(body.steps.iter_mut())
        .chain(body.after.iter_mut())
    {
        derive(step, &mut taken);
    }
}

fn collect_explicit(step: &Step, taken: &mut HashSet<String>) {
    if let Some(id) = &step.id {
        taken.insert(id.clone());
    }
    for child in step.setup.iter().chain(&step.steps) {
        collect_explicit(child, taken);
    }
}

fn derive(step: &mut Step, taken: &mut HashSet<String>) {
    if step.id.is_none()
        && let Some(base) = step.name.as_deref().and_then(id_from_name)
    {
        let mut candidate = base.clone();
        let mut n = 0;
        while taken.contains(&candidate) {
            n += 1;
            candidate = format!("{base}_{n}");
        }
        taken.insert(candidate.clone());
        step.id = Some(candidate);
    }
    for child in step.setup.iter_mut().chain(step.steps.iter_mut()) {
        derive(child, taken);
    }
    if let Some(parallel) = step.parallel.as_mut() {
        assign_ids(&mut parallel.body);
    }
}

/// Lowercase letters and digits are kept; every other run of characters becomes one `_`.
pub fn id_from_name(name: &str) -> Option<String> {
    let mut out = String::new();
    let mut pending_sep = false;
    for c in name.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if pending_sep && !out.is_empty() {
                out.push('_');
            }
            pending_sep = false;
            out.push(c);
        } else {
            pending_sep = true;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Whether an explicit id is well formed.
pub fn is_valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_names() {
        assert_eq!(
            id_from_name("Run k6 tests").as_deref(),
            Some("run_k6_tests")
        );
        assert_eq!(
            id_from_name("  --Hello, World!--").as_deref(),
            Some("hello_world")
        );
        assert_eq!(id_from_name("Тест"), None);
        assert!(is_valid_id("a_1"));
        assert!(!is_valid_id("_a"));
        assert!(!is_valid_id("A"));
    }

    #[test]
    fn derived_ids_do_not_collide_with_explicit_or_each_other() {
        let step = |name: &str, id: Option<&str>| Step {
            name: Some(name.into()),
            id: id.map(str::to_owned),
            ..Default::default()
        };
        let mut body = SpecBody {
            steps: vec![
                step("Build", None),
                step("Build", None),
                step("Other", Some("build")),
            ],
            ..Default::default()
        };
        assign_ids(&mut body);
        let ids: Vec<_> = body
            .steps
            .iter()
            .map(|s| s.id.clone().unwrap_or_default())
            .collect();
        assert_eq!(ids, ["build_1", "build_2", "build"]);
    }
}
