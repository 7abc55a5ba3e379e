//! CustomResourceDefinitions generated from the model, so the cluster accepts exactly what the
//! loader accepts (up to the nesting depth a structural schema can spell out).
//!
//! Kubernetes wants a *structural* schema: no `$ref`, a `type` on every node, `anyOf` only for
//! value checks, `nullable` instead of `null` types. The schemars output is rewritten into that
//! form here. Recursive types (steps inside steps) are spelled out once and below that kept with
//! `x-kubernetes-preserve-unknown-fields`, as upstream does.

use serde_json::{Map, Value, json};

use crate::{GROUP, Kind, VERSION, schema};

/// The three CRDs, in the order workflow, template, execution.
pub fn crds() -> Vec<Value> {
    Kind::ALL.into_iter().map(crd).collect()
}

/// [`crds`] as one multi-document YAML stream, ready for `kubectl apply --server-side -f`.
pub fn crds_yaml() -> String {
    let mut out = String::new();
    for crd in crds() {
        out.push_str("---\n");
        out.push_str(&crate::to_yaml(&crd));
    }
    out
}

fn crd(kind: Kind) -> Value {
    let plural = kind.plural();
    let singular = kind.as_str().to_lowercase();
    let mut version = json!({
        "name": VERSION,
        "served": true,
        "storage": true,
        "schema": { "openAPIV3Schema": open_api_schema(kind) },
    });
    if kind != Kind::TestWorkflowTemplate {
        version["subresources"] = json!({ "status": {} });
    }
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": format!("{plural}.{GROUP}") },
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind.as_str(),
                "listKind": format!("{}List", kind.as_str()),
                "plural": plural,
                "singular": singular,
            },
            "scope": "Namespaced",
            "versions": [version],
        },
    })
}

/// The structural schema of one kind.
pub fn open_api_schema(kind: Kind) -> Value {
    let root = schema::json_schema(kind);
    let defs = root
        .get("$defs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut converter = Converter {
        defs: &defs,
        stack: Vec::new(),
    };
    let mut out = converter.convert(root);
    if let Some(o) = out.as_object_mut() {
        // The API server owns these three: only `type: object` may be said about metadata,
        // and apiVersion/kind are checked before the schema is.
        if let Some(Value::Object(props)) = o.get_mut("properties") {
            props.insert("metadata".into(), json!({ "type": "object" }));
        }
        if let Some(Value::Array(required)) = o.get_mut("required") {
            required.retain(|r| !matches!(r.as_str(), Some("apiVersion" | "kind" | "metadata")));
            if required.is_empty() {
                o.remove("required");
            }
        }
    }
    out
}

struct Converter<'a> {
    defs: &'a Map<String, Value>,
    /// Definitions being inlined, outermost first: meeting one again means recursion.
    stack: Vec<String>,
}

/// Large Kubernetes types kept opaque, as upstream does: spelling them out at every place a
/// pod can be configured would multiply the CRD's size. The loader still checks them in full.
const OPAQUE: [&str; 2] = ["io.k8s.api.core.v1.Volume", "io.k8s.api.core.v1.Affinity"];

/// Formats Kubernetes knows; others (schemars' `uint32`, …) are dropped, their range kept.
const KNOWN_FORMATS: [&str; 6] = ["int32", "int64", "float", "double", "byte", "date-time"];

fn preserve(description: Option<&Value>) -> Value {
    let mut out = json!({ "x-kubernetes-preserve-unknown-fields": true });
    if let Some(d) = description {
        out["description"] = d.clone();
    }
    out
}

