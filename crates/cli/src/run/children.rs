//! Child executions of a local run: parallel workers, services and executed workflows.
//!
//! The toolkit inside the run asks for them over HTTP on the run's loopback server
//! ([`testwerk_protocol::children`]), with the execution's token. Each child is a `testwerk
//! run` process of its own, with the same store and flags: it compiles, runs and records the
//! child exactly as a run the user started, tagged with its parent
//! ([`PARENT_TAG`](testwerk_protocol::children::PARENT_TAG)). A child that cannot even start
//! (a worker that does not compile) is reported failed with what its process said.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use testwerk_artifacts::TokenKey;
use testwerk_children::check::Parent;
use testwerk_local::network::PodNetwork;
use testwerk_protocol::children::{
    ChildKind, ChildRequest, ChildStarted, ChildState, ChildWorkflow, ChildrenEndpoint,
    NEXT_HEADER, Selected, Selection, StopGroup, Stopped,
};
use testwerk_protocol::plan::WirePlan;
use testwerk_store::Store;

/// Log lines sent in one answer.
const LOG_LINES_PER_ANSWER: u64 = 2000;
/// How long a child may take to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(20);

/// The route every child request is under.
const ROUTE: &str = "/api/v1/executions/{parent}/children";

/// What a child run gets besides its workflow.
pub struct ChildSettings {
    /// The parent's workflow name: a worker is named `<it>-<step>-<n>`.
    pub workflow: String,
    /// The `testwerk` program to run children with.
    pub program: PathBuf,
    /// Flags every child gets: store, mode, registries, mirrors, artifacts.
    pub pass_on: Vec<OsString>,
    pub templates: Vec<PathBuf>,
    /// Workflows `execute` may name: the run's file's and `--workflows`'.
    pub catalog: Vec<CatalogEntry>,
    /// Where child documents and the children's own output go.
    pub dir: PathBuf,
    /// Workers and services get networks of their own ([`PodNetwork`]); otherwise they share
    /// this machine's.
    pub pod_networks: bool,
}

/// The children of one local execution.
pub struct LocalChildren {
    parent: String,
    store: Arc<Store>,
    tokens: TokenKey,
    settings: ChildSettings,
    running: Mutex<HashMap<String, Running>>,
    /// The parent's compiled plan and artifact URL: only the children it declares start.
    declared: OnceLock<Declared>,
}

struct Declared {
    plan: WirePlan,
    sink: Option<String>,
}

struct Running {
    kind: ChildKind,
    parent_ref: String,
    process: Child,
    output: PathBuf,
    /// Its Pod's own network, deleted when the child is forgotten.
    network: Option<PodNetwork>,
}

impl LocalChildren {
    pub fn new(
        parent: &str,
        store: Arc<Store>,
        tokens: TokenKey,
        settings: ChildSettings,
    ) -> Arc<LocalChildren> {
        Arc::new(LocalChildren {
            parent: parent.to_owned(),
            store,
            tokens,
            settings,
            running: Mutex::new(HashMap::new()),
            declared: OnceLock::new(),
        })
    }

    /// The parent is compiled: `plan` declares its children, `sink` is where they read its
    /// artifacts ([`testwerk_protocol::toolkit::Endpoint::shared`]).
    pub fn declare(&self, plan: WirePlan, sink: Option<String>) {
        let _ = self.declared.set(Declared { plan, sink });
    }

    /// `Ok` when `request` is a child the parent's plan starts. The toolkit's token is
    /// readable by the parent's test code, so nothing else does.
    fn allowed(&self, request: &ChildRequest) -> Result<(), String> {
        let Some(declared) = self.declared.get() else {
            return Err("the parent is not compiled yet".into());
        };
        let labels = match &request.workflow {
            ChildWorkflow::Named(name) => self
                .settings
                .catalog
                .iter()
                .find(|e| &e.name == name)
                .map(|e| &e.labels),
            ChildWorkflow::Document(_) => None,
        };
        let matches =
            |selection: &Selection, _: &str| labels.is_some_and(|l| selection.matches(Some(l)));
        Parent {
            plan: &declared.plan,
            sink: declared.sink.as_deref(),
        }
        .check(request, &matches)
        .map_err(|r| r.to_string())
    }

