//! Reading executions back: lookups by id, name or id prefix; listing; details.

use std::collections::BTreeMap;
use std::str::FromStr;

use rusqlite::types::{Type, Value as SqlValue};
use rusqlite::{OptionalExtension, Row, Transaction, params_from_iter};

use crate::error::StoreError;
use crate::model::{Execution, ExecutionDetail, ExecutionFilter, StepOutput, StepResult};
use crate::runner::RunnerIdentity;
use crate::store::{Store, to_u64};

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
            args.push(SqlValue::Integer(i64::from(limit)));
            sql += &format!(" LIMIT ?{}", args.len());
        }
        self.read(|tx| {
            let rows: Vec<(i64, Execution)> = tx
                .prepare(&sql)
                .and_then(|mut stmt| {
                    stmt.query_map(params_from_iter(args), execution_from_row)?
                        .collect()
                })
                .map_err(|e| self.sqlite(e))?;
            rows.into_iter()
                .map(|(pk, mut execution)| {
                    execution.tags = self.tags(tx, pk)?;
                    Ok(execution)
                })
                .collect()
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
        self.read(|tx| {
            tx.query_row(&sql, params_from_iter(args), |r| r.get::<_, i64>(0))
                .map(to_u64)
                .map_err(|e| self.sqlite(e))
        })
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
            let (mut execution, source, plan) = tx
                .query_row(
                    &format!(
                        "SELECT {EXECUTION_COLUMNS}, e.source, e.plan FROM executions e WHERE pk = ?1"
                    ),
                    [pk],
                    |row| {
                        let (_, execution) = execution_from_row(row)?;
                        let source: String = row.get(13)?;
                        let plan: String = row.get(14)?;
                        Ok((execution, source, plan))
                    },
                )
                .map_err(|e| self.sqlite(e))?;
            execution.tags = self.tags(tx, pk)?;
            let plan = serde_json::from_str(&plan)
                .map_err(|e| self.corrupt(format!("the plan of {}: {e}", execution.id)))?;
            let steps = tx
                .prepare(
                    "SELECT ref, step_id, name, parent_ref, status, exit_code, started_at,
                         finished_at, error
                     FROM steps WHERE execution = ?1 ORDER BY rowid",
                )
                .and_then(|mut stmt| stmt.query_map([pk], step_from_row)?.collect())
                .map_err(|e| self.sqlite(e))?;
            let raw_outputs: Vec<(String, String, String)> = tx
                .prepare(
                    "SELECT step_ref, name, value FROM outputs WHERE execution = ?1 ORDER BY rowid",
                )
                .and_then(|mut stmt| {
                    stmt.query_map([pk], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                        .collect()
                })
                .map_err(|e| self.sqlite(e))?;
            let outputs = raw_outputs
                .into_iter()
                .map(|(step_ref, name, value)| {
                    let value = serde_json::from_str(&value).map_err(|e| {
                        self.corrupt(format!("output {name} of step {step_ref}: {e}"))
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
            tx.query_row("SELECT id FROM executions WHERE pk = ?1", [pk], |r| {
                r.get(0)
            })
            .map(Some)
            .map_err(|e| self.sqlite(e))
        })
    }

    /// Like [`Store::resolve`], but no such execution is [`StoreError::NotFound`].
    pub(crate) fn resolve_existing(
        &self,
        tx: &Transaction<'_>,
        query: &str,
    ) -> Result<i64, StoreError> {
        self.resolve(tx, query)?
            .ok_or_else(|| StoreError::NotFound {
                query: query.to_owned(),
            })
    }

    /// The row key of the execution `query` names: by unique id, by name, or by a unique
    /// prefix of the id.
    pub(crate) fn resolve(
        &self,
        tx: &Transaction<'_>,
        query: &str,
    ) -> Result<Option<i64>, StoreError> {
        if query.is_empty() {
            return Err(StoreError::InvalidInput(
                "give an execution id or name".to_owned(),
            ));
        }
        let exact = |sql: &str| {
            tx.prepare_cached(sql)
                .and_then(|mut stmt| stmt.query_row([query], |r| r.get(0)).optional())
                .map_err(|e| self.sqlite(e))
        };
        if let Some(pk) = exact("SELECT pk FROM executions WHERE id = ?1")? {
            return Ok(Some(pk));
        }
        if let Some(pk) = exact("SELECT pk FROM executions WHERE name = ?1")? {
            return Ok(Some(pk));
        }
        // Every id is ASCII, so all ids starting with `query` sort between it and it followed
        // by the highest code point; the range uses the index on `id`.
        let matches: Vec<(i64, String)> = tx
            .prepare_cached(
                "SELECT pk, id FROM executions WHERE id >= ?1 AND id < ?1 || char(1114111)
                 ORDER BY id LIMIT ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_map(rusqlite::params![query, MAX_CANDIDATES as i64 + 1], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect()
            })
            .map_err(|e| self.sqlite(e))?;
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

    fn tags(&self, tx: &Transaction<'_>, pk: i64) -> Result<BTreeMap<String, String>, StoreError> {
        tx.prepare_cached("SELECT key, value FROM execution_tags WHERE execution = ?1")
            .and_then(|mut stmt| {
                stmt.query_map([pk], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(|e| self.sqlite(e))
    }
}

/// An execution (without tags) and its row key from [`EXECUTION_COLUMNS`].
fn execution_from_row(row: &Row<'_>) -> rusqlite::Result<(i64, Execution)> {
    let execution = Execution {
        id: row.get(1)?,
        name: row.get(2)?,
        workflow: row.get(3)?,
        number: to_u64(row.get(4)?),
        status: parse(row, 5)?,
        reason: row.get(6)?,
        created_at: parse(row, 7)?,
        started_at: parse_opt(row, 8)?,
        finished_at: parse_opt(row, 9)?,
        runner: RunnerIdentity {
            hostname: row.get(10)?,
            pid: row.get(11)?,
            process_start: row.get(12)?,
        },
        tags: BTreeMap::new(),
    };
    Ok((row.get(0)?, execution))
}

fn step_from_row(row: &Row<'_>) -> rusqlite::Result<StepResult> {
    Ok(StepResult {
        step_ref: row.get(0)?,
        id: row.get(1)?,
        name: row.get(2)?,
        parent_ref: row.get(3)?,
        status: parse(row, 4)?,
        exit_code: row.get(5)?,
        started_at: parse_opt(row, 6)?,
        finished_at: parse_opt(row, 7)?,
        error: row.get(8)?,
    })
}

/// Parses a text column; a value that does not parse is reported as damage to the database.
pub(crate) fn parse<T>(row: &Row<'_>, index: usize) -> rusqlite::Result<T>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: String = row.get(index)?;
    text.parse()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(e)))
}

/// [`parse`] for a column that may be `NULL`.
pub(crate) fn parse_opt<T>(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<T>>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: Option<String> = row.get(index)?;
    text.map(|text| {
        text.parse()
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(e)))
    })
    .transpose()
}

/// The SQL condition on `executions e` that `filter` sets (all but its `limit`), and its
/// arguments, numbered from `?1`.
fn where_clause(filter: &ExecutionFilter) -> (String, Vec<SqlValue>) {
    let mut sql = String::from("1");
    let mut args: Vec<SqlValue> = Vec::new();
    if let Some(workflow) = &filter.workflow {
        args.push(SqlValue::Text(workflow.clone()));
        sql += &format!(" AND e.workflow = ?{}", args.len());
    }
    if !filter.statuses.is_empty() {
        let mut placeholders = Vec::new();
        for status in &filter.statuses {
            args.push(SqlValue::Text(status.as_str().to_owned()));
            placeholders.push(format!("?{}", args.len()));
        }
        sql += &format!(" AND e.status IN ({})", placeholders.join(", "));
    }
    for (key, value) in &filter.tags {
        args.push(SqlValue::Text(key.clone()));
        args.push(SqlValue::Text(value.clone()));
        sql += &format!(
            " AND EXISTS (SELECT 1 FROM execution_tags t WHERE t.execution = e.pk \
             AND t.key = ?{} AND t.value = ?{})",
            args.len() - 1,
            args.len()
        );
    }
    // Timestamps are stored in one fixed-width form that sorts as text in time order.
    if let Some(from) = filter.created_from {
        args.push(SqlValue::Text(from.to_string()));
        sql += &format!(" AND e.created_at >= ?{}", args.len());
    }
    if let Some(until) = filter.created_until {
        args.push(SqlValue::Text(until.to_string()));
        sql += &format!(" AND e.created_at < ?{}", args.len());
    }
    // Keyset paging: the rows after the cursor in list order, which stays right while new
    // executions arrive at the top (an offset would shift). An unknown cursor lists nothing.
    if let Some(after) = &filter.after {
        args.push(SqlValue::Text(after.clone()));
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
            let counts: Vec<(String, i64)> = tx
                .prepare_cached("SELECT status, count(*) FROM executions GROUP BY status")
                .and_then(|mut stmt| {
                    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect()
                })
                .map_err(|e| self.sqlite(e))?;
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
            let durations: Vec<(String, String)> = tx
                .prepare_cached(
                    "SELECT started_at, finished_at FROM executions
                     WHERE started_at IS NOT NULL AND finished_at IS NOT NULL",
                )
                .and_then(|mut stmt| {
                    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect()
                })
                .map_err(|e| self.sqlite(e))?;
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
