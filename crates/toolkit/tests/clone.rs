//! `clone` against real servers: Debian's `git http-backend` (with basic and bearer auth) and
//! `git daemon` on 127.0.0.1, run by `testwerk-testcontent`.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use testwerk_protocol::toolkit::{GitMirror, ToolkitSettings};
use testwerk_testcontent::{Auth, GitDaemon, GitServer, Repos, ServerOptions};
use testwerk_toolkit::clone::{CloneArgs, Limits, clone};

/// Runs `clone <argv>` with `settings`; returns the result (error text) and everything printed.
fn run_with(
    argv: &[&str],
    settings: &ToolkitSettings,
    limits: Limits,
) -> (Result<(), String>, String) {
    let args = CloneArgs::parse(argv.iter().map(|s| s.to_string()).collect())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    let result = clone(&args, settings, limits, &mut out).map_err(|e| e.to_string());
    (result, String::from_utf8_lossy(&out).into_owned())
}

fn run(argv: &[&str]) -> (Result<(), String>, String) {
    run_with(argv, &ToolkitSettings::default(), Limits::default())
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Files under `dir` outside `.git`, sorted, relative.
fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if entry.file_name() == ".git" {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .unwrap_or(&path)
                        .display()
                        .to_string(),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn git_in(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap_or_else(|e| panic!("git: {e}"));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

const TOKEN: &str = "tw-s3cret-token-9f8e7d";

/// Everything a secret could show up as.
fn assert_hidden(text: &str, secrets: &[&str]) {
    let b64 = base64::engine::general_purpose::STANDARD;
    for s in secrets {
        assert!(!text.contains(s), "`{s}` leaked: {text}");
        assert!(
            !text.contains(&b64.encode(s)),
            "base64 of `{s}` leaked: {text}"
        );
        let pair = format!("bot:{s}");
        assert!(
            !text.contains(&b64.encode(&pair)),
            "basic auth of `{s}` leaked: {text}"
        );
    }
}

#[test]
fn a_token_by_basic_auth_clones_and_a_wrong_or_missing_one_is_named_and_never_shown() {
    let Some(repos) = Repos::new() else { return };
    repos
        .create("org/app")
        .write("README.md", "hello\n")
        .commit("one");
    let options = ServerOptions {
        auth: Auth::Basic {
            user: "bot".into(),
            token: TOKEN.into(),
        },
        ..Default::default()
    };
    let Some(server) = GitServer::start_with(repos.root(), options) else {
        return;
    };
    let url = server.url("org/app");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));

    let good = dir.path().join("good");
    let (result, out) = run(&[&url, good.to_str().unwrap_or(""), "-u", "bot", "-t", TOKEN]);
    assert_eq!(result, Ok(()), "{out}");
    assert_eq!(read(&good.join("README.md")), "hello\n");
    assert!(out.contains("Cloned") && out.contains("1 file(s)"), "{out}");
    assert_hidden(&out, &[TOKEN]);
    // The checkout keeps no credentials either.
    assert_hidden(&read(&good.join(".git/config")), &[TOKEN]);

    // The wrong token: refused, named, not shown; the mount path is left empty.
    let bad = dir.path().join("bad");
    let wrong = "tw-wrong-token-1a2b3c";
    let (result, out) = run(&[
        &url,
        bad.to_str().unwrap_or(""),
        "-u",
        "bot",
        "-t",
        wrong,
        "--retry-count",
        "1",
    ]);
    let err = result.err().unwrap_or_default();
    assert!(
        err.contains("refused the credentials") && err.contains(&url),
        "{err}"
    );
    assert_hidden(&format!("{out}{err}"), &[wrong, TOKEN]);
    assert!(files(&bad).is_empty() && !bad.join(".git").exists());

    // No token at all: the error says what to set.
    let none = dir.path().join("none");
    let (result, _) = run(&[&url, none.to_str().unwrap_or("")]);
    let err = result.err().unwrap_or_default();
    assert!(
        err.contains("none were given") && err.contains("token"),
        "{err}"
    );
}

#[test]
fn a_bearer_token_goes_in_a_header() {
    let Some(repos) = Repos::new() else { return };
    repos.create("app").write("a.txt", "a\n").commit("one");
    let options = ServerOptions {
        auth: Auth::Bearer(TOKEN.into()),
        ..Default::default()
    };
    let Some(server) = GitServer::start_with(repos.root(), options) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let target = dir.path().join("repo");
    let url = server.url("app");
    let (result, out) = run(&[
        &url,
        target.to_str().unwrap_or(""),
        "-t",
        TOKEN,
        "-a",
        "header",
    ]);
    assert_eq!(result, Ok(()), "{out}");
    assert_eq!(read(&target.join("a.txt")), "a\n");
    assert_hidden(&out, &[TOKEN]);
    let bearer = format!("Bearer {TOKEN}");
    assert!(
        server
            .served()
            .iter()
            .any(|s| s.status == 200 && s.authorization.as_deref() == Some(&bearer)),
        "{:?}",
        server.served()
    );

    let other = dir.path().join("other");
    let (result, out) = run(&[
        &url,
        other.to_str().unwrap_or(""),
        "-t",
        "nope-nope-nope",
        "-a",
        "header",
    ]);
    let err = result.err().unwrap_or_default();
    assert!(err.contains("refused the credentials"), "{err}");
    assert_hidden(&format!("{out}{err}"), &["nope-nope-nope", TOKEN]);
}

/// main: A (a=1, tagged v1), B (a=2), C (a=3); dev: D (a=dev) from A.
struct History {
    a: String,
    b: String,
}

fn history(repos: &Repos) -> History {
    let repo = repos.create("app");
    let a = repo.write("a", "1").commit("A");
    repo.tag("v1");
    repo.switch("dev").write("a", "dev").commit("D");
    repo.switch("main");
    repo.git(&["reset", "-q", "--hard", &a]);
    let b = repo.write("a", "2").commit("B");
    repo.write("a", "3").commit("C");
    History { a, b }
}

#[test]
fn branches_tags_and_commits_full_or_short_are_checked_out() {
    let Some(repos) = Repos::new() else { return };
    let h = history(&repos);
    let Some(daemon) = GitDaemon::start(repos.root()) else {
        return;
    };
    let url = daemon.url("app");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let short_b = &h.b[..8];
    for (i, (revision, content)) in [
        (None, "3"),
        (Some("main"), "3"),
        (Some("dev"), "dev"),
        (Some("v1"), "1"),
        (Some(h.a.as_str()), "1"),
        (Some(h.b.as_str()), "2"),
        // Not a ref tip: found in the history.
        (Some(short_b), "2"),
    ]
    .into_iter()
    .enumerate()
    {
        let target = dir.path().join(i.to_string());
        let mut argv = vec![url.as_str(), target.to_str().unwrap_or("")];
        if let Some(r) = revision {
            argv.extend(["-r", r]);
        }
        let (result, out) = run(&argv);
        assert_eq!(result, Ok(()), "{revision:?}: {out}");
        assert_eq!(read(&target.join("a")), content, "{revision:?}: {out}");
        let branch = git_in(&target, &["rev-parse", "--abbrev-ref", "HEAD"]);
        match revision {
            None | Some("main") => assert_eq!(branch, "main"),
            Some("dev") => {
                assert_eq!(branch, "dev");
                assert_eq!(
                    git_in(&target, &["rev-parse", "--abbrev-ref", "@{upstream}"]),
                    "origin/dev"
                );
            }
            _ => assert_eq!(branch, "HEAD", "{revision:?}: detached"),
        }
        // Shallow unless the commit had to be found in the history.
        let shallow = git_in(&target, &["rev-parse", "--is-shallow-repository"]);
        assert_eq!(
            shallow,
            if revision == Some(short_b) {
                "false"
            } else {
                "true"
            },
            "{revision:?}"
        );
        // `origin` is the URL named, for later steps.
        assert_eq!(git_in(&target, &["remote", "get-url", "origin"]), url);
    }
}

#[test]
fn a_commit_the_server_will_not_serve_by_id_is_found_in_the_history() {
    let Some(repos) = Repos::new() else { return };
    let h = history(&repos);
    // Protocol v0 and no allowAnySHA1InWant: B (no ref tip) cannot be asked for by id.
    let options = ServerOptions {
        protocol_v2: false,
        ..Default::default()
    };
    let Some(server) = GitServer::start_with(repos.root(), options) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let target = dir.path().join("repo");
    let (result, out) = run(&[
        &server.url("app"),
        target.to_str().unwrap_or(""),
        "-r",
        &h.b,
    ]);
    assert_eq!(result, Ok(()), "{out}");
    assert!(out.contains("does not serve that commit by id"), "{out}");
    assert_eq!(read(&target.join("a")), "2");
}

#[test]
fn an_unknown_revision_is_named_with_what_exists() {
    let Some(repos) = Repos::new() else { return };
    history(&repos);
    let Some(daemon) = GitDaemon::start(repos.root()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for revision in [
        "nope",
        "0123456789abcdef0123456789abcdef01234567",
        "abcdef12",
    ] {
        let target = dir.path().join(revision);
        let (result, out) = run(&[
            &daemon.url("app"),
            target.to_str().unwrap_or(""),
            "-r",
            revision,
        ]);
        let err = result.err().unwrap_or_default();
        assert!(
            err.contains(&format!(
                "revision `{revision}` is not a branch, tag or commit"
            )) && err.contains("branches: dev, main")
                && err.contains("tags: v1"),
            "{err}\n{out}"
        );
        assert!(
            files(&target).is_empty() && !target.join(".git").exists(),
            "{revision}"
        );
    }
}

fn tree(repos: &Repos) {
    repos
        .create("app")
        .write("top.md", "top")
        .write("test/curl/curl.yaml", "curl")
        .write("test/k6/smoke.js", "k6")
        .write("test/k6/data.csv", "csv")
        .write("other/c.txt", "c")
        .commit("tree");
}

#[test]
fn paths_are_a_sparse_checkout_in_cone_and_pattern_mode() {
    let Some(repos) = Repos::new() else { return };
    tree(&repos);
    let Some(server) = GitServer::start(repos.root()) else {
        return;
    };
    let url = server.url("app");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));

    let patterns = dir.path().join("patterns");
    let (result, out) = run(&[
        &url,
        patterns.to_str().unwrap_or(""),
        "-p",
        "test/k6/*.js",
        "-p",
        "/other/",
    ]);
    assert_eq!(result, Ok(()), "{out}");
    assert_eq!(files(&patterns), ["other/c.txt", "test/k6/smoke.js"]);
    assert!(out.contains("2 file(s)"), "{out}");

    // Cone: whole directories, plus the files at the top (git's cone rule).
    let cone = dir.path().join("cone");
    let (result, out) = run(&[
        "--cone",
        &url,
        cone.to_str().unwrap_or(""),
        "-p",
        "/test/curl/",
    ]);
    assert_eq!(result, Ok(()), "{out}");
    assert_eq!(files(&cone), ["test/curl/curl.yaml", "top.md"]);

    // The blobs not checked out were never fetched (a partial clone).
    assert_eq!(
        git_in(&patterns, &["config", "remote.origin.partialclonefilter"]),
        "blob:none"
    );
}

