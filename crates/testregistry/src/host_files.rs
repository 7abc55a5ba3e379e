//! [`HostFiles`]: files of this machine gathered into an image layer, with what they need to
//! run — the shared libraries `ldd` names, the symlinks on the way to each path — so a stand-in
//! image can be made from Debian's own `curl` or `python3` without downloading an image.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use crate::image::{Compression, Layer};
use crate::tarball::{Entry, Kind};

/// Parts of a Debian package no program needs at run time.
const UNNEEDED: &[&str] = &[
    "/usr/share/doc/",
    "/usr/share/man/",
    "/usr/share/info/",
    "/usr/share/lintian/",
    "/usr/share/bug/",
];

/// Symlinks followed to resolve one path at most (as the kernel's `ELOOP`).
const MAX_LINKS: usize = 40;

/// Files of this machine, keyed by their path in the image (without the leading `/`).
#[derive(Debug, Default)]
pub struct HostFiles {
    entries: BTreeMap<String, Entry>,
    /// ELF files added, whose libraries [`HostFiles::add_libraries`] looks up.
    elves: Vec<PathBuf>,
    /// Paths left out on purpose (a file that would change how the image behaves).
    excluded: Vec<PathBuf>,
}

impl HostFiles {
    pub fn new() -> HostFiles {
        HostFiles::default()
    }

    /// Leaves `path` out even when a package or directory holds it.
    #[must_use]
    pub fn exclude(mut self, path: &str) -> HostFiles {
        self.excluded.push(PathBuf::from(path));
        self
    }

    /// Adds `path` as it is here: a file with its mode, a directory with everything under it,
    /// a symlink as a symlink plus its target; any symlinked directory on the way (`/lib` →
    /// `usr/lib` on a merged-/usr Debian) is added as the symlink it is.
    ///
    /// # Panics
    /// When `path` cannot be read (a test's input is missing: say which).
    pub fn add(&mut self, path: &Path) {
        self.add_resolving(path, 0);
    }

