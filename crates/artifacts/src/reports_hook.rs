//! [`TestReports`]: the hook that reads each JUnit or xUnit report among the artifacts into
//! the execution's test cases.

use std::io::{BufReader, Read};
use std::sync::Arc;

use testwerk_store::{ArtifactRecord, Store};

use crate::ArtifactHook;

/// Stores the test cases of every `*.xml` artifact that is a JUnit or xUnit.net report;
/// any other artifact is left alone. A malformed report keeps the cases read before the
/// problem, and its warning goes back to the step.
pub struct TestReports {
    store: Arc<Store>,
}

impl TestReports {
    pub fn new(store: Arc<Store>) -> TestReports {
        TestReports { store }
    }
}

impl ArtifactHook for TestReports {
    fn wants(&self, record: &ArtifactRecord) -> bool {
        testwerk_reports::has_report_name(&record.name)
    }

    fn on_artifact(
        &self,
        execution: &str,
        record: &ArtifactRecord,
        content: &mut dyn Read,
    ) -> Result<(), String> {
        let input = BufReader::with_capacity(64 * 1024, content);
        let summary = self
            .store
            .record_report(execution, &record.step_ref, &record.name, input)
            .map_err(|e| format!("test report {}: {e}", record.name))?;
        if summary.warnings.is_empty() {
            return Ok(());
        }
        let warnings: Vec<String> = summary.warnings.iter().map(ToString::to_string).collect();
        Err(warnings.join("; "))
    }
}
