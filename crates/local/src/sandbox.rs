//! A private file-system view for one container group: the host's directories read-only, the
//! execution's volumes writable at the paths a Pod would have them.
//!
//! The runner starts `testwerk sandbox <spec.json> -- <command>`: that process enters a new mount
//! namespace (and a user namespace when not root), builds the view under the execution
//! directory, switches root into it and `exec`s the command. Nothing outside the execution
//! directory is written: mount points are created inside it, and the host is mounted read-only.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};
use serde::{Deserialize, Serialize};

/// One directory or file made visible inside the sandbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bind {
    pub source: PathBuf,
    /// Absolute path inside the sandbox.
    pub target: PathBuf,
    pub read_only: bool,
}

/// Everything the sandbox process needs, written by the runner as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxSpec {
    /// The new root, an empty directory inside the execution directory.
    pub root: PathBuf,
    /// Mounted in order: parents before children.
    pub binds: Vec<Bind>,
}

/// Host entries never shown inside: they are replaced by the execution's own.
const REPLACED: [&str; 4] = ["tmp", "data", "testkube", ".testwerk"];

/// Binds for every top-level entry of the host's `/` (read-only), except those we replace.
/// Symbolic links (`/bin -> usr/bin`) are recreated by [`enter`] rather than bound.
pub fn host_binds() -> io::Result<Vec<Bind>> {
    let mut binds = Vec::new();
    for entry in fs::read_dir("/")? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(text) = name.to_str() else { continue };
        if REPLACED.contains(&text) || text == "lost+found" {
            continue;
        }
        if entry.file_type()?.is_dir() {
            // /dev and /proc must stay writable for /dev/null, /proc/self/fd and friends.
            let read_only = !matches!(text, "dev" | "proc");
            binds.push(Bind {
                source: Path::new("/").join(&name),
                target: Path::new("/").join(&name),
                read_only,
            });
        }
    }
    binds.sort_by(|a, b| a.target.cmp(&b.target));
    Ok(binds)
}

/// Enters the sandbox: after this returns, `/` is the new root. Call only from a process with
/// a single thread (the sandbox command), right before `exec`.
pub fn enter(spec: &SandboxSpec) -> io::Result<()> {
    // If the runner dies, the container must not run on unobserved: `init` then aborts its
    // steps as it would on a Pod deletion. The setting survives the `exec` of `init`.
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM))?;
    let uid = rustix::process::getuid();
    let gid = rustix::process::getgid();
    let rootless = !uid.is_root();
    let mut flags = rustix::thread::UnshareFlags::NEWNS;
    if rootless {
        flags |= rustix::thread::UnshareFlags::NEWUSER;
    }
    unshare(flags).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot create a private mount namespace ({e}); the local runner needs mount namespaces{}",
                if rootless { " and unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)" } else { "" }
            ),
        )
    })?;
    if rootless {
        // Map ourselves to root inside, so that we may mount; files keep our real ids outside.
        fs::write("/proc/self/setgroups", "deny")?;
        fs::write("/proc/self/uid_map", format!("0 {} 1", uid.as_raw()))?;
        fs::write("/proc/self/gid_map", format!("0 {} 1", gid.as_raw()))?;
    }
    // Our mounts must not leak back to the host.
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
    )?;

    let root = &spec.root;
    fs::create_dir_all(root)?;
    // pivot_root needs the new root to be a mount point of its own.
    rustix::mount::mount_bind(root, root)
        .map_err(|e| annotate(e.into(), "binding the new root"))?;
    recreate_root_links(root)?;
    for bind in &spec.binds {
        let target = inside(root, &bind.target);
        if bind.source.is_dir() {
            fs::create_dir_all(&target)?;
        } else {
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent)?;
            }
            if !target.exists() {
                fs::write(&target, b"")?;
            }
        }
        rustix::mount::mount_bind_recursive(&bind.source, &target).map_err(|e| {
            annotate(
                e.into(),
                &format!(
                    "binding {} at {}",
                    bind.source.display(),
                    bind.target.display()
                ),
            )
        })?;
        if bind.read_only {
            rustix::mount::mount_remount(&target, MountFlags::BIND | MountFlags::RDONLY, "")
                .map_err(|e| {
                    annotate(
                        e.into(),
                        &format!("making {} read-only", bind.target.display()),
                    )
                })?;
        }
    }
    let old = root.join(".old-root");
    fs::create_dir_all(&old)?;
    rustix::process::pivot_root(root, &old).map_err(|e| annotate(e.into(), "switching root"))?;
    std::env::set_current_dir("/")?;
    rustix::mount::unmount("/.old-root", UnmountFlags::DETACH)?;
    let _ = fs::remove_dir("/.old-root");
    Ok(())
}

#[allow(unsafe_code)]
fn unshare(flags: rustix::thread::UnshareFlags) -> io::Result<()> {
    // SAFETY: the sandbox command calls this before starting any thread, so no other thread
    // can observe the process changing namespaces under it.
    unsafe { rustix::thread::unshare_unsafe(flags) }.map_err(io::Error::from)
}

/// Top-level symbolic links of the host (`/bin -> usr/bin` on merged-/usr systems).
fn recreate_root_links(root: &Path) -> io::Result<()> {
    for entry in fs::read_dir("/")? {
        let entry = entry?;
        if entry.file_type()?.is_symlink() {
            let link = root.join(entry.file_name());
            if link.symlink_metadata().is_err() {
                std::os::unix::fs::symlink(fs::read_link(entry.path())?, link)?;
            }
        }
    }
    Ok(())
}

fn inside(root: &Path, target: &Path) -> PathBuf {
    root.join(target.strip_prefix("/").unwrap_or(target))
}

fn annotate(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// The sandbox command's arguments after the spec path: the program and its arguments.
pub fn exec(program: &OsString, args: &[OsString]) -> io::Error {
    use std::os::unix::process::CommandExt;
    std::process::Command::new(program).args(args).exec()
}

/// `testwerk sandbox <spec.json> -- <program> [args…]`: enter the sandbox, then become the
/// program. Returns only on failure, with the exit code to use.
pub fn main(args: &[OsString]) -> i32 {
    let (spec_path, rest) = match args.split_first() {
        Some((spec, rest)) if rest.first().is_some_and(|a| a == "--") && rest.len() > 1 => {
            (spec, &rest[1..])
        }
        _ => {
            eprintln!("usage: testwerk sandbox <spec.json> -- <program> [args…]");
            return 2;
        }
    };
    let spec: SandboxSpec = match fs::read(spec_path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sandbox: {}: {e}", Path::new(spec_path).display());
            return 2;
        }
    };
    if let Err(e) = enter(&spec) {
        eprintln!("sandbox: {e}");
        return 125;
    }
    let error = exec(&rest[0], &rest[1..]);
    eprintln!(
        "sandbox: cannot run {}: {error}",
        Path::new(&rest[0]).display()
    );
    127
}
