//! `testwerk run`: compile a workflow and execute it on this machine with the local backend,
//! showing each step live and recording everything in the results store.

pub mod children;
pub mod control;
mod images;
mod remote;
pub mod report;
pub mod view;

pub use testwerk_results::tracker;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use testwerk_local::control::{self as local_control, ControlFile};
use testwerk_local::{LocalOptions, Mode, Network, Programs, RunEvent, Runc};
use testwerk_plan::{Action, ImageMetadata, ImageSource, Plan};
use testwerk_results::Recorder;
use testwerk_results::heal::{self, Ending};
use testwerk_store::{ExecutionStatus, NewExecution, Store};

use crate::pipeline::{self, CompileSettings, ExecutionFacts};
use report::{Event, JsonReporter, Reporter, Translator};
use testwerk_protocol::toolkit::ToolkitSettings;
use tracker::{Tracker, Update};
use view::HumanReporter;

/// The namespace a local run's objects name (`namespace` in expressions): there is no cluster,
/// so no namespace of one is pretended.
const LOCAL_NAMESPACE: &str = "local";
/// How long log lines may wait in memory before they are written to the store, where
/// `testwerk ui` and `testwerk logs` read them while the run goes on.
const LOG_FLUSH: std::time::Duration = std::time::Duration::from_millis(250);

/// What `testwerk run` was asked to do.
pub struct RunRequest {
    pub file: PathBuf,
    pub workflow: Option<String>,
    pub templates: Vec<PathBuf>,
    pub config: indexmap::IndexMap<String, String>,
    pub json: bool,
    pub store: Option<PathBuf>,
    /// Keep the execution directory afterwards (for debugging).
    pub keep: bool,
    /// Host mode: no images, this machine's directories read-only as every container's root.
    pub host: bool,
    /// Image mode: how to reach registries (credentials, mirrors, plain-HTTP hosts).
    pub registry: pipeline::RegistryOptions,
    /// Image mode: the image store (default: `~/.cache/testwerk/images`).
    pub image_cache: Option<PathBuf>,
    /// Run on the agent at this URL instead of this machine.
    pub server: Option<String>,
    /// How long `--server` runs try to reach the agent again after losing it.
    pub reconnect_timeout: Duration,
    /// `--git-mirror`: where `content.git` repositories are fetched from.
    pub git_mirrors: Vec<testwerk_protocol::toolkit::GitMirror>,
    /// `--artifacts`, `--s3-*`: where `artifacts` steps' files are stored.
    pub artifacts: testwerk_artifacts::StorageFlags,
    /// `--workflows`: files or folders with the workflows `execute` may name (besides the
    /// run's own file).
    pub workflows: Vec<PathBuf>,
    /// The flags a child run (a parallel worker, an executed workflow) gets from this one:
    /// store, mode, registries, mirrors, artifacts.
    pub pass_on: Vec<std::ffi::OsString>,
    /// This run is a child: `--child-of PARENT:STEP:KIND`.
    pub child_of: Option<ChildOf>,
    /// The execution id to record it under (a child's, chosen by its parent).
    pub execution_id: Option<String>,
    /// The Pod's own network namespace (a worker's or service's, made by its parent);
    /// `None`: the host's network.
    pub netns: Option<PathBuf>,
    /// `--tag`: the execution's tags (checked by `testwerk_store::tags`).
    pub tags: std::collections::BTreeMap<String, String>,
}

/// A child run's link to its parent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildOf {
    pub parent: String,
    pub step: String,
    pub kind: testwerk_protocol::children::ChildKind,
}

