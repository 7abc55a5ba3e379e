//! Starting an execution: load the workflow, gather templates from the cluster, record the
//! execution (which numbers it), compile it with image metadata read through the namespace's
//! pull secrets, create its objects, and start following it.

use std::collections::BTreeMap;
use std::sync::Arc;

use indexmap::IndexMap;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use serde::{Deserialize, Serialize};
use testwerk_pipeline::{CompileSettings, ExecutionFacts};
use testwerk_registry::{PodImageSource, PullSecret};
use testwerk_resolve::TemplateSet;
use testwerk_spec::{AnyDocument, Document, TestWorkflow};
use testwerk_store::{Execution, ExecutionStatus, NewExecution};

use crate::Agent;
use crate::blueprint::Blueprint;
use crate::kinds;
use crate::live::{Live, OwnerCr};

/// A request to run a workflow.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Submission {
    /// The YAML holding the workflow (and perhaps templates).
    pub source: String,
    /// Where the YAML came from, for error messages.
    pub file: String,
    /// Which workflow of the source, when it holds several.
    #[serde(default)]
    pub workflow: Option<String>,
    #[serde(default)]
    pub config: IndexMap<String, String>,
    #[serde(skip)]
    pub owner: Option<OwnerCr>,
    /// The tags a person gives it (checked by `testwerk_store::tags`).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Tags the agent gives it (a child's link to its parent), which nobody may send.
    #[serde(skip)]
    pub links: BTreeMap<String, String>,
}

/// Why a submission was refused.
#[derive(Debug)]
pub enum SubmitError {
    /// The workflow is wrong: each message names file, line and field.
    Input(Vec<String>),
    /// The agent could not do its part (the cluster, the store).
    Agent(String),
}

impl std::fmt::Display for SubmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubmitError::Input(m) => f.write_str(&m.join("\n\n")),
            SubmitError::Agent(m) => f.write_str(m),
        }
    }
}

