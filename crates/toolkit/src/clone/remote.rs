//! What the server has (`git ls-remote --symref`), and which of it a `revision` names.

/// The refs a repository advertises.
#[derive(Debug, Default)]
pub struct Refs {
    /// The branch `HEAD` points at, when the server says.
    pub head_branch: Option<String>,
    pub head: Option<String>,
    /// `(full ref name, object id)`, as advertised.
    pub refs: Vec<(String, String)>,
    /// Annotated tags: `(full ref name, the commit it peels to)`.
    pub peeled: Vec<(String, String)>,
}

/// What to fetch and check out.
#[derive(Debug, PartialEq, Eq)]
pub enum Wanted {
    /// A branch: checked out as a local branch tracking `origin/<name>`.
    Branch { name: String, commit: String },
    /// A tag, or another full ref name (`refs/pull/1/head`): checked out detached.
    Ref { name: String, commit: String },
    /// A full commit id: fetched by id, checked out detached.
    Commit(String),
    /// An abbreviated id no ref points at: found after fetching the history.
    Abbreviated(String),
}

impl Refs {
    /// Parses `git ls-remote --symref` output.
    pub fn parse(text: &str) -> Refs {
        let mut refs = Refs::default();
        for line in text.lines() {
            let Some((left, name)) = line.split_once('\t') else {
                continue;
            };
            if let Some(target) = left.strip_prefix("ref: ") {
                if name == "HEAD" {
                    refs.head_branch = target.strip_prefix("refs/heads/").map(str::to_owned);
                }
                continue;
            }
            if name == "HEAD" {
                refs.head = Some(left.to_owned());
            } else if let Some(tag) = name.strip_suffix("^{}") {
                refs.peeled.push((tag.to_owned(), left.to_owned()));
            } else {
                refs.refs.push((name.to_owned(), left.to_owned()));
            }
        }
        refs
    }

    fn id(&self, name: &str) -> Option<String> {
        let peeled = self.peeled.iter().find(|(n, _)| n == name);
        let plain = self.refs.iter().find(|(n, _)| n == name);
        peeled.or(plain).map(|(_, id)| id.clone())
    }

    /// The names under `prefix` (`refs/heads/`), short, for an error message.
    pub fn names(&self, prefix: &str) -> Vec<&str> {
        self.refs
            .iter()
            .filter_map(|(n, _)| n.strip_prefix(prefix))
            .collect()
    }

    /// What `revision` (none: the server's `HEAD`) names; `None` when nothing does.
    pub fn resolve(&self, revision: Option<&str>) -> Option<Wanted> {
        let Some(revision) = revision else {
            return match (&self.head_branch, &self.head) {
                (Some(branch), Some(commit)) => Some(Wanted::Branch {
                    name: branch.clone(),
                    commit: commit.clone(),
                }),
                (None, Some(commit)) => Some(Wanted::Commit(commit.clone())),
                _ => None,
            };
        };
        if let Some(commit) = self.id(&format!("refs/heads/{revision}")) {
            return Some(Wanted::Branch {
                name: revision.to_owned(),
                commit,
            });
        }
        if let Some(branch) = revision.strip_prefix("refs/heads/")
            && let Some(commit) = self.id(revision)
        {
            return Some(Wanted::Branch {
                name: branch.to_owned(),
                commit,
            });
        }
        for name in [format!("refs/tags/{revision}"), revision.to_owned()] {
            if name.starts_with("refs/")
                && let Some(commit) = self.id(&name)
            {
                return Some(Wanted::Ref { name, commit });
            }
        }
        let hex = revision.len() >= 4
            && revision.len() <= 64
            && revision.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex {
            return None;
        }
        let revision = revision.to_ascii_lowercase();
        if revision.len() == 40 || revision.len() == 64 {
            return Some(Wanted::Commit(revision));
        }
        // An abbreviated id of a commit some ref points at needs no history.
        let tips = self.peeled.iter().chain(&self.refs).map(|(_, id)| id);
        let mut matching: Vec<&String> = tips.filter(|id| id.starts_with(&revision)).collect();
        matching.dedup();
        match matching.as_slice() {
            [one] => Some(Wanted::Commit((*one).clone())),
            _ => Some(Wanted::Abbreviated(revision)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LS: &str = "ref: refs/heads/main\tHEAD\n\
        aaaa111111111111111111111111111111111111\tHEAD\n\
        aaaa111111111111111111111111111111111111\trefs/heads/main\n\
        bbbb222222222222222222222222222222222222\trefs/heads/dev\n\
        cccc333333333333333333333333333333333333\trefs/tags/v1\n\
        bbbb222222222222222222222222222222222222\trefs/tags/v1^{}\n";

    #[test]
    fn revisions_resolve_to_branches_tags_and_commits() {
        let refs = Refs::parse(LS);
        let main = Wanted::Branch {
            name: "main".into(),
            commit: "aaaa111111111111111111111111111111111111".into(),
        };
        assert_eq!(refs.resolve(None), Some(main));
        assert!(
            matches!(refs.resolve(Some("dev")), Some(Wanted::Branch { name, .. }) if name == "dev")
        );
        // An annotated tag resolves to the commit it peels to.
        assert_eq!(
            refs.resolve(Some("v1")),
            Some(Wanted::Ref {
                name: "refs/tags/v1".into(),
                commit: "bbbb222222222222222222222222222222222222".into()
            })
        );
        assert_eq!(
            refs.resolve(Some("bbbb222")),
            Some(Wanted::Commit(
                "bbbb222222222222222222222222222222222222".into()
            ))
        );
        assert_eq!(
            refs.resolve(Some("dddd444")),
            Some(Wanted::Abbreviated("dddd444".into()))
        );
        assert_eq!(refs.resolve(Some("nope")), None);
        assert_eq!(refs.names("refs/heads/"), ["main", "dev"]);
    }
}
