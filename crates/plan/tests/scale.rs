//! Issue 9: plans grow linearly with the number of steps (upstream's grew quadratically: each
//! step's condition and current-status chain named every earlier step).

mod common;

use common::*;
use testwerk_plan::{Action, EARLIER_PASSED, Plan};
use testwerk_testinputs::workflows::sequential_steps;

/// `n` sequential shell steps named `Step {i}`.
fn steps(n: usize, pure: bool) -> String {
    sequential_steps(n, pure, "")
}

fn wire_size(p: &Plan) -> usize {
    serde_json::to_vec(&p.wire()).map_or(0, |v| v.len())
}

fn condition_of(p: &Plan, r: &str) -> Option<String> {
    declared(p, r).map(|d| d.0)
}

#[test]
fn the_plan_grows_linearly_with_sequential_steps() {
    for pure in [false, true] {
        let (small, large) = (
            plan(&workflow(&steps(500, pure))),
            plan(&workflow(&steps(1000, pure))),
        );
        let (a, b) = (wire_size(&small), wire_size(&large));
        assert!(
            (b as f64) < 2.2 * a as f64,
            "pure={pure}: 500 steps {a} bytes, 1000 steps {b} bytes"
        );
        // And each step costs a small constant: no action names every earlier step.
        assert!(b / 1000 < 300, "pure={pure}: {} bytes per step", b / 1000);
        assert_eq!(large.groups.len(), if pure { 1 } else { 1000 });
    }
}

#[test]
fn nested_groups_grow_linearly_too() {
    let nested = |n: usize| {
        let mut yaml = String::from("steps:\n");
        for g in 0..n / 10 {
            yaml.push_str(&format!("- name: Group {g}\n  steps:\n"));
            for i in 0..10 {
                yaml.push_str(&format!("  - shell: echo {g}.{i}\n    pure: true\n"));
            }
        }
        wire_size(&plan(&workflow(&yaml)))
    };
    let (a, b) = (nested(500), nested(1000));
    assert!((b as f64) < 2.2 * a as f64, "{a} then {b}");
}

#[test]
fn passed_names_few_refs_and_then_the_runtime_variable() {
    let p = plan(&workflow(&steps(20, false)));
    let refs = step_refs(&p);
    // Step 2 runs when step 1 passed: upstream's form (spec §10 fixture 5).
    assert_eq!(condition_of(&p, &refs[1]), Some(refs[0].clone()));
    // Up to eight refs are written out, nearest first, as upstream's chain lists them.
    let eight: Vec<&str> = refs[..8].iter().rev().map(String::as_str).collect();
    assert_eq!(condition_of(&p, &refs[8]), Some(eight.join("&&")));
    // Past that, a condition stays the same size: `init` keeps the chain.
    assert_eq!(condition_of(&p, &refs[9]).as_deref(), Some(EARLIER_PASSED));
    assert_eq!(condition_of(&p, &refs[19]).as_deref(), Some(EARLIER_PASSED));
}

#[test]
fn failed_and_optional_steps_fold_the_same_way_at_scale() {
    let mut yaml = steps(12, true);
    yaml.push_str("- name: Cleanup\n  condition: failed\n  shell: echo cleanup\n");
    yaml.push_str("- name: Optional\n  optional: true\n  shell: exit 1\n");
    yaml.push_str("- name: Last\n  shell: echo last\n");
    let p = plan(&workflow(&yaml));
    let refs = step_refs(&p);
    assert_eq!(
        condition_of(&p, &refs[12]),
        Some(format!("!{EARLIER_PASSED}"))
    );
    let optional =
        p.groups.iter().flatten().any(
            |a| matches!(a, Action::Declare { r#ref, optional: true, .. } if *r#ref == refs[13]),
        );
    assert!(optional, "the optional flag reaches the plan");
    assert_eq!(condition_of(&p, &refs[14]).as_deref(), Some(EARLIER_PASSED));
    // The root's result still names its required children: one action, linear in their number.
    let root = result_of(&p, "root").unwrap_or_default();
    assert!(
        !root.contains(&refs[13]),
        "optional steps do not count: {root}"
    );
}