    /// Adds every file of the installed Debian package `package` (`dpkg -L`), without docs.
    ///
    /// # Panics
    /// When the package is not installed.
    pub fn add_package(&mut self, package: &str) {
        let out = Command::new("dpkg")
            .args(["-L", package])
            .output()
            .unwrap_or_else(|e| panic!("run dpkg -L {package}: {e}"));
        assert!(
            out.status.success(),
            "Debian package {package} is not installed: apt-get install -y {package}"
        );
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let path = Path::new(line);
            if line.is_empty()
                || line == "/."
                || UNNEEDED.iter().any(|u| line.starts_with(u))
                || self.excluded.iter().any(|e| path.starts_with(e))
            {
                continue;
            }
            // dpkg lists directories too; only what is in them is needed (and their own
            // entries come with it), so a listed directory adds just itself.
            match std::fs::symlink_metadata(path) {
                Ok(meta) if meta.is_dir() => self.add_parents(path),
                // A file dpkg lists but a diversion or a local change removed.
                Err(_) => {}
                Ok(_) => self.add(path),
            }
        }
    }

    /// Adds the shared libraries (and the dynamic loader) every ELF file added so far needs,
    /// as `ldd` lists them, and theirs in turn.
    ///
    /// # Panics
    /// When `ldd` cannot run.
    pub fn add_libraries(&mut self) {
        let mut done = std::collections::BTreeSet::new();
        while let Some(elf) = self.elves.pop() {
            if !done.insert(elf.clone()) {
                continue;
            }
            let out = Command::new("ldd")
                .arg(&elf)
                .output()
                .unwrap_or_else(|e| panic!("run ldd {}: {e}", elf.display()));
            // A static binary: "not a dynamic executable", nothing to add.
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let library = line
                    .split_whitespace()
                    .find(|word| word.starts_with('/'))
                    .map(PathBuf::from);
                if let Some(library) = library.filter(|l| l.exists()) {
                    self.add(&library);
                }
            }
        }
    }

    /// Adds the directory tree `host` under another path, `image` (absolute): files with
    /// their modes, symlinks as they are (a `node_modules/.bin` link stays relative). For a
    /// tool built into a cache directory (`npm install --prefix`, `go install`).
    ///
    /// # Panics
    /// When `host` cannot be read.
    pub fn add_tree_as(&mut self, host: &Path, image: &str) {
        use std::os::unix::fs::PermissionsExt;
        if let Some(parent) = Path::new(image).parent() {
            self.add_parents(parent);
        }
        let meta =
            std::fs::symlink_metadata(host).unwrap_or_else(|e| panic!("{}: {e}", host.display()));
        let image_path = Path::new(image);
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(host)
                .unwrap_or_else(|e| panic!("readlink {}: {e}", host.display()));
            self.insert(
                image_path,
                Kind::Symlink(target.to_string_lossy().into_owned()),
                0o777,
            );
        } else if meta.is_dir() {
            self.insert(image_path, Kind::Dir, meta.permissions().mode() & 0o7777);
            let entries =
                std::fs::read_dir(host).unwrap_or_else(|e| panic!("read {}: {e}", host.display()));
            for entry in entries {
                let entry = entry.unwrap_or_else(|e| panic!("read {}: {e}", host.display()));
                let name = entry.file_name();
                let inner = image_path.join(&name);
                self.add_tree_as(&entry.path(), &inner.to_string_lossy());
            }
        } else if meta.is_file() {
            let bytes =
                std::fs::read(host).unwrap_or_else(|e| panic!("read {}: {e}", host.display()));
            if bytes.starts_with(b"\x7fELF") {
                self.elves.push(host.to_owned());
            }
            self.insert(
                image_path,
                Kind::File(bytes),
                meta.permissions().mode() & 0o7777,
            );
        }
    }

    /// Adds an entry of its own (a script, `/etc/passwd`), replacing a host file there.
    pub fn put(&mut self, entry: Entry) {
        let path = entry.path.trim_start_matches('/').to_owned();
        if let Some(parent) = Path::new("/").join(&path).parent() {
            self.add_parents(parent);
        }
        self.entries.insert(path, entry);
    }

    /// How many bytes of file contents are gathered.
    pub fn size(&self) -> u64 {
        self.entries
            .values()
            .map(|e| match &e.kind {
                Kind::File(bytes) => bytes.len() as u64,
                _ => 0,
            })
            .sum()
    }

    /// The layer: parents before children (the map's order), uncompressed (pushing is then a
    /// copy, where gzip of a 60 MB Python would take a debug build half a minute).
    pub fn layer(self) -> Layer {
        Layer::new(self.entries.into_values().collect()).compression(Compression::None)
    }

    fn add_resolving(&mut self, path: &Path, links: usize) {
        assert!(
            links <= MAX_LINKS,
            "too many symlinks resolving {}",
            path.display()
        );
        if self.excluded.iter().any(|e| path.starts_with(e)) {
            return;
        }
        // Resolve symlinked directories on the way, adding each as a symlink.
        let mut real = PathBuf::from("/");
        let components: Vec<Component<'_>> = path.components().collect();
        for (i, component) in components.iter().enumerate() {
            let Component::Normal(name) = component else {
                continue;
            };
            let here = real.join(name);
            let last = i + 1 == components.len();
            let meta = std::fs::symlink_metadata(&here)
                .unwrap_or_else(|e| panic!("{} (for {}): {e}", here.display(), path.display()));
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&here)
                    .unwrap_or_else(|e| panic!("readlink {}: {e}", here.display()));
                self.insert(
                    &here,
                    Kind::Symlink(target.to_string_lossy().into_owned()),
                    0o777,
                );
                let resolved = here.parent().unwrap_or(Path::new("/")).join(&target);
                let rest: PathBuf = components[i + 1..].iter().collect();
                // The symlink is added; what it leads to must be there too.
                self.add_resolving(&normalize(&resolved.join(rest)), links + 1);
                return;
            }
            if last {
                self.add_real(&here, &meta);
            } else {
                self.insert(&here, Kind::Dir, 0o755);
            }
            real = here;
        }
    }

    /// Adds a path that is no symlink, and whose parents are none.
    fn add_real(&mut self, path: &Path, meta: &std::fs::Metadata) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o7777;
        if meta.is_dir() {
            self.insert(path, Kind::Dir, mode);
            let entries =
                std::fs::read_dir(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            for entry in entries {
                let entry = entry.unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
                self.add(&entry.path());
            }
        } else if meta.is_file() {
            let key = key(path);
            if self.entries.contains_key(&key) {
                return;
            }
            let bytes =
                std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            if bytes.starts_with(b"\x7fELF") {
                self.elves.push(path.to_owned());
            }
            self.insert(path, Kind::File(bytes), mode);
        }
        // Sockets, FIFOs and devices are not part of a program.
    }

    /// Adds `path` and its parents as directories, but a parent that is a symlink here
    /// (`/lib` → `usr/lib`) as that symlink, with the directories it leads to (never their
    /// contents).
    fn add_parents(&mut self, path: &Path) {
        self.add_parents_within(path, 0);
    }

    fn add_parents_within(&mut self, path: &Path, links: usize) {
        assert!(
            links <= MAX_LINKS,
            "too many symlinks resolving {}",
            path.display()
        );
        let components: Vec<Component<'_>> = path.components().collect();
        let mut at = PathBuf::from("/");
        for (i, component) in components.iter().enumerate() {
            let Component::Normal(name) = component else {
                continue;
            };
            at.push(name);
            let link = std::fs::symlink_metadata(&at)
                .ok()
                .filter(|m| m.file_type().is_symlink())
                .and_then(|_| std::fs::read_link(&at).ok());
            match link {
                Some(target) => {
                    self.insert(
                        &at,
                        Kind::Symlink(target.to_string_lossy().into_owned()),
                        0o777,
                    );
                    let rest: PathBuf = components[i + 1..].iter().collect();
                    let resolved = at.parent().unwrap_or(Path::new("/")).join(target);
                    self.add_parents_within(&normalize(&resolved.join(rest)), links + 1);
                    return;
                }
                None => self.insert(&at, Kind::Dir, 0o755),
            }
        }
    }

    fn insert(&mut self, path: &Path, kind: Kind, mode: u32) {
        let key = key(path);
        if key.is_empty() || self.entries.contains_key(&key) {
            return;
        }
        let entry = match kind {
            Kind::Dir => Entry::dir(&key),
            Kind::File(bytes) => Entry::file(&key, bytes),
            Kind::Symlink(target) => Entry::symlink(&key, &target),
            other => panic!("not a host file kind: {other:?}"),
        };
        self.entries.insert(key, entry.mode(mode));
    }
}

/// The tar path of an absolute path: without the leading `/`.
fn key(path: &Path) -> String {
    path.to_string_lossy().trim_start_matches('/').to_owned()
}

/// `path` with `.` and `..` resolved lexically (symlinks are resolved by the caller).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::Normal(name) => out.push(name),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}
