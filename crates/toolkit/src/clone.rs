//! `clone`: `content.git`, with Debian's `git` (as upstream; `gix` has no complete sparse
//! checkout).
//!
//! The repository is fetched into the mount path itself (`git init` there, then a shallow
//! fetch of exactly the commit wanted), so an existing empty mount point is filled, never
//! replaced:
//!
//! 1. `git ls-remote` says what the server has; the `revision` (branch, tag, full or
//!    abbreviated commit, none: the server's `HEAD`) is resolved against it, so an unknown
//!    revision is named before anything is downloaded;
//! 2. `git fetch --depth=1` of that ref or commit (`--filter=blob:none` with `paths`: only
//!    the files checked out are downloaded). A commit the server will not send by id
//!    (protocol v0 without `allowAnySHA1InWant`), or an abbreviated id no ref points at, is
//!    found in the full history instead;
//! 3. `paths` become a sparse checkout (cone or not), each of which must match something;
//! 4. checkout (a branch as a local branch tracking `origin`, anything else detached), then
//!    group read/write on everything, as upstream does, so steps running as other users of
//!    the Pod's `fsGroup` can use the checkout.
//!
//! Credentials never reach git's argv (readable by anyone in `/proc`) or any output: they
//! travel in `GIT_CONFIG_*` variables as an `Authorization` header scoped to the server, and
//! everything git prints is masked ([`mask`]). `GIT_TERMINAL_PROMPT=0`: a missing credential
//! fails instead of waiting; each git command has a time limit, and network failures are
//! retried `--retry-count` times, `--retry-delay` apart.
//!
//! `ToolkitSettings::git_mirrors` rewrites the URL (the longest matching prefix) and is also
//! handed to git as `url.<to>.insteadOf` (and kept in the checkout's config), so later
//! fetches there and submodules follow the mirror. `origin` stays the URL the workflow named.

mod args;
mod git;
pub mod mask;
mod paths;
mod remote;
mod ssh;

pub use args::{AuthType, CloneArgs, Verbosity};

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use testwerk_protocol::toolkit::{GitMirror, ToolkitSettings};

use crate::ToolkitError;
use git::{Git, GitFailure, Problem, reason};
use mask::Masker;
use remote::{Refs, Wanted};

/// Time limits of the network operations.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The longest one git command may run.
    pub command: Duration,
    /// An HTTP transfer slower than 1 byte/s for this long is abandoned.
    pub stalled: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            command: Duration::from_secs(30 * 60),
            stalled: Duration::from_secs(60),
        }
    }
}

/// `toolkit clone <args>`: progress on stdout.
pub fn run(args: Vec<String>, settings: &ToolkitSettings) -> Result<(), ToolkitError> {
    let args = CloneArgs::parse(args)?;
    let stdout = std::io::stdout();
    clone(&args, settings, Limits::default(), &mut stdout.lock())
}

/// Clones as `args` say, printing progress to `out`. The error names what was missing.
pub fn clone(
    args: &CloneArgs,
    settings: &ToolkitSettings,
    limits: Limits,
    out: &mut dyn Write,
) -> Result<(), ToolkitError> {
    let mut job = Job::new(args, settings, limits, out)?;
    let prepared = prepare_target(&args.target)?;
    let result = job.clone_into(&args.target);
    if let Err(err) = &result {
        // Leave the mount path as it was found, not half a repository.
        if let Err(e) = prepared.undo(&args.target) {
            job.say(
                Verbosity::Quiet,
                &format!(
                    "warning: cannot clean {} after the failure: {e}",
                    args.target.display()
                ),
            );
        }
        return Err(ToolkitError::Failed(job.git.masker.mask(&err.to_string())));
    }
    result
}

/// One clone in progress.
struct Job<'a> {
    args: &'a CloneArgs,
    out: &'a mut dyn Write,
    git: Git,
    /// The URL as the workflow wrote it, without credentials: shown and kept as `origin`.
    shown: String,
    /// The URL fetched (the mirror's, when one applies).
    fetch: String,
    mirror: Option<String>,
    /// Kept alive until the clone ends; dropping it removes the key.
    _ssh_key: Option<ssh::SshKey>,
}

