//! [`ReportReader`]: test cases out of a JUnit or xUnit.net report, one at a time, in
//! bounded memory.

use std::io::BufRead;

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};

use crate::bounded_input::BoundedInput;
use crate::capped::{Capped, capped};
use crate::case::{CaseStatus, Format, TestCase};
use crate::warning::Warning;

/// Failure, error and skip messages keep at most this many bytes (the rest is counted and
/// noted at the end of the message).
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// Suite, class and test names keep at most this many bytes.
pub const MAX_NAME_BYTES: usize = 1024;

/// A single XML event (a text, a tag) passes the parser at most about this many bytes; longer
/// texts and CDATA sections are cut, longer tags stop the parse with a warning.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// Elements nested deeper than this stop the parse with a warning.
pub const MAX_DEPTH: usize = 64;

/// What an open element is, as far as test cases are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Element {
    /// `testsuites`, `assemblies`: nothing to remember.
    Container,
    /// `testsuite`, `assembly`, `collection`: its name is on the suite stack.
    Suite,
    /// `testcase`, `test`: the case being read.
    Case,
    /// A case's `failure`, `error`, `skipped` (JUnit), or xUnit's `failure` element: its
    /// text is part of the message in JUnit.
    Outcome,
    /// xUnit's `message`, `stack-trace` and `reason`: text that is part of the message.
    MessageText,
    /// Anything else (`properties`, `system-out`, `traits`…): skipped.
    Other,
}

/// A case whose end tag has not been read yet.
#[derive(Debug)]
struct Draft {
    suite: String,
    class: Option<String>,
    name: String,
    time_ms: Option<u64>,
    status: CaseStatus,
    message: Capped,
    /// Whether the current outcome element's text has begun (it starts a new paragraph of
    /// the message, after the `message` attribute; leading blank lines are dropped).
    text_begun: bool,
}

/// Reads test cases from a report, one at a time ([`Iterator`]), in memory bounded whatever
/// the input: no tree is built, texts and names are capped, nesting is limited.
///
/// Anything that is not a JUnit or xUnit.net report yields no case and no warning
/// ([`ReportReader::format`] is `None`). Malformed or truncated XML ends the iteration with a
/// [`Warning`] naming the report and the byte position; the cases before it were yielded.
pub struct ReportReader<R: BufRead> {
    xml: Reader<BoundedInput<R>>,
    buf: Vec<u8>,
    report: String,
    /// `None` until the root element was read.
    format: Option<Option<Format>>,
    stack: Vec<Element>,
    suites: Vec<String>,
    case: Option<Draft>,
    last_was_text: bool,
    cases: u64,
    warnings: Vec<Warning>,
    done: bool,
}

impl<R: BufRead> ReportReader<R> {
    /// A reader of `input`; `report` names it in warnings (the artifact's path, say).
    pub fn new(input: R, report: impl Into<String>) -> ReportReader<R> {
        let mut xml = Reader::from_reader(BoundedInput::new(input, MAX_EVENT_BYTES));
        // Mismatched end tags are errors (a truncated or garbled report), not guesses.
        xml.config_mut().check_end_names = true;
        ReportReader {
            xml,
            buf: Vec::new(),
            report: report.into(),
            format: None,
            stack: Vec::new(),
            suites: Vec::new(),
            case: None,
            last_was_text: false,
            cases: 0,
            warnings: Vec::new(),
            done: false,
        }
    }

    /// The report's format, read from its root element (reading up to it if need be);
    /// `None` when the input is not a report.
    pub fn format(&mut self) -> Option<Format> {
        while self.format.is_none() && !self.done {
            // No case can end before the root element is known.
            self.step();
        }
        self.format.flatten()
    }

    /// Problems met so far (at most one: the parse stops at the first).
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Consumes the reader, returning its warnings.
    pub fn into_warnings(self) -> Vec<Warning> {
        self.warnings
    }

    /// Reads one XML event; returns a case when one ended.
    fn step(&mut self) -> Option<TestCase> {
        // The buffer is kept between events (its capacity is reused), but out of `self` while
        // an event borrows it.
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        self.xml.get_mut().start_event(self.last_was_text);
        let case = match self.xml.read_event_into(&mut buf) {
            Ok(event) => self.handle(event),
            // Before the root element, broken XML is just not a report.
            Err(_) if self.format.is_none() => {
                self.not_a_report();
                None
            }
            Err(e) => {
                self.stop_with(format!("malformed XML: {e}"));
                None
            }
        };
        self.buf = buf;
        case
    }

