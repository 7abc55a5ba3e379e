//! Shared by the integration tests: where the compatibility corpus is, and its files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The Testkube corpus ([`testwerk_testinputs::corpus`]): `None` when it is absent, after
/// recording the skip (or failing, in CI); the test then returns before its assertions.
pub fn corpus_dir() -> Option<PathBuf> {
    testwerk_testinputs::corpus()
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
pub fn corpus_files() -> Option<Vec<PathBuf>> {
    let dir = corpus_dir()?;
    let mut files = yaml_files(&dir.join("k8s/templates"));
    files.extend(yaml_files(&dir.join("test")));
    Some(files)
}
