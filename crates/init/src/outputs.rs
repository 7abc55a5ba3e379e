//! Step outputs and results directories.
//!
//! A step with an id finds an empty outputs directory (`/testkube/outputs`) when it starts;
//! every regular, non-hidden file it leaves there becomes the output `step.<id>.outputs.<file>`
//! (its trimmed text). Larger files than [`MAX_OUTPUT`] are skipped with a warning: outputs
//! live in the state file and in the log, not in artifacts.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The largest output file taken, in bytes.
pub const MAX_OUTPUT: u64 = 4096;

/// Creates a directory (and its parents) writable by every user: containers of a Pod may run
/// as different users.
pub fn shared_dir(path: &Path) -> std::io::Result<()> {
    fs::create_dir_all(path)?;
    // A volume made for every user (an emptyDir is 0777) needs no change, and only its owner
    // (root) could make one: a container running as another user must not fail on it.
    if fs::metadata(path)?.permissions().mode() & 0o777 == 0o777 {
        return Ok(());
    }
    fs::set_permissions(path, fs::Permissions::from_mode(0o777))
}

/// Empties (or creates) the outputs directory. An old output that cannot be removed would be
/// read as the next step's: everything else is still removed, then the first such error is
/// returned (the caller warns).
pub fn reset(dir: &Path) -> std::io::Result<()> {
    let mut first_error = None;
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            let removed = if is_dir {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            if let Err(e) = removed {
                first_error.get_or_insert_with(|| {
                    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
                });
            }
        }
    }
    shared_dir(dir)?;
    first_error.map_or(Ok(()), Err)
}

/// What the outputs directory holds: (name, value) pairs, and warnings for skipped files.
pub fn collect(dir: &Path) -> (Vec<(String, String)>, Vec<String>) {
    let mut found = Vec::new();
    let mut warnings = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return (found, warnings);
    };
    for entry in entries.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            warnings.push(format!(
                "output file {:?} skipped: its name is not text",
                entry.file_name()
            ));
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        if meta.len() > MAX_OUTPUT {
            warnings.push(format!(
                "output {name:?} skipped: {} bytes, outputs may have at most {MAX_OUTPUT}",
                meta.len()
            ));
            continue;
        }
        match fs::read(entry.path()) {
            Ok(bytes) => found.push((name, String::from_utf8_lossy(&bytes).trim().to_owned())),
            Err(e) => warnings.push(format!("output {name:?} skipped: {e}")),
        }
    }
    found.sort();
    (found, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_small_visible_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let out = dir.path().join("outputs");
        reset(&out).expect("reset");
        fs::write(out.join("token"), "abc\n").expect("w");
        fs::write(out.join(".hidden"), "x").expect("w");
        fs::write(out.join("big"), vec![b'x'; 5000]).expect("w");
        fs::create_dir(out.join("sub")).expect("mkdir");
        let (found, warnings) = collect(&out);
        assert_eq!(found, [("token".to_owned(), "abc".to_owned())]);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("\"big\""), "{warnings:?}");
        reset(&out).expect("reset");
        assert_eq!(fs::read_dir(&out).expect("ls").count(), 0);
    }
}
