//! Template application (§2.1): `use` and `template` references replaced by what they bring.
//!
//! Upstream injects a template first and then resolves the references of everything, injected
//! steps included. Here a template is fully expanded (configured, and its own references
//! resolved) *before* it is injected, and a document's own steps are resolved before the
//! templates' steps join them. For upstream inputs the result is the same — upstream templates
//! cannot reference templates — and it gives every problem an exact place: a document's own
//! steps still have the indexes they were written with, and a problem inside a template is
//! reported at the reference that brought it in.

use testwerk_spec::{
    Document, ServiceSpec, SpecBody, Step, StepParallel, TemplateRef, TestWorkflowTemplate,
    WorkflowSpec,
};

use crate::configure;
use crate::flatten::flatten_step_list;
use crate::merge;
use crate::paths::{index, key};
use crate::problem::Problem;
use crate::secrets::Secrets;
use crate::set::TemplateSet;

/// How deep templates may reference templates before we call it a runaway.
const MAX_DEPTH: usize = 16;

pub struct Applier<'a> {
    pub templates: &'a TemplateSet,
    /// Prepended to the `use` of the workflow and of each of its own steps.
    pub global: Option<&'a TemplateRef>,
    pub secrets: &'a mut Secrets,
    /// The global template, expanded once: it joins every step and must not be reported once
    /// per step when broken.
    global_body: Option<SpecBody>,
    /// Internal names of the templates being expanded, outermost first, for cycle detection.
    stack: Vec<String>,
}

/// A reference together with where it was written (or why it is there).
struct Site {
    reference: TemplateRef,
    path: String,
    global: bool,
}

impl<'a> Applier<'a> {
    pub fn new(
        templates: &'a TemplateSet,
        global: Option<&'a TemplateRef>,
        secrets: &'a mut Secrets,
    ) -> Self {
        Applier {
            templates,
            global,
            secrets,
            global_body: None,
            stack: Vec::new(),
        }
    }

    /// Resolves a workflow's `spec` at `path`: its own steps and services first, then its
    /// `use` list (last to first), then the top-level lists are flattened.
    pub fn workflow(&mut self, spec: &mut WorkflowSpec, path: &str, problems: &mut Vec<Problem>) {
        if let Some(global) = self.global {
            let mut found = Vec::new();
            self.global_body = self.expand(global, path, &mut found);
            if !found.is_empty() {
                problems.extend(found.into_iter().map(|mut p| {
                    p.message = format!("global template: {}", p.message);
                    p
                }));
                return;
            }
        }
        let global = self.global.cloned();
        self.spec(spec, path, true, global.as_ref(), Vec::new(), problems);
    }

    /// The template a site brings, expanded (the global one comes ready).
    fn site_body(&mut self, site: &Site, problems: &mut Vec<Problem>) -> Option<SpecBody> {
        if site.global {
            return self.global_body.clone();
        }
        self.expand(&site.reference, &site.path, problems)
    }

    /// `owned`: the steps belong to the workflow (not to a template), so the global template
    /// reaches them. `global_use`: the global template also joins this spec's own `use`.
    /// `lead`: already resolved steps that go before the spec's own (a parallel block's
    /// `template`).
    fn spec(
        &mut self,
        spec: &mut WorkflowSpec,
        path: &str,
        owned: bool,
        global_use: Option<&TemplateRef>,
        lead: Vec<Step>,
        problems: &mut Vec<Problem>,
    ) {
        self.body(&mut spec.body, path, owned, problems);
        if !lead.is_empty() {
            let own = std::mem::take(&mut spec.body.steps);
            spec.body.steps = lead;
            spec.body.steps.extend(own);
        }

        let mut sites: Vec<Site> = Vec::new();
        if let Some(global) = global_use {
            sites.push(Site {
                reference: global.clone(),
                path: key(path, "use"),
                global: true,
            });
        }
        let uses = key(path, "use");
        for (i, reference) in std::mem::take(&mut spec.use_).into_iter().enumerate() {
            sites.push(Site {
                reference,
                path: index(&uses, i),
                global: false,
            });
        }
        // Last to first: `use: [A, B]` gives steps `A, B, own` and after `own, B, A`.
        for site in sites.into_iter().rev() {
            if let Some(tpl) = self.site_body(&site, problems) {
                inject_into_spec(&mut spec.body, tpl);
            }
        }

        let body = &mut spec.body;
        body.setup = flatten_step_list(std::mem::take(&mut body.setup));
        body.steps = flatten_step_list(std::mem::take(&mut body.steps));
        body.after = flatten_step_list(std::mem::take(&mut body.after));
    }

    /// Resolves the references inside a spec body: its steps, and its services' `use`.
    fn body(&mut self, body: &mut SpecBody, path: &str, owned: bool, problems: &mut Vec<Problem>) {
        for (field, list) in [
            ("setup", &mut body.setup),
            ("steps", &mut body.steps),
            ("after", &mut body.after),
        ] {
            let at = key(path, field);
            for (i, step) in list.iter_mut().enumerate() {
                self.step(step, &index(&at, i), owned, problems);
            }
        }
        let services_at = key(path, "services");
        for (name, service) in body.services.iter_mut() {
            self.service(service, &key(&services_at, name), problems);
        }
    }

