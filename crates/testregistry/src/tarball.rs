//! Layer tars written by hand (GNU tar format), so a test can put *anything* in an entry's
//! name — `..`, absolute paths, names through symlinks — which a careful tar library refuses
//! to write.

/// What an entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File(Vec<u8>),
    Symlink(String),
    /// A hard link to an earlier entry's path (as written in the tar).
    Hardlink(String),
    Fifo,
    CharDevice {
        major: u32,
        minor: u32,
    },
}

/// One tar entry: a path as written (no normalisation), its kind, mode, owner and mtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub kind: Kind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Seconds since the epoch.
    pub mtime: u64,
}

impl Entry {
    fn new(path: &str, kind: Kind, mode: u32) -> Self {
        Self {
            path: path.to_owned(),
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime: 1_700_000_000,
        }
    }

    /// A directory, mode 0755.
    pub fn dir(path: &str) -> Self {
        Self::new(path, Kind::Dir, 0o755)
    }

    /// A regular file, mode 0644.
    pub fn file(path: &str, contents: impl Into<Vec<u8>>) -> Self {
        Self::new(path, Kind::File(contents.into()), 0o644)
    }

    /// A symbolic link `path -> target`.
    pub fn symlink(path: &str, target: &str) -> Self {
        Self::new(path, Kind::Symlink(target.to_owned()), 0o777)
    }

    /// A hard link `path` to the earlier entry `target`.
    pub fn hardlink(path: &str, target: &str) -> Self {
        Self::new(path, Kind::Hardlink(target.to_owned()), 0o644)
    }

    pub fn fifo(path: &str) -> Self {
        Self::new(path, Kind::Fifo, 0o644)
    }

    pub fn char_device(path: &str, major: u32, minor: u32) -> Self {
        Self::new(path, Kind::CharDevice { major, minor }, 0o666)
    }

    /// Deletes `path` of lower layers (`dir/.wh.name`).
    pub fn whiteout(path: &str) -> Self {
        let (dir, name) = path.rsplit_once('/').map_or(("", path), |(d, n)| (d, n));
        let marker = if dir.is_empty() {
            format!(".wh.{name}")
        } else {
            format!("{dir}/.wh.{name}")
        };
        Self::file(&marker, Vec::new())
    }

    /// Hides every entry lower layers put in `dir` (`dir/.wh..wh..opq`).
    pub fn opaque(dir: &str) -> Self {
        Self::file(
            &format!("{}/.wh..wh..opq", dir.trim_end_matches('/')),
            Vec::new(),
        )
    }

    #[must_use]
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    #[must_use]
    pub fn owner(mut self, uid: u32, gid: u32) -> Self {
        self.uid = uid;
        self.gid = gid;
        self
    }

    #[must_use]
    pub fn mtime(mut self, mtime: u64) -> Self {
        self.mtime = mtime;
        self
    }
}

/// The tar of `entries`, in order, with the two zero blocks that end an archive.
pub fn tar(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let (flag, data, link): (u8, &[u8], &str) = match &e.kind {
            Kind::Dir => (b'5', &[], ""),
            Kind::File(d) => (b'0', d, ""),
            Kind::Symlink(t) => (b'2', &[], t),
            Kind::Hardlink(t) => (b'1', &[], t),
            Kind::Fifo => (b'6', &[], ""),
            Kind::CharDevice { .. } => (b'3', &[], ""),
        };
        // GNU long names: a `././@LongLink` entry holding the name precedes the real one.
        if e.path.len() > 100 {
            long_name(&mut out, b'L', &e.path);
        }
        if link.len() > 100 {
            long_name(&mut out, b'K', link);
        }
        let mut h = [0u8; 512];
        put(&mut h[0..100], e.path.as_bytes());
        octal(&mut h[100..108], u64::from(e.mode & 0o7777));
        octal(&mut h[108..116], u64::from(e.uid));
        octal(&mut h[116..124], u64::from(e.gid));
        octal(&mut h[124..136], data.len() as u64);
        octal(&mut h[136..148], e.mtime);
        h[156] = flag;
        put(&mut h[157..257], link.as_bytes());
        h[257..265].copy_from_slice(b"ustar  \0");
        if let Kind::CharDevice { major, minor } = e.kind {
            octal(&mut h[329..337], u64::from(major));
            octal(&mut h[337..345], u64::from(minor));
        }
        finish(&mut out, h, data);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

fn long_name(out: &mut Vec<u8>, flag: u8, name: &str) {
    let mut h = [0u8; 512];
    put(&mut h[0..100], b"././@LongLink");
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    let mut data = name.as_bytes().to_vec();
    data.push(0);
    octal(&mut h[124..136], data.len() as u64);
    octal(&mut h[136..148], 0);
    h[156] = flag;
    h[257..265].copy_from_slice(b"ustar  \0");
    finish(out, h, &data);
}

fn finish(out: &mut Vec<u8>, mut h: [u8; 512], data: &[u8]) {
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|b| u64::from(*b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    let pad = (512 - data.len() % 512) % 512;
    out.extend(std::iter::repeat_n(0u8, pad));
}

fn put(field: &mut [u8], bytes: &[u8]) {
    let n = bytes.len().min(field.len());
    field[..n].copy_from_slice(&bytes[..n]);
}

/// A NUL-terminated octal number filling `field`.
fn octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    let text = format!("{value:0width$o}");
    put(field, text.as_bytes());
    field[width] = 0;
}
