//! `testwerk-init <action group index>`: see the library documentation.

fn main() {
    std::process::exit(testwerk_init::main());
}
