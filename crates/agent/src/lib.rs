//! # testwerk-agent
//!
//! The Kubernetes backend. `testwerk agent --namespace <ns>` runs it: it installs (or checks)
//! our CRDs, then
//!
//! - starts an execution for every `TestWorkflowExecution` created in the namespace
//!   ([`twe`]) and for every request to its REST API ([`api`]);
//! - compiles the workflow with templates from the cluster (TestWorkflows and templates are
//!   watched, [`catalog`]) and image metadata read through the
//!   namespace's pull secrets, and creates its Secrets, ConfigMaps, PVCs and Job with
//!   deterministic names ([`submit`], [`objects`]);
//! - follows the Pod's containers in order, turning their logs into step results live and
//!   storing them in SQLite as they stream ([`monitor`]);
//! - attributes failures outside the steps — image pulls, OOM kills, deleted Pods, deadlines,
//!   unschedulable Pods — to the step they hit ([`failure`]);
//! - deletes every object when the execution ends (or keeps a failed one, if asked);
//! - aborts, pauses and resumes on request ([`control`]);
//! - starts the child executions an execution's toolkit asks for — parallel workers,
//!   services, executed workflows — under its own rights, and stops workers and services
//!   when their parent ends ([`children`]);
//! - mounts our images into execution Pods as image volumes where the cluster can
//!   (`--image-volumes`, probed at start: [`image_volumes`]), saving the setup container;
//! - queues executions beyond `--max-running` and a workflow's `spec.concurrency.max`
//!   ([`queue`]), and starts workflows on their cron schedules ([`schedule`]);
//! - with `--leader-election`, runs as one of several replicas sharing a PostgreSQL store:
//!   all serve the API, the leader (by a Lease) starts and follows executions ([`leader`]);
//! - after a restart (even SIGKILL), follows the unfinished executions again, settles those
//!   whose Job vanished, and cleans up what a finished one left ([`recover`]).
//!
//! One watch on Pods, one on Jobs and one on events ([`cluster::ClusterView`]) serve every
//! execution; the events each execution's objects got are stored with its results
//! ([`events`]).

pub mod api;
pub mod auth;
pub mod blueprint;
pub mod catalog;
pub mod children;
pub mod cluster;
pub mod control;
pub mod crd;
pub mod events;
pub mod failure;
pub mod image_volumes;
pub mod kinds;
pub mod leader;
pub mod live;
pub mod monitor;
pub mod objects;
pub mod queue;
pub mod recover;
pub mod schedule;
pub mod submit;
pub mod twe;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use testwerk_plan::OwnImages;
use testwerk_registry::{RegistryClient, RegistrySettings};
use testwerk_store::{ExecutionStatus, Store};

use cluster::ClusterView;
use live::Live;

/// Which finished executions keep their objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Cleanup {
    /// Delete everything when an execution ends.
    #[default]
    Always,
    /// Keep the objects of executions that did not pass, for debugging.
    KeepFailed,
    /// Never delete.
    Never,
}

impl Cleanup {
    pub fn applies(self, status: ExecutionStatus) -> bool {
        match self {
            Cleanup::Always => true,
            Cleanup::KeepFailed => status == ExecutionStatus::Passed,
            Cleanup::Never => false,
        }
    }
}

#[derive(Clone)]
pub struct AgentConfig {
    pub namespace: String,
    pub listen: SocketAddr,
    pub store: Option<PathBuf>,
    pub images: OwnImages,
    pub registry: RegistrySettings,
    pub cleanup: Cleanup,
    /// Create or update our CRDs (needs the permission); otherwise only check they exist.
    pub install_crds: bool,
    /// The ServiceAccount of execution Pods whose workflow names none (`deploy/rbac.yaml`'s
    /// `testwerk-execution` has no permissions); `None` leaves the namespace's default.
    pub execution_service_account: Option<String>,
    /// How long a Pod may stay unschedulable before its execution fails: a cluster that is
    /// scaling up needs a while, a `nodeSelector` nobody matches never gets better.
    pub unschedulable_limit: std::time::Duration,
    /// `--git-mirror FROM=TO`: where execution Pods fetch `content.git` repositories from.
    pub git_mirrors: Vec<testwerk_protocol::toolkit::GitMirror>,
    /// `--artifacts`, `--s3-endpoint`, `--s3-region`: where artifacts are stored (default: a
    /// folder beside the store).
    pub artifact_storage: testwerk_artifacts::StorageFlags,
    /// `--advertise-url`: the agent's API as execution Pods reach it, for artifact uploads.
    /// `None`: `http://<listen>` when that is an address Pods can reach (not loopback or
    /// unspecified); otherwise Pods get no artifact receiver and an `artifacts` step says so.
    pub advertise_url: Option<String>,
    /// `--max-running`: executions run at once; more wait in the queue ([`queue`]).
    pub max_running: Option<usize>,
    /// `--leader-election`: several replicas share the store; one leads ([`leader`]).
    pub leader_election: bool,
    /// `--image-volumes`: whether Pods mount our images instead of copying from them.
    pub image_volumes: image_volumes::ImageVolumes,
}

