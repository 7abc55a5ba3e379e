//! Closing the executions of runners that died.

use std::collections::HashMap;

use crate::error::StoreError;
use crate::model::StepStatus;
use crate::runner::{Liveness, RunnerIdentity};
use crate::store::{Store, to_i64};
use crate::time::Timestamp;

impl Store {
    /// Aborts the executions whose runner is gone, and returns their ids.
    ///
    /// An execution is abandoned when it is `queued` or `running` and its runner ran on this
    /// host but its process no longer exists (or its pid now belongs to a process that started
    /// later). Such an execution becomes `aborted` with the reason
    /// `runner <host>:<pid> stopped before the execution finished`; its running and paused
    /// steps become `aborted` and its queued steps `skipped`.
    ///
    /// Executions whose runner is alive, or ran on another host, are left alone.
    pub fn recover_abandoned(&self) -> Result<Vec<String>, StoreError> {
        let active: Vec<(i64, String, RunnerIdentity)> = self.read(|tx| {
            tx.query(
                "SELECT pk, id, runner_host, runner_pid, runner_start FROM executions
                 WHERE status IN ('queued', 'running') ORDER BY pk",
                &[],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        RunnerIdentity {
                            hostname: r.get(2)?,
                            pid: r.get(3)?,
                            process_start: r.get(4)?,
                        },
                    ))
                },
            )
        })?;
        let mut liveness: HashMap<RunnerIdentity, Liveness> = HashMap::new();
        let mut recovered = Vec::new();
        for (pk, id, runner) in active {
            let state = *liveness
                .entry(runner.clone())
                .or_insert_with(|| runner.liveness());
            if state != Liveness::Gone {
                continue;
            }
            let reason = format!("runner {runner} stopped before the execution finished");
            let now = Timestamp::now();
            let aborted = self.write(|tx| {
                // The status is checked again: the runner may have finished it meanwhile.
                let changed = tx.execute(
                    "UPDATE executions SET status = 'aborted', reason = ?2,
                         finished_at = coalesce(finished_at, ?3)
                     WHERE pk = ?1 AND status IN ('queued', 'running')",
                    &[pk.into(), (&reason).into(), now.to_string().into()],
                )?;
                if changed == 0 {
                    return Ok(false);
                }
                let open: Vec<(String, StepStatus, Option<Timestamp>, Option<Timestamp>)> = tx
                    .query(
                        "SELECT ref, status, started_at, finished_at FROM steps
                         WHERE execution = ?1 AND status IN ('queued', 'running', 'paused')",
                        &[pk.into()],
                        |r| Ok((r.get(0)?, r.parse(1)?, r.parse_opt(2)?, r.parse_opt(3)?)),
                    )?;
                for (step_ref, status, started, finished) in open {
                    let (status, finished) = match status {
                        StepStatus::Queued => (StepStatus::Skipped, finished),
                        _ => (StepStatus::Aborted, Some(finished.unwrap_or(now))),
                    };
                    let duration = started
                        .zip(finished)
                        .map(|(start, end)| to_i64(end.millis_since(start).unwrap_or(0)));
                    tx.execute(
                        "UPDATE steps SET status = ?3, finished_at = ?4,
                             duration_ms = coalesce(?5, duration_ms)
                         WHERE execution = ?1 AND ref = ?2",
                        &[
                            pk.into(),
                            step_ref.into(),
                            status.as_str().into(),
                            finished.map(|t| t.to_string()).into(),
                            duration.into(),
                        ],
                    )?;
                }
                Ok(true)
            })?;
            if aborted {
                recovered.push(id);
            }
        }
        Ok(recovered)
    }
}
