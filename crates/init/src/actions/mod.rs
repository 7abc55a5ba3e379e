//! What each action of the plan does. One module per kind of work:
//!
//! - [`lifecycle`]: declare, result, timeout, retry, pause, status, start and end;
//! - [`container`]: a container transition (working directory, variables group);
//! - [`execute`]: running a step's command (retries, timeouts, pause, abort, outputs);
//! - [`setup`]: copying our binaries for user images.

mod container;
mod execute;
mod lifecycle;
mod setup;

use testwerk_protocol::plan::WireAction;

use crate::fatal::Fatal;
use crate::runner::Runner;
use crate::state::Retry;

impl Runner {
    /// Performs one action.
    pub fn dispatch(&mut self, action: WireAction) -> Result<(), Fatal> {
        match action {
            WireAction::Setup(copies) => self.setup(copies),
            WireAction::Declare {
                condition,
                r#ref,
                id,
                parents,
                optional,
            } => {
                let step = self.state.steps.entry(r#ref).or_default();
                step.condition = condition;
                step.id = id;
                step.parents = parents;
                step.optional = optional;
                Ok(())
            }
            WireAction::Result { r#ref, value } => {
                if !r#ref.is_empty() {
                    self.state.step_mut(&r#ref)?.result = Some(value);
                }
                Ok(())
            }
            WireAction::Container { r#ref, config } => self.container(&r#ref, config),
            WireAction::Start(r) if r.is_empty() => Ok(()),
            WireAction::Start(r) => self.start(&r),
            WireAction::End(r) if r.is_empty() => Ok(()),
            WireAction::End(r) => self.end(&r),
            WireAction::Execute {
                r#ref,
                negative,
                toolkit,
                pure: _,
            } => self.execute(&r#ref, negative, toolkit),
            WireAction::Timeout { r#ref, timeout } => self.set_timeout(&r#ref, &timeout),
            WireAction::Pause { r#ref } => {
                self.state.step_mut(&r#ref)?.pause_on_start = true;
                Ok(())
            }
            WireAction::Retry {
                r#ref,
                count,
                until,
            } => {
                self.state.step_mut(&r#ref)?.retry = Some(Retry {
                    count: u32::try_from(count).unwrap_or(0),
                    until,
                });
                Ok(())
            }
        }
    }
}
