//! How compile time and plan size grow with the number of sequential steps (issue 9).
//!
//! `cargo run --release -p testwerk --example plan_scale`
//!
//! For 10, 100, 1,000 and 10,000 `shell: echo N` steps, impure (one container each, as
//! Kubernetes runs them) and pure (one container for all), it compiles the workflow (load →
//! resolve → plan → bundle) and prints the time, the plan's JSON size, where the plan travels
//! (Pod annotation or its own ConfigMap, compressed) and that size, and the Job's size. A
//! workflow over a Kubernetes limit prints the compile error instead. Nothing is asserted:
//! the figures are for the README, beside upstream's (its plans break at about 75 steps; about
//! 3 ms per corpus workflow).

use std::time::{Duration, Instant};

use testwerk_cli::pipeline::{self, CompileSettings};
use testwerk_plan::{NoImages, OwnImages};
use testwerk_testinputs::workflows::{document, sequential_steps};

fn workflow(n: usize, pure: bool) -> String {
    document(&format!("steps-{n}"), &sequential_steps(n, pure, ""))
}

fn main() {
    let settings = CompileSettings {
        namespace: "bench".into(),
        images: OwnImages {
            init: "testwerk/init:bench".into(),
            toolkit: "testwerk/toolkit:bench".into(),
            delivery: Default::default(),
        },
        image_source: &NoImages,
        execution_id: None,
        execution: None,
        config: Default::default(),
        target: pipeline::Target::Kubernetes,
        toolkit: None,
    };
    let templates = testwerk_resolve::TemplateSet::default();
    println!(
        "{:>6} {:>6} {:>10} {:>12} {:>10} {:>14} {:>10}",
        "steps", "pure", "compile", "plan JSON", "per step", "plan travels", "Job"
    );
    for n in [10, 100, 1_000, 10_000] {
        for pure in [false, true] {
            let yaml = workflow(n, pure);
            let docs = match testwerk_spec::load_str("steps.yaml", &yaml) {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("{n} steps do not load: {e:?}");
                    continue;
                }
            };
            let Some(doc) = docs.into_iter().find_map(|d| match d {
                testwerk_spec::AnyDocument::Workflow(w) => Some(w),
                _ => None,
            }) else {
                continue;
            };
            // The best of a few rounds (fewer for the big ones), so other builds on the
            // machine disturb the figure less.
            let rounds = if n >= 10_000 { 3 } else { 10 };
            let mut best = Duration::MAX;
            let mut result = None;
            for _ in 0..rounds {
                let start = Instant::now();
                let compiled = pipeline::compile(&doc, &templates, &settings);
                best = best.min(start.elapsed());
                result = Some(compiled);
            }
            let label = if pure { "yes" } else { "no" };
            match result {
                Some(Ok(c)) => {
                    let plan = serde_json::to_vec(&c.plan.wire()).map_or(0, |v| v.len());
                    let annotation = c
                        .bundle
                        .job
                        .spec
                        .as_ref()
                        .and_then(|s| s.template.metadata.as_ref())
                        .and_then(|m| m.annotations.as_ref())
                        .and_then(|a| a.get("testwerk.io/plan"))
                        .map(String::len);
                    let config_map = c
                        .bundle
                        .config_maps
                        .iter()
                        .filter_map(|cm| cm.binary_data.as_ref())
                        .filter_map(|d| d.get("plan"))
                        .map(|b| b.0.len())
                        .next();
                    let travels = match (annotation, config_map) {
                        (Some(a), _) => format!("annot. {a}"),
                        (None, Some(b)) => format!("CM {b}"),
                        _ => "?".into(),
                    };
                    let job = serde_json::to_vec(&c.bundle.job).map_or(0, |v| v.len());
                    println!(
                        "{n:>6} {label:>6} {:>10} {plan:>12} {:>10} {travels:>14} {job:>10}",
                        format!("{:.2?}", best),
                        plan / n,
                    );
                }
                Some(Err(errors)) => {
                    let first = errors.first().map(|d| d.to_string()).unwrap_or_default();
                    let first = first.lines().next().unwrap_or_default().to_owned();
                    println!(
                        "{n:>6} {label:>6} {:>10} does not compile: {first}",
                        format!("{:.2?}", best)
                    );
                }
                None => {}
            }
        }
    }
    println!(
        "upstream (Testkube): plans break at about 75 sequential steps; about 3 ms per corpus workflow"
    );
}
