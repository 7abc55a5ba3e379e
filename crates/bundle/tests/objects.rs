//! Spec §10.1: the Kubernetes objects of compiled fixtures.

#[path = "../../plan/tests/common/mod.rs"]
mod common;

use common::*;
use k8s_openapi::api::core::v1::{Container, PodSpec};
use testwerk_bundle::{Bundle, BundleOptions, WorkerDefaults, build};

fn bundle_with(spec: &str, opts: &BundleOptions) -> Bundle {
    build(&plan(&workflow(spec)), opts).unwrap_or_else(|e| panic!("bundle: {e}"))
}

fn bundle(spec: &str) -> Bundle {
    bundle_with(spec, &BundleOptions::default())
}

fn pod(b: &Bundle) -> PodSpec {
    b.job
        .spec
        .clone()
        .and_then(|s| s.template.spec)
        .unwrap_or_default()
}

fn env_names(c: &Container) -> Vec<String> {
    c.env.iter().flatten().map(|e| e.name.clone()).collect()
}

fn env_value(c: &Container, name: &str) -> Option<String> {
    c.env
        .iter()
        .flatten()
        .find(|e| e.name == name)
        .and_then(|e| e.value.clone())
}

fn run_as_group(c: &Container) -> Option<i64> {
    c.security_context.as_ref().and_then(|s| s.run_as_group)
}

fn fs_group(p: &PodSpec) -> Option<i64> {
    p.security_context.as_ref().and_then(|s| s.fs_group)
}

#[test]
fn fixture_02_the_job_and_its_single_container() {
    let b = bundle("steps:\n- shell: shell-test");
    assert_eq!(b.job.metadata.name.as_deref(), Some("dummy-id-abc"));
    let labels = b.job.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels.get("testwerk.io/execution").map(String::as_str),
        Some("dummy-id-abc")
    );
    assert_eq!(
        labels.get("testwerk.io/root").map(String::as_str),
        Some("dummy-id")
    );
    let spec = b.job.spec.clone().unwrap_or_default();
    assert_eq!(spec.backoff_limit, Some(0));
    let template_labels = spec
        .template
        .metadata
        .and_then(|m| m.labels)
        .unwrap_or_default();
    assert_eq!(
        template_labels.get("testwerk.io/root").map(String::as_str),
        Some("dummy-id")
    );
    let p = pod(&b);
    assert!(p.init_containers.is_none());
    assert_eq!(p.restart_policy.as_deref(), Some("Never"));
    assert_eq!(p.enable_service_links, Some(false));
    let c = &p.containers[0];
    assert_eq!(c.name, "1");
    assert_eq!(c.image.as_deref(), Some(INIT));
    assert_eq!(c.image_pull_policy.as_deref(), Some("IfNotPresent"));
    assert_eq!(c.command, Some(vec!["/init".to_owned(), "0".to_owned()]));
    let names = env_names(c);
    assert_eq!(names[0], "_0_CI");
    assert_eq!(env_value(c, "_0_CI").as_deref(), Some("1"));
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("_00_") || n.starts_with("_01_") || n.starts_with("_03_"))
            .count(),
        7
    );
    assert_eq!(names.iter().filter(|n| n.starts_with("_04_")).count(), 4);
    assert_eq!(env_value(c, "_05_TW_CONTAINER").as_deref(), Some("1"));
    let mounts: Vec<_> = c
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| m.mount_path.as_str())
        .collect();
    assert_eq!(mounts, ["/.testwerk", "/tmp", "/data", "/testkube"]);
    assert_eq!(
        p.volumes
            .iter()
            .flatten()
            .filter(|v| v.empty_dir.is_some())
            .count(),
        4
    );
    assert_eq!(run_as_group(c), Some(1001));
    assert_eq!(fs_group(&p), Some(1001));
}

