//! Artifacts: the files a workflow's `artifacts` steps kept. The bytes live in artifact storage
//! (`testwerk-artifacts`); a row here says which execution and step a file belongs to, its name,
//! size and content type, and where storage keeps it.

use serde::{Deserialize, Serialize};

use crate::db::{ColumnError, Row};
use crate::error::StoreError;
use crate::store::{Store, to_i64, to_u64};
use crate::time::Timestamp;

/// What is recorded about one stored artifact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactRecord {
    /// The ref of the step that uploaded it (`r5`).
    pub step_ref: String,
    /// Its path relative to the step's artifact root (`reports/junit.xml`).
    pub name: String,
    /// Bytes.
    pub size: u64,
    pub content_type: String,
    /// Where artifact storage keeps it (storage-specific; never shown as a location to fetch).
    pub storage_key: String,
    pub created_at: Timestamp,
}

/// An artifact to record: everything but the time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewArtifact {
    pub step_ref: String,
    pub name: String,
    pub size: u64,
    pub content_type: String,
    pub storage_key: String,
}

impl Store {
    /// Records an artifact of execution `id` (the full unique id). The same step uploading the
    /// same name again replaces the row (storage replaced the file): the latest upload wins.
    pub fn record_artifact(
        &self,
        id: &str,
        artifact: &NewArtifact,
    ) -> Result<ArtifactRecord, StoreError> {
        if artifact.step_ref.is_empty() || artifact.name.is_empty() {
            return Err(StoreError::InvalidInput(
                "an artifact needs a non-empty step ref and name".to_owned(),
            ));
        }
        let record = ArtifactRecord {
            step_ref: artifact.step_ref.clone(),
            name: artifact.name.clone(),
            size: artifact.size,
            content_type: artifact.content_type.clone(),
            storage_key: artifact.storage_key.clone(),
            created_at: Timestamp::now(),
        };
        self.write(|tx| {
            let (pk, _) = self.execution_pk(tx, id)?;
            tx.execute(
                "INSERT INTO artifacts
                     (execution, step_ref, name, size, content_type, storage_key, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (execution, step_ref, name) DO UPDATE SET
                     size = excluded.size, content_type = excluded.content_type,
                     storage_key = excluded.storage_key, created_at = excluded.created_at",
                &[
                    pk.into(),
                    (&record.step_ref).into(),
                    (&record.name).into(),
                    to_i64(record.size).into(),
                    (&record.content_type).into(),
                    (&record.storage_key).into(),
                    record.created_at.to_string().into(),
                ],
            )?;
            Ok(())
        })?;
        Ok(record)
    }

    /// The artifacts of the execution `query` names (see [`Store::execution`]), in the order
    /// they were first recorded.
    pub fn artifacts(&self, query: &str) -> Result<Vec<ArtifactRecord>, StoreError> {
        self.read(|tx| {
            let pk = self.resolve_existing(tx, query)?;
            tx.query(
                &format!("SELECT {COLUMNS} FROM artifacts WHERE execution = ?1 ORDER BY rowid"),
                &[pk.into()],
                from_row,
            )
        })
    }

    /// One artifact of the execution `query` names; `None` if that step stored no such name.
    pub fn artifact(
        &self,
        query: &str,
        step_ref: &str,
        name: &str,
    ) -> Result<Option<ArtifactRecord>, StoreError> {
        self.read(|tx| {
            let pk = self.resolve_existing(tx, query)?;
            tx.query_opt(
                &format!(
                    "SELECT {COLUMNS} FROM artifacts
                     WHERE execution = ?1 AND step_ref = ?2 AND name = ?3"
                ),
                &[pk.into(), step_ref.into(), name.into()],
                from_row,
            )
        })
    }
}

const COLUMNS: &str = "step_ref, name, size, content_type, storage_key, created_at";

fn from_row(row: &Row<'_>) -> Result<ArtifactRecord, ColumnError> {
    Ok(ArtifactRecord {
        step_ref: row.get(0)?,
        name: row.get(1)?,
        size: to_u64(row.get(2)?),
        content_type: row.get(3)?,
        storage_key: row.get(4)?,
        created_at: row.parse(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewExecution;

    fn new(step: &str, name: &str, size: u64) -> NewArtifact {
        NewArtifact {
            step_ref: step.into(),
            name: name.into(),
            size,
            content_type: "application/xml".into(),
            storage_key: format!("e/{step}/{name}"),
        }
    }

    #[test]
    fn artifacts_are_recorded_listed_replaced_and_scoped_to_their_execution() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = Store::open(dir.path().join("db")).unwrap_or_else(|e| panic!("{e}"));
        let a = store
            .create_execution(NewExecution::new("a", "", serde_json::json!({})))
            .unwrap_or_else(|e| panic!("{e}"));
        let b = store
            .create_execution(NewExecution::new("b", "", serde_json::json!({})))
            .unwrap_or_else(|e| panic!("{e}"));
        store
            .record_artifact(&a.id, &new("r2", "reports/junit.xml", 10))
            .unwrap_or_else(|e| panic!("{e}"));
        store
            .record_artifact(&a.id, &new("r2", "log.txt", 3))
            .unwrap_or_else(|e| panic!("{e}"));
        // The same step and name again: replaced, keeping its place.
        store
            .record_artifact(&a.id, &new("r2", "reports/junit.xml", 99))
            .unwrap_or_else(|e| panic!("{e}"));
        let listed = store.artifacts("a-1").unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<(&str, u64)> = listed.iter().map(|r| (r.name.as_str(), r.size)).collect();
        assert_eq!(names, [("reports/junit.xml", 99), ("log.txt", 3)]);
        assert!(store.artifacts(&b.id).unwrap_or_default().is_empty());
        let one = store
            .artifact(&a.id, "r2", "log.txt")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(one.map(|r| r.storage_key), Some("e/r2/log.txt".to_owned()));
        assert_eq!(
            store.artifact(&a.id, "r3", "log.txt").ok().flatten(),
            None,
            "another step's name is another artifact"
        );
        assert!(matches!(
            store.record_artifact("ffffffffffffffffffffffff", &new("r1", "x", 1)),
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store.record_artifact(&a.id, &new("r1", "", 1)),
            Err(StoreError::InvalidInput(_))
        ));
    }
}
