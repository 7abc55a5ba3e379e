//! Where a run's containers sit in the cgroup tree, and their OOM kills.
//!
//! Every container of a run gets `cgroupsPath` `testwerk/<run>/<index>`, relative to the
//! runner's own cgroup (runc's cgroupfs driver). runc removes the container's cgroup when it
//! deletes the container; the run's cgroup `testwerk/<run>` is removed when the run ends (or
//! by the next start, when its runner died). The OOM kill count of a container is in its own
//! cgroup (`memory.oom_control` on v1, which does not add children's kills to the parent's,
//! `memory.events` on v2), read after the container ends and before it is deleted.

use std::path::{Path, PathBuf};

/// Every cgroup directory of this process: one per v1 hierarchy, or the v2 one.
#[derive(Clone, Debug, Default)]
pub struct OwnCgroups {
    /// (controllers, e.g. `memory` or `""` for v2; absolute directory)
    pub dirs: Vec<(String, PathBuf)>,
}

impl OwnCgroups {
    /// Reads `/proc/self/cgroup` and `/proc/self/mountinfo`.
    pub fn read() -> OwnCgroups {
        let (Ok(cgroup), Ok(mountinfo)) = (
            std::fs::read_to_string("/proc/self/cgroup"),
            std::fs::read_to_string("/proc/self/mountinfo"),
        ) else {
            return OwnCgroups::default();
        };
        let mut dirs = Vec::new();
        for line in mountinfo.lines() {
            // id parent major:minor root mount-point options [optional…] - fstype source super
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let fields: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            let (Some(root), Some(point), Some(kind)) =
                (fields.get(3), fields.get(4), right.first())
            else {
                continue;
            };
            let controllers = match *kind {
                "cgroup2" => String::new(),
                "cgroup" => right
                    .get(2)
                    .map(|opts| {
                        opts.split(',')
                            .filter(|o| !matches!(*o, "rw" | "ro") && !o.contains("relatime"))
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default(),
                _ => continue,
            };
            // Our path in this hierarchy, from /proc/self/cgroup (`id:controllers:path`).
            let own = cgroup.lines().find_map(|l| {
                let mut parts = l.splitn(3, ':');
                let (_, ctl, path) = (parts.next()?, parts.next()?, parts.next()?);
                let same = if controllers.is_empty() {
                    ctl.is_empty()
                } else {
                    let mut a: Vec<&str> = ctl.split(',').collect();
                    let mut b: Vec<&str> = controllers.split(',').collect();
                    a.sort_unstable();
                    b.sort_unstable();
                    a == b
                };
                same.then(|| path.to_owned())
            });
            let Some(own) = own else { continue };
            let relative = own
                .strip_prefix(root.trim_end_matches('/'))
                .unwrap_or(&own)
                .trim_start_matches('/');
            dirs.push((controllers, Path::new(point).join(relative)));
        }
        OwnCgroups { dirs }
    }

    /// The file counting OOM kills under `relative` (`testwerk/<run>`), if memory is
    /// accounted here.
    pub fn oom_counter(&self, relative: &str) -> Option<PathBuf> {
        if let Some((_, dir)) = self
            .dirs
            .iter()
            .find(|(c, _)| c.split(',').any(|c| c == "memory"))
        {
            return Some(dir.join(relative).join("memory.oom_control"));
        }
        self.dirs
            .iter()
            .find(|(c, _)| c.is_empty())
            .map(|(_, dir)| dir.join(relative).join("memory.events"))
    }

    /// Removes the (empty) cgroup `relative` from every hierarchy.
    pub fn remove(&self, relative: &str) {
        for (_, dir) in &self.dirs {
            let path = dir.join(relative);
            match std::fs::remove_dir(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    tracing::debug!("{}: {e}", path.display());
                }
                _ => {}
            }
        }
    }
}

impl OwnCgroups {
    /// Removes the run cgroups (`testwerk/tw-<pid>-…`) of runners that are gone, with the
    /// container cgroups left in them.
    pub fn remove_stale(&self) {
        for (_, dir) in &self.dirs {
            let Ok(entries) = std::fs::read_dir(dir.join("testwerk")) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if crate::runc::owner(&name).is_none_or(crate::runc::alive) {
                    continue;
                }
                let run = entry.path();
                if let Ok(children) = std::fs::read_dir(&run) {
                    for child in children.flatten() {
                        if child.file_type().is_ok_and(|t| t.is_dir()) {
                            let _ = std::fs::remove_dir(child.path());
                        }
                    }
                }
                if let Err(e) = std::fs::remove_dir(&run) {
                    tracing::debug!("{}: {e}", run.display());
                }
            }
        }
    }
}

/// The `oom_kill` count in a `memory.oom_control` or `memory.events` file; 0 when the
/// cgroup does not exist (yet).
pub fn oom_kills(counter: &Path) -> u64 {
    std::fs::read_to_string(counter)
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("oom_kill "))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_cgroups_and_a_memory_counter_path() {
        let own = OwnCgroups::read();
        assert!(!own.dirs.is_empty(), "no cgroup found for this process");
        for (_, dir) in &own.dirs {
            assert!(dir.is_dir(), "{} is not a directory", dir.display());
        }
        let counter = own.oom_counter("testwerk/none").unwrap_or_default();
        assert!(
            counter.ends_with("testwerk/none/memory.oom_control")
                || counter.ends_with("testwerk/none/memory.events")
        );
        assert_eq!(oom_kills(&counter), 0);
    }
}