    fn handle(&mut self, event: Event<'_>) -> Option<TestCase> {
        let hidden = self.xml.get_ref().hidden_in_event();
        self.last_was_text = matches!(event, Event::Text(_));
        match event {
            Event::Start(start) => {
                let element = self.open(&start);
                if self.done {
                    return None;
                }
                self.stack.push(element);
                if self.stack.len() > MAX_DEPTH {
                    self.stop_with(format!("elements nested deeper than {MAX_DEPTH}"));
                }
                None
            }
            Event::Empty(start) => {
                let element = self.open(&start);
                if self.done {
                    return None;
                }
                self.close(element)
            }
            Event::End(_) => match self.stack.pop() {
                Some(element) => self.close(element),
                None => None,
            },
            Event::Text(text) => {
                if self.format.is_none() && !text.iter().all(u8::is_ascii_whitespace) {
                    // Text before any element: not XML we know.
                    self.not_a_report();
                } else {
                    self.text(&String::from_utf8_lossy(&text), hidden);
                }
                None
            }
            Event::CData(text) => {
                self.text(&String::from_utf8_lossy(&text), hidden);
                None
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => {
                        let name = String::from_utf8_lossy(&reference);
                        resolve_predefined_entity(&name)
                            .map(str::to_owned)
                            .unwrap_or_else(|| format!("&{name};"))
                    }
                };
                self.text(&resolved, 0);
                None
            }
            Event::Eof => {
                if self.format.is_none() {
                    self.format = Some(None);
                } else if !self.stack.is_empty() {
                    let open = self.stack.len();
                    self.stop_with(format!(
                        "the report ends inside {open} open element{}: truncated?",
                        if open == 1 { "" } else { "s" }
                    ));
                }
                self.done = true;
                None
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => None,
        }
    }

    /// Classifies an opening tag, starting a suite or case as it says.
    fn open(&mut self, start: &BytesStart<'_>) -> Element {
        let local = start.local_name();
        let name = local.as_ref();
        let format = match self.format {
            Some(Some(format)) => format,
            Some(None) => return Element::Other,
            None => match Format::from_root(name) {
                Some(format) => {
                    self.format = Some(Some(format));
                    format
                }
                None => {
                    self.not_a_report();
                    return Element::Other;
                }
            },
        };
        let parent = self.stack.last().copied();
        let in_case = self.case.is_some();
        if let Some(case) = &mut self.case {
            case.text_begun = false;
        }
        match (format, name) {
            (_, b"testsuites" | b"assemblies") if !in_case => Element::Container,
            (Format::Junit, b"testsuite") if !in_case => {
                self.suites
                    .push(name_attr(start, b"name").unwrap_or_default());
                Element::Suite
            }
            (Format::Junit, b"testcase") if !in_case => {
                self.case = Some(Draft {
                    suite: self.current_suite(),
                    class: name_attr(start, b"classname").or_else(|| name_attr(start, b"class")),
                    name: name_attr(start, b"name").unwrap_or_default(),
                    time_ms: attr(start, b"time").as_deref().and_then(seconds_to_ms),
                    status: CaseStatus::Passed,
                    message: Capped::new(MAX_MESSAGE_BYTES),
                    text_begun: false,
                });
                Element::Case
            }
            (Format::Junit, b"failure" | b"error" | b"skipped")
                if parent == Some(Element::Case) =>
            {
                let status = match name {
                    b"failure" => CaseStatus::Failed,
                    b"error" => CaseStatus::Error,
                    _ => CaseStatus::Skipped,
                };
                if let Some(case) = &mut self.case {
                    case.status = case.status.max(status);
                    if let Some(message) = attr(start, b"message").filter(|m| !m.trim().is_empty())
                    {
                        separate(&mut case.message);
                        case.message.push(message.trim());
                    }
                }
                Element::Outcome
            }
            (Format::Xunit, b"assembly") if !in_case => {
                let path = attr(start, b"name").unwrap_or_default();
                // `C:\build\Tests.dll` or `/src/bin/Tests.dll`: the file name says enough.
                let file = path.rsplit(['/', '\\']).next().unwrap_or_default();
                self.suites.push(capped(file, MAX_NAME_BYTES));
                Element::Suite
            }
            (Format::Xunit, b"collection") if !in_case => {
                self.suites
                    .push(name_attr(start, b"name").unwrap_or_default());
                Element::Suite
            }
            (Format::Xunit, b"test") if !in_case => {
                let status = match attr(start, b"result").as_deref() {
                    Some("Fail") => CaseStatus::Failed,
                    Some("Skip" | "NotRun") => CaseStatus::Skipped,
                    _ => CaseStatus::Passed,
                };
                self.case = Some(Draft {
                    suite: self.current_suite(),
                    class: name_attr(start, b"type"),
                    name: name_attr(start, b"name")
                        .or_else(|| name_attr(start, b"method"))
                        .unwrap_or_default(),
                    time_ms: attr(start, b"time").as_deref().and_then(seconds_to_ms),
                    status,
                    message: Capped::new(MAX_MESSAGE_BYTES),
                    text_begun: false,
                });
                Element::Case
            }
            (Format::Xunit, b"failure") if parent == Some(Element::Case) => {
                if let Some(case) = &mut self.case {
                    // A failure element is a failure whatever `result` said.
                    case.status = case.status.max(CaseStatus::Failed);
                    if let Some(kind) = attr(start, b"exception-type") {
                        separate(&mut case.message);
                        case.message.push(&kind);
                        case.message.push(":");
                    }
                }
                Element::Outcome
            }
            (Format::Xunit, b"message" | b"stack-trace") if parent == Some(Element::Outcome) => {
                Element::MessageText
            }
            (Format::Xunit, b"reason") if parent == Some(Element::Case) => Element::MessageText,
            _ => Element::Other,
        }
    }

