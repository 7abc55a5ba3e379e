//! Turns the parser's event stream into a tree of nodes carrying their positions.
//!
//! Aliases share the anchored node (`Rc`), so repeated aliases cost nothing here; the converter
//! bounds the expanded size.

use std::collections::HashMap;
use std::rc::Rc;

use serde_json::Value;
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::{MAX_DEPTH, scalar};
use crate::{Diagnostic, Location};

#[derive(Debug)]
pub(super) struct Node {
    pub mark: Location,
    pub kind: NodeKind,
}

#[derive(Debug)]
pub(super) enum NodeKind {
    Scalar { value: Value, text: String },
    Seq(Vec<Rc<Node>>),
    Map(Vec<Entry>),
}

#[derive(Debug)]
pub(super) struct Entry {
    pub key: String,
    pub key_mark: Location,
    /// A plain `<<` key: merge the value's entries into this mapping.
    pub merge: bool,
    pub value: Rc<Node>,
}

enum Frame {
    Seq {
        mark: Location,
        anchor: usize,
        items: Vec<Rc<Node>>,
    },
    Map {
        mark: Location,
        anchor: usize,
        entries: Vec<Entry>,
        /// The key read, waiting for its value; `None` inside means the key was unusable.
        key: Option<Option<(String, Location, bool)>>,
    },
}

fn location(mark: Marker) -> Location {
    // yaml-rust2 counts lines from 1 and columns from 0.
    Location {
        line: mark.line().max(1),
        column: mark.col() + 1,
    }
}

/// A problem that ends reading the stream: where, and what.
struct Fatal(Location, String);

struct Builder<'a> {
    file: &'a str,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Rc<Node>>,
    documents: Vec<Rc<Node>>,
    errors: Vec<Diagnostic>,
}

/// Every document of `text` as a node tree, and the problems met (a syntax error stops reading).
pub(super) fn documents(file: &str, text: &str) -> (Vec<Rc<Node>>, Vec<Diagnostic>) {
    let mut builder = Builder {
        file,
        stack: Vec::new(),
        anchors: HashMap::new(),
        documents: Vec::new(),
        errors: Vec::new(),
    };
    // The parser is not ours; should it ever panic on odd input, report that instead of
    // taking the caller down.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut parser = Parser::new_from_str(text);
        loop {
            match parser.next_token() {
                Ok((Event::StreamEnd, _)) => return Ok(()),
                Ok((event, mark)) => builder.on_event(event, location(mark))?,
                Err(e) => {
                    let message = format!("not valid YAML: {}", e.info());
                    return Err(Fatal(location(*e.marker()), message));
                }
            }
        }
    }));
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(Fatal(mark, message))) => {
            let diagnostic = builder.diagnostic(mark, message);
            builder.errors.push(diagnostic);
        }
        Err(_) => builder
            .errors
            .push(Diagnostic::file(file, "not valid YAML: the parser failed")),
    }
    (builder.documents, builder.errors)
}

impl Builder<'_> {
    fn diagnostic(&self, location: Location, message: String) -> Diagnostic {
        Diagnostic {
            file: self.file.to_owned(),
            location: Some(location),
            path: String::new(),
            message,
            expected: None,
            suggestion: None,
        }
    }

    /// Handles one event; an `Err` is fatal for the rest of the stream.
    fn on_event(&mut self, event: Event, mark: Location) -> Result<(), Fatal> {
        match event {
            Event::DocumentStart => {
                self.stack.clear();
                self.anchors.clear();
            }
            Event::Scalar(text, style, anchor, tag) => {
                let value = resolve(&text, style, tag.as_ref());
                let node = Rc::new(Node {
                    mark,
                    kind: NodeKind::Scalar { value, text },
                });
                self.complete(node, anchor, style == TScalarStyle::Plain);
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(node) => {
                    let node = Rc::clone(node);
                    self.complete(node, 0, false);
                }
                // The parser knows the anchor but its node is not finished: it contains
                // its own alias, which would make an infinite value.
                None => {
                    let message = "an alias cannot be used inside the node it names".into();
                    return Err(Fatal(mark, message));
                }
            },
            Event::SequenceStart(anchor, _) => {
                self.open(mark)?;
                self.stack.push(Frame::Seq {
                    mark,
                    anchor,
                    items: Vec::new(),
                });
            }
            Event::MappingStart(anchor, _) => {
                self.open(mark)?;
                self.stack.push(Frame::Map {
                    mark,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq {
                    mark,
                    anchor,
                    items,
                }) => {
                    let node = Rc::new(Node {
                        mark,
                        kind: NodeKind::Seq(items),
                    });
                    self.complete(node, anchor, false);
                }
                Some(Frame::Map {
                    mark,
                    anchor,
                    entries,
                    ..
                }) => {
                    // The parser marks a block mapping after its first key; the first key is
                    // where a reader sees it start.
                    let mark = entries.first().map_or(mark, |e| mark.min(e.key_mark));
                    let node = Rc::new(Node {
                        mark,
                        kind: NodeKind::Map(entries),
                    });
                    self.complete(node, anchor, false);
                }
                None => return Err(Fatal(mark, "unbalanced collection end".into())),
            },
            Event::StreamStart | Event::DocumentEnd | Event::StreamEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn open(&self, mark: Location) -> Result<(), Fatal> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Fatal(
                mark,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    /// Places a finished node: as a document, a sequence item, a mapping key or a value.
    fn complete(&mut self, node: Rc<Node>, anchor: usize, plain: bool) {
        if anchor != 0 {
            self.anchors.insert(anchor, Rc::clone(&node));
        }
        let error = match self.stack.last_mut() {
            None => {
                self.documents.push(node);
                None
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                None
            }
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                Some(Some((key, key_mark, merge))) => {
                    entries.push(Entry {
                        key,
                        key_mark,
                        merge,
                        value: node,
                    });
                    None
                }
                // The key was unusable and already reported: drop its value.
                Some(None) => None,
                None => match &node.kind {
                    NodeKind::Scalar { text, .. } => {
                        let merge = plain && text == "<<";
                        *key = Some(Some((text.clone(), node.mark, merge)));
                        None
                    }
                    _ => {
                        *key = Some(None);
                        Some(node.mark)
                    }
                },
            },
        };
        if let Some(mark) = error {
            let message = "a mapping key must be a plain value, not a list or a mapping".into();
            let diagnostic = self.diagnostic(mark, message);
            self.errors.push(diagnostic);
        }
    }
}

/// The JSON value of a scalar: quoted and block scalars are strings; plain ones follow the
/// YAML 1.2 core schema. An explicit `!!str` tag keeps the text.
fn resolve(text: &str, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(tag) = tag
        && (tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!")
        && tag.suffix == "str"
    {
        return Value::String(text.to_owned());
    }
    if style != TScalarStyle::Plain {
        return Value::String(text.to_owned());
    }
    scalar::resolve_plain(text)
}
