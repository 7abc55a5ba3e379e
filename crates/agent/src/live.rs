//! [`Live`]: an execution the agent is following now — its updates for anyone watching, and
//! the switches (abort) a user can flip.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use testwerk_plan::SignatureNode;
use testwerk_results::Update;
use testwerk_store::ExecutionStatus;
use tokio::sync::{broadcast, watch};

/// How many updates a late watcher is replayed; beyond this only step results are kept, so a
/// workflow printing gigabytes does not hold them in the agent's memory.
const HISTORY_LOG_LINES: usize = 2_000;

/// The TestWorkflowExecution object an execution was started from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerCr {
    pub name: String,
    pub uid: String,
}

/// How an execution ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub status: ExecutionStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

pub struct Live {
    /// The store's id, the execution's name (`<workflow>-<n>`) and its resource id.
    pub id: String,
    pub name: String,
    pub resource: String,
    pub signature: Vec<SignatureNode>,
    pub full_signature: Vec<SignatureNode>,
    pub owner: Option<OwnerCr>,
    /// The execution's protocol token: `init`'s control endpoint wants it before a command.
    control_token: String,
    aborted: AtomicBool,
    updates: broadcast::Sender<Published>,
    history: Mutex<History>,
    outcome: watch::Sender<Option<Outcome>>,
    /// Set when the agent stops following without an outcome (the store refused its
    /// results): watchers end their stream so clients come back to the next follower.
    detached: watch::Sender<bool>,
}

/// An update as watchers get it: a log line carries its number in the execution's log.
///
/// The monitor publishes every line from the start of the containers' logs, also when it
/// follows again after a restart, so line `n` here is line `n` in the store (whose
/// `seq` starts at 0): a client that lost the stream resumes from the number it has shown.
#[derive(Clone, Debug, PartialEq)]
pub struct Published {
    pub log: Option<u64>,
    pub update: Update,
}

#[derive(Default)]
struct History {
    updates: Vec<Published>,
    log_lines: usize,
    /// The number the next log line gets.
    next_log: u64,
}

impl Live {
    pub fn control_token(&self) -> &str {
        &self.control_token
    }

    pub fn new(
        id: String,
        name: String,
        resource: String,
        signature: Vec<SignatureNode>,
        full_signature: Vec<SignatureNode>,
        owner: Option<OwnerCr>,
        control_token: String,
    ) -> Live {
        Live {
            id,
            name,
            resource,
            signature,
            full_signature,
            owner,
            control_token,
            aborted: AtomicBool::new(false),
            updates: broadcast::channel(4096).0,
            history: Mutex::default(),
            outcome: watch::channel(None).0,
            detached: watch::channel(false).0,
        }
    }

    pub fn publish(&self, update: &Update) {
        if let Ok(mut h) = self.history.lock() {
            let is_log = matches!(update, Update::Log { .. });
            let published = Published {
                log: is_log.then_some(h.next_log),
                update: update.clone(),
            };
            h.next_log += u64::from(is_log);
            if !is_log || h.log_lines < HISTORY_LOG_LINES {
                h.log_lines += usize::from(is_log);
                h.updates.push(published.clone());
            }
            // Sent under the lock, so a new watcher sees each update once: in the history
            // or on the channel. Nobody watching is not an error.
            self.updates.send(published).ok();
        }
    }

    /// What happened so far (log lines beyond the first [`HISTORY_LOG_LINES`] are in the
    /// store only), and a receiver for what follows.
    pub fn subscribe(&self) -> (Vec<Published>, broadcast::Receiver<Published>) {
        match self.history.lock() {
            Ok(h) => (h.updates.clone(), self.updates.subscribe()),
            Err(_) => (Vec::new(), self.updates.subscribe()),
        }
    }

    pub fn request_abort(&self) {
        self.aborted.store(true, Ordering::SeqCst);
    }

    pub fn abort_requested(&self) -> bool {
        self.aborted.load(Ordering::SeqCst)
    }

    pub fn finish(&self, outcome: Outcome) {
        self.outcome.send_replace(Some(outcome));
    }

    pub fn outcome(&self) -> watch::Receiver<Option<Outcome>> {
        self.outcome.subscribe()
    }

    /// The agent stopped following this execution without an outcome; it is followed again
    /// by a new [`Live`] later.
    pub fn detach(&self) {
        self.detached.send_replace(true);
    }

    pub fn detached(&self) -> watch::Receiver<bool> {
        self.detached.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(text: &str) -> Update {
        Update::Log {
            r#ref: None,
            line: text.into(),
        }
    }

    #[test]
    fn log_lines_are_numbered_as_in_the_store_and_the_history_is_bounded() {
        let live = Live::new(
            "id".into(),
            "n".into(),
            "r".into(),
            vec![],
            vec![],
            None,
            "t".into(),
        );
        live.publish(&Update::Started("r1".into()));
        for n in 0..HISTORY_LOG_LINES + 10 {
            live.publish(&log(&n.to_string()));
        }
        let (history, mut rx) = live.subscribe();
        assert_eq!(history[0].log, None);
        assert_eq!(history[1].log, Some(0));
        assert_eq!(history.len(), 1 + HISTORY_LOG_LINES);
        assert_eq!(
            history.last().and_then(|p| p.log),
            Some(HISTORY_LOG_LINES as u64 - 1)
        );
        live.publish(&log("next"));
        let next = rx.try_recv().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(next.log, Some(HISTORY_LOG_LINES as u64 + 10));
    }
}