    /// Where the toolkit asks, given the server's base URL.
    pub fn endpoint(&self, base_url: &str) -> ChildrenEndpoint {
        ChildrenEndpoint {
            url: format!(
                "{}{}",
                base_url.trim_end_matches('/'),
                ROUTE.replace("{parent}", &self.parent)
            ),
            token: self.tokens.token(&self.parent),
            shared: None,
        }
    }

    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route(ROUTE, post(start))
            .route(&format!("{ROUTE}/select"), post(select))
            .route(&format!("{ROUTE}/stop"), post(stop))
            .route(&format!("{ROUTE}/{{id}}"), get(state))
            .route(&format!("{ROUTE}/{{id}}/logs"), get(logs))
            .route(&format!("{ROUTE}/{{id}}/abort"), post(abort))
            .route(&format!("{ROUTE}/{{id}}/resume"), post(resume))
            .route(&format!("{ROUTE}/{{id}}/files/{{name}}"), get(file))
            .with_state(Arc::clone(self))
    }

    /// The run is over: workers still running are stopped (their step is over too); executed
    /// workflows started with `async` go on, as their own runs.
    pub fn finish(&self) {
        let mut running = match self.running.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        for child in running.values_mut() {
            if child.kind != ChildKind::Execution && matches!(child.process.try_wait(), Ok(None)) {
                terminate(&child.process);
            }
        }
        let deadline = Instant::now() + STOP_GRACE;
        for child in running.values_mut() {
            if child.kind == ChildKind::Execution {
                continue;
            }
            while matches!(child.process.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if matches!(child.process.try_wait(), Ok(None)) {
                let _ = child.process.kill();
                let _ = child.process.wait();
            }
            // Its containers are gone: so goes its network.
            child.network = None;
        }
    }

    /// `Some(401)` unless the request carries this execution's token.
    fn refused(&self, parent: &str, headers: &HeaderMap) -> Option<Response> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match token {
            Some(t) if parent == self.parent && self.tokens.verify(parent, t) => None,
            _ => Some(error(
                StatusCode::UNAUTHORIZED,
                "a token of this execution is needed",
            )),
        }
    }

    /// `Some(answer)` unless the request carries this execution's token and `id` is a child
    /// of it.
    fn guard(&self, parent: &str, id: &str, headers: &HeaderMap) -> Option<Response> {
        if let Some(denied) = self.refused(parent, headers) {
            return Some(denied);
        }
        let known = self
            .running
            .lock()
            .map(|r| r.contains_key(id))
            .unwrap_or(false);
        (!known).then(|| error(StatusCode::NOT_FOUND, "no such child of this execution"))
    }

    /// Starts a child process (once the last child of the same workflow has recorded itself).
    fn start_child(&self, request: ChildRequest) -> Result<ChildStarted, String> {
        let id = testwerk_store::new_execution_id();
        let dir = &self.settings.dir;
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut args: Vec<OsString> = vec!["run".into()];
        match &request.workflow {
            ChildWorkflow::Document(doc) => {
                let (doc, _) =
                    testwerk_protocol::children::named_document(doc, &self.settings.workflow);
                let file = dir.join(format!("{id}.yaml"));
                let text = serde_json::to_vec_pretty(&doc).map_err(|e| e.to_string())?;
                std::fs::write(&file, text)
                    .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
                args.push(file.into());
            }
            ChildWorkflow::Named(name) => {
                let Some(entry) = self.settings.catalog.iter().find(|e| &e.name == name) else {
                    return Err(format!(
                        "no TestWorkflow named `{name}` in the run's file or under --workflows; the workflows known: {}",
                        self.catalog_names().join(", ")
                    ));
                };
                args.push(entry.file.clone().into());
                args.extend(["--workflow".into(), name.into()]);
            }
        }
        for t in &self.settings.templates {
            args.extend(["--templates".into(), t.clone().into()]);
        }
        for (k, v) in &request.config {
            args.extend(["--config".into(), format!("{k}={v}").into()]);
        }
        args.extend(self.settings.pass_on.iter().cloned());
        args.extend([
            "--output".into(),
            "json".into(),
            "--execution-id".into(),
            id.clone().into(),
            "--child-of".into(),
            format!(
                "{}:{}:{}",
                self.parent,
                request.parent_ref,
                request.kind.as_str()
            )
            .into(),
        ]);
        // A worker or service is a Pod of its own, with its own address (executed workflows
        // are runs like the parent, on this machine's network).
        let network = if self.settings.pod_networks && request.kind != ChildKind::Execution {
            let net = PodNetwork::create().map_err(|e| {
                format!(
                    "cannot give the {} a network of its own: {e}",
                    request.kind.as_str()
                )
            })?;
            args.extend(["--netns".into(), net.path().into()]);
            Some(net)
        } else {
            None
        };
        let output = dir.join(format!("{id}.out"));
        let out = std::fs::File::create(&output)
            .map_err(|e| format!("cannot create {}: {e}", output.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("cannot create {}: {e}", output.display()))?;
        // Children of one workflow start at once: each run records itself with the next
        // number the store gives it.
        let process = Command::new(&self.settings.program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.settings.program.display()))?;
        tracing::debug!(child = %id, "started {:?}", args);
        if let Some(net) = &network
            && let Err(e) = net.hand_to(process.id())
        {
            // The lease keeps our pid: the address is taken back once this run ends.
            tracing::warn!(child = %id, "cannot hand the child's address lease over: {e}");
        }
        self.running
            .lock()
            .map_err(|_| "a child start panicked")?
            .insert(
                id.clone(),
                Running {
                    kind: request.kind,
                    parent_ref: request.parent_ref.clone(),
                    process,
                    output,
                    network,
                },
            );
        Ok(ChildStarted { id })
    }

    /// Stops the services of `group` and reports how each ended.
    fn stop_group(&self, group: &str) -> Result<Stopped, String> {
        let ids: Vec<String> = {
            let running = self.running.lock().map_err(|_| "a child start panicked")?;
            running
                .iter()
                .filter(|(_, c)| c.kind == ChildKind::Service && c.parent_ref == group)
                .map(|(id, c)| {
                    terminate(&c.process);
                    id.clone()
                })
                .collect()
        };
        let deadline = Instant::now() + STOP_GRACE;
        for id in &ids {
            while self.exit_code(id).is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if self.exit_code(id).is_none()
                && let Ok(mut running) = self.running.lock()
                && let Some(child) = running.get_mut(id)
            {
                let _ = child.process.kill();
                let _ = child.process.wait();
            }
        }
        let mut children = Vec::new();
        for id in &ids {
            if let Some(state) = self.child_state(id)? {
                children.push(state);
            }
        }
        Ok(Stopped { children })
    }

    /// The exit code of child `id`'s process, once it has ended.
    fn exit_code(&self, id: &str) -> Option<i32> {
        let mut running = self.running.lock().ok()?;
        let child = running.get_mut(id)?;
        child.process.try_wait().ok().flatten().map(|s| {
            use std::os::unix::process::ExitStatusExt;
            s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
        })
    }

    fn child_state(&self, id: &str) -> Result<Option<ChildState>, String> {
        let known = self
            .running
            .lock()
            .map_err(|_| "a child start panicked")?
            .contains_key(id);
        if !known {
            return Ok(None);
        }
        let stored = self.store.execution(id).map_err(|e| e.to_string())?;
        let exited = self.exit_code(id);
        let paused = stored
            .as_ref()
            .is_some_and(testwerk_store::ExecutionDetail::a_step_paused);
        let started = stored
            .as_ref()
            .is_some_and(testwerk_store::ExecutionDetail::a_step_started);
        let (name, mut status, mut reason) = match &stored {
            Some(detail) => (
                Some(detail.execution.name.clone()),
                detail.execution.status.to_string(),
                detail.execution.reason.clone(),
            ),
            None => (None, "queued".to_owned(), None),
        };
        if let Some(code) = exited
            && matches!(status.as_str(), "queued" | "running")
        {
            if stored.is_none() && code == 128 + 15 {
                // Stopped (failFast, its step ended) before it even recorded itself.
                status = "aborted".into();
                reason = Some("stopped before it started".into());
            } else {
                // Its runner ended without settling it: what the process said is the reason.
                status = "failed".into();
                reason = Some(self.last_words(id, code));
            }
        }
        Ok(Some(ChildState {
            id: id.to_owned(),
            name,
            status,
            reason,
            // Without a network of its own, a child shares this machine's.
            ip: Some(self.address_of(id).unwrap_or_else(|| "127.0.0.1".into())),
            started,
            paused,
        }))
    }

    /// The address of child `id`'s own network.
    fn address_of(&self, id: &str) -> Option<String> {
        let running = self.running.lock().ok()?;
        let net = running.get(id)?.network.as_ref()?;
        Some(net.address().to_string())
    }

    /// The end of what child `id`'s process printed.
    fn last_words(&self, id: &str, code: i32) -> String {
        let output = self
            .running
            .lock()
            .ok()
            .and_then(|r| r.get(id).map(|c| c.output.clone()));
        let text = output
            .and_then(|p| std::fs::read(p).ok())
            .map(|bytes| {
                let start = bytes.len().saturating_sub(2000);
                String::from_utf8_lossy(&bytes[start..]).into_owned()
            })
            .unwrap_or_default();
        let said: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('{'))
            .collect();
        let tail = said[said.len().saturating_sub(8)..].join("\n");
        if tail.is_empty() {
            format!("its runner exited with {code}")
        } else {
            format!("its runner exited with {code}: {tail}")
        }
    }

    fn catalog_names(&self) -> Vec<String> {
        self.settings
            .catalog
            .iter()
            .map(|e| e.name.clone())
            .collect()
    }
}