impl Converter<'_> {
    /// Descriptions are kept for our own types only: those of the Kubernetes types are long,
    /// well documented elsewhere, and would push the CRD past the API server's size limit.
    fn describing(&self) -> bool {
        !self.stack.iter().any(|n| n.starts_with("io.k8s."))
    }

    fn convert(&mut self, schema: &Value) -> Value {
        let Value::Object(s) = schema else {
            // `true`: anything goes.
            return preserve(None);
        };
        let description = s.get("description").filter(|_| self.describing());
        if let Some(name) = s
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"))
        {
            let Some(target) = self.defs.get(name) else {
                return preserve(description);
            };
            let mut out = if self.stack.iter().any(|n| n == name) || OPAQUE.contains(&name) {
                let mut cut = preserve(
                    target
                        .get("description")
                        .filter(|_| !name.starts_with("io.k8s.") && self.describing()),
                );
                if target.get("type").and_then(Value::as_str) == Some("object") {
                    cut["type"] = json!("object");
                }
                cut
            } else {
                self.stack.push(name.to_owned());
                let out = self.convert(target);
                self.stack.pop();
                out
            };
            if let (Some(d), Some(o)) = (
                description.filter(|_| self.describing()),
                out.as_object_mut(),
            ) {
                o.insert("description".into(), d.clone());
            }
            return out;
        }
        if let Some(Value::Array(branches)) = s.get("anyOf").or_else(|| s.get("oneOf")) {
            let non_null: Vec<&Value> = branches
                .iter()
                .filter(|b| b.get("type") != Some(&json!("null")))
                .collect();
            let mut out = match non_null.as_slice() {
                [only] => {
                    let mut out = self.convert(only);
                    out["nullable"] = json!(true);
                    out
                }
                // An untagged enum (a list or an expression string): a structural schema
                // cannot say "one of these types", so leave the value to the loader.
                _ => preserve(None),
            };
            if let Some(d) = description {
                out["description"] = d.clone();
            }
            return out;
        }
        let mut out = Map::new();
        if let Some(d) = description {
            out.insert("description".into(), d.clone());
        }
        if s.get("x-kubernetes-int-or-string") == Some(&json!(true)) {
            out.insert("x-kubernetes-int-or-string".into(), json!(true));
            return Value::Object(out);
        }
        let (ty, nullable) = match s.get("type") {
            Some(Value::String(t)) => (Some(t.as_str()), false),
            Some(Value::Array(ts)) => {
                let named: Vec<&str> = ts
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|t| *t != "null")
                    .collect();
                (
                    named.first().copied().filter(|_| named.len() == 1),
                    ts.len() > named.len(),
                )
            }
            _ => (None, false),
        };
        let Some(ty) = ty else {
            return preserve(description);
        };
        out.insert("type".into(), json!(ty));
        if nullable {
            out.insert("nullable".into(), json!(true));
        }
        if let Some(f) = s
            .get("format")
            .and_then(Value::as_str)
            .filter(|f| KNOWN_FORMATS.contains(f))
        {
            out.insert("format".into(), json!(f));
        }
        for keyword in [
            "minimum",
            "maximum",
            "enum",
            "pattern",
            "minLength",
            "maxLength",
            "minItems",
            "maxItems",
        ] {
            if let Some(v) = s.get(keyword) {
                out.insert(keyword.into(), v.clone());
            }
        }
        match ty {
            "object" => self.object(s, &mut out),
            "array" => {
                let items = s
                    .get("items")
                    .map_or_else(|| preserve(None), |i| self.convert(i));
                out.insert("items".into(), items);
            }
            _ => {}
        }
        Value::Object(out)
    }

    fn object(&mut self, s: &Map<String, Value>, out: &mut Map<String, Value>) {
        if let Some(Value::Object(props)) = s.get("properties") {
            let converted: Map<String, Value> = props
                .iter()
                .map(|(k, v)| (k.clone(), self.convert(v)))
                .collect();
            out.insert("properties".into(), Value::Object(converted));
            if let Some(Value::Array(required)) = s.get("required")
                && !required.is_empty()
            {
                out.insert("required".into(), Value::Array(required.clone()));
            }
            return;
        }
        match s.get("additionalProperties") {
            Some(extra @ Value::Object(_)) => {
                let converted = self.convert(extra);
                out.insert("additionalProperties".into(), converted);
            }
            // A free-form object: without this marker the API server would prune its content.
            _ => {
                out.insert("x-kubernetes-preserve-unknown-fields".into(), json!(true));
            }
        }
    }
}
