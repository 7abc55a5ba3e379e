//! # testwerk-pipeline
//!
//! From files to Kubernetes objects: the whole compile pipeline, once, for every surface and
//! backend — load YAML ([`load_inputs`]), gather templates ([`load_templates`]), resolve, plan
//! and bundle ([`compile`]), with image metadata from registries ([`registry_client`]).

use std::path::{Path, PathBuf};

/// Where a compiled execution runs: decides which of Kubernetes' size limits are checked.
pub use testwerk_bundle::limits::Target;
use testwerk_bundle::{Bundle, BundleError, BundleOptions};
use testwerk_expr::{MapMachine, Value};
use testwerk_plan::{ImageSource, OwnImages, Plan, PlanError, PlanOptions};
use testwerk_resolve::{ResolveOptions, TemplateSet};
use testwerk_spec::{AnyDocument, Diagnostic, Document, TestWorkflow};

/// YAML of `value` as every surface prints objects (`compile`, `image inspect`, the agent's
/// custom resources): block style, multi-line strings as literal blocks, long lines never
/// folded (annotations holding JSON stay one line).
pub fn to_yaml<T: serde::Serialize>(value: &T) -> Result<String, String> {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.folded_wrap_chars = usize::MAX;
    serde_saphyr::to_string_with_options(value, options).map_err(|e| e.to_string())
}

/// Default images, tagged with this build's version.
pub fn default_images() -> OwnImages {
    let version = env!("CARGO_PKG_VERSION");
    OwnImages {
        init: format!("testwerk/init:{version}"),
        toolkit: format!("testwerk/toolkit:{version}"),
        delivery: Default::default(),
    }
}

/// The workflows of one file and every template that can be used with them.
pub struct Inputs {
    pub workflows: Vec<Document<TestWorkflow>>,
    pub templates: TemplateSet,
}

/// Loads `file` (its workflows and templates) and every template under `template_paths`
/// (files, or directories searched recursively for `.yaml`/`.yml`).
pub fn load_inputs(file: &Path, template_paths: &[PathBuf]) -> Result<Inputs, Vec<Diagnostic>> {
    let templates = load_templates(template_paths, Some(file))?;
    load_file(file, &templates)
}

/// Loads the workflows of `file`; its templates join (a copy of) `templates`.
pub fn load_file(file: &Path, templates: &TemplateSet) -> Result<Inputs, Vec<Diagnostic>> {
    let mut templates = templates.clone();
    let mut errors = Vec::new();
    let mut workflows = Vec::new();
    for doc in testwerk_spec::load_path(file)? {
        match doc {
            AnyDocument::Workflow(w) => workflows.push(w),
            AnyDocument::Template(t) => {
                if let Err(e) = templates.add(t) {
                    errors.push(e);
                }
            }
            AnyDocument::Execution(_) => {}
        }
    }
    if errors.is_empty() {
        Ok(Inputs {
            workflows,
            templates,
        })
    } else {
        Err(errors)
    }
}

/// Every `TestWorkflowTemplate` under `paths` (except in `skip`, read separately by the caller).
pub fn load_templates(
    paths: &[PathBuf],
    skip: Option<&Path>,
) -> Result<TemplateSet, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let mut templates = TemplateSet::new();
    let skip = skip.and_then(|f| f.canonicalize().ok());
    for path in template_files(paths, &mut errors) {
        if skip.is_some() && path.canonicalize().ok() == skip {
            continue;
        }
        let Some(loaded) = api_documents(&path) else {
            continue;
        };
        match loaded {
            Ok(docs) => {
                for doc in docs {
                    if let AnyDocument::Template(t) = doc
                        && let Err(e) = templates.add(t)
                    {
                        errors.push(e);
                    }
                }
            }
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(templates)
    } else {
        Err(errors)
    }
}

