fn main() {
    std::fs::write("/tmp/explore/crds.json", serde_json::to_string_pretty(&testwerk_spec::crds()).unwrap()).unwrap();
    std::fs::write("/tmp/explore/crds.yaml", testwerk_spec::crds_yaml()).unwrap();
}