impl<'a> Job<'a> {
    fn new(
        args: &'a CloneArgs,
        settings: &ToolkitSettings,
        limits: Limits,
        out: &'a mut dyn Write,
    ) -> Result<Self, ToolkitError> {
        let binary = testwerk_which("git").ok_or_else(|| {
            ToolkitError::Failed(
                "clone: `git` is not installed in this container (the toolkit image has it; \
                 on Debian: apt-get install -y git)"
                    .into(),
            )
        })?;
        let mut masker = Masker::default();
        let (shown, url_user, url_password) = split_credentials(&args.uri);
        let username = args.username.clone().or(url_user);
        let token = args.token.clone().or(url_password);
        for secret in [&token, &args.ssh_key].into_iter().flatten() {
            masker.add(secret);
        }

        let mirror = GitMirror::rewrite(&settings.git_mirrors, &shown);
        let fetch = mirror.clone().unwrap_or_else(|| shown.clone());

        let mut config: Vec<(String, String)> = vec![
            ("safe.directory".into(), "*".into()),
            ("advice.detachedHead".into(), "false".into()),
            ("init.defaultBranch".into(), "main".into()),
            // No helper of the image's may answer for us (or store what we send).
            ("credential.helper".into(), String::new()),
            ("http.lowSpeedLimit".into(), "1".into()),
            (
                "http.lowSpeedTime".into(),
                limits.stalled.as_secs().max(1).to_string(),
            ),
        ];
        for m in &settings.git_mirrors {
            config.push((format!("url.{}.insteadOf", m.to), m.from.clone()));
        }
        if let (Some(token), Some(server)) = (&token, http_server(&fetch)) {
            let header = match args.auth {
                AuthType::Header => format!("Authorization: Bearer {token}"),
                AuthType::Basic => {
                    let pair = format!("{}:{token}", username.as_deref().unwrap_or(token));
                    masker.add(&pair);
                    let encoded = base64::engine::general_purpose::STANDARD.encode(&pair);
                    format!("Authorization: Basic {encoded}")
                }
            };
            // Scoped to the server fetched from: never sent anywhere else.
            config.push((format!("http.{server}.extraHeader"), header));
        }
        // A user without a token goes into the URL (not a secret); git then fails for the
        // missing password instead of asking.
        let fetch = match (&token, &username) {
            (None, Some(user)) if http_server(&fetch).is_some() => with_user(&fetch, user),
            _ => fetch,
        };

        let ssh_key = args
            .ssh_key
            .as_deref()
            .map(ssh::SshKey::write)
            .transpose()?;
        let env = vec![("GIT_SSH_COMMAND".to_owned(), ssh::command(ssh_key.as_ref()))];
        Ok(Job {
            args,
            out,
            git: Git {
                binary,
                config,
                env,
                masker,
                time_limit: limits.command,
            },
            shown,
            fetch,
            mirror,
            _ssh_key: ssh_key,
        })
    }

    /// Progress at `level` and above. A line that cannot be printed does not fail the clone
    /// (the checkout is what matters), so write errors are dropped here on purpose.
    fn say(&mut self, level: Verbosity, line: &str) {
        if self.args.verbosity >= level {
            let line = self.git.masker.mask(line);
            writeln!(self.out, "{line}").ok();
        }
    }

