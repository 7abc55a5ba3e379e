//! One Kubernetes container per action group.

use k8s_openapi::api::core::v1::{
    Capabilities, Container, EnvFromSource, EnvVar, ResourceRequirements, SecurityContext,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::BTreeMap;
use testwerk_expr::{Lookup, Machine, Template, Value};
use testwerk_plan::group::main_config;
use testwerk_plan::{Action, Plan, paths};
use testwerk_spec::{ContainerConfig, ParamValue};

use crate::delivery::Delivery;
use crate::env;
use crate::{BundleError, WorkerDefaults};

/// Builds the container for group `index` of the plan.
pub fn container(
    plan: &Plan,
    index: usize,
    group: &[Action],
    worker: &WorkerDefaults,
    delivery: &Delivery,
    toolkit_secret: Option<&str>,
) -> Result<Container, BundleError> {
    let name = (index + 1).to_string();
    // A container that switches to no step (a separate setup) runs our image with the
    // workflow's defaults (security context, resources, the shared volumes).
    let base = main_config(group, &plan.images)
        .cloned()
        .unwrap_or_else(|| ContainerConfig {
            image: None,
            image_pull_policy: None,
            ..plan.defaults.clone()
        });
    let image = plan.container_image(index);
    let own_image = plan.images.is_own(Some(&image));
    let command = vec![
        if own_image {
            paths::IMAGE_INIT
        } else if plan.setup.from_volumes {
            paths::VOLUME_INIT
        } else {
            paths::COPIED_INIT
        }
        .to_owned(),
        index.to_string(),
    ];

    let mut env_vars = Vec::new();
    let mut env_from = Vec::new();
    let mut mounts: Vec<VolumeMount> = Vec::new();
    let transitions = group.iter().filter_map(|a| match a {
        Action::Container { config, .. } => Some(config.as_ref()),
        _ => None,
    });
    for m in &base.volume_mounts {
        if !mounts
            .iter()
            .any(|x: &VolumeMount| x.mount_path == m.mount_path)
        {
            mounts.push(m.clone());
        }
    }
    for (k, config) in transitions.enumerate() {
        env_vars.extend(user_env(k, config));
        env_from.extend(config.env_from.iter().map(|e| prefixed_env_from(k, e)));
        for m in &config.volume_mounts {
            let mut m = m.clone();
            if !m.mount_path.starts_with('/') {
                let base = config
                    .working_dir
                    .as_deref()
                    .filter(|w| w.starts_with('/'))
                    .unwrap_or(paths::DATA_DIR);
                m.mount_path = testwerk_plan::container::join_path(base, &m.mount_path);
            }
            if !mounts.iter().any(|x| x.mount_path == m.mount_path) {
                mounts.push(m);
            }
        }
    }
    for s in &plan.secret_env {
        env_vars.push(EnvVar {
            name: format!("_02{}S_{}", if s.computed { "C" } else { "" }, s.name),
            value_from: Some(k8s_openapi::api::core::v1::EnvVarSource {
                secret_key_ref: Some(k8s_openapi::api::core::v1::SecretKeySelector {
                    name: s.secret.clone(),
                    key: s.key.clone(),
                    optional: Some(true),
                }),
                ..Default::default()
            }),
            value: None,
        });
    }
    // Only containers that run toolkit operations get the backend's toolkit settings (they
    // hold the execution's artifact token).
    let runs_toolkit = group
        .iter()
        .any(|a| matches!(a, Action::Execute { toolkit: true, .. }));
    if let (Some(secret), true) = (toolkit_secret, runs_toolkit) {
        env_vars.push(env::toolkit_var(secret));
    }
    if group.iter().any(|a| matches!(a, Action::Setup(_))) {
        env_vars.extend(env::setup_vars(delivery));
        mounts.extend(delivery.mount());
    }
    mounts.extend(crate::image_volumes::mounts(plan));
    env_vars.extend(env::container_vars(&name));

    let path = format!("container {name}");
    let mut security = security_context(base.security_context.as_ref(), &path)?;
    if let Some(fs_group) = &plan.fs_group {
        let ctx = security.get_or_insert_with(SecurityContext::default);
        if ctx.run_as_group.is_none() {
            ctx.run_as_group = Some(int(fs_group, &format!("{path}: fsGroup"))?);
        }
    }
    let pull_policy = base
        .image_pull_policy
        .clone()
        .or_else(|| {
            own_image
                .then(|| worker.default_pull_policy.clone())
                .flatten()
        })
        .unwrap_or_else(|| "IfNotPresent".into());
    let mut resources = resources(&base, &path)?;
    if own_image {
        worker.apply_runner_resources(&mut resources);
    }
    Ok(Container {
        name,
        image: Some(image),
        image_pull_policy: Some(pull_policy),
        command: Some(command),
        env: Some(env_vars),
        env_from: (!env_from.is_empty()).then_some(env_from),
        volume_mounts: Some(mounts),
        resources,
        security_context: security,
        ..Default::default()
    })
}

/// The user's variables of transition `k`, renamed so `init` can tell them apart. Plain values
/// that refer to other plain values of the same transition are resolved here already.
fn user_env(k: usize, config: &ContainerConfig) -> Vec<EnvVar> {
    let statics = StaticEnv(config);
    let mut out: Vec<(&str, EnvVar)> = Vec::new();
    for var in &config.env {
        let sensitive = var
            .value_from
            .as_ref()
            .is_some_and(|v| v.secret_key_ref.is_some());
        let (value, computed) = match &var.value {
            Some(v) if v.contains("{{") => match testwerk_expr::resolve_template(v, &statics) {
                Ok(resolved) => match Template::parse(&resolved)
                    .ok()
                    .and_then(|t| t.static_string())
                {
                    Some(text) if !text.contains("{{") => (Some(text), false),
                    _ => (Some(resolved), true),
                },
                Err(_) => (Some(v.clone()), true),
            },
            other => (other.clone(), false),
        };
        let value_from = var.value_from.clone().map(|mut from| {
            if let Some(r) = from.config_map_key_ref.as_mut() {
                r.optional.get_or_insert(true);
            }
            if let Some(r) = from.secret_key_ref.as_mut() {
                r.optional.get_or_insert(true);
            }
            from
        });
        let name = format!("{}{}", env::user_prefix(k, computed, sensitive), var.name);
        // Later definitions of a name win, as in a shell.
        out.retain(|(original, _)| *original != var.name);
        out.push((
            &var.name,
            EnvVar {
                name,
                value,
                value_from,
            },
        ));
    }
    out.into_iter().map(|(_, e)| e).collect()
}

/// `env.X` for the plain (not computed, not referenced) values of one transition.
struct StaticEnv<'a>(&'a ContainerConfig);

