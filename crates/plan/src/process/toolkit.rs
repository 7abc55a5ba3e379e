//! Operations carried out by the toolkit: services, execute, parallel, artifacts.
//!
//! Their specs travel as base64-encoded JSON so that `init` does not try to resolve the
//! expressions inside them; the toolkit does, with the variables of each instance.

use indexmap::IndexMap;
use k8s_openapi::api::core::v1::{EnvVarSource, ObjectFieldSelector, VolumeMount};
use testwerk_spec::{
    ContainerConfig, EnvVar, ServiceSpec, StepArtifacts, StepExecute, StepParallel,
};

use super::Processor;
use super::content::empty_dir;
use crate::condition::Condition;
use crate::container::inherit;
use crate::error::{PlanError, Result};
use crate::paths;
use crate::stage::{ContainerStage, Stage, StageMeta};

/// Env var holding the ref under which a step's services run.
const SERVICES_REF_ENV: &str = "TW_SVC_REF";

impl Processor<'_> {
    /// A container stage running `toolkit <subcommand> <args…>` in the toolkit image.
    pub(super) fn toolkit_stage(
        &mut self,
        container: &ContainerConfig,
        category: &str,
        subcommand: &str,
        args: Vec<String>,
    ) -> ContainerStage {
        let r#ref = self.layer.next_ref();
        let own = ContainerConfig {
            image: Some(self.toolkit_image.to_owned()),
            image_pull_policy: Some("IfNotPresent".into()),
            command: Some(vec![paths::COPIED_TOOLKIT.into(), subcommand.into()]),
            args: Some(args),
            env: vec![
                EnvVar {
                    name: "TW_IP".into(),
                    value_from: Some(EnvVarSource {
                        field_ref: Some(ObjectFieldSelector {
                            field_path: "status.podIP".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                EnvVar {
                    name: "TW_REF".into(),
                    value: Some(r#ref.clone()),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        ContainerStage {
            meta: StageMeta {
                r#ref,
                category: Some(category.into()),
                pure: Some(true),
                ..Default::default()
            },
            container: Box::new(inherit(container, &own)),
            toolkit: true,
        }
    }

    fn add_transfer_volume(&mut self, container: &mut ContainerConfig) {
        if container
            .volume_mounts
            .iter()
            .any(|m| m.mount_path == paths::TRANSFER_DIR)
        {
            return;
        }
        let name = self.layer.volume_name();
        self.layer.volumes.push(empty_dir(&name));
        container.volume_mounts.push(VolumeMount {
            name,
            mount_path: paths::TRANSFER_DIR.into(),
            ..Default::default()
        });
    }

    pub(super) fn services_start(
        &mut self,
        services: &IndexMap<String, ServiceSpec>,
        container: &mut ContainerConfig,
    ) -> Result<(Stage, String)> {
        let svc_ref = self.layer.next_ref();
        container.env.push(EnvVar {
            name: SERVICES_REF_ENV.into(),
            value: Some(svc_ref.clone()),
            ..Default::default()
        });
        self.add_transfer_volume(container);
        let mut services = services.clone();
        // The workflow's global env reaches its services; a service's own env wins.
        let global: Vec<&EnvVar> = container
            .env
            .iter()
            .filter(|e| e.global == Some(true))
            .collect();
        if !global.is_empty() {
            for svc in services.values_mut() {
                let own = std::mem::take(&mut svc.container.env);
                let mut env: Vec<EnvVar> = global
                    .iter()
                    .filter(|g| !own.iter().any(|o| o.name == g.name))
                    .map(|g| (*g).clone())
                    .collect();
                env.extend(own);
                svc.container.env = env;
            }
        }
        let pull_secrets = self
            .pod
            .map(|p| p.image_pull_secrets.clone())
            .unwrap_or_default();
        if !pull_secrets.is_empty() {
            for svc in services.values_mut() {
                let pod = svc.pod.get_or_insert_with(Default::default);
                pod.image_pull_secrets.extend(pull_secrets.iter().cloned());
            }
        }
        let args = vec![
            "-g".into(),
            format!("{{{{env.{SERVICES_REF_ENV}}}}}"),
            "--base64".into(),
            base64_json(&services),
        ];
        let stage = self.toolkit_stage(container, "Start services", "services", args);
        Ok((Stage::Container(stage), svc_ref))
    }

    pub(super) fn services_stop(
        &mut self,
        services: &IndexMap<String, ServiceSpec>,
        svc_ref: &str,
        container: &ContainerConfig,
    ) -> Stage {
        let mut args = vec![svc_ref.to_owned()];
        for (name, svc) in services {
            if let Some(logs) = &svc.logs {
                args.extend(["-l".into(), format!("{name}={logs}")]);
            }
        }
        let mut stage = self.toolkit_stage(container, "Stop services", "kill", args);
        stage.meta.condition = Condition::of("always");
        Stage::Container(stage)
    }

    pub(super) fn execute(
        &mut self,
        execute: &StepExecute,
        container: &ContainerConfig,
        path: &str,
    ) -> Result<Stage> {
        if execute.workflows.is_empty() && execute.tests.is_empty() {
            return Err(PlanError::new(path, "there are no workflows to execute")
                .with_help("list at least one entry under `execute.workflows`"));
        }
        let mut container = container.clone();
        self.add_transfer_volume(&mut container);
        let payload = serde_json::json!({
            "workflows": execute.workflows,
            "async": execute.async_.unwrap_or(false),
            "parallelism": execute.parallelism,
        });
        let category = if execute.tests.is_empty() {
            "Execute test workflows"
        } else {
            "Execute test workflows & tests"
        };
        let stage = self.toolkit_stage(
            &container,
            category,
            "execute",
            vec!["--base64".into(), base64_json(&payload)],
        );
        Ok(Stage::Container(stage))
    }

    pub(super) fn parallel(
        &mut self,
        parallel: &StepParallel,
        container: &ContainerConfig,
    ) -> Result<Stage> {
        let mut container = container.clone();
        self.add_transfer_volume(&mut container);
        let mut spec = parallel.clone();
        // Workers get this step's container settings, but not its volumes: they run in their own Pods.
        let inherited = ContainerConfig {
            volume_mounts: Vec::new(),
            ..container.clone()
        };
        let own = spec.body.container.clone().unwrap_or_default();
        spec.body.container = Some(inherit(&inherited, &own));
        if spec.body.pod.is_none() {
            spec.body.pod = self.pod.cloned();
        }
        let stage = self.toolkit_stage(
            &container,
            "Run in parallel",
            "parallel",
            vec!["--base64".into(), base64_json(&spec)],
        );
        Ok(Stage::Container(stage))
    }

    pub(super) fn artifacts(
        &mut self,
        artifacts: &StepArtifacts,
        container: &ContainerConfig,
        path: &str,
    ) -> Result<Stage> {
        if artifacts.paths.is_empty() {
            return Err(PlanError::new(
                path,
                "there needs to be at least one path to scrap for artifacts",
            )
            .with_help("add `paths:` with at least one glob, e.g. `- /data/reports/*.xml`"));
        }
        let mut args = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for mount in &container.volume_mounts {
            let mount_path = mount.mount_path.trim_end_matches('/');
            let internal = mount_path == paths::INTERNAL_DIR
                || mount_path.starts_with(&format!("{}/", paths::INTERNAL_DIR));
            if internal || seen.contains(&mount_path) {
                continue;
            }
            seen.push(mount_path);
            args.extend(["-m".to_owned(), mount_path.to_owned()]);
        }
        if let Some(compress) = &artifacts.compress {
            args.extend(["--compress".into(), compress.name.clone()]);
        }
        args.extend(artifacts.paths.iter().cloned());
        let mut stage = self.toolkit_stage(container, "Upload artifacts", "artifacts", args);
        stage.container.working_dir = crate::container::compose_working_dir(
            container.working_dir.as_deref(),
            artifacts.working_dir.as_deref(),
        );
        stage.meta.condition = Condition::of("always");
        Ok(Stage::Container(stage))
    }
}

fn base64_json<T: serde::Serialize>(value: &T) -> String {
    let json = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
    base64_encode(json.as_bytes())
}

/// Standard base64 with padding; small enough not to need a dependency.
pub fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::base64_encode;

    #[test]
    fn base64_matches_the_standard_alphabet_and_padding() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
        assert_eq!(base64_encode(b"{\"a\":1}"), "eyJhIjoxfQ==");
    }
}
