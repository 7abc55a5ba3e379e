//! Pushes the corpus stand-ins (`curlimages/curl`, `python` with pytest, `postman/newman`,
//! `grafana/k6`) to a running registry, such as the test cluster's, and says how long
//! building (the first time: installing newman from npm, building k6 with Go) and pushing took.
//!
//! ```sh
//! cargo run -p testwerk-testregistry --example push_corpus_standins -- 127.0.0.1:15000
//! ```

use std::time::Instant;

use testwerk_testregistry::{
    CURL_TAGS, ImageSpec, K6_TAGS, NEWMAN_TAGS, PYTHON_TAGS, Registry, curl_image, k6_image,
    newman_image, python_image,
};

/// A stand-in: its repository, its tags, and how it is built.
type Standin = (
    &'static str,
    &'static [&'static str],
    fn() -> Option<ImageSpec>,
);

fn main() {
    let Some(host) = std::env::args().nth(1) else {
        eprintln!("usage: push_corpus_standins HOST:PORT (the registry, e.g. 127.0.0.1:15000)");
        std::process::exit(2);
    };
    let registry = Registry::existing(&host);
    let images: [Standin; 4] = [
        ("curlimages/curl", CURL_TAGS, curl_image),
        ("library/python", PYTHON_TAGS, python_image),
        ("postman/newman", NEWMAN_TAGS, newman_image),
        ("grafana/k6", K6_TAGS, k6_image),
    ];
    for (repo, tags, build) in images {
        let started = Instant::now();
        let Some(image) = build() else {
            eprintln!("{repo}: skipped (a package it is made of is missing)");
            std::process::exit(1);
        };
        let built = started.elapsed();
        let pushed = testwerk_testregistry::push_tags(&registry, repo, tags, &image);
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
