//! `tarball`: `content.tarball`. Each `<target>=<url>` is downloaded over HTTP(S), read as
//! gzip or plain tar (told apart by the gzip magic bytes, not the name), and unpacked into
//! `target` (created when missing) without writing anything outside it ([`unpack`]): names
//! with `..` or an absolute path are refused, and nothing is written through a symlink, so a
//! link planted by the archive cannot lead out. Downloads have a size bound and a time limit;
//! an error names the URL and the HTTP status or what was wrong.

pub mod unpack;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use testwerk_protocol::toolkit::ToolkitSettings;

use crate::ToolkitError;

/// Bounds of one tarball.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes downloaded.
    pub download: u64,
    /// Bytes of the uncompressed tar stream (a gzip bomb stops here).
    pub unpacked: u64,
    /// The whole download, connection included.
    pub time: Duration,
    /// Connecting.
    pub connect: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            download: 8 << 30,
            unpacked: 16 << 30,
            time: Duration::from_secs(30 * 60),
            connect: Duration::from_secs(30),
        }
    }
}

/// `toolkit tarball <target>=<url>…`.
pub fn run(args: Vec<String>, _settings: &ToolkitSettings) -> Result<(), ToolkitError> {
    if args.is_empty() {
        return Err(ToolkitError::Usage(
            "tarball: expected <target>=<url>... (e.g. /data/app=https://host/app.tar.gz)".into(),
        ));
    }
    let mut pairs = Vec::new();
    for arg in &args {
        // The target comes first and the URL may hold `=` in its query: split at the first.
        match arg.split_once('=') {
            Some((target, url)) if !target.is_empty() && !url.is_empty() => {
                pairs.push((PathBuf::from(target), url.to_owned()));
            }
            _ => {
                return Err(ToolkitError::Usage(format!(
                    "tarball: `{arg}`: expected <target>=<url>"
                )));
            }
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (target, url) in pairs {
        fetch(&target, &url, Limits::default(), &mut out)?;
    }
    Ok(())
}

/// Downloads `url` and unpacks it into `target`, printing one line when done.
pub fn fetch(
    target: &Path,
    url: &str,
    limits: Limits,
    out: &mut dyn Write,
) -> Result<unpack::Summary, ToolkitError> {
    let shown = without_user_info(url);
    let failed = |what: String| ToolkitError::Failed(format!("tarball: {shown}: {what}"));
    // Progress output that cannot be written does not undo an unpacked tarball.
    writeln!(out, "Fetching {shown} into {}", target.display()).ok();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(limits.time))
        .timeout_connect(Some(limits.connect))
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent.get(url).call().map_err(|e| {
        failed(format!(
            "cannot download: {}",
            without_user_info(&e.to_string())
        ))
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(failed(format!(
            "HTTP {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )));
    }
    let body = response
        .into_body()
        .into_with_config()
        .limit(limits.download)
        .reader();
    unpack_into(body, target, &limits, &shown, out)
}

/// Unpacks a downloaded tar or tar.gz (told apart by its first bytes) into `target`, which is
/// created; `shown` names the download in messages.
pub fn unpack_into(
    body: impl Read,
    target: &Path,
    limits: &Limits,
    shown: &str,
    out: &mut dyn Write,
) -> Result<unpack::Summary, ToolkitError> {
    let failed = |what: String| ToolkitError::Failed(format!("tarball: {shown}: {what}"));
    let mut body = BufReader::new(body);
    let gzip = body
        .fill_buf()
        .map_err(|e| failed(format!("cannot download: {e}")))?
        .starts_with(&[0x1f, 0x8b]);
    let stream: Box<dyn Read + '_> = if gzip {
        Box::new(flate2::bufread::MultiGzDecoder::new(body))
    } else {
        Box::new(body)
    };
    std::fs::create_dir_all(target)
        .map_err(|e| failed(format!("cannot create {}: {e}", target.display())))?;
    let summary =
        unpack::unpack(stream, target, limits.unpacked).map_err(|e| failed(e.to_string()))?;
    writeln!(
        out,
        "Unpacked {shown} ({}) into {}: {} file(s), {} directories, {} link(s), {} bytes{}",
        if gzip { "tar.gz" } else { "tar" },
        target.display(),
        summary.files,
        summary.dirs,
        summary.links,
        summary.bytes,
        if summary.skipped > 0 {
            format!("; {} device or FIFO entries skipped", summary.skipped)
        } else {
            String::new()
        }
    )
    .ok();
    Ok(summary)
}

/// A URL without `user:password@`, for messages.
fn without_user_info(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => text.to_owned(),
    }
}
