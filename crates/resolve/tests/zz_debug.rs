use testwerk_resolve::{ResolveOptions, TemplateSet, resolve};
use testwerk_spec::{AnyDocument, load_path};
#[test]
fn debug() {
    let dir = std::path::Path::new("/work/shared/compat/testkube");
    let mut set = TemplateSet::new();
    let mut wfs = vec![];
    for f in ["k8s/templates/official--k6--v1.yaml", "test/special-cases/edge-cases-expected-fails.yaml", "test/special-cases/special-cases.yaml", "test/k6/crd-workflow/smoke.yaml","test/examples/showcase/crd.yaml"] {
        for d in load_path(&dir.join(f)).unwrap() {
            match d { AnyDocument::Template(t) => set.add(t).unwrap(), AnyDocument::Workflow(w) => wfs.push(w), _ => {} }
        }
    }
    for w in &wfs {
        let name = w.value.metadata.name.clone().unwrap();
        if !["expected-fail-missing-template","expected-fail-template-missing-config-options","expected-fail-template-not-defined-config-options","k6-workflow-smoke-template", "trigger-remote-workflow-with-template"].contains(&name.as_str()) && !name.contains("template") { continue; }
        let opts = ResolveOptions { secret_name: "s".into(), ..Default::default() };
        match resolve(w, &set, &opts) {
            Ok(r) => println!("== {name}\n{}", serde_json::to_string_pretty(&r.workflow.spec).unwrap()),
            Err(e) => for d in e { println!("== {name} ERR\n{d}") },
        }
    }
}
