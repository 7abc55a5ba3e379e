//! One OCI bundle per container: the `config.json` runc reads, built from the Pod's container,
//! its volumes, the image (or the host) and the Kubernetes runtime-default confinement.

pub mod confine;
pub mod spec;
pub mod user;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, PodSpec};

use crate::LocalError;
use crate::quantity;
use spec::{
    Capabilities, Cpu, DeviceRule, IdMapping, Linux, Memory, Mount, Namespace, Pids, Process,
    Resources, Root, Spec, User,
};

/// The pids limit of a container without one: a fork bomb stays inside.
pub const DEFAULT_PIDS_LIMIT: i64 = 4096;

/// The CFS period we divide a CPU limit over (the kernel's and Kubernetes' default).
const CPU_PERIOD: u64 = 100_000;

/// Which network the container joins.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Network {
    /// The host's, like `docker run --network host`: steps reach services on this machine's
    /// loopback.
    #[default]
    Host,
    /// The Pod's own network namespace (this path), shared by its containers
    /// ([`crate::network::PodNetwork`]): parallel workers and service instances, each with an
    /// address of its own.
    Pod(std::path::PathBuf),
}

/// Where a container's processes land in the cgroup tree, or why they have none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cgroup {
    /// `cgroupsPath`, relative to runc's own cgroup (runc's cgroupfs driver).
    Path(String),
    /// Rootless on cgroup v1: limits cannot be applied (the run says so).
    None,
}

/// Everything that decides one container's `config.json`.
pub struct ContainerConfig<'a> {
    pub container: &'a Container,
    pub pod: &'a PodSpec,
    /// The directory runc uses as `/`.
    pub rootfs: &'a Path,
    /// The root is read-only (our own images and the host); an image's overlay is writable.
    pub readonly_root: bool,
    /// The overlay mounted on `/` first, in image mode ([`crate::overlay`]).
    pub overlay: Option<Mount>,
    /// Mounts that make up the root besides the directory itself (the host's directories, our
    /// programs), before the volumes.
    pub root_mounts: Vec<Mount>,
    /// Each Pod volume's directory on this machine.
    pub volumes: &'a BTreeMap<String, PathBuf>,
    /// The container's whole environment, in order.
    pub env: Vec<(String, String)>,
    /// The user from the image (`User`), when the Pod does not say.
    pub image_user: Option<&'a str>,
    /// The image's root, for names in `User` and `runAsUser`-less defaults.
    pub image_root: Option<&'a Path>,
    pub image_working_dir: Option<&'a str>,
    pub hostname: &'a str,
    pub cgroup: Cgroup,
    /// The pids limit (Kubernetes sets one per node, not per container).
    pub pids_limit: i64,
    /// `Some((uid, gid))` of this user when runc runs rootless.
    pub rootless: Option<(u32, u32)>,
    /// Paths of this machine that must look empty inside (the store, the run's directory).
    pub hidden: Vec<String>,
    pub network: Network,
}