    /// Closes an element; returns the case it ended, if it was one.
    fn close(&mut self, element: Element) -> Option<TestCase> {
        match element {
            Element::Suite => {
                self.suites.pop();
                None
            }
            Element::Case => {
                let draft = self.case.take()?;
                self.cases += 1;
                let message = (!draft.message.is_empty()).then(|| draft.message.finish());
                Some(TestCase {
                    suite: draft.suite,
                    class: draft.class,
                    name: draft.name,
                    time_ms: draft.time_ms,
                    status: draft.status,
                    message,
                })
            }
            Element::Container | Element::Outcome | Element::MessageText | Element::Other => None,
        }
    }

    /// Text inside the current element: part of the message when that is a failure's.
    fn text(&mut self, text: &str, hidden: u64) {
        let top = self.stack.last().copied();
        let format = self.format.flatten();
        let takes_text = matches!(
            (format, top),
            (Some(Format::Junit), Some(Element::Outcome))
                | (Some(Format::Xunit), Some(Element::MessageText))
        );
        if let (true, Some(case)) = (takes_text, &mut self.case) {
            if !case.text_begun {
                let text = text.trim_start();
                if text.is_empty() && hidden == 0 {
                    return;
                }
                separate(&mut case.message);
                case.text_begun = true;
                case.message.push(text);
            } else {
                case.message.push(text);
            }
            case.message.count_dropped(hidden);
        }
    }

    fn current_suite(&self) -> String {
        self.suites
            .iter()
            .rev()
            .find(|s| !s.is_empty())
            .cloned()
            .unwrap_or_default()
    }

    fn not_a_report(&mut self) {
        self.format = Some(None);
        self.done = true;
    }

    /// Ends the parse with a warning at the current position.
    fn stop_with(&mut self, what: String) {
        let position = self.xml.buffer_position() + self.xml.get_ref().hidden();
        self.warnings.push(Warning {
            report: self.report.clone(),
            position,
            problem: what,
            cases_read: self.cases,
        });
        self.done = true;
    }
}

impl<R: BufRead> Iterator for ReportReader<R> {
    type Item = TestCase;

    fn next(&mut self) -> Option<TestCase> {
        while !self.done {
            if let Some(case) = self.step() {
                return Some(case);
            }
        }
        None
    }
}

/// Starts a new paragraph of a message unless it is empty.
fn separate(message: &mut Capped) {
    if !message.is_empty() {
        message.push("\n");
    }
}

/// An attribute's value, unescaped (bytes that are not UTF-8 replaced).
fn attr(start: &BytesStart<'_>, key: &[u8]) -> Option<String> {
    start
        .attributes()
        .with_checks(false)
        .flatten()
        .find(|a| a.key.local_name().as_ref() == key)
        .map(|a| match a.unescape_value() {
            Ok(value) => value.into_owned(),
            Err(_) => String::from_utf8_lossy(&a.value).into_owned(),
        })
}

/// An attribute holding a name, capped to [`MAX_NAME_BYTES`].
fn name_attr(start: &BytesStart<'_>, key: &[u8]) -> Option<String> {
    attr(start, key).map(|v| capped(&v, MAX_NAME_BYTES))
}

/// JUnit and xUnit times are seconds, as decimals (`1.25`; some tools write `1,234.5`).
fn seconds_to_ms(text: &str) -> Option<u64> {
    let seconds: f64 = text.trim().replace(',', "").parse().ok()?;
    (0.0..1e12)
        .contains(&seconds)
        .then(|| (seconds * 1000.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_seconds() {
        assert_eq!(seconds_to_ms("1.5"), Some(1500));
        assert_eq!(seconds_to_ms(" 0.0004 "), Some(0));
        assert_eq!(seconds_to_ms("1,234.5"), Some(1_234_500));
        assert_eq!(seconds_to_ms("-1"), None);
        assert_eq!(seconds_to_ms("NaN"), None);
        assert_eq!(seconds_to_ms("soon"), None);
    }
}
