//! Unpacking layer tars into one root directory, safely.
//!
//! A layer is hostile until proven otherwise: an entry must never create or change anything
//! outside the root. Entry names with `..` components or an absolute path are refused. Every
//! entry's parent directory is opened with `openat2(RESOLVE_IN_ROOT)`, so symlinks planted by
//! earlier entries (`etc -> /etc`, `a -> ../../..`) resolve *inside* the root, as in a chroot
//! (and as the container will later see them); the entry itself is then made with `*at`
//! calls relative to that directory, never following a symlink in its last component.
//!
//! Whiteouts (OCI / AUFS style): `.wh.<name>` deletes `<name>` of lower layers;
//! `.wh..wh..opq` hides everything lower layers put in its directory (entries of the same
//! layer stay, whatever their order). Regular files, directories, symlinks, hard links
//! (within the root) and FIFOs are made with their modes (setuid included), mtimes and — when
//! running as root — owners. Device nodes are skipped: the runtime provides `/dev`.

use std::cell::Cell;
use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{
    AtFlags, FileType, Gid, Mode, OFlags, ResolveFlags, Timestamps, Uid, mkdirat, openat, openat2,
    statat, unlinkat,
};
use rustix::io::Errno;

/// Why an entry, or a whole layer, could not be unpacked.
#[derive(Debug)]
pub enum UnpackError {
    /// An entry that would escape the root or cannot be represented.
    Unsafe { entry: String, reason: String },
    /// Not a tar, or a broken one.
    Bad(String),
    /// The uncompressed data passed the budget.
    TooLarge,
    /// Writing into the root failed.
    Io { path: PathBuf, source: io::Error },
}

/// How many uncompressed bytes all layers of an image may still use.
#[derive(Debug)]
pub struct Budget {
    pub remaining: u64,
}

/// A stream that fails once more than `remaining` bytes are read from it.
struct Bounded<'a, R> {
    inner: R,
    remaining: &'a Cell<u64>,
    exceeded: &'a Cell<bool>,
}

impl<R: Read> Read for Bounded<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.remaining.get();
        // One byte more than allowed tells a stream that ends exactly at the limit from one
        // that goes on.
        let want = buf
            .len()
            .min(usize::try_from(left.saturating_add(1)).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > left {
            self.exceeded.set(true);
            return Err(io::Error::other("the unpack limit is reached"));
        }
        self.remaining.set(left - n as u64);
        Ok(n)
    }
}

/// One root directory being assembled from layers.
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
    /// Whether owners can be set (we are root); otherwise files keep ours, silently.
    chown: bool,
}

const DIR_FLAGS: OFlags = OFlags::DIRECTORY.union(OFlags::CLOEXEC);
const RESOLVE: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

impl Root {
    /// The directory `path` (existing, empty) as the root of the layers.
    pub fn open(path: &Path) -> Result<Self, UnpackError> {
        let fd = openat(
            rustix::fs::CWD,
            path,
            DIR_FLAGS | OFlags::RDONLY,
            Mode::empty(),
        )
        .map_err(|e| UnpackError::Io {
            path: path.to_owned(),
            source: e.into(),
        })?;
        Ok(Self {
            fd,
            path: path.to_owned(),
            chown: rustix::process::geteuid().is_root(),
        })
    }

    /// Applies one layer's tar stream on top of what is there.
    pub fn apply_layer(&self, tar: impl Read, budget: &mut Budget) -> Result<(), UnpackError> {
        let mut layer = LayerState {
            root: self,
            created: HashSet::new(),
            dirs: Vec::new(),
            widened: Vec::new(),
        };
        // Every byte of the stream counts against the budget — headers, padding, and the
        // GNU/PAX extension headers the tar reader keeps in memory — so neither disk nor
        // memory grows past it.
        let remaining = Cell::new(budget.remaining);
        let exceeded = Cell::new(false);
        let bounded = Bounded {
            inner: tar,
            remaining: &remaining,
            exceeded: &exceeded,
        };
        let result = (|| {
            let mut archive = tar::Archive::new(bounded);
            let entries = archive
                .entries()
                .map_err(|e| UnpackError::Bad(format!("not a tar: {e}")))?;
            for entry in entries {
                let mut entry =
                    entry.map_err(|e| UnpackError::Bad(format!("a broken tar entry: {e}")))?;
                // A file larger than what is left is refused before anything is written.
                if entry.header().entry_size().unwrap_or(0) > remaining.get() {
                    return Err(UnpackError::TooLarge);
                }
                layer.entry(&mut entry)?;
            }
            layer.finish_dirs()
        })();
        budget.remaining = remaining.get();
        if exceeded.get() {
            return Err(UnpackError::TooLarge);
        }
        result
    }

