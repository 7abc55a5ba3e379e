//! Path functions: `relpath`, `abspath`, `makepath` (POSIX paths, lexical only).

use serde_json::Value;

use super::{Args, Outcome};
use crate::error::EvalError;
use crate::eval::Ctx;
use crate::value::to_string_form;

/// Lexically cleans a path like Go's `filepath.Clean`.
pub(crate) fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Makes `path` absolute against `base` (a relative `base` counts from `/`).
fn absolute(path: &str, base: &str) -> String {
    if path.starts_with('/') {
        clean(path)
    } else {
        clean(&format!("/{base}/{path}"))
    }
}

/// The relative path from `base` to `target` (both absolute and clean).
fn relative(base: &str, target: &str) -> String {
    let b: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    let t: Vec<&str> = target.split('/').filter(|p| !p.is_empty()).collect();
    let common = b.iter().zip(&t).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<&str> = vec![".."; b.len() - common];
    parts.extend(t.iter().skip(common));
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// The directory relative paths are resolved against: the machine's `workingDir` when it is
/// known; `None` in partial mode when it is not (the call then waits); the process's current
/// directory when finalizing without one.
fn working_dir(ctx: &Ctx<'_>) -> Result<Option<String>, EvalError> {
    if let Some(found) = ctx.machine.get("workingDir")
        && let Some(v) = ctx.lookup(found)?.as_value()
    {
        return Ok(Some(to_string_form(v)));
    }
    if !ctx.finalize {
        return Ok(None);
    }
    Ok(Some(
        std::env::current_dir()
            .ok()
            .and_then(|p| p.to_str().map(str::to_string))
            .unwrap_or_else(|| "/".to_string()),
    ))
}

pub(super) fn call(ctx: &Ctx<'_>, args: &Args<'_>) -> Result<Outcome, EvalError> {
    if args.name == "makepath" {
        args.count(2, 2)?;
        let (parent, child) = (args.string(0), args.string(1));
        let out = if child.starts_with('/') || parent.is_empty() {
            child
        } else {
            clean(&format!("{parent}/{child}"))
        };
        return Ok(Outcome::Value(Value::String(out)));
    }
    args.count(1, 2)?;
    let path = args.string(0);
    let base = (args.len() == 2).then(|| args.string(1));
    let is_abs = |p: &str| p.starts_with('/');
    // The working directory matters only when a relative path meets an absolute one, or
    // when there is no base.
    let needs_wd = match (&base, args.name) {
        (None, _) => true,
        (Some(b), "relpath") => is_abs(&path) != is_abs(b),
        (Some(b), _) => !is_abs(&path) && !is_abs(b),
    };
    let wd = if needs_wd {
        match working_dir(ctx)? {
            Some(dir) => absolute(&dir, "/"),
            None => return Ok(Outcome::Keep),
        }
    } else {
        "/".to_string()
    };
    let base = absolute(base.as_deref().unwrap_or(&wd), &wd);
    let out = if args.name == "relpath" {
        relative(&base, &absolute(&path, &wd))
    } else {
        absolute(&path, &base)
    };
    Ok(Outcome::Value(Value::String(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning() {
        assert_eq!(clean(""), ".");
        assert_eq!(clean("/"), "/");
        assert_eq!(clean("a//b/./c/.."), "a/b");
        assert_eq!(clean("/../a"), "/a");
        assert_eq!(clean("../a/../.."), "../..");
        assert_eq!(absolute("x/y", "/base"), "/base/x/y");
        assert_eq!(absolute("x", "rel"), "/rel/x");
        assert_eq!(relative("/a/b", "/a/c/d"), "../c/d");
        assert_eq!(relative("/a", "/a"), ".");
    }
}
