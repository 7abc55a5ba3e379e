//! `transfer` and `fetch` of a `parallel` step, as the workers see them.
//!
//! Both travel as artifacts, through the backend that already keeps them, so no Pod serves
//! files to another and none needs more than its own execution's token:
//!
//! - `transfer`: the parallel step packs `from` into its artifact `tw-transfer-<k>.tar.gz`,
//!   and every worker gets it as `content.tarball` (unpacked into `to`, default `from`); a
//!   service's `transfer` the same way (`tw-transfer-<service>-<k>.tar.gz`);
//! - `fetch`: every worker ends with a step (always run) that packs its `from` into the
//!   artifact `tw-fetch-<k>.tar.gz`; once the workers are done, the parallel step unpacks each
//!   into its own `to` (default `from`).
//!
//! The packing and unpacking are the toolkit's; this module says what the workers get.

use serde_json::{Value, json};

use crate::SpecError;

/// One `fetch` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetch {
    pub from: String,
    pub patterns: Vec<String>,
    pub to: String,
}

/// One `transfer` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Transfer {
    /// Its artifact's name.
    pub archive: String,
    pub from: String,
    pub patterns: Vec<String>,
    /// The field, for errors: `parallel.transfer[0]`.
    pub field: String,
}

/// The artifact that carries entry `k` of `transfer` or `fetch` (`kind`).
pub fn archive(kind: &str, k: impl std::fmt::Display) -> String {
    format!("tw-{kind}-{k}.tar.gz")
}

/// `files`: a list, or an expression giving one; all files when absent.
pub(crate) fn patterns(entry: &Value, field: &str) -> Result<Vec<String>, SpecError> {
    let list = match &entry["files"] {
        Value::Null => return Ok(vec!["**/*".into()]),
        Value::String(src) => testwerk_expr::finalize_expression(src, &testwerk_expr::NoMachine)
            .map_err(|e| SpecError::Failed(format!("{field}.files: {e}")))?,
        other => other.clone(),
    };
    match list {
        Value::Array(items) => Ok(items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect()),
        other => Err(SpecError::Failed(format!(
            "{field}.files: {other} is not a list of patterns"
        ))),
    }
}

fn entries<'a>(spec: &'a Value, key: &str) -> impl Iterator<Item = (usize, &'a Value)> {
    spec[key].as_array().into_iter().flatten().enumerate()
}

fn from_of(entry: &Value, field: &str) -> Result<String, SpecError> {
    entry["from"]
        .as_str()
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| SpecError::Usage(format!("{field}.from: the folder to copy is missing")))
}

/// The `fetch` entries of a parallel spec.
pub fn fetches(spec: &Value) -> Result<Vec<Fetch>, SpecError> {
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

/// The `transfer` entries of a parallel spec.
pub fn transfers(spec: &Value) -> Result<Vec<Transfer>, SpecError> {
    transfers_of(spec, "parallel.transfer", "")
}

/// The `transfer` entries of `spec` (named `field` in errors), whose artifacts are named
/// `tw-transfer-<tag><k>.tar.gz`.
pub(crate) fn transfers_of(
    spec: &Value,
    field: &str,
    tag: &str,
) -> Result<Vec<Transfer>, SpecError> {
    entries(spec, "transfer")
        .map(|(k, entry)| {
            let field = format!("{field}[{k}]");
            Ok(Transfer {
                archive: archive("transfer", format!("{tag}{k}")),
                from: from_of(entry, &field)?,
                patterns: patterns(entry, &field)?,
                field,
            })
        })
        .collect()
}

/// The `content.tarball` entries for the `transfer` of `spec` (named `field`, artifacts
/// tagged `tag`) by step `step`, whose artifacts go to `sink` (the parent's artifact URL;
/// `None`: the backend keeps none).
pub(crate) fn tarballs(
    spec: &Value,
    field: &str,
    tag: &str,
    sink: Option<&str>,
    step: &str,
) -> Result<Vec<Value>, SpecError> {
    let mut tarballs = Vec::new();
    for (k, entry) in entries(spec, "transfer") {
        let field = format!("{field}[{k}]");
        let from = from_of(entry, &field)?;
        let sink = sink.ok_or_else(|| {
            SpecError::Failed(format!(
                "{field}: this backend keeps no artifacts, which carry the files"
            ))
        })?;
        let mut tarball = json!({
            "url": format!(
                "{}/{step}/{}",
                sink.trim_end_matches('/'),
                archive("transfer", format!("{tag}{k}"))
            ),
            "path": entry["to"].as_str().unwrap_or(&from),
        });
        if let Some(mount) = entry["mount"].as_bool() {
            tarball["mount"] = mount.into();
        }
        tarballs.push(tarball);
    }
    Ok(tarballs)
}

/// Adds `tarballs` to the `content.tarball` of a workflow spec.
pub(crate) fn add_tarballs(spec: &mut Value, tarballs: Vec<Value>) {
    if tarballs.is_empty() {
        return;
    }
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

/// Gives the workers' spec the tarballs of the parallel step's (`parallel`) `transfer` and a
/// last step sending back what they `fetch`.
pub(crate) fn add_to_workers(
    spec: &mut Value,
    parallel: &Value,
    sink: Option<&str>,
    step: &str,
) -> Result<(), SpecError> {
    let tarballs = tarballs(parallel, "parallel.transfer", "", sink, step)?;
    let fetches = fetches(parallel)?;
    add_tarballs(spec, tarballs);
    if fetches.is_empty() {
        return Ok(());
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
    Ok(())
}
