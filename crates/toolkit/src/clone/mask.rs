//! Credentials hidden in everything `clone` prints or returns.

use base64::Engine;

/// The secrets of one clone and the forms Git could print them in.
#[derive(Default)]
pub struct Masker {
    /// Longest first, so a secret that contains another is masked whole.
    forms: Vec<String>,
}

pub const MASK: &str = "********";

impl Masker {
    /// Hides `secret`, its base64 and percent-encoded forms.
    pub fn add(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut forms = vec![
            secret.to_owned(),
            b64.encode(secret),
            b64.encode(secret).trim_end_matches('=').to_owned(),
            percent_encode(secret),
        ];
        // Each line of a multi-line secret (an SSH key) on its own.
        forms.extend(
            secret
                .lines()
                .map(str::trim)
                .filter(|l| l.len() >= 8 && !l.starts_with("-----"))
                .map(str::to_owned),
        );
        for form in forms {
            if !form.is_empty() && !self.forms.contains(&form) {
                self.forms.push(form);
            }
        }
        self.forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    }

    pub fn mask(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for form in &self.forms {
            if text.contains(form.as_str()) {
                text = text.replace(form.as_str(), MASK);
            }
        }
        text
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_secret_is_hidden() {
        let mut m = Masker::default();
        m.add("s3cr3t+/tok");
        m.add("user:s3cr3t+/tok");
        let b64 = base64::engine::general_purpose::STANDARD;
        let text = format!(
            "a s3cr3t+/tok b {} c {} d s3cr3t%2B%2Ftok",
            b64.encode("s3cr3t+/tok"),
            b64.encode("user:s3cr3t+/tok")
        );
        let masked = m.mask(&text);
        assert!(!masked.contains("s3cr3t"), "{masked}");
        assert!(!masked.contains(&b64.encode("s3cr3t+/tok")), "{masked}");
        assert!(
            !masked.contains(&b64.encode("user:s3cr3t+/tok")),
            "{masked}"
        );
        assert_eq!(masked.matches(MASK).count(), 4, "{masked}");
    }
}
