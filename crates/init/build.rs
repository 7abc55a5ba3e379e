//! Linker settings for the static `testwerk-init` that is copied into every user image, built
//! as CI builds it:
//!
//! ```sh
//! RUSTFLAGS="-C target-feature=+crt-static" cargo build --locked --profile init \
//!   -p testwerk-init --target x86_64-unknown-linux-gnu
//! ```
//!
//! Only that build (the `init` profile, static, Linux/glibc) is changed; every other build of
//! this crate, tests included, links as before. CI sets `RUSTFLAGS`, which replaces any
//! `rustflags` from `.cargo/config.toml`, so these settings live here.
//!
//! * `-z pack-relative-relocs`: the static PIE's relative relocations in the compact RELR
//!   form (glibc ≥ 2.36 applies them at start-up), about 50 kB less.
//! * `link/no-unwind-tables.ld`: drops `.eh_frame` and `.eh_frame_hdr`, about 170 kB less.
//!   Safe only because the `init` profile sets `panic = "abort"`: nothing ever unwinds. A
//!   panic still prints its message and location and aborts, but no backtrace.

use std::path::Path;

fn main() {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let script = Path::new(&var("CARGO_MANIFEST_DIR")).join("link/no-unwind-tables.ld");
    // Absolute on purpose: cargo keeps this script's output across a move of the checkout, and
    // a path that no longer exists makes it run again instead of linking with a stale path.
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed={}", script.display());
    let static_glibc = var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu"
        && var("CARGO_CFG_TARGET_FEATURE")
            .split(',')
            .any(|f| f == "crt-static");
    // Build scripts are not told the profile's name (and `CARGO_CFG_PANIC` ignores the
    // profile's `panic`), but its directory is in OUT_DIR: <target>/init/build/<pkg>/out.
    let out_dir = var("OUT_DIR");
    let profile = Path::new(&out_dir)
        .ancestors()
        .nth(3)
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    if !(static_glibc && profile == "init") {
        return;
    }
    println!("cargo::rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    println!("cargo::rustc-link-arg-bins=-Wl,-T,{}", script.display());
}
