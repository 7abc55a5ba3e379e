//! How a step's container settings combine with those it inherits.

use testwerk_spec::{ContainerConfig, SecurityContext};

/// The container of a child given its parent's (`stage/container.go` semantics):
/// lists concatenate parent first; image and pull policy come from the nearest that sets them;
/// a child with a different image does not inherit the command, and a child that sets its own
/// args, a command, or a different image does not inherit the args.
pub fn inherit(parent: &ContainerConfig, child: &ContainerConfig) -> ContainerConfig {
    let image_changes = match (&child.image, &parent.image) {
        (Some(c), Some(p)) => !c.is_empty() && c != p,
        (Some(c), None) => !c.is_empty(),
        _ => false,
    };
    let image = non_empty(&child.image).or_else(|| non_empty(&parent.image));
    let command = if child.command.is_some() {
        child.command.clone()
    } else if image_changes {
        None
    } else {
        parent.command.clone()
    };
    let child_sets_args = child.args.as_ref().is_some_and(|a| !a.is_empty());
    let args = if child_sets_args || child.command.is_some() || image_changes {
        child.args.clone()
    } else {
        parent.args.clone()
    };
    ContainerConfig {
        working_dir: compose_working_dir(
            parent.working_dir.as_deref(),
            child.working_dir.as_deref(),
        ),
        image,
        image_pull_policy: non_empty(&child.image_pull_policy)
            .or_else(|| non_empty(&parent.image_pull_policy)),
        env: concat(&parent.env, &child.env),
        env_from: concat(&parent.env_from, &child.env_from),
        command,
        args,
        resources: inherit_resources(parent, child),
        security_context: merge_security_context(
            parent.security_context.as_ref(),
            child.security_context.as_ref(),
        ),
        volume_mounts: concat(&parent.volume_mounts, &child.volume_mounts),
    }
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_ref().filter(|s| !s.is_empty()).cloned()
}

fn concat<T: Clone>(a: &[T], b: &[T]) -> Vec<T> {
    a.iter().chain(b).cloned().collect()
}

/// A relative working directory is relative to the parent's; templates defer the join to later.
pub fn compose_working_dir(parent: Option<&str>, child: Option<&str>) -> Option<String> {
    let child = child.filter(|c| !c.is_empty());
    let parent = parent.filter(|p| !p.is_empty());
    match (parent, child) {
        (p, None) => p.map(str::to_owned),
        (None, Some(c)) => Some(c.to_owned()),
        (Some(p), Some(c)) => {
            if c.starts_with('/') {
                Some(c.to_owned())
            } else if p.contains("{{") || c.contains("{{") {
                Some(format!(
                    "{{{{makepath({}, {})}}}}",
                    template_as_expr(p),
                    template_as_expr(c)
                ))
            } else {
                Some(join_path(p, c))
            }
        }
    }
}

/// A template string as an expression that yields the same text.
fn template_as_expr(t: &str) -> String {
    match t.strip_prefix("{{").and_then(|r| r.strip_suffix("}}")) {
        Some(inner) if !inner.contains("{{") && !inner.contains("}}") => inner.trim().to_owned(),
        _ => format!("{:?}", t),
    }
}

/// Joins two static paths the way `path.Join` would, without touching the file system.
pub fn join_path(parent: &str, child: &str) -> String {
    let joined = format!("{}/{}", parent.trim_end_matches('/'), child);
    let absolute = joined.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let body = parts.join("/");
    if absolute { format!("/{body}") } else { body }
}

fn inherit_resources(
    parent: &ContainerConfig,
    child: &ContainerConfig,
) -> Option<testwerk_spec::Resources> {
    match (&parent.resources, &child.resources) {
        (p, None) => p.clone(),
        (None, c) => c.clone(),
        (Some(p), Some(c)) => Some(testwerk_spec::Resources {
            limits: if c.limits.is_empty() {
                p.limits.clone()
            } else {
                c.limits.clone()
            },
            requests: if c.requests.is_empty() {
                p.requests.clone()
            } else {
                c.requests.clone()
            },
        }),
    }
}

