//! Our stdout: the steps' output (masked, long lines cut) interleaved with event lines.
//!
//! Event lines must start a line, so we track whether the last byte written was a newline and
//! end a pending partial line first. A line of a step's output longer than [`MAX_LINE`] is cut:
//! the first `MAX_LINE` bytes are kept, the rest up to the next newline is dropped and a marker
//! says how much, so one runaway line cannot flood the log or our memory.

use std::io::Write;

use testwerk_protocol::line::{self, Event, MAX_LINE};

use crate::mask::Masker;

/// Where lines go: stdout, or a buffer in tests.
pub trait Sink {
    fn write_bytes(&mut self, bytes: &[u8]);
}

impl Sink for std::io::Stdout {
    fn write_bytes(&mut self, bytes: &[u8]) {
        // Nobody to tell if stdout is gone; the steps must still run.
        let mut lock = self.lock();
        let _ = lock.write_all(bytes);
        let _ = lock.flush();
    }
}

impl Sink for Vec<u8> {
    fn write_bytes(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// The output writer.
pub struct Out<S: Sink = std::io::Stdout> {
    sink: S,
    token: String,
    pub masker: Masker,
    limit: usize,
    /// Bytes of the current line written so far.
    column: usize,
    /// Bytes of the current line dropped because it is too long.
    dropped: u64,
}

impl<S: Sink> Out<S> {
    pub fn new(sink: S, token: &str) -> Out<S> {
        Out::with_limit(sink, token, MAX_LINE)
    }

    pub fn with_limit(sink: S, token: &str, limit: usize) -> Out<S> {
        Out {
            sink,
            token: token.to_owned(),
            masker: Masker::default(),
            limit,
            column: 0,
            dropped: 0,
        }
    }

    /// A chunk of a step's output.
    pub fn log(&mut self, bytes: &[u8]) {
        let mut masked = Vec::with_capacity(bytes.len());
        self.masker.push(bytes, &mut masked);
        self.write_log(&masked);
    }

    /// The step's output ended: release what the masker held back.
    pub fn end_of_output(&mut self) {
        let mut rest = Vec::new();
        self.masker.flush(&mut rest);
        self.write_log(&rest);
    }

    /// A message of ours, on its own line (masked: it may quote a command line).
    pub fn message(&mut self, text: &str) {
        self.end_of_output();
        self.start_line();
        let mut line = self.masker.mask_str(text).into_bytes();
        line.push(b'\n');
        self.write_log(&line);
    }

    /// An event line.
    pub fn event(&mut self, event: &Event) {
        self.start_line();
        let event = match event {
            // Values come from files the step wrote: mask them like its output.
            Event::Output { r#ref, name, value } => Event::Output {
                r#ref: r#ref.clone(),
                name: name.clone(),
                value: mask_json(&self.masker, value),
            },
            other => other.clone(),
        };
        self.sink.write_bytes(&line::encode(&self.token, &event));
    }

    /// Ends a partial line so that what follows starts a line.
    fn start_line(&mut self) {
        self.close_dropped();
        if self.column > 0 {
            self.sink.write_bytes(b"\n");
            self.column = 0;
        }
    }

    fn close_dropped(&mut self) {
        if self.dropped > 0 {
            let marker = format!(
                "… [testwerk-init: line longer than {} bytes, {} bytes dropped]",
                self.limit, self.dropped
            );
            self.column += marker.len();
            self.sink.write_bytes(marker.as_bytes());
            self.dropped = 0;
        }
    }

    fn write_log(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let end = bytes.iter().position(|b| *b == b'\n');
            let segment = &bytes[..end.unwrap_or(bytes.len())];
            let room = self.limit.saturating_sub(self.column);
            let keep = segment.len().min(room);
            if keep > 0 {
                self.sink.write_bytes(&segment[..keep]);
                self.column += keep;
            }
            self.dropped += (segment.len() - keep) as u64;
            match end {
                Some(lf) => {
                    self.close_dropped();
                    self.sink.write_bytes(b"\n");
                    self.column = 0;
                    bytes = &bytes[lf + 1..];
                }
                None => bytes = &[],
            }
        }
    }

    #[cfg(test)]
    pub fn sink(&self) -> &S {
        &self.sink
    }
}

fn mask_json(masker: &Masker, value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(masker.mask_str(s)),
        Value::Array(items) => Value::Array(items.iter().map(|v| mask_json(masker, v)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), mask_json(masker, v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use testwerk_protocol::line::{Item, parse_all};

    const TOKEN: &str = "0123456789abcdefXYZ";

    #[test]
    fn events_start_a_line_and_long_lines_are_cut() {
        let mut out = Out::with_limit(Vec::new(), TOKEN, 10);
        out.log(b"partial");
        out.event(&Event::Start { r#ref: "r1".into() });
        out.log(b"0123456789ABCDEF\nok\n");
        out.log(b"0123456789");
        out.log(b"XYZ");
        out.event(&Event::Done { group: 0, code: 0 });
        let items = parse_all(TOKEN, out.sink());
        assert_eq!(
            items,
            vec![
                Item::Log(b"partial".to_vec()),
                Item::Event(Event::Start { r#ref: "r1".into() }),
                Item::Log(
                    b"0123456789\xe2\x80\xa6 [testwerk-init: line longer than 10 bytes, 6 bytes dropped]"
                        .to_vec()
                ),
                Item::Log(b"ok".to_vec()),
                Item::Log(
                    b"0123456789\xe2\x80\xa6 [testwerk-init: line longer than 10 bytes, 3 bytes dropped]"
                        .to_vec()
                ),
                Item::Event(Event::Done { group: 0, code: 0 }),
            ]
        );
    }

    #[test]
    fn output_values_and_messages_are_masked() {
        let mut out = Out::new(Vec::new(), TOKEN);
        out.masker.add("hunter22");
        out.log(b"pw: hunter");
        out.message("cannot run hunter22");
        out.event(&Event::Output {
            r#ref: "r1".into(),
            name: "x".into(),
            value: serde_json::json!({"a": ["hunter22"]}),
        });
        let items = parse_all(TOKEN, out.sink());
        assert_eq!(items[0], Item::Log(b"pw: hunter".to_vec()));
        assert_eq!(items[1], Item::Log(b"cannot run ****22".to_vec()));
        assert_eq!(
            items[2],
            Item::Event(Event::Output {
                r#ref: "r1".into(),
                name: "x".into(),
                value: serde_json::json!({"a": ["****22"]}),
            })
        );
    }
}
