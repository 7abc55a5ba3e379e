//! Shared by the integration tests: where the compatibility corpus is, and its files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The Testkube corpus: `$TESTWERK_COMPAT_DIR`, else `shared/compat/testkube` beside the
/// repository. Panics with instructions when it is missing, so a test never passes vacuously.
pub fn corpus_dir() -> PathBuf {
    let dir = match std::env::var_os("TESTWERK_COMPAT_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/compat/testkube"),
    };
    assert!(
        dir.join("k8s/templates").is_dir() && dir.join("test").is_dir(),
        "the Testkube compatibility corpus is missing at {}: set TESTWERK_COMPAT_DIR to the \
         directory holding k8s/templates and test/ (see shared/compat/README.md)",
        dir.display()
    );
    dir
}

/// Every `.yaml`/`.yml` file under `dir`, sorted.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries =
            std::fs::read_dir(&d).unwrap_or_else(|e| panic!("cannot list {}: {e}", d.display()));
        for entry in entries {
            let p = entry.expect("directory entry").path();
            if p.is_dir() {
                pending.push(p);
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The corpus files: official templates first, then the test workflows.
pub fn corpus_files() -> Vec<PathBuf> {
    let dir = corpus_dir();
    let mut files = yaml_files(&dir.join("k8s/templates"));
    files.extend(yaml_files(&dir.join("test")));
    files
}
