//! The stage tree: groups of stages and container stages, before they become actions.

use testwerk_spec::{ContainerConfig, RetryPolicy};

use crate::condition::Condition;

/// What every stage carries, group or container.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StageMeta {
    pub r#ref: String,
    /// Where in the workflow the stage comes from (`spec.steps[2].run`), for error messages.
    pub path: String,
    pub id: Option<String>,
    pub name: Option<String>,
    /// What kind of operation a container stage is ("Run shell command", "Upload artifacts", …).
    pub category: Option<String>,
    pub condition: Condition,
    pub negative: bool,
    pub optional: bool,
    pub paused: bool,
    pub pure: Option<bool>,
    pub timeout: Option<String>,
    pub retry: Option<RetryPolicy>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GroupStage {
    pub meta: StageMeta,
    /// A virtual group only gathers stages; it dissolves into its parent.
    pub is_virtual: bool,
    pub children: Vec<Stage>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ContainerStage {
    pub meta: StageMeta,
    pub container: Box<ContainerConfig>,
    /// Runs the toolkit (clone, artifacts, services, parallel, execute…).
    pub toolkit: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Stage {
    Group(GroupStage),
    Container(ContainerStage),
}

impl Stage {
    pub fn meta(&self) -> &StageMeta {
        match self {
            Stage::Group(g) => &g.meta,
            Stage::Container(c) => &c.meta,
        }
    }

    pub fn meta_mut(&mut self) -> &mut StageMeta {
        match self {
            Stage::Group(g) => &mut g.meta,
            Stage::Container(c) => &mut c.meta,
        }
    }

    /// The stage with ref `r`, here or below.
    pub fn find(&self, r: &str) -> Option<&Stage> {
        if self.meta().r#ref == r {
            return Some(self);
        }
        match self {
            Stage::Container(_) => None,
            Stage::Group(g) => g.children.iter().find_map(|c| c.find(r)),
        }
    }

    /// Container stages in execution order.
    pub fn containers(&self) -> Vec<&ContainerStage> {
        let mut out = Vec::new();
        self.collect_containers(&mut out);
        out
    }

    fn collect_containers<'a>(&'a self, out: &mut Vec<&'a ContainerStage>) {
        match self {
            Stage::Container(c) => out.push(c),
            Stage::Group(g) => g.children.iter().for_each(|c| c.collect_containers(out)),
        }
    }
}

impl GroupStage {
    pub fn new(meta: StageMeta, is_virtual: bool) -> Self {
        Self {
            meta,
            is_virtual,
            children: Vec::new(),
        }
    }

    /// Adds a child, flattening as upstream does: empty groups vanish, virtual groups dissolve
    /// into their children, and a group with a single child is merged into it when possible.
    pub fn add(&mut self, child: Stage) {
        match child {
            Stage::Group(g) if g.children.is_empty() => {}
            Stage::Group(g) if g.is_virtual => {
                let condition = g.meta.condition;
                for mut grandchild in g.children {
                    grandchild.meta_mut().condition.prepend(&condition);
                    self.add(grandchild);
                }
            }
            Stage::Group(mut g) if g.children.len() == 1 && can_merge_into_child(&g) => {
                if let Some(only) = g.children.pop() {
                    self.children.push(merge_into_only_child(g.meta, only));
                }
            }
            other => self.children.push(other),
        }
    }
}

fn can_merge_into_child(group: &GroupStage) -> bool {
    let Some(child) = group.children.first() else {
        return false;
    };
    let (g, c) = (&group.meta, child.meta());
    // Two of these cannot be folded into one stage without losing one of them.
    let both_named = g.name.is_some() && c.name.is_some();
    let both_timed = g.timeout.is_some() && c.timeout.is_some();
    let both_paused = g.paused && c.paused;
    let both_retried = g.retry.is_some() && c.retry.is_some();
    !(both_named || both_timed || both_paused || both_retried)
}

fn merge_into_only_child(g: StageMeta, mut child: Stage) -> Stage {
    let is_container = matches!(child, Stage::Container(_));
    let c = child.meta_mut();
    if c.name.is_none() {
        c.name = g.name;
    }
    if c.id.is_none() {
        c.id = g.id;
    }
    if c.condition.is_empty() {
        let mut cond = g.condition.clone();
        cond.push_back("passed");
        c.condition = cond;
    } else {
        c.condition.prepend(&g.condition);
    }
    if c.timeout.is_none() {
        c.timeout = g.timeout;
    }
    if c.retry.is_none() {
        c.retry = g.retry;
    }
    c.negative ^= g.negative;
    c.optional |= g.optional;
    c.paused |= g.paused;
    if g.pure == Some(true) && (is_container || c.pure.is_none()) {
        c.pure = Some(true);
    }
    child
}