/// Runs the submission; returns the execution once its Job exists. A workflow that does not
/// compile is still recorded — as a failed execution with the compiler's message.
pub async fn submit(agent: &Arc<Agent>, submission: Submission) -> Result<Execution, SubmitError> {
    let bad_tags: Vec<String> = submission
        .tags
        .iter()
        .filter_map(|(k, v)| testwerk_store::tags::check_tag(k, v).err())
        .collect();
    if !bad_tags.is_empty() {
        return Err(SubmitError::Input(bad_tags));
    }
    let docs = testwerk_spec::load_str(&submission.file, &submission.source)
        .map_err(|d| SubmitError::Input(d.iter().map(ToString::to_string).collect()))?;
    let mut workflows = Vec::new();
    let mut inline = Vec::new();
    for doc in docs {
        match doc {
            AnyDocument::Workflow(w) => workflows.push(w),
            AnyDocument::Template(t) => inline.push(t),
            AnyDocument::Execution(_) => {}
        }
    }
    let templates = cluster_templates(agent, &inline, false).await?;
    let doc = pick(workflows, submission.workflow.as_deref(), &submission.file)?;
    let workflow = doc.value.metadata.name.clone().unwrap_or_default();
    let doc_concurrency = doc.value.spec.body.concurrency.clone();
    let pull_secrets = pull_secrets(agent, &doc).await;

    let mut new = NewExecution::new(&workflow, submission.source.clone(), serde_json::json!({}));
    // The source is stored before it is compiled: Git credentials written in it are masked
    // in the stored copy from the start.
    new.secrets = testwerk_resolve::literal_credentials(&doc.value.spec);
    new.tags.extend(submission.tags.clone());
    new.tags.extend(submission.links.clone());
    let schema = &doc.value.spec.body.config;
    if let Some(config) = testwerk_store::tags::config_tag(&submission.config, |k| {
        schema.get(k).and_then(|p| p.sensitive) == Some(true)
    }) {
        new.tags
            .insert(testwerk_store::tags::CONFIG_TAG.to_owned(), config);
    }
    if let Some(owner) = &submission.owner {
        new.tags
            .insert(kinds::OWNER_TAG.to_owned(), owner.uid.clone());
        new.tags
            .insert(kinds::OWNER_NAME_TAG.to_owned(), owner.name.clone());
    }
    let execution = agent
        .store
        .create_execution(new)
        .map_err(|e| SubmitError::Agent(format!("results store: {e}")))?;
    let resource: String = testwerk_plan::dns_label(&execution.name)
        .chars()
        .take(57)
        .collect();

    let job = CompileJob {
        agent: agent.clone(),
        doc: Arc::new(doc),
        pull_secrets: Arc::new(pull_secrets),
        resource: resource.clone(),
        facts: facts(&execution),
        config: submission.config.clone(),
    };
    let templates = Arc::new(templates);
    let mut compiled = job.run(templates.clone()).await?;
    // The watched templates may trail one created a moment ago: list them once more.
    if compiled.is_err() && !templates.missed().is_empty() {
        let fresh = Arc::new(cluster_templates(agent, &inline, true).await?);
        compiled = job.run(fresh).await?;
    }
    let mut compiled = match compiled {
        Ok(c) => c,
        Err(messages) => {
            // The submitter gets the messages either way; the store's copy is for the list.
            if let Err(e) = agent.store.set_status(
                &execution.id,
                ExecutionStatus::Failed,
                Some(&messages.join("\n")),
            ) {
                tracing::error!(execution = %execution.name, error = %e, "cannot record that the workflow did not compile");
            }
            return Err(SubmitError::Input(messages));
        }
    };
    let secret_values: Vec<String> = compiled
        .bundle
        .secrets
        .iter()
        .flat_map(|s| s.string_data.iter().flatten().map(|(_, v)| v.clone()))
        .collect();
    agent.store.register_secrets(&execution.id, &secret_values);
    if let Some(account) = &agent.config.execution_service_account
        && let Some(pod) = compiled
            .bundle
            .job
            .spec
            .as_mut()
            .and_then(|s| s.template.spec.as_mut())
        && pod.service_account_name.is_none()
    {
        pod.service_account_name = Some(account.clone());
    }
    let mut blueprint = Blueprint::new(&compiled.plan, &compiled.bundle);
    let child = crate::queue::is_child(&submission.links);
    if !child {
        blueprint.limit = crate::queue::GroupLimit::of(&workflow, doc_concurrency.as_ref());
    }
    agent
        .store
        .set_plan(&execution.id, &blueprint.to_value())
        .map_err(|e| SubmitError::Agent(format!("results store: {e}")))?;
    {
        use crate::queue::Admission;
        // A replica that does not lead records the execution for the leader to start.
        let admission = if agent.leads() {
            agent
                .queue
                .try_admit(&execution.id, blueprint.limit.as_ref(), child)
        } else {
            Admission::AgentFull
        };
        match admission {
            Admission::Admitted | Admission::Starting => {}
            Admission::AgentFull | Admission::GroupFull => {
                // It waits in the store, its Secrets in the cluster: the queue needs nothing
                // else to start it, even after a restart.
                return match crate::objects::create_secrets(
                    &agent.client,
                    &agent.namespace,
                    &compiled.bundle.secrets,
                )
                .await
                {
                    Ok(()) => {
                        agent.queue.wake();
                        Ok(execution)
                    }
                    Err(e) => {
                        fail_unstarted(agent, &execution, &blueprint, &e.message).await;
                        Err(SubmitError::Agent(e.message))
                    }
                };
            }
        }
    }
    match start(
        agent,
        &execution,
        blueprint,
        &compiled.bundle.secrets,
        submission.owner,
    )
    .await
    {
        Ok(()) => Ok(execution),
        // The cluster refused the workflow's objects: the execution exists, and failed.
        Err(e) if e.invalid => Ok(agent
            .store
            .execution(&execution.id)
            .ok()
            .flatten()
            .map_or(execution, |d| d.execution)),
        Err(e) => Err(SubmitError::Agent(e.message)),
    }
}

