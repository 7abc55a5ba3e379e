//! Which files an `artifacts` step uploads, and under which names.
//!
//! As upstream: patterns are relative to the working directory or absolute; an absolute one
//! counts only under a volume mounted in the step (`-m`), a relative one always (unlike
//! upstream, which drops it too when the working directory is not on a volume). Names are
//! relative to the deepest directory common to the working directory and every pattern's
//! search root, so `/data/artifacts/**` from `/data` gives `artifacts/…`, and with
//! `workingDir: /data/artifacts` just `…`. Only files are uploaded, each once; our own
//! `/.testwerk` and the kernel's `/proc`, `/sys` and `/dev` are never searched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use testwerk_protocol::paths::INTERNAL_DIR;

use super::glob::Pattern;

/// Most files one step may upload: a pattern like `/**` on a big volume is a mistake, and its
/// list must not exhaust memory.
pub const MAX_FILES: usize = 200_000;

/// Directories never searched.
const NEVER_SEARCHED: [&str; 4] = [INTERNAL_DIR, "/proc", "/sys", "/dev"];

/// One file to upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    /// Its name among the step's artifacts: relative, `/`-separated.
    pub name: String,
    pub size: u64,
}

/// What a search found.
#[derive(Debug, Default)]
pub struct Search {
    pub files: Vec<Found>,
    /// Things to tell the user: patterns outside the volumes, unreadable directories.
    pub warnings: Vec<String>,
    /// The directory names are relative to.
    pub root: String,
}

/// Finds the files `patterns` match, from working directory `cwd` (absolute), with `mounts`
/// the volumes mounted in the step.
pub fn find(patterns: &[String], mounts: &[String], cwd: &Path) -> Result<Search, String> {
    let cwd = normalize(&cwd.to_string_lossy());
    let mounts: Vec<String> = mounts.iter().map(|m| normalize(m)).collect();
    let mut search = Search::default();
    let mut compiled = Vec::new();
    let mut roots: Vec<String> = Vec::new();
    for raw in patterns {
        let relative = !raw.starts_with('/');
        let absolute = if relative {
            format!("{cwd}/{raw}")
        } else {
            raw.clone()
        };
        let pattern = Pattern::new(&absolute).map_err(|e| format!("pattern `{raw}`: {e}"))?;
        let pattern_roots: Vec<String> = pattern
            .search_roots()
            .into_iter()
            .map(|r| normalize(&r))
            .collect();
        if !relative
            && let Some(outside) = pattern_roots
                .iter()
                .find(|r| !mounts.iter().any(|m| is_within(r, m)))
        {
            search.warnings.push(format!(
                "`{raw}` is ignored: {outside} is not on a volume of this step ({}); absolute paths are searched on volumes only (mount one there, or use a path relative to the working directory)",
                if mounts.is_empty() { "it has none".to_owned() } else { mounts.join(", ") }
            ));
            continue;
        }
        roots.extend(pattern_roots);
        compiled.push(pattern);
    }
    // Only the outermost roots are walked; nested ones are inside them.
    roots.sort();
    roots.dedup();
    let walk_roots: Vec<String> = roots
        .iter()
        .filter(|r| !roots.iter().any(|o| o != *r && is_within(r, o)))
        .cloned()
        .collect();
    let base = roots.iter().fold(cwd.clone(), |acc, r| common(&acc, r));
    let mut files: BTreeMap<String, u64> = BTreeMap::new();
    for root in &walk_roots {
        walk(
            Path::new(root),
            &mut |path, size| {
                let text = path.to_string_lossy();
                if compiled.iter().any(|p| p.matches(&text)) {
                    files.insert(text.into_owned(), size);
                    if files.len() > MAX_FILES {
                        return Err(format!(
                            "the patterns match more than {MAX_FILES} files; narrow them"
                        ));
                    }
                }
                Ok(())
            },
            &mut search.warnings,
        )?;
    }
    search.files = files
        .into_iter()
        .map(|(path, size)| Found {
            name: relative_to(&path, &base),
            path: PathBuf::from(path),
            size,
        })
        .collect();
    search.root = base;
    Ok(search)
}

