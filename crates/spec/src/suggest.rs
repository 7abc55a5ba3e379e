//! "Did you mean …?": the nearest valid name to a misspelt one. Every crate that suggests a name
//! (fields, kinds, templates, config parameters, functions, variables) calls [`nearest`], so the
//! same typo gets the same help everywhere.

/// The candidate closest to `word`, if it is close enough to be a plausible typo.
///
/// Case differences are free (`workingdir` → `workingDir`); otherwise a candidate may be at most
/// a third of `word`'s length away in edits (a transposition counts as one), at least one. Of
/// equally near candidates the first wins, so callers decide ties by their order.
pub fn nearest<S: AsRef<str>>(word: &str, candidates: impl IntoIterator<Item = S>) -> Option<S> {
    let lower = word.to_lowercase();
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| c.as_ref() != word)
        .map(|c| {
            let distance = strsim::damerau_levenshtein(&lower, &c.as_ref().to_lowercase());
            (distance, c)
        })
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

    #[test]
    fn takes_owned_names_too() {
        let names = || {
            [
                "official/k6/v1".to_string(),
                "official/jmeter/v1".to_string(),
            ]
        };
        assert_eq!(
            nearest("official/k6/v2", names()).as_deref(),
            Some("official/k6/v1")
        );
        assert_eq!(nearest("something-else", names()), None);
        assert_eq!(
            nearest("stepConfig", ["stepsConfig".to_string()]).as_deref(),
            Some("stepsConfig")
        );
        assert_eq!(
            nearest("worker", ["workers".to_string()]).as_deref(),
            Some("workers")
        );
    }
}
