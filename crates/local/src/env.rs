//! The environment a Pod would give a container, computed on this machine.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, EnvVarSource};
use testwerk_bundle::Bundle;

use crate::LocalError;
use crate::quantity;

/// Facts the Downward API would provide.
pub struct PodFacts<'a> {
    pub pod_name: &'a str,
    pub namespace: &'a str,
    pub node_name: &'a str,
    pub annotations: &'a BTreeMap<String, String>,
}

/// The container's variables with every `valueFrom` resolved locally. Optional references to
/// missing Secrets or ConfigMaps are left out, as the kubelet does.
pub fn container_env(
    container: &Container,
    bundle: &Bundle,
    facts: &PodFacts<'_>,
) -> Result<Vec<(String, String)>, LocalError> {
    let mut out = Vec::new();
    for var in container.env.iter().flatten() {
        let value = match (&var.value, &var.value_from) {
            (Some(v), _) => Some(v.clone()),
            (None, Some(from)) => value_from(from, container, bundle, facts).map_err(|e| {
                LocalError::Unsupported(format!(
                    "env `{}` of container {}: {e}",
                    var.name, container.name
                ))
            })?,
            (None, None) => Some(String::new()),
        };
        if let Some(v) = value {
            out.push((var.name.clone(), v));
        }
    }
    Ok(out)
}

fn value_from(
    from: &EnvVarSource,
    container: &Container,
    bundle: &Bundle,
    facts: &PodFacts<'_>,
) -> Result<Option<String>, String> {
    if let Some(field) = &from.field_ref {
        let path = field.field_path.as_str();
        let value = match path {
            "metadata.name" => facts.pod_name.to_owned(),
            "metadata.namespace" => facts.namespace.to_owned(),
            "spec.nodeName" => facts.node_name.to_owned(),
            "spec.serviceAccountName" => String::new(),
            "status.podIP" | "status.hostIP" => "127.0.0.1".to_owned(),
            _ => match path
                .strip_prefix("metadata.annotations['")
                .and_then(|r| r.strip_suffix("']"))
            {
                Some(key) => facts.annotations.get(key).cloned().unwrap_or_default(),
                None => return Err(format!("field `{path}` is not available locally")),
            },
        };
        return Ok(Some(value));
    }
    if let Some(field) = &from.resource_field_ref {
        let target = match field.container_name.as_deref() {
            Some(name) if !name.is_empty() && name != container.name => bundle
                .job
                .spec
                .as_ref()
                .and_then(|s| s.template.spec.as_ref())
                .and_then(|p| {
                    p.init_containers
                        .iter()
                        .flatten()
                        .chain(&p.containers)
                        .find(|c| c.name == name)
                })
                .ok_or_else(|| {
                    format!(
                        "resourceFieldRef names container `{name}`, which the Pod does not have"
                    )
                })?,
            _ => container,
        };
        return resource_value(
            target,
            &field.resource,
            field.divisor.as_ref().map(|d| d.0.as_str()),
        )
        .map(Some);
    }
    if let Some(secret) = &from.secret_key_ref {
        let found = bundle
            .secrets
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(secret.name.as_str()))
            .and_then(|s| s.string_data.as_ref())
            .and_then(|d| d.get(&secret.key))
            .cloned();
        return match (found, secret.optional) {
            (Some(v), _) => Ok(Some(v)),
            (None, Some(true)) => Ok(None),
            (None, _) => Err(format!(
                "Secret `{}` (key `{}`) does not exist locally",
                secret.name, secret.key
            )),
        };
    }
    if let Some(cm) = &from.config_map_key_ref {
        let found = bundle
            .config_maps
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(cm.name.as_str()))
            .and_then(|c| c.data.as_ref())
            .and_then(|d| d.get(&cm.key))
            .cloned();
        return match (found, cm.optional) {
            (Some(v), _) => Ok(Some(v)),
            (None, Some(true)) => Ok(None),
            (None, _) => Err(format!(
                "ConfigMap `{}` (key `{}`) does not exist locally",
                cm.name, cm.key
            )),
        };
    }
    Err("this kind of valueFrom is not available locally".to_owned())
}

/// A container's resource as the Downward API gives it: the limit (or request, which
/// defaults to the limit), else this machine's capacity as the node's; divided by `divisor`
/// and rounded up, as the kubelet does.
fn resource_value(
    container: &Container,
    resource: &str,
    divisor: Option<&str>,
) -> Result<String, String> {
    let resources = container.resources.as_ref();
    let get = |kind: &str, name: &str| {
        let map = match kind {
            "limits" => resources.and_then(|r| r.limits.as_ref()),
            _ => resources.and_then(|r| r.requests.as_ref()),
        };
        map.and_then(|m| m.get(name)).map(|q| q.0.clone())
    };
    let (kind, name) = resource.split_once('.').ok_or_else(|| {
        format!("resource `{resource}` is not `limits.<name>` or `requests.<name>`")
    })?;
    let value = get(kind, name).or_else(|| get("limits", name));
    match name {
        "cpu" => {
            let milli = match value {
                Some(q) => quantity::millicores(&q)?,
                None if kind == "requests" => 0,
                None => std::thread::available_parallelism().map_or(1, |n| n.get()) as i64 * 1000,
            };
            let per = quantity::millicores(divisor.unwrap_or("1"))?.max(1);
            Ok(((milli + per - 1) / per).to_string())
        }
        "memory" | "ephemeral-storage" => {
            let bytes = match value {
                Some(q) => quantity::bytes(&q)?,
                None if kind == "requests" => 0,
                None => machine_memory(),
            };
            let per = quantity::bytes(divisor.unwrap_or("1"))?.max(1);
            Ok(((bytes + per - 1) / per).to_string())
        }
        other => Err(format!("resource `{other}` is not available locally")),
    }
}

/// This machine's memory (`MemTotal`), standing in for the node's allocatable memory.
fn machine_memory() -> i64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ResourceRequirements;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    #[test]
    fn limits_and_requests_reach_the_downward_api() {
        let container = Container {
            name: "c".into(),
            resources: Some(ResourceRequirements {
                limits: Some(
                    [
                        ("cpu".to_owned(), Quantity("250m".into())),
                        ("memory".to_owned(), Quantity("32Mi".into())),
                    ]
                    .into(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            resource_value(&container, "limits.cpu", Some("1m")),
            Ok("250".into())
        );
        assert_eq!(
            resource_value(&container, "limits.cpu", Some("1")),
            Ok("1".into())
        );
        assert_eq!(
            resource_value(&container, "limits.memory", Some("1")),
            Ok((32 << 20).to_string())
        );
        // A request defaults to the limit.
        assert_eq!(
            resource_value(&container, "requests.cpu", Some("1m")),
            Ok("250".into())
        );
        let bare = Container::default();
        assert_eq!(
            resource_value(&bare, "requests.memory", Some("1")),
            Ok("0".into())
        );
        let cores = resource_value(&bare, "limits.cpu", Some("1m")).unwrap_or_default();
        assert!(cores.parse::<i64>().unwrap_or(0) >= 1000, "{cores}");
    }
}
