//! Writing HTML safely: every text that comes from a store or a request goes through
//! [`esc`]; the page frame and the small pieces every page shares live here.

use std::fmt::Write;

use testwerk_store::{ExecutionStatus, Timestamp};

/// `text` with `& < > " '` escaped, for element content and quoted attributes alike.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes `text` for a URL path segment or query value.
pub fn url(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A whole page: the shared frame around `body`.
pub fn page(title: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 1024);
    let _ = write!(
        out,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} · testwerk</title><link rel="stylesheet" href="/assets/app.css"><script src="/assets/app.js" defer></script></head><body><header class="top"><a class="brand" href="/">testwerk</a><nav><a href="/">Executions</a></nav></header><main>{body}</main></body></html>"#,
        title = esc(title)
    );
    out
}

/// A status as a coloured badge; `id` makes it live-updatable.
pub fn badge(status: &str) -> String {
    format!(r#"<span class="badge s-{0}">{0}</span>"#, esc(status))
}

pub fn execution_badge(status: ExecutionStatus) -> String {
    badge(status.as_str())
}

/// `1.2 s`, `3 min 4 s`, `2 h 5 min`.
pub fn duration(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{} min {} s", ms / 60_000, ms % 60_000 / 1000),
        _ => format!("{} h {} min", ms / 3_600_000, ms % 3_600_000 / 60_000),
    }
}

/// The time an execution took so far (until now while it runs).
pub fn took(started: Option<Timestamp>, finished: Option<Timestamp>) -> Option<u64> {
    let start = started?;
    finished.unwrap_or_else(Timestamp::now).millis_since(start)
}

/// `2026-12-04 10:31:07` (UTC): shorter than RFC 3339, and the full form is in `title`.
pub fn time(t: Timestamp) -> String {
    let full = t.to_string();
    let short: String = full.replace('T', " ").chars().take(19).collect();
    format!(
        r#"<time datetime="{0}" title="{0}">{1} UTC</time>"#,
        esc(&full),
        esc(&short)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_stored_text_is_shown_not_run() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(url("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        assert_eq!(duration(640), "640 ms");
        assert_eq!(duration(1_250), "1.2 s");
        assert_eq!(duration(184_000), "3 min 4 s");
        assert_eq!(duration(7_500_000), "2 h 5 min");
    }
}
