//! [`ArtifactHook`]: something to do with each artifact once it is stored (parse JUnit reports
//! into test cases, say).

use std::io::Read;

use testwerk_store::ArtifactRecord;

/// Called after each artifact is stored and recorded, on a blocking thread.
///
/// A hook's failure is a warning: the artifact is kept, the upload succeeds, and the warning
/// goes to the log and back to the toolkit, which prints it.
pub trait ArtifactHook: Send + Sync {
    /// Whether [`ArtifactHook::on_artifact`] wants to read this one (by name or content
    /// type); the others are not read back from storage.
    fn wants(&self, record: &ArtifactRecord) -> bool;

    /// Reads the stored artifact `record` of `execution` (the full id) from `content`.
    fn on_artifact(
        &self,
        execution: &str,
        record: &ArtifactRecord,
        content: &mut dyn Read,
    ) -> Result<(), String>;
}
