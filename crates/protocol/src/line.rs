//! The log line protocol: how `testwerk-init` tells the reader of a container's log what
//! happened, in the middle of the steps' own output.
//!
//! A container's stdout is one byte stream: the output of every step, interleaved with
//! *event lines* that `testwerk-init` writes (a step started, ended, produced an output…).
//! The reader (controller, local runner) splits the stream into log lines and events with a
//! [`Parser`].
//!
//! ## Why a token
//!
//! A step's program writes into the same stream. Upstream's protocol has a fixed prefix, so a
//! test that prints the right bytes (by accident, by a dump of a previous log, or on purpose)
//! can report any result for any step. Here every event line carries a per-execution random
//! **token** that only the runtime (which generated it) and `testwerk-init` know: `init` reads
//! it from the scoped variable [`crate::env::TOKEN`], never passes it to a step's process (it
//! is removed from children's environment like every scoped variable) and makes itself
//! non-dumpable so a process of the same user cannot read it from `/proc/<pid>/environ`.
//! A line that looks like an event but does not carry the token is shown as ordinary output
//! and reported as [`Item::Forged`], so the reader can warn.
//!
//! ## Grammar
//!
//! ```text
//! stream     = *( log-line / event-line ) [ partial ]
//! log-line   = *( any byte except LF ) LF          ; anything that is not an event line
//! event-line = MARK token SP kind SP payload LF
//! MARK       = %x1E "tw1" SP                        ; ASCII record separator, "tw", version 1
//! token      = 16*128( ALPHA / DIGIT / "-" / "_" )
//! kind       = "start" / "end" / "exec" / "output" / "pause" / "resume"
//!            / "iteration" / "setup" / "done"
//! payload    = <one JSON object on one line, fields per kind below>
//! partial    = 1*( any byte except LF )             ; an unterminated last line
//! ```
//!
//! An event line always starts at the beginning of a line: the writer ends a pending partial
//! line with LF first. Nothing may follow the payload but LF (no CR). Lines that start with
//! `%x1E "tw"` but are not a valid event line with the expected token are *forged*.
//!
//! | kind | payload | meaning |
//! |---|---|---|
//! | `start` | `{"ref":"r3"}` | a step starts (its condition is evaluated next) |
//! | `end` | `{"ref":"r3","status":"failed","code":1,"ms":1520}` | a step finished: [`StepStatus`], exit code (0 for groups and skipped steps), duration in milliseconds |
//! | `exec` | `{"ref":"r3","code":1,"iteration":0}` (+ `"details":"…"`) | one run of a step's command finished; `iteration` counts retries from 0 |
//! | `output` | `{"ref":"r3","name":"token","value":"abc"}` | a step produced an output (any JSON value) |
//! | `pause` / `resume` | `{"ref":"r3","at":"2025-01-02T03:04:05.678Z"}` | a step was paused or resumed at a UTC time |
//! | `iteration` | `{"ref":"r3","attempt":1,"of":2}` | retry number `attempt` of `of` starts |
//! | `setup` | `{"status":"passed","ms":12}` (+ `"details":"…"`) | the Pod setup (copying binaries) finished |
//! | `done` | `{"group":1,"code":0}` | `testwerk-init` of action group `group` exits with `code`; nothing follows |
//!
//! Unknown payload fields are ignored, so fields can be added without a new version.
//!
//! ## Example
//!
//! With the token `k9Qm2xT7vL0pW4sZ` (real tokens are longer), a step that prints two lines
//! and fails (`␞` is the byte `0x1E`):
//!
//! ```text
//! ␞tw1 k9Qm2xT7vL0pW4sZ start {"ref":"r3"}
//! compiling…
//! error: 2 tests failed
//! ␞tw1 k9Qm2xT7vL0pW4sZ exec {"ref":"r3","code":1,"iteration":0}
//! ␞tw1 k9Qm2xT7vL0pW4sZ end {"ref":"r3","status":"failed","code":1,"ms":2310}
//! ```
//!
//! ## Long lines
//!
//! The parser never holds more than its limit ([`MAX_LINE`] by default) of one line: a longer
//! line is handed out in pieces, each but the last as [`Item::LogPart`] (the marker that the
//! line goes on). A line that long is never an event.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The bytes every event line starts with.
pub const MARK: &[u8] = b"\x1etw1 ";
/// What makes a line *look* like an event line (any version): lines starting with this that are
/// not valid events are reported as [`Item::Forged`].
pub const LOOKALIKE: &[u8] = b"\x1etw";
/// The default limit of one line held by a [`Parser`] (and of a line `testwerk-init` writes
/// unchanged).
pub const MAX_LINE: usize = 1 << 20;
/// Shortest accepted token.
pub const TOKEN_MIN: usize = 16;
/// Longest accepted token.
pub const TOKEN_MAX: usize = 128;