fn terminate(process: &Child) {
    if let Some(pid) = rustix::process::Pid::from_raw(process.id() as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

async fn start(
    State(children): State<Arc<LocalChildren>>,
    UrlPath(parent): UrlPath<String>,
    headers: HeaderMap,
    Json(request): Json<ChildRequest>,
) -> Response {
    if let Some(denied) = children.refused(&parent, &headers) {
        return denied;
    }
    if let Err(refusal) = children.allowed(&request) {
        tracing::warn!("child refused: {refusal}");
        return error(StatusCode::FORBIDDEN, &refusal);
    }
    let started = tokio::task::spawn_blocking(move || children.start_child(request)).await;
    match started {
        Ok(Ok(started)) => (StatusCode::CREATED, Json(started)).into_response(),
        Ok(Err(why)) => error(StatusCode::UNPROCESSABLE_ENTITY, &why),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn select(
    State(children): State<Arc<LocalChildren>>,
    UrlPath(parent): UrlPath<String>,
    headers: HeaderMap,
    Json(selection): Json<Selection>,
) -> Response {
    if let Some(denied) = children.refused(&parent, &headers) {
        return denied;
    }
    let mut names: Vec<String> = children
        .settings
        .catalog
        .iter()
        .filter(|e| selection.matches(Some(&e.labels)))
        .map(|e| e.name.clone())
        .collect();
    names.sort();
    names.dedup();
    Json(Selected { names }).into_response()
}

async fn stop(
    State(children): State<Arc<LocalChildren>>,
    UrlPath(parent): UrlPath<String>,
    headers: HeaderMap,
    Json(group): Json<StopGroup>,
) -> Response {
    if let Some(denied) = children.refused(&parent, &headers) {
        return denied;
    }
    match tokio::task::spawn_blocking(move || children.stop_group(&group.parent_ref)).await {
        Ok(Ok(stopped)) => Json(stopped).into_response(),
        Ok(Err(why)) => error(StatusCode::INTERNAL_SERVER_ERROR, &why),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn state(
    State(children): State<Arc<LocalChildren>>,
    UrlPath((parent, id)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(denied) = children.refused(&parent, &headers) {
        return denied;
    }
    match tokio::task::spawn_blocking(move || children.child_state(&id)).await {
        Ok(Ok(Some(state))) => Json(state).into_response(),
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, "no such child of this execution"),
        Ok(Err(why)) => error(StatusCode::INTERNAL_SERVER_ERROR, &why),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

#[derive(serde::Deserialize)]
struct From {
    #[serde(default)]
    from: u64,
}

async fn logs(
    State(children): State<Arc<LocalChildren>>,
    UrlPath((parent, id)): UrlPath<(String, String)>,
    Query(query): Query<From>,
    headers: HeaderMap,
) -> Response {
    if let Some(denied) = children.refused(&parent, &headers) {
        return denied;
    }
    let read = tokio::task::spawn_blocking(move || {
        if !children
            .running
            .lock()
            .map(|r| r.contains_key(&id))
            .unwrap_or(false)
        {
            return Ok(None);
        }
        match children.store.execution(&id) {
            Ok(Some(_)) => children
                .store
                .logs_from(&id, query.from, LOG_LINES_PER_ANSWER)
                .map(Some)
                .map_err(|e| e.to_string()),
            // Not recorded yet: nothing to show.
            Ok(None) => Ok(Some(Vec::new())),
            Err(e) => Err(e.to_string()),
        }
    })
    .await;
    match read {
        Ok(Ok(Some(lines))) => {
            let (text, next) = testwerk_store::lines_as_text(&lines, query.from);
            ([(NEXT_HEADER, next.to_string())], text).into_response()
        }
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, "no such child of this execution"),
        Ok(Err(why)) => error(StatusCode::INTERNAL_SERVER_ERROR, &why),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// A child's artifact: a redirect to the receiver that serves it.
async fn file(
    State(children): State<Arc<LocalChildren>>,
    UrlPath((parent, id, name)): UrlPath<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(denied) = children.guard(&parent, &id, &headers) {
        return denied;
    }
    match testwerk_artifacts::location(&children.store, &children.tokens, &id, &name) {
        Ok(Some(path)) => axum::response::Redirect::temporary(&path).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            &format!("the child kept no artifact `{name}`"),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn resume(
    State(children): State<Arc<LocalChildren>>,
    UrlPath((parent, id)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(denied) = children.guard(&parent, &id, &headers) {
        return denied;
    }
    let store = children.store.location().to_owned();
    let resumed = tokio::task::spawn_blocking(move || {
        super::control::control(Some(&store), &id, super::control::Action::Resume)
    })
    .await;
    match resumed {
        Ok(Ok(_)) => (StatusCode::OK, Json(json!({}))).into_response(),
        Ok(Err(why)) => error(StatusCode::CONFLICT, &why),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn abort(
    State(children): State<Arc<LocalChildren>>,
    UrlPath((parent, id)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(denied) = children.refused(&parent, &headers) {
        return denied;
    }
    let running = match children.running.lock() {
        Ok(r) => r,
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "a child start panicked"),
    };
    match running.get(&id) {
        Some(child) => {
            terminate(&child.process);
            (StatusCode::OK, Json(json!({}))).into_response()
        }
        None => error(StatusCode::NOT_FOUND, "no such child of this execution"),
    }
}

/// A workflow `execute` may name, and the file it is in.
#[derive(Clone, Debug)]
pub struct CatalogEntry {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub file: PathBuf,
}

/// The workflows `execute` may name: those of the run's `file` (already loaded), then those
/// under `paths` (`--workflows`: files, or folders searched for `.yaml`/`.yml`). The first of a
/// name wins. A path that does not exist, or a file of ours that does not load, is an error
/// with its location.
pub fn catalog(
    file: &Path,
    workflows: &[testwerk_spec::Document<testwerk_spec::TestWorkflow>],
    paths: &[PathBuf],
) -> Result<Vec<CatalogEntry>, Vec<testwerk_spec::Diagnostic>> {
    let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let mut out: Vec<CatalogEntry> = workflows
        .iter()
        .filter_map(|w| entry(&w.value, &file))
        .collect();
    let mut errors = Vec::new();
    for path in testwerk_pipeline::yaml_files(paths, "--workflows", &mut errors) {
        let docs = match testwerk_pipeline::api_documents(&path) {
            None => continue,
            Some(Err(e)) => {
                errors.extend(e);
                continue;
            }
            Some(Ok(docs)) => docs,
        };
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        for doc in docs {
            if let testwerk_spec::AnyDocument::Workflow(w) = doc
                && let Some(e) = entry(&w.value, &path)
                && !out.iter().any(|o| o.name == e.name)
            {
                out.push(e);
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn entry(w: &testwerk_spec::TestWorkflow, file: &Path) -> Option<CatalogEntry> {
    Some(CatalogEntry {
        name: w.metadata.name.clone()?,
        labels: w
            .metadata
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        file: file.to_path_buf(),
    })
}

/// Where a run's child documents and outputs go.
pub fn children_dir(store_dir: &Path, parent: &str) -> PathBuf {
    store_dir.join("children").join(parent)
}
