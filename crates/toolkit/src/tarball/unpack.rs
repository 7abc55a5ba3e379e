//! Unpacking an untrusted tar stream into one directory, never outside it.
//!
//! Each entry name is split into components; an absolute name or a `..` component refuses
//! the archive. Parent directories are walked one component at a time with `lstat`: missing
//! ones are created, and a symlink on the way (planted by an earlier entry, `a -> /etc`) is
//! refused, so nothing is ever written through a link. An existing file or link where an
//! entry goes is removed first, so the new file never follows it. Hard links must point at
//! an entry inside, by the same rules. Symlinks are made as written (they are only ever
//! followed by the steps that read them, like any link in the volume). Device nodes and FIFOs
//! are skipped. The whole uncompressed stream counts against a byte limit.
//!
//! The walk trusts that nothing else changes the directory while it unpacks: the target is
//! the step's own volume, and the toolkit step runs alone in it.

use std::cell::Cell;
use std::io::{self, Read};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// What was unpacked.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub files: u64,
    pub dirs: u64,
    pub links: u64,
    pub skipped: u64,
    /// Bytes of file content written.
    pub bytes: u64,
}

/// Why an archive was not unpacked (completely).
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("entry `{entry}` is refused: {reason}")]
    Unsafe { entry: String, reason: String },
    #[error("not a tar archive (or a broken one): {0}")]
    Bad(String),
    #[error("the archive unpacks to more than {0} bytes")]
    TooLarge(u64),
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// A stream that fails once more than `left` bytes are read from it.
struct Bounded<'a, R> {
    inner: R,
    left: &'a Cell<u64>,
    exceeded: &'a Cell<bool>,
}

impl<R: Read> Read for Bounded<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.left.get();
        // One byte past the limit tells "ends exactly at it" from "goes on".
        let want = buf
            .len()
            .min(usize::try_from(left.saturating_add(1)).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > left {
            self.exceeded.set(true);
            return Err(io::Error::other("the unpack limit is reached"));
        }
        self.left.set(left - n as u64);
        Ok(n)
    }
}

/// Unpacks `tar` into the existing directory `root`, reading at most `limit` bytes of it.
pub fn unpack(tar: impl Read, root: &Path, limit: u64) -> Result<Summary, UnpackError> {
    let left = Cell::new(limit);
    let exceeded = Cell::new(false);
    let bounded = Bounded {
        inner: tar,
        left: &left,
        exceeded: &exceeded,
    };
    let mut summary = Summary::default();
    // Directory modes are applied last: a read-only directory must still take its entries.
    let mut dir_modes: Vec<(PathBuf, u32)> = Vec::new();
    let result = (|| {
        let mut archive = tar::Archive::new(bounded);
        let entries = archive
            .entries()
            .map_err(|e| UnpackError::Bad(e.to_string()))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| UnpackError::Bad(e.to_string()))?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let rel = relative(&name)?;
            let Some(rel) = rel else {
                continue; // `./`: the root itself.
            };
            let kind = entry.header().entry_type();
            let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
            let path = parent_dirs(root, &rel, &name)?;
            let io_err = |source| UnpackError::Io {
                path: path.clone(),
                source,
            };
            if kind.is_dir() {
                match std::fs::symlink_metadata(&path) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => {
                        std::fs::remove_file(&path).map_err(io_err)?;
                        std::fs::create_dir(&path).map_err(io_err)?;
                    }
                    Err(_) => std::fs::create_dir(&path).map_err(io_err)?,
                }
                dir_modes.push((path, mode | 0o700));
                summary.dirs += 1;
            } else if kind.is_file() || kind == tar::EntryType::Continuous {
                if entry.header().entry_size().unwrap_or(0) > left.get() {
                    return Err(UnpackError::TooLarge(limit));
                }
                remove_non_dir(&path, &name)?;
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(mode | 0o600)
                    .open(&path)
                    .map_err(io_err)?;
                let n = io::copy(&mut entry, &mut file).map_err(|e| {
                    if exceeded.get() {
                        UnpackError::TooLarge(limit)
                    } else {
                        UnpackError::Bad(format!("reading `{name}`: {e}"))
                    }
                })?;
                file.sync_all().map_err(io_err)?;
                // The mode as the archive says (umask left it narrower), u+rw kept so a
                // later entry of the same name can replace it.
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode | 0o600))
                    .map_err(io_err)?;
                summary.files += 1;
                summary.bytes += n;
            } else if kind.is_symlink() {
                let target = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| unsafe_entry(&name, "a symlink without a target"))?;
                remove_non_dir(&path, &name)?;
                std::os::unix::fs::symlink(&target, &path).map_err(io_err)?;
                summary.links += 1;
            } else if kind.is_hard_link() {
                let target = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                let source_rel = relative(&target)?
                    .ok_or_else(|| unsafe_entry(&name, "a hard link to the root"))?;
                let source = parent_dirs(root, &source_rel, &name)?;
                match std::fs::symlink_metadata(&source) {
                    Ok(m) if m.is_file() => {}
                    _ => {
                        return Err(unsafe_entry(
                            &name,
                            &format!(
                                "a hard link to `{target}`, which is no file unpacked before it"
                            ),
                        ));
                    }
                }
                remove_non_dir(&path, &name)?;
                std::fs::hard_link(&source, &path).map_err(io_err)?;
                summary.links += 1;
            } else if matches!(
                kind,
                tar::EntryType::XGlobalHeader
                    | tar::EntryType::XHeader
                    | tar::EntryType::GNULongName
                    | tar::EntryType::GNULongLink
            ) {
                // Extension headers: the tar reader applies them to the next entry.
            } else {
                summary.skipped += 1;
            }
        }
        Ok(())
    })();
    if exceeded.get() {
        return Err(UnpackError::TooLarge(limit));
    }
    result?;
    for (path, mode) in dir_modes.into_iter().rev() {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(|source| UnpackError::Io { path, source })?;
    }
    Ok(summary)
}

