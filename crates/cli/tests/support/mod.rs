//! Shared by the command-line tests: where the corpus is, and how we compile it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use testwerk_cli::pipeline;
use testwerk_plan::StaticImages;
use testwerk_spec::Diagnostic;

/// The compatibility corpus; a missing corpus is an error, never a silent pass.
pub fn compat_dir() -> PathBuf {
    let dir = std::env::var_os("TESTWERK_COMPAT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/compat/testkube")
        });
    assert!(
        dir.join("test").is_dir() && dir.join("k8s/templates").is_dir(),
        "\n\n*** The Testkube compatibility corpus is missing at {}.\n*** Set TESTWERK_COMPAT_DIR to the folder holding k8s/ and test/.\n",
        dir.display()
    );
    dir
}

/// Stand-in registry answers for corpus images that run without a command.
pub fn corpus_images() -> StaticImages {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus-images.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    StaticImages::from_yaml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn settings(images: &StaticImages) -> pipeline::CompileSettings<'_> {
    pipeline::CompileSettings {
        namespace: "testwerk".into(),
        images: testwerk_plan::OwnImages {
            init: "testwerk/init:test".into(),
            toolkit: "testwerk/toolkit:test".into(),
        },
        image_source: images,
        execution_id: None,
        config: Default::default(),
    }
}

/// YAML files under `dir` that hold at least one TestWorkflow, sorted.
pub fn workflow_files(dir: &Path) -> Vec<PathBuf> {
    let mut errors = Vec::new();
    pipeline::template_files(&[dir.to_path_buf()], &mut errors)
        .into_iter()
        .filter(|f| {
            std::fs::read_to_string(f)
                .is_ok_and(|t| t.lines().any(|l| l.trim() == "kind: TestWorkflow"))
        })
        .collect()
}

pub fn join(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}
