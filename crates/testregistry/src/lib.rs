//! # testwerk-testregistry
//!
//! Tests only (a dev-dependency, like `testwerk-testinputs`): a real registry and real images
//! for the tests that pull, unpack and run them.
//!
//! - [`Registry`]: Debian's `docker-registry` on a free `127.0.0.1` port, storing into a
//!   temporary directory, anonymous or with htpasswd users ([`Auth`]); stopped by a drop
//!   guard (or earlier by [`Registry::stop`]). [`Registry::blob_path`] finds a blob in its
//!   storage so a test can corrupt it; [`Registry::requests`] reads its access log.
//! - [`ImageSpec`]: an image described in code — layers of [`Entry`]s (files, directories,
//!   symlinks, hard links, FIFOs, devices, whiteouts and opaque markers, with modes, owners
//!   and mtimes), each gzip, zstd or uncompressed ([`Compression`]), a config (Env,
//!   Entrypoint, Cmd, WorkingDir, User), OCI or Docker media types — pushed with
//!   [`Registry::push`]. Tars are written by hand ([`tar`]), so an entry may carry any name:
//!   `../x`, `/etc/x`, a path through a symlink. That is what the hostile-layer tests need.
//! - Stand-ins ([`busybox_image`], [`alpine_image`], [`bash_image`], [`push_standins`]): the
//!   test cluster's busybox-static images, pushed as `library/alpine`, `library/busybox` and
//!   `library/bash`, so a run with `--registry-mirror docker.io=<host>` finds `alpine:3.20`.
//! - Corpus stand-ins ([`curl_image`], [`python_image`], [`push_corpus_standins`]): the tool
//!   images the corpus runs, made from this machine's Debian packages ([`HostFiles`]: files,
//!   the libraries `ldd` names, the symlinks on the way) over the busybox layer, pushed as
//!   `curlimages/curl:8.7.1` and `python:3.12.6-alpine3.20` (and the corpus's other tags);
//!   [`newman_image`] and [`k6_image`] from tools built once from npm and the Go module proxy
//!   into [`standin_cache`].
//!
//! A missing `docker-registry`, `busybox-static` or `bash-static` is a counted skip (the
//! function returns `None` and the test returns), a failure under `CI`.
//!
//! ```no_run
//! use testwerk_testregistry::{Registry, push_standins};
//! let Some(registry) = Registry::start() else { return };
//! let Some(standins) = push_standins(&registry) else { return };
//! println!("alpine:3.20 is {} at {}", standins.alpine.manifest_digest, registry.host);
//! ```

mod corpus_standin;
mod host_files;
mod image;
mod registry;
mod standin;
mod tarball;
mod tool_standin;

pub use corpus_standin::{
    CURL_TAGS, CorpusStandins, PYTHON_PACKAGES, PYTHON_TAGS, curl_image, push_corpus_standins,
    push_tags, python_image,
};
pub use host_files::HostFiles;
pub use image::{Compression, ImageConfig, ImageSpec, Layer, Media, Pushed, PushedLayer, sha256};
pub use registry::{Auth, Registry, free_port, registry_binary, served_requests};
pub use standin::{
    ALPINE_TAGS, BASH_TAGS, BUSYBOX_TAGS, STANDIN_PATH, Standins, alpine_image, bash_image,
    busybox_image, busybox_layer, push_standins,
};
pub use tarball::{Entry, Kind, tar};
pub use tool_standin::{
    CORPUS_PYTEST, K6_TAGS, K6_VERSION, NEWMAN_TAGS, NEWMAN_VERSION, corpus_pytest_site, k6_binary,
    k6_image, newman_image, newman_modules, standin_cache,
};
