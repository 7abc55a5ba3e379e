//! `content`: inline files, Git repositories and tarballs.

use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, DownwardAPIProjection, DownwardAPIVolumeFile, EmptyDirVolumeSource,
    KeyToPath, ProjectedVolumeSource, SecretVolumeSource, Volume, VolumeMount, VolumeProjection,
};
use testwerk_spec::{ContainerConfig, Content, EnvVar};

use super::Processor;
use crate::container::join_path;
use crate::error::{PlanError, Result};
use crate::paths;
use crate::stage::Stage;

impl Processor<'_> {
    /// Inline files go into shared ConfigMaps; `contentFrom` files get a volume each.
    /// Either way they are mounted on the step's container, so sub-steps see them too.
    pub(super) fn content_files(
        &mut self,
        content: &Content,
        container: &mut ContainerConfig,
        path: &str,
    ) -> Result<()> {
        for (i, file) in content.files.iter().enumerate() {
            let here = format!("{path}.files[{i}]");
            let mount_path = absolute_in(container, &file.path);
            if let Some(text) = &file.content {
                let (name, key) = self
                    .layer
                    .add_file(text, file.mode)
                    .map_err(|e| PlanError::new(&here, e))?;
                if !self.layer.volumes.iter().any(|v| v.name == name) {
                    let config_map = self
                        .layer
                        .config_maps
                        .iter()
                        .find(|c| c.volume == name)
                        .map(|c| c.name.clone())
                        .unwrap_or_default();
                    self.layer.volumes.push(Volume {
                        name: name.clone(),
                        config_map: Some(ConfigMapVolumeSource {
                            name: config_map,
                            default_mode: file.mode,
                            ..Default::default()
                        }),
                        ..Default::default()
                    });
                }
                container.volume_mounts.push(VolumeMount {
                    name,
                    mount_path,
                    sub_path: Some(key),
                    ..Default::default()
                });
            } else if let Some(source) = &file.content_from {
                let name = self.layer.volume_name();
                let item = |key: &str| KeyToPath {
                    key: key.to_owned(),
                    path: "file".into(),
                    mode: file.mode,
                };
                let volume = if let Some(cm) = &source.config_map_key_ref {
                    Volume {
                        name: name.clone(),
                        config_map: Some(ConfigMapVolumeSource {
                            name: cm.name.clone(),
                            items: Some(vec![item(&cm.key)]),
                            optional: cm.optional,
                            default_mode: file.mode,
                        }),
                        ..Default::default()
                    }
                } else if let Some(secret) = &source.secret_key_ref {
                    Volume {
                        name: name.clone(),
                        secret: Some(SecretVolumeSource {
                            secret_name: Some(secret.name.clone()),
                            items: Some(vec![item(&secret.key)]),
                            optional: secret.optional,
                            default_mode: file.mode,
                        }),
                        ..Default::default()
                    }
                } else if source.field_ref.is_some() || source.resource_field_ref.is_some() {
                    Volume {
                        name: name.clone(),
                        projected: Some(ProjectedVolumeSource {
                            default_mode: file.mode,
                            sources: Some(vec![VolumeProjection {
                                downward_api: Some(DownwardAPIProjection {
                                    items: Some(vec![DownwardAPIVolumeFile {
                                        path: "file".into(),
                                        field_ref: source.field_ref.clone(),
                                        resource_field_ref: source.resource_field_ref.clone(),
                                        mode: file.mode,
                                    }]),
                                }),
                                ..Default::default()
                            }]),
                        }),
                        ..Default::default()
                    }
                } else {
                    return Err(PlanError::new(
                        format!("{here}.contentFrom"),
                        "contentFrom needs configMapKeyRef, secretKeyRef, fieldRef or resourceFieldRef",
                    ));
                };
                self.layer.volumes.push(volume);
                container.volume_mounts.push(VolumeMount {
                    name,
                    mount_path,
                    sub_path: Some("file".into()),
                    ..Default::default()
                });
            } else {
                return Err(PlanError::new(
                    &here,
                    "a content file needs `content` or `contentFrom`",
                ));
            }
        }
        Ok(())
    }

    /// Clones with the toolkit into an emptyDir mounted on the step's container.
    pub(super) fn content_git(
        &mut self,
        content: &Content,
        container: &mut ContainerConfig,
        path: &str,
    ) -> Result<Option<Stage>> {
        let Some(git) = &content.git else {
            return Ok(None);
        };
        let uri = git
            .uri
            .clone()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| PlanError::new(path, "content.git needs a `uri`"))?;
        let mount_path = absolute_in(
            container,
            git.mount_path
                .as_deref()
                .unwrap_or(paths::DEFAULT_GIT_MOUNT),
        );
        let volume = self.layer.volume_name();
        self.layer.volumes.push(empty_dir(&volume));
        container.volume_mounts.push(VolumeMount {
            name: volume,
            mount_path: mount_path.clone(),
            ..Default::default()
        });

        let mut args: Vec<String> = Vec::new();
        if git.cone == Some(true) {
            args.push("--cone".into());
        }
        args.push(uri);
        args.push(mount_path);
        let mut secret_arg = |flag: &str,
                              value: &Option<String>,
                              from: &Option<k8s_openapi::api::core::v1::EnvVarSource>,
                              env: &str| {
            if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
                args.extend([flag.to_owned(), v.clone()]);
            } else if let Some(source) = from {
                container.env.push(EnvVar {
                    name: env.to_owned(),
                    value_from: Some(source.clone()),
                    ..Default::default()
                });
                args.extend([flag.to_owned(), format!("{{{{env.{env}}}}}")]);
            }
        };
        secret_arg("-u", &git.username, &git.username_from, "TW_GIT_USERNAME");
        secret_arg("-t", &git.token, &git.token_from, "TW_GIT_TOKEN");
        secret_arg("-s", &git.ssh_key, &git.ssh_key_from, "TW_SSH_KEY");
        if let Some(auth) = &git.auth_type {
            args.extend(["-a".into(), auth.clone()]);
        }
        if let Some(rev) = &git.revision {
            args.extend(["-r".into(), rev.clone()]);
        }
        for p in &git.paths {
            args.extend(["-p".into(), p.clone()]);
        }
        if let Some(v) = &git.verbosity {
            args.extend(["--verbosity".into(), v.clone()]);
        }
        if let Some(retry) = &git.retry {
            if let Some(count) = retry.count {
                args.extend(["--retry-count".into(), count.to_string()]);
            }
            if let Some(delay) = &retry.delay {
                args.extend(["--retry-delay".into(), delay.clone()]);
            }
        }
        let mut stage = self.toolkit_stage(container, "Clone Git repository", "clone", args);
        // Cloning talks to the network: never merge it away into another container.
        stage.meta.pure = Some(false);
        stage.container.working_dir = Some("/".into());
        Ok(Some(Stage::Container(stage)))
    }

    pub(super) fn content_tarball(
        &mut self,
        content: &Content,
        container: &mut ContainerConfig,
        path: &str,
    ) -> Result<Option<Stage>> {
        if content.tarball.is_empty() {
            return Ok(None);
        }
        let mut args = Vec::new();
        for (i, tarball) in content.tarball.iter().enumerate() {
            let target = absolute_in(container, &tarball.path);
            let mounted = container
                .volume_mounts
                .iter()
                .any(|m| is_within(&target, &m.mount_path));
            if tarball.mount == Some(false) && !mounted {
                return Err(PlanError::new(
                    format!("{path}[{i}]"),
                    format!("content.tarball[{i}]: {target}: is not part of any volume: should be mounted"),
                )
                .with_help("set `mount: true` or unpack under a mounted directory such as /data"));
            }
            if tarball.mount == Some(true) || (tarball.mount.is_none() && !mounted) {
                let volume = self.layer.volume_name();
                self.layer.volumes.push(empty_dir(&volume));
                container.volume_mounts.push(VolumeMount {
                    name: volume,
                    mount_path: target.clone(),
                    ..Default::default()
                });
            }
            args.push(format!("{target}={}", tarball.url));
        }
        let mut stage = self.toolkit_stage(container, "Fetch tarball", "tarball", args);
        stage.meta.pure = Some(true);
        Ok(Some(Stage::Container(stage)))
    }
}

pub(super) fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    }
}

/// A path as the container sees it: relative paths are relative to its working directory.
pub(super) fn absolute_in(container: &ContainerConfig, path: &str) -> String {
    if path.starts_with('/') || path.contains("{{") {
        return path.to_owned();
    }
    let base = container
        .working_dir
        .as_deref()
        .filter(|w| w.starts_with('/') && !w.contains("{{"))
        .unwrap_or(paths::DATA_DIR);
    join_path(base, path)
}

fn is_within(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    path == dir || path.starts_with(&format!("{dir}/"))
}
