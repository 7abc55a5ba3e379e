//! Following one execution to its end: wait for each container of the Pod in the order the
//! kubelet runs them, stream its log through the [`Tracker`], and settle what the containers
//! could not report from what Kubernetes says (spec §6.3). Then record the outcome and clean
//! up.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{AsyncBufRead, AsyncBufReadExt};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use kube::api::{Api, DeleteParams, LogParams};
use testwerk_protocol::line::StepStatus;
use testwerk_results::heal::{self, Ending};
use testwerk_results::{Recorder, Tracker, Update};
use testwerk_store::ExecutionStatus;

use crate::Agent;
use crate::blueprint::{Blueprint, ContainerPlan};
use crate::events::EventRelay;
use crate::failure::{self, Trouble};
use crate::live::{Live, Outcome};

/// How often a monitor looks again when no change arrived.
const RECHECK: Duration = Duration::from_secs(2);
/// How long a log line may wait in memory before it is written to the store.
const LOG_FLUSH: Duration = Duration::from_millis(100);
/// How long a container may wait for the kubelet's own retries (its Secret and ConfigMap
/// caches syncing) before the execution fails.
const RETRYING_LIMIT: Duration = Duration::from_secs(90);
/// How often, and how long apart at first (doubling), the end of an execution is written
/// again while the store refuses it.
const STORE_ATTEMPTS: u32 = 6;
const STORE_FIRST_WAIT: Duration = Duration::from_secs(1);
/// When an execution whose results the store refused is followed again (from the start of
/// its logs, skipping what the store has).
pub const FOLLOW_AGAIN_AFTER: Duration = Duration::from_secs(15);

/// Follows the execution until it ends, records the outcome and cleans up.
pub async fn follow(agent: Arc<Agent>, live: Arc<Live>, blueprint: Blueprint, token: String) {
    let store = agent.store.clone();
    let id = live.id.clone();
    let mut tracker = Tracker::new(&blueprint.full_signature, &blueprint.signature, &token);
    let mut recorder = Recorder::new(&store, &id);
    // What the store has decides what is written: without knowing it, a replay would store
    // lines twice. Unreadable now: try again later.
    let known = store
        .execution(&id)
        .and_then(|d| Ok((d, store.log_count(&id)?)));
    match known {
        Ok((Some(detail), stored_logs)) => {
            recorder.resume(
                usize::try_from(stored_logs).unwrap_or(usize::MAX),
                &detail.steps,
            );
        }
        Ok((None, _)) => {
            tracing::error!(execution = %live.name, "the execution is no longer in the store; not following it");
            agent.clear_store_trouble(&id);
            live.detach();
            agent.forget(&live.id);
            return;
        }
        Err(e) => {
            tracing::error!(execution = %live.name, error = %e, "cannot read what the store holds of the execution");
            follow_again_later(&agent, &live, blueprint, token);
            return;
        }
    }
    if let Err(e) = store.set_status(&id, ExecutionStatus::Running, None) {
        // Its end is written with retries below; the status says `queued` until then.
        tracing::warn!(execution = %live.name, error = %e, "cannot mark the execution running");
    }
    crate::twe::mirror(&agent, &live, None).await;
    let again = blueprint.clone();

    let mut sink = Sink {
        agent: &agent,
        recorder: &mut recorder,
        live: &live,
        store_warned: false,
    };
    let mut relay = EventRelay::default();
    let ending = follow_containers(
        &agent,
        &live,
        &blueprint,
        &mut tracker,
        &mut sink,
        &mut relay,
    )
    .await;
    // The events that explain the ending (a deadline, a kill) are in by now, or nearly.
    relay_events(&agent, &live, &blueprint.resource, &mut relay);
    let ending = match ending {
        Some(e) => Some(e),
        None if !tracker.all_finished() => Some(Ending::aborted(
            "the Pod ended before every step reported its result",
        )),
        None => None,
    };
    if let Some(e) = &ending {
        let mut updates = Vec::new();
        heal::heal(&mut tracker, e, &mut |u| updates.push(u));
        emit_all(&mut sink, &tracker, updates);
    }
    let status = testwerk_results::tracker_status(&tracker);
    let reason = ending.map(|e| e.reason);
    if let Err(not_stored) =
        store_outcome(&mut recorder, &store, &live, status, reason.as_deref()).await
    {
        // Finished-with-holes would be a lie: the execution stays unfinished (and its
        // objects stay) until the store takes everything.
        agent.note_store_trouble(
            &id,
            format!(
                "{not_stored}; the execution stays unfinished, and the agent reads its logs again every {} s until the store takes them",
                FOLLOW_AGAIN_AFTER.as_secs()
            ),
        );
        tracing::error!(
            execution = %live.name,
            "{not_stored}; the execution stays unfinished and is followed again in {} s",
            FOLLOW_AGAIN_AFTER.as_secs()
        );
        follow_again_later(&agent, &live, again, token);
        return;
    }
    agent.clear_store_trouble(&id);
    let outcome = Outcome { status, reason };
    // Workers and services outlive no step of their parent.
    crate::children::settle(&agent, &live.id).await;
    crate::twe::mirror(&agent, &live, Some(&outcome)).await;
    if agent.config.cleanup.applies(status)
        && let Err(e) =
            crate::objects::delete_all(&agent.client, &agent.namespace, &live.resource).await
    {
        tracing::warn!(execution = %live.name, error = %e, "cleaning up");
    }
    live.finish(outcome);
    agent.forget(&live.id);
}

