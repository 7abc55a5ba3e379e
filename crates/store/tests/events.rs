//! Kubernetes events kept with an execution: each once, masked, bounded, in time order.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestStore, new_execution};
use testwerk_store::{ClusterEvent, StoreError, Timestamp};

on_both_databases!(
    a_schedule_tick_is_claimed_once,
    event_messages_are_masked_and_bounded,
    an_event_seen_again_is_stored_once_and_a_repeat_of_it_again,
    events_of_an_unknown_execution_are_not_found
);

fn event(uid: &str, count: u64, at_ms: i64, reason: &str, message: &str) -> ClusterEvent {
    ClusterEvent {
        uid: uid.into(),
        count,
        time: Timestamp::from_unix_millis(1_790_000_000_000 + at_ms),
        warning: reason.starts_with("Failed"),
        object: "Pod/hello-1-abcde".into(),
        reason: reason.into(),
        message: message.into(),
    }
}

fn an_event_seen_again_is_stored_once_and_a_repeat_of_it_again(t: TestStore) {
    let store = t.store;
    let id = store.create_execution(new_execution("w")).unwrap().id;
    let pull = event("u1", 1, 10, "FailedPull", "image not found");
    assert_eq!(
        store
            .record_events(&id, std::slice::from_ref(&pull))
            .unwrap(),
        [true]
    );
    let again = event("u1", 2, 20, "FailedPull", "image not found");
    let scheduled = event("u0", 1, 0, "Scheduled", "assigned to node");
    assert_eq!(
        store
            .record_events(&id, &[pull.clone(), again.clone(), scheduled.clone()])
            .unwrap(),
        [false, true, true],
        "the same uid and count adds nothing; a repeat Kubernetes counted does"
    );
    assert!(store.record_events(&id, &[]).unwrap().is_empty());

    let events = store.events("w-1").unwrap();
    assert_eq!(events, vec![scheduled, pull, again], "oldest first");
}

fn event_messages_are_masked_and_bounded(t: TestStore) {
    let store = &t.store;
    let mut new = new_execution("w");
    new.secrets = vec!["s3cr3t-value".into()];
    let id = store.create_execution(new).unwrap().id;
    let events = [
        event("u1", 1, 0, "Failed", "env TOKEN=s3cr3t-value rejected"),
        event("u2", 1, 1, "Failed", &"é".repeat(5000)),
    ];
    store.record_events(&id, &events).unwrap();

    let events = store.events(&id).unwrap();
    assert_eq!(events[0].message, "env TOKEN=****ue rejected");
    assert!(events[1].message.len() <= 4096 + '…'.len_utf8());
    assert!(events[1].message.ends_with('…'));
    let stored = t.scalar("SELECT count(*) FROM events WHERE message LIKE '%s3cr3t%'");
    assert_eq!(stored, "0", "the secret never reaches the database");
}

fn events_of_an_unknown_execution_are_not_found(t: TestStore) {
    let store = t.store;
    assert!(matches!(
        store.events("nope-1"),
        Err(StoreError::NotFound { .. })
    ));
    assert!(
        store
            .record_events("0123456789abcdef01234567", &[event("u", 1, 0, "X", "y")])
            .is_err()
    );
}

/// Each tick of a schedule is claimed once, by whichever of several stores (agents) comes
/// first; other keys and ticks are independent.
fn a_schedule_tick_is_claimed_once(t: TestStore) {
    let store = &t.store;
    let other = testwerk_store::Store::open(&t.location).unwrap();
    let tick = Timestamp::from_unix_millis(1_790_000_000_000);
    let claims: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let store = if i % 2 == 0 { store } else { &other };
                s.spawn(move || store.claim_tick("ns/nightly/0", tick).unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(claims.iter().filter(|c| **c).count(), 1, "{claims:?}");
    assert!(
        store.claim_tick("ns/nightly/1", tick).unwrap(),
        "another event"
    );
    let later = Timestamp::from_unix_millis(1_790_000_060_000);
    assert!(
        other.claim_tick("ns/nightly/0", later).unwrap(),
        "the next tick"
    );
    assert!(!store.claim_tick("ns/nightly/0", later).unwrap());
    assert!(store.claim_tick("", tick).is_err());
}