/// Creates the objects (idempotent) and follows the execution. One that cannot start gives
/// its queue slot (if it held one) to the next in line.
pub(crate) async fn start(
    agent: &Arc<Agent>,
    execution: &Execution,
    blueprint: Blueprint,
    secrets: &[Secret],
    owner: Option<OwnerCr>,
) -> Result<(), crate::objects::CreateError> {
    let started = create_and_follow(agent, execution, blueprint, secrets, owner).await;
    if started.is_err() {
        agent.queue.release(&execution.id);
    }
    started
}

async fn create_and_follow(
    agent: &Arc<Agent>,
    execution: &Execution,
    blueprint: Blueprint,
    secrets: &[Secret],
    owner: Option<OwnerCr>,
) -> Result<(), crate::objects::CreateError> {
    let token = crate::objects::ensure_token(&agent.client, &agent.namespace, &blueprint)
        .await
        .map_err(|message| crate::objects::CreateError {
            message,
            invalid: false,
        })?;
    let owner_ref = owner.as_ref().map(kinds::owner_reference);
    if let Err(e) = crate::objects::create_all(
        &agent.client,
        &agent.namespace,
        &blueprint,
        secrets,
        owner_ref,
    )
    .await
    {
        fail_unstarted(agent, execution, &blueprint, &e.message).await;
        return Err(e);
    }
    attach(
        agent,
        &execution.id,
        &execution.name,
        blueprint,
        token,
        owner,
    );
    Ok(())
}

/// Records that execution `execution` failed before it started, and deletes what the cluster
/// did accept of its objects.
async fn fail_unstarted(agent: &Agent, execution: &Execution, blueprint: &Blueprint, why: &str) {
    if let Err(store) = agent
        .store
        .set_status(&execution.id, ExecutionStatus::Failed, Some(why))
    {
        // Left queued: recovery settles it after a restart.
        tracing::error!(execution = %execution.name, error = %store, "cannot record that the cluster refused the execution's objects");
    }
    if let Err(d) =
        crate::objects::delete_all(&agent.client, &agent.namespace, &blueprint.resource).await
    {
        tracing::warn!(execution = %execution.name, error = %d, "deleting the objects the cluster did accept");
    }
}

/// Follows an execution whose objects exist.
pub(crate) fn attach(
    agent: &Arc<Agent>,
    id: &str,
    name: &str,
    blueprint: Blueprint,
    token: String,
    owner: Option<OwnerCr>,
) {
    let live = Arc::new(Live::new(
        id.to_owned(),
        name.to_owned(),
        blueprint.resource.clone(),
        blueprint.signature.clone(),
        blueprint.full_signature.clone(),
        owner,
        token.clone(),
    ));
    if !agent.track(live.clone()) {
        return; // already followed
    }
    tokio::spawn(crate::monitor::follow(
        agent.clone(),
        live,
        blueprint,
        token,
    ));
}

fn pick(
    workflows: Vec<Document<TestWorkflow>>,
    name: Option<&str>,
    file: &str,
) -> Result<Document<TestWorkflow>, SubmitError> {
    let input = |m: String| SubmitError::Input(vec![format!("error: {m}")]);
    let names: Vec<String> = workflows
        .iter()
        .filter_map(|w| w.value.metadata.name.clone())
        .collect();
    match name {
        Some(n) => workflows
            .into_iter()
            .find(|w| w.value.metadata.name.as_deref() == Some(n))
            .ok_or_else(|| input(format!("no TestWorkflow named `{n}` in {file}"))),
        None if workflows.len() == 1 => workflows
            .into_iter()
            .next()
            .ok_or_else(|| input(format!("no TestWorkflow in {file}"))),
        None if workflows.is_empty() => Err(input(format!("no TestWorkflow in {file}"))),
        None => Err(input(format!(
            "{file} holds {} workflows; choose one ({})",
            names.len(),
            names.join(", ")
        ))),
    }
}

