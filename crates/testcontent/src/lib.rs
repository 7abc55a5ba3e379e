//! # testwerk-testcontent
//!
//! What `content.git` and `content.tarball` fetch from, run for real on 127.0.0.1 by the tests
//! and stopped when dropped:
//!
//! - [`Repos`]: a folder of Git repositories, each made from files ([`Repo::write`],
//!   [`Repo::commit`], branches, tags) or from an existing tree ([`Repos::from_tree`], e.g. the
//!   Testkube `test/` folder as `kubeshop/testkube`);
//! - [`GitServer`]: Debian's `git http-backend` (the CGI Git ships) behind a small HTTP server
//!   of ours, with no auth, basic auth (user and token) or a bearer token, and a log of the
//!   requests it served;
//! - [`GitDaemon`]: `git daemon` (the `git://` protocol, no auth);
//! - [`SshServer`]: OpenSSH's `sshd` (needs root: it runs in a private mount namespace), one client key;
//! - [`FileServer`]: fixed files by path (tarballs, later artifacts), 404 for anything else;
//! - [`tar`]: raw tar archives, including entries no honest archiver writes (`..`, absolute
//!   paths, links out of the tree), for the tests of safe unpacking.
//!
//! A missing `git` is a counted skip through `testwerk_testinputs` (a failure under `CI`):
//! every constructor that needs it returns `None` then, and the test returns.

mod daemon;
mod files;
mod http_git;
mod repo;
mod sshd;
pub mod tar;

pub use daemon::GitDaemon;
pub use files::FileServer;
pub use http_git::{Auth, GitServer, ServerOptions};
pub use repo::{Repo, Repos, testkube_repo_dir};
pub use sshd::SshServer;

use std::path::PathBuf;

/// Debian's `git`, or `None` (a counted skip; a failure under `CI`).
#[track_caller]
pub fn git() -> Option<PathBuf> {
    testwerk_testinputs::available(
        testwerk_testinputs::which("git"),
        "git",
        "apt-get install -y git",
    )
}

/// A free port on 127.0.0.1 (bound, read and released: a server started right after takes it).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}
