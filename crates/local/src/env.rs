//! The environment a Pod would give a container, computed on this machine.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, EnvVarSource};
use testwerk_bundle::Bundle;

use crate::LocalError;

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
    if from.resource_field_ref.is_some() {
        // No resource accounting locally: 0 means "not set", as for a container without limits.
        return Ok(Some("0".to_owned()));
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
    let _ = container;
    Err("this kind of valueFrom is not available locally".to_owned())
}
