//! Kubernetes' `RuntimeDefault` confinement, as containerd gives every container: its default
//! capability set, its masked and read-only `/proc` and `/sys` paths, and a seccomp profile.
//!
//! The seccomp profile is ours, derived from the list of system calls Docker's (moby's)
//! default profile refuses to a container without extra capabilities
//! (`profiles/seccomp/default.json`). Docker's profile is an allow-list of ~350 names; ours
//! allows by default and refuses the dangerous ones with `EPERM`, which is shorter to audit
//! and does not break programs on a syscall newer than the list. `clone3` answers `ENOSYS`,
//! as in Docker, so that the C library falls back to `clone`, whose namespace flags the
//! filter can see (`clone3` passes them in memory, out of seccomp's reach).

use super::spec::{Seccomp, SyscallArg, SyscallRule};

/// containerd's default capabilities (`oci.WithDefaultCapabilities` /
/// `populateDefaultUnixSpec`), which Kubernetes' `RuntimeDefault` keeps.
pub const DEFAULT_CAPABILITIES: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// containerd's default masked paths: empty (a `/dev/null` bind or a read-only tmpfs).
pub const MASKED_PATHS: [&str; 11] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
    "/proc/scsi",
];

/// containerd's default read-only paths, and the cgroup tree: runc mounts cgroup v1 as a
/// tmpfs holding the controllers, whose top would stay writable (harmless, as it is the
/// container's own tmpfs, but a step should not be able to make cgroup-looking directories).
pub const READONLY_PATHS: [&str; 6] = [
    "/sys/fs/cgroup",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The capability set after the container's `securityContext.capabilities` (names as
/// Kubernetes writes them, `NET_ADMIN`; `ALL` in `drop` drops everything not added).
pub fn capabilities(add: &[String], drop: &[String]) -> Vec<String> {
    let norm = |c: &String| {
        let upper = c.trim().to_ascii_uppercase();
        if upper.starts_with("CAP_") || upper == "ALL" {
            upper
        } else {
            format!("CAP_{upper}")
        }
    };
    let drop: Vec<String> = drop.iter().map(norm).collect();
    let mut out: Vec<String> = if drop.iter().any(|d| d == "ALL") {
        Vec::new()
    } else {
        DEFAULT_CAPABILITIES
            .iter()
            .map(|c| (*c).to_owned())
            .filter(|c| !drop.contains(c))
            .collect()
    };
    for a in add.iter().map(norm) {
        if a != "ALL" && !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

/// Refused with `EPERM`: what moby's default profile allows only with `CAP_SYS_ADMIN`,
/// `CAP_SYS_MODULE`, `CAP_SYS_BOOT`, `CAP_SYS_TIME`, `CAP_SYS_PACCT`, `CAP_SYS_RAWIO`,
/// `CAP_SYSLOG`, `CAP_SYS_NICE` or `CAP_DAC_READ_SEARCH`, or never.
const REFUSED: [&str; 54] = [
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "get_kernel_syms",
    "get_mempolicy",
    "init_module",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mbind",
    "mount",
    "mount_setattr",
    "move_mount",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "query_module",
    "quotactl",
    "reboot",
    "request_key",
    "set_mempolicy",
    "setns",
    "settimeofday",
    "stime",
    "swapoff",
    "swapon",
    "syslog",
    "umount",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "vm86",
];

/// The namespace flags of `clone` (`CLONE_NEWNS`, `NEWCGROUP`, `NEWUTS`, `NEWIPC`,
/// `NEWUSER`, `NEWPID`, `NEWNET`, `NEWTIME`): a process in the box may not make new ones.
const CLONE_NAMESPACE_FLAGS: [u64; 8] = [
    0x0002_0000,
    0x0200_0000,
    0x0400_0000,
    0x0800_0000,
    0x1000_0000,
    0x2000_0000,
    0x4000_0000,
    0x0000_0080,
];

const EPERM: u32 = 1;
const ENOSYS: u32 = 38;

/// The runtime-default seccomp profile for this machine's architecture.
pub fn seccomp() -> Seccomp {
    let errno = |names: Vec<String>, errno, args| SyscallRule {
        names,
        action: "SCMP_ACT_ERRNO".to_owned(),
        errno_ret: Some(errno),
        args,
    };
    let mut syscalls = vec![
        errno(
            REFUSED.iter().map(|s| (*s).to_owned()).collect(),
            EPERM,
            vec![],
        ),
        errno(vec!["clone3".to_owned()], ENOSYS, vec![]),
    ];
    // `clone`'s flags are its first argument on every architecture we build for
    // (x86_64, aarch64); s390 would need the second.
    for flag in CLONE_NAMESPACE_FLAGS {
        syscalls.push(errno(
            vec!["clone".to_owned()],
            EPERM,
            vec![SyscallArg {
                index: 0,
                value: flag,
                value_two: flag,
                op: "SCMP_CMP_MASKED_EQ".to_owned(),
            }],
        ));
    }
    Seccomp {
        default_action: "SCMP_ACT_ALLOW".to_owned(),
        architectures: architectures(),
        syscalls,
    }
}

/// The architectures a process here may call the kernel as: 32-bit compat included, so a
/// 32-bit program cannot reach `mount` by another number.
fn architectures() -> Vec<String> {
    let names: &[&str] = match std::env::consts::ARCH {
        "x86_64" => &["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "aarch64" => &["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        _ => &[],
    };
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_and_drop_follow_kubernetes_names() {
        let caps = capabilities(&["NET_ADMIN".into()], &["chown".into()]);
        assert!(caps.contains(&"CAP_NET_ADMIN".to_owned()));
        assert!(!caps.contains(&"CAP_CHOWN".to_owned()));
        assert!(caps.contains(&"CAP_KILL".to_owned()));
        let only = capabilities(&["NET_BIND_SERVICE".into()], &["ALL".into()]);
        assert_eq!(only, vec!["CAP_NET_BIND_SERVICE".to_owned()]);
    }

    #[test]
    fn the_profile_refuses_mounts_and_namespaces() {
        let p = seccomp();
        let names: Vec<&str> = p
            .syscalls
            .iter()
            .flat_map(|r| r.names.iter().map(String::as_str))
            .collect();
        for s in [
            "mount", "unshare", "setns", "keyctl", "bpf", "clone", "clone3",
        ] {
            assert!(names.contains(&s), "{s}");
        }
    }
}