impl ChildOf {
    /// `PARENT:STEP:KIND`.
    pub fn parse(text: &str) -> Result<ChildOf, String> {
        let mut parts = text.splitn(3, ':');
        let (Some(parent), Some(step), Some(kind)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("`{text}`: expected PARENT:STEP:KIND"));
        };
        let kind = serde_json::from_value(serde_json::Value::String(kind.to_owned()))
            .map_err(|_| format!("`{kind}`: expected worker, service or execution"))?;
        Ok(ChildOf {
            parent: parent.to_owned(),
            step: step.to_owned(),
            kind,
        })
    }

    fn tags(&self) -> [(String, String); 3] {
        use testwerk_protocol::children::{KIND_TAG, PARENT_STEP_TAG, PARENT_TAG};
        [
            (PARENT_TAG.to_owned(), self.parent.clone()),
            (PARENT_STEP_TAG.to_owned(), self.step.clone()),
            (KIND_TAG.to_owned(), self.kind.as_str().to_owned()),
        ]
    }
}

/// How a run ended, as an exit code: 0 passed, 1 failed, 2 input error, 3 the results could
/// not be stored, 4 the agent was lost.
#[derive(Debug, PartialEq, Eq)]
pub enum RunExit {
    Passed,
    Failed,
    InputError,
    /// The results store refused a write: the run was stopped, and what is missing was said.
    StoreFailed,
    /// `--server`: the agent could not be reached again within the reconnect timeout; the
    /// execution may still run there.
    AgentLost,
}

impl RunExit {
    /// The process exit code.
    pub fn code(&self) -> u8 {
        match self {
            RunExit::Passed => 0,
            RunExit::Failed => 1,
            RunExit::InputError => 2,
            RunExit::StoreFailed => 3,
            RunExit::AgentLost => 4,
        }
    }
}

pub fn run(req: &RunRequest) -> RunExit {
    match run_inner(req) {
        Ok(true) => RunExit::Passed,
        Ok(false) => RunExit::Failed,
        Err(RunError::Input(messages)) => {
            for m in messages {
                eprintln!("{m}\n");
            }
            RunExit::InputError
        }
        Err(RunError::Failed(m)) => {
            eprintln!("error: {m}");
            RunExit::Failed
        }
        Err(RunError::Store(m)) => {
            eprintln!("error: {m}");
            RunExit::StoreFailed
        }
        Err(RunError::AgentLost(m)) => {
            eprintln!("error: {m}");
            RunExit::AgentLost
        }
    }
}

enum RunError {
    Input(Vec<String>),
    Failed(String),
    /// The results store refused what this run had to record.
    Store(String),
    /// The agent went away and did not come back in time.
    AgentLost(String),
}

fn input(m: impl Into<String>) -> RunError {
    RunError::Input(vec![format!("error: {}", m.into())])
}

