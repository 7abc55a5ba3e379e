//! Helpers shared by the plan fixtures.
#![allow(dead_code)]

use testwerk_plan::{
    Action, BinaryDelivery, ImageMetadata, OwnImages, Plan, PlanError, PlanOptions, StaticImages,
    compile,
};
use testwerk_spec::AnyDocument;

pub const INIT: &str = "testwerk/init:test";
pub const TOOLKIT: &str = "testwerk/toolkit:test";
/// The group that the inspected `custom` images run as.
pub const IMAGE_GROUP: i64 = 1234;

pub fn images() -> StaticImages {
    let meta = ImageMetadata {
        entrypoint: vec!["/entry".into()],
        cmd: vec!["serve".into()],
        working_dir: Some("/app".into()),
        user: Some(format!("1000:{IMAGE_GROUP}")),
    };
    let mut table = StaticImages::default();
    for image in ["custom:1.2.3", "custom-image:1.2.3", "custom"] {
        table.images.insert(image.into(), meta.clone());
    }
    table
}

/// Compiles the single TestWorkflow in `yaml` with resource id `dummy-id-abc`, root `dummy-id`.
pub fn try_plan(yaml: &str) -> Result<Plan, PlanError> {
    try_plan_with(yaml, BinaryDelivery::Copy)
}

/// [`try_plan`] with our binaries delivered as `delivery` says.
pub fn try_plan_with(yaml: &str, delivery: BinaryDelivery) -> Result<Plan, PlanError> {
    let docs = testwerk_spec::load_str("fixture.yaml", yaml).unwrap_or_else(|e| {
        panic!(
            "fixture does not load: {}",
            e.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    let workflow = docs
        .into_iter()
        .find_map(|d| match d {
            AnyDocument::Workflow(w) => Some(w.value),
            _ => None,
        })
        .expect("a TestWorkflow in the fixture");
    let images = images();
    let opts = PlanOptions {
        resource_id: "dummy-id-abc".into(),
        root_id: "dummy-id".into(),
        namespace: "default".into(),
        images: OwnImages {
            init: INIT.into(),
            toolkit: TOOLKIT.into(),
            delivery,
        },
        image_source: &images,
    };
    compile(&workflow, &opts)
}

pub fn plan(yaml: &str) -> Plan {
    try_plan(yaml).unwrap_or_else(|e| panic!("fixture does not compile: {e}"))
}

/// [`plan`] with our images mounted as image volumes.
pub fn plan_on_volumes(yaml: &str) -> Plan {
    try_plan_with(yaml, BinaryDelivery::ImageVolume)
        .unwrap_or_else(|e| panic!("fixture does not compile: {e}"))
}

/// Wraps a `spec:` body into a full document.
pub fn workflow(spec: &str) -> String {
    testwerk_testinputs::workflows::document("fixture", spec)
}

/// Each group's actions in wire form, one compact JSON text per action.
pub fn wire(plan: &Plan) -> Vec<Vec<String>> {
    plan.groups
        .iter()
        .map(|g| {
            g.iter()
                .map(|a| serde_json::to_string(&a.to_wire()).unwrap_or_default())
                .collect()
        })
        .collect()
}

/// Refs of the signature's top-level steps, in order.
pub fn step_refs(plan: &Plan) -> Vec<String> {
    plan.signature.iter().map(|s| s.r#ref.clone()).collect()
}

pub fn declared(plan: &Plan, r: &str) -> Option<(String, Vec<String>)> {
    plan.groups.iter().flatten().find_map(|a| match a {
        Action::Declare {
            r#ref,
            condition,
            parents,
            ..
        } if r#ref == r => Some((condition.clone(), parents.clone())),
        _ => None,
    })
}

pub fn result_of(plan: &Plan, r: &str) -> Option<String> {
    plan.groups.iter().flatten().find_map(|a| match a {
        Action::Result { r#ref, value } if r#ref == r => Some(value.clone()),
        _ => None,
    })
}

pub fn executes(plan: &Plan) -> Vec<(String, bool, bool, bool)> {
    plan.groups
        .iter()
        .flatten()
        .filter_map(|a| match a {
            Action::Execute {
                r#ref,
                negative,
                toolkit,
                pure,
            } => Some((r#ref.clone(), *negative, *toolkit, *pure)),
            _ => None,
        })
        .collect()
}

/// The command (with args) of a step's container transition.
pub fn command_of(plan: &Plan, r: &str) -> Option<Vec<String>> {
    plan.groups.iter().flatten().find_map(|a| match a {
        Action::Container { r#ref, config } if r#ref == r => {
            let mut out = config.command.clone().unwrap_or_default();
            out.extend(config.args.clone().unwrap_or_default());
            Some(out)
        }
        _ => None,
    })
}
