//! Applying image metadata: fill in commands the step left to the image, and choose the group
//! the Pod's files belong to.

use std::collections::BTreeMap;

use testwerk_spec::{ParamValue, PodConfig, SecurityContext};

use crate::error::{PlanError, Result};
use crate::group::OwnImages;
use crate::images::{ImageMetadata, ImageSource};
use crate::paths::DEFAULT_FS_GROUP;
use crate::stage::{ContainerStage, Stage};

/// Metadata fetched during one compilation, by image.
pub type FetchedImages = BTreeMap<String, ImageMetadata>;

/// Fills the command of every container stage that has none from its image. Only those stages
/// cause a lookup: unlike upstream we never fetch just for the working directory, since the
/// container starts in the image's working directory anyway.
pub fn apply_commands(
    root: &mut Stage,
    images: &OwnImages,
    source: &dyn ImageSource,
    fetched: &mut FetchedImages,
) -> Result<()> {
    let mut failure = None;
    for_each_container(root, &mut |stage| {
        if failure.is_some()
            || stage
                .container
                .command
                .as_ref()
                .is_some_and(|c| !c.is_empty())
        {
            return;
        }
        let image = stage.container.image.clone().unwrap_or_default();
        if images.is_own(Some(&image)) {
            return;
        }
        match lookup(&image, source, fetched) {
            Ok(Some(meta)) => {
                let line = meta.command_line(stage.container.args.as_deref());
                let mut parts = line.into_iter();
                stage.container.command = parts.next().map(|c| vec![c]);
                stage.container.args = Some(parts.collect());
            }
            Ok(None) => {
                failure = Some(PlanError::new(
                    stage_label(stage),
                    match &stage.meta.name {
                        Some(n) => format!("step \"{n}\" runs image `{image}` without a command, and the image's entrypoint is not known"),
                        None => format!("the step runs image `{image}` without a command, and the image's entrypoint is not known"),
                    },
                )
                .with_help("set `command` on the step, or describe the image in the file given with --images"));
            }
            Err(e) => {
                failure = Some(PlanError::new(
                    stage_label(stage),
                    format!("inspecting image `{image}`: {e}"),
                ))
            }
        }
    });
    failure.map_or(Ok(()), Err)
}

fn stage_label(stage: &ContainerStage) -> String {
    if stage.meta.path.is_empty() {
        "spec".to_owned()
    } else {
        stage.meta.path.clone()
    }
}

fn lookup(
    image: &str,
    source: &dyn ImageSource,
    fetched: &mut FetchedImages,
) -> Result<Option<ImageMetadata>, String> {
    if let Some(m) = fetched.get(image) {
        return Ok(Some(m.clone()));
    }
    let found = source.metadata(image)?;
    if let Some(m) = &found {
        fetched.insert(image.to_owned(), m.clone());
    }
    Ok(found)
}

fn for_each_container(stage: &mut Stage, f: &mut dyn FnMut(&mut ContainerStage)) {
    match stage {
        Stage::Container(c) => f(c),
        Stage::Group(g) => g.children.iter_mut().for_each(|c| for_each_container(c, f)),
    }
}

/// The Pod's fsGroup, after the upstream rules: with exactly one user-image step whose image is
/// known, files belong to that image's group (and the step runs with it); otherwise 1001. An
/// explicit `pod.securityContext.fsGroup` wins; `disableFsGroupDefaulting` turns defaulting off.
pub fn security_defaults(
    root: &mut Stage,
    pod: Option<&PodConfig>,
    images: &OwnImages,
    source: &dyn ImageSource,
    fetched: &mut FetchedImages,
) -> Option<ParamValue> {
    let pod_ctx = pod.and_then(|p| p.security_context.as_ref());
    let explicit = pod_ctx.and_then(|c| c.fs_group.clone());
    let disabled = pod
        .and_then(|p| p.disable_fs_group_defaulting)
        .unwrap_or(false);
    let pod_sets_group = pod_ctx.is_some_and(|c| c.run_as_group.is_some());

    let mut user_stages = 0;
    for_each_container(root, &mut |s| {
        if !images.is_own(s.container.image.as_deref()) {
            user_stages += 1;
        }
    });
    let mut image_group = None;
    if user_stages == 1 {
        for_each_container(root, &mut |s| {
            let image = s.container.image.clone().unwrap_or_default();
            if images.is_own(Some(&image)) || pod_sets_group {
                return;
            }
            let sets_group = s
                .container
                .security_context
                .as_ref()
                .is_some_and(|c| c.run_as_group.is_some());
            if sets_group {
                return;
            }
            if let Ok(Some(meta)) = lookup(&image, source, fetched) {
                let group = meta.group();
                let ctx = s
                    .container
                    .security_context
                    .get_or_insert_with(SecurityContext::default);
                ctx.run_as_group = Some(ParamValue::Int(group));
                image_group = Some(group);
            }
        });
    }
    if explicit.is_some() {
        return explicit;
    }
    if disabled {
        return None;
    }
    Some(ParamValue::Int(image_group.unwrap_or(DEFAULT_FS_GROUP)))
}
