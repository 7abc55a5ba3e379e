//! Our images as image volumes (Kubernetes `ImageVolume`): when the plan delivers our binaries
//! that way ([`testwerk_plan::BinaryDelivery::ImageVolume`]), the Pod mounts the init image
//! (and the toolkit image, when a user's image runs toolkit operations) read-only in every
//! container, and no container copies anything.

use k8s_openapi::api::core::v1::{ImageVolumeSource, Volume, VolumeMount};
use testwerk_plan::{Plan, paths};

use crate::WorkerDefaults;

/// (volume name, mount path, image) of each image the plan needs as a volume.
fn wanted(plan: &Plan) -> Vec<(&'static str, &'static str, &str)> {
    let setup = &plan.setup;
    if !setup.from_volumes {
        return Vec::new();
    }
    let mut out = Vec::new();
    if setup.needs_init_image() {
        out.push((
            paths::INIT_VOLUME,
            paths::INIT_VOLUME_DIR,
            plan.images.init.as_str(),
        ));
    }
    if setup.toolkit {
        out.push((
            paths::TOOLKIT_VOLUME,
            paths::TOOLKIT_VOLUME_DIR,
            plan.images.toolkit.as_str(),
        ));
    }
    out
}

/// The Pod's image volumes (pulled like our containers' images).
pub fn volumes(plan: &Plan, worker: &WorkerDefaults) -> Vec<Volume> {
    let pull_policy = worker
        .default_pull_policy
        .clone()
        .unwrap_or_else(|| "IfNotPresent".into());
    wanted(plan)
        .into_iter()
        .map(|(name, _, image)| volume(name, image, &pull_policy))
        .collect()
}

/// One image as a Pod volume.
pub fn volume(name: &str, image: &str, pull_policy: &str) -> Volume {
    Volume {
        name: name.to_owned(),
        image: Some(ImageVolumeSource {
            reference: Some(image.to_owned()),
            pull_policy: Some(pull_policy.to_owned()),
        }),
        ..Default::default()
    }
}

/// A read-only mount of an image volume (image volumes are read-only anyway; this says so).
pub fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        read_only: Some(true),
        ..Default::default()
    }
}

/// The mounts every container gets: the same paths everywhere, so the links the setup step
/// leaves in the shared volume resolve in each container.
pub fn mounts(plan: &Plan) -> Vec<VolumeMount> {
    wanted(plan)
        .into_iter()
        .map(|(name, path, _)| mount(name, path))
        .collect()
}