/// One workflow's compilation, which may run twice (see [`submit`]).
struct CompileJob {
    agent: Arc<Agent>,
    doc: Arc<Document<TestWorkflow>>,
    pull_secrets: Arc<Vec<PullSecret>>,
    resource: String,
    facts: ExecutionFacts,
    config: IndexMap<String, String>,
}

/// The `execution.*` variables of a recorded execution: what its steps see is what the store
/// (and so the API) says about it.
fn facts(execution: &Execution) -> ExecutionFacts {
    ExecutionFacts {
        id: execution.id.clone(),
        name: execution.name.clone(),
        number: execution.number,
        scheduled_at: execution.created_at.to_string(),
    }
}

impl CompileJob {
    /// Compiles on a blocking thread (image lookups wait on registries); `Err` inside holds
    /// the compiler's messages.
    async fn run(
        &self,
        templates: Arc<TemplateSet>,
    ) -> Result<Result<testwerk_pipeline::Compiled, Vec<String>>, SubmitError> {
        let agent = self.agent.clone();
        let doc = self.doc.clone();
        let pull_secrets = self.pull_secrets.clone();
        let resource = self.resource.clone();
        let facts = self.facts.clone();
        let config = self.config.clone();
        let toolkit = agent.toolkit_settings(&facts.id);
        tokio::task::spawn_blocking(move || {
            let source = PodImageSource {
                client: &agent.registry,
                pull_secrets: &pull_secrets,
                pull_policy: None,
            };
            let settings = CompileSettings {
                namespace: agent.namespace.clone(),
                images: agent.own_images(),
                image_source: &source,
                execution_id: Some(resource),
                execution: Some(facts),
                config,
                target: testwerk_pipeline::Target::Kubernetes,
                toolkit: Some(toolkit),
            };
            testwerk_pipeline::compile(&doc, &templates, &settings)
                .map_err(|d| d.iter().map(ToString::to_string).collect())
        })
        .await
        .map_err(|e| SubmitError::Agent(format!("the compiler stopped: {e}")))
    }
}

/// Every TestWorkflowTemplate of the namespace (from the watch, or listed when `fresh`),
/// loaded as if from files, plus the templates that came with the workflow.
async fn cluster_templates(
    agent: &Agent,
    inline: &[Document<testwerk_spec::TestWorkflowTemplate>],
    fresh: bool,
) -> Result<TemplateSet, SubmitError> {
    let objects = agent
        .catalog
        .templates(fresh)
        .await
        .map_err(|e| SubmitError::Agent(format!("listing TestWorkflowTemplates: {e}")))?;
    let mut set = TemplateSet::new();
    let mut errors = Vec::new();
    for object in objects {
        let name = object.metadata.name.clone().unwrap_or_default();
        let file = format!(
            "TestWorkflowTemplate {name} (namespace {})",
            agent.namespace
        );
        let yaml = kinds::to_yaml(&object, "TestWorkflowTemplate");
        match testwerk_spec::load_str(&file, &yaml) {
            Ok(docs) => {
                for d in docs {
                    if let AnyDocument::Template(t) = d
                        && let Err(e) = set.add(t)
                    {
                        errors.push(e.to_string());
                    }
                }
            }
            Err(d) => errors.extend(d.iter().map(ToString::to_string)),
        }
    }
    // A broken template only matters to the workflows that use it: those fail to resolve
    // with "template not found"; say why here too.
    for e in errors {
        tracing::warn!(error = %e, "skipping a template");
    }
    for t in inline {
        set.add(t.clone())
            .map_err(|d| SubmitError::Input(vec![d.to_string()]))?;
    }
    Ok(set)
}