/// How a step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Passed,
    Failed,
    Timeout,
    Aborted,
    Skipped,
}

impl StepStatus {
    /// The name used in payloads and expressions (`self.status == "passed"`).
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Passed => "passed",
            StepStatus::Failed => "failed",
            StepStatus::Timeout => "timeout",
            StepStatus::Aborted => "aborted",
            StepStatus::Skipped => "skipped",
        }
    }

    /// The one-letter form of termination messages (`p,0/f,1`).
    pub fn letter(self) -> char {
        match self {
            StepStatus::Passed => 'p',
            StepStatus::Failed => 'f',
            StepStatus::Timeout => 't',
            StepStatus::Aborted => 'a',
            StepStatus::Skipped => 's',
        }
    }

    /// Whether following steps may consider it fine (passed, or not run at all).
    pub fn is_ok(self) -> bool {
        matches!(self, StepStatus::Passed | StepStatus::Skipped)
    }
}

impl fmt::Display for StepStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event. The variant is the line's `kind`; its fields are the JSON payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    /// A step starts.
    Start { r#ref: String },
    /// A step finished.
    End {
        r#ref: String,
        status: StepStatus,
        code: i32,
        ms: u64,
    },
    /// One run of a step's command finished.
    Exec {
        r#ref: String,
        code: i32,
        iteration: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        details: Option<String>,
    },
    /// A step produced an output.
    Output {
        r#ref: String,
        name: String,
        value: serde_json::Value,
    },
    /// A step was paused (`at`: UTC, RFC 3339 with milliseconds).
    Pause { r#ref: String, at: String },
    /// A step was resumed.
    Resume { r#ref: String, at: String },
    /// Retry `attempt` (from 1) of `of` starts.
    Iteration {
        r#ref: String,
        attempt: u32,
        of: u32,
    },
    /// The Pod setup finished.
    Setup {
        status: StepStatus,
        ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        details: Option<String>,
    },
    /// `testwerk-init` of an action group exits; the last event of a container.
    Done { group: u32, code: i32 },
}

impl Event {
    /// The `kind` word of the line.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Start { .. } => "start",
            Event::End { .. } => "end",
            Event::Exec { .. } => "exec",
            Event::Output { .. } => "output",
            Event::Pause { .. } => "pause",
            Event::Resume { .. } => "resume",
            Event::Iteration { .. } => "iteration",
            Event::Setup { .. } => "setup",
            Event::Done { .. } => "done",
        }
    }
}

/// Why a token was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadToken(pub String);

impl fmt::Display for BadToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadToken {}

/// Checks a token: [`TOKEN_MIN`]..=[`TOKEN_MAX`] characters of `A-Z a-z 0-9 - _`.
pub fn check_token(token: &str) -> Result<(), BadToken> {
    if token.len() < TOKEN_MIN || token.len() > TOKEN_MAX {
        return Err(BadToken(format!(
            "the token must have {TOKEN_MIN} to {TOKEN_MAX} characters, it has {}",
            token.len()
        )));
    }
    if let Some(c) = token
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(BadToken(format!(
            "the token may only hold letters, digits, '-' and '_', not {c:?}"
        )));
    }
    Ok(())
}

/// A new random token (32 characters, 192 bits from the system's random source), for the
/// runtime that starts an execution.
pub fn new_token() -> std::io::Result<String> {
    use std::io::Read;
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    let mut out = String::with_capacity(32);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
        for shift in [18, 12, 6, 0] {
            out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
        }
    }
    Ok(out)
}

/// The complete event line, ending with LF. The writer must put it at the start of a line.
pub fn encode(token: &str, event: &Event) -> Vec<u8> {
    let mut line = Vec::with_capacity(64);
    line.extend_from_slice(MARK);
    line.extend_from_slice(token.as_bytes());
    line.push(b' ');
    line.extend_from_slice(event.kind().as_bytes());
    line.push(b' ');
    line.extend_from_slice(&payload(event));
    line.push(b'\n');
    line
}

