//! Which artifacts are test reports, and reading one from a file.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use crate::case::{Format, TestCase};
use crate::reader::ReportReader;
use crate::warning::Warning;

/// Whether a file named `name` may be a report: it ends in `.xml` (any case). Cheap, for
/// choosing which artifacts to open.
pub fn has_report_name(name: &str) -> bool {
    name.len() >= 4
        && name.is_char_boundary(name.len() - 4)
        && name[name.len() - 4..].eq_ignore_ascii_case(".xml")
}

/// The report format of the file at `path`, or `None` when it is not a report: its name does
/// not end in `.xml`, or its root element is not one of JUnit's or xUnit.net's. Reads up to
/// the root element only (bounded like [`ReportReader`]).
pub fn report_format(path: &Path) -> io::Result<Option<Format>> {
    let named = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(has_report_name);
    if !named {
        return Ok(None);
    }
    let file = File::open(path)?;
    Ok(ReportReader::new(BufReader::new(file), path.display().to_string()).format())
}

/// What [`read_report_file`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSummary {
    /// The report's format; `None` when the file was not a report (no case was read).
    pub format: Option<Format>,
    /// How many cases were handed over.
    pub cases: u64,
    /// Why the report was read only in part, if it was.
    pub warnings: Vec<Warning>,
}

/// Why [`read_report_file`] stopped without a summary.
#[derive(Debug, thiserror::Error)]
pub enum ReadReportError<E: std::error::Error + 'static> {
    /// The file could not be opened.
    #[error("cannot open the test report {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The callback failed (and the read stopped there).
    #[error(transparent)]
    Stopped(E),
}

/// Reads the report at `path`, handing each case to `each` as it is read (so that a caller
/// can store them in batches without holding them all). `name` names the report in warnings.
/// A file that is not a report gives no case and no warning; a malformed one (or one that
/// cannot be read to its end) gives the cases before the problem and a warning. `each`
/// failing stops the read with its error.
pub fn read_report_file<E: std::error::Error + 'static>(
    path: &Path,
    name: &str,
    each: impl FnMut(TestCase) -> Result<(), E>,
) -> Result<ReportSummary, ReadReportError<E>> {
    let file = File::open(path).map_err(|source| ReadReportError::Open {
        path: path.to_owned(),
        source,
    })?;
    read_report(BufReader::with_capacity(64 * 1024, file), name, each)
}

/// As [`read_report_file`], from any reader (an artifact streamed back from object storage).
pub fn read_report<R: std::io::BufRead, E: std::error::Error + 'static>(
    input: R,
    name: &str,
    mut each: impl FnMut(TestCase) -> Result<(), E>,
) -> Result<ReportSummary, ReadReportError<E>> {
    let mut reader = ReportReader::new(input, name);
    let format = reader.format();
    let mut cases = 0;
    for case in reader.by_ref() {
        each(case).map_err(ReadReportError::Stopped)?;
        cases += 1;
    }
    Ok(ReportSummary {
        format,
        cases,
        warnings: reader.into_warnings(),
    })
}
