fn main() {
    let depth: usize = std::env::args().nth(1).unwrap().parse().unwrap();
    let flow = std::env::args().nth(2).is_some();
    let text = if flow { format!("{}{}", "{a: [".repeat(depth), "]}".repeat(depth)) } else {
    let mut text = String::from("apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata: {name: deep}\nspec:\n");
    for level in 0..depth {
        let pad = "  ".repeat(level + 1);
        text.push_str(&format!("{pad}steps:\n{pad}- name: s{level}\n"));
    }
    text };
    let h = std::thread::Builder::new().stack_size(2 << 20).spawn(move || {
        match testwerk_spec::load_str("x", &text) { Ok(d) => println!("ok {}", d.len()), Err(e) => println!("err {}", e[0].message) }
    }).unwrap();
    h.join().unwrap();
}
