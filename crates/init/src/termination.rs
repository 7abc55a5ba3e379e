//! The termination message: what the controller reads from the container status when the
//! container ends, even without the log.
//!
//! One entry per `end` action of this container's action group (and one for the setup, when
//! the group has it), in order, joined by `/`: `<status letter>,<exit code>`, e.g.
//! `p,0/f,1/s,0`. A step without a status yet is written `aborted,137`, which does not match
//! the one-letter form, so a reader stops there: the container died before finishing it.

use testwerk_protocol::paths::SETUP_REF;
use testwerk_protocol::plan::WireAction;

use crate::state::State;

/// The message for action group `actions`.
pub fn message(actions: &[WireAction], state: &State) -> String {
    let mut entries = Vec::new();
    for action in actions {
        let r = match action {
            WireAction::Setup(_) => SETUP_REF,
            WireAction::End(r) if !r.is_empty() => r.as_str(),
            _ => continue,
        };
        let step = state.step(r);
        entries.push(match step.and_then(|s| s.status) {
            Some(status) => format!("{},{}", status.letter(), step.map_or(0, |s| s.code)),
            None => "aborted,137".to_owned(),
        });
    }
    entries.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Step;
    use testwerk_protocol::line::StepStatus;
    use testwerk_protocol::plan::SetupCopies;

    #[test]
    fn one_entry_per_end() {
        let mut state = State::default();
        for (r, status, code) in [
            (SETUP_REF, Some(StepStatus::Passed), 0),
            ("r1", Some(StepStatus::Failed), 2),
            ("r2", None, 0),
        ] {
            state.steps.insert(
                r.into(),
                Step {
                    status,
                    code,
                    ..Step::default()
                },
            );
        }
        let actions = vec![
            WireAction::Setup(SetupCopies::default()),
            WireAction::Start("r1".into()),
            WireAction::End("r1".into()),
            WireAction::End("r2".into()),
            WireAction::End(String::new()),
        ];
        assert_eq!(message(&actions, &state), "p,0/f,2/aborted,137");
    }
}