    /// git's own output, in verbose mode.
    fn relay(&mut self, text: &str) {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            self.say(Verbosity::Verbose, &format!("  {line}"));
        }
    }

    fn local(&mut self, dir: &Path, args: &[&str], what: &str) -> Result<String, ToolkitError> {
        self.local_with(dir, args, None, what)
    }

    fn local_with(
        &mut self,
        dir: &Path,
        args: &[&str],
        stdin: Option<&str>,
        what: &str,
    ) -> Result<String, ToolkitError> {
        match self.git.run(Some(dir), args, stdin) {
            Ok(out) => {
                self.relay(&out.stderr);
                Ok(out.stdout)
            }
            Err(f) => Err(ToolkitError::Failed(format!(
                "clone: {what} failed: {}",
                reason(&f.stderr)
            ))),
        }
    }

    /// A network operation, retried while the failure is one another attempt can fix.
    fn network(
        &mut self,
        dir: &Path,
        args: &[&str],
        what: &str,
    ) -> Result<String, (Problem, GitFailure)> {
        let attempts = self.args.retry_count.max(1);
        let mut attempt = 1;
        loop {
            match self.git.run(Some(dir), args, None) {
                Ok(out) => {
                    self.relay(&out.stderr);
                    return Ok(out.stdout);
                }
                Err(failure) => {
                    let problem = Problem::of(&failure);
                    if !problem.retryable() || attempt >= attempts {
                        return Err((problem, failure));
                    }
                    self.say(
                        Verbosity::Normal,
                        &format!(
                            "{what}: {}; attempt {} of {attempts} in {:?}",
                            reason(&failure.stderr),
                            attempt + 1,
                            self.args.retry_delay
                        ),
                    );
                    std::thread::sleep(self.args.retry_delay);
                    attempt += 1;
                }
            }
        }
    }

    /// The error for a failed network operation, naming what was missing.
    fn network_error(&self, problem: Problem, failure: &GitFailure) -> ToolkitError {
        let url = &self.shown;
        let via = self
            .mirror
            .as_ref()
            .map(|m| format!(" (through the mirror {})", strip_user(m)))
            .unwrap_or_default();
        let why = if failure.timed_out {
            "no answer within the time limit".to_owned()
        } else {
            reason(&failure.stderr)
        };
        let has_credentials =
            self.args.token.is_some() || split_credentials(&self.args.uri).2.is_some();
        let message = match problem {
            Problem::AuthRefused if has_credentials || self.args.ssh_key.is_some() => {
                format!("clone: {url}{via}: the server refused the credentials given ({why})")
            }
            Problem::AuthRefused => format!(
                "clone: {url}{via}: the server asks for credentials and none were given: \
                 set `token` (and `username`) or `sshKey` in content.git ({why})"
            ),
            Problem::NoRepository => {
                format!("clone: there is no repository at {url}{via} ({why})")
            }
            Problem::Unreachable | Problem::ServerError => format!(
                "clone: cannot reach the repository {url}{via} after {} attempt(s): {why}",
                self.args.retry_count.max(1)
            ),
            Problem::NotServedById | Problem::Other => format!("clone: {url}{via}: {why}"),
        };
        ToolkitError::Failed(message)
    }

    fn clone_into(&mut self, target: &Path) -> Result<(), ToolkitError> {
        let target_text = target.display().to_string();
        let revision_text = self
            .args
            .revision
            .as_deref()
            .map(|r| format!(" at `{r}`"))
            .unwrap_or_default();
        self.say(
            Verbosity::Normal,
            &format!("Cloning {}{revision_text} into {target_text}", self.shown),
        );
        if let Some(mirror) = self.mirror.clone() {
            self.say(
                Verbosity::Normal,
                &format!("  from the mirror {} (--git-mirror)", strip_user(&mirror)),
            );
        }

        self.local(target, &["init", "-q"], "git init")?;
        let fetch = self.fetch.clone();
        self.local(
            target,
            &["remote", "add", "origin", &fetch],
            "git remote add",
        )?;

        // 1. What the server has.
        let listed = self
            .network(
                target,
                &["ls-remote", "--symref", "origin"],
                "listing the refs",
            )
            .map_err(|(p, f)| self.network_error(p, &f))?;
        let refs = Refs::parse(&listed);
        let wanted = refs
            .resolve(self.args.revision.as_deref())
            .ok_or_else(|| self.unknown_revision(&refs))?;

        // 2. Exactly that commit, shallow; with `paths`, without the blobs not checked out.
        let patterns = paths::patterns(&self.args.paths, self.args.cone);
        let mut fetch_args: Vec<String> = vec!["fetch".into(), "--no-tags".into()];
        if patterns.is_some() {
            fetch_args.push("--filter=blob:none".into());
        }
        let shallow: Vec<String> = vec!["--depth=1".into()];
        let (refspec, checkout): (String, Vec<String>) = match &wanted {
            Wanted::Branch { name, .. } => (
                format!("+refs/heads/{name}:refs/remotes/origin/{name}"),
                vec![
                    "-B".into(),
                    name.clone(),
                    format!("refs/remotes/origin/{name}"),
                ],
            ),
            Wanted::Ref { name, .. } => (
                format!("+{name}:{name}"),
                vec!["--detach".into(), format!("{name}^{{commit}}")],
            ),
            Wanted::Commit(id) => (id.clone(), vec!["--detach".into(), id.clone()]),
            Wanted::Abbreviated(id) => (String::new(), vec!["--detach".into(), id.clone()]),
        };
        self.say(
            Verbosity::Normal,
            &format!("  fetching {}", describe(&wanted)),
        );
        let first = if refspec.is_empty() {
            Err((
                Problem::NotServedById,
                GitFailure {
                    stderr: String::new(),
                    timed_out: false,
                },
            ))
        } else {
            let args: Vec<&str> = fetch_args
                .iter()
                .chain(&shallow)
                .map(String::as_str)
                .chain(["origin", refspec.as_str()])
                .collect();
            self.network(target, &args, "fetching")
        };
        match first {
            Ok(_) => {}
            Err((Problem::NotServedById, _))
                if matches!(wanted, Wanted::Commit(_) | Wanted::Abbreviated(_)) =>
            {
                // The server will not send this commit by id: fetch the history of every
                // branch and tag and find it there.
                self.say(
                    Verbosity::Normal,
                    "  the server does not serve that commit by id; fetching the history of all branches and tags",
                );
                let args: Vec<&str> = fetch_args
                    .iter()
                    .map(String::as_str)
                    .chain([
                        "origin",
                        "+refs/heads/*:refs/remotes/origin/*",
                        "+refs/tags/*:refs/tags/*",
                    ])
                    .collect();
                self.network(target, &args, "fetching")
                    .map_err(|(p, f)| self.network_error(p, &f))?;
                let id = checkout.last().cloned().unwrap_or_default();
                let found = self.git.run(
                    Some(target),
                    &[
                        "rev-parse",
                        "--verify",
                        "--quiet",
                        &format!("{id}^{{commit}}"),
                    ],
                    None,
                );
                if found.is_err() {
                    return Err(self.unknown_revision(&refs));
                }
            }
            Err((Problem::NotServedById, _)) => return Err(self.unknown_revision(&refs)),
            Err((p, f)) => return Err(self.network_error(p, &f)),
        }

        // 3. Sparse checkout.
        if let Some(patterns) = &patterns {
            let mode = if self.args.cone {
                "--cone"
            } else {
                "--no-cone"
            };
            self.say(
                Verbosity::Normal,
                &format!(
                    "  sparse checkout ({}): {}",
                    if self.args.cone { "cone" } else { "patterns" },
                    patterns.join(", ")
                ),
            );
            let list = patterns.join("\n") + "\n";
            self.local_with(
                target,
                &["sparse-checkout", "set", mode, "--stdin"],
                Some(&list),
                "setting the sparse checkout",
            )?;
        }

        // 4. Checkout (with `--filter`, git fetches the blobs of the files it checks out now).
        let mut checkout_args: Vec<&str> = vec!["checkout", "-q"];
        checkout_args.extend(checkout.iter().map(String::as_str));
        if let Err(failure) = self.git.run(Some(target), &checkout_args, None) {
            let problem = Problem::of(&failure);
            if problem != Problem::Other {
                return Err(self.network_error(problem, &failure));
            }
            return Err(ToolkitError::Failed(format!(
                "clone: checking out {} into {target_text} failed: {}",
                describe(&wanted),
                reason(&failure.stderr)
            )));
        }
        let head = self
            .local(target, &["rev-parse", "HEAD"], "git rev-parse")?
            .trim()
            .to_owned();

        if let Some(patterns) = &patterns {
            for pattern in patterns {
                let Some(specs) = paths::pathspecs(pattern, self.args.cone) else {
                    continue;
                };
                let listed = self.local(
                    target,
                    &["ls-files", "--cached", "--", &specs[0], &specs[1]],
                    "listing the checkout",
                )?;
                if listed.trim().is_empty() {
                    return Err(ToolkitError::Failed(format!(
                        "clone: path `{pattern}` matched nothing in {} at {} ({}): check `paths` in content.git",
                        self.shown,
                        describe(&wanted),
                        short(&head)
                    )));
                }
            }
        }

        // The checkout's own config: `origin` is the URL the workflow named, and the mirror
        // rules stay, so a later `git fetch` in a step goes where this one went.
        let shown = self.shown.clone();
        self.local(
            target,
            &["remote", "set-url", "origin", &shown],
            "git remote set-url",
        )?;
        let mirrors: Vec<(String, String)> = self
            .git
            .config
            .iter()
            .filter(|(k, _)| k.starts_with("url."))
            .cloned()
            .collect();
        for (key, value) in mirrors {
            self.local(target, &["config", "--add", &key, &value], "git config")?;
        }

        let (files, warnings) = share_with_group(target);
        for w in warnings.iter().take(5) {
            self.say(Verbosity::Quiet, &format!("warning: {w}"));
        }
        if warnings.len() > 5 {
            self.say(
                Verbosity::Quiet,
                &format!("warning: … and {} more", warnings.len() - 5),
            );
        }
        self.say(
            Verbosity::Quiet,
            &format!(
                "Cloned {} {} at {}: {files} file(s) in {target_text}",
                self.shown,
                describe(&wanted),
                short(&head)
            ),
        );
        Ok(())
    }

    fn unknown_revision(&self, refs: &Refs) -> ToolkitError {
        let list = |prefix: &str| {
            let names = refs.names(prefix);
            let shown: Vec<&str> = names.iter().take(10).copied().collect();
            let more = names.len().saturating_sub(10);
            let mut text = shown.join(", ");
            if more > 0 {
                text.push_str(&format!(" and {more} more"));
            }
            if text.is_empty() {
                "none".to_owned()
            } else {
                text
            }
        };
        match self.args.revision.as_deref() {
            Some(revision) => ToolkitError::Failed(format!(
                "clone: revision `{revision}` is not a branch, tag or commit of {} (branches: {}; tags: {})",
                self.shown,
                list("refs/heads/"),
                list("refs/tags/")
            )),
            None => ToolkitError::Failed(format!(
                "clone: {} has no commits (no HEAD); give a `revision`",
                self.shown
            )),
        }
    }
}

