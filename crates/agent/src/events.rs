//! Kubernetes events about our Jobs and Pods: one watch for the namespace, kept by the name of
//! the object they are about, and an [`EventRelay`] per execution that stores each event once
//! with its results and shows warnings live (spec §6.3: "watch the Job, its Pod and events").

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Event;
use kube::Client;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event as Change};
use testwerk_results::Update;
use testwerk_store::{ClusterEvent, Store, Timestamp};

use crate::live::Live;

/// At most this many events are kept per object: a crash-looping Pod repeats itself, and the
/// newest say the most.
const EVENTS_PER_OBJECT: usize = 32;

/// The namespace's events about Jobs and Pods, by object name.
pub type EventsByObject = Arc<Mutex<HashMap<String, Vec<Event>>>>;

/// Watches the namespace's events into `map` in the background.
pub fn spawn_watch(client: &Client, namespace: &str, map: EventsByObject) {
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    tokio::spawn(async move {
        let mut stream = watcher::watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        let mut fresh: Option<HashMap<String, Vec<Event>>> = None;
        while let Some(change) = stream.next().await {
            let change = match change {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "watching events failed (retrying)");
                    continue;
                }
            };
            match change {
                Change::Init => fresh = Some(HashMap::new()),
                Change::InitApply(e) => {
                    if let Some(f) = fresh.as_mut() {
                        keep(f, e);
                    }
                }
                Change::InitDone => {
                    if let (Some(f), Ok(mut m)) = (fresh.take(), map.lock()) {
                        *m = f;
                    }
                }
                Change::Apply(e) => {
                    if let Ok(mut m) = map.lock() {
                        keep(&mut m, e);
                    }
                }
                Change::Delete(e) => {
                    if let (Some(name), Ok(mut m)) = (about(&e), map.lock())
                        && let Some(list) = m.get_mut(&name)
                    {
                        list.retain(|x| x.metadata.uid != e.metadata.uid);
                        if list.is_empty() {
                            m.remove(&name);
                        }
                    }
                }
            }
        }
    });
}

/// The name of the Job or Pod an event is about; `None` for other kinds.
fn about(event: &Event) -> Option<String> {
    let object = &event.involved_object;
    matches!(object.kind.as_deref(), Some("Job" | "Pod"))
        .then(|| object.name.clone())
        .flatten()
}

fn keep(map: &mut HashMap<String, Vec<Event>>, event: Event) {
    let Some(name) = about(&event) else {
        return;
    };
    let list = map.entry(name).or_default();
    // The same event comes again with a higher count: the newer copy replaces it.
    list.retain(|x| x.metadata.uid != event.metadata.uid);
    list.push(event);
    if list.len() > EVENTS_PER_OBJECT {
        list.remove(0);
    }
}

/// How often the event happened (an event without a count happened once).
fn count_of(event: &Event) -> u64 {
    event.count.map_or(1, |c| u64::try_from(c).unwrap_or(1))
}

/// What the store keeps of an event; `None` for one without a uid (never from the API server).
pub fn to_record(event: &Event) -> Option<ClusterEvent> {
    let object = &event.involved_object;
    let time = event
        .last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| event.event_time.as_ref().map(|t| t.0))
        .or_else(|| event.metadata.creation_timestamp.as_ref().map(|t| t.0))
        .map_or_else(Timestamp::now, |t| {
            Timestamp::from_unix_millis(t.as_millisecond())
        });
    let mut what = format!(
        "{}/{}",
        object.kind.as_deref().unwrap_or("?"),
        object.name.as_deref().unwrap_or("?")
    );
    // `spec.containers{2}`: which container of the Pod it is about.
    if let Some(container) = object
        .field_path
        .as_deref()
        .and_then(|p| p.split_once('{'))
        .and_then(|(_, rest)| rest.strip_suffix('}'))
    {
        what = format!("{what} container {container}");
    }
    Some(ClusterEvent {
        uid: event.metadata.uid.clone()?,
        count: count_of(event),
        time,
        warning: event.type_.as_deref() == Some("Warning"),
        object: what,
        reason: event.reason.clone().unwrap_or_default(),
        message: event
            .message
            .clone()
            .unwrap_or_default()
            .trim_end()
            .to_owned(),
    })
}

