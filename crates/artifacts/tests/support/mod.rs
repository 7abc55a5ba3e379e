//! What the artifact tests share: a store with an execution, a receiver served on 127.0.0.1
//! over real HTTP, the real toolkit client, and moto's S3 server.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// `python -m moto.server` on a free port, killed on drop.
pub struct Moto {
    child: Child,
    python: PathBuf,
    pub endpoint: String,
}

use testwerk_testinputs::moto_python;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Moto {
    #[track_caller]
    pub fn start() -> Option<Moto> {
        Moto::spawn(false)
    }

    /// Over HTTPS, with moto's own self-signed certificate.
    #[track_caller]
    pub fn start_tls() -> Option<Moto> {
        Moto::spawn(true)
    }

    #[track_caller]
    fn spawn(tls: bool) -> Option<Moto> {
        let python = moto_python()?;
        let port = free_port();
        let mut args = vec!["-m", "moto.server", "-H", "127.0.0.1"];
        if tls {
            args.push("-s");
        }
        let mut child = Command::new(&python)
            .args(&args)
            .args(["-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("moto exited early: {status}");
            }
            assert!(Instant::now() < deadline, "moto did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(Moto {
            child,
            python,
            endpoint: format!("{}://127.0.0.1:{port}", if tls { "https" } else { "http" }),
        })
    }

    /// Creates `bucket` (moto accepts unsigned requests).
    pub fn create_bucket(&self, bucket: &str) {
        let r = client()
            .put(&format!("{}/{bucket}", self.endpoint))
            .send_empty()
            .unwrap();
        assert!(r.status().is_success(), "create bucket: {}", r.status());
    }

    /// The bytes of `key` in `bucket`, read by another S3 client (boto3, which moto brings).
    pub fn object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let script = "import sys, boto3\n\
s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='AKIDEXAMPLE', aws_secret_access_key='x')\n\
try:\n    body = s3.get_object(Bucket=sys.argv[2], Key=sys.argv[3])['Body'].read()\n\
except s3.exceptions.NoSuchKey:\n    sys.exit(3)\n\
sys.stdout.buffer.write(body)\n";
        let out = Command::new(&self.python)
            .args(["-c", script, &self.endpoint, bucket, key])
            .output()
            .unwrap();
        match out.status.code() {
            Some(0) => Some(out.stdout),
            Some(3) => None,
            _ => panic!("boto3: {}", String::from_utf8_lossy(&out.stderr)),
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Our own child: kill and reap it.
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
