//! Running Debian's `git`: credentials and settings through the environment only (never on
//! the argv, which `/proc` shows to everyone), a time limit, and its output masked.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::mask::Masker;

/// How `git` is run for one clone.
pub struct Git {
    pub binary: PathBuf,
    /// `-c` settings, handed over as `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`.
    pub config: Vec<(String, String)>,
    pub env: Vec<(String, String)>,
    pub masker: Masker,
    /// The longest one git command may take; then it is killed.
    pub time_limit: Duration,
}

/// What a git command that failed printed (masked).
#[derive(Debug)]
pub struct GitFailure {
    pub stderr: String,
    pub timed_out: bool,
}

/// A finished command's output (masked).
pub struct GitOutput {
    pub stdout: String,
    pub stderr: String,
}

impl Git {
    /// Runs `git -C dir args…` (no `-C` when `dir` is `None`), feeding `stdin`.
    pub fn run(
        &self,
        dir: Option<&Path>,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<GitOutput, GitFailure> {
        let mut command = Command::new(&self.binary);
        if let Some(dir) = dir {
            command.arg("-C").arg(dir);
        }
        command
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // git's messages are matched to say what was missing: keep them in English.
            .env("LC_ALL", "C")
            .env("LANGUAGE", "C")
            // A missing credential fails instead of waiting for a terminal or a helper.
            .env("GIT_TERMINAL_PROMPT", "0")
            .env_remove("GIT_ASKPASS")
            .env_remove("SSH_ASKPASS")
            // Only our settings count, not whatever the image's /etc/gitconfig or ~/.gitconfig say.
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env_remove("GIT_CONFIG_PARAMETERS")
            .env("GIT_CONFIG_COUNT", self.config.len().to_string());
        for (i, (key, value)) in self.config.iter().enumerate() {
            command
                .env(format!("GIT_CONFIG_KEY_{i}"), key)
                .env(format!("GIT_CONFIG_VALUE_{i}"), value);
        }
        for (key, value) in &self.env {
            command.env(key, value);
        }
        let mut child = command.spawn().map_err(|e| GitFailure {
            stderr: format!("cannot run {}: {e}", self.binary.display()),
            timed_out: false,
        })?;
        if let (Some(mut pipe), Some(input)) = (child.stdin.take(), stdin) {
            use std::io::Write;
            // A short list of patterns: written before the output is read, it fits the pipe.
            pipe.write_all(input.as_bytes()).map_err(|e| GitFailure {
                stderr: format!("cannot write to git's input: {e}"),
                timed_out: false,
            })?;
        }
        // Both pipes are drained at once: git blocks when either fills.
        let drain = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                if let Some(mut pipe) = pipe {
                    pipe.read_to_end(&mut bytes).ok();
                }
                bytes
            })
        };
        let stdout = drain(
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let stderr = drain(
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let deadline = Instant::now() + self.time_limit;
        let mut timed_out = false;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() >= deadline => {
                    timed_out = true;
                    child.kill().ok();
                    break child.wait().ok();
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(_) => break None,
            }
        };
        let text = |t: std::thread::JoinHandle<Vec<u8>>| {
            self.masker
                .mask(&String::from_utf8_lossy(&t.join().unwrap_or_default()))
        };
        let (stdout, stderr) = (text(stdout), text(stderr));
        match status {
            Some(s) if s.success() && !timed_out => Ok(GitOutput { stdout, stderr }),
            _ => Err(GitFailure { stderr, timed_out }),
        }
    }
}

/// What went wrong, read from git's message, so the error can say what was missing.
#[derive(Debug, PartialEq, Eq)]
pub enum Problem {
    /// No connection (refused, no such host, TLS, timeout): worth another attempt.
    Unreachable,
    /// The server answered 5xx or hung up: worth another attempt.
    ServerError,
    /// Credentials missing or refused.
    AuthRefused,
    /// The server is there, the repository is not.
    NoRepository,
    /// The server will not send this object (not a ref tip, protocol v0).
    NotServedById,
    /// Anything else (the message is shown as it is).
    Other,
}

impl Problem {
    pub fn of(failure: &GitFailure) -> Problem {
        if failure.timed_out {
            return Problem::Unreachable;
        }
        let e = failure.stderr.to_ascii_lowercase();
        let any = |needles: &[&str]| needles.iter().any(|n| e.contains(n));
        if any(&[
            "authentication failed",
            "could not read username",
            "could not read password",
            "terminal prompts disabled",
            "http 401",
            "requested url returned error: 401",
            "requested url returned error: 403",
            "permission denied (publickey",
            "permission denied, please try again",
            "host key verification failed",
        ]) {
            Problem::AuthRefused
        } else if any(&[
            "not our ref",
            "unadvertised object",
            "couldn't find remote ref",
            "no such remote ref",
        ]) {
            Problem::NotServedById
        } else if any(&[
            "requested url returned error: 404",
            "does not appear to be a git repository",
            "repository not found",
            "not found: did you run git update-server-info",
            "no such repository",
            "access denied or repository not exported",
        ]) || (e.contains("repository '") && e.contains("' not found"))
        {
            Problem::NoRepository
        } else if any(&[
            "requested url returned error: 5",
            "the remote end hung up unexpectedly",
            "early eof",
            "rpc failed",
        ]) && !any(&[
            "could not resolve",
            "failed to connect",
            "connection refused",
        ]) {
            Problem::ServerError
        } else if any(&[
            "could not resolve host",
            "failed to connect",
            "connection refused",
            "couldn't connect",
            "unable to connect",
            "connection timed out",
            "operation timed out",
            "network is unreachable",
            "no route to host",
            "unable to access",
            "could not read from remote repository",
            "ssl",
            "tls",
            "name or service not known",
        ]) {
            Problem::Unreachable
        } else {
            Problem::Other
        }
    }

    pub fn retryable(&self) -> bool {
        matches!(self, Problem::Unreachable | Problem::ServerError)
    }
}

/// git's last `fatal:`/`error:` line (or its last line): the reason, without the noise.
pub fn reason(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .rev()
        .find(|l| l.starts_with("fatal:") || l.starts_with("error:"))
        .or(lines.last())
        .map(|l| l.to_string())
        .unwrap_or_else(|| "git failed without a message".into())
}