/// Builds the `config.json` of one container.
pub fn config(c: &ContainerConfig<'_>) -> Result<Spec, LocalError> {
    let container = c.container;
    let sc = container.security_context.as_ref();
    let pod_sc = c.pod.security_context.as_ref();
    let bad = |m: String| LocalError::Unsupported(format!("container {}: {m}", container.name));

    // User: the Pod's securityContext, else the image's `User`, else root.
    let run_as_user = sc
        .and_then(|s| s.run_as_user)
        .or(pod_sc.and_then(|s| s.run_as_user));
    let run_as_group = sc
        .and_then(|s| s.run_as_group)
        .or(pod_sc.and_then(|s| s.run_as_group));
    let (image_uid, image_gid) = match c.image_user {
        Some(u) if !u.is_empty() => user::resolve(u, c.image_root).map_err(bad)?,
        _ => (0, 0),
    };
    let uid = match run_as_user {
        Some(u) => id(u, "runAsUser").map_err(bad)?,
        None => image_uid,
    };
    let gid = match run_as_group {
        Some(g) => id(g, "runAsGroup").map_err(bad)?,
        // The image's group when its user was used, else the user's primary group there.
        None if run_as_user.is_none() => image_gid,
        None => user::primary_group(uid, c.image_root).unwrap_or(0),
    };
    let mut additional_gids = Vec::new();
    if let Some(pod_sc) = pod_sc {
        for g in pod_sc
            .fs_group
            .iter()
            .chain(pod_sc.supplemental_groups.iter().flatten())
        {
            let g = id(*g, "fsGroup/supplementalGroups").map_err(bad)?;
            if g != gid && !additional_gids.contains(&g) {
                additional_gids.push(g);
            }
        }
    }

    let (uid_mappings, gid_mappings) = match c.rootless {
        // Without newuidmap only our own ids exist in the user namespace, and runc wants
        // them as the container's root: one user (0) and one group (0).
        Some((host_uid, host_gid)) => {
            if uid != 0 {
                return Err(LocalError::Setup(format!(
                    "container {}: runs as user {uid}, but as an ordinary user only user 0 (you) exists in the container; run as root, or leave runAsUser unset (subordinate ids through newuidmap, package `uidmap`, and /etc/subuid are not used yet)",
                    container.name
                )));
            }
            // runAsGroup and fsGroup cannot be honoured: the volumes are ours anyway.
            additional_gids.clear();
            (
                vec![IdMapping {
                    container_id: 0,
                    host_id: host_uid,
                    size: 1,
                }],
                vec![IdMapping {
                    container_id: 0,
                    host_id: host_gid,
                    size: 1,
                }],
            )
        }
        None => (Vec::new(), Vec::new()),
    };
    let gid = if c.rootless.is_some() { 0 } else { gid };

    // Capabilities and privilege escalation.
    let caps = sc.and_then(|s| s.capabilities.as_ref());
    let privileged = sc.and_then(|s| s.privileged).unwrap_or(false);
    if privileged {
        return Err(bad(
            "`privileged: true` is refused locally: it would hand the step this machine".into(),
        ));
    }
    let capability_names = confine::capabilities(
        caps.and_then(|c| c.add.as_deref()).unwrap_or_default(),
        caps.and_then(|c| c.drop.as_deref()).unwrap_or_default(),
    );
    let no_new_privileges = !sc
        .and_then(|s| s.allow_privilege_escalation)
        .unwrap_or(false);

    let cwd = container
        .working_dir
        .clone()
        .filter(|w| !w.is_empty())
        .or_else(|| {
            c.image_working_dir
                .map(str::to_owned)
                .filter(|w| !w.is_empty())
        })
        .unwrap_or_else(|| "/".to_owned());
    if !cwd.starts_with('/') {
        return Err(bad(format!("workingDir `{cwd}` is not an absolute path")));
    }

    let mut args: Vec<String> = container.command.clone().unwrap_or_default();
    args.extend(container.args.clone().unwrap_or_default());
    if args.is_empty() {
        return Err(bad("no command to run".into()));
    }

    let mut mounts: Vec<Mount> = c.overlay.iter().cloned().collect();
    mounts.extend(base_mounts(c.rootless.is_some()));
    mounts.extend(c.root_mounts.iter().cloned());
    mounts.extend(volume_mounts(container, c.volumes)?);
    if c.rootless.is_some() {
        // In a user namespace a mount with mounts below it can only be bound with them
        // (the kernel locks them); the user's own rights apply to all of it anyway.
        for m in &mut mounts {
            for o in &mut m.options {
                if o == "bind" {
                    *o = "rbind".to_owned();
                }
            }
        }
    }

    let mut namespaces: Vec<Namespace> = ["pid", "ipc", "uts", "mount", "cgroup"]
        .iter()
        .map(|k| Namespace {
            kind: (*k).to_owned(),
            path: None,
        })
        .collect();
    match &c.network {
        Network::Host => {}
        Network::Pod(path) => namespaces.push(Namespace {
            kind: "network".to_owned(),
            path: Some(path.display().to_string()),
        }),
    }
    if c.rootless.is_some() {
        namespaces.push(Namespace {
            kind: "user".to_owned(),
            path: None,
        });
    }

    let resources = match &c.cgroup {
        Cgroup::None => None,
        Cgroup::Path(_) => Some(resources(container, c.pids_limit).map_err(bad)?),
    };
    let mut masked: Vec<String> = confine::MASKED_PATHS
        .iter()
        .map(|p| (*p).to_owned())
        .collect();
    masked.extend(c.hidden.iter().cloned());

    Ok(Spec {
        oci_version: "1.0.2".to_owned(),
        process: Process {
            terminal: false,
            user: User {
                uid,
                gid,
                additional_gids,
            },
            args,
            env: c.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            cwd,
            capabilities: Capabilities {
                bounding: capability_names.clone(),
                effective: capability_names.clone(),
                permitted: capability_names,
                inheritable: Vec::new(),
                ambient: Vec::new(),
            },
            no_new_privileges,
            rlimits: Vec::new(),
        },
        root: Root {
            path: c.rootfs.display().to_string(),
            readonly: c.readonly_root,
        },
        hostname: c.hostname.to_owned(),
        mounts,
        linux: Linux {
            namespaces,
            uid_mappings,
            gid_mappings,
            cgroups_path: match &c.cgroup {
                Cgroup::Path(p) => Some(p.clone()),
                Cgroup::None => None,
            },
            resources,
            masked_paths: masked,
            readonly_paths: confine::READONLY_PATHS
                .iter()
                .map(|p| (*p).to_owned())
                .collect(),
            seccomp: Some(confine::seccomp()),
        },
    })
}

