//! Merge rules for putting a template's settings under a workflow's or a step's own.
//!
//! Every function takes `base` (what the template brings) and `over` (what the workflow or step
//! says itself) and returns the combination; `over` wins wherever both set a scalar. Lists are
//! appended `base` then `over`, maps merged key-wise with `over` winning. The few exceptions
//! (env de-duplication, image/command/args, `resourceClaims`, concurrency) are upstream
//! behaviour that workflows rely on, and are called out where they happen.

use indexmap::IndexMap;
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, NodeAffinity, NodeSelector, PodAffinity, PodAntiAffinity, PodDNSConfig,
    SELinuxOptions, WindowsSecurityContextOptions,
};
use testwerk_spec::{
    Concurrency, ContainerConfig, Content, EnvVar, ExecutionDefaults, JobConfig, PodConfig,
    PodSecurityContext, Resources, SecurityContext, SystemConfig, Timeouts,
};

/// Combines two optional values: either alone is taken as is, both go through `merge`.
pub fn option<T>(base: Option<T>, over: Option<T>, merge: impl FnOnce(T, T) -> T) -> Option<T> {
    match (base, over) {
        (None, over) => over,
        (base, None) => base,
        (Some(base), Some(over)) => Some(merge(base, over)),
    }
}

/// `over` when set, else `base` (a scalar or pointer field).
fn pick<T>(base: Option<T>, over: Option<T>) -> Option<T> {
    over.or(base)
}

/// Key-wise merge, `over` winning; keys keep the position they first appeared at.
pub fn map<K: std::hash::Hash + Eq, V>(
    mut base: IndexMap<K, V>,
    over: IndexMap<K, V>,
) -> IndexMap<K, V> {
    base.extend(over);
    base
}

fn append<T>(mut base: Vec<T>, over: Vec<T>) -> Vec<T> {
    base.extend(over);
    base
}

fn append_opt<T>(base: Option<Vec<T>>, over: Option<Vec<T>>) -> Option<Vec<T>> {
    option(base, over, append)
}

/// Appends without repeating an entry already present (capability names).
fn union_opt(base: Option<Vec<String>>, over: Option<Vec<String>>) -> Option<Vec<String>> {
    option(base, over, |mut base, over| {
        for item in over {
            if !base.contains(&item) {
                base.push(item);
            }
        }
        base
    })
}

pub fn pod(base: PodConfig, over: PodConfig) -> PodConfig {
    PodConfig {
        service_account_name: pick(base.service_account_name, over.service_account_name),
        image_pull_secrets: append(base.image_pull_secrets, over.image_pull_secrets),
        node_selector: map(base.node_selector, over.node_selector),
        labels: map(base.labels, over.labels),
        annotations: map(base.annotations, over.annotations),
        volumes: append(base.volumes, over.volumes),
        active_deadline_seconds: pick(base.active_deadline_seconds, over.active_deadline_seconds),
        dns_policy: pick(base.dns_policy, over.dns_policy),
        node_name: pick(base.node_name, over.node_name),
        security_context: option(base.security_context, over.security_context, pod_security),
        disable_fs_group_defaulting: pick(
            base.disable_fs_group_defaulting,
            over.disable_fs_group_defaulting,
        ),
        hostname: pick(base.hostname, over.hostname),
        subdomain: pick(base.subdomain, over.subdomain),
        affinity: option(base.affinity, over.affinity, affinity),
        tolerations: append(base.tolerations, over.tolerations),
        host_aliases: append(base.host_aliases, over.host_aliases),
        priority_class_name: pick(base.priority_class_name, over.priority_class_name),
        priority: pick(base.priority, over.priority),
        dns_config: option(base.dns_config, over.dns_config, dns_config),
        preemption_policy: pick(base.preemption_policy, over.preemption_policy),
        topology_spread_constraints: append(
            base.topology_spread_constraints,
            over.topology_spread_constraints,
        ),
        scheduling_gates: append(base.scheduling_gates, over.scheduling_gates),
        // Upstream quirk kept on purpose: resource claims go the other way round.
        resource_claims: append(over.resource_claims, base.resource_claims),
        host_pid: pick(base.host_pid, over.host_pid),
    }
}

pub fn job(base: JobConfig, over: JobConfig) -> JobConfig {
    JobConfig {
        labels: map(base.labels, over.labels),
        annotations: map(base.annotations, over.annotations),
        namespace: pick(base.namespace, over.namespace),
        active_deadline_seconds: pick(base.active_deadline_seconds, over.active_deadline_seconds),
    }
}