    fn step(&mut self, step: &mut Step, path: &str, owned: bool, problems: &mut Vec<Problem>) {
        let global = if owned { self.global.cloned() } else { None };

        for (field, list) in [("setup", &mut step.setup), ("steps", &mut step.steps)] {
            let at = key(path, field);
            for (i, child) in list.iter_mut().enumerate() {
                self.step(child, &index(&at, i), owned, problems);
            }
        }
        let services_at = key(path, "services");
        for (name, service) in step.services.iter_mut() {
            self.service(service, &key(&services_at, name), problems);
        }
        if let Some(parallel) = step.parallel.as_deref_mut() {
            self.parallel(parallel, &key(path, "parallel"), owned, problems);
        }

        let mut sites: Vec<Site> = Vec::new();
        if let Some(global) = global {
            sites.push(Site {
                reference: global,
                path: key(path, "use"),
                global: true,
            });
        }
        let uses = key(path, "use");
        for (i, reference) in std::mem::take(&mut step.use_).into_iter().enumerate() {
            sites.push(Site {
                reference,
                path: index(&uses, i),
                global: false,
            });
        }
        for site in sites.into_iter().rev() {
            if let Some(tpl) = self.site_body(&site, problems) {
                inject_into_step(step, tpl);
            }
        }

        if let Some(reference) = step.template.take() {
            let at = key(path, "template");
            if let Some(tpl) = self.expand(&reference, &at, problems) {
                insert_isolated(step, tpl);
            }
        }
    }

    /// Services take only `pod`, `content`, `container` and `pvcs` from a template.
    fn service(&mut self, service: &mut ServiceSpec, path: &str, problems: &mut Vec<Problem>) {
        let uses = key(path, "use");
        let refs = std::mem::take(&mut service.use_);
        for (i, reference) in refs.iter().enumerate().rev() {
            let at = index(&uses, i);
            let Some(tpl) = self.expand(reference, &at, problems) else {
                continue;
            };
            if !tpl.setup.is_empty() || !tpl.steps.is_empty() || !tpl.after.is_empty() {
                problems.push(Problem::new(
                    at,
                    format!(
                        "steps in template \"{}\" used for the service are not supported",
                        reference.name
                    ),
                ));
                continue;
            }
            if !tpl.services.is_empty() {
                problems.push(Problem::new(
                    at,
                    format!(
                        "additional services in template \"{}\" used for the service are not supported",
                        reference.name
                    ),
                ));
                continue;
            }
            service.pod = merge::option(tpl.pod, service.pod.take(), merge::pod);
            service.content = merge::option(tpl.content, service.content.take(), merge::content);
            service.container = merge::container(
                tpl.container.unwrap_or_default(),
                std::mem::take(&mut service.container),
            );
            service.pvcs = merge::map(tpl.pvcs, std::mem::take(&mut service.pvcs));
        }
    }

    /// A parallel block is a workflow of its own; its `template` becomes its first step.
    fn parallel(
        &mut self,
        parallel: &mut StepParallel,
        path: &str,
        owned: bool,
        problems: &mut Vec<Problem>,
    ) {
        let mut lead = Vec::new();
        if let Some(reference) = parallel.template.take() {
            let mut first = Step {
                negative: std::mem::take(&mut parallel.negative),
                optional: std::mem::take(&mut parallel.optional),
                paused: std::mem::take(&mut parallel.paused),
                retry: parallel.retry.take(),
                timeout: parallel.timeout.take(),
                delay: parallel.delay.take(),
                shell: parallel.shell.take(),
                run: parallel.run.take(),
                execute: parallel.execute.take(),
                artifacts: parallel.artifacts.take(),
                ..Step::default()
            };
            if let Some(tpl) = self.expand(&reference, &key(path, "template"), problems) {
                insert_isolated(&mut first, tpl);
            }
            lead.push(first);
        }
        let mut spec = WorkflowSpec {
            use_: std::mem::take(&mut parallel.use_),
            body: std::mem::take(&mut parallel.body),
        };
        // Upstream quirk kept: the global template reaches the block's steps, not its `use`.
        self.spec(&mut spec, path, owned, None, lead, problems);
        parallel.body = spec.body;
    }