fn run_inner(req: &RunRequest) -> Result<bool, RunError> {
    if let Some(server) = &req.server {
        return remote::run_remote(req, server);
    }
    let inputs = pipeline::load_inputs(&req.file, &req.templates)
        .map_err(|d| RunError::Input(d.iter().map(|d| d.to_string()).collect()))?;
    let doc = match (&req.workflow, inputs.workflows.as_slice()) {
        (Some(name), all) => all
            .iter()
            .find(|w| w.value.metadata.name.as_deref() == Some(name))
            .ok_or_else(|| {
                input(format!(
                    "no TestWorkflow named `{name}` in {}",
                    req.file.display()
                ))
            })?,
        (None, [one]) => one,
        (None, []) => return Err(input(format!("no TestWorkflow in {}", req.file.display()))),
        (None, many) => {
            let names: Vec<_> = many
                .iter()
                .filter_map(|w| w.value.metadata.name.clone())
                .collect();
            return Err(input(format!(
                "{} holds {} workflows; choose one with --workflow ({})",
                req.file.display(),
                many.len(),
                names.join(", ")
            )));
        }
    };
    let name = doc.value.metadata.name.clone().unwrap_or_default();

    let store = match &req.store {
        Some(p) => Store::open(p),
        None => Store::open_default(),
    }
    .map_err(|e| RunError::Failed(format!("results store: {e}")))?;
    let store = Arc::new(store);
    let mut view = reporter(req.json);
    if let Ok(abandoned) = store.recover_abandoned()
        && !abandoned.is_empty()
    {
        view.note(format!(
            "marked {} execution(s) of a runner that stopped as aborted: {}",
            abandoned.len(),
            abandoned.join(", ")
        ));
    }
    let number = store
        .next_execution_number(&name)
        .map_err(|e| RunError::Failed(e.to_string()))?;
    let execution_id = resource_id(&name, number);
    // The id is chosen before the execution is recorded: the steps read it as `execution.id`.
    // A child's was chosen by its parent, which follows it by that id.
    let id = req
        .execution_id
        .clone()
        .unwrap_or_else(testwerk_store::new_execution_id);
    let facts = ExecutionFacts {
        id: id.clone(),
        name: format!("{name}-{number}"),
        number,
        scheduled_at: testwerk_store::Timestamp::now().to_string(),
    };
    // Image mode pulls into this machine's image store; the compiler reads an image's
    // entrypoint and command from the same store, so both see one image.
    let images = if req.host {
        None
    } else {
        let store = crate::pull::open_store(&req.registry, req.image_cache.clone())
            .map_err(|e| input(format!("the image store: {e}")))?;
        Some(Arc::new(images::StoreImages::new(store)))
    };
    let image_source: &dyn ImageSource = match &images {
        Some(store) => store.as_ref(),
        None => &HostImages,
    };
    let own_images = pipeline::default_images();
    // `artifacts` steps upload to this run's receiver with a token for this
    // execution only; JUnit and xUnit reports among them become the execution's test cases.
    // Parallel workers and executed workflows are asked for on the same server.
    let beside = store.files_beside();
    let store_dir = beside
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let store_dir = std::fs::canonicalize(&store_dir).unwrap_or(store_dir);
    let catalog = children::catalog(&req.file, &inputs.workflows, &req.workflows)
        .map_err(|d| RunError::Input(d.iter().map(|d| d.to_string()).collect()))?;
    let mut children = None;
    // Workers and services with networks of their own (as root) reach this run's server on
    // the local Pods' bridge; without those, the server is on loopback and they share it.
    let pod_networks = testwerk_local::network::host_address();
    if let Err(why) = &pod_networks {
        tracing::debug!("{why}");
    }
    let server_ip: std::net::IpAddr = match &pod_networks {
        Ok(ip) => (*ip).into(),
        Err(_) => std::net::Ipv4Addr::LOCALHOST.into(),
    };
    let artifacts = testwerk_artifacts::serve_for_store_with(
        Arc::clone(&store),
        &req.artifacts,
        Some(Arc::new(testwerk_artifacts::TestReports::new(Arc::clone(
            &store,
        )))),
        server_ip,
        |receiver| {
            let local = children::LocalChildren::new(
                &id,
                Arc::clone(&store),
                receiver.tokens().clone(),
                children::ChildSettings {
                    workflow: name.clone(),
                    program: std::env::current_exe().unwrap_or_else(|_| "testwerk".into()),
                    pass_on: req.pass_on.clone(),
                    templates: req.templates.clone(),
                    catalog,
                    dir: children::children_dir(&store_dir, &id),
                    pod_networks: pod_networks.is_ok(),
                },
            );
            let router = local.router();
            children = Some(local);
            router
        },
    )
    .map_err(input)?;
    let children =
        children.ok_or_else(|| RunError::Failed("the children endpoint did not start".into()))?;
    let _finish_children = FinishChildren(Arc::clone(&children));
    let mut settings = CompileSettings {
        namespace: LOCAL_NAMESPACE.into(),
        images: own_images.clone(),
        image_source,
        execution_id: Some(execution_id),
        execution: Some(facts),
        config: req.config.clone(),
        // Nothing here goes through an API server: only the kernel's limits bind.
        target: pipeline::Target::Local,
        toolkit: Some(ToolkitSettings {
            git_mirrors: req.git_mirrors.clone(),
            artifacts: Some(artifacts.sink(&id)),
            children: Some(children.endpoint(&format!("http://{}", artifacts.address()))),
        }),
    };
    let mut compiled = pipeline::compile(doc, &inputs.templates, &settings)
        .map_err(|d| RunError::Input(d.iter().map(|d| d.to_string()).collect()))?;
    for line in images.iter().flat_map(|s| s.take_notes()) {
        view.note(line);
    }

    let programs = programs(images.is_some(), copies_toolkit(&compiled.plan))?;
    // runc's state of our containers lives with the store, so that the next run finds (and
    // deletes) the containers of a runner that died.
    let runc = Runc::find(store_dir.join("runc")).map_err(|e| input(e.to_string()))?;

    let source = std::fs::read_to_string(&req.file).unwrap_or_default();
    let mut new = NewExecution::new(
        &name,
        source,
        serde_json::to_value(compiled.plan.wire()).unwrap_or_default(),
    );
    new.id = Some(id);
    new.tags.extend(req.tags.clone());
    let schema = &doc.value.spec.body.config;
    if let Some(config) = testwerk_store::tags::config_tag(&req.config, |k| {
        schema.get(k).and_then(|p| p.sensitive) == Some(true)
    }) {
        new.tags
            .insert(testwerk_store::tags::CONFIG_TAG.to_owned(), config);
    }
    if let Some(child_of) = &req.child_of {
        new.tags.extend(child_of.tags());
    }
    new.secrets = compiled
        .bundle
        .secrets
        .iter()
        .flat_map(|s| s.string_data.iter().flatten().map(|(_, v)| v.clone()))
        .collect();
    let execution = store
        .create_execution(new)
        .map_err(|e| RunError::Failed(e.to_string()))?;
    let id = execution.id.clone();
    if execution.number != number {
        // Another run of this workflow took the number between our look and our record: the
        // workflow is compiled again with the number the store gave, so that the steps see the
        // stored name and number (what compiled with one number compiles with another).
        settings.execution_id = Some(resource_id(&name, execution.number));
        settings.execution = settings.execution.take().map(|facts| ExecutionFacts {
            name: execution.name.clone(),
            number: execution.number,
            ..facts
        });
        compiled = pipeline::compile(doc, &inputs.templates, &settings)
            .map_err(|d| RunError::Input(d.iter().map(|d| d.to_string()).collect()))?;
        let plan = serde_json::to_value(compiled.plan.wire()).unwrap_or_default();
        if let Err(e) = store.set_plan(&id, &plan) {
            let reason = format!("cannot record the plan: {e}");
            let _ = store.set_status(&id, ExecutionStatus::Failed, Some(&reason));
            return Err(RunError::Failed(reason));
        }
    }
    children.declare(
        compiled.plan.wire(),
        settings
            .toolkit
            .as_ref()
            .and_then(|t| t.artifacts.as_ref())
            .and_then(|a| a.shared.clone()),
    );

    let token = testwerk_protocol::line::new_token()
        .map_err(|e| RunError::Failed(format!("no randomness for the protocol token: {e}")))?;
    let dir = run_dir(&store, &execution.name);
    let abort = Arc::new(AtomicBool::new(false));
    let _ = signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&abort));
    let _ = signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&abort));
    let deadline = compiled
        .plan
        .job
        .active_deadline_seconds
        .or(compiled.plan.pod.active_deadline_seconds)
        .map(|s| Duration::from_secs(s.max(0) as u64));
    // `testwerk pause|resume|abort <id>` from another process on this machine: init accepts
    // on a Unix socket in the run's private directory and wants the token, which the control
    // file (0600) alone holds.
    let control = local_control::bind(&dir).and_then(|listener| {
        let file = ControlFile {
            execution: id.clone(),
            socket: dir.join(local_control::SOCKET),
            token: token.clone(),
            pid: std::process::id(),
        };
        file.write(&dir).map(|()| listener)
    });
    let control = match control {
        Ok(c) => c,
        Err(e) => {
            let why = format!("cannot set up pause/resume/abort in {}: {e}", dir.display());
            if let Err(e) = store.set_status(&id, ExecutionStatus::Failed, Some(&why)) {
                eprintln!("error: results store: {e}");
            }
            return Err(RunError::Failed(why));
        }
    };
    let mode = match &images {
        Some(store) => Mode::Images {
            roots: store.clone(),
            init_image: own_images.init.clone(),
            toolkit_image: own_images.toolkit.clone(),
        },
        None => Mode::Host,
    };
    let opts = LocalOptions {
        dir: dir.clone(),
        programs,
        runc,
        mode,
        network: req.netns.clone().map_or(Network::Host, Network::Pod),
        // The store holds every run's logs, other runs' directories and runc's state: no
        // step may read them (the directory itself may be the user's working directory).
        hidden: {
            let mut hidden = hidden_store_paths(&beside, &store_dir);
            hidden.extend(
                artifacts
                    .receiver()
                    .storage()
                    .folder()
                    .map(Path::to_path_buf),
            );
            hidden
        },
        extra_env: vec![(testwerk_protocol::env::TOKEN.to_owned(), token.clone())],
        control: Some(Arc::new(control)),
        deadline,
        grace: Duration::from_secs(10),
        abort,
        pids_limit: pids_limit()?,
    };

    let mut tracker = Tracker::new(
        &compiled.plan.full_signature,
        &compiled.plan.signature,
        &token,
    );
    view.note(if req.host {
        "runs in runc, host mode (--host): this machine's directories, read-only, are every container's root"
    } else {
        "runs in runc, image mode: each container on its own image (testwerk's own from this machine's programs)"
    });
    let header = Translator::started(&tracker, &execution.name, compiled.plan.groups.len());
    view.reporter.report(&header);
    view.translator.resume_hint = Some(format!(
        "resume it with `testwerk resume {}{}`",
        execution.name,
        // The store as messages name it: a PostgreSQL URL without its password.
        req.store
            .as_ref()
            .map(|_| format!(" --store {}", store.path().display()))
            .unwrap_or_default()
    ));
    let not_started = |e: testwerk_store::StoreError| {
        RunError::Store(format!(
            "the results store could not record the start of {}: {e}; nothing was run",
            execution.name
        ))
    };
    store
        .set_status(&id, ExecutionStatus::Running, None)
        .map_err(not_started)?;
    for r in &tracker.order {
        store
            .upsert_step(
                &id,
                &testwerk_results::step_result(&tracker, r, testwerk_store::StepStatus::Queued),
            )
            .map_err(not_started)?;
    }

    let started = Instant::now();
    let recorder = std::cell::RefCell::new(Recorder::new(&store, &id));
    // A run whose results cannot be stored is stopped: its outcome could not be trusted.
    let store_broke = std::cell::Cell::new(false);
    let stop = Arc::clone(&opts.abort);
    let handle = |tracker: &mut Tracker, view: &mut LiveView, updates: Vec<Update>| {
        for u in &updates {
            if let Err(e) = recorder.borrow_mut().record(tracker, u)
                && !store_broke.replace(true)
            {
                view.warn(&format!("{e}; stopping the run"));
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        view.updates(tracker, &updates);
    };
    let mut outcome_error = None;
    let mut oom = None;
    let result = testwerk_local::run(&compiled.bundle, &opts, &mut |event| match event {
        RunEvent::Note(text) => view.note(text),
        RunEvent::Warning(text) => view.warn(&text),
        RunEvent::OomKilled { memory_limit, .. } => {
            let cause = testwerk_results::causes::oom_killed(memory_limit.as_deref());
            view.warn(&cause);
            oom.get_or_insert(cause);
        }
        RunEvent::ContainerStarted { .. } => tracker.next_container(),
        RunEvent::Output { bytes, .. } => {
            let mut updates = Vec::new();
            tracker.feed(&bytes, &mut |u| updates.push(u));
            handle(&mut tracker, &mut view, updates);
        }
        // Readers of the store (`testwerk ui`, `logs`) see lines within LOG_FLUSH.
        RunEvent::Idle => {
            if let Err(e) = recorder.borrow_mut().flush_if_older(LOG_FLUSH)
                && !store_broke.replace(true)
            {
                view.warn(&format!("{e}; stopping the run"));
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        RunEvent::Diagnostic { line, .. } => {
            view.warn(&line);
            outcome_error.get_or_insert(line);
        }
        RunEvent::ContainerExited { .. } => {
            let mut updates = Vec::new();
            tracker.finish(&mut |u| updates.push(u));
            handle(&mut tracker, &mut view, updates);
        }
        RunEvent::DeadlineExceeded => {
            view.warn("the workflow's activeDeadlineSeconds passed: aborting");
        }
        RunEvent::Aborted => {
            if !store_broke.get() {
                view.warn("interrupted: aborting the running step");
            }
        }
    });
    // Why the execution stopped, when it did not simply run to its end.
    let cause = match &result {
        Err(e) => Some(e.to_string()),
        Ok(o) if o.deadline_exceeded => Some("activeDeadlineSeconds exceeded".to_owned()),
        Ok(o) if o.aborted && store_broke.get() => {
            Some("stopped: the results store refused to record it".to_owned())
        }
        Ok(o) if o.aborted => Some("aborted by the user".to_owned()),
        // The kernel's OOM kill explains a failed container better than what init said.
        Ok(o) if o.exit_codes.iter().any(|c| *c != 0) => Some(
            oom.clone()
                .or_else(|| outcome_error.clone())
                .unwrap_or_else(|| format!("a container exited with {:?}", o.exit_codes)),
        ),
        Ok(_) => None,
    };
    // Steps still open are settled as the agent settles them: the first takes the cause,
    // the rest are skipped, saying why.
    if !tracker.all_finished() {
        let ending = Ending::aborted(
            cause
                .clone()
                .unwrap_or_else(|| "the container ended before every step reported".to_owned()),
        );
        let mut updates = Vec::new();
        heal::heal(&mut tracker, &ending, &mut |u| updates.push(u));
        handle(&mut tracker, &mut view, updates);
    }
    // Whatever is still refused now is in `unsaved` below.
    if recorder.borrow_mut().flush().is_err() {
        store_broke.set(true);
    }

    // The steps decide, by the rule every backend shares.
    let mut status = testwerk_results::tracker_status(&tracker);
    // A runner error, or `init` failing after its steps said they passed (e.g. it could not
    // write the termination log), still fails the run: nothing lost may pass unnoticed.
    if status == ExecutionStatus::Passed && cause.is_some() {
        status = ExecutionStatus::Failed;
    }
    let reason = cause.filter(|_| status != ExecutionStatus::Passed);
    let status_stored = store.set_status(&id, status, reason.as_deref());
    // Nobody may control a run that is over; its token and socket go with it.
    for name in [local_control::FILE, local_control::SOCKET] {
        if let Err(e) = std::fs::remove_file(dir.join(name))
            && e.kind() != std::io::ErrorKind::NotFound
        {
            eprintln!("warning: cannot remove the run's {name}: {e}");
        }
    }
    if !req.keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if let Err(e) = &result {
        view.warn(&e.to_string());
    }
    let record = store
        .execution(&id)
        .ok()
        .flatten()
        .and_then(|d| serde_json::to_value(d).ok())
        .unwrap_or_default();
    let end = view.translator.summary(
        &tracker,
        &execution.name,
        status,
        started.elapsed(),
        reason,
        record,
    );
    view.report_all(&end);
    let unsaved = recorder.borrow().unsaved();
    if store_broke.get() || !unsaved.is_empty() || status_stored.is_err() {
        let mut missing = unsaved.to_string();
        if let Err(e) = &status_stored {
            missing = if unsaved.is_empty() {
                String::new()
            } else {
                format!("{missing}, ")
            };
            missing.push_str(&format!("the final status ({e})"));
        }
        let cause = unsaved
            .error
            .unwrap_or_else(|| "it refused a write".to_owned());
        return Err(RunError::Store(format!(
            "the results of {} could not be stored in {}: {cause}\n  not stored: {missing}\n  the run was stopped; free space (or pass --store PATH) and run it again",
            execution.name,
            store.path().display()
        )));
    }
    Ok(status == ExecutionStatus::Passed)
}

/// The reporter `--output` asks for.
fn reporter(json: bool) -> LiveView {
    let reporter: Box<dyn Reporter> = if json {
        Box::new(JsonReporter {
            out: std::io::stdout(),
        })
    } else {
        Box::new(HumanReporter::stdout())
    };
    LiveView {
        reporter,
        translator: Translator::default(),
    }
}

/// A run's reporter and the translator that feeds it.
pub(crate) struct LiveView {
    pub(crate) reporter: Box<dyn Reporter>,
    pub(crate) translator: Translator,
}

impl LiveView {
    pub(crate) fn note(&mut self, text: impl Into<String>) {
        self.reporter.report(&Event::Note(text.into()));
    }

    pub(crate) fn warn(&mut self, text: &str) {
        self.reporter.report(&Event::Warning(text.to_owned()));
    }

    pub(crate) fn updates(&mut self, tracker: &Tracker, updates: &[Update]) {
        let events = self.translator.translate(tracker, updates);
        self.report_all(&events);
    }

    pub(crate) fn report_all(&mut self, events: &[Event]) {
        for e in events {
            self.reporter.report(e);
        }
    }
}

/// Stops the run's workers when the run ends, however it ends.
struct FinishChildren(Arc<children::LocalChildren>);

impl Drop for FinishChildren {
    fn drop(&mut self) {
        self.0.finish();
    }
}

/// The results database (with SQLite's companion files), the run directories and runc's
/// state, as absolute paths.
fn hidden_store_paths(db: &Path, store_dir: &Path) -> Vec<PathBuf> {
    let name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    let mut out = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut file = name.clone();
        file.push(suffix);
        out.push(store_dir.join(file));
    }
    out.push(store_dir.join("runs"));
    out.push(store_dir.join("runc"));
    // Child documents and what child runs printed.
    out.push(store_dir.join("children"));
    // The key every artifact token of this store is made with.
    out.push(testwerk_artifacts::TokenKey::path_beside(
        &store_dir.join(name),
    ));
    out
}

/// Processes per container: `$TESTWERK_PIDS_LIMIT`, else 4096 (a node-wide setting on
/// Kubernetes, so no workflow field sets it).
fn pids_limit() -> Result<i64, RunError> {
    match std::env::var("TESTWERK_PIDS_LIMIT") {
        Err(_) => Ok(testwerk_local::oci::DEFAULT_PIDS_LIMIT),
        Ok(v) => v.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            input(format!(
                "TESTWERK_PIDS_LIMIT=`{v}` is not a positive number of processes (the default is {})",
                testwerk_local::oci::DEFAULT_PIDS_LIMIT
            ))
        }),
    }
}