impl AgentConfig {
    /// What the toolkit of every execution is told.
    pub fn toolkit_settings(&self) -> testwerk_protocol::toolkit::ToolkitSettings {
        testwerk_protocol::toolkit::ToolkitSettings {
            git_mirrors: self.git_mirrors.clone(),
            artifacts: None,
            children: None,
        }
    }
}

/// The URL execution Pods upload artifacts to: `advertise`, or the listen address when Pods can
/// reach it.
pub fn artifact_base_url(advertise: Option<&str>, listen: SocketAddr) -> Option<String> {
    match advertise {
        Some(url) => Some(url.trim_end_matches('/').to_owned()),
        None if listen.ip().is_loopback() || listen.ip().is_unspecified() => None,
        None => Some(format!("http://{listen}")),
    }
}

/// What every part of the agent shares.
pub struct Agent {
    pub client: kube::Client,
    pub namespace: String,
    pub store: Arc<Store>,
    pub registry: RegistryClient,
    pub config: AgentConfig,
    pub view: ClusterView,
    /// The namespace's TestWorkflows and TestWorkflowTemplates, watched.
    pub catalog: catalog::Catalog,
    /// Receives the artifacts execution Pods upload, and serves them back.
    pub artifacts: Arc<testwerk_artifacts::Receiver>,
    /// Which executions hold a slot; the queue itself is in the store ([`queue`]).
    pub queue: queue::Queue,
    /// Whether this replica starts and follows executions ([`leader`]).
    pub leadership: leader::Leadership,
    /// How our binaries reach execution Pods now ([`image_volumes`]).
    pub delivery: image_volumes::Delivery,
    live: Mutex<HashMap<String, Arc<Live>>>,
    /// Why the store holds less than the agent saw of an execution, by execution id: the API
    /// shows it with the execution, which otherwise just stays `running` while the agent
    /// retries.
    store_trouble: Mutex<HashMap<String, String>>,
}

impl Agent {
    /// Our images, as executions are compiled with now.
    pub fn own_images(&self) -> OwnImages {
        OwnImages {
            delivery: self.delivery.current(),
            ..self.config.images.clone()
        }
    }

    /// Where execution `execution` (its full id) uploads artifacts, with its token; `None`
    /// when Pods cannot reach the agent (no `--advertise-url`, a loopback listen address).
    pub fn artifact_sink(
        &self,
        execution: &str,
    ) -> Option<testwerk_protocol::toolkit::ArtifactSink> {
        artifact_base_url(self.config.advertise_url.as_deref(), self.config.listen)
            .map(|base| self.artifacts.sink(&base, execution))
    }

    /// What the toolkit of execution `execution` is told: the agent's settings, its artifact
    /// sink and where it asks for child executions (both `None` when Pods cannot reach the
    /// agent).
    pub fn toolkit_settings(&self, execution: &str) -> testwerk_protocol::toolkit::ToolkitSettings {
        let mut settings = self.config.toolkit_settings();
        settings.artifacts = self.artifact_sink(execution);
        settings.children =
            artifact_base_url(self.config.advertise_url.as_deref(), self.config.listen)
                .map(|base| children::endpoint(self, &base, execution));
        settings
    }

    /// Starts following `live`; `false` if it is followed already.
    pub fn track(&self, live: Arc<Live>) -> bool {
        let Ok(mut map) = self.live.lock() else {
            return false;
        };
        if map.contains_key(&live.id) {
            return false;
        }
        map.insert(live.id.clone(), live);
        true
    }

    /// Stops following execution `id` (it ended): its slot goes to the next queued one.
    pub fn forget(&self, id: &str) {
        if let Ok(mut map) = self.live.lock() {
            map.remove(id);
        }
        self.queue.release(id);
    }

    /// Whether this replica starts and follows executions: always without
    /// `--leader-election`, otherwise while it holds the Lease.
    pub fn leads(&self) -> bool {
        self.leadership.leads()
    }

    /// Whether execution `id` (its full id) is followed.
    pub fn is_tracked(&self, id: &str) -> bool {
        self.live
            .lock()
            .map(|m| m.contains_key(id))
            .unwrap_or(false)
    }

    /// The followed execution that `query` (id, name or id prefix) names.
    pub fn live_by_query(&self, query: &str) -> Option<Arc<Live>> {
        let id = self.store.execution(query).ok().flatten()?.execution.id;
        self.live.lock().ok()?.get(&id).cloned()
    }

