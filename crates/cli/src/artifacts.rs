//! `testwerk artifacts <id> [--download DIR]`: an execution's artifacts, from the local store
//! and artifact storage, or through an agent (`--server`).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use testwerk_artifacts::{Storage, StorageFlags, StorageSettings, check_name};
use testwerk_store::Store;

use crate::history::Format;
use crate::output::{Failure, finish};

/// What to list or fetch.
pub struct ArtifactsRequest {
    /// Execution id, `<workflow>-<number>`, or a unique id prefix.
    pub id: String,
    /// Fetch every artifact into this folder.
    pub download: Option<PathBuf>,
    pub format: Format,
    /// The local results store (default: the user's data directory).
    pub store: Option<PathBuf>,
    /// Through the agent at this URL instead.
    pub server: Option<String>,
    /// Where the local artifacts are (default: beside the store).
    pub storage: StorageFlags,
}

/// One artifact as listed.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Listed {
    step_ref: String,
    name: String,
    size: u64,
    content_type: String,
    created_at: String,
}

/// Lists (and downloads) and returns the exit code: 0 done, 1 a download failed, 2 no such
/// execution or an unreadable store.
pub fn artifacts(req: &ArtifactsRequest) -> u8 {
    let mut downloaded = true;
    let code = finish(run(req, &mut io::stdout().lock()).map(|all| downloaded = all));
    if code == 0 && !downloaded { 1 } else { code }
}

/// `Ok(false)`: some downloads failed (each reported on stderr).
fn run(req: &ArtifactsRequest, out: &mut dyn Write) -> Result<bool, Failure> {
    let source = match &req.server {
        Some(server) => Source::Remote(server.trim_end_matches('/').to_owned()),
        None => Source::local(req)?,
    };
    let listed = source.list(&req.id)?;
    match req.format {
        Format::Json => {
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&listed).unwrap_or_default()
            )?;
        }
        Format::Yaml => {
            let text = crate::pipeline::to_yaml(&listed).map_err(Failure::Input)?;
            writeln!(out, "{}", text.trim_end())?;
        }
        Format::Text => table(out, &listed)?,
    }
    let Some(dir) = &req.download else {
        return Ok(true);
    };
    download(&source, &req.id, &listed, dir, out)
}

fn table(out: &mut dyn Write, listed: &[Listed]) -> io::Result<()> {
    if listed.is_empty() {
        return writeln!(out, "no artifacts");
    }
    let step_w = listed
        .iter()
        .map(|l| l.step_ref.len())
        .max()
        .unwrap_or(0)
        .max(4);
    let name_w = listed
        .iter()
        .map(|l| l.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    writeln!(
        out,
        "{:step_w$}  {:name_w$}  {:>9}  TYPE",
        "STEP", "NAME", "SIZE"
    )?;
    for l in listed {
        writeln!(
            out,
            "{:step_w$}  {:name_w$}  {:>9}  {}",
            l.step_ref,
            l.name,
            testwerk_toolkit::artifacts::human(l.size),
            l.content_type
        )?;
    }
    Ok(())
}

/// Where artifacts are read from.
enum Source {
    Local { store: Box<Store>, storage: Storage },
    Remote(String),
}

impl Source {
    fn local(req: &ArtifactsRequest) -> Result<Source, Failure> {
        let store = match &req.store {
            Some(p) => Store::open(p),
            None => Store::open_default(),
        }
        .map_err(|e| Failure::Input(format!("results store: {e}")))?;
        let settings = StorageSettings::from_flags(&req.storage, &store.files_beside(), &|k| {
            std::env::var(k).ok()
        })
        .map_err(|e| Failure::Input(e.to_string()))?;
        let storage = Storage::open(&settings).map_err(|e| Failure::Input(e.to_string()))?;
        Ok(Source::Local {
            store: Box::new(store),
            storage,
        })
    }

    fn list(&self, id: &str) -> Result<Vec<Listed>, Failure> {
        match self {
            Source::Local { store, .. } => {
                let records = store.artifacts(id).map_err(|e| match e {
                    testwerk_store::StoreError::NotFound { .. } => Failure::Input(format!(
                        "no execution `{id}`; list them with `testwerk executions`"
                    )),
                    e => Failure::Input(e.to_string()),
                })?;
                Ok(records
                    .into_iter()
                    .map(|r| Listed {
                        step_ref: r.step_ref,
                        name: r.name,
                        size: r.size,
                        content_type: r.content_type,
                        created_at: r.created_at.to_string(),
                    })
                    .collect())
            }
            Source::Remote(server) => {
                let url = format!("{server}/api/v1/executions/{}/artifacts", segment(id));
                let mut answer = crate::remote::client().get(&url).call().map_err(|e| {
                    Failure::Input(format!("cannot reach the agent at {server}: {e}"))
                })?;
                let status = answer.status().as_u16();
                let text = answer
                    .body_mut()
                    .with_config()
                    .limit(64 << 20)
                    .read_to_string()
                    .map_err(|e| Failure::Input(format!("the agent's answer: {e}")))?;
                if status != 200 {
                    let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                    return Err(Failure::Input(format!(
                        "artifacts of {id}: {}",
                        doc["error"].as_str().unwrap_or("the agent refused")
                    )));
                }
                serde_json::from_str(&text)
                    .map_err(|e| Failure::Input(format!("the agent's list of artifacts: {e}")))
            }
        }
    }

    /// Writes artifact `l` of execution `id` to `file`; returns its size.
    fn fetch(&self, id: &str, l: &Listed, file: &mut std::fs::File) -> Result<u64, String> {
        match self {
            Source::Local { store, storage } => {
                let record = store
                    .artifact(id, &l.step_ref, &l.name)
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| "no longer recorded".to_owned())?;
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start the async runtime: {e}"))?;
                runtime.block_on(async {
                    let (_, mut stream) = storage
                        .get(&record.storage_key)
                        .await
                        .map_err(|e| e.to_string())?;
                    let mut written = 0u64;
                    while let Some(chunk) = stream.next().await {
                        let chunk = chunk.map_err(|e| e.to_string())?;
                        file.write_all(&chunk)
                            .map_err(|e| format!("cannot write: {e}"))?;
                        written += chunk.len() as u64;
                    }
                    Ok(written)
                })
            }
            Source::Remote(server) => {
                let url = format!(
                    "{server}/api/v1/executions/{}/artifacts/{}/{}",
                    segment(id),
                    segment(&l.step_ref),
                    l.name.split('/').map(segment).collect::<Vec<_>>().join("/")
                );
                let mut answer = crate::remote::client()
                    .get(&url)
                    .call()
                    .map_err(|e| format!("cannot reach the agent at {server}: {e}"))?;
                if answer.status() != 200 {
                    let status = answer.status();
                    let text = answer.body_mut().read_to_string().unwrap_or_default();
                    let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                    return Err(doc["error"]
                        .as_str()
                        .map_or_else(|| format!("the agent answered {status}"), str::to_owned));
                }
                let mut reader = answer.body_mut().with_config().limit(u64::MAX).reader();
                copy(&mut reader, file)
            }
        }
    }
}

