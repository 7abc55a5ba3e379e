//! # testwerk-glob
//!
//! Wildcards within one path segment, the rule `testwerk-init`'s `glob()` expression function
//! and the toolkit's `artifacts` patterns share: `*` (any run of characters), `?` (one
//! character), `[a-z]`, `[!x]` / `[^x]` (a class; an unclosed `[` is a literal `[`), and `\`
//! escaping the next character. Walking directories (`**`, braces) stays with each caller; this
//! crate has no dependencies, so the static init stays small.

/// Whether `name` (one path segment) matches `pattern`: `*`, `?`, `[…]` and `\` within the
/// segment. Linear for typical patterns: one backtrack point, for the last `*`.
pub fn matches_segment(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_here(&p, &n)
}

fn match_here(p: &[char], n: &[char]) -> bool {
    // Iterative with one backtrack point for `*`, so long names stay linear.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class(&p[pi..], n[ni])
                        && matched
                    {
                        pi += next;
                        ni += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() && p[pi + 1] == n[ni] => {
                    pi += 2;
                    ni += 1;
                    continue;
                }
                '\\' if pi + 1 < p.len() => {}
                c if c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A `[…]` class at the start of `p`: whether `c` is in it, and the class's length. An
/// unclosed `[` is a literal `[`.
fn class(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negated = matches!(p.get(1), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negated, i + 1));
        }
        first = false;
        let lo = p[i];
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if lo <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if lo == c {
                matched = true;
            }
            i += 1;
        }
    }
    Some((c == '[', 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_classes_and_escapes() {
        assert!(matches_segment("*.xml", "report.xml"));
        assert!(!matches_segment("*.xml", "report.xml.bak"));
        assert!(matches_segment("a?c", "abc"));
        assert!(matches_segment("[a-c]x", "bx"));
        assert!(!matches_segment("[!a-c]x", "bx"));
        assert!(matches_segment("[^a-c]x", "dx"));
        assert!(matches_segment("a\\*", "a*"));
        assert!(!matches_segment("a\\*", "ab"));
        assert!(
            matches_segment("[x", "[x"),
            "an unclosed class is a literal `[`"
        );
        assert!(matches_segment("*", ""));
        assert!(!matches_segment("?", ""));
    }

    #[test]
    fn long_names_stay_linear() {
        let name = "a".repeat(100_000);
        assert!(!matches_segment("*a*a*a*b", &name));
    }
}
