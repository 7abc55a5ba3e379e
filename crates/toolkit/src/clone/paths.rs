//! `paths`: the sparse-checkout patterns, and the check that each matched something.

/// The patterns as `git sparse-checkout set` takes them. In cone mode each is a directory
/// relative to the root (leading and trailing slashes dropped); a path naming the whole
/// repository (`.`, `/`) turns sparse checkout off (`None`).
pub fn patterns(paths: &[String], cone: bool) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for path in paths {
        let trimmed = path.trim();
        let bare = trimmed.trim_matches('/');
        if bare.is_empty() || bare == "." {
            return None;
        }
        out.push(if cone {
            bare.to_owned()
        } else {
            trimmed.to_owned()
        });
    }
    (!out.is_empty()).then_some(out)
}

/// `git ls-files` pathspecs that list what `pattern` (gitignore syntax, as sparse checkout
/// reads it) selects: the files it names and everything under the directories it names.
/// `None` for a negation (`!x`), which need not match anything.
pub fn pathspecs(pattern: &str, cone: bool) -> Option<[String; 2]> {
    if pattern.starts_with('!') {
        return None;
    }
    let anchored = cone || pattern.starts_with('/') || pattern.trim_end_matches('/').contains('/');
    let body = pattern.trim_matches('/');
    let glob = if anchored {
        body.to_owned()
    } else {
        format!("**/{body}")
    };
    Some([format!(":(glob){glob}"), format!(":(glob){glob}/**")])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cone_paths_are_directories_from_the_root() {
        let p =
            |v: &[&str], cone| patterns(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>(), cone);
        assert_eq!(
            p(&["/test/curl/", "a"], true),
            Some(vec!["test/curl".into(), "a".into()])
        );
        assert_eq!(p(&["/test/*.js"], false), Some(vec!["/test/*.js".into()]));
        assert_eq!(p(&["test", "."], false), None);
        assert_eq!(p(&[], false), None);
    }

    #[test]
    fn unanchored_patterns_match_at_any_depth() {
        assert_eq!(
            pathspecs("*.js", false),
            Some([":(glob)**/*.js".into(), ":(glob)**/*.js/**".into()])
        );
        assert_eq!(
            pathspecs("/test/k6/", false),
            Some([":(glob)test/k6".into(), ":(glob)test/k6/**".into()])
        );
        assert_eq!(pathspecs("!x", false), None);
    }
}
