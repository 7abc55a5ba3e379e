//! Visiting every string of a spec that may hold an expression, knowing which kind it is.
//!
//! Upstream drives this with `expr` struct tags (§1.2 of the spec). The same knowledge is
//! written down here as a table keyed by field name and by the kind of object being visited,
//! and applied to the JSON form of the spec, so that no model type needs to know about
//! expressions:
//!
//! - expressions (the whole string is one): `condition`, `retry.until`, `logs` of services and
//!   parallel blocks, `count`/`maxCount` of strategies (an integer result is written back as a
//!   number, as if it had been written so);
//! - left alone: `id`, `delay`, `paused`, the `config` schema, `events`, `system`,
//!   `concurrency`, `job.namespace`, template names;
//! - templates (`{{ }}` inside text): every other string, and the keys of `labels`,
//!   `annotations`, `nodeSelector`, `tags`, resource `limits`/`requests`, `services`, `pvcs`,
//!   `matrix`, `shards` and `tarball` maps;
//! - an element of `command`/`args` that is one `{{ }}` yielding a list becomes several.
//!
//! Numbers and booleans are never touched.

use serde_json::{Map, Value};

/// What to do with one string. Each method returns `Ok(None)` to keep the text unchanged.
pub trait Rewriter {
    fn template(&mut self, text: &str) -> Result<Option<String>, String>;
    fn expression(&mut self, text: &str) -> Result<Option<String>, String>;
    /// An element of `command` or `args`: may expand into several elements.
    fn list_item(&mut self, text: &str) -> Result<Option<Vec<String>>, String> {
        Ok(self.template(text)?.map(|t| vec![t]))
    }
}

/// A problem met while rewriting, at a field path of the walked document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalkError {
    pub path: String,
    pub message: String,
}

/// The kind of object being visited, which decides how its fields are treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ctx {
    Spec,
    Step,
    Parallel,
    Service,
    Execute,
    ExecuteWorkflow,
    Retry,
    Job,
    Ref,
    Force,
}

/// How one field is treated.
#[derive(Clone, Copy, Debug)]
enum Field {
    Skip,
    Expr,
    /// An expression for a number of instances (`count`, `maxCount`): a result that is an
    /// integer becomes a JSON number, as if it had been written as one.
    Count,
    In(Ctx),
    List(Ctx),
    /// A map whose keys are templates and whose values are visited in the context.
    Keyed(Ctx),
}

/// Maps whose keys are names a person may build from variables.
const KEYED_MAPS: &[&str] = &[
    "labels",
    "annotations",
    "nodeSelector",
    "tags",
    "limits",
    "requests",
    "matrix",
    "shards",
    "tarball",
    "pvcs",
];

/// Fields a parallel block has because it is a whole workflow, not because it is a step.
const SPEC_ONLY: &[&str] = &[
    "use",
    "events",
    "system",
    "config",
    "job",
    "pod",
    "concurrency",
    "notifications",
    "execution",
    "timeouts",
    "after",
    "pvcs",
];

fn force(key: &str) -> Field {
    if KEYED_MAPS.contains(&key) {
        Field::Keyed(Ctx::Force)
    } else {
        Field::In(Ctx::Force)
    }
}

fn field(ctx: Ctx, key: &str) -> Field {
    match ctx {
        Ctx::Spec => match key {
            "use" => Field::List(Ctx::Ref),
            "config" | "events" | "system" | "concurrency" | "notifications" => Field::Skip,
            "job" => Field::In(Ctx::Job),
            "services" => Field::Keyed(Ctx::Service),
            "setup" | "steps" | "after" => Field::List(Ctx::Step),
            _ => force(key),
        },
        Ctx::Step => match key {
            "id" | "delay" | "paused" | "pure" | "negative" | "optional" => Field::Skip,
            "condition" => Field::Expr,
            "retry" => Field::In(Ctx::Retry),
            "use" => Field::List(Ctx::Ref),
            "template" => Field::In(Ctx::Ref),
            "services" => Field::Keyed(Ctx::Service),
            "setup" | "steps" => Field::List(Ctx::Step),
            "parallel" => Field::In(Ctx::Parallel),
            "execute" => Field::In(Ctx::Execute),
            _ => force(key),
        },
        Ctx::Parallel => match key {
            "logs" => Field::Expr,
            "count" | "maxCount" => Field::Count,
            k if SPEC_ONLY.contains(&k) => field(Ctx::Spec, k),
            k => field(Ctx::Step, k),
        },
        Ctx::Service => match key {
            "use" => Field::List(Ctx::Ref),
            "logs" => Field::Expr,
            "count" | "maxCount" => Field::Count,
            _ => force(key),
        },
        Ctx::Execute => match key {
            "workflows" => Field::List(Ctx::ExecuteWorkflow),
            _ => force(key),
        },
        Ctx::ExecuteWorkflow => match key {
            "count" | "maxCount" => Field::Count,
            _ => force(key),
        },
        Ctx::Retry => match key {
            "until" => Field::Expr,
            _ => Field::Skip,
        },
        Ctx::Job => match key {
            "namespace" => Field::Skip,
            _ => force(key),
        },
        Ctx::Ref => match key {
            "config" => Field::In(Ctx::Force),
            _ => Field::Skip,
        },
        Ctx::Force => force(key),
    }
}

