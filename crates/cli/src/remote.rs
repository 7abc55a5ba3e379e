//! Talking to a testwerk agent's REST API (`crates/agent/src/api.rs`).

use serde_json::Value;

/// An HTTP client that hands non-2xx answers back instead of failing, so the agent's error
/// message reaches the user.
pub fn client() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    )
}

/// `POST /v1/executions/{id}/{action}`; returns the execution's name.
pub fn control(server: &str, id: &str, action: &str) -> Result<String, String> {
    let server = server.trim_end_matches('/');
    let mut answer = client()
        .post(&format!("{server}/v1/executions/{id}/{action}"))
        .send_empty()
        .map_err(|e| format!("cannot reach the agent at {server}: {e}"))?;
    let status = answer.status().as_u16();
    let doc: Value = answer.body_mut().read_json().unwrap_or(Value::Null);
    if status == 200 {
        Ok(doc["execution"].as_str().unwrap_or(id).to_owned())
    } else {
        Err(format!(
            "{action} {id}: {}",
            doc["error"].as_str().unwrap_or("the agent refused")
        ))
    }
}
