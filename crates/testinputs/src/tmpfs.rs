//! A small real tmpfs, for the tests of a full disk (store, recorder, agent, local run,
//! registry cache): mounted for one test, filled on demand, unmounted when dropped.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A tmpfs mounted for one test, unmounted (and its mount point removed) when dropped.
pub struct Tmpfs {
    /// The mount point.
    pub dir: PathBuf,
    parent: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`mount -o size=`, e.g. `3m`). Where mounting is not permitted
    /// (not root), that absence goes through [`crate::available`]: a counted skip, or a
    /// failure under CI.
    #[track_caller]
    pub fn mount(size: &str) -> Option<Tmpfs> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let parent = std::env::temp_dir().join(format!(
            "testwerk-tmpfs-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let dir = parent.join("fs");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output();
        let mounted = match out {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(String::from_utf8_lossy(&o.stderr).trim().to_owned()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(why) = &mounted {
            // Nothing is mounted: the empty folders can go (best effort, they are ours).
            std::fs::remove_dir_all(&parent).ok();
            crate::available(
                None::<()>,
                &format!("permission to mount a tmpfs ({why})"),
                "run the tests as root, as scripts/test and CI do",
            )?;
        }
        Some(Tmpfs { dir, parent })
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
                Err(e) if e.raw_os_error() == Some(ENOSPC) => break,
                Err(e) => panic!("filling {}: {e}", file.display()),
            }
        }
    }

    /// Fills the file system with a file of its own (`filler`); removing that file makes room
    /// again.
    pub fn fill_up(&self) -> PathBuf {
        let filler = self.dir.join("filler");
        self.fill(&filler);
        filler
    }
}

/// "No space left on device" on Linux (no libc dependency for one constant).
const ENOSPC: i32 = 28;

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
        // Only the empty mount point is left; failing to remove it loses nothing.
        std::fs::remove_dir_all(&self.parent).ok();
    }
}
