//! Removing the empty wrappers that template application leaves behind.

use testwerk_spec::Step;

/// Replaces every step that is nothing but a container for sub-steps (no name, no condition,
/// no operation, only `setup` and/or `steps`) by those sub-steps, `setup` first.
///
/// Only the list itself is flattened, not the sub-steps of the steps kept: a wrapper nested
/// deeper may carry meaning (a group boundary) and upstream leaves it alone too.
pub fn flatten_step_list(steps: Vec<Step>) -> Vec<Step> {
    let mut result = Vec::with_capacity(steps.len());
    for mut step in steps {
        let setup = std::mem::take(&mut step.setup);
        let sub = std::mem::take(&mut step.steps);
        if step == Step::default() {
            result.extend(setup);
            result.extend(sub);
        } else {
            step.setup = setup;
            step.steps = sub;
            result.push(step);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> Step {
        Step {
            name: Some(name.into()),
            ..Step::default()
        }
    }

    #[test]
    fn unwraps_pure_wrappers_only() {
        let wrapper = Step {
            setup: vec![named("s")],
            steps: vec![named("a"), named("b")],
            ..Step::default()
        };
        let group = Step {
            name: Some("group".into()),
            steps: vec![named("c")],
            ..Step::default()
        };
        let out = flatten_step_list(vec![named("first"), wrapper, group.clone()]);
        let names: Vec<_> = out
            .iter()
            .map(|s| s.name.clone().unwrap_or_default())
            .collect();
        assert_eq!(names, ["first", "s", "a", "b", "group"]);
        assert_eq!(out[4], group);
    }
}
