//! Glob patterns over paths, as the `artifacts` step's `paths` use them: `*` (any characters
//! within a path component), `?` (one character), `[a-z]`/`[!x]` (one of a set), `{a,b}`
//! (alternatives), `**` (any number of directories), and `\` to take the next character
//! literally.

/// Most alternatives one pattern may expand to (`{a,b}{c,d}` is 4).
const MAX_EXPANSIONS: usize = 256;

/// One `/`-separated component of a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Component {
    /// `**`: zero or more directories.
    AnyDirs,
    /// A component with wildcards, or a literal one.
    One(String),
}

/// A pattern over absolute paths, braces expanded.
#[derive(Clone, Debug)]
pub struct Pattern {
    alternatives: Vec<Vec<Component>>,
}

impl Pattern {
    /// `absolute` is an absolute pattern (`/data/**/*.xml`), already joined with the working
    /// directory. `.` components are dropped and `..` removes the one before, as for a path.
    pub fn new(absolute: &str) -> Result<Pattern, String> {
        let expanded = expand_braces(absolute)?;
        let alternatives = expanded.iter().map(|p| components(p)).collect::<Vec<_>>();
        Ok(Pattern { alternatives })
    }

    /// The directories to search: for each alternative, its leading components without
    /// wildcards (`/data/reports` for `/data/reports/**/*.xml`).
    pub fn search_roots(&self) -> Vec<String> {
        self.alternatives
            .iter()
            .map(|alt| {
                let mut root = String::new();
                for c in alt {
                    match c {
                        Component::One(s) if !has_magic(s) => {
                            root.push('/');
                            root.push_str(s);
                        }
                        _ => break,
                    }
                }
                if root.is_empty() {
                    "/".to_owned()
                } else {
                    root
                }
            })
            .collect()
    }

    /// Whether the absolute `path` matches.
    pub fn matches(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        self.alternatives
            .iter()
            .any(|alt| match_components(alt, &parts))
    }
}

fn components(pattern: &str) -> Vec<Component> {
    let mut out: Vec<Component> = Vec::new();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            "**" => {
                // `**/**` is `**`.
                if out.last() != Some(&Component::AnyDirs) {
                    out.push(Component::AnyDirs);
                }
            }
            p => out.push(Component::One(p.to_owned())),
        }
    }
    out
}

pub fn has_magic(text: &str) -> bool {
    text.contains(['*', '?', '[', '{', '\\'])
}

fn match_components(pattern: &[Component], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((Component::AnyDirs, rest)) => {
            (0..=path.len()).any(|skip| match_components(rest, &path[skip..]))
        }
        Some((Component::One(p), rest)) => match path.split_first() {
            Some((first, others)) => {
                testwerk_glob::matches_segment(p, first) && match_components(rest, others)
            }
            None => false,
        },
    }
}

/// `a{b,c}d` → `abd`, `acd`; nested braces work; a `\{` is literal.
fn expand_braces(pattern: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut depth = 0;
    let mut open = None;
    let mut commas = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '{' => {
                if depth == 0 {
                    open = Some(i);
                    commas.clear();
                }
                depth += 1;
            }
            ',' if depth == 1 => commas.push(i),
            '}' if depth > 0 => {
                depth -= 1;
                if depth == 0
                    && let Some(start) = open
                {
                    let head: String = chars[..start].iter().collect();
                    let tail: String = chars[i + 1..].iter().collect();
                    let mut bounds = vec![start];
                    bounds.extend(&commas);
                    bounds.push(i);
                    let mut out = Vec::new();
                    for w in bounds.windows(2) {
                        let middle: String = chars[w[0] + 1..w[1]].iter().collect();
                        for rest in expand_braces(&format!("{middle}{tail}"))? {
                            out.push(format!("{head}{rest}"));
                            if out.len() > MAX_EXPANSIONS {
                                return Err(format!(
                                    "`{pattern}` expands to more than {MAX_EXPANSIONS} patterns"
                                ));
                            }
                        }
                    }
                    return Ok(out);
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(vec![pattern.to_owned()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        Pattern::new(pattern)
            .map(|p| p.matches(path))
            .unwrap_or(false)
    }

    #[test]
    fn components_match_like_doublestar() {
        assert!(m("/d/*.xml", "/d/a.xml"));
        assert!(!m("/d/*.xml", "/d/sub/a.xml"));
        assert!(m("/d/**/*.xml", "/d/a.xml"), "`**` is zero directories too");
        assert!(m("/d/**/*.xml", "/d/x/y/a.xml"));
        assert!(m("/d/**", "/d/x/y/a.txt"));
        assert!(m("/d/a?.txt", "/d/ab.txt"));
        assert!(!m("/d/a?.txt", "/d/a.txt"));
        assert!(m("/d/[a-c]x", "/d/bx"));
        assert!(!m("/d/[!a-c]x", "/d/bx"));
        assert!(m("/d/{a,b/c}.json", "/d/b/c.json"));
        assert!(m("/d/\\*", "/d/*"));
        assert!(!m("/d/\\*", "/d/x"));
        assert!(m("/d/./x/../y", "/d/y"));
        assert!(m("/data/**/aaa/**/*", "/data/1/aaa/2/f"));
        assert!(!m("/data/**/aaa/**/*", "/data/1/bbb/2/f"));
        assert!(m("/d/[x", "/d/[x"), "an unclosed class is literal");
        assert!(!testwerk_glob::matches_segment(
            "*a*b*c*",
            &"ab".repeat(5000)
        ));
    }

    #[test]
    fn search_roots_stop_at_the_first_wildcard() {
        let p = Pattern::new("/data/{reports,logs}/**/*.xml").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.search_roots(), ["/data/reports", "/data/logs"]);
        let p = Pattern::new("/**/*.json").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.search_roots(), ["/"]);
        assert!(Pattern::new(&"{a,b}".repeat(10)).is_err());
    }
}
