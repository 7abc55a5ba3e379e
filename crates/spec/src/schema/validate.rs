//! A small JSON-schema validator for the two dialects this crate produces: the schemars output
//! for the model (`$ref`/`$defs`, `anyOf` for `Option` and untagged enums) and the Kubernetes
//! structural schema of the CRDs (`nullable`, `x-kubernetes-*` markers).
//!
//! Unlike serde, it treats a field missing from `properties` as an error, which is how unknown
//! fields — including those inside k8s-openapi types — are caught.

use serde_json::Value;

use crate::path;

/// One way a value does not fit its schema.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Problem {
    UnknownField {
        field: String,
        expected: Vec<String>,
    },
    Missing {
        field: String,
    },
    WrongType {
        expected: String,
        found: &'static str,
    },
    NotAllowed {
        value: String,
        allowed: Vec<String>,
    },
    OutOfRange {
        detail: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Issue {
    /// Path of the offending field (for an unknown field, the field itself).
    pub path: String,
    /// The model type the value was checked against, when known (`Step`, `ContainerConfig`).
    pub context: Option<String>,
    pub problem: Problem,
}

/// Validates `value` against `root` (a schema whose `$ref`s point into its own `$defs`).
pub(crate) fn validate(root: &Value, value: &Value) -> Vec<Issue> {
    let mut validator = Validator {
        root,
        issues: Vec::new(),
        depth: 0,
    };
    validator.check(root, value, "", None);
    validator.issues
}

struct Validator<'a> {
    root: &'a Value,
    issues: Vec<Issue>,
    depth: usize,
}

/// How a JSON value is named in messages.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a decimal number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// A value as a person would write it: strings without their JSON quotes.
fn text_of(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

fn describe_type(t: &str) -> &'static str {
    match t {
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "true or false",
        "array" => "a list",
        "object" => "a mapping",
        "null" => "nothing",
        _ => "a value",
    }
}

fn matches_type(t: &str, value: &Value) -> bool {
    match (t, value) {
        ("string", Value::String(_))
        | ("boolean", Value::Bool(_))
        | ("array", Value::Array(_))
        | ("object", Value::Object(_))
        | ("null", Value::Null)
        | ("number", Value::Number(_)) => true,
        ("integer", Value::Number(n)) => n.is_i64() || n.is_u64(),
        _ => false,
    }
}

fn is_int_or_string(value: &Value) -> bool {
    matches_type("integer", value) || value.is_string()
}

impl<'a> Validator<'a> {
    fn report(&mut self, path: &str, context: Option<&str>, problem: Problem) {
        self.issues.push(Issue {
            path: path.to_owned(),
            context: context.map(str::to_owned),
            problem,
        });
    }

    fn resolve(&self, reference: &str) -> Option<(&'a Value, &'a str)> {
        let name = reference.strip_prefix("#/$defs/")?;
        let (name, target) = self.root.get("$defs")?.as_object()?.get_key_value(name)?;
        Some((target, name.as_str()))
    }

    fn check(&mut self, schema: &'a Value, value: &Value, at: &str, context: Option<&'a str>) {
        // The model's recursion (steps in steps) is bounded by the input, which the YAML
        // reader already bounds; this guard only protects against a malformed schema.
        if self.depth > 512 {
            return;
        }
        self.depth += 1;
        self.check_inner(schema, value, at, context);
        self.depth -= 1;
    }

