//! Steps become stages: each step is a group, each thing it does is a container stage.
//!
//! Operation order follows upstream: delay, content (files, git, tarball), services start, setup,
//! run, shell, execute, parallel, steps, services stop, artifacts.

mod content;
mod toolkit;

use testwerk_spec::{ContainerConfig, Step, StepRun};

use crate::condition::Condition;
use crate::container::inherit;
use crate::error::{PlanError, Result};
use crate::layer::Layer;
use crate::paths;
use crate::stage::{ContainerStage, GroupStage, Stage, StageMeta};

/// What the processor needs to know beyond the step itself.
pub struct Processor<'a> {
    pub layer: &'a mut Layer,
    pub toolkit_image: &'a str,
    /// The workflow's `pod`, passed on to services and parallel workers.
    pub pod: Option<&'a testwerk_spec::PodConfig>,
    /// The root's `steps` are the workflow's `steps` followed by its `after`; from this index
    /// on, errors are reported under `spec.after`.
    pub after_from: Option<usize>,
}

impl Processor<'_> {
    /// Builds the group for one step (and everything under it).
    pub fn step(&mut self, step: &Step, parent: &ContainerConfig, path: &str) -> Result<Stage> {
        let mut container = inherit(
            parent,
            &ContainerConfig {
                working_dir: step.working_dir.clone(),
                ..Default::default()
            },
        );
        if let Some(own) = &step.container {
            container = inherit(&container, own);
        }
        let condition = match &step.condition {
            // The real condition goes onto every operation, so it is evaluated after the
            // operation's own environment is loaded.
            Some(_) => Condition::of("true"),
            None => Condition::of("passed"),
        };
        let meta = StageMeta {
            r#ref: self.layer.next_ref(),
            path: path.to_owned(),
            id: step.id.clone(),
            name: step.name.clone(),
            condition,
            negative: step.negative,
            optional: step.optional,
            paused: step.paused,
            pure: step.pure,
            timeout: step.timeout.clone(),
            retry: step.retry.clone(),
            ..Default::default()
        };
        let mut group = GroupStage::new(meta, false);
        let own_condition = step.condition.as_deref().map(Condition::of);
        let add = |group: &mut GroupStage, stage: Option<Stage>, operation: &str| {
            if let Some(mut stage) = stage {
                if stage.meta().path.is_empty() {
                    stage.meta_mut().path = format!("{path}.{operation}");
                }
                if let Some(c) = &own_condition {
                    stage.meta_mut().condition.prepend(c);
                }
                group.add(stage);
            }
        };

        let delay = self.delay(step, &container, path)?;
        add(&mut group, delay, "delay");
        if let Some(content) = &step.content {
            self.content_files(content, &mut container, &format!("{path}.content"))?;
            let git = self.content_git(content, &mut container, &format!("{path}.content.git"))?;
            add(&mut group, git, "content.git");
            let tarball =
                self.content_tarball(content, &mut container, &format!("{path}.content.tarball"))?;
            add(&mut group, tarball, "content.tarball");
        }
        let services_ref = if step.services.is_empty() {
            None
        } else {
            let (stage, svc_ref) = self.services_start(&step.services, &mut container)?;
            add(&mut group, Some(stage), "services");
            Some(svc_ref)
        };
        let setup = self.children(&step.setup, &container, &format!("{path}.setup"))?;
        add(&mut group, setup, "setup");
        if let Some(run) = &step.run {
            let stage = self.run(run, &container, &format!("{path}.run"))?;
            add(&mut group, Some(stage), "run");
        }
        if let Some(script) = &step.shell {
            let stage = self.shell(script, &container);
            add(&mut group, Some(stage), "shell");
        }
        if let Some(execute) = &step.execute {
            let stage = self.execute(execute, &container, &format!("{path}.execute"))?;
            add(&mut group, Some(stage), "execute");
        }
        if let Some(parallel) = &step.parallel {
            let stage = self.parallel(parallel, &container)?;
            add(&mut group, Some(stage), "parallel");
        }
        let steps = self.children(&step.steps, &container, &format!("{path}.steps"))?;
        add(&mut group, steps, "steps");
        if let Some(svc_ref) = services_ref {
            let stage = self.services_stop(&step.services, &svc_ref, &container);
            add(&mut group, Some(stage), "services");
        }
        if let Some(artifacts) = &step.artifacts {
            let stage = self.artifacts(artifacts, &container, &format!("{path}.artifacts"))?;
            add(&mut group, Some(stage), "artifacts");
        }

        if group.meta.paused && group.children.is_empty() {
            // A paused step with nothing to run still needs a container to pause in.
            let wait = self.container_stage(
                &container,
                "Wait for continue",
                vec![paths::COPIED_SHELL.into(), "-c".into(), "exit 0".into()],
            );
            let mut wait = wait;
            wait.meta.pure = Some(true);
            group.add(Stage::Container(wait));
        }
        Ok(Stage::Group(group))
    }

    /// A virtual group of sub-steps (setup or steps).
    fn children(
        &mut self,
        steps: &[Step],
        container: &ContainerConfig,
        path: &str,
    ) -> Result<Option<Stage>> {
        if steps.is_empty() {
            return Ok(None);
        }
        // A virtual group dissolves into its parent, so it needs no ref.
        let mut group = GroupStage::new(StageMeta::default(), true);
        for (i, step) in steps.iter().enumerate() {
            let here = match self.after_from {
                Some(n) if path == "spec.steps" && i >= n => format!("spec.after[{}]", i - n),
                _ => format!("{path}[{i}]"),
            };
            let stage = self.step(step, container, &here)?;
            group.add(stage);
        }
        Ok(Some(Stage::Group(group)))
    }

    fn delay(
        &mut self,
        step: &Step,
        container: &ContainerConfig,
        path: &str,
    ) -> Result<Option<Stage>> {
        let Some(delay) = &step.delay else {
            return Ok(None);
        };
        let duration = testwerk_spec::duration::parse_delay(delay)
            .map_err(|e| PlanError::new(format!("{path}.delay"), e))?;
        let seconds = format_seconds(duration.as_secs_f64());
        let mut stage = self.container_stage(
            container,
            &format!("Delay: {delay}"),
            vec!["sleep".into(), seconds],
        );
        stage.meta.pure = Some(true);
        Ok(Some(Stage::Container(stage)))
    }

    fn run(&mut self, run: &StepRun, container: &ContainerConfig, path: &str) -> Result<Stage> {
        let mut own = run.container.clone();
        let category = if let Some(script) = &run.shell {
            if own.command.is_some() || own.args.is_some() {
                return Err(PlanError::new(
                    path,
                    "run.shell should not be used in conjunction with run.command or run.args",
                )
                .with_help("keep either `shell`, or `command` and `args`"));
            }
            own.command = Some(vec![paths::COPIED_SHELL.into()]);
            own.args = Some(vec![
                "-c".into(),
                format!("{}{script}", paths::SHELL_HEADER),
            ]);
            "Run shell command"
        } else {
            "Run"
        };
        let meta = StageMeta {
            r#ref: self.layer.next_ref(),
            category: Some(category.into()),
            ..Default::default()
        };
        Ok(Stage::Container(ContainerStage {
            meta,
            container: Box::new(inherit(container, &own)),
            toolkit: false,
        }))
    }

    fn shell(&mut self, script: &str, container: &ContainerConfig) -> Stage {
        Stage::Container(self.container_stage(
            container,
            "Run shell command",
            vec![
                paths::COPIED_SHELL.into(),
                "-c".into(),
                format!("{}{script}", paths::SHELL_HEADER),
            ],
        ))
    }

    /// A container stage running `command` (first element) with the rest as args.
    fn container_stage(
        &mut self,
        container: &ContainerConfig,
        category: &str,
        command: Vec<String>,
    ) -> ContainerStage {
        let mut parts = command.into_iter();
        let own = ContainerConfig {
            command: parts.next().map(|c| vec![c]),
            args: Some(parts.collect()),
            ..Default::default()
        };
        ContainerStage {
            meta: StageMeta {
                r#ref: self.layer.next_ref(),
                category: Some(category.into()),
                ..Default::default()
            },
            container: Box::new(inherit(container, &own)),
            toolkit: false,
        }
    }
}

/// Seconds the way Go's `%g` prints them: `1`, `0.5`, `90`.
pub fn format_seconds(seconds: f64) -> String {
    let text = format!("{seconds}");
    text.strip_suffix(".0").map(str::to_owned).unwrap_or(text)
}