/// Field-wise merge; the child wins where it sets a field. Capabilities are unioned.
pub fn merge_security_context(
    parent: Option<&SecurityContext>,
    child: Option<&SecurityContext>,
) -> Option<SecurityContext> {
    let (p, c) = match (parent, child) {
        (None, None) => return None,
        (Some(p), None) => return Some(p.clone()),
        (None, Some(c)) => return Some(c.clone()),
        (Some(p), Some(c)) => (p, c),
    };
    macro_rules! pick {
        ($f:ident) => {
            c.$f.clone().or_else(|| p.$f.clone())
        };
    }
    let capabilities = match (&p.capabilities, &c.capabilities) {
        (Some(pc), Some(cc)) => {
            let union = |a: &Option<Vec<String>>, b: &Option<Vec<String>>| {
                let mut out: Vec<String> = a.clone().unwrap_or_default();
                for x in b.iter().flatten() {
                    if !out.contains(x) {
                        out.push(x.clone());
                    }
                }
                (!out.is_empty()).then_some(out)
            };
            Some(k8s_openapi::api::core::v1::Capabilities {
                add: union(&pc.add, &cc.add),
                drop: union(&pc.drop, &cc.drop),
            })
        }
        (a, b) => b.clone().or_else(|| a.clone()),
    };
    Some(SecurityContext {
        allow_privilege_escalation: pick!(allow_privilege_escalation),
        app_armor_profile: pick!(app_armor_profile),
        capabilities,
        privileged: pick!(privileged),
        proc_mount: pick!(proc_mount),
        read_only_root_filesystem: pick!(read_only_root_filesystem),
        run_as_group: pick!(run_as_group),
        run_as_non_root: pick!(run_as_non_root),
        run_as_user: pick!(run_as_user),
        se_linux_options: pick!(se_linux_options),
        seccomp_profile: pick!(seccomp_profile),
        windows_options: pick!(windows_options),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(
        image: Option<&str>,
        command: Option<&[&str]>,
        args: Option<&[&str]>,
    ) -> ContainerConfig {
        ContainerConfig {
            image: image.map(str::to_owned),
            command: command.map(|c| c.iter().map(|s| s.to_string()).collect()),
            args: args.map(|c| c.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn a_different_image_drops_the_inherited_command_and_args() {
        let parent = cfg(Some("a"), Some(&["run"]), Some(&["x"]));
        let child = inherit(&parent, &cfg(Some("b"), None, None));
        assert_eq!(child.image.as_deref(), Some("b"));
        assert_eq!(child.command, None);
        assert_eq!(child.args, None);
    }

    #[test]
    fn the_same_image_keeps_command_and_args_unless_args_are_set() {
        let parent = cfg(Some("a"), Some(&["run"]), Some(&["x"]));
        let same = inherit(&parent, &cfg(Some("a"), None, None));
        assert_eq!(same.command, parent.command);
        assert_eq!(same.args, parent.args);
        let own_args = inherit(&parent, &cfg(None, None, Some(&["y"])));
        assert_eq!(own_args.command, parent.command);
        assert_eq!(own_args.args, Some(vec!["y".to_owned()]));
        let own_command = inherit(&parent, &cfg(None, Some(&["go"]), None));
        assert_eq!(own_command.args, None);
    }

    #[test]
    fn working_directories_compose() {
        assert_eq!(
            compose_working_dir(Some("/data"), Some("repo")).as_deref(),
            Some("/data/repo")
        );
        assert_eq!(
            compose_working_dir(Some("/data"), Some("/abs")).as_deref(),
            Some("/abs")
        );
        assert_eq!(
            compose_working_dir(None, Some("rel")).as_deref(),
            Some("rel")
        );
        assert_eq!(
            compose_working_dir(Some("/a/b"), Some("../c")).as_deref(),
            Some("/a/c")
        );
        assert_eq!(
            compose_working_dir(Some("{{config.dir}}"), Some("sub")).as_deref(),
            Some("{{makepath(config.dir, \"sub\")}}")
        );
    }
}
