//! What a person sees while a workflow runs: each step as it starts and ends, its output under
//! it, and a summary (in the spirit of cargo-nextest).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use testwerk_protocol::line::StepStatus;

use super::tracker::{StepView, Tracker, Update};

pub struct PrettyView {
    color: bool,
    out: Box<dyn Write>,
}

impl PrettyView {
    pub fn stdout() -> PrettyView {
        let stdout = std::io::stdout();
        let color = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
        PrettyView {
            color,
            out: Box::new(stdout),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    pub fn note(&mut self, text: &str) {
        let label = self.paint("1;36", "   note");
        let _ = writeln!(self.out, "{label} {text}");
    }

    pub fn warn(&mut self, text: &str) {
        let label = self.paint("1;33", "warning");
        let _ = writeln!(self.out, "{label} {text}");
    }

    pub fn header(&mut self, id: &str, steps: usize, containers: usize) {
        let label = self.paint("1;32", "  START");
        let _ = writeln!(
            self.out,
            "{label} {id} ({steps} step{}, {containers} container{})",
            plural(steps),
            plural(containers)
        );
    }

    pub fn update(&mut self, tracker: &Tracker, update: &Update) {
        match update {
            Update::Started(r) => {
                if let Some(s) = tracker.steps.get(r).filter(|s| s.shown && s.is_group) {
                    let label = self.paint("1;34", "  GROUP");
                    let _ = writeln!(self.out, "{label} {}{}", indent(s), s.name);
                }
            }
            Update::Log { r#ref, line } => {
                let depth = r#ref
                    .as_ref()
                    .and_then(|r| tracker.steps.get(r))
                    .map_or(0, |s| s.depth);
                let bar = self.paint("2", "│");
                let _ = writeln!(self.out, "        {}{bar} {line}", "  ".repeat(depth));
            }
            Update::Finished {
                r#ref,
                status,
                ms,
                code,
                message,
            } => {
                let Some(s) = tracker.steps.get(r#ref).filter(|s| s.shown) else {
                    return;
                };
                let (word, color) = match status {
                    StepStatus::Passed => ("PASS", "1;32"),
                    StepStatus::Failed => ("FAIL", "1;31"),
                    StepStatus::Timeout => ("TIMEOUT", "1;31"),
                    StepStatus::Aborted => ("ABORT", "1;31"),
                    StepStatus::Skipped => ("SKIP", "1;33"),
                };
                let label = self.paint(color, &format!("{word:>7}"));
                let time = format!("[{:>8.3}s]", *ms as f64 / 1000.0);
                let code = if *code != 0 && !s.is_group {
                    format!(" (exit code {code})")
                } else {
                    String::new()
                };
                let _ = writeln!(self.out, "{label} {time} {}{}{code}", indent(s), s.name);
                if let Some(m) = message {
                    let _ = writeln!(self.out, "        {}  {m}", indent(s));
                }
            }
            Update::Output { r#ref, name, value } => {
                let step = tracker.steps.get(r#ref).map_or("?", |s| s.name.as_str());
                let _ = writeln!(self.out, "         output {step}.{name} = {value}");
            }
            Update::Retry { r#ref, attempt, of } => {
                let step = tracker.steps.get(r#ref).map_or("?", |s| s.name.as_str());
                let label = self.paint("1;35", "  RETRY");
                let _ = writeln!(self.out, "{label} {step}: attempt {attempt} of {of}");
            }
            Update::Paused(r) | Update::Resumed(r) => {
                let Some(s) = tracker.steps.get(r).filter(|s| s.shown && !s.is_group) else {
                    return;
                };
                let word = if matches!(update, Update::Paused(_)) {
                    "PAUSED"
                } else {
                    "RESUMED"
                };
                let label = self.paint("1;35", &format!("{word:>7}"));
                let _ = writeln!(self.out, "{label} {}{}", indent(s), s.name);
            }
            Update::Warning { message } => self.warn(message),
        }
    }

    pub fn summary(&mut self, id: &str, passed: bool, elapsed: Duration, tracker: &Tracker) {
        let shown: Vec<&StepView> = tracker
            .order
            .iter()
            .filter_map(|r| tracker.steps.get(r))
            .filter(|s| s.shown && !s.is_group)
            .collect();
        let count = |f: &dyn Fn(&StepView) -> bool| shown.iter().filter(|s| f(s)).count();
        let ok = count(&|s| s.status == Some(StepStatus::Passed));
        let skipped = count(&|s| s.status == Some(StepStatus::Skipped));
        let failed = shown.len() - ok - skipped;
        let _ = writeln!(self.out, "{}", self.paint("2", "────────────"));
        let verdict = if passed {
            self.paint("1;32", " PASSED")
        } else {
            self.paint("1;31", " FAILED")
        };
        let _ = writeln!(
            self.out,
            "{verdict} {id} in {:.2}s: {ok} passed, {failed} failed, {skipped} skipped",
            elapsed.as_secs_f64()
        );
        for s in shown
            .iter()
            .filter(|s| !matches!(s.status, Some(StepStatus::Passed | StepStatus::Skipped)))
        {
            let status = s.status.map_or("unknown".to_owned(), |st| st.to_string());
            let _ = writeln!(
                self.out,
                "        {} {}: {status}",
                self.paint("1;31", "✗"),
                s.name
            );
        }
    }
}

fn indent(s: &StepView) -> String {
    "  ".repeat(s.depth)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
