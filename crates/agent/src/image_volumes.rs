//! Whether execution Pods get our binaries as image volumes (`--image-volumes`).
//!
//! Kubernetes can mount an image read-only into a Pod (`volumes[].image`, the `ImageVolume`
//! feature: beta and off by default in 1.33 and 1.34, on from 1.35; the runtime needs
//! containerd 2.1+ or CRI-O 1.31+). Then every container mounts the init image and no setup
//! container copies `init`, the toolkit and the shell into the Pod: one container fewer per
//! execution whose first step runs a user's image.
//!
//! `auto` (the default) asks the cluster once, at start, with a probe Job that mounts the init
//! image and checks `init` is there: the API server may refuse or silently drop the volume
//! (feature gate off), the kubelet may never start the Pod, the runtime may start it without the
//! mount (containerd 1.x ignores what it does not know). Until the probe has answered, and
//! whenever it fails, executions use the setup copy, which works everywhere.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, Pod, PodSecurityContext, PodSpec, PodTemplateSpec,
    ResourceRequirements, SeccompProfile, SecurityContext,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use testwerk_plan::{BinaryDelivery, OwnImages, paths};

/// `--image-volumes`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ImageVolumes {
    /// Probe the cluster at start; copy until it answers yes.
    #[default]
    Auto,
    /// Always mount (the cluster is known to support it).
    On,
    /// Always copy (upstream's layout).
    Off,
}

/// How long the probe may take: the init image may have to be pulled first.
const PROBE_LIMIT: Duration = Duration::from_secs(90);

/// The delivery executions are compiled with now: set once the probe answers.
#[derive(Debug)]
pub struct Delivery {
    volumes: AtomicBool,
    /// The probe Job while it runs: deleted if the agent is stopped meanwhile.
    probing: Mutex<Option<String>>,
}

impl Delivery {
    pub fn new(mode: ImageVolumes) -> Delivery {
        Delivery {
            volumes: AtomicBool::new(mode == ImageVolumes::On),
            probing: Mutex::default(),
        }
    }

    pub fn current(&self) -> BinaryDelivery {
        if self.volumes.load(Ordering::Relaxed) {
            BinaryDelivery::ImageVolume
        } else {
            BinaryDelivery::Copy
        }
    }

    fn set(&self, volumes: bool) {
        self.volumes.store(volumes, Ordering::Relaxed);
    }
}

/// Runs the probe (for `auto`) and switches to image volumes if the cluster passes it; logs
/// the outcome either way.
pub async fn detect(agent: std::sync::Arc<crate::Agent>) {
    let started = Instant::now();
    let outcome = probe(
        &agent.client,
        &agent.namespace,
        &agent.config.images,
        agent.config.execution_service_account.as_deref(),
        &agent.delivery.probing,
    )
    .await;
    let secs = started.elapsed().as_secs_f64();
    match outcome {
        Ok(()) => {
            agent.delivery.set(true);
            tracing::info!(
                "image volumes: supported (probe passed in {secs:.1} s): Pods mount our images, no setup container copies them"
            );
        }
        Err(why) => tracing::info!(
            "image volumes: not supported ({why}; probe took {secs:.1} s): a setup container copies our binaries"
        ),
    }
}

/// Deletes the probe Job if the agent is stopped (SIGTERM: `helm uninstall`, a rollout) while
/// it runs, then exits as SIGTERM would have.
pub async fn stop_on_sigterm(agent: std::sync::Arc<crate::Agent>) {
    let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        return;
    };
    term.recv().await;
    let job = agent.delivery.probing.lock().ok().and_then(|p| p.clone());
    if let Some(name) = job {
        let jobs: Api<Job> = Api::namespaced(agent.client.clone(), &agent.namespace);
        let params = DeleteParams::background();
        let delete = jobs.delete(&name, &params);
        if !matches!(
            tokio::time::timeout(Duration::from_secs(3), delete).await,
            Ok(Ok(_))
        ) {
            tracing::warn!("stopping: cannot delete the probe Job {name}");
        }
    }
    std::process::exit(143);
}

/// Ok when a Pod mounting the init image as a volume finds `init` in it; otherwise why not.
/// `probing` holds the probe Job's name while it exists.
pub async fn probe(
    client: &kube::Client,
    namespace: &str,
    images: &OwnImages,
    service_account: Option<&str>,
    probing: &Mutex<Option<String>>,
) -> Result<(), String> {
    let jobs: Api<Job> = Api::namespaced(client.clone(), namespace);
    let name = format!(
        "testwerk-image-volume-probe-{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() & 0xff_ffff_ffff)
    );
    let created = match jobs
        .create(
            &PostParams::default(),
            &probe_job(&name, images, service_account),
        )
        .await
    {
        Ok(job) => job,
        Err(kube::Error::Api(e)) if e.code == 422 => {
            return Err(format!(
                "the API server refuses image volumes (feature gate ImageVolume off?): {}",
                e.message
            ));
        }
        Err(e) => return Err(format!("cannot create the probe Job: {e}")),
    };
    let outcome = if mounts_image(&created) {
        wait(client, namespace, &name).await
    } else {
        Err("the API server dropped the image volume (feature gate ImageVolume off)".into())
    };
    if let Err(e) = jobs.delete(&name, &DeleteParams::background()).await {
        tracing::warn!("cannot delete the probe Job {name}: {e}");
    }
    if let Ok(mut p) = probing.lock() {
        *p = None;
    }
    outcome
}

