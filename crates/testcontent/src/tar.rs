//! Raw tar archives written byte by byte: no check on names, so a test can make the hostile
//! entries (`../x`, `/etc/x`, a symlink out of the tree and a file through it) that an
//! archiving library would refuse to write.

use std::io::Write;

/// One entry of an archive.
pub enum Entry<'a> {
    File {
        path: &'a str,
        content: &'a [u8],
        mode: u32,
    },
    Dir {
        path: &'a str,
    },
    Symlink {
        path: &'a str,
        target: &'a str,
    },
    HardLink {
        path: &'a str,
        target: &'a str,
    },
}

/// A `file` with mode 0644.
pub fn file<'a>(path: &'a str, content: &'a [u8]) -> Entry<'a> {
    Entry::File {
        path,
        content,
        mode: 0o644,
    }
}

/// The uncompressed ustar archive of `entries` (names up to 100 bytes).
pub fn build(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        let (path, kind, mode, content, link): (&str, u8, u32, &[u8], &str) = match entry {
            Entry::File {
                path,
                content,
                mode,
            } => (path, b'0', *mode, content, ""),
            Entry::Dir { path } => (path, b'5', 0o755, &[], ""),
            Entry::Symlink { path, target } => (path, b'2', 0o777, &[], target),
            Entry::HardLink { path, target } => (path, b'1', 0o644, &[], target),
        };
        assert!(
            path.len() <= 100 && link.len() <= 100,
            "names up to 100 bytes"
        );
        let mut header = [0u8; 512];
        header[..path.len()].copy_from_slice(path.as_bytes());
        header[100..108].copy_from_slice(format!("{mode:07o}\0").as_bytes());
        header[108..116].copy_from_slice(b"0000000\0");
        header[116..124].copy_from_slice(b"0000000\0");
        header[124..136].copy_from_slice(format!("{:011o}\0", content.len()).as_bytes());
        header[136..148].copy_from_slice(b"00000000000\0");
        header[156] = kind;
        header[157..157 + link.len()].copy_from_slice(link.as_bytes());
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        // The checksum is computed with its own field as spaces.
        header[148..156].copy_from_slice(b"        ");
        let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
        header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(content);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// `data` gzip-compressed.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}