fn dns_config(base: PodDNSConfig, over: PodDNSConfig) -> PodDNSConfig {
    PodDNSConfig {
        nameservers: append_opt(base.nameservers, over.nameservers),
        options: append_opt(base.options, over.options),
        searches: append_opt(base.searches, over.searches),
    }
}

fn affinity(base: Affinity, over: Affinity) -> Affinity {
    Affinity {
        node_affinity: option(base.node_affinity, over.node_affinity, |b, o| {
            NodeAffinity {
                preferred_during_scheduling_ignored_during_execution: append_opt(
                    b.preferred_during_scheduling_ignored_during_execution,
                    o.preferred_during_scheduling_ignored_during_execution,
                ),
                required_during_scheduling_ignored_during_execution: option(
                    b.required_during_scheduling_ignored_during_execution,
                    o.required_during_scheduling_ignored_during_execution,
                    |b, o| NodeSelector {
                        node_selector_terms: append(b.node_selector_terms, o.node_selector_terms),
                    },
                ),
            }
        }),
        pod_affinity: option(base.pod_affinity, over.pod_affinity, |b, o| PodAffinity {
            preferred_during_scheduling_ignored_during_execution: append_opt(
                b.preferred_during_scheduling_ignored_during_execution,
                o.preferred_during_scheduling_ignored_during_execution,
            ),
            required_during_scheduling_ignored_during_execution: append_opt(
                b.required_during_scheduling_ignored_during_execution,
                o.required_during_scheduling_ignored_during_execution,
            ),
        }),
        pod_anti_affinity: option(base.pod_anti_affinity, over.pod_anti_affinity, |b, o| {
            PodAntiAffinity {
                preferred_during_scheduling_ignored_during_execution: append_opt(
                    b.preferred_during_scheduling_ignored_during_execution,
                    o.preferred_during_scheduling_ignored_during_execution,
                ),
                required_during_scheduling_ignored_during_execution: append_opt(
                    b.required_during_scheduling_ignored_during_execution,
                    o.required_during_scheduling_ignored_during_execution,
                ),
            }
        }),
    }
}

fn se_linux(base: SELinuxOptions, over: SELinuxOptions) -> SELinuxOptions {
    SELinuxOptions {
        level: pick(base.level, over.level),
        role: pick(base.role, over.role),
        type_: pick(base.type_, over.type_),
        user: pick(base.user, over.user),
    }
}

fn windows(
    base: WindowsSecurityContextOptions,
    over: WindowsSecurityContextOptions,
) -> WindowsSecurityContextOptions {
    WindowsSecurityContextOptions {
        gmsa_credential_spec: pick(base.gmsa_credential_spec, over.gmsa_credential_spec),
        gmsa_credential_spec_name: pick(
            base.gmsa_credential_spec_name,
            over.gmsa_credential_spec_name,
        ),
        host_process: pick(base.host_process, over.host_process),
        run_as_user_name: pick(base.run_as_user_name, over.run_as_user_name),
    }
}

fn pod_security(base: PodSecurityContext, over: PodSecurityContext) -> PodSecurityContext {
    PodSecurityContext {
        app_armor_profile: pick(base.app_armor_profile, over.app_armor_profile),
        fs_group: pick(base.fs_group, over.fs_group),
        fs_group_change_policy: pick(base.fs_group_change_policy, over.fs_group_change_policy),
        run_as_group: pick(base.run_as_group, over.run_as_group),
        run_as_non_root: pick(base.run_as_non_root, over.run_as_non_root),
        run_as_user: pick(base.run_as_user, over.run_as_user),
        se_linux_change_policy: pick(base.se_linux_change_policy, over.se_linux_change_policy),
        se_linux_options: option(base.se_linux_options, over.se_linux_options, se_linux),
        seccomp_profile: pick(base.seccomp_profile, over.seccomp_profile),
        supplemental_groups: append(base.supplemental_groups, over.supplemental_groups),
        supplemental_groups_policy: pick(
            base.supplemental_groups_policy,
            over.supplemental_groups_policy,
        ),
        sysctls: append(base.sysctls, over.sysctls),
        windows_options: option(base.windows_options, over.windows_options, windows),
    }
}

