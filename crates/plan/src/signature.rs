//! The signature: the tree of steps a person sees, stored with every execution.

use serde::{Deserialize, Serialize};

use crate::stage::Stage;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureNode {
    pub r#ref: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub negative: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<SignatureNode>,
}

/// The signature of the root's children. With `full`, unnamed plain groups are kept; without,
/// their children are listed in their place (they mean nothing to a reader).
pub fn signature(root: &Stage, full: bool) -> Vec<SignatureNode> {
    match root {
        Stage::Group(g) => g.children.iter().flat_map(|c| nodes(c, full)).collect(),
        Stage::Container(_) => nodes(root, full),
    }
}

fn nodes(stage: &Stage, full: bool) -> Vec<SignatureNode> {
    let meta = stage.meta();
    let children: Vec<SignatureNode> = match stage {
        Stage::Group(g) => g.children.iter().flat_map(|c| nodes(c, full)).collect(),
        Stage::Container(_) => Vec::new(),
    };
    let inline = matches!(stage, Stage::Group(_))
        && !full
        && meta.name.is_none()
        && !meta.optional
        && !meta.negative;
    if inline {
        return children;
    }
    vec![SignatureNode {
        r#ref: meta.r#ref.clone(),
        id: meta.id.clone(),
        name: meta.name.clone(),
        category: meta.category.clone(),
        optional: meta.optional,
        negative: meta.negative,
        children,
    }]
}
