//! Printing compiled objects for people and machines.

use serde_json::Value as Json;

/// Replaces the values of Secrets so that `compile` output never shows a secret.
pub fn redact_secrets(objects: &mut [Json]) {
    for obj in objects.iter_mut() {
        if obj.get("kind").and_then(Json::as_str) != Some("Secret") {
            continue;
        }
        for field in ["stringData", "data"] {
            if let Some(Json::Object(map)) = obj.get_mut(field) {
                for v in map.values_mut() {
                    let len = v.as_str().map_or(0, str::len);
                    *v = Json::String(format!("<redacted: {len} bytes; use --reveal-secrets>"));
                }
            }
        }
    }
}

/// Multi-document YAML.
pub fn yaml(objects: &[Json]) -> Result<String, String> {
    let mut out = String::new();
    for obj in objects {
        out.push_str("---\n");
        out.push_str(&crate::pipeline::to_yaml(obj)?);
    }
    Ok(out)
}
