//! What a person sees while a workflow runs: each step as it starts (`• (2/6) name`) and
//! ends, its output under it, and a summary (in the spirit of cargo-nextest). Line-based, so
//! it reads the same in a terminal, a CI log or a file; colour only on a terminal without
//! `NO_COLOR`.

use std::io::{IsTerminal, Write};

use testwerk_protocol::line::StepStatus;
use testwerk_store::ExecutionStatus;

use super::report::{Event, Finished, Reporter, Summary};

pub struct HumanReporter<W: Write> {
    color: bool,
    out: W,
}

impl HumanReporter<std::io::Stdout> {
    pub fn stdout() -> HumanReporter<std::io::Stdout> {
        let stdout = std::io::stdout();
        let color = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
        HumanReporter { color, out: stdout }
    }
}

impl<W: Write> HumanReporter<W> {
    /// Without colour, into `out` (tests, files).
    pub fn plain(out: W) -> HumanReporter<W> {
        HumanReporter { color: false, out }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    // Output is best effort: a reader that went away must not stop the run or its recording.
    fn line(&mut self, text: &str) {
        let _ = writeln!(self.out, "{text}");
    }

    fn finished(&mut self, f: &Finished) {
        let (word, color) = match f.status {
            _ if f.ignored => ("IGNORED", "1;33"),
            StepStatus::Passed => ("PASS", "1;32"),
            StepStatus::Failed => ("FAIL", "1;31"),
            StepStatus::Timeout => ("TIMEOUT", "1;31"),
            StepStatus::Aborted => ("ABORT", "1;31"),
            StepStatus::Skipped => ("SKIP", "1;33"),
        };
        let label = self.paint(color, &format!("{word:>7}"));
        let time = match f.duration {
            Some(d) => format!("[{:>8.3}s]", d.as_secs_f64()),
            None => " ".repeat(11),
        };
        let mut notes = Vec::new();
        if let Some(code) = f.code {
            notes.push(format!("exit code {code}"));
        }
        if f.ignored {
            notes.push("optional: its failure is ignored".to_owned());
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join("; "))
        };
        let indent = "  ".repeat(f.depth);
        self.line(&format!("{label} {time} {indent}{}{notes}", f.name));
        for why in f.negative.iter().chain(&f.message) {
            self.line(&format!("{:19} {indent}  {why}", ""));
        }
    }

    fn summary(&mut self, s: &Summary) {
        if let Some(reason) = &s.reason {
            let label = self.paint("1;36", "   note");
            self.line(&format!("{label} {reason}"));
        }
        let rule = self.paint("2", "────────────");
        self.line(&rule);
        let verdict = match s.status {
            ExecutionStatus::Passed => self.paint("1;32", " PASSED"),
            ExecutionStatus::Aborted => self.paint("1;31", "ABORTED"),
            ExecutionStatus::Canceled => self.paint("1;31", "CANCELED"),
            _ => self.paint("1;31", " FAILED"),
        };
        let ignored = if s.ignored > 0 {
            format!(", {} ignored", s.ignored)
        } else {
            String::new()
        };
        self.line(&format!(
            "{verdict} {} in {:.2}s: {} passed, {} failed{ignored}, {} skipped",
            s.id,
            s.elapsed.as_secs_f64(),
            s.passed,
            s.failed,
            s.skipped
        ));
        for (name, status) in &s.failures {
            let cross = self.paint("1;31", "✗");
            self.line(&format!("        {cross} {name}: {status}"));
        }
    }
}

impl<W: Write> Reporter for HumanReporter<W> {
    fn report(&mut self, event: &Event) {
        match event {
            Event::Note(text) => {
                let label = self.paint("1;36", "   note");
                self.line(&format!("{label} {text}"));
            }
            Event::Warning(text) => {
                let label = self.paint("1;33", "warning");
                self.line(&format!("{label} {text}"));
            }
            Event::RunStarted {
                id,
                steps,
                containers,
            } => {
                let label = self.paint("1;32", "  START");
                self.line(&format!(
                    "{label} {id} ({steps} step{}, {containers} container{})",
                    plural(*steps),
                    plural(*containers)
                ));
            }
            Event::GroupStarted { name, depth } => {
                let label = self.paint("1;34", "  GROUP");
                self.line(&format!("{label} {}{name}", "  ".repeat(*depth)));
            }
            Event::StepStarted {
                name,
                index,
                of,
                depth,
            } => {
                let bullet = self.paint("1", "      •");
                self.line(&format!(
                    "{bullet} {}({index}/{of}) {name}",
                    "  ".repeat(*depth)
                ));
            }
            Event::Log { depth, line } => {
                let bar = self.paint("2", "│");
                self.line(&format!("        {}{bar} {line}", "  ".repeat(*depth)));
            }
            Event::Output { step, name, value } => {
                self.line(&format!("         output {step}.{name} = {value}"));
            }
            Event::Retry {
                name,
                depth,
                attempt,
                of,
                why,
            } => {
                let label = self.paint("1;35", "  RETRY");
                let why = why
                    .as_deref()
                    .map(|w| format!(" ({w})"))
                    .unwrap_or_default();
                self.line(&format!(
                    "{label} {}{name}: attempt {attempt} of {of}{why}",
                    "  ".repeat(*depth)
                ));
            }
            Event::Paused { name, depth, hint } => {
                let label = self.paint("1;35", " PAUSED");
                let hint = hint
                    .as_deref()
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default();
                self.line(&format!("{label} {}{name}{hint}", "  ".repeat(*depth)));
            }
            Event::Resumed { name, depth } => {
                let label = self.paint("1;35", "RESUMED");
                self.line(&format!("{label} {}{name}", "  ".repeat(*depth)));
            }
            Event::StepFinished(f) => self.finished(f),
            Event::RunFinished(s) => self.summary(s),
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
