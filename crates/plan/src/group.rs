//! Actions are split into containers and adjacent containers merged where that is safe
//! (`action/group.go` and `action/finalize.go` semantics).

use std::collections::HashMap;
use std::fmt;

use testwerk_spec::ContainerConfig;

use crate::action::{Action, SetupCopies};
use crate::paths;

/// The images that are ours rather than the user's.
#[derive(Clone, Debug)]
pub struct OwnImages {
    pub init: String,
    pub toolkit: String,
    /// How our binaries reach containers that run a user's image.
    pub delivery: BinaryDelivery,
}

/// How `init`, the toolkit and our shell reach containers that run a user's image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BinaryDelivery {
    /// A setup step copies them into the shared volume: in a container of its own when the
    /// first container runs a user's image (upstream's layout).
    #[default]
    Copy,
    /// Every container mounts our images as image volumes (Kubernetes `ImageVolume`): no
    /// setup container, ever; the setup step only links them into the shared volume.
    ImageVolume,
}

impl OwnImages {
    /// An unset image runs in the init image.
    pub fn is_own(&self, image: Option<&str>) -> bool {
        match image {
            None | Some("") => true,
            Some(i) => i == self.init || i == self.toolkit,
        }
    }

    fn is_toolkit(&self, image: Option<&str>) -> bool {
        image == Some(self.toolkit.as_str())
    }
}

/// Why two neighbouring containers were or were not merged; shown by `testwerk compile --plan`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeDecision {
    /// The step that ends the first container and the one that starts the second.
    pub left: String,
    pub right: String,
    pub merged: bool,
    pub reason: String,
}

impl fmt::Display for MergeDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.merged { "merged" } else { "kept apart" };
        write!(f, "{} + {}: {verb}: {}", self.left, self.right, self.reason)
    }
}

pub struct Grouping {
    pub groups: Vec<Vec<Action>>,
    pub decisions: Vec<MergeDecision>,
}

/// Splits at every execute point, then merges neighbours unless `isolated`.
pub fn group(actions: Vec<Action>, images: &OwnImages, isolated: bool) -> Grouping {
    let groups = split(actions);
    let mut decisions = Vec::new();
    if isolated {
        for pair in groups.windows(2) {
            decisions.push(decision(
                &pair[0],
                &pair[1],
                false,
                "system.isolatedContainers is set".into(),
            ));
        }
        return Grouping { groups, decisions };
    }
    // From the end: each group absorbs the (already final) groups after it while it can. A
    // merged group is kept as its parts, last first, so absorbing one costs O(1) instead of
    // copying everything merged so far.
    let mut after: Vec<(Vec<Vec<Action>>, Summary)> = Vec::with_capacity(groups.len());
    for g in groups.into_iter().rev() {
        let mut summary = Summary::of(&g, images);
        let mut parts = vec![g];
        while let Some((next, next_summary)) = after.last() {
            let (merge, reason) = can_merge(&summary, next_summary, images);
            decisions.push(MergeDecision {
                left: last_exec(&parts),
                right: first_exec(next),
                merged: merge,
                reason,
            });
            if !merge {
                break;
            }
            if let Some((mut next, next_summary)) = after.pop() {
                next.append(&mut parts);
                parts = next;
                summary.absorb(next_summary);
            }
        }
        after.push((parts, summary));
    }
    decisions.reverse();
    let mut groups: Vec<Vec<Action>> = after
        .into_iter()
        .rev()
        .map(|(parts, _)| parts.into_iter().rev().flatten().collect())
        .collect();
    for g in &mut groups {
        if !images.is_own(
            main_config(g, images)
                .and_then(|c| c.image.clone())
                .as_deref(),
        ) {
            rewrite_command_prefix(g, paths::IMAGE_BIN_DIR, paths::COPIED_BIN_DIR, |_| true);
        }
    }
    Grouping { groups, decisions }
}

/// What decides whether a group can merge with a neighbour, kept per group so that a group
/// that has absorbed thousands of pure steps is not read again for every neighbour.
struct Summary {
    pure: bool,
    has_transitions: bool,
    /// The distinct container settings that matter for merging (see [`incompatibility`]), each
    /// with whether it runs one of our images.
    settings: Vec<(ContainerConfig, bool)>,
}

impl Summary {
    fn of(group: &[Action], images: &OwnImages) -> Summary {
        let mut summary = Summary {
            pure: is_pure(group),
            has_transitions: false,
            settings: Vec::new(),
        };
        for c in transitions(group) {
            summary.has_transitions = true;
            summary.add((merge_settings(c), images.is_own(c.image.as_deref())));
        }
        summary
    }

    fn add(&mut self, setting: (ContainerConfig, bool)) {
        if !self.settings.contains(&setting) {
            self.settings.push(setting);
        }
    }

