//! Records the target triple, so that `testwerk run` can find a static `testwerk-init` that
//! cargo built with `--target <host>` (under `target/<host>/<profile>/`).
fn main() {
    let target = std::env::var("TARGET").unwrap_or_else(|_| "x86_64-unknown-linux-gnu".into());
    println!("cargo:rustc-env=TESTWERK_HOST_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