#[test]
fn fixture_03_setup_in_an_init_container_and_the_custom_image_as_main() {
    let b = bundle("steps:\n- container: {image: 'custom:1.2.3'}\n  shell: shell-test");
    let p = pod(&b);
    let init = &p.init_containers.clone().unwrap_or_default()[0];
    assert_eq!(init.command, Some(vec!["/init".to_owned(), "0".to_owned()]));
    assert!(
        !env_names(init).contains(&"_0_CI".to_owned()),
        "setup has no user env"
    );
    assert!(env_names(init).contains(&"_01_TW_PLAN".to_owned()));
    let main = &p.containers[0];
    assert_eq!(main.image.as_deref(), Some("custom:1.2.3"));
    assert_eq!(
        main.command,
        Some(vec!["/.testwerk/init".to_owned(), "1".to_owned()])
    );
    assert_eq!(env_value(main, "_0_CI").as_deref(), Some("1"));
    assert_eq!(fs_group(&p), Some(IMAGE_GROUP));
    assert_eq!(run_as_group(main), Some(IMAGE_GROUP));
    assert_eq!(run_as_group(init), Some(IMAGE_GROUP));
}

#[test]
fn fixture_04_disabling_fs_group_defaulting() {
    let b = bundle(
        "pod: {disableFsGroupDefaulting: true}\nsteps:\n- container: {image: 'custom:1.2.3'}\n  shell: shell-test",
    );
    let p = pod(&b);
    assert_eq!(fs_group(&p), None);
    assert_eq!(run_as_group(&p.containers[0]), Some(IMAGE_GROUP));
    assert_eq!(
        run_as_group(&p.init_containers.unwrap_or_default()[0]),
        None
    );
}

#[test]
fn fixture_07_static_env_references_resolve_and_the_rest_is_computed() {
    // Upstream's fixture uses an unknown function `call(abc)`; testwerk refuses unknown
    // functions at compile time (see README), so a runtime-only function stands in for it.
    let b = bundle(
        "steps:\n- container:\n    env:\n    - {name: ZERO, value: foo}\n    - {name: INPUT, value: '{{env.ZERO}}bar'}\n    - {name: UNDETERMINED, value: '{{file(\"abc\")}}xxx'}\n  shell: env",
    );
    let c = &pod(&b).containers[0];
    assert_eq!(env_value(c, "_0_INPUT").as_deref(), Some("foobar"));
    assert_eq!(
        env_value(c, "_0C_UNDETERMINED").as_deref(),
        Some("{{file(\"abc\")}}xxx")
    );
}

#[test]
fn fixture_08_inline_files_share_one_immutable_config_map() {
    for spec in [
        "steps:\n- content:\n    files: [{path: /some/path, content: 'some-{{\"{{\"}}content'}]\n  shell: cat /some/path",
        "content:\n  files: [{path: /some/path, content: 'some-{{\"{{\"}}content'}]\nsteps:\n- shell: cat /some/path",
    ] {
        let b = bundle(spec);
        assert_eq!(b.config_maps.len(), 1);
        let cm = &b.config_maps[0];
        assert_eq!(cm.immutable, Some(true));
        assert!(
            cm.metadata
                .name
                .as_deref()
                .unwrap_or_default()
                .starts_with("dummy-id-abc-")
        );
        assert_eq!(
            cm.data
                .clone()
                .unwrap_or_default()
                .get("0")
                .map(String::as_str),
            Some("some-{{content")
        );
    }
}

#[test]
fn fixture_09_escaped_braces_in_annotations() {
    let b = bundle("pod:\n  annotations: {vault: 'a-{{\"{{\"}}b'}\nsteps:\n- shell: a");
    let ann = b
        .job
        .spec
        .and_then(|s| s.template.metadata)
        .and_then(|m| m.annotations)
        .unwrap_or_default();
    assert_eq!(ann.get("vault").map(String::as_str), Some("a-{{b"));
}

#[test]
fn fixture_10_an_explicit_fs_group_wins_and_reaches_containers() {
    let b = bundle("pod:\n  securityContext: {fsGroup: 2222}\nsteps:\n- shell: a");
    let p = pod(&b);
    assert_eq!(fs_group(&p), Some(2222));
    assert_eq!(run_as_group(&p.containers[0]), Some(2222));
}

