//! `tarball` against a real HTTP server on 127.0.0.1 (`testwerk-testcontent`'s file server).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use testwerk_testcontent::FileServer;
use testwerk_testcontent::tar::{Entry, build, file, gzip};
use testwerk_toolkit::tarball::{Limits, fetch};

fn get(target: &Path, url: &str, limits: Limits) -> (Result<(), String>, String) {
    let mut out = Vec::new();
    let result = fetch(target, url, limits, &mut out)
        .map(|_| ())
        .map_err(|e| e.to_string());
    (result, String::from_utf8_lossy(&out).into_owned())
}

fn archive() -> Vec<u8> {
    build(&[
        Entry::Dir { path: "app/" },
        file("app/run.sh", b"#!/bin/sh\necho hi\n"),
        Entry::File {
            path: "app/bin/tool",
            content: b"tool",
            mode: 0o755,
        },
        Entry::Symlink {
            path: "app/latest",
            target: "run.sh",
        },
        Entry::HardLink {
            path: "app/again.sh",
            target: "app/run.sh",
        },
    ])
}

#[test]
fn gzip_and_plain_tarballs_unpack_into_a_created_target() {
    let server = FileServer::start();
    let plain = server.add("/plain.tar", archive());
    // The name says nothing: the content decides.
    let gz = server.add("/download/latest", gzip(&archive()));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (url, kind) in [(plain, "tar"), (gz, "tar.gz")] {
        let target = dir.path().join(kind).join("deep/er");
        let (result, out) = get(&target, &url, Limits::default());
        assert_eq!(result, Ok(()), "{out}");
        assert!(
            out.contains(&format!("({kind})"))
                && out.contains("2 file(s)")
                && out.contains("2 link(s)"),
            "{out}"
        );
        assert_eq!(
            std::fs::read_to_string(target.join("app/run.sh")).unwrap_or_default(),
            "#!/bin/sh\necho hi\n"
        );
        let mode = std::fs::metadata(target.join("app/bin/tool"))
            .map(|m| m.permissions().mode())
            .unwrap_or(0);
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(
            std::fs::read_link(target.join("app/latest")).ok(),
            Some(Path::new("run.sh").to_owned())
        );
        assert_eq!(
            std::fs::read_to_string(target.join("app/again.sh")).unwrap_or_default(),
            "#!/bin/sh\necho hi\n"
        );
    }
}

#[test]
fn entries_that_would_leave_the_target_are_refused() {
    let server = FileServer::start();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap_or_else(|e| panic!("{e}"));
    let outside_text = outside.to_string_lossy().into_owned();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "dotdot",
            build(&[file("../outside/x", b"x")]),
            "a `..` component",
        ),
        (
            "nested",
            build(&[file("a/../../outside/x", b"x")]),
            "a `..` component",
        ),
        (
            "absolute",
            build(&[file(
                Box::leak(format!("{outside_text}/x").into_boxed_str()),
                b"x",
            )]),
            "an absolute path",
        ),
        (
            "through-link",
            build(&[
                Entry::Symlink {
                    path: "link",
                    target: Box::leak(outside_text.clone().into_boxed_str()),
                },
                file("link/x", b"x"),
            ]),
            "through the symlink `link`",
        ),
        (
            "relative-link",
            build(&[
                Entry::Symlink {
                    path: "up",
                    target: "../outside",
                },
                file("up/x", b"x"),
            ]),
            "through the symlink `up`",
        ),
        (
            "hard-link-out",
            build(&[Entry::HardLink {
                path: "h",
                target: "../outside/secret",
            }]),
            "a `..` component",
        ),
    ];
    std::fs::write(outside.join("secret"), "s").unwrap_or_else(|e| panic!("{e}"));
    for (name, tar, reason) in cases {
        let url = server.add(&format!("/{name}.tar"), gzip(&tar));
        let target = dir.path().join(name);
        let (result, _) = get(&target, &url, Limits::default());
        let err = result.err().unwrap_or_default();
        assert!(
            err.contains(&url) && err.contains("is refused") && err.contains(reason),
            "{name}: {err}"
        );
        assert!(!outside.join("x").exists(), "{name} wrote outside");
    }
    // A file entry replacing a planted link replaces the link, never writes through it.
    let tar = build(&[
        Entry::Symlink {
            path: "f",
            target: Box::leak(format!("{outside_text}/secret").into_boxed_str()),
        },
        file("f", b"mine"),
    ]);
    let url = server.add("/replace.tar", tar);
    let target = dir.path().join("replace");
    let (result, out) = get(&target, &url, Limits::default());
    assert_eq!(result, Ok(()), "{out}");
    assert_eq!(
        std::fs::read_to_string(target.join("f")).unwrap_or_default(),
        "mine"
    );
    assert_eq!(
        std::fs::read_to_string(outside.join("secret")).unwrap_or_default(),
        "s"
    );
}

#[test]
fn http_errors_and_bad_archives_are_named_with_the_url() {
    let server = FileServer::start();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let missing = server.url("/missing.tar.gz");
    let (result, _) = get(&dir.path().join("a"), &missing, Limits::default());
    assert_eq!(
        result.err().unwrap_or_default(),
        format!("tarball: {missing}: HTTP 404 Not Found")
    );

    let garbage = server.add(
        "/garbage.tgz",
        gzip(
            b"this is no tar archive at all, not even close...."
                .repeat(20)
                .as_slice(),
        ),
    );
    let (result, _) = get(&dir.path().join("b"), &garbage, Limits::default());
    let err = result.err().unwrap_or_default();
    assert!(
        err.contains(&garbage) && err.contains("not a tar archive"),
        "{err}"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let url = format!("http://127.0.0.1:{closed}/x.tar");
    let (result, _) = get(&dir.path().join("c"), &url, Limits::default());
    let err = result.err().unwrap_or_default();
    assert!(
        err.starts_with(&format!("tarball: {url}: cannot download")),
        "{err}"
    );
}

#[test]
fn a_gzip_bomb_stops_at_the_limit() {
    let server = FileServer::start();
    // 64 MiB of zeros compress to about 64 KiB.
    let big = vec![0u8; 64 << 20];
    let tar = build(&[file("zeros", &big)]);
    let url = server.add("/bomb.tar.gz", gzip(&tar));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let limits = Limits {
        unpacked: 1 << 20,
        ..Limits::default()
    };
    let (result, _) = get(&dir.path().join("t"), &url, limits);
    let err = result.err().unwrap_or_default();
    assert!(
        err.contains(&url) && err.contains("more than 1048576 bytes"),
        "{err}"
    );
    let written = std::fs::metadata(dir.path().join("t/zeros"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(written <= 1 << 20, "{written}");

    let limits = Limits {
        download: 1024,
        ..Limits::default()
    };
    let (result, _) = get(&dir.path().join("u"), &url, limits);
    let err = result.err().unwrap_or_default();
    assert!(err.contains(&url) && err.contains("1024"), "{err}");
}