/// Our programs for the containers:
/// - `init`: `$TESTWERK_INIT`, else `testwerk-init` next to this binary, else the static build
///   of this checkout (`target/<host>/<profile>/`). In image mode it runs inside the images'
///   own root filesystems, so it must be statically linked.
/// - the toolkit: this binary, unless a user image runs toolkit operations (`copies_toolkit`,
///   e.g. `artifacts` after a step in `python:3.12-alpine`): then a static `testwerk` is
///   needed, from `$TESTWERK_TOOLKIT`, this binary if it is static, or the static build of
///   this checkout.
fn programs(must_be_static: bool, copies_toolkit: bool) -> Result<Programs, RunError> {
    let me = std::env::current_exe()
        .map_err(|e| RunError::Failed(format!("cannot find the testwerk binary: {e}")))?;
    let dir = me.parent().unwrap_or(Path::new(".")).to_path_buf();
    let in_target = |name: &str| {
        ["debug", "release", "init"]
            .map(|profile| dir.join("..").join(HOST_TARGET).join(profile).join(name))
    };
    let init = find_program(
        "testwerk-init",
        "TESTWERK_INIT",
        std::iter::once(dir.join("testwerk-init")).chain(in_target("testwerk-init")),
        must_be_static,
        "-p testwerk-init",
        "is needed to run steps locally",
    )?;
    let toolkit = if must_be_static && copies_toolkit {
        find_program(
            "testwerk",
            "TESTWERK_TOOLKIT",
            std::iter::once(me.clone()).chain(in_target("testwerk")),
            true,
            "-p testwerk",
            "is copied into a user image that runs toolkit operations (content, artifacts)",
        )?
    } else {
        me
    };
    Ok(Programs { init, toolkit })
}

