//! [`BoundedInput`]: the report's bytes as the XML parser sees them, with no single event
//! (a text, a CDATA section, a tag) longer than a limit.
//!
//! quick-xml copies each event into one buffer, so a report with a 90 MB `<system-out>` would
//! need a 90 MB buffer. This reader sits between the file and the parser and, once an event
//! passes the limit, hides the rest of it: the rest of a text up to the next `<`, the rest of
//! a CDATA section up to its `]]>`. The parser then sees a shorter, still well-formed event.
//! Any other event over the limit (a tag with megabytes of attributes, a huge comment) is an
//! error: the parse stops there with a warning, keeping what it read.

use std::io::{self, BufRead, Read};

/// The error a too-long tag or comment gives; its text ends up in the report's warning.
#[derive(Debug, thiserror::Error)]
#[error("a tag or comment longer than {limit} bytes")]
pub(crate) struct EventTooLong {
    pub(crate) limit: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Bytes go to the parser.
    Pass,
    /// Hiding the rest of a text, up to (not including) the next `<`.
    SkipText,
    /// Hiding the rest of a CDATA section; `matched` bytes of `]]>` seen so far.
    SkipCdata { matched: usize },
}

/// How a CDATA section ends; handed to the parser after the hidden part.
const CDATA_END: &[u8] = b"]]>";
const CDATA_START: &[u8] = b"![CDATA[";

/// The most the parser is handed at once.
const CHUNK: usize = 64 * 1024;

pub(crate) struct BoundedInput<R> {
    inner: R,
    limit: usize,
    /// Bytes of the current event passed to the parser.
    event_bytes: usize,
    /// The current event's first bytes (enough to recognise `<![CDATA[`).
    head: [u8; 9],
    head_len: usize,
    /// The event follows a text event, which consumed its `<` already.
    after_text: bool,
    mode: Mode,
    /// Bytes to hand to the parser before the input's (the end of a cut CDATA section).
    pending: &'static [u8],
    /// Bytes hidden in the current event.
    hidden_in_event: u64,
    /// Bytes hidden in all.
    hidden: u64,
    too_long: bool,
}

impl<R: BufRead> BoundedInput<R> {
    pub(crate) fn new(inner: R, limit: usize) -> BoundedInput<R> {
        BoundedInput {
            inner,
            limit,
            event_bytes: 0,
            head: [0; 9],
            head_len: 0,
            after_text: false,
            mode: Mode::Pass,
            pending: &[],
            hidden_in_event: 0,
            hidden: 0,
            too_long: false,
        }
    }

    /// Called before each event is read; `after_text` says whether the previous event was a
    /// text (the parser consumed the `<` of the next tag with it).
    ///
    /// The limit is checked as the parser consumes each chunk: an event that passed it in
    /// the chunk that also ended it is whole, and nothing carries over to the next event.
    pub(crate) fn start_event(&mut self, after_text: bool) {
        self.mode = Mode::Pass;
        self.too_long = false;
        self.event_bytes = 0;
        self.head_len = 0;
        self.after_text = after_text;
        self.hidden_in_event = 0;
    }

    /// Bytes hidden from the last event read (0 when it was whole).
    pub(crate) fn hidden_in_event(&self) -> u64 {
        self.hidden_in_event
    }

    /// Bytes hidden from the parser so far: its positions are this much behind the file's.
    pub(crate) fn hidden(&self) -> u64 {
        self.hidden
    }

    fn hide(&mut self, n: usize) {
        self.inner.consume(n);
        self.hidden_in_event += n as u64;
        self.hidden += n as u64;
    }

    /// The current event passed the limit: decide what to hide.
    fn over_limit(&mut self) {
        let head = &self.head[..self.head_len];
        let (is_text, markup) = if self.after_text {
            (false, head)
        } else if let Some(rest) = head.strip_prefix(b"<") {
            (false, rest)
        } else {
            (true, head)
        };
        self.mode = if is_text {
            Mode::SkipText
        } else if markup.starts_with(CDATA_START) {
            Mode::SkipCdata { matched: 0 }
        } else {
            self.too_long = true;
            Mode::Pass
        };
    }
}

