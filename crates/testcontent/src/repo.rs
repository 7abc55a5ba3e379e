//! Git repositories in a temporary folder, made by running `git` itself.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A folder of repositories, served by [`crate::GitServer`] or [`crate::GitDaemon`] under their
/// names (`org/app` is `http://127.0.0.1:PORT/org/app`). Removed when dropped.
pub struct Repos {
    root: tempfile::TempDir,
    git: PathBuf,
}

/// One non-bare repository inside [`Repos`] (servers serve its `.git`).
pub struct Repo {
    dir: PathBuf,
    git: PathBuf,
}

impl Repos {
    /// An empty folder, or `None` when `git` is missing (a counted skip).
    #[track_caller]
    pub fn new() -> Option<Self> {
        let git = crate::git()?;
        let root = tempfile::tempdir().expect("a temporary directory for repositories");
        Some(Self { root, git })
    }

    /// The folder the servers serve.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// A new repository `name` (may hold slashes) with an unborn branch `main`.
    pub fn create(&self, name: &str) -> Repo {
        let dir = self.root.path().join(name);
        std::fs::create_dir_all(&dir).expect("create the repository's directory");
        let repo = Repo {
            dir,
            git: self.git.clone(),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    /// A repository `name` holding a copy of everything in `tree`, as one commit on `main`.
    pub fn from_tree(&self, name: &str, tree: &Path) -> Repo {
        let repo = self.create(name);
        copy_tree(tree, &repo.dir);
        repo.commit(&format!("import {}", tree.display()));
        repo
    }
}

impl Repo {
    /// The working tree.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes a file (parents created) in the working tree; [`Repo::commit`] records it.
    pub fn write(&self, path: &str, content: &str) -> &Self {
        let file = self.dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).expect("create parent directories");
        }
        std::fs::write(&file, content).expect("write a file into the repository");
        self
    }

    /// Removes a file from the working tree.
    pub fn remove(&self, path: &str) -> &Self {
        std::fs::remove_file(self.dir.join(path)).expect("remove a file from the repository");
        self
    }

    /// Commits everything in the working tree on the current branch; returns the commit id.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.head()
    }

    /// Creates branch `name` at the current commit (staying on the current branch).
    pub fn branch(&self, name: &str) -> &Self {
        self.git(&["branch", name]);
        self
    }

    /// Switches to branch `name`, creating it at the current commit when it does not exist.
    pub fn switch(&self, name: &str) -> &Self {
        self.git(&["checkout", "-q", "-B", name]);
        self
    }

    /// An annotated tag `name` at the current commit.
    pub fn tag(&self, name: &str) -> &Self {
        self.git(&["tag", "-a", "-m", name, name]);
        self
    }

    /// The current commit id.
    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"]).trim().to_owned()
    }

    /// Sets `key` in the repository's own config (e.g. what `upload-pack` allows).
    pub fn config(&self, key: &str, value: &str) -> &Self {
        self.git(&["config", key, value]);
        self
    }

    /// Runs git in the repository with a fixed identity and clock; panics when it fails.
    pub fn git(&self, args: &[&str]) -> String {
        let output = Command::new(&self.git)
            .arg("-C")
            .arg(&self.dir)
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "testcontent")
            .env("GIT_AUTHOR_EMAIL", "testcontent@example.invalid")
            .env("GIT_COMMITTER_NAME", "testcontent")
            .env("GIT_COMMITTER_EMAIL", "testcontent@example.invalid")
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .output()
            .expect("run git");
        assert!(
            output.status.success(),
            "git {args:?} in {}: {}",
            self.dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

/// `shared/compat/testkube-repo` (the `test/` folder the corpus clones from
/// `https://github.com/kubeshop/testkube`): beside `$TESTWERK_COMPAT_DIR`, else beside the
/// repository; its absence is a counted skip.
#[track_caller]
pub fn testkube_repo_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("TESTWERK_COMPAT_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d)
            .parent()
            .map(|p| p.join("testkube-repo"))
            .unwrap_or_default(),
        _ => Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(3)
            .unwrap_or(Path::new("/"))
            .join("shared/compat/testkube-repo"),
    };
    testwerk_testinputs::available(
        dir.join("test").is_dir().then_some(dir.clone()),
        &format!("the Testkube test folder (at {})", dir.display()),
        "set TESTWERK_COMPAT_DIR to shared/compat/testkube (testkube-repo lies beside it)",
    )
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create a directory");
    for entry in std::fs::read_dir(from).expect("read a directory to copy") {
        let entry = entry.expect("a directory entry");
        let kind = entry.file_type().expect("an entry's type");
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_symlink() {
            let link = std::fs::read_link(entry.path()).expect("read a symlink");
            std::os::unix::fs::symlink(link, &target).expect("copy a symlink");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}
