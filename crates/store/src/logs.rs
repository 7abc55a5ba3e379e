//! Execution logs: append-only, numbered lines.

use std::borrow::Cow;

use crate::db::{ColumnError, Row, Tx};
use crate::error::StoreError;
use crate::model::{LogLine, StoredLogLine};
use crate::store::{Store, to_i64, to_u64};

/// Log lines one INSERT writes (6 parameters each; both databases allow thousands).
const LOG_ROWS_PER_INSERT: usize = 100;

/// Log lines longer than this many bytes (after masking) are cut to it, at a character
/// boundary, and end with a marker saying how much was cut.
pub const MAX_LOG_LINE_BYTES: usize = 64 * 1024;

impl Store {
    /// Appends `lines` to the log of execution `id` (the full unique id), in one transaction:
    /// after a crash either all of them are stored or none. The store numbers them on from the
    /// last stored line. Lines are masked (see [`Store::register_secrets`]) and bounded to
    /// [`MAX_LOG_LINE_BYTES`].
    ///
    /// Appending a batch costs about as much as appending one line, so buffer lines and
    /// append them every few hundred lines or few hundred milliseconds.
    pub fn append_logs(&self, id: &str, lines: &[LogLine]) -> Result<(), StoreError> {
        if lines.is_empty() {
            return Ok(());
        }
        let masker = self.masker(id);
        let prepared: Vec<(Cow<'_, str>, Option<u64>)> = lines
            .iter()
            .map(|line| match masker.mask(&line.text) {
                Cow::Borrowed(text) => bound_line(text),
                Cow::Owned(text) => {
                    let (bounded, cut) = bound_line(&text);
                    (Cow::Owned(bounded.into_owned()), cut)
                }
            })
            .collect();
        self.write(|tx| {
            let (pk, _) = self.execution_pk(tx, id)?;
            let next: i64 = tx.query_one(
                "SELECT coalesce(max(seq) + 1, 0) FROM logs WHERE execution = ?1",
                &[pk.into()],
                |r| r.get(0),
            )?;
            // Many rows per statement: on PostgreSQL each statement is a round trip.
            let rows: Vec<usize> = (0..lines.len()).collect();
            for chunk in rows.chunks(LOG_ROWS_PER_INSERT) {
                let mut params = Vec::with_capacity(chunk.len() * 6);
                let mut values = Vec::with_capacity(chunk.len());
                for &i in chunk {
                    let (line, (text, cut)) = (&lines[i], &prepared[i]);
                    let seq = next + i as i64;
                    let n = params.len();
                    values.push(format!(
                        "(?{}, ?{}, ?{}, ?{}, ?{}, ?{})",
                        n + 1,
                        n + 2,
                        n + 3,
                        n + 4,
                        n + 5,
                        n + 6
                    ));
                    params.extend([
                        pk.into(),
                        seq.into(),
                        line.step_ref.as_deref().into(),
                        line.time.to_string().into(),
                        text.as_ref().into(),
                        cut.map(to_i64).into(),
                    ]);
                }
                tx.execute(
                    &format!(
                        "INSERT INTO logs (execution, seq, step_ref, time, text, truncated_bytes)
                         VALUES {}",
                        values.join(", ")
                    ),
                    &params,
                )?;
            }
            tx.execute(
                "UPDATE executions SET log_lines = ?2 WHERE pk = ?1",
                &[pk.into(), (next + lines.len() as i64).into()],
            )?;
            Ok(())
        })
    }

    /// How many log lines the execution `query` names has (a backend resuming a stream skips
    /// that many), without reading them.
    pub fn log_count(&self, query: &str) -> Result<u64, StoreError> {
        self.read(|tx| {
            let pk = self.resolve_existing(tx, query)?;
            tx.query_one(
                "SELECT count(*) FROM logs WHERE execution = ?1",
                &[pk.into()],
                |r| r.get::<i64>(0),
            )
            .map(to_u64)
        })
    }

    /// The log of the execution `query` names (see [`Store::execution`]), in order; only the
    /// lines of step `step` if one is given. Fails with [`StoreError::NotFound`] if there is
    /// no such execution.
    pub fn logs(&self, query: &str, step: Option<&str>) -> Result<Vec<StoredLogLine>, StoreError> {
        self.read(|tx| {
            let pk = self.resolve_existing(tx, query)?;
            let columns = LOG_LINE_COLUMNS;
            let lines = match step {
                None => tx.query(
                    &format!("SELECT {columns} FROM logs WHERE execution = ?1 ORDER BY seq"),
                    &[pk.into()],
                    log_line,
                )?,
                Some(step) => tx.query(
                    &format!(
                        "SELECT {columns} FROM logs WHERE execution = ?1 AND step_ref = ?2
                         ORDER BY seq"
                    ),
                    &[pk.into(), step.into()],
                    log_line,
                )?,
            };
            self.check_complete(tx, pk, step, &lines)?;
            Ok(lines)
        })
    }

    /// SQLite has no checksums: a damaged page can make a query return fewer rows without
    /// an error. The index knows how many lines there are (a read that touches other
    /// pages), and a whole log is numbered from 0 without a gap: a log that disagrees is
    /// reported as damaged instead of being printed short.
    fn check_complete(
        &self,
        tx: &mut Tx<'_>,
        pk: i64,
        step: Option<&str>,
        lines: &[StoredLogLine],
    ) -> Result<(), StoreError> {
        let count = |r: &Row<'_>| r.get::<i64>(0);
        let indexed: i64 = match step {
            None => tx.query_one(
                "SELECT count(*) FROM logs WHERE execution = ?1",
                &[pk.into()],
                count,
            )?,
            Some(step) => tx.query_one(
                "SELECT count(*) FROM logs WHERE execution = ?1 AND step_ref = ?2",
                &[pk.into(), step.into()],
                count,
            )?,
        };
        let damaged = |detail: String| StoreError::Corrupt {
            path: self.path().to_owned(),
            detail,
        };
        // Written with every append, in the execution's own row: another part of the file.
        let recorded: Option<i64> = tx.query_one(
            "SELECT log_lines FROM executions WHERE pk = ?1",
            &[pk.into()],
            |r| r.get(0),
        )?;
        if step.is_none()
            && let Some(recorded) = recorded
            && to_u64(recorded) != lines.len() as u64
        {
            return Err(damaged(format!(
                "the execution has {recorded} log lines, but {} could be read",
                lines.len()
            )));
        }
        if to_u64(indexed) != lines.len() as u64 {
            return Err(damaged(format!(
                "its index lists {indexed} log lines of this execution, but {} could be read",
                lines.len()
            )));
        }
        if step.is_none()
            && let Some((n, line)) = lines.iter().enumerate().find(|(n, l)| l.seq != *n as u64)
        {
            return Err(damaged(format!(
                "log line {n} is missing (line {} follows line {})",
                line.seq,
                n.saturating_sub(1)
            )));
        }
        Ok(())
    }

    /// At most `limit` log lines of the execution `query` names, from line number `from` on
    /// (`seq`, counted from 0): what a client that has shown `from` lines has not seen yet.
    pub fn logs_from(
        &self,
        query: &str,
        from: u64,
        limit: u64,
    ) -> Result<Vec<StoredLogLine>, StoreError> {
        self.read(|tx| {
            let pk = self.resolve_existing(tx, query)?;
            tx.query(
                &format!(
                    "SELECT {LOG_LINE_COLUMNS} FROM logs
                     WHERE execution = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3"
                ),
                &[pk.into(), to_i64(from).into(), to_i64(limit).into()],
                log_line,
            )
        })
    }

    /// At most `limit` lines of the execution `query` names that contain `needle`, ignoring
    /// ASCII case, in order: a search over a log too long to send whole.
    pub fn search_logs(
        &self,
        query: &str,
        needle: &str,
        limit: u64,
    ) -> Result<Vec<StoredLogLine>, StoreError> {
        self.read(|tx| {
            let pk = self.resolve_existing(tx, query)?;
            // LIKE, with the needle's own wildcards escaped: both databases have it (SQLite's
            // `instr` and PostgreSQL's `strpos` differ).
            let pattern = format!("%{}%", escape_like(needle));
            tx.query(
                &format!(
                    "SELECT {LOG_LINE_COLUMNS} FROM logs
                     WHERE execution = ?1 AND lower(text) LIKE lower(?2) ESCAPE '\\' ORDER BY seq LIMIT ?3"
                ),
                &[pk.into(), pattern.as_str().into(), to_i64(limit).into()],
                log_line,
            )
        })
    }
}

/// Log lines read from line `from` as text (one per line), and the line to read from next.
pub fn lines_as_text(lines: &[StoredLogLine], from: u64) -> (String, u64) {
    let next = lines.last().map_or(from, |l| l.seq + 1);
    let mut text = String::new();
    for line in lines {
        text.push_str(&line.text);
        text.push('\n');
    }
    (text, next)
}

/// `text` cut to [`MAX_LOG_LINE_BYTES`] with a marker, and how many bytes were cut.
fn bound_line(text: &str) -> (Cow<'_, str>, Option<u64>) {
    if text.len() <= MAX_LOG_LINE_BYTES {
        return (Cow::Borrowed(text), None);
    }
    let mut keep = MAX_LOG_LINE_BYTES;
    while !text.is_char_boundary(keep) {
        keep -= 1;
    }
    let cut = (text.len() - keep) as u64;
    let bounded = format!("{} [… {cut} bytes truncated]", &text[..keep]);
    (Cow::Owned(bounded), Some(cut))
}

/// The columns [`log_line`] reads, in its order.
const LOG_LINE_COLUMNS: &str = "seq, time, step_ref, text, truncated_bytes";

/// `text` with LIKE's wildcards (and the escape character) escaped by `\\`.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A stored log line from a row of [`LOG_LINE_COLUMNS`].
fn log_line(row: &Row<'_>) -> Result<StoredLogLine, ColumnError> {
    Ok(StoredLogLine {
        seq: to_u64(row.get(0)?),
        time: row.parse(1)?,
        step_ref: row.get(2)?,
        text: row.get(3)?,
        truncated_bytes: row.get::<Option<i64>>(4)?.map(to_u64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_in_a_search_are_literal() {
        assert_eq!(escape_like(r"50%_of\x"), r"50\%\_of\\x");
    }

    #[test]
    fn short_lines_are_kept_whole() {
        let line = "x".repeat(MAX_LOG_LINE_BYTES);
        assert_eq!(bound_line(&line), (Cow::Borrowed(line.as_str()), None));
    }

    #[test]
    fn long_lines_are_cut_at_a_character_boundary() {
        // 'é' is two bytes: the limit falls inside the last one that would fit.
        let line = format!("a{}", "é".repeat(MAX_LOG_LINE_BYTES / 2));
        let (bounded, cut) = bound_line(&line);
        let kept = MAX_LOG_LINE_BYTES - 1;
        assert_eq!(cut, Some((line.len() - kept) as u64));
        assert_eq!(&bounded[..kept], &line[..kept]);
        assert!(bounded.ends_with(&format!(" [… {} bytes truncated]", line.len() - kept)));
    }
}
