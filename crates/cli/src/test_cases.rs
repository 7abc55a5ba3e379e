//! `testwerk tests <id>`: the test cases read from an execution's JUnit/xUnit reports, as a
//! table (failures and errors first) with a summary line, or as JSON/YAML with every field.

use std::io::{self, Write};
use std::path::Path;

use testwerk_store::{CaseStatus, StoreError, StoredTestCase};

use crate::history::{Format, document, not_found, open};
use crate::output::{Failure, finish};

/// Widest a column of the table gets; longer values are cut with `…`.
const MAX_SUITE: usize = 32;
const MAX_CLASS: usize = 40;
const MAX_NAME: usize = 60;
const MAX_MESSAGE: usize = 100;

/// Prints the test cases of execution `id`. Returns the exit code (0 whatever the cases'
/// statuses: the execution's own status says whether it passed).
pub fn tests(store: Option<&Path>, id: &str, format: Format) -> u8 {
    finish(tests_to(&mut io::stdout().lock(), store, id, format))
}

fn tests_to(
    out: &mut dyn Write,
    store: Option<&Path>,
    id: &str,
    format: Format,
) -> Result<(), Failure> {
    let store = open(store)?;
    let report = store.test_case_report(id).map_err(|e| match e {
        StoreError::NotFound { .. } => not_found(id),
        e => Failure::Input(e.to_string()),
    })?;
    if format != Format::Text {
        return document(out, &report, format);
    }
    if report.cases.is_empty() {
        writeln!(
            out,
            "no test cases in {id}: its steps kept no JUnit or xUnit report among their artifacts"
        )?;
        return Ok(());
    }
    write_table(out, &report.cases)?;
    writeln!(out, "{}", report.counts)?;
    Ok(())
}

/// The table: one line per case, columns as wide as their widest value (up to a limit).
fn write_table(out: &mut dyn Write, cases: &[StoredTestCase]) -> Result<(), Failure> {
    let rows: Vec<[String; 6]> = cases
        .iter()
        .map(|c| {
            let case = &c.case;
            let message = match case.status {
                CaseStatus::Failed | CaseStatus::Error | CaseStatus::Skipped => {
                    first_line(case.message.as_deref().unwrap_or_default())
                }
                CaseStatus::Passed => String::new(),
            };
            [
                case.status.as_str().to_owned(),
                cut(&case.suite, MAX_SUITE),
                cut(case.class.as_deref().unwrap_or("-"), MAX_CLASS),
                cut(&case.name, MAX_NAME),
                case.time_ms.map(seconds).unwrap_or_else(|| "-".to_owned()),
                cut(&message, MAX_MESSAGE),
            ]
        })
        .collect();
    let header = ["STATUS", "SUITE", "CLASS", "NAME", "TIME", "MESSAGE"].map(str::to_owned);
    let mut widths = [0usize; 6];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i == 5 {
                line.push_str(cell);
            } else if i == 4 {
                // Times align right.
                line.push_str(&format!("{cell:>width$}  "));
            } else {
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// The first non-empty line of a message.
fn first_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .to_owned()
}

/// `text` cut to `max` characters, the last being `…`; control characters shown as spaces
/// (a name with a newline or an escape sequence must not break the table).
fn cut(text: &str, max: usize) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() <= max {
        clean
    } else {
        let mut kept: String = clean.chars().take(max - 1).collect();
        kept.push('…');
        kept
    }
}

fn seconds(ms: u64) -> String {
    format!("{:.3}s", ms as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_cut_and_cleaned() {
        assert_eq!(cut("short", 10), "short");
        assert_eq!(cut("abcdefghij", 5), "abcd…");
        assert_eq!(cut("a\nb\x1b[31m", 20), "a b [31m");
        assert_eq!(first_line("\n  \n  first\nsecond"), "first");
        assert_eq!(seconds(4200), "4.200s");
    }
}
