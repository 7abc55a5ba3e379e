//! The Job, its Pod template, and the objects created beside it.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, EmptyDirVolumeSource, PersistentVolumeClaim, PodSecurityContext, PodSpec,
    PodTemplateSpec, Secret, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use testwerk_plan::{Action, Plan, paths};

use crate::containers::{container, int};
use crate::delivery::{self, Delivery};
use crate::env::CONFIG;
use crate::limits::{self, Limit, LimitError};
use crate::{Bundle, BundleError, BundleOptions, labels};

/// Builds every object of the execution.
pub fn build(plan: &Plan, opts: &BundleOptions) -> Result<Bundle, BundleError> {
    opts.worker.validate()?;
    let namespace = plan
        .job
        .namespace
        .clone()
        .unwrap_or_else(|| plan.namespace.clone());
    let ours = own_labels(plan);
    let meta = |name: &str| ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(namespace.clone()),
        labels: Some(ours.clone()),
        ..Default::default()
    };

    let mut secrets: Vec<Secret> = opts
        .secrets
        .iter()
        .map(|(name, data)| Secret {
            metadata: meta(name),
            string_data: Some(data.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            type_: Some("Opaque".into()),
            ..Default::default()
        })
        .collect();
    let uses_toolkit = plan
        .groups
        .iter()
        .flatten()
        .any(|a| matches!(a, Action::Execute { toolkit: true, .. }));
    let toolkit_secret = match &opts.toolkit {
        Some(settings) if uses_toolkit => {
            let name = format!("{}-toolkit", plan.resource_id);
            secrets.push(Secret {
                metadata: meta(&name),
                string_data: Some(BTreeMap::from([(
                    crate::env::TOOLKIT_SECRET_KEY.to_owned(),
                    to_json(settings)?,
                )])),
                type_: Some("Opaque".into()),
                ..Default::default()
            });
            Some(name)
        }
        _ => None,
    };
    let mut config_maps: Vec<ConfigMap> = plan
        .config_maps
        .iter()
        .map(|cm| ConfigMap {
            metadata: meta(&cm.name),
            immutable: Some(true),
            data: Some(cm.data.clone()),
            binary_data: None::<BTreeMap<String, ByteString>>,
        })
        .collect();
    let pvcs = plan
        .pvcs
        .values()
        .map(|(name, spec)| PersistentVolumeClaim {
            metadata: meta(name),
            spec: Some(spec.clone()),
            ..Default::default()
        })
        .collect();

    let mut annotations = plan
        .pod
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect::<BTreeMap<_, _>>();
    let config_json = to_json(&execution_config(plan))?;
    check_env(
        CONFIG,
        &config_json,
        "the execution config (`testwerk.io/config`)",
    )?;
    annotations.insert(labels::CONFIG.into(), config_json);
    if let Some(at) = &opts.scheduled_at {
        annotations.insert(labels::SCHEDULED_AT.into(), at.clone());
    }
    let plan_json = to_json(&plan.wire())?;
    let signature_json = to_json(&plan.signature)?;
    let delivery = if delivery::fits_annotations(&annotations, &plan_json, &signature_json) {
        annotations.insert(labels::PLAN.into(), plan_json);
        annotations.insert(labels::SIGNATURE.into(), signature_json);
        Delivery::Annotations
    } else {
        let name = format!("{}-plan", plan.resource_id);
        let files = delivery::config_map_files(plan, &plan_json, &signature_json, opts.target)?;
        config_maps.push(ConfigMap {
            metadata: meta(&name),
            immutable: Some(true),
            data: (!files.data.is_empty()).then_some(files.data),
            binary_data: Some(files.binary_data),
        });
        Delivery::ConfigMap(name)
    };
    let annotations_size = delivery::annotations_size(&annotations);
    if annotations_size > limits::MAX_ANNOTATIONS && opts.target.binds(Limit::Annotations) {
        return Err(LimitError {
            limit: Limit::Annotations,
            size: annotations_size,
            step: None,
            detail: None,
        }
        .into());
    }

    let mut containers = Vec::with_capacity(plan.groups.len());
    for (i, group) in plan.groups.iter().enumerate() {
        containers.push(container(
            plan,
            i,
            group,
            &opts.worker,
            &delivery,
            toolkit_secret.as_deref(),
        )?);
    }
    check_container_env(plan, &containers)?;
    let main = containers
        .pop()
        .ok_or_else(|| BundleError::Invalid("the plan has no container".into()))?;

    let mut pod_labels = plan
        .pod
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect::<BTreeMap<_, _>>();
    pod_labels.extend(ours.clone());

    let mut volumes: Vec<Volume> = paths::DEFAULT_VOLUMES
        .iter()
        .map(|(name, _)| Volume {
            name: (*name).to_owned(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        })
        .collect();
    volumes.extend(plan.volumes.iter().cloned());
    volumes.extend(delivery.volume());
    volumes.extend(crate::image_volumes::volumes(plan, &opts.worker));
    opts.worker.apply_size_limit(&mut volumes);
    let pod = &plan.pod;
    let path = "spec.pod.securityContext";
    let security = match &pod.security_context {
        Some(c) => Some(PodSecurityContext {
            app_armor_profile: c.app_armor_profile.clone(),
            fs_group: None,
            fs_group_change_policy: c.fs_group_change_policy.clone(),
            run_as_group: c
                .run_as_group
                .as_ref()
                .map(|v| int(v, &format!("{path}.runAsGroup")))
                .transpose()?,
            run_as_non_root: c.run_as_non_root,
            run_as_user: c
                .run_as_user
                .as_ref()
                .map(|v| int(v, &format!("{path}.runAsUser")))
                .transpose()?,
            se_linux_change_policy: c.se_linux_change_policy.clone(),
            se_linux_options: c.se_linux_options.clone(),
            seccomp_profile: c.seccomp_profile.clone(),
            supplemental_groups: (!c.supplemental_groups.is_empty())
                .then(|| c.supplemental_groups.clone()),
            supplemental_groups_policy: c.supplemental_groups_policy.clone(),
            sysctls: (!c.sysctls.is_empty()).then(|| c.sysctls.clone()),
            windows_options: c.windows_options.clone(),
        }),
        None => None,
    };
    let mut security = security;
    if let Some(fs) = &plan.fs_group {
        security
            .get_or_insert_with(PodSecurityContext::default)
            .fs_group = Some(int(fs, &format!("{path}.fsGroup"))?);
    }

    let spec = PodSpec {
        restart_policy: Some("Never".into()),
        enable_service_links: Some(false),
        init_containers: (!containers.is_empty()).then_some(containers),
        containers: vec![main],
        volumes: Some(volumes),
        security_context: security,
        service_account_name: pod.service_account_name.clone(),
        image_pull_secrets: some_list(&pod.image_pull_secrets),
        node_selector: (!pod.node_selector.is_empty()).then(|| {
            pod.node_selector
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }),
        active_deadline_seconds: pod.active_deadline_seconds,
        dns_policy: pod.dns_policy.clone(),
        node_name: pod.node_name.clone(),
        hostname: pod.hostname.clone(),
        subdomain: pod.subdomain.clone(),
        affinity: pod.affinity.clone(),
        tolerations: some_list(&pod.tolerations),
        host_aliases: some_list(&pod.host_aliases),
        priority_class_name: pod.priority_class_name.clone(),
        priority: pod.priority,
        dns_config: pod.dns_config.clone(),
        preemption_policy: pod.preemption_policy.clone(),
        topology_spread_constraints: some_list(&pod.topology_spread_constraints),
        scheduling_gates: some_list(&pod.scheduling_gates),
        resource_claims: some_list(&pod.resource_claims),
        host_pid: pod.host_pid,
        ..Default::default()
    };

    let mut job_labels = plan
        .job
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect::<BTreeMap<_, _>>();
    job_labels.extend(ours);
    let job_annotations: BTreeMap<String, String> = plan
        .job
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let job = Job {
        metadata: ObjectMeta {
            name: Some(plan.resource_id.clone()),
            namespace: Some(namespace),
            labels: Some(job_labels),
            annotations: (!job_annotations.is_empty()).then_some(job_annotations),
            ..Default::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: plan.job.active_deadline_seconds,
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(annotations),
                    ..Default::default()
                }),
                spec: Some(spec),
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    if opts.target.binds(Limit::Job) {
        check_job(plan, &job)?;
    }
    Ok(Bundle {
        secrets,
        config_maps,
        pvcs,
        job,
    })
}

/// The step a container runs first (to name it in errors).
fn first_step(plan: &Plan, index: usize) -> Option<(String, Option<String>)> {
    plan.groups.get(index)?.iter().find_map(|a| match a {
        Action::Execute { r#ref, .. } => Some((r#ref.clone(), limits::step_name(plan, r#ref))),
        _ => None,
    })
}

/// A variable `init` gets from an annotation must fit one environment string.
fn check_env(name: &str, value: &str, what: &str) -> Result<(), LimitError> {
    let size = delivery::env_string_size(name, value);
    if size > limits::MAX_ENV_STRING {
        return Err(LimitError {
            limit: Limit::EnvValue,
            size,
            step: None,
            detail: Some(what.to_owned()),
        });
    }
    Ok(())
}

/// Every literal variable of every container must fit one environment string (the value is
/// never shown: it may be a secret).
fn check_container_env(plan: &Plan, containers: &[Container]) -> Result<(), LimitError> {
    for (i, c) in containers.iter().enumerate() {
        for var in c.env.iter().flatten() {
            let size = delivery::env_string_size(&var.name, var.value.as_deref().unwrap_or(""));
            if size > limits::MAX_ENV_STRING {
                // The name the user wrote, without our scope prefix (`_0_`).
                let name = testwerk_protocol::env::parse_scoped(&var.name)
                    .map_or(var.name.as_str(), |s| s.name);
                return Err(LimitError {
                    limit: Limit::EnvValue,
                    size,
                    step: first_step(plan, i),
                    detail: Some(format!("variable `{name}` of container {}", c.name)),
                });
            }
        }
    }
    Ok(())
}

/// The Job must fit one etcd object; mostly its containers count, one per impure step.
fn check_job(plan: &Plan, job: &Job) -> Result<(), BundleError> {
    let size = serde_json::to_vec(job)
        .map_err(|e| BundleError::Invalid(e.to_string()))?
        .len();
    if size <= limits::MAX_OBJECT {
        return Ok(());
    }
    let pod = job.spec.as_ref().and_then(|s| s.template.spec.as_ref());
    let containers: Vec<&Container> = pod
        .map(|p| {
            p.init_containers
                .iter()
                .flatten()
                .chain(&p.containers)
                .collect()
        })
        .unwrap_or_default();
    let sizes: Vec<usize> = containers
        .iter()
        .map(|c| serde_json::to_vec(c).map_or(0, |v| v.len() + 1))
        .collect();
    let fixed = size.saturating_sub(sizes.iter().sum());
    let refs: Vec<Option<(String, Option<String>)>> =
        (0..containers.len()).map(|i| first_step(plan, i)).collect();
    let step = limits::first_over(
        fixed,
        limits::MAX_OBJECT,
        refs.iter()
            .map(|r| r.as_ref().map(|(r, _)| r.as_str()))
            .zip(sizes.iter().copied()),
    )
    .and_then(|r| refs.iter().flatten().find(|(x, _)| x == r).cloned());
    Err(LimitError {
        limit: Limit::Job,
        size,
        step,
        detail: Some(format!(
            "{} containers, about {} bytes each",
            containers.len(),
            sizes.iter().sum::<usize>() / containers.len().max(1)
        )),
    }
    .into())
}

fn own_labels(plan: &Plan) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    out.insert(labels::EXECUTION.into(), plan.resource_id.clone());
    out.insert(labels::ROOT.into(), plan.root_id.clone());
    let workflow = labels::label_value(&plan.workflow_name);
    if !workflow.is_empty() {
        out.insert(labels::WORKFLOW.into(), workflow);
    }
    out
}

/// Facts `init` and the toolkit need about the execution.
fn execution_config(plan: &Plan) -> serde_json::Value {
    serde_json::json!({
        "execution": {"id": plan.resource_id, "root": plan.root_id},
        "workflow": {"name": plan.workflow_name},
        "namespace": plan.namespace,
        "images": {"init": plan.images.init, "toolkit": plan.images.toolkit},
        "globalEnv": plan.global_env,
        "pvcs": plan.pvcs.iter().map(|(k, (n, _))| (k.clone(), n.clone())).collect::<BTreeMap<_, _>>(),
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, BundleError> {
    serde_json::to_string(value).map_err(|e| BundleError::Invalid(e.to_string()))
}

/// `None` for an empty list, so the Pod spec shows only what is set.
fn some_list<T: Clone>(list: &[T]) -> Option<Vec<T>> {
    (!list.is_empty()).then(|| list.to_vec())
}