#[test]
fn fixture_19_20_21_worker_defaults_apply_only_to_our_containers() {
    let worker = WorkerDefaults {
        default_pull_policy: Some("Always".into()),
        runner_requests: [("cpu".to_owned(), "100m".to_owned())].into(),
        runner_limits: [("memory".to_owned(), "64Mi".to_owned())].into(),
        empty_dir_size_limit: Some("1Gi".into()),
    };
    let opts = BundleOptions {
        worker,
        ..Default::default()
    };
    let b = bundle_with(
        "steps:\n- container: {image: 'custom:1.2.3', imagePullPolicy: Never}\n  shell: a",
        &opts,
    );
    let p = pod(&b);
    let init = &p.init_containers.clone().unwrap_or_default()[0];
    assert_eq!(init.image_pull_policy.as_deref(), Some("Always"));
    assert_eq!(p.containers[0].image_pull_policy.as_deref(), Some("Never"));
    let r = init.resources.clone().unwrap_or_default();
    assert!(r.requests.is_some_and(|m| m.contains_key("cpu")));
    assert!(
        r.limits.is_some_and(|m| m.contains_key("memory")),
        "limits come even without requests"
    );
    assert!(
        p.containers[0].resources.is_none(),
        "user containers keep their own"
    );
    assert!(
        p.volumes
            .iter()
            .flatten()
            .filter_map(|v| v.empty_dir.as_ref())
            .all(|d| d.size_limit.is_some())
    );

    for (worker, message) in [
        (
            WorkerDefaults {
                default_pull_policy: Some("Sometimes".into()),
                ..Default::default()
            },
            "invalid worker default image pull policy \"Sometimes\"",
        ),
        (
            WorkerDefaults {
                runner_requests: [("cpu".to_owned(), "not-valid".to_owned())].into(),
                ..Default::default()
            },
            "invalid worker default runner CPU request \"not-valid\"",
        ),
        (
            WorkerDefaults {
                empty_dir_size_limit: Some("lots".into()),
                ..Default::default()
            },
            "emptyDir size limit",
        ),
    ] {
        let opts = BundleOptions {
            worker,
            ..Default::default()
        };
        let err = build(&plan(&workflow("steps:\n- shell: a")), &opts).expect_err("an error");
        assert!(err.to_string().contains(message), "{err}");
    }
}

#[test]
fn fixture_22_the_workflow_name_label_is_sanitised() {
    let yaml = workflow("steps:\n- shell: a").replace("name: fixture", "name: 'My Workflow/Name'");
    let b = build(&plan(&yaml), &BundleOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let labels = b.job.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels.get("testwerk.io/workflow").map(String::as_str),
        Some("My-Workflow-Name")
    );
}

#[test]
fn fixture_23_a_spec_level_security_context_reaches_every_container() {
    let b = bundle(
        "container:\n  securityContext: {runAsNonRoot: true, runAsUser: 1000, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}\nsteps:\n- container: {image: 'custom:1.2.3'}\n  shell: a",
    );
    let p = pod(&b);
    for c in p.init_containers.iter().flatten().chain(&p.containers) {
        let s = c.security_context.clone().unwrap_or_default();
        assert_eq!(s.run_as_non_root, Some(true), "container {}", c.name);
        assert_eq!(s.run_as_user, Some(1000));
        assert_eq!(s.read_only_root_filesystem, Some(true));
        assert_eq!(s.allow_privilege_escalation, Some(false));
    }
}

