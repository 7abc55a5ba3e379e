//! Generated workflows for the scale tests and benchmarks: one shape, written once, so that
//! the plan, bundle, pipeline and local-run tests and the `plan_scale` benchmark measure the
//! same thing.

/// The `spec:` body of `n` sequential shell steps: step `i` is named `Step {i}` and runs
/// `echo {i}{script}` (`script` is appended as is, e.g. to make each step bigger). With
/// `pure`, `system.pureByDefault` lets them share one container; without it each is a
/// container of its own, as Kubernetes runs impure steps.
pub fn sequential_steps(n: usize, pure: bool, script: &str) -> String {
    let mut yaml = String::with_capacity(n * (32 + script.len()));
    if pure {
        yaml.push_str("system: {pureByDefault: true}\n");
    }
    yaml.push_str("steps:\n");
    for i in 0..n {
        yaml.push_str(&format!("- name: Step {i}\n  shell: echo {i}{script}\n"));
    }
    yaml
}

/// A whole `TestWorkflow` document named `name` around a `spec:` body.
pub fn document(name: &str, spec: &str) -> String {
    let mut yaml = format!(
        "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata:\n  name: {name}\nspec:\n"
    );
    for line in spec.lines() {
        yaml.push_str("  ");
        yaml.push_str(line);
        yaml.push('\n');
    }
    yaml
}

/// The line (1-based) at which step `i` of [`sequential_steps`] stands in its [`document`]:
/// five header lines, the `system` line when pure, `steps:`, then two lines a step.
pub fn step_line(i: usize, pure: bool) -> usize {
    5 + usize::from(pure) + 1 + 2 * i + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_lines_point_at_the_steps() {
        for pure in [false, true] {
            let doc = document("w", &sequential_steps(3, pure, " x"));
            let lines: Vec<&str> = doc.lines().collect();
            for i in 0..3 {
                assert_eq!(
                    lines[step_line(i, pure) - 1],
                    format!("  - name: Step {i}"),
                    "{doc}"
                );
            }
            assert!(doc.contains("    shell: echo 2 x\n"), "{doc}");
        }
    }
}
