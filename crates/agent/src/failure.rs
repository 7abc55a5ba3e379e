//! What went wrong outside the steps, read from the Job and its Pod: the cause a person needs,
//! and the container it hit (so the right step carries it). Pure functions of the objects, so
//! every case is a unit test.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

/// A failure the Pod's containers could not report themselves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trouble {
    /// The image of container `container` cannot be pulled.
    ImagePull { container: String, message: String },
    /// The container cannot be created (a missing Secret or ConfigMap, a bad command).
    CannotStart { container: String, message: String },
    /// The container cannot be created yet, for a reason the kubelet retries by itself (its
    /// Secret and ConfigMap caches have not synced: common right after a namespace is made,
    /// or on a busy node).
    Retrying { container: String, message: String },
    /// The Pod cannot be placed on a node.
    Unschedulable { message: String },
    /// The Job's or the Pod's `activeDeadlineSeconds` passed.
    Deadline { message: String },
    /// The node went away or the Pod was evicted.
    Disrupted { message: String },
    /// The Job failed for another reason.
    JobFailed { message: String },
    /// An init container ran out of memory: even when its step's failure was allowed (and
    /// `init` itself exited 0), the kubelet counts it as failed and never starts the next
    /// container, so the Pod would wait forever.
    Stuck { message: String },
}

impl Trouble {
    /// Whether the steps must be stopped: the Pod will never finish on its own. The others
    /// may clear up, so they are given time.
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            Trouble::Unschedulable { .. } | Trouble::Retrying { .. }
        )
    }

    /// The container it concerns, if one.
    pub fn container(&self) -> Option<&str> {
        match self {
            Trouble::ImagePull { container, .. }
            | Trouble::CannotStart { container, .. }
            | Trouble::Retrying { container, .. } => Some(container),
            _ => None,
        }
    }

    /// The text for people.
    pub fn message(&self) -> &str {
        match self {
            Trouble::ImagePull { message, .. }
            | Trouble::CannotStart { message, .. }
            | Trouble::Retrying { message, .. }
            | Trouble::Unschedulable { message }
            | Trouble::Deadline { message }
            | Trouble::Disrupted { message }
            | Trouble::JobFailed { message }
            | Trouble::Stuck { message } => message,
        }
    }
}