    fn check_inner(
        &mut self,
        schema: &'a Value,
        value: &Value,
        at: &str,
        context: Option<&'a str>,
    ) {
        let Value::Object(s) = schema else {
            if schema == &Value::Bool(false) {
                self.report(
                    at,
                    context,
                    Problem::NotAllowed {
                        value: text_of(value),
                        allowed: vec![],
                    },
                );
            }
            return;
        };
        let mut context = context;
        let reference = s.get("$ref").and_then(Value::as_str);
        if let Some((target, name)) = reference.and_then(|r| self.resolve(r)) {
            self.check(target, value, at, Some(name));
            context = Some(name);
        }
        if value.is_null() && s.get("nullable") == Some(&Value::Bool(true)) {
            return;
        }
        if s.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
            if !is_int_or_string(value) {
                let expected = "an integer or a string".to_owned();
                self.report(
                    at,
                    context,
                    Problem::WrongType {
                        expected,
                        found: type_name(value),
                    },
                );
            }
            return;
        }
        for keyword in ["anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = s.get(keyword) {
                self.check_branches(branches, value, at, context);
            }
        }
        if let Some(Value::Array(all)) = s.get("allOf") {
            for branch in all {
                self.check(branch, value, at, context);
            }
        }
        if let Some(types) = s.get("type") {
            let names: Vec<&str> = match types {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            if !names.is_empty() && !names.iter().any(|t| matches_type(t, value)) {
                let wanted: Vec<&str> = names
                    .iter()
                    .filter(|t| **t != "null")
                    .map(|t| describe_type(t))
                    .collect();
                let expected = wanted.join(" or ");
                self.report(
                    at,
                    context,
                    Problem::WrongType {
                        expected,
                        found: type_name(value),
                    },
                );
                return;
            }
        }
        if let Some(Value::Array(allowed)) = s.get("enum")
            && !allowed.contains(value)
        {
            let allowed = allowed.iter().map(text_of).collect();
            let value = text_of(value);
            self.report(at, context, Problem::NotAllowed { value, allowed });
        }
        if let Value::Number(n) = value {
            self.check_range(s, n, at, context);
        }
        match value {
            Value::Object(object) => self.check_object(s, object, at, context),
            Value::Array(items) => {
                if let Some(item_schema) = s.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.check(item_schema, item, &path::index(at, i), None);
                    }
                }
            }
            _ => {}
        }
    }

    fn check_range(
        &mut self,
        s: &serde_json::Map<String, Value>,
        n: &serde_json::Number,
        at: &str,
        context: Option<&str>,
    ) {
        let Some(x) = n.as_f64() else { return };
        let (lo, hi) = match s.get("format").and_then(Value::as_str) {
            Some("int32") => (f64::from(i32::MIN), f64::from(i32::MAX)),
            Some("uint32") => (0.0, f64::from(u32::MAX)),
            Some("uint8") => (0.0, 255.0),
            _ => (f64::NEG_INFINITY, f64::INFINITY),
        };
        let lo = s
            .get("minimum")
            .and_then(Value::as_f64)
            .map_or(lo, |m| m.max(lo));
        let hi = s
            .get("maximum")
            .and_then(Value::as_f64)
            .map_or(hi, |m| m.min(hi));
        if x < lo || x > hi {
            let detail = match (lo.is_finite(), hi.is_finite()) {
                (true, true) => format!("{n} is out of range: expected {lo} to {hi}"),
                (true, false) => format!("{n} is too small: expected at least {lo}"),
                _ => format!("{n} is too large: expected at most {hi}"),
            };
            self.report(at, context, Problem::OutOfRange { detail });
        }
    }

    fn check_object(
        &mut self,
        s: &'a serde_json::Map<String, Value>,
        object: &serde_json::Map<String, Value>,
        at: &str,
        context: Option<&'a str>,
    ) {
        let properties = s.get("properties").and_then(Value::as_object);
        let additional = s.get("additionalProperties");
        let preserve = s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
        for (key, field) in object {
            let field_path = path::key(at, key);
            if let Some(field_schema) = properties.and_then(|p| p.get(key)) {
                self.check(field_schema, field, &field_path, None);
            } else if let Some(extra) = additional.filter(|a| a.is_object()) {
                self.check(extra, field, &field_path, None);
            } else if let Some(properties) = properties
                && !preserve
                && additional != Some(&Value::Bool(true))
            {
                let expected = properties.keys().cloned().collect();
                self.report(
                    &field_path,
                    context,
                    Problem::UnknownField {
                        field: key.clone(),
                        expected,
                    },
                );
            } else if additional == Some(&Value::Bool(false)) && !preserve {
                self.report(
                    &field_path,
                    context,
                    Problem::UnknownField {
                        field: key.clone(),
                        expected: vec![],
                    },
                );
            }
        }
        if let Some(Value::Array(required)) = s.get("required") {
            for field in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(field) {
                    self.report(
                        at,
                        context,
                        Problem::Missing {
                            field: field.to_owned(),
                        },
                    );
                }
            }
        }
    }

    /// `anyOf`/`oneOf`: fine if one branch accepts the value. Otherwise the errors of the branch
    /// meant for this kind of value are the useful ones; failing that, say which kinds fit.
    fn check_branches(
        &mut self,
        branches: &'a [Value],
        value: &Value,
        at: &str,
        context: Option<&'a str>,
    ) {
        let mut candidates = Vec::new();
        for branch in branches {
            let mut trial = Validator {
                root: self.root,
                issues: Vec::new(),
                depth: self.depth,
            };
            trial.check(branch, value, at, context);
            if trial.issues.is_empty() {
                return;
            }
            if self
                .accepted_types(branch)
                .iter()
                .any(|t| matches_type(t, value) || (*t == "number" && value.is_number()))
            {
                candidates.push(trial.issues);
            }
        }
        if let Some(issues) = candidates.into_iter().min_by_key(Vec::len) {
            self.issues.extend(issues);
            return;
        }
        let mut wanted: Vec<&str> = Vec::new();
        for branch in branches {
            for t in self.accepted_types(branch) {
                let d = describe_type(t);
                if t != "null" && !wanted.contains(&d) {
                    wanted.push(d);
                }
            }
        }
        let expected = wanted.join(" or ");
        self.report(
            at,
            context,
            Problem::WrongType {
                expected,
                found: type_name(value),
            },
        );
    }

    /// The JSON types a schema can accept at its top level.
    fn accepted_types(&self, schema: &'a Value) -> Vec<&'a str> {
        let mut out = Vec::new();
        self.collect_types(schema, &mut out, 0);
        out
    }

    fn collect_types(&self, schema: &'a Value, out: &mut Vec<&'a str>, depth: usize) {
        let Value::Object(s) = schema else { return };
        if depth > 16 {
            return;
        }
        if let Some((target, _)) = s
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| self.resolve(r))
        {
            self.collect_types(target, out, depth + 1);
        }
        if s.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
            out.extend(["integer", "string"]);
        }
        match s.get("type") {
            Some(Value::String(t)) => out.push(t),
            Some(Value::Array(ts)) => out.extend(ts.iter().filter_map(Value::as_str)),
            _ => {}
        }
        for keyword in ["anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = s.get(keyword) {
                for b in branches {
                    self.collect_types(b, out, depth + 1);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_each_kind_of_problem() {
        let root = json!({
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "count": {"type": ["integer", "null"], "format": "int32"},
                "kind": {"type": "string", "enum": ["a", "b"]},
                "inner": {"anyOf": [{"$ref": "#/$defs/Inner"}, {"type": "null"}]},
                "list": {"anyOf": [{"type": "array", "items": true}, {"type": "string"}]},
                "free": {"type": "object", "additionalProperties": {"type": "string"}},
                "port": {"x-kubernetes-int-or-string": true}
            },
            "required": ["name"],
            "$defs": {"Inner": {"type": "object", "properties": {"x": {"type": "boolean"}}}}
        });
        let ok = json!({"name": "n", "count": 3, "kind": "a", "inner": {"x": true},
                        "list": "{{ expr }}", "free": {"any": "s"}, "port": 80});
        assert_eq!(validate(&root, &ok), vec![]);

        let bad = json!({"count": 3000000000u64, "kind": "c", "inner": {"y": 1},
                         "list": 5, "free": {"k": 1}, "port": true, "extra": 1});
        let issues = validate(&root, &bad);
        let summary: Vec<(String, Option<String>)> = issues
            .iter()
            .map(|i| (i.path.clone(), i.context.clone()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("count".into(), None),
                ("kind".into(), None),
                ("inner.y".into(), Some("Inner".into())),
                ("list".into(), None),
                ("free.k".into(), None),
                ("port".into(), None),
                ("extra".into(), None),
                ("".into(), None),
            ]
        );
        assert!(
            matches!(&issues[3].problem, Problem::WrongType { expected, .. } if expected == "a list or a string")
        );
        assert!(matches!(&issues[7].problem, Problem::Missing { field } if field == "name"));
    }

    #[test]
    fn structural_dialect() {
        let root = json!({
            "type": "object",
            "properties": {
                "a": {"type": "string", "nullable": true},
                "b": {"x-kubernetes-preserve-unknown-fields": true},
                "c": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"d": {"type": "string"}}}
            }
        });
        let v = json!({"a": null, "b": {"anything": [1]}, "c": {"d": "x", "e": 1}});
        assert_eq!(validate(&root, &v), vec![]);
        let v = json!({"c": {"d": 1}});
        assert_eq!(validate(&root, &v).len(), 1);
    }
}