    pub fn is_tracked_resource(&self, resource: &str) -> bool {
        self.live
            .lock()
            .map(|m| m.values().any(|l| l.resource == resource))
            .unwrap_or(false)
    }

    /// Notes that the store refused (part of) execution `id`'s results, and why.
    pub fn note_store_trouble(&self, id: &str, why: String) {
        if let Ok(mut map) = self.store_trouble.lock() {
            map.insert(id.to_owned(), why);
        }
    }

    /// As [`Agent::note_store_trouble`], unless a note is there already: a refusal while the
    /// logs stream again keeps the note of why the execution stays unfinished.
    pub fn note_first_store_trouble(&self, id: &str, why: String) {
        if let Ok(mut map) = self.store_trouble.lock() {
            map.entry(id.to_owned()).or_insert(why);
        }
    }

    /// The store holds everything of execution `id` again.
    pub fn clear_store_trouble(&self, id: &str) {
        if let Ok(mut map) = self.store_trouble.lock() {
            map.remove(id);
        }
    }

    /// Why the store lacks results of execution `id`, while it does.
    pub fn store_trouble(&self, id: &str) -> Option<String> {
        self.store_trouble.lock().ok()?.get(id).cloned()
    }

    /// How many executions are followed now.
    pub fn running(&self) -> usize {
        self.live.lock().map(|m| m.len()).unwrap_or(0)
    }
}

/// What a surface adds to the agent's server (the web UI): its router, its routes for the
/// OpenAPI document, and a hook told every route the server ends up with.
pub struct Surface {
    pub router: axum::Router,
    pub routes: Vec<testwerk_routes::RouteDoc>,
    pub publish: Box<dyn FnOnce(Vec<testwerk_routes::RouteDoc>) + Send>,
}

/// What a surface is given to build itself: the agent, the gate every route goes through
/// and the latency every route is timed into.
pub type SurfaceMaker = Box<
    dyn FnOnce(
            &Arc<Agent>,
            Arc<dyn testwerk_routes::Gate>,
            Arc<testwerk_routes::latency::Latency>,
        ) -> Surface
        + Send,
>;

/// What only the leader does (every replica when there is no election): follow the unfinished
/// executions again, then start the queued ones, `TestWorkflowExecution`s and schedules.
async fn lead(agent: Arc<Agent>) {
    for note in recover::recover(&agent).await {
        tracing::info!("recovered {note}");
    }
    tokio::spawn(twe::run(agent.clone()));
    tokio::spawn(queue::run(agent.clone()));
    tokio::spawn(schedule::run(agent.clone()));
}

/// Connects, prepares the cluster, recovers, and serves until the process is stopped; the
/// API (and `surface`, the UI) only to callers Kubernetes lets in ([`auth`]).
pub async fn run(mut config: AgentConfig, surface: SurfaceMaker) -> Result<(), String> {
    // Bound first: with port 0 the port is known only now, and Pods upload artifacts to it.
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    config.listen = address;
    let client = kube::Client::try_default()
        .await
        .map_err(|e| format!("cannot reach Kubernetes (KUBECONFIG or in-cluster config): {e}"))?;
    crd::ensure(&client, config.install_crds).await?;
    // The agent's own store (per namespace) by default: a local `testwerk run` aborts the
    // executions of runners that are gone, which must never touch an agent's, even while the
    // agent is down.
    let path = match &config.store {
        Some(p) => p.clone(),
        None => Store::default_path()
            .map_err(|e| format!("results store: {e}"))?
            .with_file_name(format!("agent-{}.db", config.namespace)),
    };
    // The error names the store itself, without a PostgreSQL URL's password.
    let store = Store::open(&path).map_err(|e| format!("results store: {e}"))?;
    if config.leader_election && !store.is_postgres() {
        tracing::warn!(
            "--leader-election with the SQLite store {}: replicas on other nodes cannot share it; use a postgres:// --store",
            store.path().display()
        );
    }
    let store = Arc::new(store);
    let artifacts = artifact_receiver(&config, &store.files_beside(), &store)?;
    let registry = RegistryClient::new(config.registry.clone())
        .map_err(|e| format!("registry client: {e}"))?;
    let view = ClusterView::start(&client, &config.namespace);
    let catalog = catalog::Catalog::start(&client, &config.namespace);
    let agent = Arc::new(Agent {
        client,
        namespace: config.namespace.clone(),
        store,
        registry,
        config: config.clone(),
        view,
        catalog,
        artifacts,
        queue: queue::Queue::new(config.max_running),
        leadership: if config.leader_election {
            leader::Leadership::elected(leader::identity())
        } else {
            leader::Leadership::sole()
        },
        delivery: image_volumes::Delivery::new(config.image_volumes),
        live: Mutex::default(),
        store_trouble: Mutex::default(),
    });
    match config.image_volumes {
        image_volumes::ImageVolumes::Auto => {
            tokio::spawn(image_volumes::stop_on_sigterm(agent.clone()));
            tokio::spawn(image_volumes::detect(agent.clone()));
        }
        mode => tracing::info!("image volumes: {mode:?} (--image-volumes)"),
    }
    if agent.leadership.is_elected() {
        tokio::spawn(leader::run(agent.clone(), lead));
    } else {
        lead(agent.clone()).await;
    }
    // One line in this form: tests and scripts read the address from it.
    tracing::info!(
        "API on http://{address}, namespace {}, store {}",
        config.namespace,
        agent.store.path().display()
    );
    let router = server(&agent, surface);
    axum::serve(listener, router)
        .await
        .map_err(|e| format!("the API server stopped: {e}"))
}

