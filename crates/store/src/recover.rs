//! Closing the executions of runners that died.

use std::collections::HashMap;

use rusqlite::params;

use crate::error::StoreError;
use crate::runner::{Liveness, RunnerIdentity};
use crate::store::Store;
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
            tx.prepare(
                "SELECT pk, id, runner_host, runner_pid, runner_start FROM executions
                 WHERE status IN ('queued', 'running') ORDER BY pk",
            )
            .and_then(|mut stmt| {
                stmt.query_map([], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        RunnerIdentity {
                            hostname: r.get(2)?,
                            pid: r.get(3)?,
                            process_start: r.get(4)?,
                        },
                    ))
                })?
                .collect()
            })
            .map_err(|e| self.sqlite(e))
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
            let now = Timestamp::now().to_string();
            let aborted = self.write(|tx| {
                // The status is checked again: the runner may have finished it meanwhile.
                let changed = tx.execute(
                    "UPDATE executions SET status = 'aborted', reason = ?2,
                         finished_at = coalesce(finished_at, ?3)
                     WHERE pk = ?1 AND status IN ('queued', 'running')",
                    params![pk, reason, now],
                )?;
                if changed == 0 {
                    return Ok(false);
                }
                tx.execute(
                    "UPDATE steps SET
                         status = CASE status WHEN 'queued' THEN 'skipped' ELSE 'aborted' END,
                         finished_at = CASE status WHEN 'queued' THEN finished_at
                                       ELSE coalesce(finished_at, ?2) END,
                         duration_ms = CASE WHEN status <> 'queued' AND started_at IS NOT NULL
                             THEN max(0, CAST(round((julianday(coalesce(finished_at, ?2))
                                 - julianday(started_at)) * 86400000) AS INTEGER))
                             ELSE duration_ms END
                     WHERE execution = ?1 AND status IN ('queued', 'running', 'paused')",
                    params![pk, now],
                )?;
                Ok(true)
            })?;
            if aborted {
                recovered.push(id);
            }
        }
        Ok(recovered)
    }
}
