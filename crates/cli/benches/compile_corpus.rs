//! Compiles every TestWorkflow of the compatibility corpus (load → resolve → plan → bundle)
//! and reports the time per workflow. Target: under 1 ms per workflow in a release build.
//!
//! `cargo bench -p testwerk --bench compile_corpus`

use std::path::Path;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use testwerk_cli::pipeline::{self, CompileSettings};
use testwerk_plan::{OwnImages, StaticImages};

fn corpus_images() -> StaticImages {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus-images.yaml");
    std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| StaticImages::from_yaml(&t).ok())
        .unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    let Some(compat) = testwerk_testinputs::corpus() else {
        return;
    };
    let Ok(templates) =
        pipeline::load_templates(&[compat.join("k8s/templates"), compat.join("test")], None)
    else {
        eprintln!("corpus templates do not load from {}", compat.display());
        return;
    };
    let mut errors = Vec::new();
    let files = pipeline::template_files(&[compat.join("test")], &mut errors);
    let inputs: Vec<_> = files
        .iter()
        .filter_map(|f| pipeline::load_file(f, &templates).ok())
        .collect();
    let count: usize = inputs.iter().map(|i| i.workflows.len()).sum();
    let images = corpus_images();
    let settings = CompileSettings {
        namespace: "bench".into(),
        images: OwnImages {
            init: "testwerk/init:bench".into(),
            toolkit: "testwerk/toolkit:bench".into(),
            delivery: Default::default(),
        },
        image_source: &images,
        execution_id: None,
        execution: None,
        config: Default::default(),
        target: pipeline::Target::Kubernetes,
        toolkit: None,
    };
    let compile_all = || {
        let mut ok = 0;
        for input in &inputs {
            for doc in &input.workflows {
                if pipeline::compile(doc, &input.templates, &settings).is_ok() {
                    ok += 1;
                }
            }
        }
        ok
    };

    // One plain measurement for the summary line, then criterion's statistics.
    let start = Instant::now();
    let rounds = 20;
    let mut compiled = 0;
    for _ in 0..rounds {
        compiled = compile_all();
    }
    let per_workflow = start.elapsed() / (rounds * count as u32).max(1);
    println!(
        "compile_corpus: {count} workflows ({compiled} compiled), {per_workflow:?} per workflow (resolve + plan + bundle; target < 1 ms)"
    );

    let load_start = Instant::now();
    let mut loaded = 0;
    for f in &files {
        loaded += pipeline::load_file(f, &templates)
            .map(|i| i.workflows.len())
            .unwrap_or(0);
    }
    println!(
        "load_corpus: {} files, {loaded} workflows parsed and validated in {:?}",
        files.len(),
        load_start.elapsed()
    );

    c.bench_function("compile whole corpus", |b| b.iter(compile_all));
}

criterion_group!(benches, bench);
criterion_main!(benches);
