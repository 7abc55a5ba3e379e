//! What the cluster said about an execution's objects: Kubernetes events ("pulling image",
//! "0/1 nodes are available", "Back-off restarting"), kept beside the logs because they
//! explain failures the steps cannot see.

use crate::error::StoreError;
use crate::model::ClusterEvent;
use crate::store::{Store, to_i64, to_u64};

/// Messages longer than this are cut: an event explains, it is not a log.
const MAX_EVENT_MESSAGE_BYTES: usize = 4096;

impl Store {
    /// Records `events` for execution `id` (the full unique id), in one transaction, each
    /// unless it is recorded already: the same event (`uid`) seen again with the same `count`
    /// adds nothing, so a backend may hand over everything it sees after a restart. Returns,
    /// for each, whether it was new. Messages are masked like log lines.
    pub fn record_events(
        &self,
        id: &str,
        events: &[ClusterEvent],
    ) -> Result<Vec<bool>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let masker = self.masker(id);
        let messages: Vec<String> = events
            .iter()
            .map(|e| {
                let masked = masker.mask(&e.message).into_owned();
                if masked.len() > MAX_EVENT_MESSAGE_BYTES {
                    format!("{}…", &masked[..floor_boundary(&masked)])
                } else {
                    masked
                }
            })
            .collect();
        self.write(|tx| {
            let (pk, _) = self.execution_pk(tx, id)?;
            events
                .iter()
                .zip(&messages)
                .map(|(event, message)| {
                    tx.execute(
                        "INSERT INTO events
                             (execution, uid, count, time, warning, object, reason, message)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                         ON CONFLICT DO NOTHING",
                        &[
                            pk.into(),
                            (&event.uid).into(),
                            to_i64(event.count).into(),
                            event.time.to_string().into(),
                            event.warning.into(),
                            (&event.object).into(),
                            (&event.reason).into(),
                            message.into(),
                        ],
                    )
                    .map(|n| n > 0)
                })
                .collect()
        })
    }

    /// The events of the execution `query` names (see [`Store::execution`]), oldest first.
    pub fn events(&self, query: &str) -> Result<Vec<ClusterEvent>, StoreError> {
        self.read(|tx| {
            let pk = self.resolve_existing(tx, query)?;
            tx.query(
                "SELECT uid, count, time, warning, object, reason, message
                 FROM events WHERE execution = ?1 ORDER BY time, rowid",
                &[pk.into()],
                |row| {
                    Ok(ClusterEvent {
                        uid: row.get(0)?,
                        count: to_u64(row.get(1)?),
                        time: row.parse(2)?,
                        warning: row.get(3)?,
                        object: row.get(4)?,
                        reason: row.get(5)?,
                        message: row.get(6)?,
                    })
                },
            )
        })
    }
}

/// The largest char boundary at or below [`MAX_EVENT_MESSAGE_BYTES`].
fn floor_boundary(text: &str) -> usize {
    (0..=MAX_EVENT_MESSAGE_BYTES.min(text.len()))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}