    fn io(&self, rel: &[u8], source: impl Into<io::Error>) -> UnpackError {
        UnpackError::Io {
            path: self.path.join(OsStr::from_bytes(rel)),
            source: source.into(),
        }
    }
}

/// Directory metadata is applied when the layer is done: a read-only directory must still
/// take its children, and adding children changes a directory's mtime.
struct DirMeta {
    path: Vec<u8>,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
}

struct LayerState<'r> {
    root: &'r Root,
    /// Paths this layer made: an opaque marker keeps them.
    created: HashSet<Vec<u8>>,
    dirs: Vec<DirMeta>,
    /// Directories made writable for this layer, with their modes (see `widen`).
    widened: Vec<(Vec<u8>, u32)>,
}

/// The components of an entry name, or why it is refused.
fn components(raw: &[u8]) -> Result<Vec<&[u8]>, String> {
    if raw.first() == Some(&b'/') {
        return Err("an absolute path (layer entries are relative to the root)".to_owned());
    }
    let mut out = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err("a `..` component (it would leave the root)".to_owned()),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn join(components: &[&[u8]]) -> Vec<u8> {
    components.join(&b'/')
}

fn os(bytes: &[u8]) -> &OsStr {
    OsStr::from_bytes(bytes)
}

impl LayerState<'_> {
    fn unsafe_entry(raw: &[u8], reason: impl Into<String>) -> UnpackError {
        UnpackError::Unsafe {
            entry: String::from_utf8_lossy(raw).into_owned(),
            reason: reason.into(),
        }
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), UnpackError> {
        let raw = entry.path_bytes().into_owned();
        let header = entry.header();
        let kind = header.entry_type();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let uid = header.uid().unwrap_or(0);
        let gid = header.gid().unwrap_or(0);
        let mtime = header.mtime().unwrap_or(0);
        let comps = components(&raw).map_err(|r| Self::unsafe_entry(&raw, r))?;
        let Some((name, parents)) = comps.split_last() else {
            // `./` itself: the root's own mode stays ours (0755).
            return Ok(());
        };
        let name = *name;
        let path = join(&comps);

        // Whiteouts are markers, never files.
        if let Some(hidden) = name.strip_prefix(b".wh.") {
            let parent = self.parent(&raw, parents)?;
            if hidden == b".wh..opq" {
                return self.clear_lower(parent.as_fd(), &join(parents));
            }
            if hidden.starts_with(b".wh.") {
                // Other AUFS metadata (`.wh..wh.plnk`, ...): nothing to do.
                return Ok(());
            }
            if hidden.is_empty() || hidden == b"." || hidden == b".." {
                return Err(Self::unsafe_entry(&raw, "a whiteout of nothing"));
            }
            return remove_all(parent.as_fd(), hidden, !self.root.chown)
                .map_err(|e| self.root.io(&path, e));
        }

        use tar::EntryType as T;
        match kind {
            T::Regular | T::Continuous | T::Directory | T::Symlink | T::Link | T::Fifo => {}
            T::Char | T::Block => {
                tracing::debug!(entry = %String::from_utf8_lossy(&raw), "device node skipped");
                return Ok(());
            }
            T::XGlobalHeader => return Ok(()),
            other => {
                return Err(Self::unsafe_entry(
                    &raw,
                    format!(
                        "tar entry type {:?} is not supported",
                        other.as_byte() as char
                    ),
                ));
            }
        }

        let parent = self.parent(&raw, parents)?;
        let p = parent.as_fd();
        // What is there already is replaced, except a directory by a directory.
        match statat(p, os(name), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => {
                let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
                if !(is_dir && kind == T::Directory) {
                    remove_all(p, name, !self.root.chown).map_err(|e| self.root.io(&path, e))?;
                }
            }
            Err(Errno::NOENT) => {}
            Err(e) => return Err(self.root.io(&path, e)),
        }
        self.created.insert(path.clone());
        let io = |e: Errno| self.root.io(&path, e);
        let times = Timestamps {
            last_access: timespec(mtime),
            last_modification: timespec(mtime),
        };
        match kind {
            T::Directory => {
                match mkdirat(p, os(name), Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(io(e)),
                }
                self.dirs.push(DirMeta {
                    path,
                    mode,
                    uid,
                    gid,
                    mtime,
                });
            }
            T::Regular | T::Continuous => {
                let fd = openat(
                    p,
                    os(name),
                    OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::WRONLY
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(io)?;
                let mut file = std::fs::File::from(fd);
                io::copy(entry, &mut file).map_err(|e| {
                    if e.kind() == io::ErrorKind::InvalidData
                        || e.kind() == io::ErrorKind::UnexpectedEof
                    {
                        UnpackError::Bad(format!(
                            "reading `{}`: {e}",
                            String::from_utf8_lossy(&raw)
                        ))
                    } else {
                        self.root.io(&path, e)
                    }
                })?;
                self.metadata(file.as_fd(), mode, uid, gid, &times)
                    .map_err(io)?;
            }
            T::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| Self::unsafe_entry(&raw, "a symlink without a target"))?;
                rustix::fs::symlinkat(os(&target), p, os(name)).map_err(io)?;
                self.own_by_name(p, name, uid, gid).map_err(io)?;
                rustix::fs::utimensat(p, os(name), &times, AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(io)?;
            }
            T::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| Self::unsafe_entry(&raw, "a hard link without a target"))?;
                let tcomps = components(&target)
                    .map_err(|r| Self::unsafe_entry(&raw, format!("its link target is {r}")))?;
                let Some((tname, tparents)) = tcomps.split_last() else {
                    return Err(Self::unsafe_entry(&raw, "a hard link to the root"));
                };
                let tparent = self.existing_dir(&raw, &target, tparents)?;
                rustix::fs::linkat(tparent.as_fd(), os(tname), p, os(name), AtFlags::empty())
                    .map_err(|e| match e {
                        Errno::NOENT => Self::unsafe_entry(
                            &raw,
                            format!(
                                "a hard link to `{}`, which no earlier entry made",
                                String::from_utf8_lossy(&target)
                            ),
                        ),
                        e => io(e),
                    })?;
            }
            T::Fifo => {
                rustix::fs::mknodat(p, os(name), FileType::Fifo, Mode::from_raw_mode(0o600), 0)
                    .map_err(io)?;
                // The FIFO was just made in our own directory: set its metadata by name.
                self.own_by_name(p, name, uid, gid).map_err(io)?;
                rustix::fs::chmodat(p, os(name), Mode::from_raw_mode(mode), AtFlags::empty())
                    .map_err(io)?;
                rustix::fs::utimensat(p, os(name), &times, AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(io)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// The owner of the entry `name` in `dir` itself (a symlink is not followed), when root.
    fn own_by_name(
        &self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        uid: u64,
        gid: u64,
    ) -> Result<(), Errno> {
        if !self.root.chown {
            return Ok(());
        }
        rustix::fs::chownat(
            dir,
            os(name),
            Some(uid_of(uid)),
            Some(gid_of(gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
    }

    /// Owner (when root), then mode (a chown clears setuid), then times.
    fn metadata(
        &self,
        fd: BorrowedFd<'_>,
        mode: u32,
        uid: u64,
        gid: u64,
        times: &Timestamps,
    ) -> Result<(), Errno> {
        if self.root.chown {
            rustix::fs::fchown(fd, Some(uid_of(uid)), Some(gid_of(gid)))?;
        }
        rustix::fs::fchmod(fd, Mode::from_raw_mode(mode))?;
        rustix::fs::futimens(fd, times)
    }

    /// The entry's parent directory, resolved inside the root; missing directories are made
    /// (0755), as every image builder expects — also where a dangling symlink points (a
    /// lower layer's `var/run -> /run` without `/run`), resolved inside the root.
    fn parent(&mut self, raw: &[u8], parents: &[&[u8]]) -> Result<OwnedFd, UnpackError> {
        let fd = match self.resolve(parents) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => {
                let owned: Vec<Vec<u8>> = parents.iter().map(|c| c.to_vec()).collect();
                self.make_dirs(raw, owned, 0)?
            }
            Err(e) => return Err(self.resolve_error(raw, parents, e)),
        };
        self.widen(fd.as_fd(), parents)
            .map_err(|e| self.root.io(&join(parents), e))?;
        Ok(fd)
    }

    /// As an ordinary user, a read-only directory of a lower layer cannot take or lose
    /// entries: it is made writable for the rest of the layer, and its mode restored then.
    /// (Root writes regardless of modes.)
    fn widen(&mut self, dir: BorrowedFd<'_>, path: &[&[u8]]) -> Result<(), Errno> {
        if self.root.chown {
            return Ok(());
        }
        let mode = rustix::fs::fstat(dir)?.st_mode & 0o7777;
        if mode & 0o700 != 0o700 {
            rustix::fs::fchmod(dir, Mode::from_raw_mode(mode | 0o700))?;
            self.widened.push((join(path), mode));
        }
        Ok(())
    }

    fn make_dirs(&self, raw: &[u8], path: Vec<Vec<u8>>, hops: u32) -> Result<OwnedFd, UnpackError> {
        let comps: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
        // Make what is missing, one level at a time, each resolved from the root again.
        for depth in 1..=comps.len() {
            match self.resolve(&comps[..depth]) {
                Ok(_) => continue,
                Err(Errno::NOENT) => {}
                Err(e) => return Err(self.resolve_error(raw, &comps[..depth], e)),
            }
            let above = self
                .resolve(&comps[..depth - 1])
                .map_err(|e| self.resolve_error(raw, &comps[..depth - 1], e))?;
            let name = comps[depth - 1];
            match mkdirat(above.as_fd(), os(name), Mode::from_raw_mode(0o755)) {
                Ok(()) => {}
                Err(Errno::EXIST) => {
                    // A symlink to something missing: make its target instead, inside the root.
                    let target = rustix::fs::readlinkat(above.as_fd(), os(name), Vec::new())
                        .map_err(|e| self.resolve_error(raw, &comps[..depth], e))?;
                    if hops >= 40 {
                        return Err(self.resolve_error(raw, &comps[..depth], Errno::LOOP));
                    }
                    let target = target.as_bytes();
                    let mut next: Vec<Vec<u8>> = if target.first() == Some(&b'/') {
                        Vec::new()
                    } else {
                        path[..depth - 1].to_vec()
                    };
                    next.extend(
                        target
                            .split(|b| *b == b'/')
                            .filter(|c| !c.is_empty() && *c != b".")
                            .map(<[u8]>::to_vec),
                    );
                    next.extend(path[depth..].iter().cloned());
                    return self.make_dirs(raw, next, hops + 1);
                }
                Err(e) => return Err(self.root.io(&join(&comps[..depth]), e)),
            }
        }
        self.resolve(&comps)
            .map_err(|e| self.resolve_error(raw, &comps, e))
    }

    /// An existing directory (the parent of hard link `raw`'s `target`), resolved inside
    /// the root.
    fn existing_dir(
        &self,
        raw: &[u8],
        target: &[u8],
        parents: &[&[u8]],
    ) -> Result<OwnedFd, UnpackError> {
        self.resolve(parents).map_err(|e| match e {
            Errno::NOENT => Self::unsafe_entry(
                raw,
                format!(
                    "a hard link to `{}`, whose directory no earlier entry made",
                    String::from_utf8_lossy(target)
                ),
            ),
            e => self.resolve_error(raw, parents, e),
        })
    }

    fn resolve(&self, comps: &[&[u8]]) -> Result<OwnedFd, Errno> {
        let path = if comps.is_empty() {
            b".".to_vec()
        } else {
            join(comps)
        };
        openat2(
            self.root.fd.as_fd(),
            os(&path),
            DIR_FLAGS | OFlags::RDONLY,
            Mode::empty(),
            RESOLVE,
        )
    }

    fn resolve_error(&self, raw: &[u8], comps: &[&[u8]], e: Errno) -> UnpackError {
        let at = String::from_utf8_lossy(&join(comps)).into_owned();
        match e {
            Errno::NOTDIR => Self::unsafe_entry(raw, format!("`{at}` is not a directory")),
            Errno::LOOP => Self::unsafe_entry(
                raw,
                format!(
                    "`{at}` goes through a symlink loop (a link to itself, like `etc -> /etc`)"
                ),
            ),
            Errno::NOSYS => UnpackError::Io {
                path: self.root.path.clone(),
                source: io::Error::other(
                    "openat2 is not available: unpacking images needs Linux 5.6 or later",
                ),
            },
            e => self.root.io(&join(comps), e),
        }
    }

    /// An opaque marker in `dir`: everything there that this layer did not make goes.
    fn clear_lower(&self, dir: BorrowedFd<'_>, dir_path: &[u8]) -> Result<(), UnpackError> {
        let names = list(dir).map_err(|e| self.root.io(dir_path, e))?;
        for name in names {
            let child = if dir_path.is_empty() {
                name.clone()
            } else {
                [dir_path, b"/", &name].concat()
            };
            if !self.created.contains(&child) {
                remove_all(dir, &name, !self.root.chown).map_err(|e| self.root.io(&child, e))?;
                continue;
            }
            let st = statat(dir, os(&name), AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| self.root.io(&child, e))?;
            if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                let sub = openat(
                    dir,
                    os(&name),
                    DIR_FLAGS | OFlags::RDONLY | OFlags::NOFOLLOW,
                    Mode::empty(),
                )
                .map_err(|e| self.root.io(&child, e))?;
                self.clear_lower(sub.as_fd(), &child)?;
            }
        }
        Ok(())
    }

    fn finish_dirs(&mut self) -> Result<(), UnpackError> {
        for (path, mode) in self.widened.iter().rev() {
            let comps: Vec<&[u8]> = path
                .split(|b| *b == b'/')
                .filter(|c| !c.is_empty())
                .collect();
            let fd = match self.resolve(&comps) {
                Ok(fd) => fd,
                Err(Errno::NOENT | Errno::LOOP | Errno::NOTDIR) => continue,
                Err(e) => return Err(self.root.io(path, e)),
            };
            rustix::fs::fchmod(fd.as_fd(), Mode::from_raw_mode(*mode))
                .map_err(|e| self.root.io(path, e))?;
        }
        for d in self.dirs.iter().rev() {
            let comps: Vec<&[u8]> = d.path.split(|b| *b == b'/').collect();
            // Resolved again: a later entry may have replaced the directory (then it is skipped).
            let fd = match openat2(
                self.root.fd.as_fd(),
                os(&join(&comps)),
                DIR_FLAGS | OFlags::RDONLY | OFlags::NOFOLLOW,
                Mode::empty(),
                RESOLVE,
            ) {
                Ok(fd) => fd,
                Err(Errno::NOENT | Errno::LOOP | Errno::NOTDIR) => continue,
                Err(e) => return Err(self.root.io(&d.path, e)),
            };
            let times = Timestamps {
                last_access: timespec(d.mtime),
                last_modification: timespec(d.mtime),
            };
            self.metadata(fd.as_fd(), d.mode, d.uid, d.gid, &times)
                .map_err(|e| self.root.io(&d.path, e))?;
        }
        Ok(())
    }
}

fn timespec(secs: u64) -> rustix::fs::Timespec {
    rustix::fs::Timespec {
        tv_sec: i64::try_from(secs).unwrap_or(i64::MAX),
        tv_nsec: 0,
    }
}

fn uid_of(id: u64) -> Uid {
    Uid::from_raw(u32::try_from(id).unwrap_or(u32::MAX - 1))
}

fn gid_of(id: u64) -> Gid {
    Gid::from_raw(u32::try_from(id).unwrap_or(u32::MAX - 1))
}

/// The names in a directory (without `.` and `..`).
fn list(dir: BorrowedFd<'_>) -> Result<Vec<Vec<u8>>, Errno> {
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
    }
    Ok(names)
}

/// Removes `name` in `dir` and, when it is a directory, everything below it, never following
/// a symlink. `make_writable`: as an ordinary user, a read-only directory is made writable
/// first (it is going away).
fn remove_all(dir: BorrowedFd<'_>, name: &[u8], make_writable: bool) -> Result<(), Errno> {
    let st = match statat(dir, os(name), AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e),
    };
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return unlinkat(dir, os(name), AtFlags::empty());
    }
    let sub = openat(
        dir,
        os(name),
        DIR_FLAGS | OFlags::RDONLY | OFlags::NOFOLLOW,
        Mode::empty(),
    )?;
    if make_writable {
        rustix::fs::fchmod(sub.as_fd(), Mode::from_raw_mode(0o700))?;
    }
    for child in list(sub.as_fd())? {
        remove_all(sub.as_fd(), &child, make_writable)?;
    }
    unlinkat(dir, os(name), AtFlags::REMOVEDIR)
}

/// Removes a directory tree made by the unpacker (a failed build).
pub fn remove_tree(path: &Path) -> io::Result<()> {
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    let Some(name) = path.file_name() else {
        return Ok(());
    };
    let dir = openat(
        rustix::fs::CWD,
        parent,
        DIR_FLAGS | OFlags::RDONLY,
        Mode::empty(),
    )?;
    remove_all(
        dir.as_fd(),
        name.as_bytes(),
        !rustix::process::geteuid().is_root(),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::components;

    #[test]
    fn names_are_refused_or_normalised() {
        assert_eq!(components(b"./a//b/./c"), Ok(vec![&b"a"[..], b"b", b"c"]));
        assert!(components(b"a/../../x").is_err_and(|e| e.contains("..")));
        assert!(components(b"/etc/passwd").is_err_and(|e| e.contains("absolute")));
        assert_eq!(components(b"./"), Ok(vec![]));
    }
}
