//! # testwerk-plan
//!
//! Compiles a resolved workflow (no `use`, no `template`) into a plan:
//!
//! 1. every step becomes a **stage** (a group, or a container running one operation);
//! 2. the stage tree becomes a flat **action list** (declare, start, execute, end, …) with every
//!    statically known condition folded in — a step with `condition: never` costs nothing;
//! 3. actions are cut into **container groups**; neighbours merge when at least one is `pure` and
//!    their containers are compatible (same image, resources, security context and mounts).
//!
//! The plan is plain data: `bundle` turns it into Kubernetes objects, and `init` executes its
//! [`WirePlan`] inside each container. Compilation is pure given image metadata.

pub mod action;
pub use testwerk_protocol::paths;
pub mod condition;
pub mod container;
pub mod error;
pub mod explain;
pub mod group;
pub mod imagedata;
pub mod images;
pub mod layer;
mod optimize;
pub mod process;
pub mod runtime;
pub mod sequence;
pub mod signature;
pub mod stage;
pub mod stepid;
pub mod variables;

use indexmap::IndexMap;
use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, Volume, VolumeMount};
use testwerk_expr::Value;
use testwerk_spec::{
    ContainerConfig, EnvVar, JobConfig, ParamValue, PodConfig, Step, TestWorkflow,
};

pub use action::{Action, EARLIER_PASSED, PLAN_FORMAT_VERSION, SetupCopies, WireAction, WirePlan};
pub use error::PlanError;
pub use group::{BinaryDelivery, MergeDecision, OwnImages};
pub use images::{ImageMetadata, ImageSource, NoImages, StaticImages};
pub use layer::FilesConfigMap;
pub use signature::SignatureNode;
pub use stage::Stage;
pub use variables::SecretEnv;

/// Everything the compiler needs besides the workflow.
pub struct PlanOptions<'a> {
    /// Id of this execution's objects (the Job name).
    pub resource_id: String,
    /// Id of the root execution (equal to `resource_id` unless this is a nested execution).
    pub root_id: String,
    pub namespace: String,
    pub images: OwnImages,
    pub image_source: &'a dyn ImageSource,
}

/// A compiled workflow.
#[derive(Clone, Debug)]
pub struct Plan {
    pub workflow_name: String,
    pub resource_id: String,
    pub root_id: String,
    pub namespace: String,
    pub images: OwnImages,
    /// The stage tree, kept for explaining the plan.
    pub root: Stage,
    /// One list of actions per Kubernetes container, in order; the last is the main container.
    pub groups: Vec<Vec<Action>>,
    pub setup: SetupCopies,
    pub decisions: Vec<MergeDecision>,
    pub signature: Vec<SignatureNode>,
    pub full_signature: Vec<SignatureNode>,
    pub config_maps: Vec<FilesConfigMap>,
    /// Volumes the workflow declared plus those the compiler added (files, clones, transfer).
    pub volumes: Vec<Volume>,
    pub pvcs: IndexMap<String, (String, PersistentVolumeClaimSpec)>,
    pub secret_env: Vec<SecretEnv>,
    pub pod: PodConfig,
    pub job: JobConfig,
    pub fs_group: Option<ParamValue>,
    /// Env vars marked `global: true` anywhere, for services and workers.
    pub global_env: Vec<EnvVar>,
    /// Image metadata used, by image.
    pub image_metadata: imagedata::FetchedImages,
    /// The workflow-level container settings every step starts from (used for containers that
    /// run no step of their own, such as a separate setup container).
    pub defaults: ContainerConfig,
    /// Some step runs a toolkit operation (then our containers use the toolkit image).
    pub uses_toolkit: bool,
}

impl Plan {
    /// The image container `index` runs: its main step's image, or ours. When any step needs
    /// the toolkit, our containers use the toolkit image, which carries `init` too.
    pub fn container_image(&self, index: usize) -> String {
        let group = self
            .groups
            .get(index)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let image = group::main_config(group, &self.images)
            .and_then(|c| c.image.clone())
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| self.images.init.clone());
        if self.uses_toolkit && image == self.images.init {
            self.images.toolkit.clone()
        } else {
            image
        }
    }

    /// What `init` receives.
    pub fn wire(&self) -> WirePlan {
        WirePlan {
            version: PLAN_FORMAT_VERSION,
            groups: self
                .groups
                .iter()
                .map(|g| g.iter().map(Action::to_wire).collect())
                .collect(),
        }
    }
}

