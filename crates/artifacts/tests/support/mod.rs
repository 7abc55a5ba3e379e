//! What the artifact tests share: a store with an execution, a receiver served on 127.0.0.1
//! over real HTTP, the real toolkit client, and moto's S3 server.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use testwerk_artifacts::{LocalServer, Receiver, Storage, StorageSettings, TokenKey, serve_local};
use testwerk_protocol::toolkit::ArtifactSink;
use testwerk_store::{NewExecution, Store};
use testwerk_toolkit::artifacts::{Options, collect};

/// A store with one execution, and a receiver for it on 127.0.0.1.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub store: Arc<Store>,
    pub execution: String,
    pub server: LocalServer,
}

impl Setup {
    /// Folder storage under `root` (default: `artifacts/` beside the store).
    pub fn folder(root: Option<&Path>) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("testwerk.db");
        let settings = match root {
            Some(r) => StorageSettings::Folder { root: r.to_owned() },
            None => StorageSettings::beside_store(&db),
        };
        Setup::with(dir, &settings, |r| r)
    }

    pub fn with(
        dir: tempfile::TempDir,
        settings: &StorageSettings,
        configure: impl FnOnce(Receiver) -> Receiver,
    ) -> Setup {
        let store = Arc::new(Store::open(dir.path().join("testwerk.db")).unwrap());
        let execution = store
            .create_execution(NewExecution::new("arts", "", serde_json::json!({})))
            .unwrap()
            .id;
        let storage = Storage::open(settings).unwrap();
        let receiver = configure(Receiver::new(
            storage,
            Arc::clone(&store),
            TokenKey::random(),
        ));
        let server = serve_local(receiver).unwrap();
        Setup {
            dir,
            store,
            execution,
            server,
        }
    }

    pub fn sink(&self) -> ArtifactSink {
        self.server.sink(&self.execution)
    }

    /// Runs the toolkit's `artifacts` with `args` from `cwd` as step `step`; its output and
    /// result.
    pub fn upload(&self, args: &[&str], cwd: &Path, step: &str) -> (String, Result<(), String>) {
        upload_to(Some(&self.sink()), args, cwd, step)
    }

    pub fn get(&self, path: &str) -> (u16, Vec<u8>) {
        let url = format!("http://{}{path}", self.server.address());
        let mut r = client().get(&url).call().unwrap();
        let status = r.status().as_u16();
        let body = r
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .unwrap();
        (status, body)
    }
}

pub fn upload_to(
    sink: Option<&ArtifactSink>,
    args: &[&str],
    cwd: &Path,
    step: &str,
) -> (String, Result<(), String>) {
    let options = Options::parse(args.iter().map(|s| (*s).to_owned()).collect()).unwrap();
    let mut out = Vec::new();
    let result = collect(&options, sink, cwd, step, &mut out).map_err(|e| e.to_string());
    (String::from_utf8_lossy(&out).into_owned(), result)
}

pub fn client() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    )
}

/// Writes `files` (`(relative path, bytes)`) under `root`.
pub fn write_tree(root: &Path, files: &[(&str, &[u8])]) {
    for (name, bytes) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// moto.

#[allow(unused_imports)] // Only the S3 tests start moto.
pub use testwerk_testinputs::moto::Moto;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
