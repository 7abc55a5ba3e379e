//! Hostile layers, pushed to a real registry and pulled: every way out of the root is either
//! refused with an error naming the entry, or lands inside the root as in a chroot. Each case
//! checks that a victim directory beside the cache is untouched.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use support::{ensure, read, store, tree};
use testwerk_images::ImageError;
use testwerk_testregistry::{Entry, ImageSpec, Layer, Registry};

enum Expect {
    /// Refused: an `UnsafeEntry` error naming `entry` and saying `why`.
    Refused { entry: String, why: &'static str },
    /// Unpacked, with this file (relative to the root) holding this content.
    Inside { path: String, content: &'static str },
}

#[test]
fn no_layer_writes_outside_the_root() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let victim = t.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("file"), "original").unwrap();
    let v = victim.display().to_string();
    let v_in_root = v.trim_start_matches('/').to_owned();
    // The root is <t>/cache/{tmp/root-N,roots/<hex>}/rootfs: four levels up is <t>.
    let up = "../../../..";

    let cases: Vec<(&str, Vec<Vec<Entry>>, Expect)> = vec![
        (
            "dot-dot name",
            vec![vec![Entry::file(&format!("{up}/victim/pwned"), "x")]],
            Expect::Refused {
                entry: format!("{up}/victim/pwned"),
                why: "`..`",
            },
        ),
        (
            "absolute name",
            vec![vec![Entry::file(&format!("{v}/pwned"), "x")]],
            Expect::Refused {
                entry: format!("{v}/pwned"),
                why: "absolute",
            },
        ),
        (
            "absolute symlink parent",
            vec![vec![
                Entry::symlink("etc", &v),
                Entry::file("etc/pwned", "in root"),
            ]],
            Expect::Inside {
                path: format!("{v_in_root}/pwned"),
                content: "in root",
            },
        ),
        (
            "relative symlink climbing out",
            vec![vec![
                Entry::symlink("a", &format!("{up}/victim")),
                Entry::file("a/pwned", "clamped"),
            ]],
            Expect::Inside {
                path: "victim/pwned".to_owned(),
                content: "clamped",
            },
        ),
        (
            "symlink parent planted by a lower layer",
            vec![
                vec![Entry::symlink("d", &v)],
                vec![Entry::file("d/pwned", "upper")],
            ],
            Expect::Inside {
                path: format!("{v_in_root}/pwned"),
                content: "upper",
            },
        ),
        (
            "symlink loop etc -> /etc",
            vec![vec![
                Entry::symlink("etc", "/etc"),
                Entry::file("etc/passwd", "root::0:0::/:/bin/sh"),
            ]],
            Expect::Refused {
                entry: "etc/passwd".to_owned(),
                why: "loop",
            },
        ),
        (
            "file over a symlink to a victim file",
            vec![vec![
                Entry::symlink("f", &format!("{v}/file")),
                Entry::file("f", "replaced the link"),
            ]],
            Expect::Inside {
                path: "f".to_owned(),
                content: "replaced the link",
            },
        ),
        (
            "hard link to an absolute path",
            vec![vec![Entry::hardlink("h", &format!("{v}/file"))]],
            Expect::Refused {
                entry: "h".to_owned(),
                why: "absolute",
            },
        ),
        (
            "hard link climbing out",
            vec![vec![Entry::hardlink("h", &format!("{up}/victim/file"))]],
            Expect::Refused {
                entry: "h".to_owned(),
                why: "`..`",
            },
        ),
        (
            "hard link through a symlink",
            vec![vec![
                Entry::symlink("l", &v),
                Entry::hardlink("h", "l/file"),
            ]],
            Expect::Refused {
                entry: "h".to_owned(),
                why: "no earlier entry made",
            },
        ),
        (
            "whiteout through a symlink",
            vec![
                vec![Entry::symlink("s", &v), Entry::file("keep", "k")],
                vec![Entry::whiteout("s/file")],
            ],
            Expect::Inside {
                path: "keep".to_owned(),
                content: "k",
            },
        ),
        (
            "opaque marker through a symlink",
            vec![
                vec![Entry::symlink("s", &v), Entry::file("keep", "k")],
                vec![Entry::opaque("s")],
            ],
            Expect::Inside {
                path: "keep".to_owned(),
                content: "k",
            },
        ),
        (
            "directory and symlink entries below a symlink",
            vec![vec![
                Entry::symlink("x", &v),
                Entry::dir("x/newdir"),
                Entry::symlink("x/link", "/"),
                Entry::file("x/newdir/f", "deep"),
            ]],
            Expect::Inside {
                path: format!("{v_in_root}/newdir/f"),
                content: "deep",
            },
        ),
    ];

    let before = tree(&victim);
    let outside = || {
        let mut names: Vec<String> = std::fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let top = outside();
    for (i, (name, layers, expect)) in cases.into_iter().enumerate() {
        let cache = t.path().join("cache");
        let store = store(&registry, &cache);
        let image = ImageSpec::new(layers.into_iter().map(Layer::new).collect());
        let pushed = registry.push("t/hostile", &format!("c{i}"), &image);
        let result = ensure(&store, &pushed.reference, None).0;
        match expect {
            Expect::Refused { entry, why } => {
                let err = result
                    .err()
                    .unwrap_or_else(|| panic!("{name}: not refused"));
                assert!(
                    matches!(&err, ImageError::UnsafeEntry { entry: e, .. } if *e == entry),
                    "{name}: {err:?}"
                );
                let text = err.to_string();
                assert!(
                    text.contains(why) && text.contains("t/hostile"),
                    "{name}: {text}"
                );
                assert_eq!(
                    std::fs::read_dir(cache.join("roots")).unwrap().count(),
                    0,
                    "{name}: no root is kept"
                );
                assert_eq!(
                    std::fs::read_dir(cache.join("tmp")).unwrap().count(),
                    0,
                    "{name}"
                );
            }
            Expect::Inside { path, content } => {
                let image = result.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(read(image.root.join(&path)), content, "{name}");
            }
        }
        assert_eq!(
            tree(&victim),
            before,
            "{name}: the victim directory changed"
        );
        assert_eq!(read(victim.join("file")), "original", "{name}");
        assert_eq!(
            std::fs::metadata(victim.join("file")).unwrap().nlink(),
            1,
            "{name}: linked from inside"
        );
        let mut now = outside();
        now.retain(|n| n != "cache");
        let mut was = top.clone();
        was.retain(|n| n != "cache");
        assert_eq!(now, was, "{name}: something appeared beside the cache");
        std::fs::remove_dir_all(&cache).unwrap_or_else(|e| {
            panic!(
                "{name}: {} cannot be removed: {e}",
                Path::new(&cache).display()
            )
        });
    }
}