/// The JSON payload of an event: the fields of its variant.
fn payload(event: &Event) -> Vec<u8> {
    // Externally tagged serialization is `{"kind":{fields}}`; the line carries the kind apart.
    match serde_json::to_value(event) {
        Ok(serde_json::Value::Object(map)) => map
            .into_iter()
            .next()
            .and_then(|(_, fields)| serde_json::to_vec(&fields).ok())
            .unwrap_or_else(|| b"{}".to_vec()),
        _ => b"{}".to_vec(),
    }
}

/// What the parser found in the stream.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// A complete line of ordinary output, without its LF (or the last piece of a long line).
    Log(Vec<u8>),
    /// A piece of a line longer than the parser's limit: the line goes on in the next item.
    LogPart(Vec<u8>),
    /// An event written by `testwerk-init`.
    Event(Event),
    /// A line that looks like an event line but is not a valid one with the expected token:
    /// to be shown as ordinary output (without its LF), and worth a warning.
    Forged(Vec<u8>),
}

/// Splits a byte stream, fed in chunks split anywhere, into [`Item`]s.
///
/// Holds at most `limit` bytes of the current line.
#[derive(Clone)]
pub struct Parser {
    token: Vec<u8>,
    limit: usize,
    line: Vec<u8>,
    /// The current line was already partly handed out (it is too long to be an event).
    continued: bool,
}

impl fmt::Debug for Parser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the token.
        f.debug_struct("Parser")
            .field("limit", &self.limit)
            .field("buffered", &self.line.len())
            .field("continued", &self.continued)
            .finish()
    }
}

impl Parser {
    /// A parser accepting events with `token`, holding at most [`MAX_LINE`] bytes.
    pub fn new(token: &str) -> Parser {
        Parser::with_limit(token, MAX_LINE)
    }

    /// A parser holding at most `limit` bytes of a line (at least 256).
    pub fn with_limit(token: &str, limit: usize) -> Parser {
        Parser {
            token: token.as_bytes().to_vec(),
            limit: limit.max(256),
            line: Vec::new(),
            continued: false,
        }
    }

    /// Feeds a chunk; calls `emit` for every item completed by it.
    pub fn push(&mut self, mut chunk: &[u8], mut emit: impl FnMut(Item)) {
        while !chunk.is_empty() {
            let room = self.limit - self.line.len();
            match chunk.iter().position(|b| *b == b'\n') {
                Some(lf) if lf <= room => {
                    let (head, rest) = chunk.split_at(lf);
                    chunk = &rest[1..];
                    if self.line.is_empty() {
                        emit(self.complete(head));
                    } else {
                        self.line.extend_from_slice(head);
                        let line = std::mem::take(&mut self.line);
                        emit(self.complete(&line));
                    }
                }
                found => {
                    // No end of line within the room left: keep what fits, hand out a piece
                    // when the line reaches the limit.
                    let take = found.unwrap_or(chunk.len()).min(room);
                    self.line.extend_from_slice(&chunk[..take]);
                    chunk = &chunk[take..];
                    if self.line.len() >= self.limit {
                        self.continued = true;
                        emit(Item::LogPart(std::mem::take(&mut self.line)));
                    }
                }
            }
        }
    }

    /// Ends the stream: an unterminated last line becomes an item.
    pub fn finish(&mut self, mut emit: impl FnMut(Item)) {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            emit(self.complete(&line));
        } else if self.continued {
            emit(Item::Log(Vec::new()));
        }
        self.continued = false;
    }

    /// Classifies a whole line (without LF) and resets the line state.
    fn complete(&mut self, line: &[u8]) -> Item {
        if std::mem::take(&mut self.continued) {
            return Item::Log(line.to_vec());
        }
        if !line.starts_with(LOOKALIKE) {
            return Item::Log(line.to_vec());
        }
        match decode(&self.token, line) {
            Some(event) => Item::Event(event),
            None => Item::Forged(line.to_vec()),
        }
    }
}

/// Parses a whole stream at once.
pub fn parse_all(token: &str, bytes: &[u8]) -> Vec<Item> {
    let mut parser = Parser::new(token);
    let mut items = Vec::new();
    parser.push(bytes, |i| items.push(i));
    parser.finish(|i| items.push(i));
    items
}

