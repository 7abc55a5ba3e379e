//! `glob(patterns…)` for expressions: `*`, `?`, `[a-z]`, `[!x]` within a path segment and
//! `**` for any number of directories, relative to the working directory unless absolute.

use std::fs;
use std::path::{Path, PathBuf};

/// At most this many paths, so a careless `/**` cannot exhaust memory.
const MAX_MATCHES: usize = 100_000;

/// The existing paths matching `pattern`, sorted, as the pattern spells them (relative
/// patterns give relative paths).
pub fn glob(pattern: &str) -> Result<Vec<String>, String> {
    if pattern.is_empty() {
        return Ok(Vec::new());
    }
    let absolute = pattern.starts_with('/');
    let root = if absolute { "/" } else { "" };
    let mut current: Vec<String> = vec![root.to_owned()];
    for part in pattern.split('/').filter(|p| !p.is_empty()) {
        let mut next = Vec::new();
        for base in &current {
            let dir = if base.is_empty() { "." } else { base.as_str() };
            if part == "**" {
                next.push(base.clone());
                walk_dirs(Path::new(dir), base, &mut next)?;
            } else if !has_wildcard(part) {
                let path = join(base, &unescape(part));
                if fs::symlink_metadata(if path.is_empty() { "." } else { &path }).is_ok() {
                    next.push(path);
                }
            } else if let Ok(entries) = fs::read_dir(dir) {
                for entry in entries.flatten() {
                    let name = entry.file_name();
                    if let Some(name) = name.to_str()
                        && matches(part, name)
                    {
                        next.push(join(base, name));
                    }
                }
            }
            if next.len() > MAX_MATCHES {
                return Err(format!(
                    "glob({pattern:?}) matches more than {MAX_MATCHES} paths"
                ));
            }
        }
        next.sort();
        next.dedup();
        current = next;
    }
    current.retain(|p| !p.is_empty());
    Ok(current)
}

fn join(base: &str, name: &str) -> String {
    match base {
        "" => name.to_owned(),
        "/" => format!("/{name}"),
        _ => format!("{base}/{name}"),
    }
}

/// Every directory under `dir` (not following symbolic links, so no loops).
fn walk_dirs(dir: &Path, base: &str, out: &mut Vec<String>) -> Result<(), String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if is_dir {
            let path = join(base, &name);
            out.push(path.clone());
            if out.len() > MAX_MATCHES {
                return Err(format!("glob: more than {MAX_MATCHES} directories"));
            }
            walk_dirs(
                &PathBuf::from(if path.is_empty() { "." } else { &path }),
                &path,
                out,
            )?;
        }
    }
    Ok(())
}

fn has_wildcard(part: &str) -> bool {
    part.contains(['*', '?', '['])
}

fn unescape(part: &str) -> String {
    let mut out = String::new();
    let mut chars = part.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether one path segment matches a wildcard segment (the rule the toolkit shares).
pub fn matches(pattern: &str, name: &str) -> bool {
    testwerk_glob::matches_segment(pattern, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_wildcards() {
        assert!(matches("*.xml", "report.xml"));
        assert!(!matches("*.xml", "report.xml.bak"));
        assert!(matches("a?c", "abc"));
        assert!(matches("[a-c]x", "bx"));
        assert!(!matches("[!a-c]x", "bx"));
        assert!(matches("*a*b*", "xxaxxbxx"));
        assert!(matches("\\*", "*"));
        // One rule with the toolkit: an unclosed class is a literal `[`.
        assert!(matches("[", "["));
    }

    #[test]
    fn walks_the_filesystem() {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path();
        for f in ["a/r1.xml", "a/b/r2.xml", "a/b/c/r3.txt", "top.xml"] {
            let p = root.join(f);
            fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            fs::write(p, "x").expect("write");
        }
        let base = root.to_str().expect("utf8");
        let rel = |v: Vec<String>| -> Vec<String> {
            v.into_iter()
                .map(|p| p.trim_start_matches(base).to_owned())
                .collect()
        };
        assert_eq!(
            rel(glob(&format!("{base}/**/*.xml")).expect("glob")),
            ["/a/b/r2.xml", "/a/r1.xml", "/top.xml"]
        );
        assert_eq!(
            rel(glob(&format!("{base}/a/*")).expect("glob")),
            ["/a/b", "/a/r1.xml"]
        );
        assert_eq!(
            glob(&format!("{base}/nope/*")).expect("glob"),
            Vec::<String>::new()
        );
        assert_eq!(
            rel(glob(&format!("{base}/a/b/c/r3.txt")).expect("glob")),
            ["/a/b/c/r3.txt"]
        );
    }
}
