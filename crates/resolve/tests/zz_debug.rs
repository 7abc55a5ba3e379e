use testwerk_resolve::{ResolveOptions, TemplateSet, resolve};
use testwerk_spec::{AnyDocument, load_path};
#[test]
fn debug() {
    let dir = std::path::Path::new("/work/shared/compat/testkube");
    let mut set = TemplateSet::new();
    let mut wfs = vec![];
    for f in ["k8s/templates/official--k6--v1.yaml","k8s/templates/distribute--evenly.yaml", "test/selenium/crd-workflow/smoke.yaml", "test/special-cases/special-cases.yaml", "test/k6/crd-workflow/smoke.yaml"] {
        for d in load_path(&dir.join(f)).unwrap() {
            match d { AnyDocument::Template(t) => set.add(t).unwrap(), AnyDocument::Workflow(w) => wfs.push(w), _ => {} }
        }
    }
    for w in &wfs {
        let name = w.value.metadata.name.clone().unwrap();
        if !["selenium-java-hub-and-nodes-workflow-smoke","special-cases-config-override-target","distributed-k6-workflow-smoke", "special-cases-global-env"].contains(&name.as_str()) && !name.contains("global") { continue; }
        let opts = ResolveOptions { secret_name: "s".into(), ..Default::default() };
        match resolve(w, &set, &opts) {
            Ok(r) => println!("== {name}\n{}", serde_json::to_string_pretty(&r.workflow.spec).unwrap()),
            Err(e) => for d in e { println!("== {name} ERR\n{d}") },
        }
    }
}
