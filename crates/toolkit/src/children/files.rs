//! `transfer` and `fetch` of a `parallel` step: packing the files for the workers, and
//! unpacking what they send back. What the workers get is [`testwerk_children::transfer`]'s.

use std::io::Write;
use std::path::Path;

use serde_json::Value;
use testwerk_children::transfer::{self, Fetch, Pack};
use testwerk_protocol::toolkit::ToolkitSettings;

use super::backend::Backend;
use super::follow::Ended;
use crate::ToolkitError;
use crate::artifacts;

/// Packs every `transfer` entry as an artifact of this step (the workers get them as
/// `content.tarball`, [`testwerk_children::transfer`]).
pub fn send(spec: &Value, settings: &ToolkitSettings, step: &str) -> Result<(), ToolkitError> {
    for transfer in transfer::transfers(spec)? {
        pack(&transfer.pack, settings, step)?;
    }
    Ok(())
}

/// Packs the files `what` names into its artifact of `step`.
pub fn pack(what: &Pack, settings: &ToolkitSettings, step: &str) -> Result<(), ToolkitError> {
    let sink = settings.artifacts.as_ref().ok_or_else(|| {
        ToolkitError::Failed(format!(
            "{}: this backend keeps no artifacts, which carry the files",
            what.field
        ))
    })?;
    let options = artifacts::Options {
        mounts: Vec::new(),
        compress: Some(what.archive.clone()),
        patterns: what.patterns.clone(),
    };
    let mut out = std::io::stdout();
    writeln!(out, "{}: packing {}", what.field, what.from).ok();
    artifacts::collect(&options, Some(sink), Path::new(&what.from), step, &mut out)
}

/// Unpacks what every worker sent back into each `fetch` entry's `to`. A worker that sent
/// nothing (it failed before making the files, or made none) is named; a download that breaks
/// fails the step, after the other workers' files are in place.
pub fn receive(
    backend: &Backend,
    ended: &[Ended],
    fetches: &[Fetch],
    out: &mut dyn Write,
) -> Result<(), ToolkitError> {
    let mut broken = Vec::new();
    for worker in ended {
        let Some(state) = &worker.state else { continue };
        for (k, fetch) in fetches.iter().enumerate() {
            match backend.unpack_file(
                &state.id,
                &transfer::archive("fetch", k),
                Path::new(&fetch.to),
                out,
            ) {
                Ok(()) => {}
                Err(ToolkitError::Failed(why)) if why.contains("(HTTP 404)") => {
                    writeln!(
                        out,
                        "fetch: {} sent no files from {}",
                        worker.label, fetch.from
                    )
                    .ok();
                }
                Err(e) => broken.push(format!("{}: {e}", worker.label)),
            }
        }
    }
    if broken.is_empty() {
        Ok(())
    } else {
        Err(ToolkitError::Failed(format!(
            "parallel.fetch: files did not arrive from {}",
            broken.join("; ")
        )))
    }
}