#[test]
fn fixture_24_secret_calls_become_masked_env_on_every_container() {
    let p = plan(&workflow(
        "steps:\n- container:\n    env: [{name: TOKEN, value: '{{secret(\"name\", \"key\")}}'}]\n  shell: a\n- container: {image: custom}\n  shell: b",
    ));
    let b = build(&p, &BundleOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let pod = pod(&b);
    for c in pod.init_containers.iter().flatten().chain(&pod.containers) {
        let var = c.env.iter().flatten().find(|e| e.name == "_02S_name_K_key");
        let selector = var
            .and_then(|v| v.value_from.clone())
            .and_then(|f| f.secret_key_ref);
        assert_eq!(
            selector.map(|s| (s.name, s.key, s.optional)),
            Some(("name".into(), "key".into(), Some(true))),
            "container {}",
            c.name
        );
    }
    let first = &pod.init_containers.clone().unwrap_or_default()[0];
    let token = first
        .env
        .iter()
        .flatten()
        .find(|e| e.name.ends_with("_TOKEN"));
    assert_eq!(
        token.and_then(|t| t.value.clone()).as_deref(),
        Some("{{env.name_K_key}}")
    );
    assert!(
        token.is_some_and(|t| t.name.starts_with("_0C_")),
        "computed at runtime"
    );
}

#[test]
fn an_unknown_function_is_refused_with_a_suggestion() {
    let err = try_plan(&workflow("steps:\n- shell: echo {{tojsn(1)}}")).expect_err("an error");
    assert_eq!(err.path, "spec.steps[0].shell");
    assert_eq!(err.message, "unknown function `tojsn`");
    assert_eq!(err.help.as_deref(), Some("did you mean `tojson`?"));
}

#[test]
fn fixture_25_the_empty_dir_size_limit_never_overrides_an_explicit_one() {
    let worker = WorkerDefaults {
        empty_dir_size_limit: Some("1Gi".into()),
        ..Default::default()
    };
    let opts = BundleOptions {
        worker,
        ..Default::default()
    };
    let b = bundle_with(
        "pod:\n  volumes:\n  - name: mine\n    emptyDir: {sizeLimit: 5Mi}\n  - name: open\n    emptyDir: {}\nsteps:\n- shell: a",
        &opts,
    );
    let limit = |name: &str| {
        pod(&b)
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == name)
            .and_then(|v| v.empty_dir.clone())
            .and_then(|d| d.size_limit)
            .map(|q| q.0)
    };
    assert_eq!(limit("mine").as_deref(), Some("5Mi"));
    assert_eq!(limit("open").as_deref(), Some("1Gi"));
    assert_eq!(limit("tw-data").as_deref(), Some("1Gi"));
}

#[test]
fn on_image_volumes_every_container_mounts_our_image_and_none_copies_it() {
    let spec = "steps:\n- container: {image: custom}\n  shell: a\n- container: {image: 'custom:1.2.3'}\n  shell: b\n  artifacts: {paths: ['*.xml']}";
    let b = build(&plan_on_volumes(&workflow(spec)), &BundleOptions::default())
        .unwrap_or_else(|e| panic!("bundle: {e}"));
    let p = pod(&b);
    let images: Vec<(String, Option<String>, Option<String>)> = p
        .volumes
        .iter()
        .flatten()
        .filter_map(|v| {
            let i = v.image.as_ref()?;
            Some((v.name.clone(), i.reference.clone(), i.pull_policy.clone()))
        })
        .collect();
    assert_eq!(
        images,
        [
            (
                "tw-init-image".to_owned(),
                Some(INIT.to_owned()),
                Some("IfNotPresent".to_owned())
            ),
            (
                "tw-toolkit-image".to_owned(),
                Some(TOOLKIT.to_owned()),
                Some("IfNotPresent".to_owned())
            ),
        ]
    );
    let containers: Vec<&Container> = p
        .init_containers
        .iter()
        .flatten()
        .chain(p.containers.iter())
        .collect();
    assert_eq!(containers.len(), 2, "no setup container");
    for c in &containers {
        let command = c.command.clone().unwrap_or_default();
        assert_eq!(command[0], "/.testwerk-init/init", "{}", c.name);
        for (name, path) in [
            ("tw-init-image", "/.testwerk-init"),
            ("tw-toolkit-image", "/.testwerk-toolkit"),
        ] {
            let m = c
                .volume_mounts
                .iter()
                .flatten()
                .find(|m| m.name == name)
                .unwrap_or_else(|| panic!("{} does not mount {name}", c.name));
            assert_eq!((m.mount_path.as_str(), m.read_only), (path, Some(true)));
        }
    }
}

#[test]
fn copying_mounts_no_image() {
    let b = bundle("steps:\n- container: {image: custom}\n  shell: a");
    let p = pod(&b);
    assert!(p.volumes.iter().flatten().all(|v| v.image.is_none()));
    let first = &p.init_containers.clone().unwrap_or_default()[0];
    assert_eq!(first.command.clone().unwrap_or_default()[0], "/init");
    assert_eq!(
        p.containers[0].command.clone().unwrap_or_default()[0],
        "/.testwerk/init"
    );
}