fn copy(reader: &mut dyn Read, file: &mut std::fs::File) -> Result<u64, String> {
    io::copy(reader, file).map_err(|e| format!("cannot download: {e}"))
}

/// Fetches every artifact into `dir`: `<dir>/<name>`, or `<dir>/<step ref>/<name>` for a name
/// that several steps stored. Each file appears whole (written beside, then renamed); one that
/// fails is reported and the others are still fetched.
fn download(
    source: &Source,
    id: &str,
    listed: &[Listed],
    dir: &Path,
    out: &mut dyn Write,
) -> Result<bool, Failure> {
    let mut steps_per_name: HashMap<&str, usize> = HashMap::new();
    for l in listed {
        *steps_per_name.entry(&l.name).or_default() += 1;
    }
    let mut failed = Vec::new();
    let mut bytes = 0u64;
    for l in listed {
        let relative = if steps_per_name.get(l.name.as_str()).copied().unwrap_or(0) > 1 {
            format!("{}/{}", l.step_ref, l.name)
        } else {
            l.name.clone()
        };
        let result = check_name(&relative).and_then(|()| {
            let target = dir.join(&relative);
            let parent = target.parent().unwrap_or(dir);
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            let temp = parent.join(format!(
                ".{}.part",
                target.file_name().unwrap_or_default().to_string_lossy()
            ));
            let mut file = std::fs::File::create(&temp)
                .map_err(|e| format!("cannot create {}: {e}", temp.display()))?;
            let fetched = source.fetch(id, l, &mut file).and_then(|n| {
                file.sync_all()
                    .map_err(|e| format!("cannot write {}: {e}", temp.display()))?;
                std::fs::rename(&temp, &target)
                    .map_err(|e| format!("cannot move it to {}: {e}", target.display()))?;
                Ok(n)
            });
            if fetched.is_err() {
                // The partial file is ours; the error that matters is the fetch's.
                std::fs::remove_file(&temp).ok();
            }
            fetched
        });
        match result {
            Ok(n) => bytes += n,
            Err(e) => {
                eprintln!("error: {} ({}): {e}", l.name, l.step_ref);
                failed.push(l.name.clone());
            }
        }
    }
    let done = listed.len() - failed.len();
    writeln!(
        out,
        "downloaded {done} artifact{} ({}) to {}",
        if done == 1 { "" } else { "s" },
        testwerk_toolkit::artifacts::human(bytes),
        dir.display()
    )?;
    if !failed.is_empty() {
        eprintln!(
            "error: {} of {} artifacts could not be downloaded",
            failed.len(),
            listed.len()
        );
    }
    Ok(failed.is_empty())
}

/// Percent-encodes one URL path segment.
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
