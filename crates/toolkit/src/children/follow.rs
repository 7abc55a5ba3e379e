//! Starting children at most `parallelism` at a time and following them to their end: each
//! child's log is shown prefixed by its label, and its status when it changes.

use std::collections::VecDeque;
use std::io::Write;
use std::time::Duration;

use testwerk_protocol::children::ChildState;

use super::backend::Backend;
use crate::ToolkitError;

/// How often running children are asked about.
const POLL: Duration = Duration::from_millis(100);

pub use testwerk_children::Planned;

/// How following goes.
pub struct Options {
    pub parallelism: usize,
    /// Abort the others once one fails.
    pub fail_fast: bool,
    /// Wait for the children (`false`: `execute` with `async`, start them and go on).
    pub wait: bool,
}

/// How one child ended.
#[derive(Debug)]
pub struct Ended {
    pub label: String,
    /// `None`: never started (fail-fast stopped it first).
    pub state: Option<ChildState>,
}

impl Ended {
    pub fn passed(&self) -> bool {
        self.state.as_ref().is_some_and(|s| s.status == "passed")
    }
}

struct Running {
    label: String,
    id: String,
    next_line: u64,
    status: String,
    paused: bool,
}

/// Starts `children` and, unless `!options.wait`, follows them to their end.
pub fn run_all(
    backend: &Backend,
    children: Vec<Planned>,
    options: &Options,
    out: &mut dyn Write,
) -> Result<Vec<Ended>, ToolkitError> {
    let mut queue: VecDeque<Planned> = children.into();
    let mut running: Vec<Running> = Vec::new();
    let mut ended: Vec<Ended> = Vec::new();
    let mut stopping = false;
    let limit = options.parallelism.max(1);
    loop {
        while !stopping && running.len() < limit {
            let Some(child) = queue.pop_front() else {
                break;
            };
            let started = backend.start(&child.request)?;
            say(out, &format!("{}: started ({})", child.label, started.id));
            if options.wait {
                running.push(Running {
                    label: child.label,
                    id: started.id,
                    next_line: 0,
                    status: "queued".into(),
                    paused: false,
                });
            } else {
                ended.push(Ended {
                    label: child.label,
                    state: Some(ChildState {
                        id: started.id,
                        name: None,
                        status: "queued".into(),
                        reason: None,
                        ip: None,
                        started: false,
                        paused: false,
                    }),
                });
            }
        }
        if running.is_empty() && (queue.is_empty() || stopping) {
            break;
        }
        std::thread::sleep(POLL);
        let mut i = 0;
        while i < running.len() {
            let child = &mut running[i];
            let (text, next) = backend.logs(&child.id, child.next_line)?;
            child.next_line = next;
            for line in String::from_utf8_lossy(&text).lines() {
                say(out, &format!("[{}] {line}", child.label));
            }
            let state = backend.state(&child.id)?;
            child.paused = state.paused;
            if state.status != child.status {
                child.status.clone_from(&state.status);
                if !state.is_done() {
                    say(out, &format!("{}: {}", child.label, state.status));
                }
            }
            if !state.is_done() {
                i += 1;
                continue;
            }
            // Lines written just before the end.
            let (text, _) = backend.logs(&child.id, child.next_line)?;
            for line in String::from_utf8_lossy(&text).lines() {
                say(out, &format!("[{}] {line}", child.label));
            }
            let summary = match (&state.name, &state.reason) {
                (Some(name), Some(reason)) => {
                    format!("{} ({name}): {}: {reason}", child.label, state.status)
                }
                (Some(name), None) => format!("{} ({name}): {}", child.label, state.status),
                (None, Some(reason)) => format!("{}: {}: {reason}", child.label, state.status),
                (None, None) => format!("{}: {}", child.label, state.status),
            };
            say(out, &summary);
            let failed = state.status != "passed";
            let done = running.swap_remove(i);
            ended.push(Ended {
                label: done.label,
                state: Some(state),
            });
            if failed && options.fail_fast && !stopping {
                stopping = true;
                say(out, "failFast: aborting the others");
                for other in &running {
                    backend.abort(&other.id)?;
                }
            }
        }
        // Synchronised start: workers that pause at their start (`paused: true`) wait until
        // every running one has, then all go on together.
        if !running.is_empty() && running.iter().all(|c| c.paused) {
            say(
                out,
                &format!(
                    "all {} running worker(s) paused: resuming them together",
                    running.len()
                ),
            );
            for child in &mut running {
                backend.resume(&child.id)?;
                child.paused = false;
            }
        }
    }
    for child in queue {
        say(out, &format!("{}: not started (failFast)", child.label));
        ended.push(Ended {
            label: child.label,
            state: None,
        });
    }
    Ok(ended)
}

fn say(out: &mut dyn Write, line: &str) {
    // The toolkit's stdout is the step's log; a write that fails there fails everything else
    // too, and init reports that.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
