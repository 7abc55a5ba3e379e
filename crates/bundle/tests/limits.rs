//! Issue 9: big workflows stay within Kubernetes' size limits, or fail to compile naming the
//! limit and the first step that does not fit.

#[path = "../../plan/tests/common/mod.rs"]
mod common;

use common::*;
use k8s_openapi::api::core::v1::Container;
use testwerk_bundle::limits::{Limit, LimitError, Target};
use testwerk_bundle::{Bundle, BundleError, BundleOptions, build};
use testwerk_testinputs::workflows::sequential_steps;

fn try_bundle(spec: &str) -> Result<Bundle, BundleError> {
    build(&plan(&workflow(spec)), &BundleOptions::default())
}

fn too_big(spec: &str) -> LimitError {
    match try_bundle(spec) {
        Err(BundleError::TooBig(e)) => e,
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("it fits"),
    }
}

fn containers(b: &Bundle) -> Vec<Container> {
    let pod = b
        .job
        .spec
        .clone()
        .and_then(|s| s.template.spec)
        .unwrap_or_default();
    pod.init_containers
        .into_iter()
        .flatten()
        .chain(pod.containers)
        .collect()
}

fn annotations(b: &Bundle) -> std::collections::BTreeMap<String, String> {
    b.job
        .spec
        .clone()
        .and_then(|s| s.template.metadata)
        .and_then(|m| m.annotations)
        .unwrap_or_default()
}

fn env_value(c: &Container, name: &str) -> Option<String> {
    c.env
        .iter()
        .flatten()
        .find(|e| e.name == name)
        .and_then(|e| e.value.clone())
}

#[test]
fn a_small_plan_stays_in_the_annotation() {
    let b = try_bundle(&sequential_steps(10, false, "")).unwrap_or_else(|e| panic!("{e}"));
    assert!(annotations(&b).contains_key("testwerk.io/plan"));
    assert!(b.config_maps.is_empty());
}

#[test]
fn ten_thousand_pure_steps_travel_in_a_config_map_within_the_limits() {
    let b = try_bundle(&sequential_steps(10_000, true, "")).unwrap_or_else(|e| panic!("{e}"));
    let a = annotations(&b);
    assert!(!a.contains_key("testwerk.io/plan") && !a.contains_key("testwerk.io/signature"));
    let total: usize = a.iter().map(|(k, v)| k.len() + v.len()).sum();
    assert!(total <= 256 * 1024, "annotations: {total} bytes");
    let cm = b
        .config_maps
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some("dummy-id-abc-plan"))
        .expect("the plan's ConfigMap");
    let data = cm.data.clone().unwrap_or_default();
    let binary = cm.binary_data.clone().unwrap_or_default();
    let size: usize = data.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
        + binary
            .iter()
            .map(|(k, v)| k.len() + v.0.len())
            .sum::<usize>();
    assert!(size <= 1024 * 1024, "ConfigMap: {size} bytes");
    let compressed = &binary.get("plan").expect("the plan").0;
    let json = miniz_oxide::inflate::decompress_to_vec_zlib(compressed).expect("zlib");
    let plan: serde_json::Value = serde_json::from_slice(&json).expect("plan JSON");
    assert_eq!(plan["v"], 2);
    assert!(
        json.len() > 2 * compressed.len(),
        "compressed: {} of {}",
        compressed.len(),
        json.len()
    );
    let signature = binary.get("signature").expect("the signature");
    let signature = miniz_oxide::inflate::decompress_to_vec_zlib(&signature.0).expect("zlib");
    let signature: serde_json::Value = serde_json::from_slice(&signature).expect("signature");
    assert_eq!(signature.as_array().map(Vec::len), Some(10_000));
    // The first container reads it from the mounted file; no variable holds it.
    let cs = containers(&b);
    let first = &cs[0];
    assert_eq!(
        env_value(first, "_01_TW_PLAN_FILE").as_deref(),
        Some("/.testwerk/plan/plan")
    );
    assert!(!first.env.iter().flatten().any(|e| e.name == "_01_TW_PLAN"));
    let mount = first
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.mount_path == "/.testwerk/plan")
        .expect("mounted");
    assert_eq!(mount.read_only, Some(true));
    for c in &cs {
        for e in c.env.iter().flatten() {
            let len = e.name.len() + e.value.as_ref().map_or(0, String::len) + 2;
            assert!(len <= 128 * 1024, "{} of {}", e.name, c.name);
        }
    }
    let job = serde_json::to_vec(&b.job).map_or(0, |v| v.len());
    assert!(job <= 1536 * 1024, "Job: {job} bytes");
}

