//! A namespace of the real test cluster with the agent running in it, as the acceptance tests
//! of the Kubernetes backend use it: `deploy/rbac.yaml` applied, the agent started as the
//! `testwerk` binary with a token of the `testwerk-agent` ServiceAccount (so the RBAC
//! manifests are what is tested), its REST API on a free port, its store in a scratch dir.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

pub struct AgentEnv {
    pub namespace: String,
    pub client: kube::Client,
    pub rt: tokio::runtime::Runtime,
    pub dir: PathBuf,
    kubeconfig: PathBuf,
    /// The agent's `--store`: `agent.db` in [`AgentEnv::dir`] unless the test gives one.
    pub store: PathBuf,
    agent: Option<Child>,
    /// The log file of the agent talked to.
    log_name: String,
    pub address: Option<String>,
    extra_args: Vec<String>,
    extra_env: Vec<(String, String)>,
    /// The cluster mounts images as volumes: the agent is told so (`--image-volumes on`)
    /// unless a test passes `--image-volumes` itself.
    pub image_volumes: bool,
    http: ureq::Agent,
    /// Tokens of ServiceAccounts bound to deploy/rbac.yaml's Roles: `runner` (what these
    /// tests use), `viewer`, and `nobody` (no Role).
    pub tokens: Tokens,
}

/// The `testwerk` binary: cargo names it for tests; an example finds it next to its own
/// directory (`target/<profile>/examples/..`), or in `$TESTWERK_BIN`.
fn testwerk_binary() -> PathBuf {
    if let Some(bin) = option_env!("CARGO_BIN_EXE_testwerk") {
        return PathBuf::from(bin);
    }
    if let Some(bin) = std::env::var_os("TESTWERK_BIN") {
        return PathBuf::from(bin);
    }
    let me = std::env::current_exe().expect("the running program");
    let bin = me
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("testwerk"))
        .expect("a target directory");
    assert!(
        bin.is_file(),
        "{} is missing: build it first (cargo build --release -p testwerk)",
        bin.display()
    );
    bin
}

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("tw-{name}-{:x}", (nanos ^ std::process::id()) % 0xfffff)
}

