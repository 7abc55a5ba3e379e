//! What a backend tells the toolkit about this machine or cluster: where Git repositories are
//! mirrored, where artifacts go and where to ask for child executions.
//!
//! The backend puts [`ToolkitSettings`] as JSON in [`crate::env::TOOLKIT`] on every container;
//! `init` passes the `03` group on to toolkit steps only (see [`crate::env`]).

use serde::{Deserialize, Serialize};

/// Settings the backend gives every toolkit operation of one execution.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolkitSettings {
    /// URL prefix rewrites for `content.git`, tried longest `from` first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub git_mirrors: Vec<GitMirror>,
    /// Where `artifacts` steps upload; `None`: the backend keeps no artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<ArtifactSink>,
    /// Where `parallel`, `services` and `execute` ask for child executions; `None`: the
    /// backend runs none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children: Option<Endpoint>,
}

/// `--git-mirror FROM=TO`: a repository URL starting with `from` is fetched from `to` plus the
/// rest, like Git's `url.<to>.insteadOf <from>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitMirror {
    pub from: String,
    pub to: String,
}

impl GitMirror {
    /// Parses `FROM=TO`; both sides must be non-empty.
    pub fn parse(text: &str) -> Result<GitMirror, String> {
        match text.split_once('=') {
            Some((from, to)) if !from.is_empty() && !to.is_empty() => Ok(GitMirror {
                from: from.to_owned(),
                to: to.to_owned(),
            }),
            _ => Err(format!(
                "`{text}`: expected FROM=TO, e.g. `https://github.com/=http://127.0.0.1:9418/`"
            )),
        }
    }

    /// The URL to fetch instead of `url`: the longest matching `from` wins (as in Git); `None`
    /// when no mirror applies.
    pub fn rewrite(mirrors: &[GitMirror], url: &str) -> Option<String> {
        mirrors
            .iter()
            .filter(|m| url.starts_with(&m.from))
            .max_by_key(|m| m.from.len())
            .map(|m| format!("{}{}", m.to, &url[m.from.len()..]))
    }
}

/// Percent-encodes one path segment of an artifact URL: everything but unreserved characters
/// (the toolkit's uploads and the receiver's links to an artifact spell names alike).
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A URL of the backend and the token that opens it, good for one execution only: where the
/// toolkit uploads artifacts ([`ArtifactSink`]) or asks for children
/// ([`crate::children::ChildrenEndpoint`]). Its `Debug` never shows the token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Base URL; an artifact is `PUT {url}/{step ref}/{relative path}`.
    pub url: String,
    /// Sent as `Authorization: Bearer <token>`.
    pub token: String,
    /// For an artifact sink: where the execution's children read its artifacts (`transfer`
    /// and `execute` tarballs) with no credential of their own: a URL with a read-only
    /// capability for this one execution's artifacts in its path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<String>,
}

/// The execution's artifact receiver: the agent's API, or the local runner's loopback server.
/// The token can add artifacts to this one execution and do nothing else.
pub type ArtifactSink = Endpoint;

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url)
            .field("token", &"***")
            .field("shared", &self.shared.as_ref().map(|_| "***"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode_segment("a b#?%.xml"), "a%20b%23%3F%25.xml");
        assert_eq!(encode_segment("ü"), "%C3%BC");
    }

    #[test]
    fn the_longest_prefix_wins_and_others_are_left_alone() {
        let mirrors = vec![
            GitMirror::parse("https://github.com/=http://127.0.0.1:1/all/").expect("a mirror"),
            GitMirror::parse("https://github.com/kubeshop/=http://127.0.0.1:2/").expect("a mirror"),
        ];
        assert_eq!(
            GitMirror::rewrite(&mirrors, "https://github.com/kubeshop/testkube").as_deref(),
            Some("http://127.0.0.1:2/testkube")
        );
        assert_eq!(
            GitMirror::rewrite(&mirrors, "https://github.com/other/x.git").as_deref(),
            Some("http://127.0.0.1:1/all/other/x.git")
        );
        assert_eq!(GitMirror::rewrite(&mirrors, "https://gitlab.com/x"), None);
        assert!(GitMirror::parse("nothing").is_err());
        assert!(GitMirror::parse("=x").is_err());
    }

    #[test]
    fn a_sink_never_shows_its_token() {
        let sink = ArtifactSink {
            url: "http://127.0.0.1:1/a".into(),
            token: "s3cr3t".into(),
            shared: Some("http://127.0.0.1:1/shared/c4p4b1l1ty".into()),
        };
        assert!(!format!("{sink:?}").contains("s3cr3t"));
        assert!(!format!("{sink:?}").contains("c4p4b1l1ty"));
    }
}
