//! Stand-ins for the tool images the corpus runs — `curlimages/curl` and `python` with pytest
//! — made from this machine's Debian packages ([`HostFiles`]) over the busybox layer (for
//! `sh`), under the names and tags the corpus uses and with the originals' config (entrypoint,
//! command, user, working directory, environment).
//!
//! To add one: list the packages or files it needs, set the original's config (`docker
//! image inspect` on a machine that has it; the corpus's `corpus-images.yaml` holds those the
//! compiler needs), pick the tags the corpus uses (`grep -rh 'image:' test/`), and push it in
//! [`push_corpus_standins`]. See `cluster/README.md`.

use std::path::Path;

use crate::host_files::HostFiles;
use crate::image::{ImageConfig, ImageSpec, Media, Pushed};
use crate::registry::Registry;
use crate::standin::{STANDIN_PATH, busybox_layer};
use crate::tarball::Entry;
use crate::tool_standin::corpus_pytest_site;

/// `curlimages/curl` tags the corpus names.
pub const CURL_TAGS: &[&str] = &["8.7.1", "latest"];

/// `python` tags the corpus names (all stood in by Debian's Python 3.11).
pub const PYTHON_TAGS: &[&str] = &[
    "3.12.6-alpine3.20",
    "3.14.3-slim-trixie",
    "3.13.6-slim",
    "3.11-slim",
    "3.12",
    "3",
    "latest",
];

/// The Debian packages of the Python stand-in: the interpreter and standard library, pytest
/// with what it imports, and pip (the corpus's pytest workflows run `pip install`).
pub const PYTHON_PACKAGES: &[&str] = &[
    "python3-minimal",
    "python3.11-minimal",
    "libpython3.11-minimal",
    "libpython3.11-stdlib",
    "python3",
    "python3.11",
    "python3-pytest",
    "python3-attr",
    "python3-more-itertools",
    "python3-pkg-resources",
    "python3-pluggy",
    "python3-py",
    "python3-iniconfig",
    "python3-packaging",
    "python3-pip",
    "python3-setuptools",
    "python3-wheel",
    "python3-distutils",
    "python3-lib2to3",
    "media-types",
];

/// The curl image's entrypoint (upstream's `entrypoint.sh`, in behaviour): arguments that
/// start with `-`, or name no command, are curl's.
const CURL_ENTRYPOINT: &str = r#"#!/bin/sh
set -e
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ]; then
  set -- curl "$@"
fi
exec "$@"
"#;

/// The CA bundle, so `https://` works as in the original.
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

fn curl_binary() -> Option<std::path::PathBuf> {
    let found = Some(std::path::PathBuf::from("/usr/bin/curl")).filter(|p| p.is_file());
    testwerk_testinputs::available(found, "curl", "apt-get install -y curl")
}

