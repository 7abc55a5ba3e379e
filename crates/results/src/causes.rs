//! How a container's end that was not its steps' doing is said, the same on every backend.

/// A container over its memory limit, killed by the kernel (`OOMKilled`), with the limit as
/// the Pod wrote it (`32Mi`).
pub fn oom_killed(memory_limit: Option<&str>) -> String {
    match memory_limit {
        Some(limit) => format!(
            "the container ran out of memory and was killed (OOMKilled; memory limit {limit})"
        ),
        None => "the container ran out of memory and was killed (OOMKilled)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_limit_when_there_is_one() {
        assert_eq!(
            oom_killed(Some("32Mi")),
            "the container ran out of memory and was killed (OOMKilled; memory limit 32Mi)"
        );
        assert!(!oom_killed(None).contains("limit"));
    }
}