/// Calls `visit` with each regular file under `root` (or `root` itself when it is one),
/// following symbolic links to files but not to directories (no loops).
fn walk(
    root: &Path,
    visit: &mut dyn FnMut(&Path, u64) -> Result<(), String>,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    let Ok(meta) = std::fs::metadata(root) else {
        // Nothing there: no match, as upstream.
        return Ok(());
    };
    if meta.is_file() {
        return visit(root, meta.len());
    }
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        if NEVER_SEARCHED.iter().any(|n| Path::new(n) == dir) {
            continue;
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                warnings.push(format!("{} is not searched: {e}", dir.display()));
                continue;
            }
        };
        let mut names: Vec<_> = entries.filter_map(Result::ok).collect();
        names.sort_by_key(|e| e.file_name());
        for entry in names.into_iter().rev() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                visit(&path, entry.metadata().map(|m| m.len()).unwrap_or(0))?;
            } else if kind.is_symlink()
                && let Ok(target) = std::fs::metadata(&path)
                && target.is_file()
            {
                visit(&path, target.len())?;
            }
        }
    }
    Ok(())
}

/// `/a/./b/../c/` → `/a/c`.
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

fn is_within(path: &str, dir: &str) -> bool {
    dir == "/" || path == dir || path.starts_with(&format!("{dir}/"))
}

fn common(a: &str, b: &str) -> String {
    let shared: Vec<&str> = a
        .split('/')
        .zip(b.split('/'))
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x)
        .collect();
    let joined = shared.join("/");
    if joined.is_empty() {
        "/".to_owned()
    } else {
        joined
    }
}

fn relative_to(path: &str, base: &str) -> String {
    let rest = if base == "/" {
        path
    } else {
        path.strip_prefix(base).unwrap_or(path)
    };
    rest.trim_start_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for f in files {
            let path = dir.path().join(f);
            std::fs::create_dir_all(path.parent().unwrap_or(dir.path()))
                .unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(&path, f.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        }
        dir
    }

    fn names(s: &Search) -> Vec<&str> {
        s.files.iter().map(|f| f.name.as_str()).collect()
    }

    #[test]
    fn relative_patterns_name_files_from_the_working_directory() {
        let dir = tree(&[
            "w/a.xml",
            "w/r/b.xml",
            "w/r/c.txt",
            "w/r/deep/d.xml",
            "other/e.xml",
        ]);
        let cwd = dir.path().join("w");
        let s = find(&["**/*.xml".into()], &[], &cwd).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names(&s), ["a.xml", "r/b.xml", "r/deep/d.xml"]);
        // Overlapping patterns: each file once; still named from the working directory.
        let s =
            find(&["r/*.xml".into(), "r/**".into()], &[], &cwd).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names(&s), ["r/b.xml", "r/c.txt", "r/deep/d.xml"]);
        assert_eq!(s.files[0].size, "w/r/b.xml".len() as u64);
        // `..` out of the working directory is still relative (and so allowed); names then
        // start at the directory both share.
        let s = find(&["../other/*".into()], &[], &cwd).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names(&s), ["other/e.xml"]);
    }

    #[test]
    fn absolute_patterns_count_only_on_volumes() {
        let dir = tree(&["data/artifacts/x/1.log", "data/artifacts/2.log", "secret/k"]);
        let root = dir.path().to_string_lossy().into_owned();
        let data = format!("{root}/data");
        let s = find(
            &[format!("{data}/artifacts/**"), format!("{root}/secret/*")],
            std::slice::from_ref(&data),
            &dir.path().join("data"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names(&s), ["artifacts/2.log", "artifacts/x/1.log"]);
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert!(s.warnings[0].contains("secret"), "{:?}", s.warnings);
        // With the working directory on the artifacts folder, names are shorter.
        let s = find(
            &[format!("{data}/artifacts/**/*")],
            std::slice::from_ref(&data),
            &dir.path().join("data/artifacts"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names(&s), ["2.log", "x/1.log"]);
    }

    #[test]
    fn nothing_matched_is_an_empty_search_and_links_to_directories_are_not_followed() {
        let dir = tree(&["w/a.txt"]);
        let cwd = dir.path().join("w");
        let s = find(&["missing/**".into(), "*.xml".into()], &[], &cwd)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(s.files.is_empty());
        std::os::unix::fs::symlink(&cwd, cwd.join("loop")).unwrap_or_else(|e| panic!("{e}"));
        std::os::unix::fs::symlink(cwd.join("a.txt"), cwd.join("link.txt"))
            .unwrap_or_else(|e| panic!("{e}"));
        let s = find(&["**".into()], &[], &cwd).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names(&s), ["a.txt", "link.txt"]);
    }
}
