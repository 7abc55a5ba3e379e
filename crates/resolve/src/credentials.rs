//! Literal Git credentials (`content.git.username`, `token`, `sshKey`) leave the workflow:
//! each moves into the execution's Secret like a sensitive config value, and the field reads it
//! back with `secret(…)` at run time. The plan, the Pod spec and the store then never hold them
//! (upstream puts them into the clone's arguments in the Pod spec).

use serde_json::Value;
use testwerk_spec::WorkflowSpec;

use crate::secrets::Secrets;

/// The credential fields of `content.git`, with the Secret key each is stored under.
const FIELDS: [(&str, &str); 3] = [
    ("username", "git-username"),
    ("token", "git-token"),
    ("sshKey", "git-ssh-key"),
];

/// Moves every literal credential of every `content.git` in `spec` into `secrets`.
pub fn hide(spec: &mut WorkflowSpec, secrets: &mut Secrets) -> Result<(), String> {
    let mut value = serde_json::to_value(&*spec).map_err(|e| e.to_string())?;
    let mut moved = 0;
    walk(&mut value, false, &mut |key, text| {
        let expr = secrets.store(key, std::mem::take(text));
        *text = expr.to_template();
        moved += 1;
    });
    if moved > 0 {
        *spec = serde_json::from_value(value).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The literal Git credentials written in `spec`, for a backend to mask wherever the
/// workflow's own text is kept (the agent stores the source before it compiles it).
pub fn literal_credentials(spec: &WorkflowSpec) -> Vec<String> {
    let mut found = Vec::new();
    if let Ok(mut value) = serde_json::to_value(spec) {
        walk(&mut value, false, &mut |_, text| found.push(text.clone()));
    }
    found
}

/// Calls `credential(secret key, text)` for each literal credential under a `content.git`.
fn walk(value: &mut Value, in_content: bool, credential: &mut dyn FnMut(&str, &mut String)) {
    match value {
        Value::Object(map) => {
            if in_content && let Some(Value::Object(git)) = map.get_mut("git") {
                for (field, key) in FIELDS {
                    if let Some(Value::String(text)) = git.get_mut(field)
                        && !text.is_empty()
                        && !text.contains("{{")
                    {
                        credential(key, text);
                    }
                }
            }
            for (key, child) in map.iter_mut() {
                walk(child, key == "content", credential);
            }
        }
        Value::Array(items) => {
            for item in items {
                walk(item, false, credential);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_credentials_become_secret_reads_and_expressions_stay() {
        let mut spec: WorkflowSpec = serde_json::from_value(serde_json::json!({
            "content": {"git": {"uri": "https://x/r", "username": "me", "token": "s3cr3t"}},
            "steps": [{"name": "a", "content": {"git": {
                "uri": "https://x/r", "token": "{{ config.token }}", "sshKey": "KEY"}},
                "shell": "true"}]
        }))
        .expect("a spec");
        let mut found = literal_credentials(&spec);
        found.sort();
        assert_eq!(found, ["KEY", "me", "s3cr3t"]);
        let mut secrets = Secrets::new("wf-1-config");
        hide(&mut spec, &mut secrets).expect("hidden");
        let text = serde_json::to_string(&spec).expect("JSON");
        assert!(!text.contains("s3cr3t") && !text.contains("KEY"), "{text}");
        assert!(text.contains("{{ config.token }}"), "{text}");
        assert!(
            text.contains(r#"secret(\"wf-1-config\",\"git-token\")"#),
            "{text}"
        );
        let values = secrets.into_values();
        assert_eq!(values.get("git-token").map(String::as_str), Some("s3cr3t"));
        assert_eq!(values.get("git-username").map(String::as_str), Some("me"));
        assert_eq!(values.get("git-ssh-key").map(String::as_str), Some("KEY"));
    }
}
