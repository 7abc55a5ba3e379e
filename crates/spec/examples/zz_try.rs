fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    match testwerk_spec::load_str(&path, &text) {
        Ok(d) => println!("ok: {} documents", d.len()),
        Err(es) => for e in es { println!("{e}\n"); }
    }
}
