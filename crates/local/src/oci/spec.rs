//! The subset of the OCI runtime specification's `config.json` (runtime-spec 1.0.2, what
//! Debian's runc 1.1 reads) that the local runner emits. Our own small types: the `oci-spec`
//! crate models all of it, with builders and getters, for the ~40 fields we write.

use serde::Serialize;

/// `config.json` of one bundle.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    pub oci_version: String,
    pub process: Process,
    pub root: Root,
    pub hostname: String,
    pub mounts: Vec<Mount>,
    pub linux: Linux,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Process {
    pub terminal: bool,
    pub user: User,
    pub args: Vec<String>,
    /// `NAME=value`, in order; a later duplicate wins, as in execve's environment.
    pub env: Vec<String>,
    pub cwd: String,
    pub capabilities: Capabilities,
    pub no_new_privileges: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rlimits: Vec<Rlimit>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub additional_gids: Vec<u32>,
}

/// Capability names as `CAP_CHOWN`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Capabilities {
    pub bounding: Vec<String>,
    pub effective: Vec<String>,
    pub permitted: Vec<String>,
    /// Always empty: inheritable capabilities leak into programs a non-root user runs
    /// (CVE-2022-24769), so containerd leaves them out too.
    pub inheritable: Vec<String>,
    pub ambient: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Rlimit {
    #[serde(rename = "type")]
    pub kind: String,
    pub hard: u64,
    pub soft: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Root {
    pub path: String,
    pub readonly: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mount {
    pub destination: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub source: String,
    pub options: Vec<String>,
}

impl Mount {
    /// A bind mount of a host path; not recursive, so nothing mounted below `source` on the
    /// host shows (and none of it could stay writable under a read-only bind).
    pub fn bind(source: &str, destination: &str, read_only: bool) -> Mount {
        let mut options = vec!["bind".to_owned(), "nosuid".to_owned(), "nodev".to_owned()];
        options.push(if read_only { "ro" } else { "rw" }.to_owned());
        Mount {
            destination: destination.to_owned(),
            kind: "none".to_owned(),
            source: source.to_owned(),
            options,
        }
    }

    pub fn special(kind: &str, destination: &str, options: &[&str]) -> Mount {
        Mount {
            destination: destination.to_owned(),
            kind: kind.to_owned(),
            source: kind.to_owned(),
            options: options.iter().map(|o| (*o).to_owned()).collect(),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Linux {
    pub namespaces: Vec<Namespace>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub uid_mappings: Vec<IdMapping>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gid_mappings: Vec<IdMapping>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroups_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<Seccomp>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Namespace {
    #[serde(rename = "type")]
    pub kind: String,
    /// An existing namespace to join (a Pod's network), instead of a new one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdMapping {
    #[serde(rename = "containerID")]
    pub container_id: u32,
    #[serde(rename = "hostID")]
    pub host_id: u32,
    pub size: u32,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Resources {
    pub devices: Vec<DeviceRule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids: Option<Pids>,
}

/// Device cgroup rule; runc adds the standard devices (`/dev/null` and friends) itself.
#[derive(Clone, Debug, Serialize)]
pub struct DeviceRule {
    pub allow: bool,
    pub access: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Memory {
    pub limit: i64,
    /// Memory plus swap: equal to `limit`, so the container cannot swap past its limit.
    pub swap: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Cpu {
    pub quota: i64,
    pub period: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Pids {
    pub limit: i64,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Seccomp {
    pub default_action: String,
    pub architectures: Vec<String>,
    pub syscalls: Vec<SyscallRule>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    pub names: Vec<String>,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<SyscallArg>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallArg {
    pub index: u32,
    pub value: u64,
    pub value_two: u64,
    pub op: String,
}
