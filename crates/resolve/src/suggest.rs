//! "Did you mean …?" for names a person typed.

/// The candidate closest to `wanted` by normalized Levenshtein similarity, if it is similar
/// enough (or contains / is contained in `wanted`) to be a plausible typo.
pub fn nearest(wanted: &str, candidates: impl IntoIterator<Item = String>) -> Option<String> {
    let wanted_lower = wanted.to_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            let lower = c.to_lowercase();
            let mut score = strsim::normalized_levenshtein(&wanted_lower, &lower);
            if !wanted_lower.is_empty()
                && (lower.contains(&wanted_lower) || wanted_lower.contains(&lower))
            {
                score = score.max(0.7);
            }
            (score, c)
        })
        .filter(|(score, _)| *score >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_and_ignores_strangers() {
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
    }
}