/// The first of `$env` or else `candidates` that exists (and is static when it must be); a
/// setup problem (exit 2) naming the build command when none is.
fn find_program(
    name: &str,
    env: &str,
    candidates: impl Iterator<Item = PathBuf>,
    must_be_static: bool,
    package: &str,
    why: &str,
) -> Result<PathBuf, RunError> {
    let build = format!(
        "RUSTFLAGS=\"-C target-feature=+crt-static\" cargo build {package} --target {HOST_TARGET}"
    );
    let (candidates, how): (Vec<PathBuf>, String) = match std::env::var_os(env) {
        Some(p) => (vec![PathBuf::from(p)], env.to_owned()),
        None => (
            candidates.collect(),
            format!("next to testwerk or in target/<host>/<profile>/; or set {env}"),
        ),
    };
    let existing: Vec<&PathBuf> = candidates.iter().filter(|p| p.is_file()).collect();
    let Some(first) = existing.first() else {
        // A setup problem, not a failed workflow: nothing ran (exit 2).
        return Err(input(format!(
            "{name} {why} and was not found at {} ({how}); build it with `{build}` (scripts/try does it for you)",
            candidates
                .first()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        )));
    };
    if !must_be_static {
        return Ok((*first).clone());
    }
    for p in &existing {
        match testwerk_local::is_static_executable(p) {
            Ok(true) => return Ok((*p).clone()),
            Ok(false) => {}
            Err(e) => return Err(input(format!("{}: {e}", p.display()))),
        }
    }
    Err(input(format!(
        "{name} at {} is dynamically linked, so it cannot run inside images; build the static one with `{build}` (or set {env}), or run with --host",
        first.display()
    )))
}

