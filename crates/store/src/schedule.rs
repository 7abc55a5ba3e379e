//! Schedule ticks: which tick of which cron event has been claimed, so that every tick starts
//! one execution however many agents (replicas) share the store.

use crate::error::StoreError;
use crate::store::Store;
use crate::time::Timestamp;

/// Claims older than this (before the tick being claimed) are deleted with each claim: a
/// replica whose clock is that far behind has bigger problems.
const KEEP_MILLIS: i64 = 24 * 60 * 60 * 1000;

impl Store {
    /// Claims tick `tick` of the schedule `key` (say `<namespace>/<workflow>/<event>`):
    /// `true` for exactly one caller per key and tick, whoever comes first.
    pub fn claim_tick(&self, key: &str, tick: Timestamp) -> Result<bool, StoreError> {
        if key.is_empty() {
            return Err(StoreError::InvalidInput(
                "a schedule tick needs a non-empty key".to_owned(),
            ));
        }
        let cutoff = Timestamp::from_unix_millis(tick.unix_millis() - KEEP_MILLIS).to_string();
        let (tick, now) = (tick.to_string(), Timestamp::now().to_string());
        self.write(|tx| {
            tx.execute(
                "DELETE FROM schedule_ticks WHERE key = ?1 AND tick < ?2",
                &[key.into(), (&cutoff).into()],
            )?;
            let claimed = tx.execute(
                "INSERT INTO schedule_ticks (key, tick, claimed_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
                &[key.into(), (&tick).into(), (&now).into()],
            )?;
            Ok(claimed == 1)
        })
    }
}
