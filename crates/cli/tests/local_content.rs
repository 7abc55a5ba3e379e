//! `content.git` and `content.tarball` through `testwerk run`, against real servers on
//! 127.0.0.1: Debian's `git http-backend` with token auth, and a file server for tarballs.
//! The clone runs in the toolkit image (on this machine: its directories read-only, so its
//! `git`), the steps in a stand-in image from the test registry.

mod support;

use std::path::Path;

use support::*;
use testwerk_testcontent::{Auth, FileServer, GitServer, Repos, ServerOptions};
use testwerk_testregistry::{Registry, push_standins};

const TOKEN: &str = "tok-5ecr3t-9f8e7d";

/// `org/app`: `tests/check.sh` and `docs/readme.txt` on `main`, and a tag `v1` one commit
/// earlier without `docs/`.
fn app_repo(repos: &Repos) {
    let repo = repos.create("org/app");
    repo.write("tests/check.sh", "echo checked-v1\n");
    repo.commit("v1");
    repo.tag("v1");
    repo.write("tests/check.sh", "echo checked-main\n")
        .write("docs/readme.txt", "docs\n");
    repo.commit("main");
}

fn workflow(dir: &Path, name: &str, body: &str) -> String {
    let file = dir.join(format!("{name}.yaml"));
    let text = format!(
        "apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata:\n  name: {name}\nspec:\n{body}"
    );
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    file.display().to_string()
}

/// Everything a run left: its output, the logs read back, and the results database's bytes.
fn nothing_holds(secret: &str, dir: &Path, texts: &[&str]) {
    for text in texts {
        assert!(!text.contains(secret), "the token leaked: {text}");
    }
    for entry in ["db", "db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.join(entry)) {
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "the token is in the store ({entry})");
        }
    }
}

#[test]
fn a_token_protected_repository_is_cloned_sparse_into_an_image_step_and_the_token_never_shows() {
    // The setup step copies the toolkit into the shared volume for the alpine container.
    let Some(_toolkit) = toolkit_binary() else {
        return;
    };
    let Some(repos) = Repos::new() else { return };
    app_repo(&repos);
    let Some(server) = GitServer::start_with(
        repos.root(),
        ServerOptions {
            auth: Auth::Basic {
                user: "me".into(),
                token: TOKEN.into(),
            },
            ..Default::default()
        },
    ) else {
        return;
    };
    let Some(registry) = Registry::start() else {
        return;
    };
    let Some(_standins) = push_standins(&registry) else {
        return;
    };
    let dir = scratch("content-git-token");
    let file = workflow(
        &dir,
        "git-token",
        &format!(
            "  content:\n    git:\n      uri: {}\n      username: me\n      token: {TOKEN}\n      paths: [tests]\n  container:\n    image: alpine:3.20\n  steps:\n  - name: Check\n    shell: sh /data/repo/tests/check.sh && test ! -e /data/repo/docs/readme.txt && echo sparse-ok\n",
            server.url("org/app")
        ),
    );
    let mirror = format!("docker.io={}", registry.host);
    let cache = dir.join("images");
    let (code, out, err) = testwerk_run(
        &dir.join("db"),
        &[
            &file,
            "--registry-mirror",
            &mirror,
            "--insecure",
            &registry.host,
            "--image-cache",
            cache.to_str().unwrap_or_default(),
        ],
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("checked-main"), "{out}");
    assert!(
        out.contains("sparse-ok"),
        "only `tests` is checked out: {out}"
    );
    let asked: Vec<_> = server.served();
    assert!(
        asked
            .iter()
            .any(|s| s.status == 200 && s.authorization.is_some()),
        "the clone authenticated: {asked:?}"
    );
    let (_, logs, _) = testwerk_with_store(&dir.join("db"), &["logs", "git-token-1"]);
    nothing_holds(TOKEN, &dir, &[&out, &err, &logs]);
}

#[test]
fn a_wrong_token_fails_the_clone_naming_the_repository_and_not_the_token() {
    let Some(repos) = Repos::new() else { return };
    app_repo(&repos);
    let Some(server) = GitServer::start_with(
        repos.root(),
        ServerOptions {
            auth: Auth::Bearer(TOKEN.into()),
            ..Default::default()
        },
    ) else {
        return;
    };
    let dir = scratch("content-git-refused");
    let wrong = "wrong-7c6b5a4d";
    let file = workflow(
        &dir,
        "git-refused",
        &format!(
            "  content:\n    git:\n      uri: {}\n      token: {wrong}\n      authType: header\n  steps:\n  - name: Never\n    shell: echo never-ran\n",
            server.url("org/app")
        ),
    );
    let (code, out, err) = testwerk_run(&dir.join("db"), &[&file, "--host"]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(out.contains("org/app"), "the repository is named: {out}");
    assert!(!out.contains("never-ran"), "{out}");
    nothing_holds(wrong, &dir, &[&out, &err]);
}

#[test]
fn git_mirror_serves_a_github_url_from_the_local_server_at_a_tag() {
    let Some(repos) = Repos::new() else { return };
    app_repo(&repos);
    let Some(server) = GitServer::start(repos.root()) else {
        return;
    };
    let dir = scratch("content-git-mirror");
    let file = workflow(
        &dir,
        "git-mirror",
        "  content:\n    git:\n      uri: https://github.com/org/app\n      revision: v1\n      mountPath: /data/src\n  steps:\n  - name: Check\n    shell: sh /data/src/tests/check.sh && test ! -e /data/src/docs\n",
    );
    let mirror = format!("https://github.com/={}", server.base_url());
    let (code, out, err) =
        testwerk_run(&dir.join("db"), &[&file, "--host", "--git-mirror", &mirror]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("checked-v1"), "the tag's content: {out}");
    assert!(
        server.served().iter().any(|s| s.url.contains("org/app")),
        "fetched from the mirror"
    );
}

#[test]
fn a_tarball_is_fetched_and_unpacked_where_the_step_reads_it() {
    use testwerk_testcontent::tar;
    let files = FileServer::start();
    let archive = tar::gzip(&tar::build(&[tar::file(
        "suite/run.sh",
        b"echo from-the-tarball\n",
    )]));
    let url = files.add("/suite.tar", archive);
    let dir = scratch("content-tarball");
    let file = workflow(
        &dir,
        "tarball",
        &format!(
            "  content:\n    tarball:\n    - url: {url}\n      path: /data/suite\n  steps:\n  - name: Run\n    shell: sh /data/suite/suite/run.sh\n"
        ),
    );
    let (code, out, err) = testwerk_run(&dir.join("db"), &[&file, "--host"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("from-the-tarball"), "{out}");
    assert_eq!(files.hits(), vec!["/suite.tar".to_owned()]);
}

#[test]
fn content_files_are_written_with_their_mode_read_as_kubernetes_reads_yaml() {
    let dir = scratch("content-files");
    let file = workflow(
        &dir,
        "files",
        "  content:\n    files:\n    - path: /data/conf/a.txt\n      content: 'for {{ workflow.name }}'\n    - path: run.sh\n      content: echo ran-the-file\n      mode: 0755\n  steps:\n  - name: Read\n    shell: cat /data/conf/a.txt && echo && stat -c '%a' /data/run.sh && /data/run.sh\n",
    );
    let (code, out, err) = testwerk_run(&dir.join("db"), &[&file, "--host"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("for files"), "expressions in content: {out}");
    // `0755` is octal in Kubernetes' YAML (1.1), and here too.
    assert!(out.contains("│ 755"), "{out}");
    assert!(out.contains("ran-the-file"), "{out}");
}
