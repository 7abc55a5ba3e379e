//! A backend honours exactly the children the parent's compiled plan declares.

use serde_json::json;
use testwerk_children::check::Parent;
use testwerk_children::execute::{Execute, executions};
use testwerk_children::parallel::Workers;
use testwerk_children::services;
use testwerk_protocol::children::{ChildKind, ChildRequest, ChildWorkflow, Selection};
use testwerk_protocol::plan::{WireAction, WirePlan};
use testwerk_spec::AnyDocument;

const WORKFLOW: &str = r#"
kind: TestWorkflow
apiVersion: testworkflows.testkube.io/v1
metadata: {name: family}
spec:
  container: {image: "busybox:1.36"}
  services:
    db:
      count: 2
      image: busybox:1.36
      shell: httpd -f -p 80
  steps:
  - name: workers
    parallel:
      count: 3
      transfer: [{from: /data}]
      shell: echo {{ index }}
  - name: others
    execute:
      workflows:
      - name: smoke
        config: {n: "{{ index }}"}
        count: 2
      - selector: {matchLabels: {suite: e2e}}
"#;

const SINK: &str = "http://10.0.0.1:8080/api/v1/executions/e1/artifacts";

fn plan() -> WirePlan {
    let docs = testwerk_spec::load_str("family.yaml", WORKFLOW).expect("valid YAML");
    let Some(AnyDocument::Workflow(doc)) = docs.into_iter().next() else {
        panic!("a workflow");
    };
    let settings = testwerk_pipeline::CompileSettings {
        namespace: "ns".into(),
        images: testwerk_pipeline::default_images(),
        image_source: &testwerk_plan::NoImages,
        execution_id: Some("family-1".into()),
        execution: None,
        config: Default::default(),
        target: testwerk_pipeline::Target::Kubernetes,
        toolkit: None,
    };
    let compiled =
        testwerk_pipeline::compile(&doc, &testwerk_resolve::TemplateSet::new(), &settings)
            .expect("it compiles");
    compiled.plan.wire()
}

/// The `--base64` spec and ref of the toolkit step running `op`.
fn step(plan: &WirePlan, op: &str) -> (String, serde_json::Value) {
    plan.groups
        .iter()
        .flatten()
        .find_map(|a| match a {
            WireAction::Container { r#ref, config }
                if config
                    .command
                    .as_ref()
                    .is_some_and(|c| c.last().map(String::as_str) == Some(op)) =>
            {
                let args = config.args.clone().unwrap_or_default();
                let at = args.iter().position(|a| a == "--base64")?;
                let spec = testwerk_children::decode(&args[at + 1], op).ok()?;
                Some((r#ref.clone(), spec))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("the plan has a {op} step"))
}

fn e2e(selection: &Selection, name: &str) -> bool {
    selection.match_labels.get("suite").map(String::as_str) == Some("e2e") && name == "login"
}

#[test]
fn the_children_the_toolkit_builds_from_the_plan_are_honoured() {
    let plan = plan();
    let parent = Parent {
        plan: &plan,
        sink: Some(SINK),
    };

    let (r, spec) = step(&plan, "parallel");
    let workers = Workers::new(&spec, &r, Some(SINK)).expect("workers");
    assert_eq!(workers.len(), 3);
    for w in workers.all().expect("all") {
        parent
            .check(&w.request, &e2e)
            .expect("a worker of the plan");
    }

    let (r, svc) = step(&plan, "services");
    // The group ref comes at run time; any group is the plan's.
    for instance in services::instances("g9", "db", &svc["db"], &r, Some(SINK)).expect("instances")
    {
        parent
            .check(&instance.request, &e2e)
            .expect("a service of the plan");
    }

    let (r, payload) = step(&plan, "execute");
    let execute = Execute::from_payload(&payload).expect("payload");
    let smoke =
        executions(&execute.entries[0], 0, &r, &["smoke".into()], Some(SINK)).expect("smoke");
    assert_eq!(smoke.len(), 2);
    for s in &smoke {
        parent.check(&s.request, &e2e).expect("smoke is named");
    }
    let login =
        executions(&execute.entries[1], 1, &r, &["login".into()], Some(SINK)).expect("login");
    parent
        .check(&login[0].request, &e2e)
        .expect("login is selected");
}

#[test]
fn children_the_plan_does_not_declare_are_refused() {
    let plan = plan();
    let parent = Parent {
        plan: &plan,
        sink: Some(SINK),
    };
    let (r, spec) = step(&plan, "parallel");
    let worker = Workers::new(&spec, &r, Some(SINK))
        .expect("workers")
        .worker(0)
        .expect("worker")
        .request;

    // Test code with the token asks for a Pod of its own making.
    let mut escalated = worker.clone();
    if let ChildWorkflow::Document(doc) = &mut escalated.workflow {
        doc["spec"]["pod"] = json!({"volumes": [{"name": "s", "secret": {"secretName": "admin"}}]});
    }
    let err = parent.check(&escalated, &e2e).expect_err("refused");
    assert!(
        err.to_string()
            .contains("only the workers, services and workflows its steps declare"),
        "{err}"
    );

    // The worker as a service, another step's worker, a fourth worker, another sink.
    let mut as_service = worker.clone();
    as_service.kind = ChildKind::Service;
    assert!(parent.check(&as_service, &e2e).is_err());
    let mut other_step = worker.clone();
    other_step.parent_ref = "r99".into();
    assert!(parent.check(&other_step, &e2e).is_err());
    let mut fourth = worker.clone();
    if let ChildWorkflow::Document(doc) = &mut fourth.workflow {
        doc["metadata"]["name"] = format!("{r}-4").into();
    }
    assert!(parent.check(&fourth, &e2e).is_err());
    let elsewhere = Parent {
        plan: &plan,
        sink: Some("http://attacker/artifacts"),
    };
    assert!(elsewhere.check(&worker, &e2e).is_err());

    // A workflow no entry names, or named with other config.
    let (r, _) = step(&plan, "execute");
    let named = |name: &str, n: &str| ChildRequest {
        kind: ChildKind::Execution,
        parent_ref: r.clone(),
        workflow: ChildWorkflow::Named(name.into()),
        config: [("n".to_owned(), n.to_owned())].into(),
    };
    assert!(parent.check(&named("smoke", "1"), &e2e).is_ok());
    assert!(parent.check(&named("smoke", "5"), &e2e).is_err());
    assert!(parent.check(&named("admin-tasks", "1"), &e2e).is_err());
}