fn describe(wanted: &Wanted) -> String {
    match wanted {
        Wanted::Branch { name, .. } => format!("branch {name}"),
        Wanted::Ref { name, .. } => match name.strip_prefix("refs/tags/") {
            Some(tag) => format!("tag {tag}"),
            None => name.clone(),
        },
        Wanted::Commit(id) | Wanted::Abbreviated(id) => format!("commit {}", short(id)),
    }
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// `git` on PATH.
fn testwerk_which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// `(url without user info, user, password)` of an http(s) URL; other URLs as they are
/// (`git@host:repo`'s user is no secret).
fn split_credentials(uri: &str) -> (String, Option<String>, Option<String>) {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return (uri.to_owned(), None, None);
    };
    if !scheme.starts_with("http") {
        return (uri.to_owned(), None, None);
    }
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return (uri.to_owned(), None, None);
    };
    let (user, password) = match rest[..at].split_once(':') {
        Some((u, p)) => (u.to_owned(), Some(p.to_owned())),
        None => (rest[..at].to_owned(), None),
    };
    let user = Some(user).filter(|u| !u.is_empty());
    let password = password.filter(|p| !p.is_empty());
    (format!("{scheme}://{}", &rest[at + 1..]), user, password)
}

fn strip_user(uri: &str) -> String {
    split_credentials(uri).0
}