/// Whether the Job's Pod mounts an image as a volume.
pub(crate) fn mounts_image(job: &Job) -> bool {
    job.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.volumes.as_ref())
        .is_some_and(|v| v.iter().any(|v| v.image.is_some()))
}

/// Follows the probe's Pod (faster than the Job's status, which the Job controller updates
/// in batches) until its container ends.
async fn wait(client: &kube::Client, namespace: &str, job: &str) -> Result<(), String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let selector = ListParams::default().labels(&format!("job-name={job}"));
    let started = Instant::now();
    let mut last = None;
    loop {
        let list = pods
            .list(&selector)
            .await
            .map_err(|e| format!("cannot read the probe Pod: {e}"))?;
        if let Some(state) = list.items.first().and_then(|p| {
            p.status
                .as_ref()?
                .container_statuses
                .as_ref()?
                .first()?
                .state
                .clone()
        }) {
            if let Some(t) = &state.terminated {
                return if t.exit_code == 0 {
                    Ok(())
                } else {
                    Err(format!(
                        "the probe Pod found no init in the volume (exit code {}{})",
                        t.exit_code,
                        t.message
                            .as_deref()
                            .map(|m| format!(": {}", m.trim()))
                            .unwrap_or_default()
                    ))
                };
            }
            if let Some(w) = &state.waiting {
                last = Some(format!(
                    "{}{}",
                    w.reason.as_deref().unwrap_or("waiting"),
                    w.message
                        .as_deref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                ));
            }
        }
        if started.elapsed() > PROBE_LIMIT {
            return Err(format!(
                "the probe Pod did not finish within {} s{}",
                PROBE_LIMIT.as_secs(),
                last.map(|s| format!(" ({s})")).unwrap_or_default()
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A Job whose container (the init image, with its own shell) checks that `init` is in the
/// init image mounted as a volume, where execution Pods would mount it. It runs unprivileged
/// and without API access, like an execution.
fn probe_job(name: &str, images: &OwnImages, service_account: Option<&str>) -> Job {
    let small = [
        ("cpu".to_owned(), Quantity("10m".into())),
        ("memory".to_owned(), Quantity("16Mi".into())),
    ];
    let container = Container {
        name: "probe".into(),
        image: Some(images.init.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(vec![
            paths::IMAGE_SHELL.into(),
            "-c".into(),
            format!("test -x {}", paths::VOLUME_INIT),
        ]),
        volume_mounts: Some(vec![testwerk_bundle::image_volumes::mount(
            paths::INIT_VOLUME,
            paths::INIT_VOLUME_DIR,
        )]),
        // No CPU limit: a quota of a few millicores makes starting the container itself take
        // seconds.
        resources: Some(ResourceRequirements {
            requests: Some(small.clone().into_iter().collect()),
            limits: Some(small.into_iter().filter(|(k, _)| k == "memory").collect()),
            ..Default::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    Job {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(
                [(
                    "app.kubernetes.io/managed-by".to_owned(),
                    "testwerk".to_owned(),
                )]
                .into_iter()
                .collect(),
            ),
            ..Default::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some(PROBE_LIMIT.as_secs() as i64 + 30),
            // Gone as soon as it ends, even if the agent is not there to delete it.
            ttl_seconds_after_finished: Some(0),
            template: PodTemplateSpec {
                metadata: None,
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    service_account_name: service_account.map(str::to_owned),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(65532),
                        seccomp_profile: Some(SeccompProfile {
                            type_: "RuntimeDefault".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    containers: vec![container],
                    volumes: Some(vec![testwerk_bundle::image_volumes::volume(
                        paths::INIT_VOLUME,
                        &images.init,
                        "IfNotPresent",
                    )]),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images() -> OwnImages {
        OwnImages {
            init: "testwerk/init:1".into(),
            toolkit: "testwerk/toolkit:1".into(),
            delivery: BinaryDelivery::Copy,
        }
    }

    #[test]
    fn the_probe_mounts_the_init_image_where_executions_do_and_runs_unprivileged() {
        let job = probe_job("p", &images(), Some("testwerk-execution"));
        assert!(mounts_image(&job));
        let pod = job.spec.and_then(|s| s.template.spec).expect("pod spec");
        assert_eq!(pod.automount_service_account_token, Some(false));
        let c = &pod.containers[0];
        let mount = &c.volume_mounts.as_ref().expect("mounts")[0];
        assert_eq!(mount.mount_path, paths::INIT_VOLUME_DIR);
        let command = c.command.clone().unwrap_or_default();
        assert!(command[2].contains(paths::VOLUME_INIT), "{command:?}");
        let volume = &pod.volumes.as_ref().expect("volumes")[0];
        assert_eq!(
            volume.image.as_ref().and_then(|i| i.reference.as_deref()),
            Some("testwerk/init:1")
        );
        assert_eq!(
            pod.security_context.and_then(|s| s.run_as_non_root),
            Some(true)
        );
    }

    #[test]
    fn the_delivery_starts_as_the_flag_says_and_auto_starts_copying() {
        assert_eq!(
            Delivery::new(ImageVolumes::On).current(),
            BinaryDelivery::ImageVolume
        );
        assert_eq!(
            Delivery::new(ImageVolumes::Off).current(),
            BinaryDelivery::Copy
        );
        let auto = Delivery::new(ImageVolumes::Auto);
        assert_eq!(auto.current(), BinaryDelivery::Copy);
        auto.set(true);
        assert_eq!(auto.current(), BinaryDelivery::ImageVolume);
    }
}