#[test]
fn too_many_impure_steps_name_the_job_limit_and_the_first_step_over_it() {
    let e = too_big(&sequential_steps(3000, false, ""));
    assert_eq!(e.limit, Limit::Job);
    assert!(e.size > 1536 * 1024, "{e}");
    let (r, name) = e.step.clone().expect("a step");
    let name = name.expect("its name");
    let n: usize = name
        .strip_prefix("Step ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{name}"));
    assert!((100..3000).contains(&n), "{e}");
    let text = e.to_string();
    assert!(text.contains(&r) && text.contains("pure: true"), "{text}");
}

/// 200 steps of 12 KiB random letters (which compress to about 60%): 1.4 MB compressed.
fn noisy_steps() -> String {
    let noise = |i: usize| -> String {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ i as u64;
        (0..12 * 1024)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b'a' + (x % 26) as u8)
            })
            .collect()
    };
    let mut yaml = String::from("system: {pureByDefault: true}\nsteps:\n");
    for i in 0..200 {
        yaml.push_str(&format!("- name: Step {i}\n  shell: echo {}\n", noise(i)));
    }
    yaml
}

#[test]
fn a_plan_over_a_config_map_names_its_limit_and_the_first_step_over_it() {
    let e = too_big(&noisy_steps());
    assert_eq!(e.limit, Limit::PlanConfigMap);
    let name = e.step.clone().and_then(|s| s.1).unwrap_or_default();
    let n: usize = name
        .strip_prefix("Step ")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        (120..165).contains(&n),
        "about 1 MiB / 7.4 KB per step fit: {e}"
    );
    assert!(e.to_string().contains("compressed from"), "{e}");
}

#[test]
fn big_annotations_and_variables_are_refused_by_name() {
    let big = "y".repeat(300 * 1024);
    let e = too_big(&format!(
        "pod:\n  annotations:\n    huge: {big}\nsteps:\n- shell: echo"
    ));
    assert_eq!(e.limit, Limit::Annotations);
    let e = too_big(&format!(
        "steps:\n- name: Loud\n  container:\n    env:\n    - name: BIG\n      value: {}\n  shell: echo",
        "z".repeat(200 * 1024)
    ));
    assert_eq!(e.limit, Limit::EnvValue);
    let text = e.to_string();
    assert!(text.contains("`BIG`") && text.contains("`Loud`"), "{text}");
    assert!(!text.contains("zzzz"), "never the value: {text}");
}

fn try_bundle_for(spec: &str, target: Target) -> Result<Bundle, BundleError> {
    let opts = BundleOptions {
        target,
        ..Default::default()
    };
    build(&plan(&workflow(spec)), &opts)
}

/// Locally no API server or etcd sees the objects: the Job, ConfigMap and annotation limits do
/// not bind, so the same objects are built (the plan still moves to its ConfigMap).
#[test]
fn the_local_target_builds_what_only_the_api_server_would_refuse() {
    let impure = sequential_steps(3000, false, "");
    assert!(matches!(
        try_bundle_for(&impure, Target::Kubernetes),
        Err(BundleError::TooBig(LimitError {
            limit: Limit::Job,
            ..
        }))
    ));
    let local = try_bundle_for(&impure, Target::Local).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(containers(&local).len(), 3000, "one per step");
    assert!(serde_json::to_vec(&local.job).map_or(0, |v| v.len()) > 1536 * 1024);
    assert!(
        local
            .config_maps
            .iter()
            .any(|c| c.metadata.name.as_deref() == Some("dummy-id-abc-plan")),
        "the plan travels as it would on Kubernetes"
    );

    let noisy = try_bundle_for(&noisy_steps(), Target::Local).unwrap_or_else(|e| panic!("{e}"));
    let plan_map = noisy
        .config_maps
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some("dummy-id-abc-plan"))
        .and_then(|c| c.binary_data.clone())
        .unwrap_or_default();
    assert!(plan_map.values().map(|v| v.0.len()).sum::<usize>() > 1024 * 1024);

    let big = "y".repeat(300 * 1024);
    let annotated = format!("pod:\n  annotations:\n    huge: {big}\nsteps:\n- shell: echo");
    assert!(try_bundle_for(&annotated, Target::Local).is_ok());
    assert!(try_bundle_for(&annotated, Target::Kubernetes).is_err());
}

/// The kernel's limit on one environment string binds wherever a container starts.
#[test]
fn the_local_target_keeps_the_kernel_limit_on_one_variable() {
    let spec = format!(
        "steps:\n- name: Loud\n  container:\n    env:\n    - name: BIG\n      value: {}\n  shell: echo",
        "z".repeat(200 * 1024)
    );
    match try_bundle_for(&spec, Target::Local) {
        Err(BundleError::TooBig(e)) => assert_eq!(e.limit, Limit::EnvValue),
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("a 200 KiB variable cannot reach a process"),
    }
}
