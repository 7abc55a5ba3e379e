//! Turns what a container prints into step results: protocol events decide which step is
//! running, and every ordinary line belongs to the innermost running step.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use testwerk_plan::SignatureNode;
use testwerk_protocol::line::{Event, Item, Parser, StepStatus};

/// One step as the person running the workflow sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepView {
    pub r#ref: String,
    pub name: String,
    /// The group it belongs to; `None` at the top.
    #[serde(default)]
    pub parent: Option<String>,
    /// Nesting depth in the step tree (0 for top-level steps).
    pub depth: usize,
    /// Named groups and top-level steps are shown; unnamed helper groups are not.
    pub shown: bool,
    pub is_group: bool,
    /// `optional: true`: its failure is shown as ignored.
    #[serde(default)]
    pub optional: bool,
    /// `negative: true`: it passes when its command fails.
    #[serde(default)]
    pub negative: bool,
    /// Its failure alone does not fail the execution: it or a group around it is optional, or
    /// a group around it is negative (that group's own result counts).
    #[serde(default)]
    pub tolerated: bool,
    pub status: Option<StepStatus>,
    pub code: Option<i32>,
    pub ms: Option<u64>,
    pub started: bool,
}

/// What changed, for the view and the store (and, as JSON, for a remote view).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "lowercase")]
pub enum Update {
    Started(String),
    Log {
        r#ref: Option<String>,
        line: String,
    },
    Finished {
        r#ref: String,
        status: StepStatus,
        code: i32,
        ms: u64,
        /// Why it ended this way, when the step itself could not say (it was killed, its
        /// container never started, the execution was aborted).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    Output {
        r#ref: String,
        name: String,
        value: serde_json::Value,
    },
    Retry {
        r#ref: String,
        attempt: u32,
        of: u32,
    },
    /// The step's processes were suspended (a user paused the execution).
    Paused(String),
    /// They run again.
    Resumed(String),
    Warning {
        message: String,
    },
}

pub struct Tracker {
    pub steps: BTreeMap<String, StepView>,
    /// Children of each group, in order.
    pub children: BTreeMap<String, Vec<String>>,
    /// Refs in tree order, for the summary.
    pub order: Vec<String>,
    running: Vec<String>,
    parser: Parser,
    token: String,
    forged: usize,
    pub root: Option<(StepStatus, u64)>,
    /// Each shown leaf's 1-based position among the shown leaves (the `n` of `n/m` in the live
    /// view), fixed with the tree, so announcing a step costs the same at step 10,000 as at 1.
    positions: HashMap<String, usize>,
}

impl Tracker {
    pub fn new(signature: &[SignatureNode], shown: &[SignatureNode], token: &str) -> Tracker {
        let mut t = Tracker {
            steps: BTreeMap::new(),
            children: BTreeMap::new(),
            order: Vec::new(),
            running: Vec::new(),
            parser: Parser::new(token),
            token: token.to_owned(),
            forged: 0,
            root: None,
            positions: HashMap::new(),
        };
        let mut visible = Vec::new();
        collect_refs(shown, &mut visible);
        let visible: HashSet<String> = visible.into_iter().collect();
        t.add(signature, None, 0, false, &visible);
        let leaves = t
            .order
            .iter()
            .filter(|r| t.steps.get(*r).is_some_and(|s| s.shown && !s.is_group));
        t.positions = leaves
            .enumerate()
            .map(|(i, r)| (r.clone(), i + 1))
            .collect();
        t
    }

    /// How many steps a person sees counted (shown leaves).
    pub fn shown_count(&self) -> usize {
        self.positions.len()
    }

    /// The 1-based position of shown leaf `r` among [`Tracker::shown_count`] of them.
    pub fn shown_position(&self, r: &str) -> Option<usize> {
        self.positions.get(r).copied()
    }