    /// The template `reference` names, configured and with its own references resolved, or
    /// `None` after reporting why not (at `at`).
    fn expand(
        &mut self,
        reference: &TemplateRef,
        at: &str,
        problems: &mut Vec<Problem>,
    ) -> Option<SpecBody> {
        let Some(doc) = self.templates.get(&reference.name) else {
            problems.push(
                Problem::new(
                    at,
                    format!(
                        "resolving template: template \"{}\" not found",
                        reference.name
                    ),
                )
                .with_suggestion(
                    self.templates
                        .nearest(&reference.name)
                        .map(|n| format!("did you mean \"{n}\"?")),
                ),
            );
            return None;
        };
        let internal = testwerk_spec::template_internal_name(&reference.name);
        if self.stack.contains(&internal) {
            let mut chain: Vec<String> = self
                .stack
                .iter()
                .map(|n| testwerk_spec::template_display_name(n))
                .collect();
            chain.push(testwerk_spec::template_display_name(&internal));
            problems.push(Problem::new(
                at,
                format!(
                    "resolving template: cyclic template reference: {}",
                    chain.join(" → ")
                ),
            ));
            return None;
        }
        if self.stack.len() >= MAX_DEPTH {
            problems.push(Problem::new(
                at,
                format!("resolving template: templates nested more than {MAX_DEPTH} deep"),
            ));
            return None;
        }

        let mut inner: Vec<Problem> = Vec::new();
        let body = self.expand_document(doc, reference, &internal, &mut inner);
        let display = testwerk_spec::template_display_name(&internal);
        problems.extend(
            inner
                .into_iter()
                .map(|p| p.inside_template(&display, &doc.source, at)),
        );
        body
    }

    fn expand_document(
        &mut self,
        doc: &Document<TestWorkflowTemplate>,
        reference: &TemplateRef,
        internal: &str,
        problems: &mut Vec<Problem>,
    ) -> Option<SpecBody> {
        let mut body = match configure::template(doc, reference, self.secrets) {
            Ok(body) => body,
            Err(mut found) => {
                problems.append(&mut found);
                return None;
            }
        };
        self.stack.push(internal.to_owned());
        let before = problems.len();
        self.body(&mut body, "spec", false, problems);
        self.stack.pop();
        (problems.len() == before).then_some(body)
    }
}

/// Workflow-level injection: settings merged under the workflow's, steps around its own.
fn inject_into_spec(spec: &mut SpecBody, tpl: SpecBody) {
    spec.pod = merge::option(tpl.pod, spec.pod.take(), merge::pod);
    spec.job = merge::option(tpl.job, spec.job.take(), merge::job);
    spec.events = prepend(tpl.events, std::mem::take(&mut spec.events));
    spec.execution = merge::option(tpl.execution, spec.execution.take(), merge::execution);
    spec.concurrency = merge::option(tpl.concurrency, spec.concurrency.take(), merge::concurrency);
    spec.pvcs = merge::map(tpl.pvcs, std::mem::take(&mut spec.pvcs));
    spec.content = merge::option(tpl.content, spec.content.take(), merge::content);
    spec.services = merge::map(tpl.services, std::mem::take(&mut spec.services));
    spec.container = merge::option(tpl.container, spec.container.take(), merge::container);
    spec.system = merge::option(tpl.system, spec.system.take(), merge::system);
    spec.timeouts = merge::option(tpl.timeouts, spec.timeouts.take(), merge::timeouts);
    spec.setup = prepend(tpl.setup, std::mem::take(&mut spec.setup));
    spec.steps = prepend(tpl.steps, std::mem::take(&mut spec.steps));
    spec.after.extend(tpl.after);
}

/// Step-level injection: `content`, `services` and `container` merged under the step's own;
/// `pod` and `job` do not apply to a step and are ignored.
fn inject_into_step(step: &mut Step, tpl: SpecBody) {
    step.content = merge::option(tpl.content, step.content.take(), merge::content);
    step.services = merge::map(tpl.services, std::mem::take(&mut step.services));
    step.container = merge::option(tpl.container, step.container.take(), merge::container);
    // Upstream quirk kept: only a step that already says `pure` (either way) is made pure.
    if step.pure.is_some() && tpl.system.as_ref().and_then(|s| s.pure_by_default) == Some(true) {
        step.pure = Some(true);
    }
    if tpl.setup.is_empty() && tpl.steps.is_empty() && tpl.after.is_empty() {
        return;
    }
    step.setup = prepend(tpl.setup, std::mem::take(&mut step.setup));
    let mut steps = tpl.steps;
    steps.append(&mut step.steps);
    steps.extend(tpl.after);
    step.steps = steps;
}

/// `template:` on a step: the template runs as sub-steps before the step's own. Its steps are
/// inlined when nothing else of it matters; otherwise they are wrapped in one step carrying the
/// template's container, content and services. A template without steps adds nothing.
fn insert_isolated(step: &mut Step, tpl: SpecBody) {
    let mut isolated = Step::default();
    inject_into_step(&mut isolated, tpl);
    if isolated.setup.is_empty() && isolated.steps.is_empty() {
        return;
    }
    // Deviation: upstream also inlines when the template brings services, and so loses them;
    // we wrap instead, so that the services still run around the template's steps.
    let inline = isolated.container.is_none()
        && isolated.content.is_none()
        && isolated.working_dir.is_none()
        && isolated.services.is_empty();
    let mut lead = if inline {
        let mut lead = std::mem::take(&mut isolated.setup);
        lead.append(&mut isolated.steps);
        lead
    } else {
        vec![isolated]
    };
    lead.append(&mut step.steps);
    step.steps = lead;
}

fn prepend<T>(mut first: Vec<T>, rest: Vec<T>) -> Vec<T> {
    first.extend(rest);
    first
}
