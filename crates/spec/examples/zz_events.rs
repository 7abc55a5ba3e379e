use yaml_rust2::parser::Parser;
fn main() {
    let text = std::fs::read_to_string(std::env::args().nth(1).unwrap()).unwrap();
    let mut p = Parser::new_from_str(&text);
    loop {
        match p.next_token() {
            Ok((ev, m)) => { println!("{}:{} {:?}", m.line(), m.col(), ev); if ev == yaml_rust2::parser::Event::StreamEnd { break; } }
            Err(e) => { println!("ERR {e}"); break; }
        }
    }
}
