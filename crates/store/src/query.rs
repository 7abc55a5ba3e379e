//! Reading executions back: lookups by id, name or id prefix; listing; details.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use crate::db::{ColumnError, Param, Row, Tx};
use crate::error::StoreError;
use crate::model::{Execution, ExecutionDetail, ExecutionFilter, StepOutput, StepResult};
use crate::runner::RunnerIdentity;
use crate::store::{Store, to_u64};

/// Executions whose tags one query reads (bounded: a statement's parameters are).
const TAG_CHUNK: usize = 500;

/// How many candidates an [`StoreError::Ambiguous`] names at most.
const MAX_CANDIDATES: usize = 5;

/// The columns [`execution_from_row`] reads, in its order.
const EXECUTION_COLUMNS: &str = "e.pk, e.id, e.name, e.workflow, e.number, e.status, e.reason,
    e.created_at, e.started_at, e.finished_at, e.runner_host, e.runner_pid, e.runner_start";

impl Store {
    /// The executions that match `filter`, newest first.
    pub fn list_executions(&self, filter: &ExecutionFilter) -> Result<Vec<Execution>, StoreError> {
        let (condition, mut args) = where_clause(filter);
        let mut sql = format!(
            "SELECT {EXECUTION_COLUMNS} FROM executions e WHERE {condition} \
             ORDER BY e.created_at DESC, e.pk DESC"
        );
        if let Some(limit) = filter.limit {
            args.push(Param::Int(i64::from(limit)));
            sql += &format!(" LIMIT ?{}", args.len());
        }
        self.read(|tx| {
            let rows: Vec<(i64, Execution)> = tx.query(&sql, &args, execution_from_row)?;
            let mut tags = self.tags_of(tx, rows.iter().map(|(pk, _)| *pk))?;
            Ok(rows
                .into_iter()
                .map(|(pk, mut execution)| {
                    execution.tags = tags.remove(&pk).unwrap_or_default();
                    execution
                })
                .collect())
        })
    }

    /// How many executions match `filter`, ignoring its `limit` and `after`: the size of a
    /// list that is read a page at a time.
    pub fn count_executions(&self, filter: &ExecutionFilter) -> Result<u64, StoreError> {
        let whole = ExecutionFilter {
            after: None,
            limit: None,
            ..filter.clone()
        };
        let (condition, args) = where_clause(&whole);
        let sql = format!("SELECT count(*) FROM executions e WHERE {condition}");
        self.read(|tx| tx.query_one(&sql, &args, |r| r.get::<i64>(0)).map(to_u64))
    }