fn unsafe_entry(name: &str, reason: &str) -> UnpackError {
    UnpackError::Unsafe {
        entry: name.to_owned(),
        reason: reason.to_owned(),
    }
}

/// The entry's path below the root (`None`: the root itself), or why it is refused.
fn relative(name: &str) -> Result<Option<PathBuf>, UnpackError> {
    let mut rel = PathBuf::new();
    for component in Path::new(name).components() {
        match component {
            Component::Normal(c) => rel.push(c),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(unsafe_entry(
                    name,
                    "a `..` component would leave the target",
                ));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(unsafe_entry(
                    name,
                    "an absolute path would leave the target",
                ));
            }
        }
    }
    Ok((!rel.as_os_str().is_empty()).then_some(rel))
}

/// Makes the parent directories of `rel` under `root` (refusing a symlink on the way) and
/// returns the entry's full path.
fn parent_dirs(root: &Path, rel: &Path, name: &str) -> Result<PathBuf, UnpackError> {
    let mut path = root.to_owned();
    let components: Vec<_> = rel.components().collect();
    let Some((last, parents)) = components.split_last() else {
        return Ok(path);
    };
    for component in parents {
        path.push(component);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(unsafe_entry(
                    name,
                    &format!(
                        "it would be written through the symlink `{}`",
                        path.strip_prefix(root).unwrap_or(&path).display()
                    ),
                ));
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(unsafe_entry(
                    name,
                    &format!(
                        "`{}` is a file, not a directory",
                        path.strip_prefix(root).unwrap_or(&path).display()
                    ),
                ));
            }
            Err(_) => std::fs::create_dir(&path).map_err(|source| UnpackError::Io {
                path: path.clone(),
                source,
            })?,
        }
    }
    path.push(last);
    Ok(path)
}

/// Removes a file or link at `path` (never following it); a directory there is an error.
fn remove_non_dir(path: &Path, name: &str) -> Result<(), UnpackError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Err(unsafe_entry(
            name,
            "a directory of that name is already there",
        )),
        Ok(_) => std::fs::remove_file(path).map_err(|source| UnpackError::Io {
            path: path.to_owned(),
            source,
        }),
        Err(_) => Ok(()),
    }
}
