//! A small real tmpfs for tests of a full disk (shared by the results and cli tests).
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted for one test, unmounted when dropped.
pub struct Tmpfs {
    pub dir: PathBuf,
    _parent: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`mount -o size=`, e.g. `3m`). `None` (with a message saying
    /// why the test is skipped) where mounting is not permitted; under CI that is a failure.
    pub fn mount(size: &str) -> Option<Tmpfs> {
        let parent = tempfile::tempdir().unwrap_or_else(|e| panic!("a temporary directory: {e}"));
        let dir = parent.path().join("fs");
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output();
        let refused = match out {
            Ok(o) if o.status.success() => None,
            Ok(o) => Some(String::from_utf8_lossy(&o.stderr).trim().to_owned()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(why) = refused {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must be able to mount a tmpfs for the full-disk tests: {why}"
            );
            eprintln!(
                "SKIPPED: cannot mount a tmpfs here ({why}); run as root to test a full disk"
            );
            return None;
        }
        Some(Tmpfs {
            dir,
            _parent: parent,
        })
    }

    /// Fills what is left of the file system with `file`, until the kernel says it is full.
    pub fn fill(&self, file: &Path) {
        let mut f =
            std::fs::File::create(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let chunk = vec![0u8; 4096];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling {}: {e}", file.display()),
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Busy (a process still holds a file): detach it, so nothing stays mounted.
            let lazy = Command::new("umount").arg("-l").arg(&self.dir).status();
            assert!(
                lazy.is_ok_and(|s| s.success()),
                "could not unmount the test tmpfs {}",
                self.dir.display()
            );
        }
    }
}
