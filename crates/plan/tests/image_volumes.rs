//! Our binaries as image volumes (`BinaryDelivery::ImageVolume`): no container of its own for
//! the setup step, ever, and the same steps in the same containers otherwise.

mod common;

use common::*;
use testwerk_plan::{Action, Plan, SetupCopies};

fn setup_of(p: &Plan) -> (usize, SetupCopies) {
    p.groups
        .iter()
        .enumerate()
        .find_map(|(i, g)| {
            g.iter().find_map(|a| match a {
                Action::Setup(s) => Some((i, *s)),
                _ => None,
            })
        })
        .unwrap_or_else(|| panic!("no setup step: {:?}", p.groups))
}

fn runs_a_step(group: &[Action]) -> bool {
    group.iter().any(|a| matches!(a, Action::Container { .. }))
}

#[test]
fn user_images_lose_the_setup_container_and_link_from_the_volumes() {
    let spec = "steps:\n- container: {image: custom}\n  shell: a\n- container: {image: 'custom:1.2.3'}\n  shell: b";
    let copied = plan(&workflow(spec));
    let mounted = plan_on_volumes(&workflow(spec));
    assert_eq!(copied.groups.len(), 3, "setup + 2 steps when copying");
    assert_eq!(mounted.groups.len(), 2, "2 steps on image volumes");
    assert!(mounted.groups.iter().all(|g| runs_a_step(g)));
    let (group, copies) = setup_of(&mounted);
    assert_eq!(
        group, 0,
        "the setup runs first, in the first step's container"
    );
    assert_eq!(
        copies,
        SetupCopies {
            init: true,
            toolkit: false,
            binaries: true,
            from_volumes: true,
        }
    );
    // The setup comes before the first step's container switch.
    assert!(matches!(mounted.groups[0][0], Action::Setup(_)));
}

#[test]
fn isolated_containers_merge_the_setup_too() {
    let spec = "system: {isolatedContainers: true}\nsteps:\n- container: {image: custom}\n  shell: a\n- shell: b";
    assert_eq!(plan(&workflow(spec)).groups.len(), 3);
    let mounted = plan_on_volumes(&workflow(spec));
    assert_eq!(mounted.groups.len(), 2, "{:?}", mounted.groups);
    assert_eq!(setup_of(&mounted).0, 0);
}

#[test]
fn a_workflow_of_our_images_only_needs_no_volume() {
    let spec = "steps:\n- shell: a\n- shell: b";
    let copied = plan(&workflow(spec));
    let mounted = plan_on_volumes(&workflow(spec));
    assert_eq!(copied.groups.len(), mounted.groups.len());
    assert_eq!(mounted.setup, SetupCopies::default());
    assert!(!mounted.setup.from_volumes);
}

#[test]
fn a_user_image_running_toolkit_operations_gets_the_toolkit_volume() {
    let spec =
        "steps:\n- container: {image: custom}\n  shell: echo\n  artifacts: {paths: ['*.xml']}";
    let mounted = plan_on_volumes(&workflow(spec));
    let copies = mounted.setup;
    assert!(
        copies.toolkit && copies.init && copies.from_volumes,
        "{copies:?}"
    );
    assert_eq!(
        mounted.groups.len(),
        plan(&workflow(spec)).groups.len() - 1,
        "one container fewer"
    );
}
