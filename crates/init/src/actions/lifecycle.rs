//! The life of a step: start (condition), timeouts, end (result).

use testwerk_protocol::line::{Event, StepStatus};

use crate::duration;
use crate::fatal::{EXIT_ABORTED, Fatal};
use crate::outputs;
use crate::runner::Runner;
use testwerk_time::now_unix_millis;

/// The exit code reported for a step whose expressions could not be evaluated (it did not
/// run; the same number `init` exits with for bad input).
pub const CODE_NOT_RUN: i32 = 155;

impl Runner {
    /// `start`: the step begins; its condition decides whether it runs.
    pub(super) fn start(&mut self, r: &str) -> Result<(), Fatal> {
        self.state.push_frame(r);
        // A parent that ran out of time skips what has not started yet, this step included.
        if let Some(by) = self.expired(r, false) {
            self.apply_timeout(&by, 0);
        }
        let now = now_unix_millis();
        self.state.current = r.to_owned();
        let step = self.state.step_mut(r)?;
        step.started_at = Some(now);
        step.first_started_at.get_or_insert(now);
        let finished = step.status.is_some();
        let id = step.id.clone();
        self.out.event(&Event::Start {
            r#ref: r.to_owned(),
        });
        if finished {
            return Ok(());
        }
        if self.aborted() {
            self.skip(r)?;
            return Ok(());
        }
        let condition = self.state.step_mut(r)?.condition.clone();
        match self.with_machine(r, |m| m.condition(&condition)) {
            Ok(true) => {}
            Ok(false) => {
                self.skip(r)?;
                return Ok(());
            }
            Err(e) => {
                self.out.message(&format!(
                    "testwerk-init: cannot evaluate the condition of step {r}: {e}"
                ));
                let step = self.state.step_mut(r)?;
                step.status = Some(StepStatus::Failed);
                step.code = CODE_NOT_RUN;
                self.state.finish_descendants(r, StepStatus::Skipped, 0);
                return Ok(());
            }
        }
        if let Some(id) = id {
            let dir = self.settings.results_dir(&id);
            if let Err(e) = outputs::shared_dir(&dir) {
                self.out.message(&format!(
                    "testwerk-init: warning: cannot create the results directory {}: {e}",
                    dir.display()
                ));
            }
        }
        Ok(())
    }

    /// Marks a step and everything in it skipped.
    fn skip(&mut self, r: &str) -> Result<(), Fatal> {
        self.state.step_mut(r)?.status = Some(StepStatus::Skipped);
        self.state.finish_descendants(r, StepStatus::Skipped, 0);
        Ok(())
    }

    /// `end`: a step without a status yet gets one from its result expression.
    pub(super) fn end(&mut self, r: &str) -> Result<(), Fatal> {
        let step = self.state.step_mut(r)?;
        if step.status.is_none() {
            let result = step.result.clone();
            if self.aborted() {
                let step = self.state.step_mut(r)?;
                step.status = Some(StepStatus::Aborted);
                step.code = EXIT_ABORTED;
            } else if let Some(result) = result {
                // A group's result is usually an AND of its children's refs; evaluated one ref
                // at a time, thousands of children do not nest the parser thousands deep.
                let refs: Vec<&str> = result.split("&&").map(str::trim).collect();
                let plain = refs.iter().all(|t| {
                    !t.is_empty()
                        && t.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                });
                let evaluated = if plain && refs.len() > 1 {
                    self.with_machine(r, |m| {
                        refs.iter()
                            .try_fold(true, |all, t| Ok::<_, String>(all && m.condition(t)?))
                    })
                } else {
                    self.with_machine(r, |m| m.condition(&result))
                };
                let status = match evaluated {
                    Ok(true) => StepStatus::Passed,
                    Ok(false) => StepStatus::Failed,
                    Err(e) => {
                        self.out.message(&format!(
                            "testwerk-init: cannot evaluate the result of step {r}: {e}"
                        ));
                        StepStatus::Failed
                    }
                };
                self.state.step_mut(r)?.status = Some(status);
            } else {
                // A step that should have run a command here did not: a plan out of order.
                self.out.message(&format!(
                    "testwerk-init: step {r} ended without running (the plan has no command for it before its end)"
                ));
                let step = self.state.step_mut(r)?;
                step.status = Some(StepStatus::Aborted);
                step.code = EXIT_ABORTED;
            }
        }
        let now = now_unix_millis();
        let step = self.state.step_mut(r)?;
        let ms = step.first_started_at.map_or(0, |s| now.saturating_sub(s));
        let (status, code) = (step.status.unwrap_or(StepStatus::Aborted), step.code);
        self.out.event(&Event::End {
            r#ref: r.to_owned(),
            status,
            code,
            ms,
        });
        // No save here: the state file is for the next container, which starts after this one
        // has saved at its end; a save per step rewrote every step's state each time (quadratic).
        self.state.pop_frame(r)
    }

    /// `timeout`: a Go duration, possibly a template.
    pub(super) fn set_timeout(&mut self, r: &str, text: &str) -> Result<(), Fatal> {
        let text = if text.contains("{{") {
            self.with_machine(r, |m| m.template(text))
                .map_err(|e| Fatal::input(format!("invalid timeout of step {r}: {e}")))?
        } else {
            text.to_owned()
        };
        let d = duration::parse(&text)
            .map_err(|e| Fatal::input(format!("invalid timeout of step {r}: {e}")))?;
        self.state.step_mut(r)?.timeout_ms = Some(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Ok(())
    }

    /// The outermost of `r`'s parents (and `r` itself with `include_self`) whose time is up.
    pub(super) fn expired(&self, r: &str, include_self: bool) -> Option<String> {
        let now = now_unix_millis();
        let step = self.state.step(r)?;
        let own = include_self.then_some(r);
        step.parents
            .iter()
            .map(String::as_str)
            .chain(own)
            .find(|p| {
                self.state.step(p).is_some_and(|s| {
                    s.status.is_none()
                        && s.timeout_ms
                            .is_some_and(|t| s.started_at.is_some() && s.active_ms(now) >= t)
                })
            })
            .map(str::to_owned)
    }

    /// The time left before `r` or one of its parents times out.
    pub(super) fn time_left(&self, r: &str) -> Option<std::time::Duration> {
        let now = now_unix_millis();
        let step = self.state.step(r)?;
        step.parents
            .iter()
            .map(String::as_str)
            .chain([r])
            .filter_map(|p| self.state.step(p))
            .filter(|s| s.status.is_none() && s.started_at.is_some())
            .filter_map(|s| s.timeout_ms.map(|t| t.saturating_sub(s.active_ms(now))))
            .min()
            .map(std::time::Duration::from_millis)
    }

    /// `by` ran out of time: it and its started sub-steps time out, the others are skipped.
    pub(super) fn apply_timeout(&mut self, by: &str, code: i32) {
        if let Some(step) = self.state.steps.get_mut(by) {
            step.status = Some(StepStatus::Timeout);
            step.code = code;
        }
        self.state.finish_descendants(by, StepStatus::Timeout, code);
    }
}