/// The documents of `path`, when it speaks our API; `None` for other files (a folder of
/// templates or workflows may hold Kubernetes manifests and tool configs) and unreadable ones.
/// Checked on bytes, so a file of ours with a bad byte is reported rather than skipped.
pub fn api_documents(path: &Path) -> Option<Result<Vec<AnyDocument>, Vec<Diagnostic>>> {
    const API_GROUP: &[u8] = b"testworkflows.testkube.io";
    let bytes = std::fs::read(path).ok()?;
    if !bytes.windows(API_GROUP.len()).any(|w| w == API_GROUP) {
        return None;
    }
    Some(testwerk_spec::load_bytes(
        &path.display().to_string(),
        bytes,
    ))
}

/// The `.yaml`/`.yml` files under `paths` (`--templates`), sorted, so results never depend on
/// directory order.
pub fn template_files(paths: &[PathBuf], errors: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    yaml_files(paths, "--templates", errors)
}

/// The `.yaml`/`.yml` files under `paths`, sorted; a path that does not exist is an error
/// naming `flag`.
pub fn yaml_files(paths: &[PathBuf], flag: &str, errors: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            errors.push(Diagnostic::file(
                p.display().to_string(),
                format!("{flag}: no such file or directory"),
            ));
        }
    }
    out.sort();
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
}

/// What the backend running an execution knows about it when it compiles it: the values of
/// the `execution.*` variables (`namespace` is [`CompileSettings::namespace`]). Both backends
/// fill it from their execution record (the local store, the agent's store) before compiling,
/// so a step sees the id, name and number that `testwerk executions` shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutionFacts {
    /// `execution.id` (and `execution.groupId`: a single execution is its own group).
    pub id: String,
    /// `execution.name`: `<workflow>-<number>`.
    pub name: String,
    /// `execution.number`: the execution's number among the workflow's executions, from 1.
    pub number: u64,
    /// `execution.scheduledAt`: when it was scheduled, RFC 3339 in UTC.
    pub scheduled_at: String,
}

/// `execution.scheduledAt` when compiling without an execution: fixed, so the same workflow
/// always compiles to the same objects.
pub const UNSCHEDULED: &str = "1970-01-01T00:00:00.000Z";

impl ExecutionFacts {
    /// Execution 1 of `workflow`, for compiling without running (`testwerk compile`, tests):
    /// its id is the name of its objects, and it is [`UNSCHEDULED`].
    pub fn first(workflow: &str, resource_id: &str) -> ExecutionFacts {
        ExecutionFacts {
            id: resource_id.to_owned(),
            name: format!("{workflow}-1"),
            number: 1,
            scheduled_at: UNSCHEDULED.to_owned(),
        }
    }

    /// The phase-A variables: `execution.*`, `namespace`, and the empty `organization.*` and
    /// `environment.*`.
    pub fn variables(&self, namespace: &str) -> MapMachine {
        MapMachine::new([
            ("execution.id", Value::from(self.id.as_str())),
            ("execution.groupId", Value::from(self.id.as_str())),
            ("execution.name", Value::from(self.name.as_str())),
            ("execution.number", Value::from(self.number)),
            (
                "execution.scheduledAt",
                Value::from(self.scheduled_at.as_str()),
            ),
            ("namespace", Value::from(namespace)),
            // There is no control plane: no organization or environment (upstream's standalone
            // agent leaves them empty too), so `environment.id == "…"` is simply false.
            ("organization.id", Value::from("")),
            ("organization.slug", Value::from("")),
            ("environment.id", Value::from("")),
            ("environment.slug", Value::from("")),
        ])
    }
}