    fn add(
        &mut self,
        nodes: &[SignatureNode],
        parent: Option<&str>,
        depth: usize,
        lenient: bool,
        visible: &HashSet<String>,
    ) {
        for n in nodes {
            let name = n
                .name
                .clone()
                .or_else(|| n.category.clone())
                .unwrap_or_else(|| n.r#ref.clone());
            self.order.push(n.r#ref.clone());
            self.children.insert(
                n.r#ref.clone(),
                n.children.iter().map(|c| c.r#ref.clone()).collect(),
            );
            self.steps.insert(
                n.r#ref.clone(),
                StepView {
                    r#ref: n.r#ref.clone(),
                    name,
                    parent: parent.map(str::to_owned),
                    depth,
                    shown: visible.contains(&n.r#ref),
                    is_group: !n.children.is_empty(),
                    optional: n.optional,
                    negative: n.negative,
                    tolerated: lenient || n.optional,
                    status: None,
                    code: None,
                    ms: None,
                    started: false,
                },
            );
            let child_depth = if visible.contains(&n.r#ref) {
                depth + 1
            } else {
                depth
            };
            self.add(
                &n.children,
                Some(&n.r#ref),
                child_depth,
                lenient || n.optional || n.negative,
                visible,
            );
        }
    }

    /// A new container starts: its output is a new stream.
    pub fn next_container(&mut self) {
        self.parser = Parser::new(&self.token);
    }

    /// Feeds bytes of a container's stdout.
    pub fn feed(&mut self, bytes: &[u8], out: &mut dyn FnMut(Update)) {
        let mut items = Vec::new();
        self.parser.push(bytes, |i| items.push(i));
        for item in items {
            self.item(item, out);
        }
    }

    /// The container's stream ended.
    pub fn finish(&mut self, out: &mut dyn FnMut(Update)) {
        let mut items = Vec::new();
        self.parser.finish(|i| items.push(i));
        for item in items {
            self.item(item, out);
        }
    }

    fn current(&self) -> Option<String> {
        self.running.last().cloned()
    }

    fn item(&mut self, item: Item, out: &mut dyn FnMut(Update)) {
        match item {
            Item::Log(bytes) | Item::LogPart(bytes) => {
                let line = String::from_utf8_lossy(&bytes)
                    .trim_end_matches(['\n', '\r'])
                    .to_owned();
                out(Update::Log {
                    r#ref: self.current(),
                    line,
                });
            }
            Item::Forged(bytes) => {
                self.forged += 1;
                let line = String::from_utf8_lossy(&bytes)
                    .trim_end_matches('\n')
                    .replace('\u{1e}', "\\x1e");
                out(Update::Log {
                    r#ref: self.current(),
                    line,
                });
                if self.forged == 1 {
                    out(Update::Warning {
                        message: "a step printed a line that imitates testwerk's protocol; it was treated as ordinary output".into(),
                    });
                }
            }
            Item::Event(event) => self.event(event, out),
        }
    }

    fn event(&mut self, event: Event, out: &mut dyn FnMut(Update)) {
        match event {
            // The same state changes a remote view replays ([`Tracker::apply`]); only known
            // steps are reported (virtual groups are not).
            Event::Start { r#ref } if self.steps.contains_key(&r#ref) => {
                let update = Update::Started(r#ref);
                self.apply(&update);
                out(update);
            }
            Event::End {
                r#ref,
                status,
                code,
                ms,
            } => {
                let known = self.steps.contains_key(&r#ref);
                let update = Update::Finished {
                    r#ref,
                    status,
                    code,
                    ms,
                    message: None,
                };
                self.apply(&update);
                if known {
                    out(update);
                }
            }
            Event::Output { r#ref, name, value } => out(Update::Output { r#ref, name, value }),
            Event::Pause { r#ref, .. } if self.steps.contains_key(&r#ref) => {
                out(Update::Paused(r#ref));
            }
            Event::Resume { r#ref, .. } if self.steps.contains_key(&r#ref) => {
                out(Update::Resumed(r#ref));
            }
            Event::Iteration { r#ref, attempt, of } => out(Update::Retry { r#ref, attempt, of }),
            Event::Setup {
                status, details, ..
            } if !status.is_ok() => {
                out(Update::Warning {
                    message: format!("setup {status}: {}", details.unwrap_or_default()),
                });
            }
            _ => {}
        }
    }

    /// Applies an update that was computed elsewhere (a remote view replays the agent's
    /// updates; it never parses container output itself).
    pub fn apply(&mut self, update: &Update) {
        match update {
            Update::Started(r) => {
                if let Some(s) = self.steps.get_mut(r) {
                    s.started = true;
                    self.running.push(r.clone());
                }
            }
            Update::Finished {
                r#ref,
                status,
                code,
                ms,
                ..
            } => {
                if r#ref == "root" {
                    self.root = Some((*status, *ms));
                }
                self.running.retain(|x| x != r#ref);
                if let Some(s) = self.steps.get_mut(r#ref) {
                    s.status = Some(*status);
                    s.code = Some(*code);
                    s.ms = Some(*ms);
                }
            }
            _ => {}
        }
    }

    /// Marks a step finished from outside the protocol (termination message, healing).
    pub(crate) fn finish_step(
        &mut self,
        r: &str,
        status: StepStatus,
        code: i32,
        message: Option<String>,
        out: &mut dyn FnMut(Update),
    ) {
        let Some(s) = self.steps.get_mut(r) else {
            return;
        };
        if s.status.is_some() {
            return;
        }
        s.status = Some(status);
        s.code = Some(code);
        s.ms.get_or_insert(0);
        self.running.retain(|x| x != r);
        out(Update::Finished {
            r#ref: r.to_owned(),
            status,
            code,
            ms: 0,
            message,
        });
    }

    /// Whether every step has a status.
    pub fn all_finished(&self) -> bool {
        self.steps.values().all(|s| s.status.is_some())
    }

    /// The step that is running now (innermost), if any.
    pub fn running_step(&self) -> Option<&str> {
        self.running.last().map(String::as_str)
    }
}

fn collect_refs(nodes: &[SignatureNode], out: &mut Vec<String>) {
    for n in nodes {
        out.push(n.r#ref.clone());
        collect_refs(&n.children, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use testwerk_protocol::line::encode;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    fn tracker() -> Tracker {
        let sig: Vec<SignatureNode> =
            serde_json::from_value(serde_json::json!([{"ref": "r1", "name": "one"}]))
                .expect("a signature");
        Tracker::new(&sig, &sig, TOKEN)
    }

    fn feed(t: &mut Tracker, events: &[Event], text: &str) -> Vec<Update> {
        let mut bytes = Vec::new();
        for e in events {
            bytes.extend(encode(TOKEN, e));
        }
        bytes.extend(text.as_bytes());
        let mut out = Vec::new();
        t.feed(&bytes, &mut |u| out.push(u));
        out
    }

    #[test]
    fn lines_belong_to_the_running_step_and_pauses_are_reported() {
        let mut t = tracker();
        let at = "2026-01-01T00:00:00Z".to_owned();
        let updates = feed(
            &mut t,
            &[
                Event::Start { r#ref: "r1".into() },
                Event::Pause {
                    r#ref: "r1".into(),
                    at: at.clone(),
                },
                Event::Resume {
                    r#ref: "r1".into(),
                    at,
                },
                Event::Pause {
                    r#ref: "root".into(),
                    at: "x".into(),
                },
            ],
            "hello\n",
        );
        assert_eq!(
            updates,
            vec![
                Update::Started("r1".into()),
                Update::Paused("r1".into()),
                Update::Resumed("r1".into()),
                Update::Log {
                    r#ref: Some("r1".into()),
                    line: "hello".into()
                },
            ]
        );
        assert_eq!(t.running_step(), Some("r1"));
    }

    #[test]
    fn a_remote_view_replays_updates_to_the_same_state() {
        let mut local = tracker();
        let updates = feed(
            &mut local,
            &[
                Event::Start { r#ref: "r1".into() },
                Event::End {
                    r#ref: "r1".into(),
                    status: StepStatus::Failed,
                    code: 2,
                    ms: 5,
                },
                Event::End {
                    r#ref: "root".into(),
                    status: StepStatus::Failed,
                    code: 0,
                    ms: 6,
                },
            ],
            "",
        );
        let mut remote = tracker();
        for u in &updates {
            let json = serde_json::to_string(u).expect("serializable");
            let back: Update = serde_json::from_str(&json).expect("readable");
            remote.apply(&back);
        }
        assert_eq!(remote.steps, local.steps);
        // The root is not a step: a remote view learns the execution's result from its end.
        assert_eq!(local.root, Some((StepStatus::Failed, 6)));
        assert!(remote.all_finished());
    }
}
