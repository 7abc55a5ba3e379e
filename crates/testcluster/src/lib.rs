//! testwerk's single-node Kubernetes test cluster, for tests.
//!
//! The cluster itself is `scripts/cluster` at the root of the repository: it builds the
//! Kubernetes binaries once per machine (cached outside the repository), starts etcd, the
//! control plane, containerd, the kubelet and a local image registry on 127.0.0.1, and tears
//! them down with `scripts/cluster down`. This crate brings it up from a test:
//!
//! ```no_run
//! let cluster = testwerk_testcluster::ensure_up().expect("test cluster");
//! println!("KUBECONFIG={} registry={}", cluster.kubeconfig.display(), cluster.registry);
//! ```
//!
//! [`ensure_up`] runs `scripts/cluster up` at most once per test process (it returns at once
//! when the cluster already runs), serialised across test processes by a file lock. Tests that
//! need the cluster belong behind the cargo feature `cluster`, which also brings
//! [`Cluster::client`] (a `kube` client).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// A running test cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    /// The admin kubeconfig (client certificate in `system:masters`).
    pub kubeconfig: PathBuf,
    /// The local registry, `host:port` (plain HTTP on 127.0.0.1). containerd uses it as the
    /// mirror of `docker.io` and `registry.k8s.io`, so `alpine:3.22.0` in a Pod is pulled from
    /// `<registry>/library/alpine:3.22.0`.
    pub registry: String,
    /// This machine's address as Pods reach it (the Pod bridge's host side): servers a test
    /// starts for Pods (Git, files, the agent's artifact receiver) listen here.
    pub host_address: std::net::IpAddr,
    /// helm, built with the cluster (`scripts/cluster build`), for the chart's tests.
    pub helm: Option<PathBuf>,
    /// Whether Pods can mount images as volumes (the cluster runs with the `ImageVolume`
    /// feature gate: `scripts/cluster up` does unless `TESTWERK_CLUSTER_IMAGE_VOLUMES=off`).
    pub image_volumes: bool,
}

impl Cluster {
    /// The image reference of testwerk's init image, as a Pod names it (`testwerk/init:<version>`).
    pub fn init_image(&self) -> String {
        format!("testwerk/init:{}", env!("CARGO_PKG_VERSION"))
    }

    /// The image reference of testwerk's toolkit image (`testwerk/toolkit:<version>`).
    pub fn toolkit_image(&self) -> String {
        format!("testwerk/toolkit:{}", env!("CARGO_PKG_VERSION"))
    }

    /// A `kube` client for the cluster's admin kubeconfig.
    #[cfg(feature = "cluster")]
    pub async fn client(&self) -> Result<kube::Client, String> {
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig)
            .map_err(|e| format!("reading {}: {e}", self.kubeconfig.display()))?;
        let config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .map_err(|e| format!("kubeconfig {}: {e}", self.kubeconfig.display()))?;
        kube::Client::try_from(config).map_err(|e| format!("kube client: {e}"))
    }
}

/// The repository's `scripts/cluster`.
pub fn script() -> PathBuf {
    if let Some(path) = std::env::var_os("TESTWERK_CLUSTER_SCRIPT") {
        return PathBuf::from(path);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/cluster")
}

/// Brings the test cluster up unless it runs already, once per process; returns how to reach it.
///
/// The first call runs `scripts/cluster up` (seconds with a warm cache, minutes on a machine
/// that has never built Kubernetes) with its output on this process's stderr; later calls
/// return the first call's result.
pub fn ensure_up() -> Result<Cluster, String> {
    static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
    CLUSTER.get_or_init(bring_up).clone()
}

fn bring_up() -> Result<Cluster, String> {
    let script = script();
    // Parallel test binaries: one brings the cluster up, the others wait here and then find it
    // running. (scripts/cluster also locks its state directory; this lock is another file.)
    let lock_path = std::env::temp_dir().join("testwerk-testcluster.lock");
    let lock =
        File::create(&lock_path).map_err(|e| format!("creating {}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("locking {}: {e}", lock_path.display()))?;

    let status = Command::new(&script)
        .arg("up")
        .stdin(Stdio::null())
        .stdout(std::io::stderr())
        .status()
        .map_err(|e| format!("running {} up: {e}", script.display()))?;
    if !status.success() {
        return Err(format!(
            "{} up failed ({status}); see its output above",
            script.display()
        ));
    }
    let out = Command::new(&script)
        .arg("env")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("running {} env: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!("{} env failed ({})", script.display(), out.status));
    }
    drop(lock);
    parse_env(&String::from_utf8_lossy(&out.stdout))
}

/// Reads `export KUBECONFIG=…` and `export TESTWERK_REGISTRY=…` as printed by `scripts/cluster env`.
fn parse_env(text: &str) -> Result<Cluster, String> {
    let mut kubeconfig = None;
    let mut registry = None;
    let mut host_address = None;
    let mut helm = None;
    let mut image_volumes = false;
    for line in text.lines() {
        let Some((key, value)) = line
            .trim()
            .strip_prefix("export ")
            .and_then(|kv| kv.split_once('='))
        else {
            continue;
        };
        let value = value.trim_matches(|c| c == '\'' || c == '"');
        match key {
            "KUBECONFIG" => kubeconfig = Some(PathBuf::from(value)),
            "TESTWERK_REGISTRY" => registry = Some(value.to_owned()),
            "TESTWERK_HOST_ADDRESS" => host_address = value.parse().ok(),
            "TESTWERK_HELM" => helm = Some(PathBuf::from(value)),
            "TESTWERK_CLUSTER_IMAGE_VOLUMES" => image_volumes = value == "on",
            _ => {}
        }
    }
    match (kubeconfig, registry, host_address) {
        (Some(kubeconfig), Some(registry), Some(host_address)) => Ok(Cluster {
            kubeconfig,
            registry,
            host_address,
            helm,
            image_volumes,
        }),
        _ => Err(format!(
            "scripts/cluster env printed no KUBECONFIG, TESTWERK_REGISTRY or TESTWERK_HOST_ADDRESS:\n{text}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_env_output() {
        let cluster = parse_env(
            "export KUBECONFIG=/var/lib/testwerk-cluster/admin.kubeconfig\nexport TESTWERK_REGISTRY=127.0.0.1:15000\nexport TESTWERK_HOST_ADDRESS=10.217.0.1\nexport TESTWERK_HELM=/cache/bin/helm\nexport TESTWERK_CLUSTER_IMAGE_VOLUMES=on\n",
        )
        .expect("parsed");
        assert_eq!(
            cluster,
            Cluster {
                kubeconfig: PathBuf::from("/var/lib/testwerk-cluster/admin.kubeconfig"),
                registry: "127.0.0.1:15000".into(),
                host_address: std::net::IpAddr::from([10, 217, 0, 1]),
                helm: Some(PathBuf::from("/cache/bin/helm")),
                image_volumes: true,
            }
        );
        assert_eq!(
            cluster.init_image(),
            format!("testwerk/init:{}", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn refuses_incomplete_env_output() {
        assert!(parse_env("export KUBECONFIG=/x\n").is_err());
        assert!(parse_env("").is_err());
    }

    #[test]
    fn the_script_is_in_the_repository() {
        assert!(script().is_file(), "{} is missing", script().display());
    }
}
