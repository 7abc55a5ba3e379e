fn main() {
    let depth: usize = std::env::args().nth(1).unwrap().parse().unwrap();
    let stage: String = std::env::args().nth(2).unwrap();
    let mut text = String::from("apiVersion: testworkflows.testkube.io/v1\nkind: TestWorkflow\nmetadata: {name: deep}\nspec:\n");
    for level in 0..depth {
        let pad = "  ".repeat(level + 1);
        text.push_str(&format!("{pad}steps:\n{pad}- name: s{level}\n"));
    }
    let h = std::thread::Builder::new().stack_size(2 << 20).spawn(move || {
        let v = testwerk_spec::parse_values(&text).unwrap().remove(0);
        if stage == "schema" {
            let e = testwerk_spec::schema::check_value(testwerk_spec::schema::json_schema(testwerk_spec::Kind::TestWorkflow), &v);
            println!("schema {}", e.len());
        } else {
            let w: testwerk_spec::TestWorkflow = serde_json::from_value(v).unwrap();
            println!("serde {}", w.spec.body.steps.len());
        }
    }).unwrap();
    h.join().unwrap();
}
