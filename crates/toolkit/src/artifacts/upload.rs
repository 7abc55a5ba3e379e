//! Uploads to the backend's receiver: `PUT {url}/{step}/{name}` with the execution's token.

use std::io::Read;
use std::time::Duration;

use testwerk_protocol::toolkit::{ArtifactSink, encode_segment};

/// Attempts for an upload that could not reach the receiver at all (a restarting agent).
const ATTEMPTS: u32 = 3;

/// What the receiver said about a stored artifact.
#[derive(Debug)]
pub struct Stored {
    pub size: u64,
    /// Things the receiver noticed (an unreadable report, say); the artifact is kept.
    pub warnings: Vec<String>,
}

/// An HTTP client for one sink.
pub struct Uploader {
    agent: ureq::Agent,
    sink: ArtifactSink,
    step: String,
}

/// What to send.
pub enum Body<'a> {
    /// A file: sent with its length, re-opened for a retry.
    File(&'a std::path::Path),
    /// A stream of unknown length (a tar.gz being made), sent chunked, once.
    Stream(Box<dyn Read + Send + 'static>),
}

impl Uploader {
    pub fn new(sink: ArtifactSink, step: String) -> Uploader {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_connect(Some(Duration::from_secs(10)))
                // No overall timeout: a 1 GB artifact takes what it takes. A receiver that
                // stops reading for this long is gone.
                .timeout_send_body(Some(Duration::from_secs(300)))
                .timeout_recv_response(Some(Duration::from_secs(300)))
                .build(),
        );
        Uploader { agent, sink, step }
    }

    /// Uploads `body` as `name`; the error is the receiver's reason, or why it could not be
    /// reached. Never contains the token.
    pub fn upload(&self, name: &str, body: Body<'_>) -> Result<Stored, String> {
        let url = format!(
            "{}/{}/{}",
            self.sink.url.trim_end_matches('/'),
            encode_segment(&self.step),
            name.split('/')
                .map(encode_segment)
                .collect::<Vec<_>>()
                .join("/")
        );
        let authorization = format!("Bearer {}", self.sink.token);
        match body {
            Body::File(path) => {
                let mut attempt = 1;
                loop {
                    let file = std::fs::File::open(path)
                        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                    let sent = self
                        .agent
                        .put(&url)
                        .header("Authorization", &authorization)
                        .send(file);
                    match sent {
                        Err(e) if attempt < ATTEMPTS && is_unreachable(&e) => {
                            std::thread::sleep(Duration::from_millis(500 * u64::from(attempt)));
                            attempt += 1;
                        }
                        other => return answer(other, &self.sink.url),
                    }
                }
            }
            Body::Stream(reader) => {
                let sent = self
                    .agent
                    .put(&url)
                    .header("Authorization", &authorization)
                    .header("Content-Type", "application/gzip")
                    .send(ureq::SendBody::from_owned_reader(reader));
                answer(sent, &self.sink.url)
            }
        }
    }
}

fn is_unreachable(e: &ureq::Error) -> bool {
    matches!(e, ureq::Error::ConnectionFailed | ureq::Error::HostNotFound)
        || matches!(e, ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused)
}

fn answer(
    sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    url: &str,
) -> Result<Stored, String> {
    let mut response =
        sent.map_err(|e| format!("cannot reach the artifact receiver at {url}: {e}"))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()
        .unwrap_or_default();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    if status == 201 || status == 200 {
        let warnings = doc["warnings"]
            .as_array()
            .map(|w| {
                w.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        return Ok(Stored {
            size: doc["size"].as_u64().unwrap_or(0),
            warnings,
        });
    }
    Err(match doc["error"].as_str() {
        Some(reason) => format!("{reason} (HTTP {status})"),
        None => format!("the artifact receiver answered HTTP {status}"),
    })
}
