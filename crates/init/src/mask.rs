//! Secret masking of the steps' output, as a stream.
//!
//! Every occurrence of a secret value (4 characters or more; shorter ones would mask
//! ordinary words) becomes `****` followed by its last two characters, so a reader can tell
//! which secret it was without learning it. Output arrives in arbitrary chunks, so a possible
//! start of a secret at the end of a chunk is held back until the next chunk decides; at most
//! the longest secret minus one byte is ever held.

/// The shortest value worth masking, in characters.
pub const MIN_SECRET_CHARS: usize = 4;

/// A streaming replacer of secret values.
pub struct Masker {
    /// (secret, replacement), longest secret first.
    words: Vec<(Vec<u8>, Vec<u8>)>,
    /// Bytes that start some secret, to skip the rest quickly.
    first: [bool; 256],
    /// Held back: may be the start of a secret.
    pending: Vec<u8>,
}

impl Default for Masker {
    fn default() -> Masker {
        Masker {
            words: Vec::new(),
            first: [false; 256],
            pending: Vec::new(),
        }
    }
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Masker")
            .field("secrets", &self.words.len())
            .finish()
    }
}

impl Masker {
    /// Adds a secret value (ignored when shorter than [`MIN_SECRET_CHARS`]).
    pub fn add(&mut self, secret: &str) {
        let chars: Vec<char> = secret.chars().collect();
        if chars.len() < MIN_SECRET_CHARS || self.words.iter().any(|(w, _)| w == secret.as_bytes())
        {
            return;
        }
        let tail: String = chars[chars.len() - 2..].iter().collect();
        let replacement = format!("****{tail}").into_bytes();
        self.first[usize::from(secret.as_bytes()[0])] = true;
        self.words.push((secret.as_bytes().to_vec(), replacement));
        self.words.sort_by_key(|(w, _)| std::cmp::Reverse(w.len()));
    }

    /// Masks a chunk; output that may still become a secret stays held back.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        if self.words.is_empty() {
            out.extend_from_slice(input);
            return;
        }
        let mut data = std::mem::take(&mut self.pending);
        data.extend_from_slice(input);
        let consumed = self.scan(&data, out, false);
        self.pending = data[consumed..].to_vec();
    }

    /// Releases what is held back (the stream ended, or a line of our own follows).
    pub fn flush(&mut self, out: &mut Vec<u8>) {
        let data = std::mem::take(&mut self.pending);
        let consumed = self.scan(&data, out, true);
        out.extend_from_slice(&data[consumed..]);
    }

    /// Masks a whole text at once (our own messages, output values).
    pub fn mask_str(&self, text: &str) -> String {
        if self.words.is_empty() {
            return text.to_owned();
        }
        let mut out = Vec::with_capacity(text.len());
        let consumed = self.scan(text.as_bytes(), &mut out, true);
        out.extend_from_slice(&text.as_bytes()[consumed..]);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Copies `data` to `out` with secrets replaced; returns how much was consumed (the rest
    /// may be the start of a secret, unless `at_end`).
    fn scan(&self, data: &[u8], out: &mut Vec<u8>, at_end: bool) -> usize {
        let mut i = 0;
        let mut copied = 0;
        'outer: while i < data.len() {
            if !self.first[usize::from(data[i])] {
                i += 1;
                continue;
            }
            let rest = &data[i..];
            for (word, replacement) in &self.words {
                if rest.starts_with(word) {
                    out.extend_from_slice(&data[copied..i]);
                    out.extend_from_slice(replacement);
                    i += word.len();
                    copied = i;
                    continue 'outer;
                }
                if !at_end && rest.len() < word.len() && word.starts_with(rest) {
                    // Undecided until more arrives: hold back from here.
                    out.extend_from_slice(&data[copied..i]);
                    return i;
                }
            }
            i += 1;
        }
        out.extend_from_slice(&data[copied..]);
        data.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn masker(words: &[&str]) -> Masker {
        let mut m = Masker::default();
        for w in words {
            m.add(w);
        }
        m
    }

    fn run(m: &mut Masker, chunks: &[&[u8]]) -> String {
        let mut out = Vec::new();
        for c in chunks {
            m.push(c, &mut out);
        }
        m.flush(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn masks_whole_and_split_values() {
        let mut m = masker(&["mysecretvalue", "abc"]);
        assert_eq!(run(&mut m, &[b"pw=mysecretvalue;abc\n"]), "pw=****ue;abc\n");
        assert_eq!(run(&mut m, &[b"pw=mysec", b"ret", b"value!"]), "pw=****ue!");
        // A false start is released unchanged.
        assert_eq!(run(&mut m, &[b"mysecret", b"VALUE"]), "mysecretVALUE");
        assert_eq!(run(&mut m, &[b"end: mysecretval"]), "end: mysecretval");
        assert_eq!(m.mask_str("a mysecretvalue b"), "a ****ue b");
    }

    #[test]
    fn longest_secret_wins_and_unicode_tails() {
        let mut m = masker(&["pass", "password1", "pässwört"]);
        assert_eq!(run(&mut m, &[b"password1 pass pa"]), "****d1 ****ss pa");
        assert_eq!(run(&mut m, &["x pässwört y".as_bytes()]), "x ****rt y");
    }

    proptest! {
        #[test]
        fn secrets_never_leak_whatever_the_chunking(
            noise in "[a-z ]{0,40}",
            cuts in proptest::collection::vec(0usize..80, 0..8),
        ) {
            let secret = "s3cr3t-VALUE";
            let text = format!("{noise}{secret}{noise}{secret}");
            let bytes = text.as_bytes();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut m = masker(&[secret]);
            let mut out = Vec::new();
            let mut at = 0;
            for c in cuts.into_iter().chain([bytes.len()]) {
                m.push(&bytes[at..c], &mut out);
                at = c;
            }
            m.flush(&mut out);
            let out = String::from_utf8(out).expect("utf8");
            prop_assert!(!out.contains(secret));
            prop_assert_eq!(out, format!("{noise}****UE{noise}****UE"));
        }
    }
}