impl Machine for StaticEnv<'_> {
    fn get(&self, name: &str) -> Option<Lookup> {
        let key = name.strip_prefix("env.")?;
        self.0
            .env
            .iter()
            .rev()
            .find(|e| e.name == key && e.value_from.is_none())
            .and_then(|e| e.value.as_ref())
            .filter(|v| !v.contains("{{"))
            .map(|v| Lookup::Value(Value::String(v.clone())))
    }
}

fn prefixed_env_from(k: usize, source: &EnvFromSource) -> EnvFromSource {
    let sensitive = source.secret_ref.is_some();
    let mut out = source.clone();
    out.prefix = Some(format!(
        "{}{}",
        env::user_prefix(k, false, sensitive),
        source.prefix.clone().unwrap_or_default()
    ));
    if let Some(r) = out.config_map_ref.as_mut() {
        r.optional.get_or_insert(true);
    }
    if let Some(r) = out.secret_ref.as_mut() {
        r.optional.get_or_insert(true);
    }
    out
}

fn resources(
    config: &ContainerConfig,
    path: &str,
) -> Result<Option<ResourceRequirements>, BundleError> {
    let Some(r) = &config.resources else {
        return Ok(None);
    };
    let convert = |m: &indexmap::IndexMap<String, ParamValue>,
                   what: &str|
     -> Result<Option<BTreeMap<String, Quantity>>, BundleError> {
        if m.is_empty() {
            return Ok(None);
        }
        let mut out = BTreeMap::new();
        for (k, v) in m {
            let text = v.as_text();
            if text.contains("{{") || text.trim().is_empty() {
                return Err(BundleError::Invalid(format!(
                    "{path}: resources.{what}.{k}: `{text}` is not a quantity"
                )));
            }
            out.insert(k.clone(), Quantity(text));
        }
        Ok(Some(out))
    };
    Ok(Some(ResourceRequirements {
        limits: convert(&r.limits, "limits")?,
        requests: convert(&r.requests, "requests")?,
        ..Default::default()
    }))
}

pub(crate) fn int(v: &ParamValue, path: &str) -> Result<i64, BundleError> {
    match v {
        ParamValue::Int(i) => Ok(*i),
        ParamValue::String(s) => s
            .trim()
            .parse()
            .map_err(|_| BundleError::Invalid(format!("{path}: `{s}` is not an integer"))),
    }
}

fn security_context(
    ctx: Option<&testwerk_spec::SecurityContext>,
    path: &str,
) -> Result<Option<SecurityContext>, BundleError> {
    let Some(c) = ctx else { return Ok(None) };
    let id = |v: &Option<ParamValue>, field: &str| {
        v.as_ref()
            .map(|v| int(v, &format!("{path}: securityContext.{field}")))
            .transpose()
    };
    Ok(Some(SecurityContext {
        allow_privilege_escalation: c.allow_privilege_escalation,
        app_armor_profile: c.app_armor_profile.clone(),
        capabilities: c.capabilities.clone().map(|c| Capabilities {
            add: c.add,
            drop: c.drop,
        }),
        privileged: c.privileged,
        proc_mount: c.proc_mount.clone(),
        read_only_root_filesystem: c.read_only_root_filesystem,
        run_as_group: id(&c.run_as_group, "runAsGroup")?,
        run_as_non_root: c.run_as_non_root,
        run_as_user: id(&c.run_as_user, "runAsUser")?,
        se_linux_options: c.se_linux_options.clone(),
        seccomp_profile: c.seccomp_profile.clone(),
        windows_options: c.windows_options.clone(),
    }))
}