/// The agent's whole server: its API, the artifact and toolkit routes, and the surface, all
/// behind one gate and one latency record.
fn server(agent: &Arc<Agent>, surface: SurfaceMaker) -> axum::Router {
    use testwerk_routes::{Gate, router};
    let gate: Arc<dyn Gate> = Arc::new(auth::KubeGate::new(
        agent.client.clone(),
        agent.namespace.clone(),
    ));
    let latency = Arc::new(testwerk_routes::latency::Latency::default());
    let (api, files, toolkit) = (
        api::routes(),
        testwerk_artifacts::Receiver::routes(),
        children::routes(),
    );
    let surface = surface(agent, Arc::clone(&gate), Arc::clone(&latency));
    let mut docs: Vec<testwerk_routes::RouteDoc> = Vec::new();
    docs.extend(api.iter().map(|r| r.doc().clone()));
    docs.extend(files.iter().map(|r| r.doc().clone()));
    docs.extend(toolkit.iter().map(|r| r.doc().clone()));
    docs.extend(surface.routes);
    (surface.publish)(docs);
    router(api, Arc::clone(&gate), Arc::clone(&latency))
        .with_state(Arc::clone(agent))
        .merge(
            router(files, Arc::clone(&gate), Arc::clone(&latency))
                .with_state(Arc::clone(&agent.artifacts)),
        )
        .merge(router(toolkit, gate, latency).with_state(Arc::clone(agent)))
        .merge(surface.router)
}

/// Artifact storage from the flags (default: `artifacts/` beside the store at `path`), and the
/// token key beside the store, so tokens outlive a restart.
fn artifact_receiver(
    config: &AgentConfig,
    path: &std::path::Path,
    store: &Arc<Store>,
) -> Result<Arc<testwerk_artifacts::Receiver>, String> {
    use testwerk_artifacts::{Receiver, Storage, StorageSettings, TokenKey};
    let settings =
        StorageSettings::from_flags(&config.artifact_storage, path, &|k| std::env::var(k).ok())
            .map_err(|e| e.to_string())?;
    let storage = Storage::open(&settings).map_err(|e| e.to_string())?;
    let tokens = TokenKey::load_or_create(&TokenKey::path_beside(path))?;
    match artifact_base_url(config.advertise_url.as_deref(), config.listen) {
        Some(url) => tracing::info!("artifacts: {} (Pods upload to {url})", storage.describe()),
        None => tracing::warn!(
            "artifacts: {}, but Pods cannot reach {}: pass --advertise-url with the address they reach the agent at, or `artifacts` steps fail",
            storage.describe(),
            config.listen
        ),
    }
    Ok(Arc::new(
        Receiver::new(storage, Arc::clone(store), tokens).with_hook(Arc::new(
            testwerk_artifacts::TestReports::new(Arc::clone(store)),
        )),
    ))
}

#[cfg(test)]
mod artifact_tests {
    use super::artifact_base_url;

    #[test]
    fn pods_upload_to_the_advertised_url_or_a_reachable_listen_address() {
        let any = "0.0.0.0:8088".parse().unwrap_or_else(|e| panic!("{e}"));
        let loopback = "127.0.0.1:8088".parse().unwrap_or_else(|e| panic!("{e}"));
        let node = "10.0.0.5:8088".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(artifact_base_url(None, any), None);
        assert_eq!(artifact_base_url(None, loopback), None);
        assert_eq!(
            artifact_base_url(None, node).as_deref(),
            Some("http://10.0.0.5:8088")
        );
        assert_eq!(
            artifact_base_url(Some("http://agent.testwerk:8088/"), any).as_deref(),
            Some("http://agent.testwerk:8088")
        );
    }
}