impl<R: BufRead> Read for BoundedInput<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for BoundedInput<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.too_long {
            return Err(io::Error::other(EventTooLong { limit: self.limit }));
        }
        if !self.pending.is_empty() {
            return Ok(self.pending);
        }
        loop {
            match self.mode {
                // At most one chunk at a time, whatever the inner reader holds (a whole file
                // in memory, say): the limit is checked after each chunk.
                Mode::Pass => {
                    let available = self.inner.fill_buf()?;
                    return Ok(&available[..available.len().min(CHUNK)]);
                }
                Mode::SkipText => {
                    let available = self.inner.fill_buf()?;
                    if available.is_empty() {
                        self.mode = Mode::Pass;
                        continue;
                    }
                    match available.iter().position(|&b| b == b'<') {
                        Some(i) => {
                            self.hide(i);
                            self.mode = Mode::Pass;
                        }
                        None => {
                            let n = available.len();
                            self.hide(n);
                        }
                    }
                }
                Mode::SkipCdata { mut matched } => {
                    let available = self.inner.fill_buf()?;
                    if available.is_empty() {
                        self.mode = Mode::Pass;
                        continue;
                    }
                    let mut end = None;
                    for (i, &b) in available.iter().enumerate() {
                        matched = match (matched, b) {
                            (2, b'>') => {
                                end = Some(i);
                                break;
                            }
                            (2, b']') => 2,
                            (m, b']') => m + 1,
                            _ => 0,
                        };
                    }
                    match end {
                        Some(i) => {
                            self.hide(i + 1);
                            self.hidden_in_event = self.hidden_in_event.saturating_sub(3);
                            self.hidden = self.hidden.saturating_sub(3);
                            self.mode = Mode::Pass;
                            self.pending = CDATA_END;
                            return Ok(self.pending);
                        }
                        None => {
                            let n = available.len();
                            self.hide(n);
                            self.mode = Mode::SkipCdata { matched };
                        }
                    }
                }
            }
        }
    }

    fn consume(&mut self, n: usize) {
        if !self.pending.is_empty() {
            self.pending = &self.pending[n.min(self.pending.len())..];
            return;
        }
        if self.head_len < self.head.len() {
            // Not a read: the bytes being consumed are still in the inner buffer.
            if let Ok(available) = self.inner.fill_buf() {
                let take = (self.head.len() - self.head_len)
                    .min(n)
                    .min(available.len());
                self.head[self.head_len..self.head_len + take].copy_from_slice(&available[..take]);
                self.head_len += take;
            }
        }
        self.inner.consume(n);
        self.event_bytes += n;
        if self.event_bytes > self.limit && self.mode == Mode::Pass && !self.too_long {
            self.over_limit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `input` as the parser would: one event, consumed in chunks of at most `chunk`
    /// bytes and never past the event's end (`end`, included), then the rest as a new event.
    fn read_all(input: &[u8], limit: usize, chunk: usize, end: &[u8]) -> io::Result<Vec<u8>> {
        let mut bounded = BoundedInput::new(io::BufReader::with_capacity(chunk, input), limit);
        bounded.start_event(false);
        let mut out: Vec<u8> = Vec::new();
        let mut event_ended = false;
        loop {
            let available = bounded.fill_buf()?;
            if available.is_empty() {
                return Ok(out);
            }
            let mut n = available.len().min(chunk);
            let mut ends_here = false;
            if !event_ended {
                let ending = (0..n).find(|&i| {
                    let mut probe = out.clone();
                    probe.extend_from_slice(&available[..=i]);
                    probe.ends_with(end)
                });
                if let Some(i) = ending {
                    n = i + 1;
                    ends_here = true;
                }
            }
            out.extend_from_slice(&available[..n]);
            bounded.consume(n);
            if ends_here {
                event_ended = true;
                bounded.start_event(false);
            }
        }
    }

    #[test]
    fn a_long_text_is_cut_before_the_next_tag() {
        let out = read_all(b"0123456789abcdef</x>", 4, 2, b"<").expect("reads");
        // 4 bytes pass, then the limit is passed with the 3rd chunk of 2 bytes: 6 bytes pass.
        assert_eq!(out, b"012345</x>");
    }

    #[test]
    fn a_long_cdata_section_keeps_its_end() {
        // The parser never consumes past the end of a section; chunks stay inside it.
        for chunk in [1, 2, 3, 7] {
            let out = read_all(b"<![CDATA[0123456789]]]>tail", 12, chunk, b"]]>").expect("reads");
            let text = String::from_utf8_lossy(&out).into_owned();
            assert!(text.starts_with("<![CDATA["), "{text}");
            assert!(text.ends_with("]]>tail"), "chunk {chunk}: {text}");
            assert!(text.len() < 26, "chunk {chunk}: nothing was hidden: {text}");
        }
    }

    #[test]
    fn a_long_tag_is_an_error() {
        let err = read_all(b"<testcase name=\"0123456789\"/>", 8, 4, b">").expect_err("too long");
        assert!(err.to_string().contains("longer than 8 bytes"), "{err}");
    }
}