/// Rewrites every expression-bearing string of a workflow or template `spec` (its JSON form),
/// reporting problems with their field paths under `path`.
pub fn spec(value: &mut Value, path: &str, rewriter: &mut dyn Rewriter) -> Vec<WalkError> {
    let mut walker = Walker {
        rewriter,
        errors: Vec::new(),
    };
    walker.visit(value, Ctx::Spec, path, "");
    walker.errors
}

struct Walker<'r> {
    rewriter: &'r mut dyn Rewriter,
    errors: Vec<WalkError>,
}

impl Walker<'_> {
    fn fail(&mut self, path: &str, message: String) {
        self.errors.push(WalkError {
            path: path.to_owned(),
            message,
        });
    }

    /// Visits `value`, found under field `key`, in context `ctx`.
    fn visit(&mut self, value: &mut Value, ctx: Ctx, path: &str, key: &str) {
        match value {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    let child = crate::paths::key(path, k);
                    self.visit_field(v, field(ctx, k), &child, k);
                }
            }
            Value::Array(items) if ctx == Ctx::Force && (key == "command" || key == "args") => {
                self.visit_args(items, path);
            }
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    self.visit(item, ctx, &crate::paths::index(path, i), key);
                }
            }
            Value::String(text) if ctx == Ctx::Force => match self.rewriter.template(text) {
                Ok(Some(new)) => *text = new,
                Ok(None) => {}
                Err(message) => self.fail(path, message),
            },
            _ => {}
        }
    }

    fn visit_field(&mut self, value: &mut Value, field: Field, path: &str, key: &str) {
        match field {
            Field::Skip => {}
            Field::Expr | Field::Count => {
                if let Value::String(text) = value {
                    match self.rewriter.expression(text) {
                        Ok(Some(new)) => match new.parse::<i64>() {
                            Ok(n) if matches!(field, Field::Count) => *value = Value::from(n),
                            _ => *text = new,
                        },
                        Ok(None) => {}
                        Err(message) => self.fail(path, message),
                    }
                }
            }
            Field::In(ctx) => self.visit(value, ctx, path, key),
            Field::List(ctx) => {
                if let Value::Array(items) = value {
                    for (i, item) in items.iter_mut().enumerate() {
                        self.visit(item, ctx, &crate::paths::index(path, i), key);
                    }
                }
            }
            Field::Keyed(ctx) => match value {
                Value::Object(map) => self.visit_keyed(map, ctx, path),
                // The same name is a list elsewhere (`content.tarball`, where `execute`'s
                // `tarball` is a map): its items are visited as any others.
                other => self.visit(other, ctx, path, key),
            },
        }
    }

    fn visit_keyed(&mut self, map: &mut Map<String, Value>, ctx: Ctx, path: &str) {
        let entries = std::mem::take(map);
        for (k, mut v) in entries {
            let child = crate::paths::key(path, &k);
            let new_key = match self.rewriter.template(&k) {
                Ok(new) => new.unwrap_or(k),
                Err(message) => {
                    self.fail(&child, message);
                    k
                }
            };
            self.visit(&mut v, ctx, &child, "");
            map.insert(new_key, v);
        }
    }

    fn visit_args(&mut self, items: &mut Vec<Value>, path: &str) {
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in std::mem::take(items).into_iter().enumerate() {
            let Value::String(text) = &item else {
                out.push(item);
                continue;
            };
            match self.rewriter.list_item(text) {
                Ok(Some(parts)) => out.extend(parts.into_iter().map(Value::String)),
                Ok(None) => out.push(item),
                Err(message) => {
                    self.fail(&crate::paths::index(path, i), message);
                    out.push(item);
                }
            }
        }
        *items = out;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Marks what it saw: templates get `T(..)`, expressions `E(..)`, list items split on `|`.
    struct Marker;

    impl Rewriter for Marker {
        fn template(&mut self, text: &str) -> Result<Option<String>, String> {
            if text == "bad" {
                return Err("bad template".into());
            }
            Ok(Some(format!("T({text})")))
        }
        fn expression(&mut self, text: &str) -> Result<Option<String>, String> {
            Ok(Some(format!("E({text})")))
        }
        fn list_item(&mut self, text: &str) -> Result<Option<Vec<String>>, String> {
            Ok(Some(text.split('|').map(|s| format!("L({s})")).collect()))
        }
    }

    #[test]
    fn content_tarball_urls_are_templates_like_execute_tarball_names() {
        let mut spec_value = json!({
            "content": {"tarball": [{"url": "u", "path": "p"}]},
            "steps": [{"execute": {"workflows": [{"name": "w", "tarball": {"t": {"from": "f"}}}]}}]
        });
        let errors = spec(&mut spec_value, "spec", &mut Marker);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(spec_value["content"]["tarball"][0]["url"], "T(u)");
        assert_eq!(spec_value["content"]["tarball"][0]["path"], "T(p)");
        let tarball = &spec_value["steps"][0]["execute"]["workflows"][0]["tarball"];
        assert_eq!(tarball["T(t)"]["from"], "T(f)");
    }

    #[test]
    fn follows_the_expr_tags() {
        let mut spec_value = json!({
            "config": {"x": {"default": "keep"}},
            "events": [{"cronjob": {"cron": "keep"}}],
            "job": {"namespace": "keep", "labels": {"k": "v"}},
            "use": [{"name": "keep", "config": {"a": "v"}}],
            "services": {"db": {"image": "i", "logs": "l", "count": "c", "use": [{"name": "keep"}]}},
            "steps": [{
                "id": "keep", "delay": "keep", "name": "n", "condition": "c",
                "retry": {"count": 2, "until": "u"},
                "template": {"name": "keep", "config": {"b": "v"}},
                "run": {"command": ["a|b"], "args": ["c"], "image": "i"},
                "parallel": {"logs": "l", "count": "c", "shell": "s", "config": {"y": {}},
                             "matrix": {"m": ["x"]}, "steps": [{"condition": "c2"}]},
                "execute": {"workflows": [{"name": "w", "count": "c"}]}
            }]
        });
        let errors = spec(&mut spec_value, "spec", &mut Marker);
        assert!(errors.is_empty());
        let expected = json!({
            "config": {"x": {"default": "keep"}},
            "events": [{"cronjob": {"cron": "keep"}}],
            "job": {"namespace": "keep", "labels": {"T(k)": "T(v)"}},
            "use": [{"name": "keep", "config": {"a": "T(v)"}}],
            "services": {"T(db)": {"image": "T(i)", "logs": "E(l)", "count": "E(c)", "use": [{"name": "keep"}]}},
            "steps": [{
                "id": "keep", "delay": "keep", "name": "T(n)", "condition": "E(c)",
                "retry": {"count": 2, "until": "E(u)"},
                "template": {"name": "keep", "config": {"b": "T(v)"}},
                "run": {"command": ["L(a)", "L(b)"], "args": ["L(c)"], "image": "T(i)"},
                "parallel": {"logs": "E(l)", "count": "E(c)", "shell": "T(s)", "config": {"y": {}},
                             "matrix": {"T(m)": ["T(x)"]}, "steps": [{"condition": "E(c2)"}]},
                "execute": {"workflows": [{"name": "T(w)", "count": "E(c)"}]}
            }]
        });
        assert_eq!(spec_value, expected);
    }

    #[test]
    fn reports_errors_with_paths() {
        let mut v = json!({"steps": [{"shell": "ok"}, {"shell": "bad"}]});
        let errors = spec(&mut v, "spec", &mut Marker);
        assert_eq!(
            errors,
            vec![WalkError {
                path: "spec.steps[1].shell".into(),
                message: "bad template".into()
            }]
        );
    }
}
