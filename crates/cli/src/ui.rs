//! The web UI's two homes: `testwerk ui` over a local store, and the agent's server (at `/`).
//! Both serve `testwerk-web`; what differs is who may come in (a random token printed at
//! start, or Kubernetes RBAC) and who carries out the buttons (a local run's control file,
//! or the agent).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use testwerk_agent::{Agent, Surface, SurfaceMaker};
use testwerk_routes::latency::Latency;
use testwerk_routes::{Gate, RouteDoc, TokenGate};
use testwerk_store::Store;
use testwerk_web::{Acted, Acting, Actions, Command, Site};

use crate::run::control::Action;

/// The UI inside the agent's server.
pub fn agent_surface() -> SurfaceMaker {
    Box::new(
        |agent: &Arc<Agent>, gate: Arc<dyn Gate>, latency: Arc<Latency>| {
            let actions = Arc::new(AgentActions(Arc::clone(agent)));
            let site = Arc::new(Site::new(
                Arc::clone(&agent.store),
                actions,
                Arc::clone(&gate),
                Arc::clone(&latency),
                format!("namespace {}", agent.namespace),
            ));
            let routes = testwerk_web::routes();
            let docs: Vec<RouteDoc> = routes.iter().map(|r| r.doc().clone()).collect();
            let publisher = Arc::clone(&site);
            Surface {
                router: testwerk_routes::router(routes, gate, latency).with_state(site),
                routes: docs,
                publish: Box::new(move |all| publisher.publish(all)),
            }
        },
    )
}

struct AgentActions(Arc<Agent>);

impl Actions for AgentActions {
    fn act<'a>(&'a self, execution: &'a str, command: Command) -> Acting<'a> {
        Box::pin(async move {
            let verb = match command {
                Command::Abort => "abort",
                Command::Pause => "pause",
                Command::Resume => "resume",
                Command::Rerun => {
                    return match testwerk_agent::submit::rerun(&self.0, execution).await {
                        Ok(e) => Ok(Acted {
                            message: format!("re-run as {}", e.name),
                            show: Some(format!("/executions/{}", e.id)),
                        }),
                        Err(testwerk_agent::submit::SubmitError::Input(m)) => Err(m.join("\n")),
                        Err(testwerk_agent::submit::SubmitError::Agent(m)) => Err(m),
                    };
                }
            };
            match testwerk_agent::control::act(&self.0, execution, verb).await {
                Ok(name) => Ok(Acted {
                    message: format!("{verb}: {name}"),
                    show: None,
                }),
                Err(
                    testwerk_agent::control::ActError::NotRunning(m)
                    | testwerk_agent::control::ActError::Unknown(m)
                    | testwerk_agent::control::ActError::Failed(m),
                ) => Err(m),
            }
        })
    }
}

/// `testwerk ui`'s settings.
pub struct UiRequest {
    pub store: Option<PathBuf>,
    pub listen: SocketAddr,
    pub storage: testwerk_artifacts::StorageFlags,
}

/// Serves the UI over the local store until stopped; prints the URL (with its token) first.
pub fn ui(req: &UiRequest) -> Result<(), String> {
    if !req.listen.ip().is_loopback() {
        return Err(format!(
            "--listen {}: `testwerk ui` serves this machine's results and listens on loopback only \
             (127.0.0.1 or ::1); to share results, run the agent",
            req.listen
        ));
    }
    let store = match &req.store {
        Some(p) => Store::open(p),
        None => Store::open_default(),
    }
    .map_err(|e| format!("results store: {e}"))?;
    let beside = store.files_beside();
    let store = Arc::new(store);
    let settings = testwerk_artifacts::StorageSettings::from_flags(&req.storage, &beside, &|k| {
        std::env::var(k).ok()
    })
    .map_err(|e| e.to_string())?;
    let storage = testwerk_artifacts::Storage::open(&settings).map_err(|e| e.to_string())?;
    // A fresh token for every start: only whoever sees this terminal gets in.
    let token = testwerk_artifacts::TokenKey::random().token("testwerk ui");
    let gate: Arc<dyn Gate> = Arc::new(TokenGate::new(token.clone()));
    let latency = Arc::new(Latency::default());
    let actions = Arc::new(LocalActions {
        store: store.location().to_owned(),
    });
    let site = Arc::new(Site::new(
        Arc::clone(&store),
        actions,
        Arc::clone(&gate),
        Arc::clone(&latency),
        "local".into(),
    ));
    let receiver = Arc::new(testwerk_artifacts::Receiver::new(
        storage,
        Arc::clone(&store),
        testwerk_artifacts::TokenKey::random(),
    ));
    // Reading artifacts only: nothing uploads to this server.
    let files: Vec<_> = testwerk_artifacts::Receiver::routes()
        .into_iter()
        .filter(|r| r.doc().method == axum::http::Method::GET)
        .collect();
    let pages = testwerk_web::routes();
    let mut docs: Vec<RouteDoc> = pages.iter().map(|r| r.doc().clone()).collect();
    docs.extend(files.iter().map(|r| r.doc().clone()));
    site.publish(docs);
    let router = testwerk_routes::router(pages, Arc::clone(&gate), Arc::clone(&latency))
        .with_state(site)
        .merge(testwerk_routes::router(files, gate, latency).with_state(receiver));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(req.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", req.listen))?;
        let address = listener
            .local_addr()
            .map_err(|e| format!("cannot listen on {}: {e}", req.listen))?;
        // One line in this form: tests and scripts read the address and token from it. A
        // reader that went away does not stop the server.
        use std::io::Write;
        let mut out = std::io::stdout();
        let _ = writeln!(out, "testwerk ui: http://{address}/login?token={token}");
        let _ = writeln!(out, "store: {}", store.path().display());
        let _ = out.flush();
        axum::serve(listener, router)
            .await
            .map_err(|e| format!("the UI server stopped: {e}"))
    })
}

