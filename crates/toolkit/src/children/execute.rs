//! `execute --base64 {"workflows": [...], "async": bool, "parallelism": n}`: other workflows,
//! by name or label selector, each instance an execution of its own
//! ([`testwerk_children::execute`]).

use testwerk_children::execute::{Execute, Target, executions, tarballs, target};
use testwerk_protocol::toolkit::ToolkitSettings;

use super::backend::Backend;
use super::follow::{self, Options};
use crate::ToolkitError;

/// Executions started at once when `parallelism` is not given (Testkube's default).
const DEFAULT_PARALLELISM: usize = 100;

pub fn run(args: Vec<String>, settings: &ToolkitSettings) -> Result<(), ToolkitError> {
    let payload = super::payload(&args, "execute")?;
    let step = Execute::from_payload(&payload)?;
    let backend = Backend::from_settings(settings, "`execute`")?;
    let parent_ref = super::parent_ref();
    let sink = settings
        .artifacts
        .as_ref()
        .and_then(|s| s.shared.as_deref());
    let mut children = Vec::new();
    for (i, entry) in step.entries.iter().enumerate() {
        // The files each workflow fetches (`{{ tarball.<name>.url }}`), packed before any starts.
        for tarball in tarballs(entry, i, &parent_ref, sink)? {
            super::files::pack(&tarball.pack, settings, &parent_ref)?;
        }
        let names = match target(entry, i)? {
            Target::Name(name) => vec![name],
            Target::Selector(selection) => {
                let names = backend.select(&selection)?.names;
                if names.is_empty() {
                    println!("execute.workflows[{i}]: no workflow matches the selector");
                }
                names
            }
        };
        children.extend(executions(entry, i, &parent_ref, &names, sink)?);
    }
    if children.is_empty() {
        println!("execute: no workflows matched, nothing to run");
        return Ok(());
    }
    let options = Options {
        parallelism: super::parallelism(step.parallelism, DEFAULT_PARALLELISM),
        fail_fast: false,
        wait: step.wait,
    };
    let ended = follow::run_all(&backend, children, &options, &mut std::io::stdout())?;
    if !step.wait {
        println!("execute: {} started, not waited for (async)", ended.len());
        return Ok(());
    }
    super::verdict("executions", &ended)
}
