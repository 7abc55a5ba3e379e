fn main() {
    let a: Vec<String> = std::env::args().collect();
    let v = testwerk_expr::finalize_expression(a.get(1).map(String::as_str).unwrap_or("1"), &testwerk_expr::NoMachine);
    println!("{v:?}");
    let p: Result<testwerk_protocol::plan::WirePlan, _> = serde_json::from_str(a.get(2).map(String::as_str).unwrap_or("{}"));
    println!("{p:?}");
}