/// The name of a local execution's objects: `<workflow>-<number>`, a DNS label.
fn resource_id(workflow: &str, number: u64) -> String {
    format!(
        "{}-{number}",
        testwerk_plan::dns_label(workflow)
            .chars()
            .take(50)
            .collect::<String>()
    )
}

/// Whether the setup step copies the toolkit into the shared volume (a user image runs it).
fn copies_toolkit(plan: &Plan) -> bool {
    plan.groups
        .iter()
        .flatten()
        .any(|a| matches!(a, Action::Setup(copies) if copies.toolkit))
}

/// The target this binary was built for, where cargo puts `--target` builds.
const HOST_TARGET: &str = env!("TESTWERK_HOST_TARGET");

/// The directory of a local execution: its volumes, sandbox specs and control file.
pub fn run_dir(store: &Store, name: &str) -> PathBuf {
    store
        .path()
        .parent()
        .unwrap_or(Path::new("/tmp"))
        .join("runs")
        .join(name)
}

/// Locally the host's tools stand in for images; for the shell images the corpus uses we know
/// what they run when a step gives no command, so those steps work too.
struct HostImages;

impl ImageSource for HostImages {
    fn metadata(&self, image: &str) -> Result<Option<ImageMetadata>, String> {
        let repository = image.split([':', '@']).next().unwrap_or_default();
        let name = repository.rsplit('/').next().unwrap_or_default();
        let cmd = match name {
            "alpine" | "busybox" => "/bin/sh",
            "bash" => "bash",
            _ => return Ok(None),
        };
        Ok(Some(ImageMetadata {
            cmd: vec![cmd.into()],
            working_dir: Some("/".into()),
            ..Default::default()
        }))
    }
}
