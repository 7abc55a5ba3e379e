//! Abort, pause and resume of a running execution.
//!
//! Abort deletes the Pod with a short grace period: `init` receives SIGTERM, marks the running
//! step aborted and prints it, so the log says what happened; the monitor settles the rest.
//! Pause and resume speak `init`'s control protocol on the Pod's IP (spec §4.6): the
//! execution's token first, then one byte per command.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Agent;
use crate::live::Live;

use testwerk_protocol::control::{DONE, PAUSE, PORT, REFUSED, RESUME, request};

/// Why [`act`] did nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActError {
    /// The execution is not followed by this agent (over, unknown, or another agent's).
    NotRunning(String),
    /// No such action.
    Unknown(String),
    /// The cluster did not do it.
    Failed(String),
}

/// Aborts, pauses or resumes (`action`) the execution `query` names; returns its name.
pub async fn act(agent: &Agent, query: &str, action: &str) -> Result<String, ActError> {
    let Some(live) = agent.live_by_query(query) else {
        return Err(ActError::NotRunning(format!(
            "execution `{query}` is not running on this agent"
        )));
    };
    let done = match action {
        "abort" => abort(agent, &live).await,
        "pause" => pause(agent, &live).await,
        "resume" => resume(agent, &live).await,
        other => {
            return Err(ActError::Unknown(format!(
                "unknown action `{other}` (abort, pause, resume)"
            )));
        }
    };
    done.map(|()| live.name.clone()).map_err(ActError::Failed)
}

pub async fn abort(agent: &Agent, live: &Live) -> Result<(), String> {
    live.request_abort();
    let pods: Api<Pod> = Api::namespaced(agent.client.clone(), &agent.namespace);
    if let Some(pod) = agent.view.pod(&live.resource)
        && let Some(name) = pod.metadata.name
    {
        let params = DeleteParams {
            grace_period_seconds: Some(5),
            ..DeleteParams::background()
        };
        pods.delete(&name, &params)
            .await
            .map_err(|e| format!("deleting Pod {name}: {e}"))?;
    }
    Ok(())
}

pub async fn pause(agent: &Agent, live: &Live) -> Result<(), String> {
    command(agent, live, PAUSE).await
}

pub async fn resume(agent: &Agent, live: &Live) -> Result<(), String> {
    command(agent, live, RESUME).await
}

async fn command(agent: &Agent, live: &Live, byte: u8) -> Result<(), String> {
    let ip = agent
        .view
        .pod(&live.resource)
        .and_then(|p| p.status.and_then(|s| s.pod_ip))
        .ok_or_else(|| format!("{} has no running Pod with an IP yet", live.name))?;
    let addr = format!("{ip}:{PORT}");
    let talk = async {
        let mut stream = tokio::net::TcpStream::connect(&addr).await?;
        stream
            .write_all(&request(live.control_token(), byte))
            .await?;
        let mut answer = [0u8; 1];
        stream.read_exact(&mut answer).await?;
        Ok::<u8, std::io::Error>(answer[0])
    };
    match tokio::time::timeout(Duration::from_secs(10), talk).await {
        Ok(Ok(DONE)) => Ok(()),
        Ok(Ok(REFUSED)) => Err(format!("init at {addr} refused the execution's token")),
        Ok(Ok(other)) => Err(format!("init at {addr} answered {other:#04x}")),
        Ok(Err(e)) => Err(format!("init at {addr}: {e}")),
        Err(_) => Err(format!("init at {addr} did not answer within 10 s")),
    }
}