/// Compiles one resolved workflow.
pub fn compile(workflow: &TestWorkflow, opts: &PlanOptions<'_>) -> Result<Plan, PlanError> {
    let name = workflow.metadata.name.clone().unwrap_or_default();
    let mut body = workflow.spec.body.clone();
    stepid::assign_ids(&mut body);

    let pvc_names: IndexMap<String, String> = body
        .pvcs
        .keys()
        .map(|k| (k.clone(), format!("{}-{}", opts.root_id, dns_label(k))))
        .collect();
    let variables = variables::BundleVariables::new(bundle_values(&name, opts, &pvc_names));
    let mut json =
        serde_json::to_value(&body).map_err(|e| PlanError::new("spec", e.to_string()))?;
    variables::simplify_tree(&mut json, &variables, "spec")?;
    for key in ["pod", "job", "pvcs"] {
        if let Some(v) = json.get_mut(key) {
            variables::finalize_tree(v, &format!("spec.{key}"))?;
        }
    }
    let body: testwerk_spec::SpecBody = serde_json::from_value(json)
        .map_err(|e| PlanError::new("spec", format!("after resolving templates: {e}")))?;

    let pod = body.pod.clone().unwrap_or_default();
    let job = body.job.clone().unwrap_or_default();
    let mut layer = layer::Layer::new(&opts.resource_id);
    let defaults = default_container();
    let root_container = match &body.container {
        Some(c) => container::inherit(&defaults, c),
        None => defaults,
    };
    let defaults_for_bundle = root_container.clone();
    let root_step = Step {
        content: body.content.clone(),
        services: body.services.clone(),
        setup: body.setup.clone(),
        steps: body.steps.iter().chain(&body.after).cloned().collect(),
        ..Default::default()
    };
    let mut processor = process::Processor {
        layer: &mut layer,
        toolkit_image: &opts.images.toolkit,
        pod: body.pod.as_ref(),
        after_from: Some(body.steps.len()),
    };
    let mut root = processor.step(&root_step, &root_container, "spec")?;
    root.meta_mut().r#ref = paths::ROOT_REF.to_owned();
    root.meta_mut().condition = condition::Condition::new();
    if root.containers().is_empty() {
        return Err(
            PlanError::new("spec", "test workflow has nothing to run").with_help(
                "add a step with `shell`, `run`, `execute` or `parallel` under spec.steps",
            ),
        );
    }
    finalize_content(&mut layer)?;
    runtime::check(&root)?;

    let mut fetched = imagedata::FetchedImages::new();
    imagedata::apply_commands(&mut root, &opts.images, opts.image_source, &mut fetched)?;
    let fs_group = imagedata::security_defaults(
        &mut root,
        Some(&pod),
        &opts.images,
        opts.image_source,
        &mut fetched,
    );

    let pure_by_default = body
        .system
        .as_ref()
        .and_then(|s| s.pure_by_default)
        .unwrap_or(false);
    let isolated = body
        .system
        .as_ref()
        .and_then(|s| s.isolated_containers)
        .unwrap_or(false);
    let mut actions = optimize::optimize(sequence::sequence(&root, pure_by_default));
    group::use_image_shell(&mut actions, &opts.images);
    let grouping = group::group(actions, &opts.images, isolated);
    let (groups, setup) = group::finalize(grouping.groups, &opts.images, isolated);
    let uses_toolkit = groups
        .iter()
        .flatten()
        .any(|a| matches!(a, Action::Execute { toolkit: true, .. }));

    let mut volumes = pod.volumes.clone();
    volumes.extend(layer.volumes.iter().cloned());
    let pvcs = body
        .pvcs
        .iter()
        .filter_map(|(k, spec)| {
            pvc_names
                .get(k)
                .map(|n| (k.clone(), (n.clone(), spec.clone())))
        })
        .collect();
    let global_env = root
        .containers()
        .iter()
        .flat_map(|c| c.container.env.iter())
        .filter(|e| e.global == Some(true))
        .fold(Vec::<EnvVar>::new(), |mut acc, e| {
            acc.retain(|x| x.name != e.name);
            acc.push(e.clone());
            acc
        });
    Ok(Plan {
        workflow_name: name,
        resource_id: opts.resource_id.clone(),
        root_id: opts.root_id.clone(),
        namespace: opts.namespace.clone(),
        images: opts.images.clone(),
        signature: signature::signature(&root, false),
        full_signature: signature::signature(&root, true),
        root,
        groups,
        setup,
        decisions: grouping.decisions,
        config_maps: layer.config_maps,
        volumes,
        pvcs,
        secret_env: variables.secrets.into_inner(),
        pod,
        job,
        fs_group,
        global_env,
        image_metadata: fetched,
        defaults: defaults_for_bundle,
        uses_toolkit,
    })
}

/// The settings every step starts from: `CI=1` and the four shared directories.
fn default_container() -> ContainerConfig {
    ContainerConfig {
        env: vec![EnvVar {
            name: "CI".into(),
            value: Some("1".into()),
            ..Default::default()
        }],
        volume_mounts: paths::DEFAULT_VOLUMES
            .iter()
            .map(|(name, path)| VolumeMount {
                name: (*name).to_owned(),
                mount_path: (*path).to_owned(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn bundle_values(
    name: &str,
    opts: &PlanOptions<'_>,
    pvcs: &IndexMap<String, String>,
) -> IndexMap<String, Value> {
    let mut values = IndexMap::new();
    let mut set = |k: &str, v: &str| {
        values.insert(k.to_owned(), Value::String(v.to_owned()));
    };
    set("resource.id", &opts.resource_id);
    set("resource.root", &opts.root_id);
    set("resource.fsPrefix", "");
    set("workflow.name", name);
    set("internal.namespace", &opts.namespace);
    set("internal.images.init", &opts.images.init);
    set("internal.images.toolkit", &opts.images.toolkit);
    for (k, v) in pvcs {
        set(&format!("pvcs.{k}.name"), v);
    }
    values
}

/// Content files must be final text: a ConfigMap cannot wait for the runtime.
fn finalize_content(layer: &mut layer::Layer) -> Result<(), PlanError> {
    for cm in &mut layer.config_maps {
        for value in cm.data.values_mut() {
            if value.contains("{{") {
                *value = variables::final_text(value, "spec.content.files")?;
            }
        }
    }
    Ok(())
}

/// A DNS-1123 label from any text.
pub fn dns_label(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    out.trim_matches('-').chars().take(63).collect()
}