/// A second agent process (see [`AgentEnv::start_replica`]).
pub struct Replica {
    child: Option<Child>,
    pub address: String,
    pub log: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl AgentEnv {
    /// A fresh namespace with our CRDs and RBAC, and the agent running in it.
    pub fn start(name: &str, extra_args: &[&str]) -> AgentEnv {
        Self::start_listening(name, extra_args, None, &[], None)
    }

    /// As [`AgentEnv::start`], with the agent's results store at `store` (a small tmpfs, say).
    pub fn start_with_store(name: &str, extra_args: &[&str], store: &Path) -> AgentEnv {
        Self::start_listening(name, extra_args, None, &[], Some(store.to_owned()))
    }

    /// As [`AgentEnv::start`], with the API on the address Pods reach this machine at (so
    /// that `artifacts` steps can upload to it).
    pub fn start_reachable(name: &str, extra_args: &[&str]) -> AgentEnv {
        Self::start_reachable_with_env(name, extra_args, &[])
    }

    /// As [`AgentEnv::start_reachable`], the agent with these environment variables too.
    pub fn start_reachable_with_env(
        name: &str,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> AgentEnv {
        let cluster =
            testwerk_testcluster::ensure_up().unwrap_or_else(|e| panic!("test cluster: {e}"));
        let listen = Some(format!("{}:0", cluster.host_address));
        Self::start_listening(name, extra_args, listen, env, None)
    }

    fn start_listening(
        name: &str,
        extra_args: &[&str],
        listen: Option<String>,
        extra_env: &[(&str, &str)],
        store: Option<PathBuf>,
    ) -> AgentEnv {
        let cluster =
            testwerk_testcluster::ensure_up().unwrap_or_else(|e| panic!("test cluster: {e}"));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let client = rt
            .block_on(cluster.client())
            .unwrap_or_else(|e| panic!("client: {e}"));
        let namespace = unique(name);
        let dir = std::env::temp_dir().join(&namespace);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let (kubeconfig, tokens) =
            rt.block_on(prepare(&client, &namespace, &cluster.kubeconfig, &dir));
        let store = store.unwrap_or_else(|| dir.join("agent.db"));
        let mut env = AgentEnv {
            namespace,
            client,
            rt,
            dir,
            kubeconfig,
            store,
            agent: None,
            log_name: "agent.log".to_owned(),
            address: listen,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            extra_env: extra_env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            image_volumes: cluster.image_volumes,
            http: client_with(Some(&tokens.runner)),
            tokens,
        };
        env.start_agent();
        env
    }

    /// Starts the agent (again: same store, same port).
    pub fn start_agent(&mut self) {
        let listen = self
            .address
            .clone()
            .unwrap_or_else(|| "127.0.0.1:0".to_owned());
        let (child, address) = self.spawn_agent("agent.log", &listen);
        self.agent = Some(child);
        self.address = Some(address);
    }

    /// Starts another replica of the agent (same namespace, store and arguments, its own port
    /// and log `log`); it is killed when dropped.
    pub fn start_replica(&self, log: &str) -> Replica {
        let listen = match &self.address {
            Some(a) => format!("{}:0", a.rsplit_once(':').map_or("127.0.0.1", |(h, _)| h)),
            None => "127.0.0.1:0".to_owned(),
        };
        let (child, address) = self.spawn_agent(log, &listen);
        Replica {
            child: Some(child),
            address,
            log: log.to_owned(),
        }
    }

    /// Talks to `replica` from now on (killing the agent started first, if it still runs).
    pub fn switch_to(&mut self, mut replica: Replica) {
        self.kill_agent();
        self.agent = replica.child.take();
        self.address = Some(replica.address.clone());
        self.log_name = replica.log.clone();
    }

    fn spawn_agent(&self, log_name: &str, listen: &str) -> (Child, String) {
        let log_path = self.dir.join(log_name);
        let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
        let before = read_log().matches("API on http://").count();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("agent log");
        let registry =
            std::env::var("TESTWERK_REGISTRY").unwrap_or_else(|_| "127.0.0.1:15000".into());
        let child = Command::new(testwerk_binary())
            .args(["agent", "--namespace", &self.namespace, "--listen", listen])
            .arg("--store")
            .arg(&self.store)
            .args([
                "--no-install-crds",
                "--execution-service-account",
                "testwerk-execution",
            ])
            .args(["--insecure", &registry, "--registry-mirror"])
            .arg(format!("docker.io={registry}"))
            .args(
                (!self
                    .extra_args
                    .iter()
                    .any(|a| a.starts_with("--image-volumes")))
                .then_some([
                    "--image-volumes",
                    if self.image_volumes { "on" } else { "off" },
                ])
                .into_iter()
                .flatten(),
            )
            .args(&self.extra_args)
            .envs(self.extra_env.iter().map(|(k, v)| (k, v)))
            .env("KUBECONFIG", &self.kubeconfig)
            .env("XDG_DATA_HOME", &self.dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the agent: {e}"));
        let mut child = child;
        let started = Instant::now();
        loop {
            let text = read_log();
            if text.matches("API on http://").count() > before {
                let line = text
                    .lines()
                    .rev()
                    .find(|l| l.contains("API on http://"))
                    .unwrap_or_default();
                let addr = line
                    .split("API on http://")
                    .nth(1)
                    .and_then(|r| r.split(',').next())
                    .unwrap_or_default()
                    .to_owned();
                return (child, addr);
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the agent exited ({status}):\n{text}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the agent did not start within 60 s:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The agent's process id, while it runs.
    pub fn agent_pid(&self) -> Option<u32> {
        self.agent.as_ref().map(Child::id)
    }

    /// Whether the agent process still runs (it has not exited or crashed).
    pub fn agent_alive(&mut self) -> bool {
        self.agent
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join(&self.log_name)).unwrap_or_default()
    }

    /// The log of the replica that logs to `name`.
    pub fn log_of(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// SIGKILL, as a crash would.
    pub fn kill_agent(&mut self) {
        if let Some(mut c) = self.agent.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!(
            "http://{}{path}",
            self.address.as_deref().unwrap_or("127.0.0.1:1")
        )
    }

    /// Submits a workflow through the REST API; returns the answer's status and JSON.
    pub fn submit(&self, file: &str, source: &str, workflow: Option<&str>) -> (u16, Value) {
        self.submit_body(&json!({"source": source, "file": file, "workflow": workflow}))
    }

    /// Submits with `tags`; returns the answer's status and JSON.
    pub fn submit_tagged(&self, file: &str, source: &str, tags: &Value) -> (u16, Value) {
        self.submit_body(&json!({"source": source, "file": file, "tags": tags}))
    }

    fn submit_body(&self, body: &Value) -> (u16, Value) {
        let mut answer = self
            .http
            .post(&self.url("/v1/executions"))
            .send_json(body)
            .unwrap_or_else(|e| panic!("POST /v1/executions: {e}"));
        let status = answer.status().as_u16();
        let doc = answer.body_mut().read_json().unwrap_or(Value::Null);
        (status, doc)
    }

    /// Submits and expects it accepted; returns the execution id.
    pub fn submit_ok(&self, file: &str, source: &str, workflow: Option<&str>) -> String {
        let (status, doc) = self.submit(file, source, workflow);
        assert_eq!(status, 201, "submitting {file}: {doc}\n{}", self.log());
        doc["id"].as_str().expect("an id").to_owned()
    }

    pub fn get(&self, path: &str) -> Option<Value> {
        let mut answer = self.http.get(&self.url(path)).call().ok()?;
        if answer.status().as_u16() != 200 {
            return None;
        }
        answer.body_mut().read_json().ok()
    }

    /// The status of `method path` sent with `token` (or none).
    pub fn status_as(&self, token: Option<&str>, method: &str, path: &str) -> u16 {
        let http = client_with(token);
        let answer = match method {
            "GET" => http.get(&self.url(path)).call(),
            _ => http.post(&self.url(path)).send_empty(),
        };
        answer
            .map(|a| a.status().as_u16())
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub fn post(&self, path: &str) -> (u16, Value) {
        match self.http.post(&self.url(path)).send_empty() {
            Ok(mut a) => (
                a.status().as_u16(),
                a.body_mut().read_json().unwrap_or(Value::Null),
            ),
            Err(e) => (0, json!({"error": e.to_string()})),
        }
    }

    pub fn text(&self, path: &str) -> String {
        let mut out = String::new();
        if let Ok(mut a) = self.http.get(&self.url(path)).call() {
            let _ = a.body_mut().as_reader().read_to_string(&mut out);
        }
        out
    }

    /// Polls the execution until it is over (the agent may be down for a while).
    pub fn wait_done(&self, id: &str, timeout: Duration) -> Value {
        self.wait_done_every(id, timeout, Duration::from_millis(300))
    }

    /// As [`AgentEnv::wait_done`], asking every 50 ms (for benchmarks).
    pub fn wait_done_quickly(&self, id: &str, timeout: Duration) -> Value {
        self.wait_done_every(id, timeout, Duration::from_millis(50))
    }

    fn wait_done_every(&self, id: &str, timeout: Duration, every: Duration) -> Value {
        let started = Instant::now();
        loop {
            if let Some(doc) = self.get(&format!("/v1/executions/{id}"))
                && !matches!(doc["status"].as_str(), Some("queued" | "running"))
            {
                return doc;
            }
            assert!(
                started.elapsed() < timeout,
                "execution {id} did not finish within {timeout:?}: {:?}\n{}",
                self.get(&format!("/v1/executions/{id}")),
                self.log()
            );
            std::thread::sleep(every);
        }
    }

    /// Polls until the stored log of `execution` (id or name) has a line ending in `text`.
    pub fn wait_for_log_line(&self, execution: &str, text: &str, timeout: Duration) {
        let started = Instant::now();
        loop {
            if self
                .text(&format!("/v1/executions/{execution}/logs"))
                .lines()
                .any(|l| l.ends_with(text))
            {
                return;
            }
            assert!(
                started.elapsed() < timeout,
                "no log line `{text}` within {timeout:?}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Polls until the step `name` of execution `id` runs.
    pub fn wait_step_running(&self, id: &str, name: &str, timeout: Duration) {
        let started = Instant::now();
        loop {
            if let Some(doc) = self.get(&format!("/v1/executions/{id}"))
                && doc["steps"].as_array().into_iter().flatten().any(|s| {
                    s["name"].as_str() == Some(name) && s["status"].as_str() == Some("running")
                })
            {
                return;
            }
            assert!(
                started.elapsed() < timeout,
                "step {name} of {id} never ran\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Objects of executions still in the namespace (kind/name).
    pub fn leftovers(&self) -> Vec<String> {
        self.rt.block_on(leftovers(&self.client, &self.namespace))
    }

    /// Waits until no object of an execution is left; returns what is left after `timeout`.
    pub fn wait_clean(&self, timeout: Duration) -> Vec<String> {
        let started = Instant::now();
        loop {
            let left = self.leftovers();
            if left.is_empty() || started.elapsed() > timeout {
                return left;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Asserts that no object of an execution is left (waiting up to a minute for deletions).
    pub fn assert_clean(&self) {
        let left = self.wait_clean(Duration::from_secs(60));
        assert!(left.is_empty(), "objects left behind: {left:?}");
    }

    /// Applies a custom resource (TestWorkflow, TestWorkflowTemplate, TestWorkflowExecution)
    /// as the admin.
    pub fn apply_cr(&self, doc: &Value) {
        let kind = doc["kind"].as_str().expect("a kind");
        let name = doc["metadata"]["name"].as_str().expect("a name");
        let ar = testwerk_agent::kinds::resource(kind);
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &self.namespace, &ar);
        let params = PatchParams::apply("testwerk-tests").force();
        self.rt
            .block_on(api.patch(name, &params, &Patch::Apply(doc)))
            .unwrap_or_else(|e| panic!("applying {kind} {name}: {e}"));
    }

    /// Deletes a custom resource as the admin.
    pub fn delete_cr(&self, kind: &str, name: &str) {
        let ar = testwerk_agent::kinds::resource(kind);
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &self.namespace, &ar);
        self.rt
            .block_on(api.delete(name, &Default::default()))
            .unwrap_or_else(|e| panic!("deleting {kind} {name}: {e}"));
    }

    pub fn get_cr(&self, kind: &str, name: &str) -> Option<DynamicObject> {
        let ar = testwerk_agent::kinds::resource(kind);
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &self.namespace, &ar);
        self.rt.block_on(api.get_opt(name)).ok().flatten()
    }
}

impl Drop for AgentEnv {
    fn drop(&mut self) {
        self.kill_agent();
        if std::thread::panicking() {
            eprintln!("agent log of {}:\n{}", self.namespace, self.log());
        }
        let api: Api<Namespace> = Api::all(self.client.clone());
        let _ = self
            .rt
            .block_on(api.delete(&self.namespace, &DeleteParams::background()));
        // The agent's store and log stay for a failed test, named on stderr.
        if std::thread::panicking() {
            eprintln!("kept the failed test's files in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Kubernetes tokens of people using the agent (ServiceAccounts in the test's namespace).
#[derive(Clone)]
pub struct Tokens {
    /// Bound to `testwerk-runner`: reads, runs and controls executions.
    pub runner: String,
    /// Bound to `testwerk-viewer`: reads only.
    pub viewer: String,
    /// No Role at all.
    pub nobody: String,
}

/// An HTTP client that answers every status, sending `token` as a bearer token.
pub fn client_with(token: Option<&str>) -> ureq::Agent {
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(60)));
    if let Some(token) = token {
        let value = format!("Bearer {token}");
        config = config.middleware(
            move |mut request: ureq::http::Request<ureq::SendBody>,
                  next: ureq::middleware::MiddlewareNext| {
                let v = ureq::http::HeaderValue::from_str(&value).expect("a header value");
                request.headers_mut().insert("authorization", v);
                next.handle(request)
            },
        );
    }
    ureq::Agent::new_with_config(config.build())
}

pub async fn token_for(client: &kube::Client, namespace: &str, account: &str) -> String {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let request = json!({
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {"expirationSeconds": 7200},
    });
    let answer: Value = accounts
        .create_subresource("token", account, &PostParams::default(), &request)
        .await
        .unwrap_or_else(|e| panic!("token for {account}: {e}"));
    answer["status"]["token"]
        .as_str()
        .expect("a token")
        .to_owned()
}

/// ServiceAccounts for people, bound to deploy/rbac.yaml's Roles, and their tokens.
async fn people(client: &kube::Client, namespace: &str) -> Tokens {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let bindings: Api<k8s_openapi::api::rbac::v1::RoleBinding> =
        Api::namespaced(client.clone(), namespace);
    for (account, role) in [
        ("person-runner", Some("testwerk-runner")),
        ("person-viewer", Some("testwerk-viewer")),
        ("person-nobody", None),
    ] {
        let sa: ServiceAccount =
            serde_json::from_value(json!({"metadata": {"name": account}})).expect("sa");
        accounts
            .create(&PostParams::default(), &sa)
            .await
            .unwrap_or_else(|e| panic!("ServiceAccount {account}: {e}"));
        if let Some(role) = role {
            let binding = serde_json::from_value(json!({
                "metadata": {"name": account},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
                "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
            }))
            .expect("binding");
            bindings
                .create(&PostParams::default(), &binding)
                .await
                .unwrap_or_else(|e| panic!("RoleBinding {account}: {e}"));
        }
    }
    Tokens {
        runner: token_for(client, namespace, "person-runner").await,
        viewer: token_for(client, namespace, "person-viewer").await,
        nobody: token_for(client, namespace, "person-nobody").await,
    }
}

async fn prepare(
    client: &kube::Client,
    namespace: &str,
    admin: &Path,
    dir: &Path,
) -> (PathBuf, Tokens) {
    testwerk_agent::crd::ensure(client, true)
        .await
        .unwrap_or_else(|e| panic!("CRDs: {e}"));
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": namespace}})).expect("ns");
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap_or_else(|e| panic!("namespace {namespace}: {e}"));
    // deploy/rbac.yaml, as a user would apply it.
    let rbac = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/rbac.yaml");
    let text = std::fs::read_to_string(&rbac).unwrap_or_else(|e| panic!("{}: {e}", rbac.display()));
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("YAML");
    for value in docs {
        if value.is_null() {
            continue;
        }
        let kind = value["kind"].as_str().expect("kind").to_owned();
        let name = value["metadata"]["name"].as_str().expect("name").to_owned();
        let (ar, namespaced) = match kind.as_str() {
            "ServiceAccount" => (ApiResource::erase::<ServiceAccount>(&()), true),
            "Role" => (
                ApiResource::erase::<k8s_openapi::api::rbac::v1::Role>(&()),
                true,
            ),
            "RoleBinding" => (
                ApiResource::erase::<k8s_openapi::api::rbac::v1::RoleBinding>(&()),
                true,
            ),
            "ClusterRole" => (
                ApiResource::erase::<k8s_openapi::api::rbac::v1::ClusterRole>(&()),
                false,
            ),
            other => panic!("deploy/rbac.yaml: unexpected kind {other}"),
        };
        let api: Api<DynamicObject> = if namespaced {
            Api::namespaced_with(client.clone(), namespace, &ar)
        } else {
            Api::all_with(client.clone(), &ar)
        };
        api.patch(
            &name,
            &PatchParams::apply("testwerk-tests").force(),
            &Patch::Apply(&value),
        )
        .await
        .unwrap_or_else(|e| panic!("applying {kind} {name}: {e}"));
    }
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": format!("testwerk-agent-crds-{namespace}")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "testwerk-agent-crds"},
        "subjects": [{"kind": "ServiceAccount", "name": "testwerk-agent", "namespace": namespace}],
    });
    let ar = ApiResource::erase::<k8s_openapi::api::rbac::v1::ClusterRoleBinding>(&());
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
    api.patch(
        &format!("testwerk-agent-crds-{namespace}"),
        &PatchParams::apply("testwerk-tests").force(),
        &Patch::Apply(&binding),
    )
    .await
    .unwrap_or_else(|e| panic!("ClusterRoleBinding: {e}"));

    // A token of the agent's ServiceAccount, in a kubeconfig of its own.
    let token = token_for(client, namespace, "testwerk-agent").await;
    let admin_text = std::fs::read_to_string(admin).expect("admin kubeconfig");
    let admin: Value = serde_saphyr::from_str(&admin_text).expect("kubeconfig YAML");
    let cluster = admin["clusters"][0]["cluster"].clone();
    let kubeconfig = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "test", "cluster": cluster}],
        "users": [{"name": "testwerk-agent", "user": {"token": token}}],
        "contexts": [{"name": "agent", "context": {"cluster": "test", "user": "testwerk-agent", "namespace": namespace}}],
        "current-context": "agent",
    });
    let path = dir.join("agent.kubeconfig");
    std::fs::write(&path, serde_saphyr::to_string(&kubeconfig).expect("yaml")).expect("kubeconfig");
    (path, people(client, namespace).await)
}

async fn leftovers(client: &kube::Client, namespace: &str) -> Vec<String> {
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret};
    let label = ListParams::default().labels(testwerk_agent::objects::EXECUTION_LABEL);
    let mut out = Vec::new();
    macro_rules! list {
        ($t:ty, $kind:literal) => {
            let api: Api<$t> = Api::namespaced(client.clone(), namespace);
            if let Ok(list) = api.list(&label).await {
                for o in list.items {
                    out.push(format!("{}/{}", $kind, o.metadata.name.unwrap_or_default()));
                }
            }
        };
    }
    list!(Job, "Job");
    list!(Pod, "Pod");
    list!(Secret, "Secret");
    list!(ConfigMap, "ConfigMap");
    list!(PersistentVolumeClaim, "PersistentVolumeClaim");
    out
}