fn id(value: i64, what: &str) -> Result<u32, String> {
    u32::try_from(value).map_err(|_| format!("{what} {value} is not a valid id"))
}

/// `/proc`, `/dev`, `/sys` and friends, as containerd mounts them. `/sys` and its cgroups
/// are read-only; `/dev/shm` is the container's own.
fn base_mounts(rootless: bool) -> Vec<Mount> {
    let devpts: &[&str] = if rootless {
        // No group 5 (tty) exists in a one-id user namespace.
        &[
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
        ]
    } else {
        &[
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ]
    };
    let mut mounts = vec![
        Mount::special("proc", "/proc", &["nosuid", "noexec", "nodev"]),
        Mount::special(
            "tmpfs",
            "/dev",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        Mount::special("devpts", "/dev/pts", devpts),
        Mount {
            source: "shm".to_owned(),
            ..Mount::special(
                "tmpfs",
                "/dev/shm",
                &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
            )
        },
        Mount::special("mqueue", "/dev/mqueue", &["nosuid", "noexec", "nodev"]),
    ];
    if rootless {
        // A user namespace without its own network namespace may not mount sysfs.
        mounts.push(Mount {
            destination: "/sys".to_owned(),
            kind: "none".to_owned(),
            source: "/sys".to_owned(),
            options: ["rbind", "nosuid", "noexec", "nodev", "ro"]
                .iter()
                .map(|o| (*o).to_owned())
                .collect(),
        });
    } else {
        mounts.push(Mount::special(
            "sysfs",
            "/sys",
            &["nosuid", "noexec", "nodev", "ro"],
        ));
        mounts.push(Mount::special(
            "cgroup",
            "/sys/fs/cgroup",
            &["nosuid", "noexec", "nodev", "relatime", "ro"],
        ));
    }
    mounts
}

/// The container's `volumeMounts` as bind mounts, parents before children.
fn volume_mounts(
    container: &Container,
    volumes: &BTreeMap<String, PathBuf>,
) -> Result<Vec<Mount>, LocalError> {
    let mut list: Vec<_> = container.volume_mounts.iter().flatten().collect();
    list.sort_by_key(|m| m.mount_path.matches('/').count());
    let mut out = Vec::new();
    for m in list {
        let volume = volumes.get(&m.name).ok_or_else(|| {
            LocalError::Unsupported(format!(
                "container {} mounts unknown volume `{}`",
                container.name, m.name
            ))
        })?;
        if !m.mount_path.starts_with('/') {
            return Err(LocalError::Unsupported(format!(
                "container {}: mountPath `{}` of volume `{}` is not absolute",
                container.name, m.mount_path, m.name
            )));
        }
        let source = match m.sub_path.as_deref() {
            Some(sub) if !sub.is_empty() => {
                let rel = Path::new(sub);
                if rel
                    .components()
                    .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
                {
                    return Err(LocalError::Unsupported(format!(
                        "container {}: subPath `{sub}` of volume `{}` must be a relative path inside the volume",
                        container.name, m.name
                    )));
                }
                let path = volume.join(rel);
                if !path.exists() {
                    // The kubelet creates a missing subPath as a directory.
                    std::fs::create_dir_all(&path).map_err(|e| LocalError::io(&path, e))?;
                }
                path
            }
            _ => volume.clone(),
        };
        out.push(Mount::bind(
            &source.display().to_string(),
            &m.mount_path,
            m.read_only.unwrap_or(false),
        ));
    }
    Ok(out)
}

/// cgroup limits from `resources.limits`, plus the default pids limit.
fn resources(container: &Container, pids_limit: i64) -> Result<Resources, String> {
    let limits = container.resources.as_ref().and_then(|r| r.limits.as_ref());
    let memory = match limits.and_then(|l| l.get("memory")) {
        Some(q) => {
            let limit = quantity::bytes(&q.0).map_err(|e| format!("limits.memory {e}"))?;
            Some(Memory { limit, swap: limit })
        }
        None => None,
    };
    let cpu = match limits.and_then(|l| l.get("cpu")) {
        Some(q) => {
            let milli = quantity::millicores(&q.0).map_err(|e| format!("limits.cpu {e}"))?;
            // The kernel refuses a quota under 1 ms; Kubernetes rounds up the same way.
            let quota = (milli * CPU_PERIOD as i64 / 1000).max(1000);
            Some(Cpu {
                quota,
                period: CPU_PERIOD,
            })
        }
        None => None,
    };
    Ok(Resources {
        devices: vec![DeviceRule {
            allow: false,
            access: "rwm".to_owned(),
        }],
        memory,
        cpu,
        pids: Some(Pids { limit: pids_limit }),
    })
}
