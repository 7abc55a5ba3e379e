//! `transfer` and `fetch` of a `parallel` step: files from this execution to its workers, and
//! from the workers back.
//!
//! Both travel as artifacts, through the backend that already keeps them, so no Pod serves
//! files to another and none needs more than its own execution's token:
//!
//! - `transfer`: this step packs `from` into `tw-transfer-<k>.tar.gz`, an artifact of its own,
//!   and every worker gets it as `content.tarball` (unpacked into `to`, default `from`);
//! - `fetch`: every worker ends with a step (always run) that packs its `from` into the
//!   artifact `tw-fetch-<k>.tar.gz`; once the workers are done, this step unpacks each into its
//!   own `to` (default `from`).

use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};
use testwerk_protocol::toolkit::ToolkitSettings;

use super::backend::Backend;
use super::follow::Ended;
use crate::ToolkitError;
use crate::artifacts;

/// One `fetch` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetch {
    pub from: String,
    pub patterns: Vec<String>,
    pub to: String,
}

fn archive(kind: &str, k: usize) -> String {
    format!("tw-{kind}-{k}.tar.gz")
}

/// `files`: a list, or an expression giving one; all files when absent.
fn patterns(entry: &Value, field: &str) -> Result<Vec<String>, ToolkitError> {
    let list = match &entry["files"] {
        Value::Null => return Ok(vec!["**/*".into()]),
        Value::String(src) => testwerk_expr::finalize_expression(src, &testwerk_expr::NoMachine)
            .map_err(|e| ToolkitError::Failed(format!("{field}.files: {e}")))?,
        other => other.clone(),
    };
    match list {
        Value::Array(items) => Ok(items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect()),
        other => Err(ToolkitError::Failed(format!(
            "{field}.files: {other} is not a list of patterns"
        ))),
    }
}

fn entries<'a>(spec: &'a Value, key: &str) -> impl Iterator<Item = (usize, &'a Value)> {
    spec[key].as_array().into_iter().flatten().enumerate()
}

fn from_of(entry: &Value, field: &str) -> Result<String, ToolkitError> {
    entry["from"]
        .as_str()
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| ToolkitError::Usage(format!("{field}.from: the folder to copy is missing")))
}

/// The `fetch` entries of a parallel spec.
pub fn fetches(spec: &Value) -> Result<Vec<Fetch>, ToolkitError> {
    entries(spec, "fetch")
        .map(|(k, entry)| {
            let field = format!("parallel.fetch[{k}]");
            let from = from_of(entry, &field)?;
            Ok(Fetch {
                patterns: patterns(entry, &field)?,
                to: entry["to"].as_str().unwrap_or(&from).to_owned(),
                from,
            })
        })
        .collect()
}

/// Packs every `transfer` entry as an artifact of this step; returns the `content.tarball`
/// entries the workers get.
pub fn send(
    spec: &Value,
    settings: &ToolkitSettings,
    step: &str,
) -> Result<Vec<Value>, ToolkitError> {
    let mut tarballs = Vec::new();
    for (k, entry) in entries(spec, "transfer") {
        let field = format!("parallel.transfer[{k}]");
        let from = from_of(entry, &field)?;
        let sink = settings.artifacts.as_ref().ok_or_else(|| {
            ToolkitError::Failed(format!(
                "{field}: this backend keeps no artifacts, which carry the files to the workers"
            ))
        })?;
        let name = archive("transfer", k);
        let options = artifacts::Options {
            mounts: Vec::new(),
            compress: Some(name.clone()),
            patterns: patterns(entry, &field)?,
        };
        let mut out = std::io::stdout();
        writeln!(out, "transfer: packing {from} for the workers").ok();
        artifacts::collect(&options, Some(sink), Path::new(&from), step, &mut out)?;
        let mut tarball = json!({
            "url": format!("{}/{step}/{name}", sink.url.trim_end_matches('/')),
            "path": entry["to"].as_str().unwrap_or(&from),
        });
        if let Some(mount) = entry["mount"].as_bool() {
            tarball["mount"] = mount.into();
        }
        tarballs.push(tarball);
    }
    Ok(tarballs)
}

/// Gives the workers' spec the transferred tarballs and a last step sending back what they
/// fetch.
pub fn add_to_workers(spec: &mut Value, tarballs: Vec<Value>, fetches: &[Fetch]) {
    if !tarballs.is_empty() {
        let content = spec
            .as_object_mut()
            .map(|m| m.entry("content").or_insert_with(|| json!({})));
        if let Some(content) = content {
            match content["tarball"].as_array_mut() {
                Some(list) => list.extend(tarballs),
                None => content["tarball"] = Value::Array(tarballs),
            }
        }
    }
    if fetches.is_empty() {
        return;
    }
    let steps: Vec<Value> = fetches
        .iter()
        .enumerate()
        .map(|(k, f)| {
            json!({
                "name": "Save the files",
                "condition": "always",
                "artifacts": {
                    "workingDir": f.from,
                    "compress": {"name": archive("fetch", k)},
                    "paths": f.patterns,
                },
            })
        })
        .collect();
    if let Some(map) = spec.as_object_mut() {
        match map.get_mut("after").and_then(Value::as_array_mut) {
            Some(after) => after.extend(steps),
            None => {
                map.insert("after".into(), Value::Array(steps));
            }
        }
    }
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
            match backend.unpack_file(&state.id, &archive("fetch", k), Path::new(&fetch.to), out) {
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
