//! [`Capped`]: text that keeps at most a given number of bytes and counts the rest, so a
//! report's 50 MB stack trace costs a few kilobytes.

/// Text bounded to `max` bytes (cut at a character boundary); what does not fit is counted.
#[derive(Debug)]
pub(crate) struct Capped {
    text: String,
    max: usize,
    dropped: u64,
}

impl Capped {
    pub(crate) fn new(max: usize) -> Capped {
        Capped {
            text: String::new(),
            max,
            dropped: 0,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.text.is_empty() && self.dropped == 0
    }

    /// Appends what fits of `more`.
    pub(crate) fn push(&mut self, more: &str) {
        // Once something was cut, later text is cut too: the kept text stays one piece.
        if self.dropped > 0 {
            self.dropped += more.len() as u64;
            return;
        }
        let room = self.max - self.text.len();
        if more.len() > room {
            let cut = floor_char_boundary(more, room);
            self.text.push_str(&more[..cut]);
            self.dropped += (more.len() - cut) as u64;
        } else {
            self.text.push_str(more);
        }
    }

    /// Counts `bytes` more bytes that were dropped before they reached us.
    pub(crate) fn count_dropped(&mut self, bytes: u64) {
        self.dropped += bytes;
    }

    /// The text, trimmed, with ` … [N more bytes cut]` when it did not all fit.
    pub(crate) fn finish(self) -> String {
        let mut text = self.text.trim().to_owned();
        if self.dropped > 0 {
            text.push_str(&format!(" … [{} more bytes cut]", self.dropped));
        }
        text
    }
}

/// `text` cut to at most `max` bytes at a character boundary, with the same note as
/// [`Capped::finish`] when cut.
pub(crate) fn capped(text: &str, max: usize) -> String {
    let mut capped = Capped::new(max);
    capped.push(text);
    capped.finish()
}

fn floor_char_boundary(text: &str, max: usize) -> usize {
    (0..=max.min(text.len()))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_fits_and_counts_the_rest() {
        let mut c = Capped::new(5);
        c.push("abc");
        c.push("déf");
        c.push("xyz");
        // "abc" + "d" fits; "é" (2 bytes) would overflow 5 bytes.
        assert_eq!(c.finish(), "abcd … [6 more bytes cut]");
        assert_eq!(capped("short", 10), "short");
        let mut c = Capped::new(10);
        c.push("  text\n ");
        assert_eq!(c.finish(), "text");
    }
}