/// Hands one execution's events to the store, each once, and shows new warnings live.
#[derive(Default)]
pub struct EventRelay {
    /// The names of the execution's Job and every Pod it had (a retried Pod is a new one).
    objects: HashSet<String>,
    /// The highest count of each event (by uid) handed over in this process: Kubernetes only
    /// ever raises it.
    seen: HashMap<String, u64>,
}

impl EventRelay {
    /// Follows the events of the Job `resource` and of `pod`, if it has one now.
    pub fn track(&mut self, resource: &str, pod: Option<&str>) {
        for name in std::iter::once(resource).chain(pod) {
            if !self.objects.contains(name) {
                self.objects.insert(name.to_owned());
            }
        }
    }

    /// Stores what is new. After a restart everything comes again: the store keeps each
    /// event once and says whether it was new, so warnings are not shown twice.
    pub fn relay(&mut self, events: &EventsByObject, store: &Store, live: &Live) {
        let fresh: Vec<ClusterEvent> = {
            let Ok(map) = events.lock() else {
                return;
            };
            self.objects
                .iter()
                .filter_map(|name| map.get(name))
                .flatten()
                .filter(|e| {
                    let uid = e.metadata.uid.as_deref().unwrap_or_default();
                    self.seen.get(uid).is_none_or(|&seen| seen < count_of(e))
                })
                .filter_map(to_record)
                .collect()
        };
        // One transaction for all of them: a hundred Pods starting at once make hundreds of
        // events, and the store is shared with submissions.
        match store.record_events(&live.id, &fresh) {
            Ok(new) => {
                for (event, new) in fresh.iter().zip(new) {
                    self.seen.insert(event.uid.clone(), event.count);
                    if new && event.warning {
                        live.publish(&Update::Warning {
                            message: format!(
                                "{}: {} ({})",
                                event.object, event.message, event.reason
                            ),
                        });
                    }
                }
            }
            // Not remembered as seen: the next relay hands them over again.
            Err(e) => {
                tracing::warn!(execution = %live.name, error = %e, "events not stored (retrying with the next relay)")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ObjectReference;
    use kube::api::ObjectMeta;

    fn pod_event(uid: &str, count: i32, field_path: Option<&str>) -> Event {
        Event {
            metadata: ObjectMeta {
                uid: Some(uid.into()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                kind: Some("Pod".into()),
                name: Some("hello-1-x7k2p".into()),
                field_path: field_path.map(str::to_owned),
                ..Default::default()
            },
            type_: Some("Warning".into()),
            reason: Some("Failed".into()),
            message: Some("Failed to pull image \"nope:1\": not found\n".into()),
            count: Some(count),
            ..Default::default()
        }
    }

    #[test]
    fn a_record_names_the_container_an_event_is_about() {
        let record =
            to_record(&pod_event("u", 3, Some("spec.initContainers{1}"))).expect("has a uid");
        assert_eq!(record.object, "Pod/hello-1-x7k2p container 1");
        assert_eq!(record.count, 3);
        assert!(record.warning);
        assert_eq!(record.message, "Failed to pull image \"nope:1\": not found");
        let record = to_record(&pod_event("u", 1, None)).expect("has a uid");
        assert_eq!(record.object, "Pod/hello-1-x7k2p");
    }

    #[test]
    fn a_repeated_event_replaces_its_older_copy_and_each_object_keeps_a_bounded_list() {
        let mut map = HashMap::new();
        keep(&mut map, pod_event("u", 1, None));
        keep(&mut map, pod_event("u", 2, None));
        assert_eq!(map["hello-1-x7k2p"].len(), 1);
        assert_eq!(map["hello-1-x7k2p"][0].count, Some(2));
        for n in 0..100 {
            keep(&mut map, pod_event(&format!("n{n}"), 1, None));
        }
        let list = &map["hello-1-x7k2p"];
        assert_eq!(list.len(), EVENTS_PER_OBJECT);
        assert_eq!(
            list.last().and_then(|e| e.metadata.uid.as_deref()),
            Some("n99")
        );
        let mut other = pod_event("c", 1, None);
        other.involved_object.kind = Some("ConfigMap".into());
        keep(&mut map, other);
        assert_eq!(map.len(), 1, "only Jobs and Pods");
    }
}
