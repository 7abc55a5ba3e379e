//! Talking to a testwerk agent's REST API (`crates/agent/src/api.rs`).

use serde_json::Value;

/// Where the CLI finds its credential for an agent: a Kubernetes token (an environment
/// variable, not a flag, so that it does not show in `ps`).
pub const TOKEN_VARIABLE: &str = "TESTWERK_TOKEN";

/// An HTTP client that hands non-2xx answers back instead of failing, so the agent's error
/// message reaches the user, and that sends `$TESTWERK_TOKEN` as a bearer token.
pub fn client() -> ureq::Agent {
    let token = std::env::var(TOKEN_VARIABLE)
        .ok()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    let mut config = ureq::Agent::config_builder().http_status_as_error(false);
    if let Some(token) = token {
        let value = format!("Bearer {token}");
        config = config.middleware(
            move |mut request: ureq::http::Request<ureq::SendBody>,
                  next: ureq::middleware::MiddlewareNext| {
                if let Ok(v) = ureq::http::HeaderValue::from_str(&value) {
                    request
                        .headers_mut()
                        .insert(ureq::http::header::AUTHORIZATION, v);
                }
                next.handle(request)
            },
        );
    }
    ureq::Agent::new_with_config(config.build())
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
