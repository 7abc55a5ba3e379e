//! `parallel --base64 <StepParallel>`: the same nested workflow run once per instance, each
//! as a worker execution of its own ([`testwerk_children::parallel`]).

use testwerk_children::parallel::Workers;
use testwerk_protocol::toolkit::ToolkitSettings;

use super::backend::Backend;
use super::files;
use super::follow::{self, Options};
use crate::ToolkitError;

/// Workers running at once when `parallelism` is not given (Testkube's default).
const DEFAULT_PARALLELISM: usize = 1000;

pub fn run(args: Vec<String>, settings: &ToolkitSettings) -> Result<(), ToolkitError> {
    let spec = super::payload(&args, "parallel")?;
    let parent_ref = super::parent_ref();
    let fetches = testwerk_children::transfer::fetches(&spec)?;
    let sink = settings
        .artifacts
        .as_ref()
        .and_then(|s| s.shared.as_deref());
    let workers = Workers::new(&spec, &parent_ref, sink)?;
    if workers.is_empty() {
        println!("parallel: no instances, nothing to run");
        return Ok(());
    }
    let workers = workers.all()?;
    // The files the workers get, packed before any starts.
    files::send(&spec, settings, &parent_ref)?;
    let backend = Backend::from_settings(settings, "`parallel`")?;
    let options = Options {
        parallelism: super::parallelism(spec["parallelism"].as_i64(), DEFAULT_PARALLELISM),
        fail_fast: spec["failFast"].as_bool().unwrap_or(false),
        wait: true,
    };
    println!(
        "parallel: {} worker(s), {} at a time{}",
        workers.len(),
        options.parallelism.min(workers.len()),
        if options.fail_fast { ", failFast" } else { "" }
    );
    let ended = follow::run_all(&backend, workers, &options, &mut std::io::stdout())?;
    files::receive(&backend, &ended, &fetches, &mut std::io::stdout())?;
    super::verdict("workers", &ended)
}