/// Settings of one compilation.
pub struct CompileSettings<'a> {
    /// Where the execution's objects go; the `namespace` variable.
    pub namespace: String,
    pub images: OwnImages,
    pub image_source: &'a dyn ImageSource,
    /// Name of the execution's objects (the Job); defaults to `<workflow>-1`.
    pub execution_id: Option<String>,
    /// The execution being compiled; `None` compiles [`ExecutionFacts::first`].
    pub execution: Option<ExecutionFacts>,
    pub config: indexmap::IndexMap<String, String>,
    /// Where the execution runs: the objects are the same, but the API server's limits (one
    /// Job, one ConfigMap, annotations) bind only on [`Target::Kubernetes`].
    pub target: Target,
    /// What the backend tells the toolkit (Git mirrors, where artifacts go); see
    /// [`testwerk_bundle::BundleOptions::toolkit`].
    pub toolkit: Option<testwerk_protocol::toolkit::ToolkitSettings>,
}

fn default_resource_id(workflow: &str) -> String {
    format!(
        "{}-1",
        testwerk_plan::dns_label(workflow)
            .chars()
            .take(56)
            .collect::<String>()
    )
}

/// A compiled workflow: its plan and its objects.
pub struct Compiled {
    pub name: String,
    pub plan: Plan,
    pub bundle: Bundle,
}

/// Resolves, plans and bundles one workflow.
pub fn compile(
    doc: &Document<TestWorkflow>,
    templates: &TemplateSet,
    settings: &CompileSettings<'_>,
) -> Result<Compiled, Vec<Diagnostic>> {
    let name = doc.value.metadata.name.clone().unwrap_or_default();
    let id = settings
        .execution_id
        .clone()
        .unwrap_or_else(|| default_resource_id(&name));
    let secret_name = format!("{id}-config");
    let facts = match &settings.execution {
        Some(facts) => facts.variables(&settings.namespace),
        None => ExecutionFacts::first(&name, &id).variables(&settings.namespace),
    };
    let opts = ResolveOptions {
        config: settings.config.clone(),
        secret_name: secret_name.clone(),
        variables: Some(&facts),
        ..Default::default()
    };
    let resolved = testwerk_resolve::resolve(doc, templates, &opts)?;
    let plan_opts = PlanOptions {
        resource_id: id.clone(),
        root_id: id,
        namespace: settings.namespace.clone(),
        images: settings.images.clone(),
        image_source: settings.image_source,
    };
    let plan = testwerk_plan::compile(&resolved.workflow, &plan_opts)
        .map_err(|e| vec![plan_diagnostic(doc, &e)])?;
    let mut bundle_opts = BundleOptions {
        target: settings.target,
        toolkit: settings.toolkit.clone(),
        ..Default::default()
    };
    if !resolved.secrets.is_empty() {
        bundle_opts
            .secrets
            .insert(secret_name, resolved.secrets.clone());
    }
    let bundle = testwerk_bundle::build(&plan, &bundle_opts)
        .map_err(|e| vec![bundle_diagnostic(doc, &plan, &e)])?;
    Ok(Compiled { name, plan, bundle })
}

/// A bundle error at the step it names (a size limit's first step over it), else at `spec`.
fn bundle_diagnostic(doc: &Document<TestWorkflow>, plan: &Plan, e: &BundleError) -> Diagnostic {
    let step = match e {
        BundleError::TooBig(limit) => limit.step.as_ref(),
        BundleError::Invalid(_) => None,
    };
    // The step holding the stage: `spec.steps[811]` for the stage `spec.steps[811].shell`
    // (a step is always an item of a list), placed at its line, or at its nearest written
    // ancestor's (a step a template added stands at the `use` or `template` that brought it).
    let path = step
        .and_then(|(r, _)| plan.root.find(r))
        .map_or("spec", |stage| {
            let path = stage.meta().path.as_str();
            path.rfind(']').map_or(path, |end| &path[..=end])
        });
    let path = if path.starts_with("spec") {
        path
    } else {
        "spec"
    };
    doc.source.diagnostic(path, e.to_string())
}

fn plan_diagnostic(doc: &Document<TestWorkflow>, e: &PlanError) -> Diagnostic {
    let path = if e.path.starts_with("spec") {
        e.path.clone()
    } else {
        "spec".to_owned()
    };
    let message = if e.path.starts_with("spec") {
        e.message.clone()
    } else {
        e.to_string()
    };
    let mut d = doc.source.diagnostic(&path, message);
    if let Some(help) = &e.help {
        d = d.with_suggestion(help.clone());
    }
    d
}