#[test]
fn a_path_that_matches_nothing_is_named() {
    let Some(repos) = Repos::new() else { return };
    tree(&repos);
    let Some(daemon) = GitDaemon::start(repos.root()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (cone, path) in [(false, "test/postman/*.json"), (true, "test/postman")] {
        let target = dir.path().join(format!("{cone}"));
        let mut argv = vec![];
        if cone {
            argv.push("--cone");
        }
        argv.extend([
            daemon.url("app").leak() as &str,
            target.to_str().unwrap_or(""),
            "-p",
            "test/k6",
            "-p",
            path,
        ]);
        let (result, out) = run(&argv);
        let err = result.err().unwrap_or_default();
        assert!(
            err.contains(&format!("path `{path}` matched nothing")) && err.contains("branch main"),
            "{err}\n{out}"
        );
        assert!(files(&target).is_empty() && !target.join(".git").exists());
    }
}

#[test]
fn an_unreachable_or_missing_repository_is_named_after_the_retries() {
    let Some(repos) = Repos::new() else { return };
    tree(&repos);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = format!("http://127.0.0.1:{closed}/org/app");
    let target = dir.path().join("closed");
    let (result, out) = run(&[
        &url,
        target.to_str().unwrap_or(""),
        "--retry-count",
        "2",
        "--retry-delay",
        "10ms",
    ]);
    let err = result.err().unwrap_or_default();
    assert!(
        err.contains(&format!(
            "cannot reach the repository {url} after 2 attempt(s)"
        )),
        "{err}"
    );
    assert!(out.contains("attempt 2 of 2"), "{out}");

    let Some(server) = GitServer::start(repos.root()) else {
        return;
    };
    let missing = server.url("org/missing");
    let (result, _) = run(&[&missing, dir.path().join("missing").to_str().unwrap_or("")]);
    let err = result.err().unwrap_or_default();
    assert!(
        err.contains(&format!("there is no repository at {missing}")),
        "{err}"
    );
    // Not retried: a missing repository stays missing.
    assert_eq!(server.served().len(), 1, "{:?}", server.served());
}

#[test]
fn a_server_that_never_answers_fails_within_the_time_limit() {
    if testwerk_testcontent::git().is_none() {
        return;
    }
    // Accepts connections and says nothing.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = silent.local_addr().map(|a| a.port()).unwrap_or(0);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let limits = Limits {
        command: Duration::from_secs(2),
        stalled: Duration::from_secs(1),
    };
    let started = std::time::Instant::now();
    let url = format!("http://127.0.0.1:{port}/app");
    let (result, _) = run_with(
        &[
            &url,
            dir.path().join("r").to_str().unwrap_or(""),
            "--retry-count",
            "1",
        ],
        &ToolkitSettings::default(),
        limits,
    );
    let err = result.err().unwrap_or_default();
    assert!(
        err.contains(&format!("cannot reach the repository {url}")),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    drop(silent);
}

#[test]
fn the_testkube_repository_is_served_from_a_mirror_with_paths() {
    let Some(corpus) = testwerk_testcontent::testkube_repo_dir() else {
        return;
    };
    let Some(repos) = Repos::new() else { return };
    repos.from_tree("kubeshop/testkube", &corpus);
    let Some(server) = GitServer::start(repos.root()) else {
        return;
    };
    let settings = ToolkitSettings {
        git_mirrors: vec![
            GitMirror::parse(&format!("https://github.com/={}", server.base_url()))
                .unwrap_or_else(|e| panic!("{e}")),
        ],
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let target = dir.path().join("repo");
    let (result, out) = run_with(
        &[
            "https://github.com/kubeshop/testkube",
            target.to_str().unwrap_or(""),
            "-r",
            "main",
            "-p",
            "test/curl",
        ],
        &settings,
        Limits::default(),
    );
    assert_eq!(result, Ok(()), "{out}");
    assert!(
        out.contains(&format!(
            "from the mirror {}kubeshop/testkube",
            server.base_url()
        )),
        "{out}"
    );
    let got = files(&target);
    let expected: Vec<String> = files(&corpus.join("test/curl"))
        .into_iter()
        .map(|f| format!("test/curl/{f}"))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(got, expected);
    assert!(
        server.served().iter().all(|s| s.status == 200),
        "{:?}",
        server.served()
    );
    // `origin` is what the workflow named (`get-url` would apply the mirror rule, which
    // stays in the checkout).
    assert_eq!(
        git_in(&target, &["config", "remote.origin.url"]),
        "https://github.com/kubeshop/testkube"
    );
    assert_eq!(
        git_in(
            &target,
            &["config", &format!("url.{}.insteadOf", server.base_url())]
        ),
        "https://github.com/"
    );
}

#[test]
fn an_existing_empty_mount_point_is_filled_not_replaced_and_shared_with_the_group() {
    let Some(repos) = Repos::new() else { return };
    tree(&repos);
    let Some(daemon) = GitDaemon::start(repos.root()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mount = dir.path().join("mount");
    std::fs::create_dir(&mount).unwrap_or_else(|e| panic!("{e}"));
    let inode = std::fs::metadata(&mount).map(|m| m.ino()).unwrap_or(0);
    let (result, out) = run(&[&daemon.url("app"), mount.to_str().unwrap_or("")]);
    assert_eq!(result, Ok(()), "{out}");
    assert_eq!(
        std::fs::metadata(&mount).map(|m| m.ino()).unwrap_or(1),
        inode
    );
    assert_eq!(files(&mount).len(), 5);
    for f in ["top.md", "test/k6/smoke.js"] {
        let mode = std::fs::metadata(mount.join(f))
            .map(|m| m.permissions().mode())
            .unwrap_or(0);
        assert_eq!(mode & 0o060, 0o060, "{f}: {mode:o}");
    }
    let mode = std::fs::metadata(mount.join("test"))
        .map(|m| m.permissions().mode())
        .unwrap_or(0);
    assert_eq!(mode & 0o070, 0o070, "test/: {mode:o}");

    // A second clone into the same place is refused by name, and leaves the first alone.
    let (result, _) = run(&[&daemon.url("app"), mount.to_str().unwrap_or("")]);
    assert!(
        result
            .err()
            .unwrap_or_default()
            .contains("already holds a Git repository")
    );
    assert_eq!(files(&mount).len(), 5);
}

#[test]
fn quiet_prints_one_line() {
    let Some(repos) = Repos::new() else { return };
    tree(&repos);
    let Some(daemon) = GitDaemon::start(repos.root()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (result, out) = run(&[
        &daemon.url("app"),
        dir.path().join("q").to_str().unwrap_or(""),
        "--verbosity",
        "quiet",
    ]);
    assert_eq!(result, Ok(()), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.starts_with(&format!("Cloned {} branch main at ", daemon.url("app"))),
        "{out}"
    );
}

#[test]
fn an_ssh_key_clones_over_ssh_and_is_removed_after() {
    let Some(repos) = Repos::new() else { return };
    tree(&repos);
    let Some(sshd) = testwerk_testcontent::SshServer::start(repos.root()) else {
        return;
    };
    let key = sshd.client_key();
    let keys_before = ssh_key_dirs();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let target = dir.path().join("repo");
    let url = sshd.url("app");
    let (result, out) = run(&[
        &url,
        target.to_str().unwrap_or(""),
        "-s",
        &key,
        "-p",
        "test/k6",
    ]);
    // OpenSSH refuses a key file others can read, so this also shows it was private.
    assert_eq!(result, Ok(()), "{out}");
    assert_eq!(files(&target), ["test/k6/data.csv", "test/k6/smoke.js"]);
    assert_eq!(
        ssh_key_dirs(),
        keys_before,
        "the key's directory is removed"
    );
    let body: Vec<&str> = key.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(body.iter().all(|l| !out.contains(l)), "{out}");

    // Another key: refused, named.
    let other = generate_key(dir.path());
    let (result, out) = run(&[
        &url,
        dir.path().join("other").to_str().unwrap_or(""),
        "-s",
        &other,
        "--retry-count",
        "1",
    ]);
    let err = result.err().unwrap_or_default();
    assert!(
        err.contains("refused the credentials") && err.contains(&url),
        "{err}\n{out}"
    );
    assert_eq!(ssh_key_dirs(), keys_before);
}

fn ssh_key_dirs() -> Vec<String> {
    let mut dirs: Vec<String> = std::fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("testwerk-ssh-"))
        .collect();
    dirs.sort();
    dirs
}

fn generate_key(dir: &Path) -> String {
    let path = dir.join("other-key");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&path)
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success());
    read(&path)
}