fn with_user(uri: &str, user: &str) -> String {
    match uri.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{user}@{rest}"),
        None => uri.to_owned(),
    }
}

/// `scheme://host[:port]/` of an http(s) URL: what an `http.<url>.*` setting is scoped to.
fn http_server(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let host = rest.split('/').next().unwrap_or(rest);
    let host = host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host);
    Some(format!("{scheme}://{host}/"))
}

/// How the mount path was before the clone, to restore it when the clone fails.
enum Prepared {
    /// Created by us, or empty: emptied again (the directory itself stays: it may be a mount
    /// point).
    Empty,
    /// It held files: only our `.git` goes.
    HadFiles,
}

impl Prepared {
    fn undo(&self, target: &Path) -> std::io::Result<()> {
        match self {
            Prepared::Empty => {
                for entry in std::fs::read_dir(target)? {
                    let path = entry?.path();
                    if path.is_dir() && !path.is_symlink() {
                        std::fs::remove_dir_all(&path)?;
                    } else {
                        std::fs::remove_file(&path)?;
                    }
                }
                Ok(())
            }
            Prepared::HadFiles => match std::fs::remove_dir_all(target.join(".git")) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
        }
    }
}

fn prepare_target(target: &Path) -> Result<Prepared, ToolkitError> {
    let failed = |what: &str, e: std::io::Error| {
        ToolkitError::Failed(format!("clone: {what} {}: {e}", target.display()))
    };
    match std::fs::symlink_metadata(target) {
        Ok(meta) if meta.is_dir() => {
            if target.join(".git").exists() {
                return Err(ToolkitError::Failed(format!(
                    "clone: {} already holds a Git repository; give content.git another mountPath",
                    target.display()
                )));
            }
            let mut entries = std::fs::read_dir(target).map_err(|e| failed("cannot read", e))?;
            Ok(if entries.next().is_none() {
                Prepared::Empty
            } else {
                Prepared::HadFiles
            })
        }
        Ok(_) => Err(ToolkitError::Failed(format!(
            "clone: the mount path {} exists and is not a directory",
            target.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(target).map_err(|e| failed("cannot create", e))?;
            Ok(Prepared::Empty)
        }
        Err(e) => Err(failed("cannot read", e)),
    }
}

/// Adds group read/write (and search, on directories) to everything in the checkout, as
/// upstream does: steps may run as other users of the Pod's `fsGroup`. Returns the number of
/// files outside `.git`, and what could not be changed (upstream warns and goes on: the files
/// are there, only sharing them is limited).
fn share_with_group(root: &Path) -> (usize, Vec<String>) {
    let mut files = 0;
    let mut warnings = Vec::new();
    let mut stack = vec![(root.to_owned(), false)];
    while let Some((dir, in_git)) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                warnings.push(format!("cannot read {}: {e}", dir.display()));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.file_type().is_symlink() {
                files += usize::from(!in_git);
                continue;
            }
            let extra = if meta.is_dir() { 0o070 } else { 0o060 };
            let mode = meta.permissions().mode();
            if mode & extra != extra
                && let Err(e) =
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode | extra))
            {
                warnings.push(format!(
                    "cannot share {} with the group: {e}",
                    path.display()
                ));
            }
            if meta.is_dir() {
                let git = in_git || entry.file_name() == ".git";
                stack.push((path, git));
            } else if !in_git {
                files += 1;
            }
        }
    }
    (files, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_url_are_taken_out() {
        assert_eq!(
            split_credentials("https://me:tok@host:8/r.git"),
            (
                "https://host:8/r.git".into(),
                Some("me".into()),
                Some("tok".into())
            )
        );
        assert_eq!(
            split_credentials("git@github.com:org/r.git"),
            ("git@github.com:org/r.git".into(), None, None)
        );
        assert_eq!(
            http_server("https://host:8/a/b").as_deref(),
            Some("https://host:8/")
        );
        assert_eq!(http_server("ssh://host/a"), None);
    }
}
