//! The Helm chart (`deploy/chart`) on the real test cluster: `helm install` with the agent
//! image and a PostgreSQL store, a workflow run end to end through the installed agent's API
//! by a person bound to the chart's runner Role, `helm uninstall`, and nothing of ours left.
//!
//! Run with `cargo test -p testwerk --features cluster --test chart_cluster` (as root).
#![cfg(feature = "cluster")]

mod agent;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::{Value, json};

const RELEASE: &str = "tw";

fn chart() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/chart")
}

/// Runs helm; panics with its output when it fails.
fn helm(helm: &Path, kubeconfig: &Path, args: &[&str]) -> String {
    let out = Command::new(helm)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env(
            "HELM_CACHE_HOME",
            std::env::temp_dir().join("testwerk-helm/cache"),
        )
        .env(
            "HELM_CONFIG_HOME",
            std::env::temp_dir().join("testwerk-helm/config"),
        )
        .env(
            "HELM_DATA_HOME",
            std::env::temp_dir().join("testwerk-helm/data"),
        )
        .output()
        .unwrap_or_else(|e| panic!("cannot run helm: {e}"));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "helm {}: {text}", args.join(" "));
    text
}

/// The rules of the agent's Role in a multi-document YAML text.
fn agent_role_rules(yaml: &str, name: &str) -> Value {
    testwerk_spec::parse_values(yaml)
        .unwrap_or_else(|e| panic!("not YAML: {e:?}"))
        .into_iter()
        .find(|d| d["kind"] == "Role" && d["metadata"]["name"] == name)
        .map(|d| d["rules"].clone())
        .unwrap_or_else(|| panic!("no Role {name}"))
}