/// An event line (without LF) with the expected token, or `None`.
fn decode(token: &[u8], line: &[u8]) -> Option<Event> {
    let rest = line.strip_prefix(MARK)?;
    let sp = rest.iter().position(|b| *b == b' ')?;
    let (found, rest) = rest.split_at(sp);
    if token.len() < TOKEN_MIN || !same_secret(found, token) {
        return None;
    }
    let rest = &rest[1..];
    let sp = rest.iter().position(|b| *b == b' ')?;
    let (kind, json) = rest.split_at(sp);
    let kind = std::str::from_utf8(kind).ok()?;
    let json = &json[1..];
    // Exactly one JSON object: JSON would also accept surrounding whitespace (a CR).
    if json.first() != Some(&b'{') || json.last() != Some(&b'}') {
        return None;
    }
    let fields: serde_json::Value = serde_json::from_slice(json).ok()?;
    if !fields.is_object() {
        return None;
    }
    let mut tagged = serde_json::Map::new();
    tagged.insert(kind.to_owned(), fields);
    serde_json::from_value(serde_json::Value::Object(tagged)).ok()
}

/// Compares without an early exit on the first different byte, so the time taken does not
/// tell how much of a guessed token was right.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const TOKEN: &str = "k9Qm2xT7vL0pW4sZ_abc";

    fn events() -> Vec<Event> {
        vec![
            Event::Start { r#ref: "r3".into() },
            Event::End {
                r#ref: "r3".into(),
                status: StepStatus::Failed,
                code: 1,
                ms: 1520,
            },
            Event::Exec {
                r#ref: "r3".into(),
                code: 127,
                iteration: 2,
                details: Some("command not found: x\ny".into()),
            },
            Event::Output {
                r#ref: "r3".into(),
                name: "token".into(),
                value: json!({"a": [1, "two\n"]}),
            },
            Event::Pause {
                r#ref: "root".into(),
                at: "2025-01-02T03:04:05.678Z".into(),
            },
            Event::Resume {
                r#ref: "root".into(),
                at: "2025-01-02T03:04:06.000Z".into(),
            },
            Event::Iteration {
                r#ref: "r3".into(),
                attempt: 1,
                of: 2,
            },
            Event::Setup {
                status: StepStatus::Passed,
                ms: 3,
                details: None,
            },
            Event::Done { group: 1, code: 0 },
        ]
    }

    #[test]
    fn lines_follow_the_documented_grammar() {
        let line = encode(
            TOKEN,
            &Event::End {
                r#ref: "r3".into(),
                status: StepStatus::Failed,
                code: 1,
                ms: 1520,
            },
        );
        assert_eq!(
            String::from_utf8(line).unwrap(),
            format!(
                "\x1etw1 {TOKEN} end {{\"ref\":\"r3\",\"status\":\"failed\",\"code\":1,\"ms\":1520}}\n"
            )
        );
        let line = encode(
            TOKEN,
            &Event::Exec {
                r#ref: "r3".into(),
                code: 1,
                iteration: 0,
                details: None,
            },
        );
        assert!(line.ends_with(b"exec {\"ref\":\"r3\",\"code\":1,\"iteration\":0}\n"));
        // Payloads never contain a raw LF: the line ends exactly once.
        for e in events() {
            let line = encode(TOKEN, &e);
            assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1, "{e:?}");
        }
    }

    #[test]
    fn every_event_round_trips() {
        for e in events() {
            let items = parse_all(TOKEN, &encode(TOKEN, &e));
            assert_eq!(items, vec![Item::Event(e)]);
        }
    }

    #[test]
    fn log_lines_and_events_interleave() {
        let mut stream = b"hello\n".to_vec();
        stream.extend(encode(TOKEN, &Event::Start { r#ref: "r1".into() }));
        stream.extend(b"a\r\n\nlast");
        assert_eq!(
            parse_all(TOKEN, &stream),
            vec![
                Item::Log(b"hello".to_vec()),
                Item::Event(Event::Start { r#ref: "r1".into() }),
                Item::Log(b"a\r".to_vec()),
                Item::Log(Vec::new()),
                Item::Log(b"last".to_vec()),
            ]
        );
    }

    #[test]
    fn wrong_token_or_malformed_lines_are_forged() {
        let good = encode(TOKEN, &Event::Done { group: 0, code: 0 });
        let wrong = encode("AAAAAAAAAAAAAAAAAAAA", &Event::Done { group: 0, code: 0 });
        let short = encode("k9Qm2xT7vL0pW4sZ_ab", &Event::Done { group: 0, code: 0 });
        let cases: Vec<Vec<u8>> = vec![
            wrong,
            short,
            // The right token, but a CR before LF, an unknown kind, bad JSON, a non-object.
            [&good[..good.len() - 1], b"\r\n"].concat(),
            format!("\x1etw1 {TOKEN} explode {{}}\n").into_bytes(),
            format!("\x1etw1 {TOKEN} done {{\"group\":0\n").into_bytes(),
            format!("\x1etw1 {TOKEN} done [0]\n").into_bytes(),
            format!("\x1etw1 {TOKEN} done {{\"group\":-1,\"code\":0}}\n").into_bytes(),
            format!("\x1etw2 {TOKEN} done {{\"group\":0,\"code\":0}}\n").into_bytes(),
            b"\x1etw\n".to_vec(),
        ];
        for case in cases {
            let items = parse_all(TOKEN, &case);
            assert_eq!(items.len(), 1, "{case:?}");
            assert!(matches!(items[0], Item::Forged(_)), "{case:?} → {items:?}");
        }
        // A parser with an empty token accepts nothing.
        let items = parse_all("", &encode("", &Event::Done { group: 0, code: 0 }));
        assert!(matches!(items[0], Item::Forged(_)));
        // Other control bytes are plain log.
        assert_eq!(
            parse_all(TOKEN, b"\x1e hi\n"),
            vec![Item::Log(b"\x1e hi".to_vec())]
        );
    }

    #[test]
    fn an_event_in_the_middle_of_a_line_is_log() {
        let mut stream = b"prefix ".to_vec();
        stream.extend(encode(TOKEN, &Event::Done { group: 0, code: 0 }));
        let items = parse_all(TOKEN, &stream);
        assert_eq!(items.len(), 1);
        assert!(matches!(&items[0], Item::Log(l) if l.starts_with(b"prefix \x1etw1")));
    }

    #[test]
    fn long_lines_come_in_pieces_and_are_never_events() {
        let mut p = Parser::with_limit(TOKEN, 256);
        let mut items = Vec::new();
        let mut line = encode(TOKEN, &Event::Done { group: 0, code: 0 });
        line.pop();
        line.extend(std::iter::repeat_n(b'x', 600));
        line.push(b'\n');
        p.push(&line, |i| items.push(i));
        p.push(b"next\n", |i| items.push(i));
        let sizes: Vec<(bool, usize)> = items
            .iter()
            .map(|i| match i {
                Item::LogPart(b) => (true, b.len()),
                Item::Log(b) => (false, b.len()),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        let total = line.len() - 1;
        assert_eq!(
            sizes,
            vec![(true, 256), (true, 256), (false, total - 512), (false, 4)]
        );
    }

    #[test]
    fn a_huge_line_without_newline_stays_bounded() {
        let mut p = Parser::with_limit(TOKEN, 1 << 16);
        let chunk = vec![b'y'; 1 << 20];
        let mut parts = 0;
        let mut max = 0;
        for _ in 0..50 {
            p.push(&chunk, |i| {
                if let Item::LogPart(b) = i {
                    parts += 1;
                    max = max.max(b.len());
                }
            });
            assert!(p.line.capacity() <= 2 << 16, "{}", p.line.capacity());
        }
        assert_eq!(parts, 50 * 16);
        assert_eq!(max, 1 << 16);
        let mut last = Vec::new();
        p.finish(|i| last.push(i));
        assert_eq!(last, vec![Item::Log(Vec::new())]);
    }

    #[test]
    fn tokens_are_checked_and_generated() {
        assert!(check_token(TOKEN).is_ok());
        assert!(check_token("short").is_err());
        assert!(check_token("has space in the token").is_err());
        assert!(check_token(&"a".repeat(129)).is_err());
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.len(), 32);
        assert!(check_token(&a).is_ok());
        assert_ne!(a, b);
    }

    #[test]
    fn debug_output_hides_the_token() {
        let p = Parser::new(TOKEN);
        assert!(!format!("{p:?}").contains(TOKEN));
    }

    fn arb_event() -> impl Strategy<Value = Event> {
        let r = "[a-z0-9]{1,8}";
        prop_oneof![
            r.prop_map(|r| Event::Start { r#ref: r }),
            (r, 0..5usize, any::<i32>(), any::<u64>()).prop_map(|(r, s, code, ms)| {
                let status = [
                    StepStatus::Passed,
                    StepStatus::Failed,
                    StepStatus::Timeout,
                    StepStatus::Aborted,
                    StepStatus::Skipped,
                ][s];
                Event::End {
                    r#ref: r,
                    status,
                    code,
                    ms,
                }
            }),
            (r, any::<i32>(), any::<u32>(), proptest::option::of(".*")).prop_map(
                |(r, code, iteration, details)| Event::Exec {
                    r#ref: r,
                    code,
                    iteration,
                    details,
                }
            ),
            (r, "[a-z]{1,8}", ".*").prop_map(|(r, name, v)| Event::Output {
                r#ref: r,
                name,
                value: json!({ "v": v, "n": [1, 2.5, null] }),
            }),
            (r, any::<u32>(), any::<u32>()).prop_map(|(r, attempt, of)| Event::Iteration {
                r#ref: r,
                attempt,
                of
            }),
            (any::<u32>(), any::<i32>()).prop_map(|(group, code)| Event::Done { group, code }),
        ]
    }

    /// A log line that is not an event line (random bytes without LF, not starting like one).
    fn arb_log() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(|mut v| {
            v.retain(|b| *b != b'\n');
            if v.first() == Some(&0x1e) {
                v[0] = b'!';
            }
            v
        })
    }

    proptest! {
        #[test]
        fn round_trip_under_random_chunking(
            items in proptest::collection::vec(
                prop_oneof![arb_event().prop_map(Ok), arb_log().prop_map(Err)], 0..20),
            cuts in proptest::collection::vec(0usize..4000, 0..30),
        ) {
            let mut stream = Vec::new();
            let mut expected = Vec::new();
            for item in &items {
                match item {
                    Ok(e) => {
                        stream.extend(encode(TOKEN, e));
                        expected.push(Item::Event(e.clone()));
                    }
                    Err(l) => {
                        stream.extend(l);
                        stream.push(b'\n');
                        expected.push(Item::Log(l.clone()));
                    }
                }
            }
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(stream.len())).collect();
            cuts.sort_unstable();
            let mut parser = Parser::with_limit(TOKEN, 4096);
            let mut got = Vec::new();
            let mut at = 0;
            for c in cuts.into_iter().chain([stream.len()]) {
                parser.push(&stream[at..c], |i| got.push(i));
                at = c;
            }
            parser.finish(|i| got.push(i));
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn random_bytes_never_panic_and_keep_every_byte(
            bytes in proptest::collection::vec(any::<u8>(), 0..3000),
            limit in 256usize..600,
        ) {
            let mut parser = Parser::with_limit(TOKEN, limit);
            let mut out = Vec::new();
            let mut items = Vec::new();
            parser.push(&bytes, |i| items.push(i));
            parser.finish(|i| items.push(i));
            for item in items {
                match item {
                    Item::Log(l) | Item::Forged(l) => { out.extend(l); out.push(b'\n'); }
                    Item::LogPart(l) => out.extend(l),
                    Item::Event(e) => prop_assert!(false, "random bytes made an event: {:?}", e),
                }
            }
            // Every byte comes back (the parser adds one LF to an unterminated last line).
            if !bytes.is_empty() && bytes.last() != Some(&b'\n') {
                out.pop();
            }
            prop_assert_eq!(out, bytes);
        }

        #[test]
        fn forged_lines_never_become_events(
            e in arb_event(),
            guess in "[A-Za-z0-9_-]{16,40}",
            flip in 0usize..20,
        ) {
            prop_assume!(guess != TOKEN);
            let items = parse_all(TOKEN, &encode(&guess, &e));
            prop_assert!(matches!(items.as_slice(), [Item::Forged(_)]), "{:?}", items);
            // A single changed byte of the real token is still a forgery.
            let mut near = TOKEN.as_bytes().to_vec();
            let i = flip % near.len();
            near[i] = if near[i] == b'a' { b'b' } else { b'a' };
            let near = String::from_utf8(near).unwrap();
            let items = parse_all(TOKEN, &encode(&near, &e));
            prop_assert!(matches!(items.as_slice(), [Item::Forged(_)]), "{:?}", items);
        }
    }
}
