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

/// Files of the parent packed into an artifact of its step, for a child to fetch: a
/// `transfer` entry's, or an `execute` entry's `tarball`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pack {
    /// The field, for errors: `parallel.transfer[0]`.
    pub field: String,
    pub from: String,
    pub patterns: Vec<String>,
    /// Its artifact's name.
    pub archive: String,
}

impl Pack {
    /// Where a child fetches it: the artifact of `step` under `sink`, where the parent's
    /// children read its artifacts (the sink's `shared` URL, which carries a read-only
    /// capability; `None`: the backend keeps none, and nothing can be carried).
    pub fn url(&self, sink: Option<&str>, step: &str) -> Result<String, SpecError> {
        let sink = sink.ok_or_else(|| {
            SpecError::Failed(format!(
                "{}: this backend keeps no artifacts, which carry the files",
                self.field
            ))
        })?;
        Ok(format!(
            "{}/{step}/{}",
            sink.trim_end_matches('/'),
            self.archive
        ))
    }
}

/// One `transfer` entry: what is packed, and where the child unpacks it.
#[derive(Debug, Clone, PartialEq)]
pub struct Transfer {
    pub pack: Pack,
    /// `to`, default `from`.
    pub to: String,
    pub mount: Option<bool>,
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
            let from = from_of(entry, &field)?;
            Ok(Transfer {
                to: entry["to"].as_str().unwrap_or(&from).to_owned(),
                mount: entry["mount"].as_bool(),
                pack: Pack {
                    archive: archive("transfer", format!("{tag}{k}")),
                    patterns: patterns(entry, &field)?,
                    from,
                    field,
                },
            })
        })
        .collect()
}

/// Adds the `content.tarball` entries of `transfers` (by step `step`, whose artifacts go to
/// `sink`) to a workflow spec.
pub(crate) fn add_tarballs(
    spec: &mut Value,
    transfers: &[Transfer],
    sink: Option<&str>,
    step: &str,
) -> Result<(), SpecError> {
    if transfers.is_empty() {
        return Ok(());
    }
    let mut tarballs = Vec::new();
    for t in transfers {
        let mut tarball = json!({"url": t.pack.url(sink, step)?, "path": t.to});
        if let Some(mount) = t.mount {
            tarball["mount"] = mount.into();
        }
        tarballs.push(tarball);
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
    Ok(())
}

/// Gives the workers' spec the tarballs of the parallel step's (`parallel`) `transfer` and a
/// last step sending back what they `fetch`.
pub(crate) fn add_to_workers(
    spec: &mut Value,
    parallel: &Value,
    sink: Option<&str>,
    step: &str,
) -> Result<(), SpecError> {
    add_tarballs(spec, &transfers(parallel)?, sink, step)?;
    let fetches = fetches(parallel)?;
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