/// The end of an execution that the store did not take: what it lacks, and its latest
/// refusal.
#[derive(Debug)]
pub struct NotStored {
    /// What the store does not hold.
    pub unsaved: testwerk_results::Unsaved,
    /// The store's latest refusal (it names the store's file and why: a full disk, say).
    pub cause: Option<String>,
}

impl std::fmt::Display for NotStored {
    /// `the results store did not take 9,800 of 30,000 log lines: <the store's error>`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.unsaved.is_empty() {
            f.write_str("the results store did not take the execution's final status")?;
        } else {
            write!(f, "the results store did not take {}", self.unsaved)?;
        }
        match &self.cause {
            Some(cause) => write!(f, ": {cause}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for NotStored {}

/// Writes everything the recorder holds and the execution's final status, trying again with
/// growing waits while the store refuses; `Err` when it still refuses (or log lines were
/// lost, which only reading the logs again can repair).
pub async fn store_outcome(
    recorder: &mut Recorder<'_>,
    store: &testwerk_store::Store,
    live: &Live,
    status: ExecutionStatus,
    reason: Option<&str>,
) -> Result<(), NotStored> {
    let mut wait = STORE_FIRST_WAIT;
    let mut cause = None;
    for attempt in 1..=STORE_ATTEMPTS {
        let written = match recorder.flush() {
            Ok(()) if recorder.lost_logs() => break,
            Ok(()) => store
                .set_status(&live.id, status, reason)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.source.to_string()),
        };
        match written {
            Ok(()) => return Ok(()),
            Err(e) => {
                let next = if attempt < STORE_ATTEMPTS {
                    format!("retrying in {} s", wait.as_secs())
                } else {
                    "giving up for now".to_owned()
                };
                tracing::warn!(
                    execution = %live.name,
                    attempt,
                    error = %e,
                    "the results store refused the execution's results; {next}"
                );
                cause = Some(e);
            }
        }
        if attempt < STORE_ATTEMPTS {
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
    let unsaved = recorder.unsaved();
    Err(NotStored {
        cause: cause.or_else(|| unsaved.error.clone()),
        unsaved,
    })
}

/// Stops following `live` for now and follows it again after [`FOLLOW_AGAIN_AFTER`], as a
/// restarted agent would: from the start of its logs, storing what the store lacks.
fn follow_again_later(agent: &Arc<Agent>, live: &Arc<Live>, blueprint: Blueprint, token: String) {
    live.detach();
    agent.forget(&live.id);
    let agent = agent.clone();
    let (id, name, owner) = (live.id.clone(), live.name.clone(), live.owner.clone());
    tokio::spawn(async move {
        tokio::time::sleep(FOLLOW_AGAIN_AFTER).await;
        tracing::info!(execution = %name, "following again");
        crate::submit::attach(&agent, &id, &name, blueprint, token, owner);
    });
}

/// Where updates go: the store and whoever watches.
struct Sink<'a, 'b> {
    agent: &'a Agent,
    recorder: &'a mut Recorder<'b>,
    live: &'a Live,
    /// Whether a refusal of the store was logged already (once per follow; the end says
    /// what is missing).
    store_warned: bool,
}

impl Sink<'_, '_> {
    fn emit(&mut self, tracker: &Tracker, update: Update) {
        let recorded = self.recorder.record(tracker, &update);
        self.stored(recorded);
        self.live.publish(&update);
    }

    /// Logs the first refusal of the store; what it refused stays in the recorder, which
    /// writes it again with the next flush.
    fn stored(&mut self, result: Result<(), testwerk_results::RecordError>) {
        if let Err(e) = result
            && !std::mem::replace(&mut self.store_warned, true)
        {
            tracing::warn!(execution = %self.live.name, error = %e, "the results store refused a write; keeping it to write again");
            // Whoever looks at the execution meanwhile learns why its results lag.
            self.agent.note_first_store_trouble(
                &self.live.id,
                format!("{e}; the agent keeps what it refused and writes it again"),
            );
        }
    }
}

fn emit_all(sink: &mut Sink<'_, '_>, tracker: &Tracker, updates: Vec<Update>) {
    for u in updates {
        sink.emit(tracker, u);
    }
}

/// Runs through the containers; `Some` when the execution stopped for a cause outside the
/// steps.
async fn follow_containers(
    agent: &Agent,
    live: &Live,
    blueprint: &Blueprint,
    tracker: &mut Tracker,
    sink: &mut Sink<'_, '_>,
    relay: &mut EventRelay,
) -> Option<Ending> {
    let mut watch = Watch {
        agent,
        live,
        blueprint,
        relay,
        saw_pod: false,
        saw_job: false,
        pending_since: None,
        warned: false,
        changes: agent.view.changed(),
    };
    for (index, container) in blueprint.containers.iter().enumerate() {
        let pod = match watch.until_started(container).await {
            Started::Yes(pod) => pod,
            Started::Stopped(ending) => return Some(attribute(ending, tracker, blueprint, index)),
        };
        stream_logs(
            agent,
            &blueprint.resource,
            &pod,
            container,
            tracker,
            sink,
            watch.relay,
        )
        .await;
        watch.relay_events();
        let mut updates = Vec::new();
        tracker.finish(&mut |u| updates.push(u));
        emit_all(sink, tracker, updates);

        // The container is done (or its Pod is gone): what it could not say itself.
        let pod = watch.settled_pod(container).await;
        let status = pod
            .as_ref()
            .and_then(|p| container_status(p, &container.name));
        if let Some(message) = status.as_ref().and_then(failure::termination_message) {
            let mut updates = Vec::new();
            heal::apply_termination(tracker, &container.end_refs, message, &mut |u| {
                updates.push(u)
            });
            emit_all(sink, tracker, updates);
        }
        // Steps this container should have ended and did not. A group started here may go
        // on in the next container (its end is there), so it is not open yet.
        let open = container
            .end_refs
            .iter()
            .any(|r| tracker.steps.get(r).is_some_and(|s| s.status.is_none()));
        // Stopped from outside: a user's abort, or someone deleted the Pod.
        let stopped = if live.abort_requested() {
            Some("aborted by the user".to_owned())
        } else if pod.as_ref().is_none_or(is_deleting) {
            // Kubernetes deletes the Pod itself when the Job's deadline passes: its reason
            // wins over "deleted".
            Some(watch.why_deleted().await)
        } else {
            None
        };
        let cause = stopped.clone().or_else(|| {
            status.as_ref().and_then(|s| {
                failure::termination_cause(
                    s,
                    memory_limit(pod.as_ref(), &container.name).as_deref(),
                )
            })
        });
        if let Some(cause) = cause {
            // Steps that ended killed by it say so.
            for r in &container.steps {
                if tracker.steps.get(r).is_some_and(|s| {
                    matches!(s.status, Some(StepStatus::Failed | StepStatus::Aborted))
                        && s.code == Some(137)
                }) {
                    let note = if stopped.is_some() {
                        format!("The execution has been aborted. ({cause})")
                    } else {
                        cause.clone()
                    };
                    let annotated = sink.recorder.annotate(r, &note);
                    sink.stored(annotated);
                }
            }
            if stopped.is_some() {
                return Some(Ending::aborted(cause));
            }
            if open {
                return Some(Ending::failed(cause));
            }
        }
        if open {
            return Some(Ending::aborted(format!(
                "container {} ended before its steps reported a result",
                container.name
            )));
        }
        if tracker.root.is_some() {
            break;
        }
    }
    None
}

/// A cause that hit a container before it started belongs to the first step it runs (its
/// image could not be pulled, its config is missing).
fn attribute(mut ending: Ending, tracker: &Tracker, blueprint: &Blueprint, index: usize) -> Ending {
    if let Some(first) = blueprint
        .containers
        .get(index)
        .and_then(|c| c.steps.first())
        && let Some(step) = tracker.steps.get(first)
        && step.status.is_none()
        && ending.status == StepStatus::Failed
    {
        ending.reason = format!("{} (step `{}`)", ending.reason, step.name);
    }
    ending
}

enum Started {
    Yes(Box<Pod>),
    Stopped(Ending),
}

struct Watch<'a> {
    agent: &'a Agent,
    live: &'a Live,
    blueprint: &'a Blueprint,
    relay: &'a mut EventRelay,
    saw_pod: bool,
    saw_job: bool,
    /// Since when the Pod has shown a trouble that may clear up by itself.
    pending_since: Option<tokio::time::Instant>,
    warned: bool,
    changes: tokio::sync::watch::Receiver<u64>,
}

impl Watch<'_> {
    fn relay_events(&mut self) {
        relay_events(self.agent, self.live, &self.blueprint.resource, self.relay);
    }

    /// Relays new events, then waits for a change (or [`RECHECK`]).
    async fn wait(&mut self) {
        self.relay_events();
        // Either way (a change, or RECHECK passed) the caller looks again: nothing is lost.
        let _ = tokio::time::timeout(RECHECK, self.changes.changed()).await;
    }

    /// Waits until `container` runs or ran; or until the execution cannot go on.
    async fn until_started(&mut self, container: &ContainerPlan) -> Started {
        let resource = &self.blueprint.resource;
        loop {
            let job = self.agent.view.job(resource);
            let pod = self.agent.view.pod(resource);
            self.saw_job |= job.is_some();
            self.saw_pod |= pod.is_some();
            if self.live.abort_requested() {
                return Started::Stopped(Ending::aborted("aborted by the user"));
            }
            if self.saw_job && job.is_none() && pod.is_none() {
                return Started::Stopped(Ending::aborted("the Job was deleted"));
            }
            // A container that runs or ran has a log to read first, whatever happens next.
            if let Some(pod) = &pod
                && let Some(status) = container_status(pod, &container.name)
                && status
                    .state
                    .as_ref()
                    .is_some_and(|s| s.running.is_some() || s.terminated.is_some())
            {
                return Started::Yes(Box::new(pod.clone()));
            }
            if self.saw_pod && (pod.is_none() || pod.as_ref().is_some_and(is_deleting)) {
                // Gone before this container ran: the Job's deadline may be why, and it is
                // the reason to tell (a slow image pull under an 8 s deadline does this).
                return Started::Stopped(Ending::aborted(self.why_deleted().await));
            }
            let trouble = failure::trouble(job.as_ref(), pod.as_ref());
            if trouble.as_ref().is_none_or(Trouble::is_fatal) {
                // Cleared up: a later trouble gets its full time again.
                self.pending_since = None;
            }
            if let Some(t) = trouble {
                if t.is_fatal() {
                    let ending = match &t {
                        Trouble::ImagePull { .. } | Trouble::CannotStart { .. } => {
                            Ending::failed(t.message())
                        }
                        _ => Ending::aborted(t.message()),
                    };
                    stop(self.agent, resource).await;
                    return Started::Stopped(ending);
                }
                let since = *self
                    .pending_since
                    .get_or_insert_with(tokio::time::Instant::now);
                if !self.warned {
                    self.warned = true;
                    self.live.publish(&Update::Warning {
                        message: t.message().to_owned(),
                    });
                }
                let limit = match t {
                    Trouble::Unschedulable { .. } => self.agent.config.unschedulable_limit,
                    _ => RETRYING_LIMIT,
                };
                if since.elapsed() > limit {
                    stop(self.agent, resource).await;
                    return Started::Stopped(Ending::failed(format!(
                        "{} (waited {} s)",
                        t.message(),
                        limit.as_secs()
                    )));
                }
            }
            self.wait().await;
        }
    }

    /// Why the Pod went: the Job's deadline (or another Job failure), if the Job says so
    /// within a few seconds; otherwise someone deleted it.
    async fn why_deleted(&mut self) -> String {
        for _ in 0..5 {
            let job = self.agent.view.job(&self.blueprint.resource);
            let pod = self.agent.view.pod(&self.blueprint.resource);
            if let Some(t) = failure::trouble(job.as_ref(), pod.as_ref())
                && t.is_fatal()
            {
                return t.message().to_owned();
            }
            if job.is_none() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        "the Pod was deleted".to_owned()
    }

    /// The Pod once `container` has terminated, or `None` once the Pod is gone.
    async fn settled_pod(&mut self, container: &ContainerPlan) -> Option<Pod> {
        for _ in 0..30 {
            let pod = self.agent.view.pod(&self.blueprint.resource)?;
            let done = container_status(&pod, &container.name)
                .and_then(|s| s.state)
                .is_some_and(|s| s.terminated.is_some());
            if done {
                return Some(pod);
            }
            self.wait().await;
        }
        self.agent.view.pod(&self.blueprint.resource)
    }
}

/// Stores the new events of the execution's Job and Pod (the monitor calls it whenever it
/// looks at them, and every [`RECHECK`] while a container runs).
fn relay_events(agent: &Agent, live: &Live, resource: &str, relay: &mut EventRelay) {
    let pod = agent.view.pod(resource);
    relay.track(
        resource,
        pod.as_ref().and_then(|p| p.metadata.name.as_deref()),
    );
    relay.relay(&agent.view.events, &agent.store, live);
}

fn is_deleting(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

fn container_status(pod: &Pod, name: &str) -> Option<ContainerStatus> {
    let status = pod.status.as_ref()?;
    status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
        .find(|c| c.name == name)
        .cloned()
}

fn memory_limit(pod: Option<&Pod>, name: &str) -> Option<String> {
    let spec = pod?.spec.as_ref()?;
    let c = spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .find(|c| c.name == name)?;
    c.resources
        .as_ref()?
        .limits
        .as_ref()?
        .get("memory")
        .map(|q| q.0.clone())
}

/// Stops the execution's Pod for good: the Job goes (its Pod with it).
async fn stop(agent: &Agent, resource: &str) {
    let jobs: Api<k8s_openapi::api::batch::v1::Job> =
        Api::namespaced(agent.client.clone(), &agent.namespace);
    let params = DeleteParams::background();
    if let Err(e) = jobs.delete(resource, &params).await
        && !crate::objects::is_not_found(&e)
    {
        tracing::warn!(job = resource, error = %e, "stopping the execution's Job");
    }
}

/// Streams the container's log into the tracker until it ends. A broken stream is opened
/// again and what was read already is skipped (the kubelet serves the same bytes again).
async fn stream_logs(
    agent: &Agent,
    resource: &str,
    pod: &Pod,
    container: &ContainerPlan,
    tracker: &mut Tracker,
    sink: &mut Sink<'_, '_>,
    relay: &mut EventRelay,
) {
    let Some(pod_name) = pod.metadata.name.clone() else {
        return;
    };
    let pods: Api<Pod> = Api::namespaced(agent.client.clone(), &agent.namespace);
    let mut fed: usize = 0;
    for attempt in 0..20u32 {
        let params = LogParams {
            container: Some(container.name.clone()),
            follow: true,
            ..Default::default()
        };
        let mut skip = fed;
        match pods.log_stream(&pod_name, &params).await {
            Ok(stream) => {
                let mut stream = std::pin::pin!(stream);
                let mut relayed = tokio::time::Instant::now();
                loop {
                    // What the cluster says while the container runs (a probe failing, a
                    // kill coming) shows live too, not only once the container is over.
                    if relayed.elapsed() >= RECHECK {
                        relay_events(agent, sink.live, resource, relay);
                        relayed = tokio::time::Instant::now();
                    }
                    // Lines waiting to be written go to the store once the stream is quiet;
                    // a silent container is looked at again for events.
                    let quiet = if sink.recorder.has_pending() {
                        LOG_FLUSH
                    } else {
                        RECHECK
                    };
                    let read = match tokio::time::timeout(quiet, stream.as_mut().fill_buf()).await {
                        Ok(r) => r.map(<[u8]>::to_vec),
                        Err(_) => {
                            let flushed = sink.recorder.flush();
                            sink.stored(flushed);
                            continue;
                        }
                    };
                    let chunk = match read {
                        Ok(bytes) if bytes.is_empty() => break,
                        Err(_) => break,
                        Ok(bytes) => bytes,
                    };
                    AsyncBufRead::consume(stream.as_mut(), chunk.len());
                    let fresh = if skip >= chunk.len() {
                        skip -= chunk.len();
                        continue;
                    } else {
                        let f = &chunk[skip..];
                        skip = 0;
                        f
                    };
                    fed += fresh.len();
                    let mut updates = Vec::new();
                    tracker.feed(fresh, &mut |u| updates.push(u));
                    emit_all(sink, tracker, updates);
                    let flushed = sink.recorder.flush_if_older(LOG_FLUSH);
                    sink.stored(flushed);
                }
            }
            Err(e) if crate::objects::is_not_found(&e) => return,
            Err(e) => {
                if attempt > 3 {
                    tracing::warn!(pod = %pod_name, container = %container.name, error = %e, "reading the log (retrying)");
                }
            }
        }
        // Ended: because the container did, or the connection broke?
        let terminated = agent
            .view
            .pod(resource)
            .map(|p| {
                container_status(&p, &container.name)
                    .and_then(|s| s.state)
                    .is_none_or(|s| s.terminated.is_some())
            })
            .unwrap_or(true);
        if terminated {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt + 1))).await;
    }
}
