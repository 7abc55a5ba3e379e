//! "Did you mean …?": the nearest valid name to a misspelt one.

/// The candidate closest to `word`, if it is close enough to be a plausible typo.
/// Case differences are nearly free (`workingdir` → `workingDir`).
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_lowercase()), c))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::nearest;

    #[test]
    fn finds_plausible_typos_only() {
        let fields = ["shell", "steps", "setup", "workingDir", "run"];
        assert_eq!(nearest("shel", fields), Some("shell"));
        assert_eq!(nearest("workingdir", fields), Some("workingDir"));
        assert_eq!(nearest("stpes", fields), Some("steps"));
        assert_eq!(nearest("image", fields), None);
        assert_eq!(
            nearest("TestWorkflows", ["TestWorkflow", "TestWorkflowTemplate"]),
            Some("TestWorkflow")
        );
    }
}
