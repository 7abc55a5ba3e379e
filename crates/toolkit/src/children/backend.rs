//! The HTTP client of the backend's children endpoint ([`testwerk_protocol::children`]).

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use testwerk_protocol::children::{
    ChildRequest, ChildStarted, ChildState, ChildrenEndpoint, NEXT_HEADER, Selected, Selection,
    StopGroup, Stopped,
};
use testwerk_protocol::toolkit::ToolkitSettings;

use crate::ToolkitError;

/// The most bytes of a child's log taken in one answer (the backend sends at most a few
/// thousand lines of at most 64 KiB each).
const LOG_ANSWER_LIMIT: u64 = 64 << 20;
/// How long a request that cannot reach the backend at all is tried again: an agent that
/// restarts (even after `kill -9`) is back well within this.
const UNREACHABLE_FOR: Duration = Duration::from_secs(120);

/// The backend that runs this execution, as the toolkit reaches it.
pub struct Backend {
    agent: ureq::Agent,
    endpoint: ChildrenEndpoint,
}

impl Backend {
    /// The backend named in the settings; an error when it runs no children.
    pub fn from_settings(settings: &ToolkitSettings, what: &str) -> Result<Backend, ToolkitError> {
        let endpoint = settings.children.clone().ok_or_else(|| {
            ToolkitError::Failed(format!(
                "{what} needs a backend that runs child executions, and this one gave no endpoint \
                 (run the workflow with `testwerk run` or through `testwerk agent`)"
            ))
        })?;
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_connect(Some(Duration::from_secs(10)))
                .timeout_global(Some(Duration::from_secs(60)))
                .build(),
        );
        Ok(Backend { agent, endpoint })
    }

    /// Not sent twice unless it never reached the backend: a second start is a second child.
    pub fn start(&self, request: &ChildRequest) -> Result<ChildStarted, ToolkitError> {
        self.post("", request, false)
    }

    pub fn state(&self, id: &str) -> Result<ChildState, ToolkitError> {
        self.get_json(&format!("/{id}"))
    }

    pub fn abort(&self, id: &str) -> Result<(), ToolkitError> {
        self.post::<_, serde_json::Value>(&format!("/{id}/abort"), &serde_json::json!({}), true)
            .map(|_| ())
    }

    pub fn resume(&self, id: &str) -> Result<(), ToolkitError> {
        self.post::<_, serde_json::Value>(&format!("/{id}/resume"), &serde_json::json!({}), true)
            .map(|_| ())
    }

    pub fn select(&self, selection: &Selection) -> Result<Selected, ToolkitError> {
        self.post("/select", selection, true)
    }

    pub fn stop(&self, group: &StopGroup) -> Result<Stopped, ToolkitError> {
        self.post("/stop", group, true)
    }

    /// The artifact `name` of child `id` (a tar.gz the child made), unpacked into `target`
    /// (again from the start if the connection breaks: unpacking overwrites).
    pub fn unpack_file(
        &self,
        id: &str,
        name: &str,
        target: &std::path::Path,
        out: &mut dyn std::io::Write,
    ) -> Result<(), ToolkitError> {
        let path = format!("/{id}/files/{name}");
        let response = self.retrying(&path, true, || {
            self.send_once(&path, |agent, url, auth| {
                agent.get(url).header("Authorization", auth).call()
            })
        })?;
        let limits = crate::tarball::Limits::default();
        let body = response
            .into_body()
            .into_with_config()
            .limit(limits.download)
            .reader();
        crate::tarball::unpack_into(body, target, &limits, name, out).map(|_| ())
    }

    /// The child's log from line `from`: the text, and the line to read from next.
    pub fn logs(&self, id: &str, from: u64) -> Result<(Vec<u8>, u64), ToolkitError> {
        let path = format!("/{id}/logs?from={from}");
        self.retrying(&path, true, || {
            let mut response = self.send_once(&path, |agent, url, auth| {
                agent.get(url).header("Authorization", auth).call()
            })?;
            let next = response
                .headers()
                .get(NEXT_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(from);
            let bytes = response
                .body_mut()
                .with_config()
                .limit(LOG_ANSWER_LIMIT)
                .read_to_vec()
                .map_err(|e| Failure::Transport {
                    refused: false,
                    message: e.to_string(),
                })?;
            Ok((bytes, next))
        })
    }

    fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ToolkitError> {
        self.retrying(path, true, || {
            let response = self.send_once(path, |agent, url, auth| {
                agent.get(url).header("Authorization", auth).call()
            })?;
            self.json(path, response)
        })
    }

    fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        idempotent: bool,
    ) -> Result<T, ToolkitError> {
        let body = serde_json::to_vec(body)
            .map_err(|e| ToolkitError::Failed(format!("cannot encode a request: {e}")))?;
        self.retrying(path, idempotent, || {
            let response = self.send_once(path, |agent, url, auth| {
                agent
                    .post(url)
                    .header("Authorization", auth)
                    .header("Content-Type", "application/json")
                    .send(&body[..])
            })?;
            self.json(path, response)
        })
    }

    /// Repeats `attempt` for [`UNREACHABLE_FOR`] while the backend cannot be reached (an agent
    /// restarting, even after `kill -9`) or, for a request that may be sent twice, while the
    /// connection breaks (reset, closed mid-answer).
    fn retrying<T>(
        &self,
        path: &str,
        idempotent: bool,
        mut attempt: impl FnMut() -> Result<T, Failure>,
    ) -> Result<T, ToolkitError> {
        let give_up = std::time::Instant::now() + UNREACHABLE_FOR;
        let mut wait = Duration::from_millis(200);
        loop {
            match attempt() {
                Ok(v) => return Ok(v),
                Err(Failure::Transport { refused, message }) => {
                    if std::time::Instant::now() >= give_up || !(refused || idempotent) {
                        return Err(self.failed(path, &message));
                    }
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                Err(Failure::Answered(e)) => return Err(e),
            }
        }
    }

    /// Sends a request once; an answer other than 2xx is an error with the backend's reason.
    fn send_once(
        &self,
        path: &str,
        request: impl Fn(
            &ureq::Agent,
            &str,
            &str,
        ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<ureq::http::Response<ureq::Body>, Failure> {
        let url = format!("{}{path}", self.endpoint.url.trim_end_matches('/'));
        let auth = format!("Bearer {}", self.endpoint.token);
        let mut response = request(&self.agent, &url, &auth).map_err(|e| Failure::Transport {
            refused: unreachable(&e),
            message: e.to_string(),
        })?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let text = response
            .body_mut()
            .with_config()
            .limit(1 << 16)
            .read_to_string()
            .unwrap_or_default();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let reason = doc["error"].as_str().map_or_else(
            || format!("HTTP {status}"),
            |r| format!("{r} (HTTP {status})"),
        );
        let what = if path.is_empty() {
            "to start a child"
        } else {
            path
        };
        Err(Failure::Answered(ToolkitError::Failed(format!(
            "the backend at {} refused {what}: {reason}",
            self.endpoint.url
        ))))
    }

    fn json<T: DeserializeOwned>(
        &self,
        path: &str,
        mut response: ureq::http::Response<ureq::Body>,
    ) -> Result<T, Failure> {
        let text = response
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_string()
            .map_err(|e| Failure::Transport {
                refused: false,
                message: e.to_string(),
            })?;
        serde_json::from_str(&text).map_err(|e| {
            Failure::Answered(self.failed(path, &format!("an answer that is not understood: {e}")))
        })
    }

    fn failed(&self, path: &str, why: &str) -> ToolkitError {
        ToolkitError::Failed(format!(
            "cannot reach the backend at {}{path}: {why}",
            self.endpoint.url
        ))
    }
}

/// Why one attempt failed.
enum Failure {
    /// No answer: `refused` when the request cannot have reached the backend.
    Transport { refused: bool, message: String },
    /// The backend answered, and said no.
    Answered(ToolkitError),
}

/// The request cannot have reached the backend (nothing listens, or no route to it).
fn unreachable(e: &ureq::Error) -> bool {
    matches!(e, ureq::Error::ConnectionFailed | ureq::Error::HostNotFound)
        || matches!(e, ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused)
}
