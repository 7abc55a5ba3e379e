//! The size limits Kubernetes (and the kernel inside the Pod) puts on what we create, checked
//! when the workflow is compiled, so a workflow too big to run fails here naming the limit, the
//! size and the first step that does not fit, instead of failing in the API server or when a
//! container starts (`Argument list too long`).
//!
//! Which limits bind depends on where the objects go ([`Target`]): the API server's and etcd's
//! limits (annotations, one ConfigMap, one Job) bind only on Kubernetes; the kernel's limit on
//! one environment string binds wherever a container starts, so the local runner keeps it.

use std::fmt;

use testwerk_plan::{Plan, SignatureNode};

/// All annotations of one object together (keys and values): `TotalAnnotationSizeLimitB`.
pub const MAX_ANNOTATIONS: usize = 256 * 1024;
/// One environment string `NAME=value` with its NUL: the kernel's `MAX_ARG_STRLEN`.
pub const MAX_ENV_STRING: usize = 128 * 1024;
/// The data of one ConfigMap (`MaxSecretSize`, also enforced for ConfigMaps).
pub const MAX_CONFIG_MAP: usize = 1024 * 1024;
/// One object as stored: etcd refuses a request over 1.5 MiB (`--max-request-bytes`).
pub const MAX_OBJECT: usize = 1536 * 1024;

/// Where the objects of an execution are going, which decides the limits that bind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Target {
    /// Created through the API server: every limit of [`Limit`] binds.
    #[default]
    Kubernetes,
    /// Run by the local runner, which reads the objects from memory: only the kernel's limits
    /// bind (one environment string), since no API server or etcd ever sees the objects.
    Local,
}

impl Target {
    /// Whether `limit` binds for this target.
    pub fn binds(self, limit: Limit) -> bool {
        match limit {
            Limit::EnvValue => true,
            Limit::Annotations | Limit::PlanConfigMap | Limit::Job => self == Target::Kubernetes,
        }
    }
}

/// Which limit a workflow breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// The Pod's annotations (the user's `pod.annotations`; the plan moves to a ConfigMap).
    Annotations,
    /// One environment variable of a container.
    EnvValue,
    /// The ConfigMap that holds a big plan.
    PlanConfigMap,
    /// The Job object (mostly its containers).
    Job,
}

impl Limit {
    pub fn max(self) -> usize {
        match self {
            Limit::Annotations => MAX_ANNOTATIONS,
            Limit::EnvValue => MAX_ENV_STRING,
            Limit::PlanConfigMap => MAX_CONFIG_MAP,
            Limit::Job => MAX_OBJECT,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Limit::Annotations => "the Pod's annotations exceed Kubernetes' limit on annotations",
            Limit::EnvValue => "an environment variable exceeds the kernel's limit on one variable",
            Limit::PlanConfigMap => {
                "the plan (compressed) exceeds Kubernetes' limit on one ConfigMap"
            }
            Limit::Job => "the Job exceeds the API server's (etcd's) limit on one object",
        }
    }

    fn help(self) -> &'static str {
        match self {
            Limit::Annotations => {
                "keep `pod.annotations` small (the plan itself moves to a ConfigMap when it is big)"
            }
            Limit::EnvValue => "pass big values as files (`content.files`) instead of variables",
            Limit::PlanConfigMap => {
                "split the workflow into smaller ones (e.g. `execute` them from one workflow)"
            }
            Limit::Job => {
                "each impure step is a container of its own; mark steps `pure: true` (or set `system.pureByDefault: true`) so that they share one container"
            }
        }
    }
}

/// A workflow that cannot become Kubernetes objects within [`Limit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitError {
    pub limit: Limit,
    /// The size measured, in bytes.
    pub size: usize,
    /// The first step that does not fit: (ref, name).
    pub step: Option<(String, Option<String>)>,
    /// More detail (which variable, which container).
    pub detail: Option<String>,
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} bytes, at most {} allowed",
            self.limit.what(),
            self.size,
            self.limit.max()
        )?;
        if let Some(detail) = &self.detail {
            write!(f, " ({detail})")?;
        }
        if let Some((r, name)) = &self.step {
            match name {
                Some(name) => write!(f, "; the first step that does not fit is `{name}` ({r})")?,
                None => write!(f, "; the first step that does not fit is {r}")?,
            }
        }
        write!(f, "; help: {}", self.limit.help())
    }
}

impl std::error::Error for LimitError {}

/// The name of step `r` in the full signature, if it has one.
pub fn step_name(plan: &Plan, r: &str) -> Option<String> {
    fn find(nodes: &[SignatureNode], r: &str) -> Option<Option<String>> {
        nodes.iter().find_map(|n| {
            if n.r#ref == r {
                Some(n.name.clone())
            } else {
                find(&n.children, r)
            }
        })
    }
    find(&plan.full_signature, r).flatten()
}

/// The first item whose cumulative size (after `fixed` bytes) goes over `max`.
pub fn first_over<'a>(
    fixed: usize,
    max: usize,
    items: impl IntoIterator<Item = (Option<&'a str>, usize)>,
) -> Option<&'a str> {
    let mut total = fixed;
    let mut last_ref = None;
    for (r, size) in items {
        if r.is_some() {
            last_ref = r;
        }
        total += size;
        if total > max {
            return last_ref;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_item_over_the_limit_is_named() {
        let items = [(Some("a"), 4), (None, 3), (Some("b"), 4), (Some("c"), 4)];
        assert_eq!(first_over(0, 10, items), Some("b"));
        assert_eq!(
            first_over(4, 10, items),
            Some("a"),
            "the unnamed item belongs to a"
        );
        assert_eq!(first_over(0, 100, items), None);
    }

    #[test]
    fn messages_name_limit_size_step_and_help() {
        let e = LimitError {
            limit: Limit::Job,
            size: 2_000_000,
            step: Some(("r812".into(), Some("Step 812".into()))),
            detail: None,
        };
        let text = e.to_string();
        for part in [
            "etcd",
            "2000000 bytes",
            "1572864",
            "`Step 812` (r812)",
            "pure: true",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
    }
}
