//! `testwerk image pull`: an image into this machine's image store, with progress on stderr
//! and the result (digest, size, root, pulled or cached) on stdout.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use testwerk_images::{ImageStore, LocalImage, PullEvent, PullPolicy};

use crate::pipeline::{self, RegistryOptions};

/// The store `testwerk` uses: `cache`, else the user's cache directory.
pub fn open_store(opts: &RegistryOptions, cache: Option<PathBuf>) -> Result<ImageStore, String> {
    let dir = cache.or_else(ImageStore::default_dir).ok_or_else(|| {
        "no cache directory: set HOME or XDG_CACHE_HOME, or pass --cache DIR".to_owned()
    })?;
    let client = pipeline::registry_client(opts)?;
    ImageStore::open(dir, client).map_err(|e| e.to_string())
}

/// Pulls `reference` as `docker pull` does (the registry is always asked what the tag names;
/// what is here already is reused). Progress goes to stderr.
pub fn pull(store: &ImageStore, reference: &str) -> Result<LocalImage, String> {
    let mut stderr = std::io::stderr();
    let live = stderr.is_terminal();
    let mut show = |event: PullEvent| {
        let line = match &event {
            PullEvent::Resolving { reference } => Some(format!("resolving {reference}")),
            PullEvent::LayerCached {
                index,
                count,
                digest,
                size,
            } => Some(format!(
                "layer {index}/{count} {} {} (here already)",
                short(digest),
                megabytes(*size)
            )),
            PullEvent::Layer {
                index,
                count,
                digest,
                done,
                total,
            } => {
                // On a terminal one line per layer is rewritten; in a log, only the finished
                // layer is written.
                if live {
                    let _ = write!(
                        stderr,
                        "\rlayer {index}/{count} {} {} / {}   ",
                        short(digest),
                        megabytes(*done),
                        megabytes(*total)
                    );
                    if done >= total {
                        let _ = writeln!(stderr);
                    }
                    None
                } else if done >= total {
                    Some(format!(
                        "layer {index}/{count} {} {} downloaded",
                        short(digest),
                        megabytes(*total)
                    ))
                } else {
                    None
                }
            }
            PullEvent::Unpacking { index, count } => {
                Some(format!("unpacking layer {index}/{count}"))
            }
            PullEvent::Done { .. } => None,
        };
        if let Some(line) = line {
            let _ = writeln!(stderr, "{line}");
        }
    };
    store
        .ensure(reference, Some(PullPolicy::Always), &mut show)
        .map_err(|e| e.to_string())
}

/// The result, for stdout.
pub fn describe(image: &LocalImage) -> String {
    format!(
        "reference: {}\ndigest: {}\nmanifest: {}\nconfig: {}\nsize: {} compressed\nroot: {}\n{}\n",
        image.reference,
        image.digest,
        image.manifest_digest,
        image.config_digest,
        megabytes(image.size),
        image.root.display(),
        if image.pulled {
            "pulled"
        } else {
            "cached: nothing to pull"
        }
    )
}

fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    hex.get(..12).unwrap_or(hex)
}

pub(crate) fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}