    fn absorb(&mut self, other: Summary) {
        self.pure &= other.pure;
        self.has_transitions |= other.has_transitions;
        for setting in other.settings {
            self.add(setting);
        }
    }

    /// The settings that must be compatible with the other side: a pure group running in our
    /// image can run anywhere, so only its user-image settings count.
    fn relevant(&self) -> impl Iterator<Item = &ContainerConfig> {
        self.settings
            .iter()
            .filter(|(_, own)| !(self.pure && *own))
            .map(|(c, _)| c)
    }
}

/// The fields of a container config that [`incompatibility`] compares.
fn merge_settings(c: &ContainerConfig) -> ContainerConfig {
    ContainerConfig {
        image: c.image.clone(),
        image_pull_policy: c.image_pull_policy.clone(),
        resources: c.resources.clone(),
        security_context: c.security_context.clone(),
        volume_mounts: c.volume_mounts.clone(),
        ..ContainerConfig::default()
    }
}

/// The last step a merged group (its parts, last first) executes.
fn last_exec(parts: &[Vec<Action>]) -> String {
    parts
        .iter()
        .find_map(|p| p.iter().rev().find_map(exec_ref))
        .unwrap_or("(setup)")
        .to_owned()
}

/// The first step a merged group (its parts, last first) executes.
fn first_exec(parts: &[Vec<Action>]) -> String {
    parts
        .iter()
        .rev()
        .find_map(|p| p.iter().find_map(exec_ref))
        .unwrap_or("(none)")
        .to_owned()
}

fn decision(left: &[Action], right: &[Action], merged: bool, reason: String) -> MergeDecision {
    let last_exec = left
        .iter()
        .rev()
        .find_map(exec_ref)
        .unwrap_or("(setup)")
        .to_owned();
    let first_exec = right
        .iter()
        .find_map(exec_ref)
        .unwrap_or("(none)")
        .to_owned();
    MergeDecision {
        left: last_exec,
        right: first_exec,
        merged,
        reason,
    }
}

fn exec_ref(a: &Action) -> Option<&str> {
    match a {
        Action::Execute { r#ref, .. } => Some(r#ref),
        _ => None,
    }
}

fn split(actions: Vec<Action>) -> Vec<Vec<Action>> {
    let execs: Vec<(usize, String)> = actions
        .iter()
        .enumerate()
        .filter_map(|(i, a)| exec_ref(a).map(|r| (i, r.to_owned())))
        .collect();
    if execs.len() <= 1 {
        return vec![actions];
    }
    // Each execute's container starts at its `Start` or its container transition, whichever is
    // first (found in one pass: searching backwards from every execute was quadratic).
    let mut first_seen: HashMap<&str, usize> = HashMap::new();
    for (i, a) in actions.iter().enumerate() {
        if let Action::Start(r) | Action::Container { r#ref: r, .. } = a {
            first_seen.entry(r.as_str()).or_insert(i);
        }
    }
    let mut boundaries: Vec<usize> = execs[1..]
        .iter()
        .map(|(at, r)| {
            first_seen
                .get(r.as_str())
                .copied()
                .filter(|i| i < at)
                .unwrap_or(*at)
        })
        .collect();
    boundaries.dedup();
    let mut groups = Vec::new();
    let mut rest = actions;
    for &b in boundaries.iter().rev() {
        let tail = rest.split_off(b.min(rest.len()));
        groups.push(tail);
    }
    groups.push(rest);
    groups.reverse();
    groups.retain(|g| !g.is_empty());
    groups
}

fn is_pure(group: &[Action]) -> bool {
    group
        .iter()
        .all(|a| !matches!(a, Action::Execute { pure: false, .. }))
}

fn transitions(group: &[Action]) -> impl Iterator<Item = &ContainerConfig> {
    group.iter().filter_map(|a| match a {
        Action::Container { config, .. } => Some(config.as_ref()),
        _ => None,
    })
}

fn can_merge(a: &Summary, b: &Summary, images: &OwnImages) -> (bool, String) {
    if !a.pure && !b.pure {
        return (
            false,
            "both run impure steps (mark one `pure: true` to allow merging)".into(),
        );
    }
    if !a.has_transitions || !b.has_transitions {
        return (true, "one side changes no container settings".into());
    }
    for x in a.relevant() {
        for y in b.relevant() {
            if let Some(why) = incompatibility(x, y, images) {
                return (false, why);
            }
        }
    }
    (
        true,
        "compatible containers and at least one side is pure".into(),
    )
}

/// `None` when two container configs can share one Kubernetes container.
fn incompatibility(x: &ContainerConfig, y: &ContainerConfig, images: &OwnImages) -> Option<String> {
    let image = |c: &ContainerConfig| {
        c.image
            .clone()
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| images.init.clone())
    };
    if image(x) != image(y) {
        return Some(format!("different images ({} and {})", image(x), image(y)));
    }
    if x.image_pull_policy != y.image_pull_policy {
        return Some("different image pull policies".into());
    }
    if x.resources != y.resources {
        return Some("different resources".into());
    }
    if x.security_context != y.security_context {
        return Some("different security contexts".into());
    }
    for mx in &x.volume_mounts {
        for my in &y.volume_mounts {
            if mx.mount_path == my.mount_path
                && (mx.name != my.name
                    || mx.sub_path != my.sub_path
                    || mx.sub_path_expr != my.sub_path_expr)
            {
                return Some(format!("different volumes mounted at {}", mx.mount_path));
            }
        }
    }
    None
}

