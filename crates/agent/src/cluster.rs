//! [`ClusterView`]: one watch on the Pods, one on the Jobs of our executions and one on the
//! namespace's events, kept in memory for every monitor to read, instead of watches per
//! execution. Monitors wait on [`ClusterView::changed`] and look up their own objects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::events::EventsByObject;
use crate::objects::EXECUTION_LABEL;

/// The latest Pods and Jobs of our executions, by execution (resource id).
#[derive(Clone)]
pub struct ClusterView {
    pods: Arc<Mutex<HashMap<String, Pod>>>,
    jobs: Arc<Mutex<HashMap<String, Job>>>,
    /// Events about Jobs and Pods, by object name.
    pub events: EventsByObject,
    /// Bumped on every change; `ready` once both watches listed everything once.
    changes: watch::Sender<u64>,
    ready: watch::Sender<bool>,
}

impl ClusterView {
    /// Starts both watches in the background.
    pub fn start(client: &Client, namespace: &str) -> ClusterView {
        let view = ClusterView {
            pods: Arc::default(),
            jobs: Arc::default(),
            events: Arc::default(),
            changes: watch::channel(0).0,
            ready: watch::channel(false).0,
        };
        let listed = Arc::new(std::sync::atomic::AtomicU8::new(0));
        spawn_watch::<Pod>(
            Api::namespaced(client.clone(), namespace),
            view.pods.clone(),
            view.clone(),
            listed.clone(),
        );
        spawn_watch::<Job>(
            Api::namespaced(client.clone(), namespace),
            view.jobs.clone(),
            view.clone(),
            listed,
        );
        // Events wake no monitor: each relays them when its Pod or Job changes (or within
        // `RECHECK`); waking every monitor for every event of every Pod is what made a
        // hundred starting executions slow.
        crate::events::spawn_watch(client, namespace, view.events.clone());
        view
    }

    /// A receiver that sees every change.
    pub fn changed(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Waits until both watches have listed what exists.
    pub async fn wait_ready(&self) {
        let mut rx = self.ready.subscribe();
        // The sender lives in `self`: the wait ends only when ready.
        rx.wait_for(|r| *r).await.ok();
    }

    pub fn pod(&self, resource: &str) -> Option<Pod> {
        self.pods.lock().ok()?.get(resource).cloned()
    }

    pub fn job(&self, resource: &str) -> Option<Job> {
        self.jobs.lock().ok()?.get(resource).cloned()
    }

    /// Every execution that has a Job.
    pub fn job_names(&self) -> Vec<String> {
        self.jobs
            .lock()
            .map(|j| j.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn bump(&self) {
        self.changes.send_modify(|n| *n += 1);
    }
}

fn execution_of<K: Resource>(object: &K) -> Option<String> {
    object.meta().labels.as_ref()?.get(EXECUTION_LABEL).cloned()
}

fn spawn_watch<K>(
    api: Api<K>,
    map: Arc<Mutex<HashMap<String, K>>>,
    view: ClusterView,
    listed: Arc<std::sync::atomic::AtomicU8>,
) where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    tokio::spawn(async move {
        let config = watcher::Config::default().labels(EXECUTION_LABEL);
        // kube's backoff (exponential, with jitter) between failed attempts, reset once the
        // watch works again.
        let mut stream = watcher::watcher(api, config).default_backoff().boxed();
        let mut fresh: Option<HashMap<String, K>> = None;
        let mut counted = false;
        while let Some(event) = stream.next().await {
            let event = match event {
                Ok(e) => e,
                Err(e) => {
                    // The watcher retries by itself, after the backoff; say what happened.
                    tracing::warn!(kind = %K::kind(&()), error = %e, "watch failed (retrying)");
                    continue;
                }
            };
            match event {
                Event::Init => fresh = Some(HashMap::new()),
                Event::InitApply(o) => {
                    if let (Some(f), Some(k)) = (fresh.as_mut(), execution_of(&o)) {
                        f.insert(k, o);
                    }
                }
                Event::InitDone => {
                    if let (Some(f), Ok(mut m)) = (fresh.take(), map.lock()) {
                        *m = f;
                    }
                    if !counted {
                        counted = true;
                        let n = listed.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                        if n == 2 {
                            view.ready.send_replace(true);
                        }
                    }
                    view.bump();
                }
                Event::Apply(o) => {
                    if let (Some(k), Ok(mut m)) = (execution_of(&o), map.lock()) {
                        m.insert(k, o);
                    }
                    view.bump();
                }
                Event::Delete(o) => {
                    if let (Some(k), Ok(mut m)) = (execution_of(&o), map.lock()) {
                        // Only if it is the same object: a Job's replacement Pod may be newer.
                        if m.get(&k).and_then(|x| x.meta().uid.clone()) == o.meta().uid {
                            m.remove(&k);
                        }
                    }
                    view.bump();
                }
            }
        }
    });
}
