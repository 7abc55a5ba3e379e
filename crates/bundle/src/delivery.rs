//! How the plan reaches `init`: in the Pod's annotations (read through the downward API into
//! one environment variable), or, when it is too big for that, in a ConfigMap of its own
//! mounted as files into the first container.
//!
//! Small plans — every workflow of the corpus — keep the annotation, so the objects of ordinary
//! workflows do not change and `kubectl get pod -o yaml` still shows the plan. A plan over the
//! limits of an annotation or of one environment string (256 KiB, 128 KiB) goes to the
//! ConfigMap, which holds up to 1 MiB, zlib-compressed (`binaryData`): ten thousand steps are
//! 2.4 MB of JSON, about a tenth of that compressed. `init` tells the forms apart by the first
//! byte (`{` is JSON).

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMapVolumeSource, EnvVar, Volume, VolumeMount};
use testwerk_plan::{Plan, paths};

use crate::labels;
use crate::limits::{
    self, Limit, LimitError, MAX_ANNOTATIONS, MAX_CONFIG_MAP, MAX_ENV_STRING, Target,
};

/// Where the plan and the signature travel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// `testwerk.io/plan` and `testwerk.io/signature` annotations.
    Annotations,
    /// The ConfigMap of this name, keys [`PLAN_KEY`] and [`SIGNATURE_KEY`].
    ConfigMap(String),
}

pub const PLAN_KEY: &str = "plan";
pub const SIGNATURE_KEY: &str = "signature";

/// The size of one environment string `NAME=value` with its terminating NUL.
pub fn env_string_size(name: &str, value: &str) -> usize {
    name.len() + 1 + value.len() + 1
}

/// The size Kubernetes counts for a set of annotations: every key and value.
pub fn annotations_size(annotations: &BTreeMap<String, String>) -> usize {
    annotations.iter().map(|(k, v)| k.len() + v.len()).sum()
}

/// Whether the plan and signature fit the annotations beside `others` and one variable each.
pub fn fits_annotations(others: &BTreeMap<String, String>, plan: &str, signature: &str) -> bool {
    env_string_size(testwerk_protocol::env::PLAN, plan) <= MAX_ENV_STRING
        && env_string_size(testwerk_protocol::env::SIGNATURE, signature) <= MAX_ENV_STRING
        && annotations_size(others)
            + labels::PLAN.len()
            + plan.len()
            + labels::SIGNATURE.len()
            + signature.len()
            <= MAX_ANNOTATIONS
}

/// The contents of the plan's ConfigMap: the plan and the signature, compressed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanFiles {
    pub data: BTreeMap<String, String>,
    pub binary_data: BTreeMap<String, ByteString>,
}

/// Compression level: the plan is compressed once per execution; 6 is zlib's default.
const LEVEL: u8 = 6;

/// The contents of the plan's ConfigMap, or (when the ConfigMap limit binds for `target`) the
/// limit it breaks and the first step over it.
pub fn config_map_files(
    plan: &Plan,
    plan_json: &str,
    signature_json: &str,
    target: Target,
) -> Result<PlanFiles, LimitError> {
    let compressed = miniz_oxide::deflate::compress_to_vec_zlib(plan_json.as_bytes(), LEVEL);
    let signature = miniz_oxide::deflate::compress_to_vec_zlib(signature_json.as_bytes(), LEVEL);
    let size = PLAN_KEY.len() + compressed.len() + SIGNATURE_KEY.len() + signature.len();
    if size > MAX_CONFIG_MAP && target.binds(Limit::PlanConfigMap) {
        // Which step's actions cross the limit, each counted at the plan's compression ratio
        // (the serialization is repeated on this path only).
        let ratio = compressed.len() as f64 / plan_json.len().max(1) as f64;
        let fixed = PLAN_KEY.len() + SIGNATURE_KEY.len() + signature.len();
        let step = limits::first_over(
            fixed,
            MAX_CONFIG_MAP,
            plan.groups.iter().flatten().map(|a| {
                let bytes = serde_json::to_vec(&a.to_wire()).map_or(0, |v| v.len() + 1);
                (
                    a.step_ref().filter(|r| !r.is_empty()),
                    (bytes as f64 * ratio).ceil() as usize,
                )
            }),
        )
        .map(|r| (r.to_owned(), limits::step_name(plan, r)));
        return Err(LimitError {
            limit: Limit::PlanConfigMap,
            size,
            step,
            detail: Some(format!("compressed from {} bytes", plan_json.len())),
        });
    }
    Ok(PlanFiles {
        data: BTreeMap::new(),
        binary_data: BTreeMap::from([
            (PLAN_KEY.to_owned(), ByteString(compressed)),
            (SIGNATURE_KEY.to_owned(), ByteString(signature)),
        ]),
    })
}

impl Delivery {
    /// The variables the setup container gets for the plan and the signature.
    pub fn vars(&self) -> Vec<EnvVar> {
        use testwerk_protocol::env::{PLAN, PLAN_FILE, SIGNATURE, SIGNATURE_FILE};
        match self {
            Delivery::Annotations => vec![
                crate::env::annotation_var(PLAN, labels::PLAN),
                crate::env::annotation_var(SIGNATURE, labels::SIGNATURE),
            ],
            Delivery::ConfigMap(_) => vec![
                literal(PLAN_FILE, &format!("{}/{PLAN_KEY}", paths::PLAN_DIR)),
                literal(
                    SIGNATURE_FILE,
                    &format!("{}/{SIGNATURE_KEY}", paths::PLAN_DIR),
                ),
            ],
        }
    }

    /// The read-only mount of the plan's ConfigMap in the setup container.
    pub fn mount(&self) -> Option<VolumeMount> {
        matches!(self, Delivery::ConfigMap(_)).then(|| VolumeMount {
            name: paths::PLAN_VOLUME.to_owned(),
            mount_path: paths::PLAN_DIR.to_owned(),
            read_only: Some(true),
            ..Default::default()
        })
    }

    /// The Pod volume of the plan's ConfigMap.
    pub fn volume(&self) -> Option<Volume> {
        match self {
            Delivery::Annotations => None,
            Delivery::ConfigMap(name) => Some(Volume {
                name: paths::PLAN_VOLUME.to_owned(),
                config_map: Some(ConfigMapVolumeSource {
                    name: name.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        }
    }
}

fn literal(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        ..Default::default()
    }
}