/// Field-wise; capabilities are unioned so that a template dropping `ALL` and a step adding
/// `NET_ADMIN` both survive.
pub fn security(base: SecurityContext, over: SecurityContext) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: pick(
            base.allow_privilege_escalation,
            over.allow_privilege_escalation,
        ),
        app_armor_profile: pick(base.app_armor_profile, over.app_armor_profile),
        capabilities: option(base.capabilities, over.capabilities, |b, o| Capabilities {
            add: union_opt(b.add, o.add),
            drop: union_opt(b.drop, o.drop),
        }),
        privileged: pick(base.privileged, over.privileged),
        proc_mount: pick(base.proc_mount, over.proc_mount),
        read_only_root_filesystem: pick(
            base.read_only_root_filesystem,
            over.read_only_root_filesystem,
        ),
        run_as_group: pick(base.run_as_group, over.run_as_group),
        run_as_non_root: pick(base.run_as_non_root, over.run_as_non_root),
        run_as_user: pick(base.run_as_user, over.run_as_user),
        se_linux_options: option(base.se_linux_options, over.se_linux_options, se_linux),
        seccomp_profile: pick(base.seccomp_profile, over.seccomp_profile),
        windows_options: option(base.windows_options, over.windows_options, windows),
    }
}

fn resources(base: Resources, over: Resources) -> Resources {
    Resources {
        limits: map(base.limits, over.limits),
        requests: map(base.requests, over.requests),
    }
}

/// Keeps one variable per name: the last occurrence, at its own position, so that a step's
/// `env` overrides its template's.
pub fn dedupe_env(env: Vec<EnvVar>) -> Vec<EnvVar> {
    let mut seen = std::collections::HashSet::new();
    let mut kept: Vec<EnvVar> = env
        .into_iter()
        .rev()
        .filter(|e| seen.insert(e.name.clone()))
        .collect();
    kept.reverse();
    kept
}

pub fn container(base: ContainerConfig, over: ContainerConfig) -> ContainerConfig {
    // An image implies its own entrypoint: setting `image` takes `command` and `args` along,
    // even when they are unset, and a `command` takes `args` along.
    let (image, command, args) = if over.image.is_some() {
        (over.image, over.command, over.args)
    } else if over.command.is_some() {
        (base.image, over.command, over.args)
    } else if over.args.is_some() {
        (base.image, base.command, over.args)
    } else {
        (base.image, base.command, base.args)
    };
    ContainerConfig {
        working_dir: pick(base.working_dir, over.working_dir),
        image,
        image_pull_policy: pick(base.image_pull_policy, over.image_pull_policy),
        env: dedupe_env(append(base.env, over.env)),
        env_from: append(base.env_from, over.env_from),
        command,
        args,
        resources: option(base.resources, over.resources, resources),
        security_context: option(base.security_context, over.security_context, security),
        volume_mounts: append(base.volume_mounts, over.volume_mounts),
    }
}

/// Files and tarballs add up; a Git repository of `over` replaces the template's.
pub fn content(base: Content, over: Content) -> Content {
    Content {
        git: pick(base.git, over.git),
        files: append(base.files, over.files),
        tarball: append(base.tarball, over.tarball),
    }
}

pub fn system(base: SystemConfig, over: SystemConfig) -> SystemConfig {
    SystemConfig {
        pure_by_default: pick(base.pure_by_default, over.pure_by_default),
        isolated_containers: pick(base.isolated_containers, over.isolated_containers),
    }
}

pub fn timeouts(base: Timeouts, over: Timeouts) -> Timeouts {
    Timeouts {
        queue: pick(base.queue, over.queue),
        initialization: pick(base.initialization, over.initialization),
    }
}

pub fn execution(base: ExecutionDefaults, over: ExecutionDefaults) -> ExecutionDefaults {
    ExecutionDefaults {
        tags: map(base.tags, over.tags),
        target: pick(base.target, over.target),
        silent: pick(base.silent, over.silent),
    }
}