fn has_package(package: &str) -> bool {
    std::process::Command::new("dpkg")
        .args(["-s", package])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The `curlimages/curl` stand-in: busybox, Debian's curl with its libraries and the CA
/// bundle, upstream's entrypoint; entrypoint `/entrypoint.sh`, command `curl`, user
/// `curl_user` (uid 100, gid 101, as alpine's `adduser -S` gives it). `None` (a counted skip)
/// without busybox-static or curl.
#[track_caller]
pub fn curl_image() -> Option<ImageSpec> {
    let base = busybox_layer()?;
    let curl = curl_binary()?;
    let mut files = HostFiles::new();
    files.add(&curl);
    if Path::new(CA_BUNDLE).exists() {
        files.add(Path::new(CA_BUNDLE));
    }
    files.add_libraries();
    files.put(Entry::file("entrypoint.sh", CURL_ENTRYPOINT).mode(0o755));
    files.put(Entry::file(
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\ncurl_user:x:100:101:Linux User,,,:/home/curl_user:/sbin/nologin\n",
    ));
    files.put(Entry::file(
        "etc/group",
        "root:x:0:root\nnobody:x:65534:\ncurl_group:x:101:curl_user\n",
    ));
    files.put(Entry::dir("home/curl_user").owner(100, 101));
    Some(ImageSpec {
        layers: vec![base, files.layer()],
        config: ImageConfig {
            env: vec![STANDIN_PATH.to_owned()],
            entrypoint: Some(vec!["/entrypoint.sh".to_owned()]),
            cmd: Some(vec!["curl".to_owned()]),
            user: Some("curl_user".to_owned()),
            ..ImageConfig::default()
        },
        media: Media::Oci,
    })
}

/// The `python` stand-in: busybox, Debian's Python 3.11 with pytest and pip
/// ([`PYTHON_PACKAGES`]) and their libraries, and on top, where pip installs, the pytest the
/// corpus pins ([`CORPUS_PYTEST`], from PyPI once); `python`/`python3`/`pip`/`pytest` in
/// `/usr/local/bin` as in the original; command `python3`, `LANG=C.UTF-8`. Debian's
/// `EXTERNALLY-MANAGED` marker is left out, so `pip install` installs as in the original.
/// `None` (a counted skip) without busybox-static or one of the packages.
#[track_caller]
pub fn python_image() -> Option<ImageSpec> {
    let base = busybox_layer()?;
    let missing: Vec<&str> = PYTHON_PACKAGES
        .iter()
        .copied()
        .filter(|p| !has_package(p))
        .collect();
    testwerk_testinputs::available(
        missing.is_empty().then_some(()),
        &format!("Debian packages {}", missing.join(" ")),
        &format!("apt-get install -y {}", missing.join(" ")),
    )?;
    let pytest = corpus_pytest_site()?;
    let mut files = HostFiles::new().exclude("/usr/lib/python3.11/EXTERNALLY-MANAGED");
    for package in PYTHON_PACKAGES {
        files.add_package(package);
    }
    // Where pip installs in this Python, and ahead of Debian's packages on `sys.path`.
    let site = "/usr/local/lib/python3.11/dist-packages";
    for entry in std::fs::read_dir(&pytest)
        .unwrap_or_else(|e| panic!("{}: {e}", pytest.display()))
        .flatten()
    {
        // pip's `bin/` scripts name the host's interpreter; Debian's `pytest-3` serves.
        if entry.file_name() != "bin" {
            let name = entry.file_name();
            files.add_tree_as(&entry.path(), &format!("{site}/{}", name.to_string_lossy()));
        }
    }
    files.add_libraries();
    for (link, target) in [
        ("usr/local/bin/python", "/usr/bin/python3"),
        ("usr/local/bin/python3", "/usr/bin/python3"),
        ("usr/local/bin/pip", "/usr/bin/pip3"),
        ("usr/local/bin/pip3", "/usr/bin/pip3"),
        ("usr/local/bin/pytest", "/usr/bin/pytest-3"),
    ] {
        files.put(Entry::symlink(link, target));
    }
    Some(ImageSpec {
        layers: vec![base, files.layer()],
        config: ImageConfig {
            env: vec![
                STANDIN_PATH.to_owned(),
                "LANG=C.UTF-8".to_owned(),
                "PYTHON_VERSION=3.11.2".to_owned(),
            ],
            cmd: Some(vec!["python3".to_owned()]),
            ..ImageConfig::default()
        },
        media: Media::Oci,
    })
}

/// The corpus stand-ins, as pushed by [`push_corpus_standins`].
#[derive(Clone, Debug)]
pub struct CorpusStandins {
    pub curl: Pushed,
    pub python: Pushed,
}

/// Pushes `curlimages/curl` and `library/python` stand-ins under every tag in [`CURL_TAGS`]
/// and [`PYTHON_TAGS`]; reach them with `--registry-mirror docker.io=<registry.host>`.
/// `None` (a counted skip) when a package they are made of is missing.
#[track_caller]
pub fn push_corpus_standins(registry: &Registry) -> Option<CorpusStandins> {
    let curl = curl_image()?;
    let python = python_image()?;
    Some(CorpusStandins {
        curl: push_tags(registry, "curlimages/curl", CURL_TAGS, &curl),
        python: push_tags(registry, "library/python", PYTHON_TAGS, &python),
    })
}

/// Pushes `image` as `repo:<tag>` for every tag (the first one uploads, the rest tag it).
pub fn push_tags(registry: &Registry, repo: &str, tags: &[&str], image: &ImageSpec) -> Pushed {
    let pushed = registry.push(repo, tags[0], image);
    for tag in &tags[1..] {
        registry.tag(repo, &pushed, tag);
    }
    pushed
}
