//! Where things live inside the Pod, and the names we give them.
//!
//! Upstream uses `/.tktw`; we use `/.testwerk` so a reader of a Pod spec can tell whose it is.

/// The internal emptyDir shared by every container: copied binaries, state, transfer area.
pub const INTERNAL_DIR: &str = "/.testwerk";
/// Binaries copied from the init image into the internal dir (busybox applets, for user images).
pub const COPIED_BIN_DIR: &str = "/.testwerk/bin";
/// The shell steps run with in user images (from the copied binaries).
pub const COPIED_SHELL: &str = "/.testwerk/bin/sh";
/// The init process copied into user images.
pub const COPIED_INIT: &str = "/.testwerk/init";
/// The toolkit copied into user images.
pub const COPIED_TOOLKIT: &str = "/.testwerk/toolkit";
/// Where services and parallel workers exchange files.
pub const TRANSFER_DIR: &str = "/.testwerk/transfer";
/// Where a plan too big for the Pod's annotations is mounted (its ConfigMap): `plan` and
/// `signature` files.
pub const PLAN_DIR: &str = "/.testwerk/plan";
/// The volume of [`PLAN_DIR`].
pub const PLAN_VOLUME: &str = "tw-plan";
/// The execution state shared between containers.
pub const STATE_FILE: &str = "/.testwerk/state";
/// Busybox applets inside our own images (init and toolkit).
pub const IMAGE_BIN_DIR: &str = "/.testwerk-bin";
/// The shell inside our own images.
pub const IMAGE_SHELL: &str = "/.testwerk-bin/sh";
/// The init process inside our own images.
pub const IMAGE_INIT: &str = "/init";
/// The toolkit inside the toolkit image.
pub const IMAGE_TOOLKIT: &str = "/toolkit";
/// Where the init image is mounted as an image volume (Kubernetes `ImageVolume`), in every
/// container of a Pod that gets its binaries that way instead of from a setup copy.
pub const INIT_VOLUME_DIR: &str = "/.testwerk-init";
/// The init process in the init image's volume.
pub const VOLUME_INIT: &str = "/.testwerk-init/init";
/// The shell and basic tools in the init image's volume.
pub const VOLUME_BIN_DIR: &str = "/.testwerk-init/.testwerk-bin";
/// Where the toolkit image is mounted as an image volume.
pub const TOOLKIT_VOLUME_DIR: &str = "/.testwerk-toolkit";
/// The toolkit in the toolkit image's volume.
pub const VOLUME_TOOLKIT: &str = "/.testwerk-toolkit/toolkit";
/// The Pod volumes of [`INIT_VOLUME_DIR`] and [`TOOLKIT_VOLUME_DIR`].
pub const INIT_VOLUME: &str = "tw-init-image";
pub const TOOLKIT_VOLUME: &str = "tw-toolkit-image";
/// Shared working data (default working directory of steps).
pub const DATA_DIR: &str = "/data";
/// Step outputs and results.
pub const OUTPUTS_ROOT: &str = "/testkube";
/// Scratch space.
pub const TMP_DIR: &str = "/tmp";
/// Default mount path of `content.git`.
pub const DEFAULT_GIT_MOUNT: &str = "/data/repo";

/// The header of every shell script, so a failing command fails the step.
pub const SHELL_HEADER: &str = "set -e\n";

/// Ref of the whole workflow's group.
pub const ROOT_REF: &str = "root";
/// Ref of the setup step (copying binaries).
pub const SETUP_REF: &str = "tw-init";

/// The four emptyDir volumes every Pod gets, in mount order: (volume name, mount path).
pub const DEFAULT_VOLUMES: [(&str, &str); 4] = [
    ("tw-internal", INTERNAL_DIR),
    ("tw-tmp", TMP_DIR),
    ("tw-data", DATA_DIR),
    ("tw-outputs", OUTPUTS_ROOT),
];

/// Default fsGroup when no image tells us better (same as upstream).
pub const DEFAULT_FS_GROUP: i64 = 1001;
