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
    updates: broadcast::Sender<Update>,
    history: Mutex<History>,
    outcome: watch::Sender<Option<Outcome>>,
}

#[derive(Default)]
struct History {
    updates: Vec<Update>,
    log_lines: usize,
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
        }
    }

    pub fn publish(&self, update: &Update) {
        if let Ok(mut h) = self.history.lock() {
            let is_log = matches!(update, Update::Log { .. });
            if !is_log || h.log_lines < HISTORY_LOG_LINES {
                h.log_lines += usize::from(is_log);
                h.updates.push(update.clone());
            }
            // Sent under the lock, so a new watcher sees each update once: in the history
            // or on the channel.
            let _ = self.updates.send(update.clone());
        }
    }

    /// What happened so far, and a receiver for what follows.
    pub fn subscribe(&self) -> (Vec<Update>, broadcast::Receiver<Update>) {
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
}