#[test]
fn the_chart_installs_runs_a_workflow_and_uninstalls_without_a_trace() {
    let cluster = testwerk_testcluster::ensure_up().unwrap_or_else(|e| panic!("test cluster: {e}"));
    let Some(helm_bin) = testwerk_testinputs::available(
        cluster.helm.clone().filter(|h| h.is_file()),
        "helm (built with the test cluster)",
        "scripts/cluster build",
    ) else {
        return;
    };
    let Some(postgres) = testwerk_testpostgres::server() else {
        return;
    };
    let kubeconfig = cluster.kubeconfig.clone();
    let chart_dir = chart();
    let chart_path = chart_dir.to_str().unwrap_or_default();

    // The chart's RBAC is deploy/rbac.yaml's.
    let rendered = helm(
        &helm_bin,
        &kubeconfig,
        &[
            "template",
            RELEASE,
            chart_path,
            "--set",
            "crds.install=false",
        ],
    );
    let rbac = std::fs::read_to_string(chart().join("../rbac.yaml")).unwrap_or_default();
    assert_eq!(
        agent_role_rules(&rendered, "tw-testwerk"),
        agent_role_rules(&rbac, "testwerk-agent"),
        "deploy/chart/templates/rbac.yaml and deploy/rbac.yaml grant the agent the same"
    );
    for (bad, names) in [
        (vec!["--set", "replicas=2"], "store"),
        (vec!["--set", "store.type=mongo"], "store"),
        (vec!["--set", "store.type=postgres"], "store"),
        (vec!["--set", "imageVolumes=yes"], "imageVolumes"),
    ] {
        let mut args = vec!["template", RELEASE, chart_path];
        args.extend(bad.iter().copied());
        let out = Command::new(&helm_bin)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!out.status.success(), "{bad:?} is refused");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(names),
            "{bad:?}: the message says what to set: {err}"
        );
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let client = rt
        .block_on(cluster.client())
        .unwrap_or_else(|e| panic!("client: {e}"));
    let namespace = format!("tw-chart-{:x}", std::process::id() ^ 0x5a5a);
    let apiserver_port = std::fs::read_to_string(&kubeconfig)
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("server: https://127.0.0.1:")
                .map(str::to_owned)
        })
        .expect("the API server's port in the kubeconfig");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let registry = cluster.registry.clone();
    // The test cluster routes no Service (no kube-proxy): the agent runs on the node's
    // network, reaches the API server on 127.0.0.1, and Pods reach it at the host address.
    let values = json!({
        "image": {"repository": "testwerk/agent", "tag": env!("CARGO_PKG_VERSION")},
        "crds": {"install": false},
        "hostNetwork": true,
        "service": {"port": port},
        "advertiseUrl": format!("http://{}:{port}", cluster.host_address),
        "store": {"type": "postgres", "postgres": {"url": postgres.database().url}},
        "maxRunning": 5,
        "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/testwerk"}},
        "extraArgs": ["--insecure", registry, "--registry-mirror", format!("docker.io={registry}")],
        "extraEnvVars": [
            {"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
            {"name": "KUBERNETES_SERVICE_PORT", "value": apiserver_port},
        ],
    });
    let dir = std::env::temp_dir().join(&namespace);
    std::fs::create_dir_all(&dir).expect("scratch");
    let values_file = dir.join("values.json");
    std::fs::write(&values_file, values.to_string()).expect("values");
    let started = Instant::now();
    helm(
        &helm_bin,
        &kubeconfig,
        &[
            "install",
            RELEASE,
            chart_path,
            "--namespace",
            &namespace,
            "--create-namespace",
            "--values",
            values_file.to_str().unwrap_or_default(),
            "--wait",
            "--timeout",
            "3m",
        ],
    );
    eprintln!(
        "chart: installed and ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let agent_pod = rt
        .block_on(pods.list(&ListParams::default().labels("app.kubernetes.io/name=testwerk")))
        .expect("the agent's Pod")
        .items
        .into_iter()
        .next()
        .expect("an agent Pod");
    let security = agent_pod
        .spec
        .as_ref()
        .and_then(|s| s.security_context.clone());
    assert_eq!(
        security.and_then(|s| s.run_as_non_root),
        Some(true),
        "the agent runs as non-root"
    );

    // A person bound to the chart's runner Role.
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &namespace);
    let person: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "person"}})).expect("sa");
    rt.block_on(accounts.create(&PostParams::default(), &person))
        .expect("a ServiceAccount");
    let bindings: Api<k8s_openapi::api::rbac::v1::RoleBinding> =
        Api::namespaced(client.clone(), &namespace);
    let binding = serde_json::from_value(json!({
        "metadata": {"name": "person"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tw-testwerk-runner"},
        "subjects": [{"kind": "ServiceAccount", "name": "person", "namespace": namespace}],
    }))
    .expect("binding");
    rt.block_on(bindings.create(&PostParams::default(), &binding))
        .expect("a RoleBinding");
    let token = rt.block_on(agent::token_for(&client, &namespace, "person"));
    let http = agent::client_with(Some(&token));
    let base = format!("http://127.0.0.1:{port}");

    let workflow = "kind: TestWorkflow\napiVersion: testworkflows.testkube.io/v1\nmetadata: {name: from-chart}\nspec:\n  container: {image: \"busybox:1.37\"}\n  steps:\n  - shell: echo installed by helm\n";
    let mut answer = http
        .post(&format!("{base}/v1/executions"))
        .send_json(json!({"source": workflow, "file": "from-chart.yaml"}))
        .expect("the installed agent's API");
    let created: Value = answer.body_mut().read_json().unwrap_or_default();
    assert_eq!(answer.status().as_u16(), 201, "{created}");
    let id = created["id"].as_str().expect("an id").to_owned();
    let deadline = Instant::now() + Duration::from_secs(180);
    let done = loop {
        let doc: Value = http
            .get(&format!("{base}/v1/executions/{id}"))
            .call()
            .ok()
            .and_then(|mut a| a.body_mut().read_json().ok())
            .unwrap_or_default();
        if !matches!(doc["status"].as_str(), Some("queued" | "running") | None) {
            break doc;
        }
        assert!(Instant::now() < deadline, "not done in 3 minutes: {doc}");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(done["status"], "passed", "{done}");
    let mut logs = String::new();
    let _ = http
        .get(&format!("{base}/v1/executions/{id}/logs"))
        .call()
        .map(|mut a| std::io::Read::read_to_string(&mut a.body_mut().as_reader(), &mut logs));
    assert!(logs.contains("installed by helm"), "{logs}");

    helm(
        &helm_bin,
        &kubeconfig,
        &["uninstall", RELEASE, "--namespace", &namespace, "--wait"],
    );
    // Nothing of the release or its executions is left: only what every namespace has and
    // the person this test made.
    let left = rt.block_on(leftovers(&client, &namespace));
    assert!(left.is_empty(), "left behind: {left:?}");
    let cluster_roles: Api<k8s_openapi::api::rbac::v1::ClusterRole> = Api::all(client.clone());
    let name = format!("tw-testwerk-{namespace}");
    assert!(
        rt.block_on(cluster_roles.get_opt(&name))
            .ok()
            .flatten()
            .is_none(),
        "ClusterRole {name} left behind"
    );
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let _ = rt.block_on(namespaces.delete(&namespace, &DeleteParams::default()));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The objects in `namespace` that neither Kubernetes nor this test made.
async fn leftovers(client: &kube::Client, namespace: &str) -> Vec<String> {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service};
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    let lp = ListParams::default();
    let mut left = Vec::new();
    macro_rules! list {
        ($kind:ty, $keep:expr) => {{
            let api: Api<$kind> = Api::namespaced(client.clone(), namespace);
            for o in api.list(&lp).await.map(|l| l.items).unwrap_or_default() {
                let name = o.metadata.name.clone().unwrap_or_default();
                let keep: &[&str] = $keep;
                if !keep.contains(&name.as_str()) && o.metadata.deletion_timestamp.is_none() {
                    left.push(format!("{}/{name}", stringify!($kind)));
                }
            }
        }};
    }
    list!(Deployment, &[]);
    list!(Pod, &[]);
    list!(Job, &[]);
    list!(Service, &[]);
    list!(ServiceAccount, &["default", "person"]);
    list!(Role, &[]);
    list!(RoleBinding, &["person"]);
    list!(Secret, &[]);
    list!(ConfigMap, &["kube-root-ca.crt"]);
    list!(PersistentVolumeClaim, &[]);
    left
}
