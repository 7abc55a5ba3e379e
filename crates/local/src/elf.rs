//! Is a program statically linked? `testwerk-init` runs inside images whose root filesystems
//! have no (or another) C library, so image mode needs one without a program interpreter.

use std::io::{self, Read};
use std::path::Path;

/// `PT_INTERP`: the program header that names the dynamic loader.
const PT_INTERP: u32 = 3;
/// At most this many program headers are read (real executables have about a dozen).
const MAX_HEADERS: usize = 256;

/// True when `path` is a 64-bit little-endian ELF executable without a program interpreter.
pub fn is_static_executable(path: &Path) -> io::Result<bool> {
    let mut file = std::fs::File::open(path)?;
    let mut header = [0u8; 64];
    file.read_exact(&mut header)
        .map_err(|e| io::Error::new(e.kind(), format!("not an executable: {e}")))?;
    if &header[..4] != b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a 64-bit little-endian ELF executable",
        ));
    }
    let u16_at = |at: usize| u16::from_le_bytes([header[at], header[at + 1]]) as usize;
    let mut phoff = [0u8; 8];
    phoff.copy_from_slice(&header[0x20..0x28]);
    let phoff = u64::from_le_bytes(phoff);
    let (entry_size, count) = (u16_at(0x36), u16_at(0x38).min(MAX_HEADERS));
    if entry_size < 4 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "ELF program headers are too small",
        ));
    }
    let mut table = vec![0u8; entry_size * count];
    io::Seek::seek(&mut file, io::SeekFrom::Start(phoff))?;
    file.read_exact(&mut table)?;
    Ok(!table
        .chunks_exact(entry_size)
        .any(|h| u32::from_le_bytes([h[0], h[1], h[2], h[3]]) == PT_INTERP))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dynamic_program_has_an_interpreter() {
        // /bin/sh of any glibc system is dynamically linked.
        assert_eq!(is_static_executable(Path::new("/bin/sh")).ok(), Some(false));
    }

    #[test]
    fn busybox_static_has_none() {
        let Some(busybox) = testwerk_testinputs::available(
            Some(Path::new("/bin/busybox")).filter(|p| p.is_file()),
            "busybox-static",
            "apt-get install -y busybox-static",
        ) else {
            return;
        };
        assert_eq!(is_static_executable(busybox).ok(), Some(true));
    }

    #[test]
    fn a_text_file_is_an_error() {
        let dir = std::env::temp_dir().join(format!("tw-elf-{}", std::process::id()));
        std::fs::write(&dir, "#!/bin/sh\necho hi\n").unwrap_or_else(|e| panic!("{e}"));
        assert!(is_static_executable(&dir).is_err());
        let _ = std::fs::remove_file(&dir);
    }
}