/// The buttons for local runs: a running execution through its run's control file; a re-run
/// as a new `testwerk run` of the stored source with the stored configuration.
struct LocalActions {
    store: PathBuf,
}

impl Actions for LocalActions {
    fn act<'a>(&'a self, execution: &'a str, command: Command) -> Acting<'a> {
        let store = self.store.clone();
        let execution = execution.to_owned();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || local_act(&store, &execution, command))
                .await
                .map_err(|e| format!("the action stopped: {e}"))?
        })
    }
}

fn local_act(store: &std::path::Path, execution: &str, command: Command) -> Result<Acted, String> {
    let action = match command {
        Command::Abort => Action::Abort,
        Command::Pause => Action::Pause,
        Command::Resume => Action::Resume,
        Command::Rerun => return local_rerun(store, execution),
    };
    let name = crate::run::control::control(Some(store), execution, action)?;
    Ok(Acted {
        message: format!("{command:?}: {name}").to_lowercase(),
        show: None,
    })
}

fn local_rerun(store_path: &std::path::Path, execution: &str) -> Result<Acted, String> {
    let store = Store::open(store_path).map_err(|e| format!("results store: {e}"))?;
    let detail = store
        .execution(execution)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no execution `{execution}`"))?;
    let e = &detail.execution;
    let config = match e.tags.get(testwerk_store::tags::CONFIG_TAG) {
        Some(text) => {
            testwerk_store::tags::config_from_tag(text).map_err(|m| format!("{}: {m}", e.name))?
        }
        None => Vec::new(),
    };
    // The source as it was run, beside the store: the new run reads it from there.
    let dir = store.files_beside().with_file_name("reruns");
    std::fs::create_dir_all(&dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    let file = dir.join(format!("{}.yaml", e.id));
    std::fs::write(&file, &detail.source).map_err(|err| format!("{}: {err}", file.display()))?;
    let log = std::fs::File::create(dir.join(format!("{}.log", e.id)))
        .map_err(|err| format!("{}: {err}", dir.display()))?;
    let exe =
        std::env::current_exe().map_err(|err| format!("cannot find testwerk itself: {err}"))?;
    let mut command = std::process::Command::new(exe);
    command
        .arg("run")
        .arg(&file)
        .arg("--store")
        .arg(store_path)
        .args(["--workflow", &e.workflow]);
    for (k, v) in &config {
        command.arg("--config").arg(format!("{k}={v}"));
    }
    for (k, v) in e
        .tags
        .iter()
        .filter(|(k, _)| !k.starts_with(testwerk_store::tags::RESERVED_PREFIX))
    {
        command.arg("--tag").arg(format!("{k}={v}"));
    }
    let err = log.try_clone().map_err(|err| err.to_string())?;
    let mut child = command
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .map_err(|err| format!("cannot start the re-run: {err}"))?;
    // Reaped when it ends; its results are in the store.
    std::thread::spawn(move || child.wait());
    Ok(Acted {
        message: format!("re-running {}", e.workflow),
        show: Some(format!(
            "/?workflow={}",
            testwerk_web::html::url(&e.workflow)
        )),
    })
}