/// The pull secrets the workflow's Pod names, read from the namespace. One that cannot be read
/// is left out: the lookup then fails naming the registry and what it wanted.
async fn pull_secrets(agent: &Agent, doc: &Document<TestWorkflow>) -> Vec<PullSecret> {
    let names: Vec<String> = doc
        .value
        .spec
        .body
        .pod
        .as_ref()
        .map(|p| {
            p.image_pull_secrets
                .iter()
                .map(|r| r.name.clone())
                .filter(|n| !n.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(agent.client.clone(), &agent.namespace);
    let mut out = Vec::new();
    for name in names {
        // Expressions in names resolve later; a secret we cannot read is simply not used.
        let Ok(Some(secret)) = api.get_opt(&name).await else {
            continue;
        };
        let data: BTreeMap<String, Vec<u8>> = secret
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect();
        if let Ok(s) = PullSecret::from_secret(&name, secret.type_.as_deref(), &data) {
            out.push(s);
        }
    }
    out
}

/// Runs the workflow of the execution `query` names again: the same source, configuration
/// and tags (not testwerk's links: a re-run is nobody's child). A configuration with a
/// sensitive value cannot be given again (its value was never stored) and is refused.
pub async fn rerun(agent: &Arc<Agent>, query: &str) -> Result<Execution, SubmitError> {
    let detail = agent
        .store
        .execution(query)
        .map_err(|e| SubmitError::Input(vec![e.to_string()]))?
        .ok_or_else(|| SubmitError::Input(vec![format!("no execution `{query}`")]))?;
    let e = &detail.execution;
    let config = match e.tags.get(testwerk_store::tags::CONFIG_TAG) {
        Some(text) => testwerk_store::tags::config_from_tag(text)
            .map_err(|m| SubmitError::Input(vec![format!("{}: {m}", e.name)]))?
            .into_iter()
            .collect(),
        None => IndexMap::new(),
    };
    let submission = Submission {
        source: detail.source.clone(),
        file: format!("the source of {}", e.name),
        workflow: Some(e.workflow.clone()),
        config,
        owner: None,
        tags: e
            .tags
            .iter()
            .filter(|(k, _)| !k.starts_with(testwerk_store::tags::RESERVED_PREFIX))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        links: BTreeMap::new(),
    };
    submit(agent, submission).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use testwerk_store::Store;

    /// The cluster test of this path is the lead's (it needs the test cluster); this proves
    /// the facts come from the stored execution and reach the compiled Job.
    #[test]
    fn steps_see_the_recorded_execution() {
        let dir = std::env::temp_dir().join(format!("testwerk-agent-facts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let store = Store::open(dir.join("agent.db")).expect("a real store");
        store
            .create_execution(NewExecution::new("facts", "", serde_json::json!({})))
            .expect("first");
        let execution = store
            .create_execution(NewExecution::new("facts", "", serde_json::json!({})))
            .expect("second");
        let f = facts(&execution);
        assert_eq!(
            (f.id.as_str(), f.name.as_str(), f.number),
            (execution.id.as_str(), "facts-2", 2)
        );
        assert_eq!(f.scheduled_at, execution.created_at.to_string());

        let yaml = "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata: {name: facts}\nspec:\n  container: {image: 'alpine:3.22.0'}\n  steps:\n  - shell: echo '{{execution.id}}/{{execution.name}}/{{execution.number}}/{{execution.scheduledAt}}/{{namespace}}'\n";
        let docs = testwerk_spec::load_str("facts.yaml", yaml).expect("valid YAML");
        let Some(AnyDocument::Workflow(doc)) = docs.into_iter().next() else {
            panic!("a workflow");
        };
        let settings = CompileSettings {
            namespace: "team-a".into(),
            images: testwerk_pipeline::default_images(),
            image_source: &testwerk_plan::NoImages,
            execution_id: Some("facts-2".into()),
            execution: Some(f),
            config: IndexMap::new(),
            target: testwerk_pipeline::Target::Kubernetes,
            toolkit: None,
        };
        let compiled = testwerk_pipeline::compile(&doc, &TemplateSet::new(), &settings)
            .unwrap_or_else(|e| panic!("{}", e[0]));
        let job = serde_json::to_string(&compiled.bundle.job).expect("JSON");
        let expected = format!("{}/facts-2/2/{}/team-a", execution.id, execution.created_at);
        assert!(job.contains(&expected), "{expected} not in {job}");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