// ---------------------------------------------------------------------------------------------
// Image metadata from registries (when `--images` is not given).

/// Registry settings from the command line.
#[derive(Clone, Debug, Default)]
pub struct RegistryOptions {
    /// Docker config JSON files or Kubernetes Secret manifests with registry credentials.
    pub docker_configs: Vec<PathBuf>,
    /// Registries (`host[:port]`) spoken to over plain HTTP.
    pub insecure: Vec<String>,
    /// `host[:port]=ca.pem`: CA bundles trusted for a registry.
    pub ca_bundles: Vec<String>,
    /// The nodes' platform, `os/arch[/variant]`.
    pub platform: Option<String>,
    /// `REGISTRY=HOST`: a mirror asked instead of a registry (`docker.io=127.0.0.1:5000`).
    pub mirrors: Vec<String>,
}

/// A registry client as the CLI uses it: the process environment's cloud credentials,
/// `~/.docker/config.json`, and the durable image cache (opened only if a lookup happens).
pub fn registry_client(
    opts: &RegistryOptions,
) -> Result<testwerk_registry::RegistryClient, String> {
    testwerk_registry::RegistryClient::new(registry_settings(opts)?)
}

/// The settings [`registry_client`] uses, for callers that add their own.
pub fn registry_settings(
    opts: &RegistryOptions,
) -> Result<testwerk_registry::RegistrySettings, String> {
    use testwerk_registry::{Platform, RegistrySettings, SqliteCache};
    let mut settings = RegistrySettings {
        docker_configs: opts.docker_configs.clone(),
        local_docker_config: true,
        ..Default::default()
    };
    if let Some(p) = &opts.platform {
        settings.platform = Platform::parse(p).map_err(|e| format!("--platform: {e}"))?;
    }
    for host in &opts.insecure {
        settings.hosts.entry(host.clone()).or_default().plain_http = true;
    }
    for pair in &opts.mirrors {
        settings.add_mirror(pair)?;
    }
    for pair in &opts.ca_bundles {
        let (host, file) = pair
            .split_once('=')
            .ok_or_else(|| format!("--registry-ca `{pair}`: expected HOST=FILE"))?;
        settings.hosts.entry(host.to_owned()).or_default().ca_bundle = Some(PathBuf::from(file));
    }
    if let Some(path) = SqliteCache::default_path(&settings.environment) {
        settings.durable = Some(std::sync::Arc::new(SqliteCache::deferred(&path)));
    }
    Ok(settings)
}

/// `testwerk image inspect`: what the registry says about `image`.
pub fn inspect_image(
    client: &testwerk_registry::RegistryClient,
    image: &str,
) -> Result<serde_json::Value, String> {
    let found = client.inspect(image).map_err(|e| match e.hint() {
        Some(hint) => format!("{e} ({hint})"),
        None => e.to_string(),
    })?;
    let info = &found.info;
    let config = &info.config;
    let (uid, gid, user_note) = match config.user_ids() {
        Ok(ids) => (ids.map(|i| i.uid), ids.and_then(|i| i.gid), None),
        Err(e) => (None, None, Some(e.to_string())),
    };
    let mut doc = serde_json::json!({
        "reference": info.reference,
        "digest": info.digest,
        "manifestDigest": info.manifest_digest,
        "configDigest": info.config_digest,
        "mediaType": info.media_type,
        "platform": info.platform.to_string(),
        "source": found.origin,
        "entrypoint": config.entrypoint,
        "cmd": config.cmd,
        "workingDir": config.working_dir,
        "user": config.user,
        "uid": uid,
        "gid": gid,
        "env": config.env,
    });
    if let Some(note) = user_note {
        doc["userNote"] = serde_json::Value::String(note);
    }
    Ok(doc)
}