/// Waiting reasons that never resolve by waiting.
const PULL_FAILURES: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
];
/// Pull failures the kubelet retries and that pass by themselves: its own rate limit
/// (`registryPullQPS`), hit when many Pods start on a node that lacks their images (each image
/// volume is a pull too).
const TRANSIENT_PULL_FAILURES: &[&str] = &["pull QPS exceeded"];
const START_FAILURES: &[&str] = &[
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// The first trouble the Job or Pod shows, if any.
pub fn trouble(job: Option<&Job>, pod: Option<&Pod>) -> Option<Trouble> {
    if let Some(t) = job.and_then(job_trouble) {
        return Some(t);
    }
    let pod = pod?;
    let status = pod.status.as_ref()?;
    match status.reason.as_deref() {
        Some("DeadlineExceeded") => {
            let seconds = pod.spec.as_ref().and_then(|s| s.active_deadline_seconds);
            return Some(Trouble::Deadline {
                message: match seconds {
                    Some(s) => format!("Pod timed out after {s} seconds"),
                    None => "Pod timed out".to_owned(),
                },
            });
        }
        Some(r @ ("NodeLost" | "Evicted" | "Shutdown" | "Terminated")) => {
            return Some(Trouble::Disrupted {
                message: format!(
                    "the Pod was stopped by Kubernetes ({r}): {}",
                    status.message.as_deref().unwrap_or("no details")
                ),
            });
        }
        _ => {}
    }
    for c in status.conditions.iter().flatten() {
        if c.type_ == "DisruptionTarget" && c.status == "True" {
            return Some(Trouble::Disrupted {
                message: format!(
                    "the Pod was disrupted ({}): {}",
                    c.reason.as_deref().unwrap_or("unknown reason"),
                    c.message.as_deref().unwrap_or("no details")
                ),
            });
        }
    }
    let inits = status
        .init_container_statuses
        .as_deref()
        .unwrap_or_default();
    for (i, c) in inits.iter().enumerate() {
        let oom = c
            .state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .is_some_and(|t| t.reason.as_deref() == Some("OOMKilled"));
        let next_waits = inits.get(i + 1).map_or_else(
            || {
                status
                    .container_statuses
                    .iter()
                    .flatten()
                    .any(|n| n.state.as_ref().is_none_or(|s| s.waiting.is_some()))
            },
            |n| n.state.as_ref().is_none_or(|s| s.waiting.is_some()),
        );
        if oom && next_waits && status.phase.as_deref() == Some("Pending") {
            return Some(Trouble::Stuck {
                message: format!(
                    "container {} ran out of memory (OOMKilled); Kubernetes runs no container \
                     after an init container that did, even when its step may fail",
                    c.name
                ),
            });
        }
    }
    let containers = inits
        .iter()
        .chain(status.container_statuses.iter().flatten());
    for c in containers {
        if let Some(t) = container_trouble(c) {
            return Some(t);
        }
    }
    for c in status.conditions.iter().flatten() {
        if c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
        {
            return Some(Trouble::Unschedulable {
                message: format!(
                    "the Pod cannot be scheduled: {}",
                    c.message.as_deref().unwrap_or("no node fits")
                ),
            });
        }
    }
    None
}

fn container_trouble(c: &ContainerStatus) -> Option<Trouble> {
    let waiting = c.state.as_ref()?.waiting.as_ref()?;
    let reason = waiting.reason.as_deref()?;
    let detail = waiting.message.as_deref().unwrap_or("no details");
    if PULL_FAILURES.contains(&reason) && TRANSIENT_PULL_FAILURES.iter().any(|t| detail.contains(t))
    {
        return Some(Trouble::Retrying {
            container: c.name.clone(),
            message: format!(
                "the image `{}` is not pulled yet ({reason}): {detail}",
                c.image
            ),
        });
    }
    if PULL_FAILURES.contains(&reason) {
        return Some(Trouble::ImagePull {
            container: c.name.clone(),
            message: format!(
                "the image `{}` cannot be pulled ({reason}): {detail}",
                c.image
            ),
        });
    }
    // "failed to sync secret cache: timed out waiting for the condition": the kubelet tries
    // again; a missing Secret or key ("not found", "couldn't find key") never fixes itself.
    if START_FAILURES.contains(&reason) && detail.contains("failed to sync") {
        return Some(Trouble::Retrying {
            container: c.name.clone(),
            message: format!("the container cannot start yet ({reason}): {detail}"),
        });
    }
    if START_FAILURES.contains(&reason) {
        return Some(Trouble::CannotStart {
            container: c.name.clone(),
            message: format!("the container cannot start ({reason}): {detail}"),
        });
    }
    None
}

fn job_trouble(job: &Job) -> Option<Trouble> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    let failed = conditions
        .iter()
        .find(|c| (c.type_ == "Failed" || c.type_ == "FailureTarget") && c.status == "True")?;
    match failed.reason.as_deref() {
        Some("DeadlineExceeded") => {
            let seconds = job.spec.as_ref().and_then(|s| s.active_deadline_seconds);
            Some(Trouble::Deadline {
                message: match seconds {
                    Some(s) => format!("Job timed out after {s} seconds"),
                    None => "Job timed out".to_owned(),
                },
            })
        }
        // The Pod failed: what happened to it is told by its containers, not by the Job.
        Some("BackoffLimitExceeded" | "PodFailurePolicy") => None,
        reason => Some(Trouble::JobFailed {
            message: format!(
                "the Job failed ({}): {}",
                reason.unwrap_or("no reason"),
                failed.message.as_deref().unwrap_or("no details")
            ),
        }),
    }
}

/// Why a container that terminated did so, when it was not the steps' own doing.
pub fn termination_cause(c: &ContainerStatus, memory_limit: Option<&str>) -> Option<String> {
    let t = c.state.as_ref()?.terminated.as_ref()?;
    match t.reason.as_deref() {
        Some("OOMKilled") => Some(testwerk_results::causes::oom_killed(memory_limit)),
        Some("Error") if t.exit_code == 137 => {
            Some("the container was killed (SIGKILL, exit code 137)".to_owned())
        }
        Some("Error") => Some(format!(
            "the container failed with exit code {} (Fatal Error)",
            t.exit_code
        )),
        _ => None,
    }
}

