//! `--compress <name>`: the matched files as one tar.gz, made while it is uploaded (nothing is
//! written to the container's disk).

use std::io::{PipeReader, Read};
use std::thread::JoinHandle;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::find::Found;

/// `name` ending in `.tar.gz` (upstream normalises it the same way).
pub fn archive_name(name: &str) -> String {
    let name = name.trim_matches('/');
    if name.ends_with(".tar.gz") {
        name.to_owned()
    } else {
        format!("{name}.tar.gz")
    }
}

/// A reader of the tar.gz of `files`. Building it runs on a thread; if it fails (a file
/// vanished or became unreadable), the reader fails at the end instead of ending, so the
/// receiver never keeps a truncated archive.
pub fn archive(files: Vec<Found>) -> std::io::Result<Box<dyn Read + Send>> {
    let (reader, writer) = std::io::pipe()?;
    let builder = std::thread::Builder::new()
        .name("artifacts-tar".into())
        .spawn(move || -> Result<(), String> {
            let gz = GzEncoder::new(writer, Compression::fast());
            let mut tar = tar::Builder::new(gz);
            tar.mode(tar::HeaderMode::Deterministic);
            for f in &files {
                tar.append_path_with_name(&f.path, &f.name)
                    .map_err(|e| format!("cannot add {} to the archive: {e}", f.path.display()))?;
            }
            let gz = tar
                .into_inner()
                .map_err(|e| format!("cannot finish the archive: {e}"))?;
            gz.finish()
                .map_err(|e| format!("cannot finish the archive: {e}"))?;
            Ok(())
        })?;
    Ok(Box::new(Checked {
        reader,
        builder: Some(builder),
    }))
}

struct Checked {
    reader: PipeReader,
    builder: Option<JoinHandle<Result<(), String>>>,
}

impl Read for Checked {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.reader.read(buf)?;
        if n == 0
            && !buf.is_empty()
            && let Some(builder) = self.builder.take()
        {
            match builder.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(std::io::Error::other(e)),
                Err(_) => return Err(std::io::Error::other("the archive builder panicked")),
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_end_in_tar_gz() {
        assert_eq!(archive_name("reports"), "reports.tar.gz");
        assert_eq!(archive_name("reports.tar.gz"), "reports.tar.gz");
    }

    #[test]
    fn a_vanished_file_fails_the_stream_instead_of_ending_it() {
        let files = vec![Found {
            path: "/nonexistent/testwerk/file".into(),
            name: "file".into(),
            size: 1,
        }];
        let mut reader = archive(files).unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        let got = reader.read_to_end(&mut out);
        assert!(got.is_err(), "read {} bytes and ended", out.len());
    }
}
