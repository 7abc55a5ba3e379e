//! Leadership among replicas (`--leader-election`): one `coordination.k8s.io` Lease,
//! `testwerk-agent`, in the namespace.
//!
//! Only the leader is ready (`GET /v1/ready`), so a Service sends it every request, the
//! toolkit's included. A standby still serves the API and the UI to whoever reaches it, and
//! records the executions it is asked for, for the leader to start (through the queue). Only
//! the leader starts and follows executions, runs the `TestWorkflowExecution` controller and
//! the schedules. A replica that
//! becomes leader first recovers, as after a restart ([`crate::recover`]): it follows every
//! unfinished execution again from what the store holds, so no log line is lost and no Job
//! is created twice (their names are deterministic).
//!
//! The leader renews the Lease every [`RENEW`]; another replica takes it once it has not been
//! renewed for [`LEASE`]. A leader that cannot renew for that long exits at once (its
//! supervisor, a Deployment, starts it again as a follower): two replicas must never follow
//! the same execution.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, ObjectMeta, PostParams};

use crate::Agent;

/// The Lease's name.
pub const LEASE_NAME: &str = "testwerk-agent";

/// How long a Lease not renewed stays its holder's.
pub const LEASE: Duration = Duration::from_secs(8);

/// How often the leader renews, and a follower looks.
pub const RENEW: Duration = Duration::from_secs(1);

/// Whether this replica leads.
#[derive(Debug)]
pub struct Leadership {
    /// Without election (one replica) it always leads.
    elected: bool,
    leads: AtomicBool,
    /// This replica's name in the Lease.
    pub identity: String,
}

impl Leadership {
    /// One replica, no election: it leads.
    pub fn sole() -> Leadership {
        Leadership {
            elected: false,
            leads: AtomicBool::new(true),
            identity: String::new(),
        }
    }

    /// A replica that leads once it holds the Lease.
    pub fn elected(identity: String) -> Leadership {
        Leadership {
            elected: true,
            leads: AtomicBool::new(false),
            identity,
        }
    }

    pub fn leads(&self) -> bool {
        self.leads.load(Ordering::SeqCst)
    }

    pub fn is_elected(&self) -> bool {
        self.elected
    }
}

/// This replica's identity: the Pod's name (`HOSTNAME` in Kubernetes) and process id.
pub fn identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .unwrap_or_else(|| "testwerk-agent".to_owned());
    format!("{}-{}", host.trim(), std::process::id())
}

/// Takes part in the election until the process ends; calls `lead` once, when this replica
/// becomes leader.
pub async fn run<F, Fut>(agent: Arc<Agent>, lead: F)
where
    F: FnOnce(Arc<Agent>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let api: Api<Lease> = Api::namespaced(agent.client.clone(), &agent.namespace);
    let me = agent.leadership.identity.clone();
    let mut lead = Some(lead);
    let mut renewed = Instant::now();
    loop {
        match try_hold(&api, &me).await {
            Ok(true) => {
                renewed = Instant::now();
                if !agent.leadership.leads.swap(true, Ordering::SeqCst) {
                    tracing::info!(identity = %me, "leading (Lease {LEASE_NAME})");
                    if let Some(lead) = lead.take() {
                        tokio::spawn(lead(agent.clone()));
                    }
                }
            }
            Ok(false) => {
                if agent.leadership.leads() {
                    lost(&me, "another replica holds the Lease");
                }
            }
            Err(e) => {
                if agent.leadership.leads() && renewed.elapsed() >= LEASE {
                    lost(
                        &me,
                        &format!("the Lease could not be renewed for {LEASE:?}: {e}"),
                    );
                }
                tracing::warn!(identity = %me, error = %e, "Lease {LEASE_NAME}");
            }
        }
        tokio::time::sleep(RENEW).await;
    }
}

/// A leader that lost the Lease stops at once: another replica follows its executions now.
fn lost(me: &str, why: &str) -> ! {
    tracing::error!(identity = %me, "no longer leading ({why}); exiting so that only the new leader follows executions");
    std::process::exit(3)
}

/// Renews the Lease if this replica holds it, takes it if it is free or expired; `true` when
/// this replica holds it afterwards. Every write carries the version read, so of two replicas
/// taking an expired Lease only one succeeds.
async fn try_hold(api: &Api<Lease>, me: &str) -> Result<bool, kube::Error> {
    let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
    let seconds = i32::try_from(LEASE.as_secs()).unwrap_or(i32::MAX);
    let Some(mut lease) = api.get_opt(LEASE_NAME).await? else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(LEASE_NAME.to_owned()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(me.to_owned()),
                lease_duration_seconds: Some(seconds),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                lease_transitions: Some(0),
                ..Default::default()
            }),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(e),
        };
    };
    let spec = lease.spec.get_or_insert_with(Default::default);
    let holder = spec.holder_identity.clone().unwrap_or_default();
    if holder != me {
        let duration = spec.lease_duration_seconds.map_or(LEASE, |s| {
            Duration::from_secs(u64::try_from(s).unwrap_or(0))
        });
        let expired = spec.renew_time.as_ref().is_none_or(|renewed| {
            let age = now.0.duration_since(renewed.0);
            age.as_secs_f64() > duration.as_secs_f64()
        });
        if !holder.is_empty() && !expired {
            return Ok(false);
        }
        spec.holder_identity = Some(me.to_owned());
        spec.acquire_time = Some(now.clone());
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
    }
    spec.lease_duration_seconds = Some(seconds);
    spec.renew_time = Some(now);
    match api
        .replace(LEASE_NAME, &PostParams::default(), &lease)
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if is_conflict(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(status) if status.code == 409)
}
