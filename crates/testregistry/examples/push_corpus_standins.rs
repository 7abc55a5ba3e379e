//! Pushes the corpus stand-ins (`curlimages/curl`, `python` with pytest) to a running
//! registry, such as the test cluster's, and says how long building and pushing took.
//!
//! ```sh
//! cargo run -p testwerk-testregistry --example push_corpus_standins -- 127.0.0.1:15000
//! ```

use std::time::Instant;

use testwerk_testregistry::{CURL_TAGS, PYTHON_TAGS, Registry, curl_image, python_image};

fn main() {
    let Some(host) = std::env::args().nth(1) else {
        eprintln!("usage: push_corpus_standins HOST:PORT (the registry, e.g. 127.0.0.1:15000)");
        std::process::exit(2);
    };
    let registry = Registry::existing(&host);
    for (repo, tags, build) in [
        (
            "curlimages/curl",
            CURL_TAGS,
            curl_image as fn() -> Option<testwerk_testregistry::ImageSpec>,
        ),
        ("library/python", PYTHON_TAGS, python_image),
    ] {
        let started = Instant::now();
        let Some(image) = build() else {
            eprintln!("{repo}: skipped (a package it is made of is missing)");
            std::process::exit(1);
        };
        let built = started.elapsed();
        let pushed = registry.push(repo, tags[0], &image);
        for tag in &tags[1..] {
            registry.tag(repo, &pushed, tag);
        }
        let bytes: u64 = pushed.layers.iter().map(|l| l.size).sum();
        println!(
            "{host}/{repo}:{} ({} bytes in {} layers): built in {built:.1?}, pushed in {:.1?}",
            tags.join(","),
            bytes,
            pushed.layers.len(),
            started.elapsed() - built
        );
    }
}
