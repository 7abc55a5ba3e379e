//! Spec §10.1–§10.2: how steps become actions and containers.
//! Refs are deterministic here, but the tests find them through the signature, as a reader would.

mod common;

use common::*;
use testwerk_plan::Action;

#[test]
fn fixture_01_an_empty_workflow_has_nothing_to_run() {
    let err = try_plan(&workflow("{}")).expect_err("an error");
    assert!(err.message.contains("has nothing to run"), "{err}");
}

#[test]
fn fixture_02_one_shell_step_is_one_container_with_this_exact_program() {
    let p = plan(&workflow("steps:\n- shell: shell-test"));
    let s = &step_refs(&p)[0];
    let expected: Vec<String> = [
        r#"{"_":{}}"#.to_owned(),
        r#"{"d":{"c":"true","r":"root"}}"#.to_owned(),
        format!(r#"{{"d":{{"c":"true","r":"{s}","p":["root"]}}}}"#),
        format!(r#"{{"r":{{"r":"root","v":"{s}"}}}}"#),
        r#"{"r":{"r":"","v":"root"}}"#.to_owned(),
        r#"{"S":""}"#.to_owned(),
        r#"{"S":"root"}"#.to_owned(),
        format!(r#"{{"c":{{"r":"{s}","c":{{"command":["/.testwerk-bin/sh"],"args":["-c","set -e\nshell-test"]}}}}}}"#),
        format!(r#"{{"S":"{s}"}}"#),
        format!(r#"{{"e":{{"r":"{s}"}}}}"#),
        format!(r#"{{"E":"{s}"}}"#),
        r#"{"E":"root"}"#.to_owned(),
        r#"{"E":""}"#.to_owned(),
    ]
    .into();
    assert_eq!(wire(&p), vec![expected]);
}

#[test]
fn fixture_03_a_custom_image_gets_its_own_container_and_the_copied_shell() {
    let p = plan(&workflow(
        "steps:\n- container: {image: 'custom:1.2.3'}\n  shell: shell-test",
    ));
    assert_eq!(p.groups.len(), 2);
    assert!(p.setup.init && p.setup.binaries && !p.setup.toolkit);
    let s = &step_refs(&p)[0];
    assert_eq!(
        command_of(&p, s).unwrap_or_default()[0],
        "/.testwerk/bin/sh"
    );
    assert!(matches!(p.groups[0][0], Action::Setup(_)));
    assert!(
        !p.groups[0]
            .iter()
            .any(|a| matches!(a, Action::Execute { .. }))
    );
}

#[test]
fn fixture_05_two_plain_shell_steps_are_two_containers() {
    let p = plan(&workflow("steps:\n- shell: a\n- shell: b"));
    let refs = step_refs(&p);
    assert_eq!(p.groups.len(), 2);
    assert_eq!(declared(&p, &refs[1]).map(|d| d.0), Some(refs[0].clone()));
    assert_eq!(
        result_of(&p, "root"),
        Some(format!("{}&&{}", refs[0], refs[1]))
    );
    // Upstream's "current status after step 1" (`ref1&&root`) is not written into the plan:
    // `init` derives it from the start and end of each step (plan format 2).
    assert_eq!(p.wire().version, 2);
}

#[test]
fn fixture_06_named_nested_groups_keep_their_structure() {
    let p = plan(&workflow(
        "steps:\n- {name: A, shell: a}\n- name: B\n  steps:\n  - {name: C, shell: c}\n  - {name: D, shell: d}\n- {name: E, shell: e}",
    ));
    assert_eq!(p.groups.len(), 4);
    let names: Vec<_> = p
        .signature
        .iter()
        .map(|s| s.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(names, ["A", "B", "E"]);
    let b = &p.signature[1];
    let children: Vec<_> = b
        .children
        .iter()
        .map(|c| c.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(children, ["C", "D"]);
    let (c, d) = (&b.children[0].r#ref, &b.children[1].r#ref);
    assert_eq!(result_of(&p, &b.r#ref), Some(format!("{c}&&{d}")));
    let refs = step_refs(&p);
    assert_eq!(result_of(&p, "root"), Some(refs.join("&&")));
    assert_eq!(
        declared(&p, c).map(|d| d.1),
        Some(vec!["root".to_owned(), b.r#ref.clone()])
    );
}

#[test]
fn fixture_11_isolated_containers_keep_setup_alone_and_always_runs() {
    let p = plan(&workflow(
        "system: {isolatedContainers: true}\nsteps:\n- shell: a\n- condition: always\n  shell: b",
    ));
    assert_eq!(p.groups.len(), 3);
    assert_eq!(
        declared(&p, &step_refs(&p)[1]).map(|d| d.0).as_deref(),
        Some("true")
    );
}

#[test]
fn fixture_12_a_group_condition_does_not_override_the_childs_default() {
    let p = plan(&workflow(
        "system: {isolatedContainers: true}\nsteps:\n- shell: a\n- condition: always\n  steps:\n  - shell: b",
    ));
    let refs = step_refs(&p);
    assert_eq!(declared(&p, &refs[1]).map(|d| d.0), Some(refs[0].clone()));
}

#[test]
fn fixture_13_an_unnamed_group_appears_only_in_the_full_signature() {
    let p = plan(&workflow(
        "system: {isolatedContainers: true}\nsteps:\n- condition: always\n  run: {shell: a}\n  shell: b",
    ));
    assert_eq!(p.signature.len(), 2, "inlined: {:?}", p.signature);
    assert_eq!(p.full_signature.len(), 1);
    let group = &p.full_signature[0];
    for child in &group.children {
        let (condition, parents) = declared(&p, &child.r#ref).unwrap_or_default();
        assert_eq!(condition, "true");
        assert!(parents.contains(&group.r#ref));
    }
}

#[test]
fn fixture_14_never_skips_statically() {
    let p = plan(&workflow(
        "steps:\n- name: G\n  steps:\n  - {condition: never, shell: a}\n  - {condition: never, shell: b}",
    ));
    let g = &p.signature[0];
    for child in &g.children {
        assert_eq!(
            declared(&p, &child.r#ref).map(|d| d.0).as_deref(),
            Some("false")
        );
    }
    assert!(executes(&p).is_empty());
    assert!(
        !p.groups
            .iter()
            .flatten()
            .any(|a| matches!(a, Action::Container { .. }))
    );
    assert_eq!(result_of(&p, &g.r#ref).as_deref(), Some("true"));
    assert_eq!(p.groups.len(), 1);
}

#[test]
fn fixture_15_pure_steps_merge_into_the_custom_container() {
    let p = plan(&workflow(
        "steps:\n- pure: true\n  container: {image: custom}\n  shell: a\n- pure: true\n  shell: b",
    ));
    assert_eq!(p.groups.len(), 2, "setup + one main container");
    let refs = step_refs(&p);
    assert!(
        executes(&p).iter().all(|e| e.3),
        "both pure: {:?}",
        executes(&p)
    );
    for r in &refs {
        assert_eq!(
            command_of(&p, r).unwrap_or_default()[0],
            "/.testwerk/bin/sh"
        );
    }
    assert_eq!(
        p.groups[1]
            .iter()
            .filter(|a| matches!(a, Action::Execute { .. }))
            .count(),
        2
    );
}

#[test]
fn fixture_16_a_delay_merges_into_the_next_container() {
    let p = plan(&workflow(
        "steps:\n- delay: 1s\n- container: {image: 'custom-image:1.2.3'}\n  shell: a",
    ));
    assert_eq!(p.groups.len(), 2, "setup + one main container");
    let delay = &step_refs(&p)[0];
    assert_eq!(
        command_of(&p, delay),
        Some(vec!["sleep".to_owned(), "1".to_owned()])
    );
    assert_eq!(
        p.groups[1]
            .iter()
            .filter(|a| matches!(a, Action::Execute { .. }))
            .count(),
        2
    );
}

#[test]
fn fixture_17_a_step_condition_is_pushed_to_each_operation() {
    let p = plan(&workflow(
        "container:\n  env: [{name: TEST, value: 'true'}]\nsteps:\n- condition: env.TEST\n  shell: echo\n  artifacts: {paths: ['*.xml']}",
    ));
    let declares: Vec<_> = p
        .groups
        .iter()
        .flatten()
        .filter_map(|a| match a {
            Action::Declare {
                r#ref, condition, ..
            } => Some((r#ref.clone(), condition.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(declares.len(), 4, "{declares:?}");
    assert_eq!(declares[0].1, "true");
    assert_eq!(declares[1].1, "true");
    assert!(
        declares[2].1.contains("env.TEST") && declares[3].1.contains("env.TEST"),
        "{declares:?}"
    );
    let group = &declares[1].0;
    let flat: Vec<&Action> = p.groups.iter().flatten().collect();
    let start = flat
        .iter()
        .position(|a| matches!(a, Action::Start(r) if r == group));
    let first_container = flat
        .iter()
        .position(|a| matches!(a, Action::Container { .. }));
    assert!(
        start < first_container,
        "group starts before its first container transition"
    );
}

#[test]
fn fixture_26_parallel_compiles_to_a_toolkit_stage() {
    // Upstream's open-source preset refuses `parallel`; testwerk compiles it (see README).
    let p = plan(&workflow(
        "steps:\n- parallel:\n    count: 2\n    shell: echo hi",
    ));
    let e = executes(&p);
    assert_eq!(e.len(), 1);
    assert!(e[0].2, "runs in the toolkit");
    let cmd = command_of(&p, &e[0].0).unwrap_or_default();
    assert_eq!(&cmd[..2], ["/toolkit", "parallel"]);
}

#[test]
fn fixture_27_a_tarball_outside_any_volume_must_be_mounted() {
    let err = try_plan(&workflow(
        "steps:\n- content:\n    tarball: [{path: /x, url: 'http://u', mount: false}]\n  shell: ls",
    ))
    .expect_err("an error");
    assert!(
        err.message
            .contains("content.tarball[0]: /x: is not part of any volume: should be mounted"),
        "{err}"
    );
}

#[test]
fn fixture_30_git_clones_in_the_toolkit_into_a_shared_volume() {
    let alone = plan(&workflow(
        "steps:\n- content:\n    git: {uri: 'https://example.com/r.git'}",
    ));
    let clone = &executes(&alone)[0].0;
    assert_eq!(
        command_of(&alone, clone),
        Some(vec![
            "/toolkit".into(),
            "clone".into(),
            "https://example.com/r.git".into(),
            "/data/repo".into()
        ])
    );
    let p = plan(&workflow(
        "content:\n  git: {uri: 'https://example.com/r.git'}\nsteps:\n- shell: ls /data/repo",
    ));
    let e = executes(&p);
    let (clone, _, toolkit, pure) = &e[0];
    assert!(*toolkit && !*pure, "cloning is never merged away");
    let config = p.groups.iter().flatten().find_map(|a| match a {
        Action::Container { r#ref, config } if r#ref == &e[1].0 => Some(config.clone()),
        _ => None,
    });
    let mounts = config.map(|c| c.volume_mounts).unwrap_or_default();
    assert!(
        mounts.iter().any(|m| m.mount_path == "/data/repo"),
        "sibling sees the clone"
    );
    let clone_dir = p.groups.iter().flatten().find_map(|a| match a {
        Action::Container { r#ref, config } if r#ref == clone => config.working_dir.clone(),
        _ => None,
    });
    assert_eq!(clone_dir.as_deref(), Some("/"));
}

#[test]
fn fixture_31_negative_steps_and_groups() {
    let p = plan(&workflow("steps:\n- negative: true\n  shell: exit 1"));
    assert!(executes(&p)[0].1);
    let p = plan(&workflow(
        "steps:\n- name: G\n  negative: true\n  steps:\n  - shell: a\n  - shell: b",
    ));
    let g = &p.signature[0];
    let (a, b) = (&g.children[0].r#ref, &g.children[1].r#ref);
    assert_eq!(result_of(&p, &g.r#ref), Some(format!("!{a}||!{b}")));
}

#[test]
fn fixture_32_an_optional_step_does_not_block_the_next() {
    let p = plan(&workflow(
        "steps:\n- optional: true\n  shell: a\n- shell: b",
    ));
    let refs = step_refs(&p);
    assert_eq!(declared(&p, &refs[1]).map(|d| d.0).as_deref(), Some("true"));
    assert_eq!(result_of(&p, "root"), Some(refs[1].clone()));
}

#[test]
fn fixture_33_an_optional_group_does_not_fail_the_workflow() {
    let p = plan(&workflow(
        "steps:\n- name: G\n  optional: true\n  steps:\n  - shell: a\n  - shell: b",
    ));
    assert_eq!(result_of(&p, "root").as_deref(), Some("true"));
}

#[test]
fn fixture_34_a_false_condition_leaves_only_start_and_end() {
    let p = plan(&workflow(
        "steps:\n- condition: 'false'\n  shell: a\n- shell: b",
    ));
    let refs = step_refs(&p);
    let of_first: Vec<&Action> = p
        .groups
        .iter()
        .flatten()
        .filter(|a| a.step_ref() == Some(refs[0].as_str()))
        .collect();
    assert!(
        of_first.iter().all(|a| matches!(
            a,
            Action::Start(_) | Action::End(_) | Action::Declare { .. }
        )),
        "{of_first:?}"
    );
    assert_eq!(declared(&p, &refs[1]).map(|d| d.0).as_deref(), Some("true"));
}

#[test]
fn fixture_35_a_paused_step_declares_its_pause_up_front() {
    let p = plan(&workflow("steps:\n- paused: true\n  shell: a"));
    let flat: Vec<&Action> = p.groups.iter().flatten().collect();
    let pause = flat
        .iter()
        .position(|a| matches!(a, Action::Pause { .. }))
        .expect("a pause");
    let last_declare = flat
        .iter()
        .rposition(|a| matches!(a, Action::Declare { .. }))
        .unwrap_or(0);
    let first_start = flat
        .iter()
        .position(|a| matches!(a, Action::Start(_)))
        .unwrap_or(usize::MAX);
    assert!(last_declare < pause && pause < first_start);
}

#[test]
fn fixture_36_setup_takes_the_bookkeeping_and_each_container_starts_at_its_transition() {
    let p = plan(&workflow(
        "steps:\n- container: {image: custom}\n  shell: a\n- container: {image: 'custom:1.2.3'}\n  shell: b",
    ));
    assert_eq!(p.groups.len(), 3);
    assert!(matches!(p.groups[0][0], Action::Setup(s) if s.init && s.binaries));
    assert!(
        !p.groups[0]
            .iter()
            .any(|a| matches!(a, Action::Container { .. }))
    );
    for g in &p.groups[1..] {
        assert!(matches!(g[0], Action::Container { .. }), "{g:?}");
    }
}