/// The container's termination message, if it wrote one.
pub fn termination_message(c: &ContainerStatus) -> Option<&str> {
    c.state.as_ref()?.terminated.as_ref()?.message.as_deref()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "1"}], "activeDeadlineSeconds": 7},
            "status": status,
        }))
        .expect("a Pod")
    }

    #[test]
    fn an_image_that_cannot_be_pulled_names_the_container_and_the_image() {
        let p = pod(json!({"containerStatuses": [{
            "name": "2", "image": "nope:1", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ErrImagePull", "message": "not found"}},
        }]}));
        let t = trouble(None, Some(&p)).expect("trouble");
        assert_eq!(t.container(), Some("2"));
        assert!(t.message().contains("`nope:1`"), "{}", t.message());
        assert!(t.message().contains("not found"), "{}", t.message());
        assert!(t.is_fatal());
    }

    #[test]
    fn the_kubelets_own_pull_rate_limit_is_waited_for() {
        for (reason, message) in [
            ("ErrImagePull", "pull QPS exceeded"),
            (
                "ImagePullBackOff",
                "Back-off pulling image \"alpine:3.22.0\": ErrImagePull: pull QPS exceeded",
            ),
        ] {
            let p = pod(json!({"containerStatuses": [{
                "name": "1", "image": "alpine:3.22.0", "imageID": "", "ready": false,
                "restartCount": 0, "state": {"waiting": {"reason": reason, "message": message}},
            }]}));
            let t = trouble(None, Some(&p)).expect("trouble");
            assert!(matches!(t, Trouble::Retrying { .. }), "{t:?}");
            assert!(!t.is_fatal());
        }
    }

    #[test]
    fn a_kubelet_cache_not_synced_yet_is_waited_for_but_a_missing_secret_is_not() {
        let waiting = |message: &str| {
            pod(json!({"containerStatuses": [{
                "name": "1", "image": "alpine", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "CreateContainerConfigError", "message": message}},
            }]}))
        };
        let t = trouble(
            None,
            Some(&waiting(
                "failed to sync secret cache: timed out waiting for the condition",
            )),
        )
        .expect("trouble");
        assert!(matches!(t, Trouble::Retrying { .. }), "{t:?}");
        assert!(!t.is_fatal());
        assert_eq!(t.container(), Some("1"));
        let t = trouble(None, Some(&waiting("secret \"creds\" not found"))).expect("trouble");
        assert!(matches!(t, Trouble::CannotStart { .. }), "{t:?}");
        assert!(t.is_fatal());
    }

    #[test]
    fn a_pod_deadline_says_how_long() {
        let p = pod(json!({"reason": "DeadlineExceeded", "message": "x"}));
        assert_eq!(
            trouble(None, Some(&p)),
            Some(Trouble::Deadline {
                message: "Pod timed out after 7 seconds".into()
            })
        );
    }

    #[test]
    fn a_job_deadline_says_how_long() {
        let job: Job = serde_json::from_value(json!({
            "metadata": {"name": "j"},
            "spec": {"activeDeadlineSeconds": 5, "template": {}},
            "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]},
        }))
        .expect("a Job");
        assert_eq!(
            trouble(Some(&job), None).map(|t| t.message().to_owned()),
            Some("Job timed out after 5 seconds".into())
        );
    }

    #[test]
    fn unschedulable_is_reported_but_not_fatal() {
        let p = pod(
            json!({"conditions": [{"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable", "message": "0/1 nodes are available: Insufficient memory."}]}),
        );
        let t = trouble(None, Some(&p)).expect("trouble");
        assert!(!t.is_fatal());
        assert!(t.message().contains("Insufficient memory"));
    }

    #[test]
    fn oom_names_the_limit() {
        let c: ContainerStatus = serde_json::from_value(json!({
            "name": "1", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "message": "p,0/a,137"}},
        }))
        .expect("a status");
        assert_eq!(
            termination_cause(&c, Some("16Mi")).as_deref(),
            Some("the container ran out of memory and was killed (OOMKilled; memory limit 16Mi)")
        );
        assert_eq!(termination_message(&c), Some("p,0/a,137"));
    }

    #[test]
    fn an_init_container_killed_for_memory_blocks_the_pod() {
        let p = pod(json!({"phase": "Pending",
        "initContainerStatuses": [{
            "name": "3", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 0, "reason": "OOMKilled"}},
        }],
        "containerStatuses": [{
            "name": "4", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "PodInitializing"}},
        }]}));
        let t = trouble(None, Some(&p)).expect("trouble");
        assert!(t.is_fatal());
        assert!(
            t.message().contains("container 3 ran out of memory"),
            "{}",
            t.message()
        );
    }

    #[test]
    fn a_healthy_pod_has_no_trouble() {
        let p = pod(json!({"phase": "Running"}));
        assert_eq!(trouble(None, Some(&p)), None);
    }
}
