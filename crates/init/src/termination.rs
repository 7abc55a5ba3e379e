//! The termination message: what the controller reads from the container status when the
//! container ends, even without the log.
//!
//! One entry per `end` action of this container's action group (and one for the setup, when
//! the group has it), in order, joined by `/`: `<status letter>,<exit code>`, e.g.
//! `p,0/f,1/s,0`. A step without a status yet is written `aborted,137`, which does not match
//! the one-letter form, so a reader stops there: the container died before finishing it.
//!
//! The kubelet keeps at most 4096 bytes of it, so entries stop before that size: a group of
//! thousands of steps reports its first few hundred here (the log has every one), and writing
//! the message after every action stays cheap instead of growing with the number of steps.

use testwerk_protocol::paths::SETUP_REF;
use testwerk_protocol::plan::WireAction;

use crate::state::State;

/// The most the kubelet keeps of a termination message.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// The steps a group's message can report, found once per container: the `end` actions (and
/// the setup) in order, no more than can fit [`MAX_MESSAGE_BYTES`]. Building the message then
/// costs at most that many lookups, and once the last of them has run it cannot change, so a
/// group of 10,000 steps does not rebuild it 40,000 times over every action.
#[derive(Clone, Debug, Default)]
pub struct Reported {
    refs: Vec<String>,
    /// The index of the action that ends the last of them.
    last_action: Option<usize>,
}

/// The shortest entry is `p,0` and every entry but the first has a `/`: no more fit.
const MAX_ENTRIES: usize = MAX_MESSAGE_BYTES / 4 + 1;

impl Reported {
    pub fn of(actions: &[WireAction]) -> Reported {
        let mut reported = Reported::default();
        for (i, action) in actions.iter().enumerate() {
            let r = match action {
                WireAction::Setup(_) => SETUP_REF,
                WireAction::End(r) if !r.is_empty() => r.as_str(),
                _ => continue,
            };
            if reported.refs.len() == MAX_ENTRIES {
                break;
            }
            reported.refs.push(r.to_owned());
            reported.last_action = Some(i);
        }
        reported
    }

    /// Whether running action `index` may still change the message.
    pub fn may_change(&self, index: usize) -> bool {
        self.last_action.is_some_and(|last| index <= last)
    }

    /// The message for the state now.
    pub fn message(&self, state: &State) -> String {
        let mut entries: Vec<String> = Vec::new();
        let mut len = 0;
        for r in &self.refs {
            let step = state.step(r);
            let entry = match step.and_then(|s| s.status) {
                Some(status) => format!("{},{}", status.letter(), step.map_or(0, |s| s.code)),
                None => "aborted,137".to_owned(),
            };
            len += entry.len() + usize::from(!entries.is_empty());
            if len > MAX_MESSAGE_BYTES {
                break;
            }
            entries.push(entry);
        }
        entries.join("/")
    }
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
        let reported = Reported::of(&actions);
        assert_eq!(reported.message(&state), "p,0/f,2/aborted,137");
        assert!(reported.may_change(3) && !reported.may_change(4));
    }

    #[test]
    fn stops_before_the_kubelet_limit() {
        let mut state = State::default();
        let mut actions = Vec::new();
        for i in 0..5000 {
            let r = format!("r{i}");
            state.steps.insert(
                r.clone(),
                Step {
                    status: Some(StepStatus::Passed),
                    ..Step::default()
                },
            );
            actions.push(WireAction::End(r));
        }
        let reported = Reported::of(&actions);
        let m = reported.message(&state);
        assert!(
            !reported.may_change(MAX_ENTRIES),
            "entries past the limit change nothing"
        );
        assert!(m.len() <= MAX_MESSAGE_BYTES, "{}", m.len());
        assert!(m.len() > MAX_MESSAGE_BYTES - 4, "{}", m.len());
        assert!(m.split('/').all(|e| e == "p,0"), "whole entries only");
    }
}