    /// The execution `query` names, with its source, plan, steps and outputs; `None` if there
    /// is none.
    ///
    /// `query` is the full unique id, the name `<workflow>-<number>`, or the start of the id
    /// (which must match only one execution, or this fails with [`StoreError::Ambiguous`]).
    pub fn execution(&self, query: &str) -> Result<Option<ExecutionDetail>, StoreError> {
        self.read(|tx| {
            let Some(pk) = self.resolve(tx, query)? else {
                return Ok(None);
            };
            let (mut execution, source, plan) = tx.query_one(
                &format!(
                    "SELECT {EXECUTION_COLUMNS}, e.source, e.plan FROM executions e WHERE pk = ?1"
                ),
                &[pk.into()],
                |row| {
                    let (_, execution) = execution_from_row(row)?;
                    let source: String = row.get(13)?;
                    let plan: String = row.get(14)?;
                    Ok((execution, source, plan))
                },
            )?;
            execution.tags = self.tags(tx, pk)?;
            let plan = serde_json::from_str(&plan)
                .map_err(|e| tx.corrupt(format!("the plan of {}: {e}", execution.id)))?;
            let steps = tx.query(
                "SELECT ref, step_id, name, parent_ref, status, exit_code, started_at,
                     finished_at, error
                 FROM steps WHERE execution = ?1 ORDER BY rowid",
                &[pk.into()],
                step_from_row,
            )?;
            let raw_outputs: Vec<(String, String, String)> = tx.query(
                "SELECT step_ref, name, value FROM outputs WHERE execution = ?1 ORDER BY rowid",
                &[pk.into()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            let outputs = raw_outputs
                .into_iter()
                .map(|(step_ref, name, value)| {
                    let value = serde_json::from_str(&value).map_err(|e| {
                        tx.corrupt(format!("output {name} of step {step_ref}: {e}"))
                    })?;
                    Ok(StepOutput {
                        step_ref,
                        name,
                        value,
                    })
                })
                .collect::<Result<_, StoreError>>()?;
            Ok(Some(ExecutionDetail {
                execution,
                source,
                plan,
                steps,
                outputs,
            }))
        })
    }

    /// The unique id of the execution `query` names (see [`Store::execution`]), for the
    /// writes, which take the unique id; `None` if there is none.
    pub fn resolve_id(&self, query: &str) -> Result<Option<String>, StoreError> {
        self.read(|tx| {
            let Some(pk) = self.resolve(tx, query)? else {
                return Ok(None);
            };
            tx.query_one(
                "SELECT id FROM executions WHERE pk = ?1",
                &[pk.into()],
                |r| r.get(0),
            )
            .map(Some)
        })
    }

    /// Like [`Store::resolve`], but no such execution is [`StoreError::NotFound`].
    pub(crate) fn resolve_existing(&self, tx: &mut Tx<'_>, query: &str) -> Result<i64, StoreError> {
        self.resolve(tx, query)?
            .ok_or_else(|| StoreError::NotFound {
                query: query.to_owned(),
            })
    }

    /// The row key of the execution `query` names: by unique id, by name, or by a unique
    /// prefix of the id.
    pub(crate) fn resolve(&self, tx: &mut Tx<'_>, query: &str) -> Result<Option<i64>, StoreError> {
        if query.is_empty() {
            return Err(StoreError::InvalidInput(
                "give an execution id or name".to_owned(),
            ));
        }
        for exact in [
            "SELECT pk FROM executions WHERE id = ?1",
            "SELECT pk FROM executions WHERE name = ?1",
        ] {
            if let Some(pk) = tx.query_opt(exact, &[query.into()], |r| r.get(0))? {
                return Ok(Some(pk));
            }
        }
        // Every id is ASCII, so all ids starting with `query` sort (bytewise: the `C`
        // collation on PostgreSQL) between it and it followed by the highest code point; the
        // range uses the index on `id`.
        let end = format!("{query}\u{10FFFF}");
        let matches: Vec<(i64, String)> = tx.query(
            "SELECT pk, id FROM executions WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT ?3",
            &[
                query.into(),
                end.as_str().into(),
                (MAX_CANDIDATES as i64 + 1).into(),
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        match matches.as_slice() {
            [] => Ok(None),
            [(pk, _)] => Ok(Some(*pk)),
            _ => Err(StoreError::Ambiguous {
                query: query.to_owned(),
                candidates: matches
                    .into_iter()
                    .take(MAX_CANDIDATES)
                    .map(|(_, id)| id)
                    .collect(),
            }),
        }
    }

    /// The tags of many executions, a few queries for all (one per execution would be a round
    /// trip each on PostgreSQL).
    fn tags_of(
        &self,
        tx: &mut Tx<'_>,
        pks: impl Iterator<Item = i64>,
    ) -> Result<HashMap<i64, BTreeMap<String, String>>, StoreError> {
        let pks: Vec<i64> = pks.collect();
        let mut tags: HashMap<i64, BTreeMap<String, String>> = HashMap::new();
        for chunk in pks.chunks(TAG_CHUNK) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("?{i}")).collect();
            let params: Vec<Param<'_>> = chunk.iter().map(|pk| Param::Int(*pk)).collect();
            let rows: Vec<(i64, String, String)> = tx.query(
                &format!(
                    "SELECT execution, key, value FROM execution_tags WHERE execution IN ({})",
                    placeholders.join(", ")
                ),
                &params,
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            for (pk, key, value) in rows {
                tags.entry(pk).or_default().insert(key, value);
            }
        }
        Ok(tags)
    }

    fn tags(&self, tx: &mut Tx<'_>, pk: i64) -> Result<BTreeMap<String, String>, StoreError> {
        let pairs = tx.query(
            "SELECT key, value FROM execution_tags WHERE execution = ?1",
            &[pk.into()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(pairs.into_iter().collect())
    }
}

/// An execution (without tags) and its row key from [`EXECUTION_COLUMNS`].
fn execution_from_row(row: &Row<'_>) -> Result<(i64, Execution), ColumnError> {
    let execution = Execution {
        id: row.get(1)?,
        name: row.get(2)?,
        workflow: row.get(3)?,
        number: to_u64(row.get(4)?),
        status: row.parse(5)?,
        reason: row.get(6)?,
        created_at: row.parse(7)?,
        started_at: row.parse_opt(8)?,
        finished_at: row.parse_opt(9)?,
        runner: RunnerIdentity {
            hostname: row.get(10)?,
            pid: row.get(11)?,
            process_start: row.get(12)?,
        },
        tags: BTreeMap::new(),
    };
    Ok((row.get(0)?, execution))
}

fn step_from_row(row: &Row<'_>) -> Result<StepResult, ColumnError> {
    Ok(StepResult {
        step_ref: row.get(0)?,
        id: row.get(1)?,
        name: row.get(2)?,
        parent_ref: row.get(3)?,
        status: row.parse(4)?,
        exit_code: row.get(5)?,
        started_at: row.parse_opt(6)?,
        finished_at: row.parse_opt(7)?,
        error: row.get(8)?,
    })
}

/// The SQL condition on `executions e` that `filter` sets (all but its `limit`), and its
/// arguments, numbered from `?1`.
fn where_clause(filter: &ExecutionFilter) -> (String, Vec<Param<'_>>) {
    let mut sql = String::from("1 = 1");
    let mut args: Vec<Param<'_>> = Vec::new();
    if let Some(workflow) = &filter.workflow {
        args.push(workflow.into());
        sql += &format!(" AND e.workflow = ?{}", args.len());
    }
    if !filter.statuses.is_empty() {
        let mut placeholders = Vec::new();
        for status in &filter.statuses {
            args.push(status.as_str().into());
            placeholders.push(format!("?{}", args.len()));
        }
        sql += &format!(" AND e.status IN ({})", placeholders.join(", "));
    }
    for (key, value) in &filter.tags {
        args.push(key.into());
        args.push(value.into());
        sql += &format!(
            " AND EXISTS (SELECT 1 FROM execution_tags t WHERE t.execution = e.pk \
             AND t.key = ?{} AND t.value = ?{})",
            args.len() - 1,
            args.len()
        );
    }
    // Timestamps are stored in one fixed-width form that sorts as text in time order.
    if let Some(from) = filter.created_from {
        args.push(from.to_string().into());
        sql += &format!(" AND e.created_at >= ?{}", args.len());
    }
    if let Some(until) = filter.created_until {
        args.push(until.to_string().into());
        sql += &format!(" AND e.created_at < ?{}", args.len());
    }
    // Keyset paging: the rows after the cursor in list order, which stays right while new
    // executions arrive at the top (an offset would shift). An unknown cursor lists nothing.
    if let Some(after) = &filter.after {
        args.push(after.into());
        sql += &format!(
            " AND (e.created_at, e.pk) < (SELECT c.created_at, c.pk FROM executions c WHERE c.id = ?{})",
            args.len()
        );
    }
    (sql, args)
}

/// What `/metrics` reports of the executions a store holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExecutionStats {
    /// How many executions are in each status (every status, zeros included).
    pub by_status: Vec<(crate::model::ExecutionStatus, u64)>,
    /// The durations of finished executions that started, in milliseconds, unordered.
    pub durations_ms: Vec<u64>,
}

impl Store {
    /// Counts by status and the durations of finished executions.
    pub fn execution_stats(&self) -> Result<ExecutionStats, StoreError> {
        use crate::model::ExecutionStatus;
        self.read(|tx| {
            let counts: Vec<(String, i64)> = tx.query(
                "SELECT status, count(*) FROM executions GROUP BY status",
                &[],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let by_status = ExecutionStatus::ALL
                .iter()
                .map(|s| {
                    let n = counts
                        .iter()
                        .find(|(name, _)| name == s.as_str())
                        .map_or(0, |(_, n)| *n);
                    (*s, to_u64(n))
                })
                .collect();
            let durations: Vec<(String, String)> = tx.query(
                "SELECT started_at, finished_at FROM executions
                 WHERE started_at IS NOT NULL AND finished_at IS NOT NULL",
                &[],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let durations_ms = durations
                .iter()
                .filter_map(|(start, end)| {
                    let start = crate::time::Timestamp::from_str(start).ok()?;
                    crate::time::Timestamp::from_str(end)
                        .ok()?
                        .millis_since(start)
                })
                .collect();
            Ok(ExecutionStats {
                by_status,
                durations_ms,
            })
        })
    }
}