/// A concurrency policy is one decision: the workflow's replaces the template's as a whole.
pub fn concurrency(_base: Concurrency, over: Concurrency) -> Concurrency {
    over
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str, value: &str) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: Some(value.into()),
            ..EnvVar::default()
        }
    }

    fn strings(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn env_keeps_the_last_occurrence_in_its_place() {
        let base = ContainerConfig {
            env: vec![env("A", "tpl"), env("B", "tpl")],
            ..Default::default()
        };
        let over = ContainerConfig {
            env: vec![env("C", "own"), env("A", "own")],
            ..Default::default()
        };
        let merged = container(base, over);
        let got: Vec<(&str, &str)> = merged
            .env
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(got, vec![("B", "tpl"), ("C", "own"), ("A", "own")]);
    }

    #[test]
    fn image_takes_command_and_args_along() {
        let base = ContainerConfig {
            image: Some("tpl:1".into()),
            command: strings(&["tpl-cmd"]),
            args: strings(&["tpl-arg"]),
            ..Default::default()
        };
        let with_image = container(
            base.clone(),
            ContainerConfig {
                image: Some("own:2".into()),
                ..Default::default()
            },
        );
        assert_eq!(with_image.image.as_deref(), Some("own:2"));
        assert_eq!(with_image.command, None);
        assert_eq!(with_image.args, None);

        let with_command = container(
            base.clone(),
            ContainerConfig {
                command: strings(&["own-cmd"]),
                ..Default::default()
            },
        );
        assert_eq!(with_command.image.as_deref(), Some("tpl:1"));
        assert_eq!(with_command.command, strings(&["own-cmd"]));
        assert_eq!(with_command.args, None);

        let with_args = container(
            base.clone(),
            ContainerConfig {
                args: strings(&["own-arg"]),
                ..Default::default()
            },
        );
        assert_eq!(with_args.command, strings(&["tpl-cmd"]));
        assert_eq!(with_args.args, strings(&["own-arg"]));

        let untouched = container(base.clone(), ContainerConfig::default());
        assert_eq!(untouched, base);
    }

    #[test]
    fn security_context_merges_field_wise() {
        let base = SecurityContext {
            run_as_user: Some(testwerk_spec::ParamValue::Int(1000)),
            privileged: Some(false),
            capabilities: Some(Capabilities {
                add: strings(&["NET_ADMIN"]),
                drop: strings(&["ALL"]),
            }),
            se_linux_options: Some(SELinuxOptions {
                user: Some("u".into()),
                level: Some("s0".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let over = SecurityContext {
            run_as_group: Some(testwerk_spec::ParamValue::Int(2000)),
            privileged: Some(true),
            capabilities: Some(Capabilities {
                add: strings(&["SYS_TIME", "NET_ADMIN"]),
                drop: None,
            }),
            se_linux_options: Some(SELinuxOptions {
                level: Some("s1".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let merged = security(base, over);
        assert_eq!(
            merged.run_as_user,
            Some(testwerk_spec::ParamValue::Int(1000))
        );
        assert_eq!(
            merged.run_as_group,
            Some(testwerk_spec::ParamValue::Int(2000))
        );
        assert_eq!(merged.privileged, Some(true));
        let caps = merged.capabilities.unwrap_or_default();
        assert_eq!(caps.add, strings(&["NET_ADMIN", "SYS_TIME"]));
        assert_eq!(caps.drop, strings(&["ALL"]));
        let se = merged.se_linux_options.unwrap_or_default();
        assert_eq!(se.user.as_deref(), Some("u"));
        assert_eq!(se.level.as_deref(), Some("s1"));
    }

    #[test]
    fn pod_lists_append_maps_merge_and_claims_reverse() {
        use k8s_openapi::api::core::v1::{LocalObjectReference, PodResourceClaim};
        let secret = |n: &str| LocalObjectReference { name: n.into() };
        let claim = |n: &str| PodResourceClaim {
            name: n.into(),
            ..Default::default()
        };
        let base = PodConfig {
            labels: [
                ("a".to_string(), "tpl".to_string()),
                ("b".into(), "tpl".into()),
            ]
            .into(),
            image_pull_secrets: vec![secret("tpl")],
            resource_claims: vec![claim("tpl")],
            service_account_name: Some("tpl-sa".into()),
            ..Default::default()
        };
        let over = PodConfig {
            labels: [("a".to_string(), "own".to_string())].into(),
            image_pull_secrets: vec![secret("own")],
            resource_claims: vec![claim("own")],
            ..Default::default()
        };
        let merged = pod(base, over);
        assert_eq!(merged.labels.get("a").map(String::as_str), Some("own"));
        assert_eq!(merged.labels.get("b").map(String::as_str), Some("tpl"));
        assert_eq!(
            merged.image_pull_secrets,
            vec![secret("tpl"), secret("own")]
        );
        assert_eq!(merged.resource_claims, vec![claim("own"), claim("tpl")]);
        assert_eq!(merged.service_account_name.as_deref(), Some("tpl-sa"));
    }

    #[test]
    fn content_git_of_the_workflow_wins_and_files_add_up() {
        use testwerk_spec::{ContentFile, ContentGit};
        let git = |u: &str| ContentGit {
            uri: Some(u.into()),
            ..Default::default()
        };
        let file = |p: &str| ContentFile {
            path: p.into(),
            ..Default::default()
        };
        let base = Content {
            git: Some(git("tpl")),
            files: vec![file("/tpl")],
            ..Default::default()
        };
        let merged = content(
            base.clone(),
            Content {
                git: Some(git("own")),
                files: vec![file("/own")],
                ..Default::default()
            },
        );
        assert_eq!(merged.git, Some(git("own")));
        assert_eq!(merged.files, vec![file("/tpl"), file("/own")]);
        let kept = content(base, Content::default());
        assert_eq!(kept.git, Some(git("tpl")));
    }
}
