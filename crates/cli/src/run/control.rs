//! `testwerk pause|resume|abort <id>` for a run on this machine (no `--server`): through the
//! run's control file (`testwerk_local::control`), found from the store.

use std::path::Path;
use std::time::{Duration, Instant};

use testwerk_local::control::{ControlFile, PAUSE, RESUME};
use testwerk_store::{ExecutionStatus, Store};

/// What to do to a running execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Pause,
    Resume,
    Abort,
}

/// How long `abort` waits for the run to record its end.
const ABORT_WAIT: Duration = Duration::from_secs(30);

/// Does `action` to the local execution `id`; returns its name.
pub fn control(store: Option<&Path>, id: &str, action: Action) -> Result<String, String> {
    let store = match store {
        Some(p) => Store::open(p),
        None => Store::open_default(),
    }
    .map_err(|e| format!("results store: {e}"))?;
    // A runner that died is settled first: its pid may belong to someone else by now.
    store
        .recover_abandoned()
        .map_err(|e| format!("results store: {e}"))?;
    let detail = store
        .execution(id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no execution `{id}`; list them with `testwerk executions`"))?;
    let execution = detail.execution;
    if execution.status.is_final() {
        return Err(format!(
            "{} is over ({}); only a running execution can be controlled",
            execution.name,
            execution.status.as_str()
        ));
    }
    let file = ControlFile::read(&super::run_dir(&store, &execution.name))?;
    let runner_matches = execution.runner.pid == file.pid
        && execution.runner.hostname == testwerk_store::RunnerIdentity::current().hostname;
    if file.execution != execution.id || !runner_matches {
        return Err(format!(
            "the control file of {} belongs to another run; is it running on this machine? (for an agent's execution, add --server)",
            execution.name
        ));
    }
    match action {
        Action::Pause => file.send(PAUSE)?,
        Action::Resume => file.send(RESUME)?,
        Action::Abort => {
            file.abort()?;
            let started = Instant::now();
            loop {
                let status = store
                    .execution(&execution.id)
                    .ok()
                    .flatten()
                    .map(|d| d.execution.status);
                if status.is_some_and(ExecutionStatus::is_final) {
                    break;
                }
                if started.elapsed() > ABORT_WAIT {
                    return Err(format!(
                        "{} was asked to abort but has not ended after {} s",
                        execution.name,
                        ABORT_WAIT.as_secs()
                    ));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    Ok(execution.name)
}
