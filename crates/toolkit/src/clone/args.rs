//! The argv of `clone`, as the plan writes it (`crates/plan/src/process/content.rs`):
//! `[--cone] <uri> <mountPath> [-u user] [-t token] [-s sshKey] [-a basic|header]
//! [-r revision] [-p path]… [--verbosity v] [--retry-count n] [--retry-delay d]`.

use std::path::PathBuf;
use std::time::Duration;

use crate::ToolkitError;

/// How `token` is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthType {
    /// `Authorization: Basic base64(username:token)` (Git's usual HTTPS auth).
    Basic,
    /// `Authorization: Bearer <token>`.
    Header,
}

/// How much `clone` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// Only the final line and errors.
    Quiet,
    /// What is fetched from where, and where it ended.
    Normal,
    /// Also what `git` itself prints (masked).
    Verbose,
}

/// Everything `content.git` asks for. No `Debug`: it holds the credentials.
pub struct CloneArgs {
    pub uri: String,
    pub target: PathBuf,
    pub cone: bool,
    pub username: Option<String>,
    pub token: Option<String>,
    pub ssh_key: Option<String>,
    pub auth: AuthType,
    pub revision: Option<String>,
    pub paths: Vec<String>,
    pub verbosity: Verbosity,
    /// Attempts of each network operation (1..=20; upstream's default 5).
    pub retry_count: u32,
    /// Pause between attempts.
    pub retry_delay: Duration,
}

/// Upstream's default number of attempts (`retry.count`).
pub const DEFAULT_RETRY_COUNT: u32 = 5;
/// The pause between attempts when `retry.delay` is not given.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);

impl CloneArgs {
    pub fn parse(args: Vec<String>) -> Result<Self, ToolkitError> {
        let usage = |m: String| {
            ToolkitError::Usage(format!(
                "clone: {m}\nusage: clone [--cone] <uri> <mountPath> [-u user] [-t token] [-s sshKey] \
                 [-a basic|header] [-r revision] [-p path]... [--verbosity quiet|normal|verbose] \
                 [--retry-count n] [--retry-delay d]"
            ))
        };
        let mut positional = Vec::new();
        let mut parsed = CloneArgs {
            uri: String::new(),
            target: PathBuf::new(),
            cone: false,
            username: None,
            token: None,
            ssh_key: None,
            auth: AuthType::Basic,
            revision: None,
            paths: Vec::new(),
            verbosity: Verbosity::Verbose,
            retry_count: DEFAULT_RETRY_COUNT,
            retry_delay: DEFAULT_RETRY_DELAY,
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let flag = arg.as_str();
            if flag == "--cone" {
                parsed.cone = true;
                continue;
            }
            if !flag.starts_with('-') || flag == "-" {
                positional.push(arg);
                continue;
            }
            // Credentials are never echoed: a missing value names only the flag.
            let value = args
                .next()
                .ok_or_else(|| usage(format!("`{flag}` needs a value")))?;
            // An empty value is what an unset `{{env.X}}` leaves: the same as not given.
            let some = |v: String| Some(v).filter(|v| !v.is_empty());
            match flag {
                "-u" | "--username" => parsed.username = some(value),
                "-t" | "--token" => parsed.token = some(value),
                "-s" | "--sshKey" | "--ssh-key" => parsed.ssh_key = some(value),
                "-a" | "--authType" | "--auth-type" => {
                    parsed.auth = match value.as_str() {
                        "" | "basic" => AuthType::Basic,
                        "header" => AuthType::Header,
                        "github" => {
                            return Err(usage(
                                "authType `github` gets its token from Testkube's control plane, \
                                 which testwerk does not have; give a `token` with authType \
                                 basic or header"
                                    .into(),
                            ));
                        }
                        other => {
                            return Err(usage(format!(
                                "unknown authType `{other}`; expected basic or header"
                            )));
                        }
                    }
                }
                "-r" | "--revision" => parsed.revision = some(value),
                "-p" | "--paths" => {
                    if !value.is_empty() {
                        parsed.paths.push(value);
                    }
                }
                "--verbosity" => {
                    parsed.verbosity = match value.as_str() {
                        "quiet" => Verbosity::Quiet,
                        "normal" => Verbosity::Normal,
                        "" | "verbose" => Verbosity::Verbose,
                        other => {
                            return Err(usage(format!(
                                "unknown verbosity `{other}`; expected quiet, normal or verbose"
                            )));
                        }
                    }
                }
                "--retry-count" => {
                    parsed.retry_count = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=20).contains(n))
                        .ok_or_else(|| {
                            usage(format!("--retry-count `{value}`: expected 1 to 20"))
                        })?;
                }
                "--retry-delay" => {
                    parsed.retry_delay = testwerk_spec::duration::parse_go(&value)
                        .map_err(|e| usage(format!("--retry-delay `{value}`: {e}")))?;
                }
                other => return Err(usage(format!("unknown flag `{other}`"))),
            }
        }
        match <[String; 2]>::try_from(positional) {
            Ok([uri, target]) if !uri.is_empty() && !target.is_empty() => {
                parsed.uri = uri;
                parsed.target = PathBuf::from(target);
            }
            Ok(_) => return Err(usage("the uri and the mount path must not be empty".into())),
            Err(p) => {
                return Err(usage(format!(
                    "expected <uri> <mountPath>, got {} positional argument(s)",
                    p.len()
                )));
            }
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<CloneArgs, ToolkitError> {
        CloneArgs::parse(args.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn the_plans_argv_parses() {
        let a = parse(&[
            "--cone",
            "https://x/r",
            "/data/repo",
            "-u",
            "me",
            "-t",
            "tok",
            "-a",
            "header",
            "-r",
            "v1",
            "-p",
            "a",
            "-p",
            "b/c",
            "--verbosity",
            "quiet",
            "--retry-count",
            "3",
            "--retry-delay",
            "250ms",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(a.cone);
        assert_eq!(a.uri, "https://x/r");
        assert_eq!(a.target, PathBuf::from("/data/repo"));
        assert_eq!(a.username.as_deref(), Some("me"));
        assert_eq!(a.token.as_deref(), Some("tok"));
        assert_eq!(a.auth, AuthType::Header);
        assert_eq!(a.revision.as_deref(), Some("v1"));
        assert_eq!(a.paths, ["a", "b/c"]);
        assert_eq!(a.verbosity, Verbosity::Quiet);
        assert_eq!(a.retry_count, 3);
        assert_eq!(a.retry_delay, Duration::from_millis(250));
    }

    #[test]
    fn empty_values_count_as_not_given_and_bad_ones_are_named() {
        let a = parse(&["u", "/t", "-t", "", "-u", ""]).unwrap_or_else(|e| panic!("{e}"));
        assert!(a.token.is_none() && a.username.is_none());
        for (args, needle) in [
            (&["u"][..], "positional"),
            (&["u", "/t", "-a", "github"], "control plane"),
            (&["u", "/t", "--retry-count", "0"], "1 to 20"),
            (&["u", "/t", "--retry-delay", "soon"], "soon"),
            (&["u", "/t", "-x", "1"], "`-x`"),
            (&["u", "/t", "-t"], "`-t` needs a value"),
        ] {
            let err = parse(args).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(needle), "{args:?}: {err}");
        }
    }
}
