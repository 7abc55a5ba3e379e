//! `setup`: copy our binaries into the shared volume (see [`crate::setup`]).

use testwerk_protocol::line::{Event, StepStatus};
use testwerk_protocol::paths::SETUP_REF;
use testwerk_protocol::plan::SetupCopies;

use crate::fatal::{EXIT_INPUT, Fatal};
use crate::runner::Runner;
use crate::state::Step;
use testwerk_time::now_unix_millis;

impl Runner {
    pub(super) fn setup(&mut self, copies: SetupCopies) -> Result<(), Fatal> {
        let start = now_unix_millis();
        let mut errors = Vec::new();
        for copy in crate::setup::run(copies, &self.settings) {
            let how = match &copy.result {
                Ok(true) => " done".to_owned(),
                Ok(false) => " skipped".to_owned(),
                Err(e) => {
                    errors.push(format!("{}: {e}", copy.what));
                    format!(" error: {e}")
                }
            };
            self.out.message(&format!("{}...{how}", copy.what));
        }
        let (status, code) = if errors.is_empty() {
            (StepStatus::Passed, 0)
        } else {
            (StepStatus::Failed, EXIT_INPUT)
        };
        self.state.steps.insert(
            SETUP_REF.to_owned(),
            Step {
                status: Some(status),
                code,
                started_at: Some(start),
                condition: "true".into(),
                ..Step::default()
            },
        );
        self.out.event(&Event::Setup {
            status,
            ms: now_unix_millis().saturating_sub(start),
            details: (!errors.is_empty()).then(|| errors.join("; ")),
        });
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Fatal::input(format!("setup failed: {}", errors.join("; "))))
        }
    }
}
