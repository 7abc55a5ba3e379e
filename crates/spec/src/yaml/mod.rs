//! YAML text → JSON values, remembering where every key and sequence item was written.
//!
//! Reads YAML 1.2 with the core schema (so `on`, `yes` and `no` stay strings), resolves anchors,
//! aliases and `<<` merge keys, and rejects duplicate keys — which most YAML readers silently
//! resolve by keeping one of the two values, hiding a mistake.

mod build;
mod emit;
mod scalar;

pub use emit::to_yaml;

use serde_json::{Map, Value};

use crate::locate::LocationIndex;
use crate::{Diagnostic, Location, path};
use build::{Node, NodeKind};

/// Nesting deeper than this is refused: no workflow needs it, and it would exhaust the stack.
const MAX_DEPTH: usize = 200;
/// Values produced per document, aliases expanded: a guard against "billion laughs" input
/// (the largest corpus workflow has a few thousand).
const MAX_NODES: usize = 250_000;

/// One document of a YAML stream, as a JSON value plus the positions of its fields.
#[derive(Debug)]
pub(crate) struct RawDocument {
    pub value: Value,
    pub locations: LocationIndex,
    /// Where the document's content starts.
    pub start: Location,
}

/// Parses every document of `text`. Empty documents are dropped. A syntax error ends the stream;
/// documents completed before it are still returned, along with every problem found.
pub(crate) fn parse(file: &str, text: &str) -> (Vec<RawDocument>, Vec<Diagnostic>) {
    let text = match crate::text::checked(file, text) {
        Ok(text) => text,
        Err(found) => return (Vec::new(), found),
    };
    let (nodes, mut errors) = build::documents(file, text);
    let mut documents = Vec::new();
    for node in nodes {
        if matches!(
            node.kind,
            NodeKind::Scalar {
                value: Value::Null,
                ..
            }
        ) {
            continue;
        }
        let mut converter = Converter {
            file,
            locations: LocationIndex::default(),
            errors: Vec::new(),
            budget: MAX_NODES,
        };
        converter.locations.insert(String::new(), node.mark);
        let value = converter.convert(&node, "", 0);
        errors.append(&mut converter.errors);
        documents.push(RawDocument {
            value,
            locations: converter.locations,
            start: node.mark,
        });
    }
    errors.dedup_by(|a, b| a == b);
    (documents, errors)
}

/// Parses a YAML stream into plain values, without locations: for tests and tools that need a
/// YAML reader with the same rules as the loader.
pub fn parse_values(text: &str) -> Result<Vec<Value>, Vec<Diagnostic>> {
    let (documents, errors) = parse("<input>", text);
    if errors.is_empty() {
        Ok(documents.into_iter().map(|d| d.value).collect())
    } else {
        Err(errors)
    }
}

struct Converter<'a> {
    file: &'a str,
    locations: LocationIndex,
    errors: Vec<Diagnostic>,
    budget: usize,
}

impl Converter<'_> {
    fn error(&mut self, location: Location, path: &str, message: String) -> &mut Diagnostic {
        self.errors.push(Diagnostic {
            file: self.file.to_owned(),
            location: Some(location),
            path: path.to_owned(),
            message,
            expected: None,
            suggestion: None,
        });
        let last = self.errors.len() - 1;
        &mut self.errors[last]
    }

    fn convert(&mut self, node: &Node, at: &str, depth: usize) -> Value {
        if depth > MAX_DEPTH {
            self.error(
                node.mark,
                at,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            );
            return Value::Null;
        }
        if self.budget == 0 {
            return Value::Null;
        }
        self.budget -= 1;
        if self.budget == 0 {
            self.error(
                node.mark,
                at,
                "the document expands to too many values (aliases nested too deeply?)".into(),
            );
            return Value::Null;
        }
        match &node.kind {
            NodeKind::Scalar { value, .. } => value.clone(),
            NodeKind::Seq(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let p = path::index(at, i);
                        self.locations.insert(p.clone(), item.mark);
                        self.convert(item, &p, depth + 1)
                    })
                    .collect(),
            ),
            NodeKind::Map(_) => {
                let mut object = Map::new();
                self.convert_map(node, at, depth, &mut object);
                Value::Object(object)
            }
        }
    }

    /// Fills `object` with the entries of a mapping: explicit keys first, then those merged in
    /// with `<<` (explicit keys win, and among merged mappings the first one listed wins).
    fn convert_map(
        &mut self,
        node: &Node,
        at: &str,
        depth: usize,
        object: &mut Map<String, Value>,
    ) {
        let NodeKind::Map(entries) = &node.kind else {
            return;
        };
        let mut first_seen: std::collections::HashMap<&str, Location> = Default::default();
        for entry in entries.iter().filter(|e| !e.merge) {
            let p = path::key(at, &entry.key);
            if let Some(first) = first_seen.get(entry.key.as_str()) {
                let message = format!("duplicate key `{}`", entry.key);
                let help = format!(
                    "it was already set at line {}; remove one of them",
                    first.line
                );
                self.error(entry.key_mark, &p, message).suggestion = Some(help);
                continue;
            }
            first_seen.insert(&entry.key, entry.key_mark);
            self.locations.insert(p.clone(), entry.key_mark);
            let value = self.convert(&entry.value, &p, depth + 1);
            // Kubernetes drops null fields before validating; so do we, so that `steps:` with
            // nothing after it means "no steps" rather than a type error.
            if !value.is_null() {
                object.insert(entry.key.clone(), value);
            }
        }
        for entry in entries.iter().filter(|e| e.merge) {
            let sources: Vec<&Node> = match &entry.value.kind {
                NodeKind::Map(_) => vec![&entry.value],
                NodeKind::Seq(items)
                    if items.iter().all(|i| matches!(i.kind, NodeKind::Map(_))) =>
                {
                    items.iter().map(|i| &**i).collect()
                }
                _ => {
                    let message = "`<<` must be given a mapping or a list of mappings".into();
                    self.error(entry.key_mark, at, message);
                    continue;
                }
            };
            for source in sources {
                let mut merged = Map::new();
                self.convert_map(source, at, depth + 1, &mut merged);
                for (k, v) in merged {
                    object.entry(k).or_insert(v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