/// The container settings that decide a group's image: the first executed step with a user
/// image, else the first executed step, else the last transition.
pub fn main_config<'a>(group: &'a [Action], images: &OwnImages) -> Option<&'a ContainerConfig> {
    let executed: std::collections::HashSet<&str> = group.iter().filter_map(exec_ref).collect();
    let executable: Vec<&ContainerConfig> = group
        .iter()
        .filter_map(|a| match a {
            Action::Container { r#ref, config } if executed.contains(&r#ref.as_str()) => {
                Some(config.as_ref())
            }
            _ => None,
        })
        .collect();
    executable
        .iter()
        .find(|c| !images.is_own(c.image.as_deref()))
        .or(executable.first())
        .copied()
        .or_else(|| transitions(group).last())
}

/// Rewrites the first element of commands starting with `from` (in transitions `which` accepts).
fn rewrite_command_prefix(
    group: &mut [Action],
    from: &str,
    to: &str,
    which: impl Fn(&ContainerConfig) -> bool,
) {
    for a in group.iter_mut() {
        if let Action::Container { config, .. } = a
            && which(config)
            && let Some(cmd) = config.command.as_mut().and_then(|c| c.first_mut())
            && let Some(rest) = cmd.strip_prefix(from)
        {
            *cmd = format!("{to}{rest}");
        }
    }
}

/// Uses the image's own shell in our images (`/.testwerk-bin/sh`); called before grouping.
pub fn use_image_shell(actions: &mut [Action], images: &OwnImages) {
    rewrite_command_prefix(actions, paths::COPIED_BIN_DIR, paths::IMAGE_BIN_DIR, |c| {
        images.is_own(c.image.as_deref())
    });
}

/// Adds the setup step: merged into the first container when that one runs our image (or our
/// images arrive as image volumes), else a container of its own that also takes the first
/// group's leading bookkeeping actions.
pub fn finalize(
    mut groups: Vec<Vec<Action>>,
    images: &OwnImages,
    isolated: bool,
) -> (Vec<Vec<Action>>, SetupCopies) {
    let any_user_image = groups.iter().flatten().any(|a| match a {
        Action::Container { config, .. } => !images.is_own(config.image.as_deref()),
        _ => false,
    });
    let first_is_own = groups
        .first()
        .is_some_and(|g| transitions(g).all(|c| images.is_own(c.image.as_deref())));
    let from_volumes = images.delivery == BinaryDelivery::ImageVolume;
    let merge_setup = from_volumes || (!isolated && first_is_own);
    let first_uses_toolkit = groups
        .first()
        .is_some_and(|g| transitions(g).any(|c| images.is_toolkit(c.image.as_deref())));
    let mixes_toolkit = groups.iter().any(|g| {
        transitions(g).any(|c| images.is_toolkit(c.image.as_deref()))
            && transitions(g).any(|c| !images.is_own(c.image.as_deref()))
    });
    let mut copies = SetupCopies {
        init: any_user_image,
        binaries: any_user_image,
        toolkit: mixes_toolkit || (merge_setup && first_uses_toolkit),
        from_volumes: false,
    };
    if groups.len() == 1 && !isolated && first_is_own {
        copies = SetupCopies::default();
    }
    copies.from_volumes = from_volumes && (copies.needs_init_image() || copies.toolkit);
    if !copies.toolkit {
        for g in &mut groups {
            rewrite_command_prefix(g, paths::COPIED_TOOLKIT, paths::IMAGE_TOOLKIT, |c| {
                images.is_toolkit(c.image.as_deref())
            });
        }
    }
    if merge_setup {
        if let Some(first) = groups.first_mut() {
            first.insert(0, Action::Setup(copies));
        }
        return (groups, copies);
    }
    let mut setup = vec![Action::Setup(copies)];
    if let Some(first) = groups.first_mut() {
        let leading = first
            .iter()
            .position(|a| matches!(a, Action::Container { .. }))
            .unwrap_or(first.len());
        setup.extend(first.drain(..leading));
    }
    groups.insert(0, setup);
    groups.retain(|g| !g.is_empty());
    (groups, copies)
}
