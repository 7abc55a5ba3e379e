//! The plan's action groups, kept in a file beside the state file.
//!
//! The first container writes them once, one JSON line per group; every later container reads
//! only its own line. They used to travel inside the state file, which every container parsed
//! and rewrote whole: with 10,000 impure steps (10,000 containers) that was 3.8 MB read and
//! written twice per container, and the run's cost grew with the square of its length.

use std::fs;
use std::path::{Path, PathBuf};

use testwerk_protocol::plan::WireAction;

use crate::fatal::Fatal;
use crate::state::write_shared;

/// Where the groups of the state file `state_file` are kept.
pub fn path(state_file: &Path) -> PathBuf {
    let mut name = state_file.as_os_str().to_owned();
    name.push(".groups");
    PathBuf::from(name)
}

/// Writes `groups`, one line each, readable by every user (the next container may be another
/// user; nobody writes them again).
pub fn write(path: &Path, groups: &[Vec<WireAction>]) -> Result<(), Fatal> {
    let mut text = Vec::new();
    for group in groups {
        serde_json::to_writer(&mut text, group)
            .map_err(|e| Fatal::internal(format!("cannot encode the plan's groups: {e}")))?;
        text.push(b'\n');
    }
    write_shared(path, &text, 0o644).map_err(|(what, e)| {
        Fatal::internal(format!(
            "cannot {what} the plan's groups {}: {e}",
            path.display()
        ))
    })
}

/// Reads group `index` only; the others are skipped without being parsed.
pub fn read(path: &Path, index: usize) -> Result<Vec<WireAction>, Fatal> {
    let bytes = fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Fatal::input(format!(
                "no plan: neither {} is set nor does {} exist (the first container must get the plan)",
                testwerk_protocol::env::PLAN,
                path.display()
            ))
        } else {
            Fatal::internal(format!(
                "cannot read the plan's groups {}: {e}",
                path.display()
            ))
        }
    })?;
    let mut lines = bytes.split(|b| *b == b'\n').filter(|line| !line.is_empty());
    let Some(line) = lines.nth(index) else {
        let count = bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        return Err(unknown_group(index, count));
    };
    serde_json::from_slice(line).map_err(|e| {
        Fatal::internal(format!(
            "the plan's groups {} are damaged (group {index}): {e}",
            path.display()
        ))
    })
}

/// Group `index` does not exist in a plan of `count` groups.
pub fn unknown_group(index: usize, count: usize) -> Fatal {
    Fatal::input(format!(
        "unknown action group {index} (the plan has {})",
        match count {
            0 => "none".to_owned(),
            n => format!("0-{}", n - 1),
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::State;

    #[test]
    fn each_group_is_read_back_alone() {
        let dir = tempfile::tempdir().expect("tmp");
        let plan = State::from_plan_json(
            r#"{"v":2,"g":[[{"d":{"c":"true","r":"r1"}},{"S":"r1"}],[{"E":"r1"},{"E":""}]]}"#,
        )
        .expect("plan");
        let file = path(&dir.path().join("sub/state"));
        write(&file, &plan.groups).expect("write");
        assert_eq!(read(&file, 0).expect("group 0"), plan.groups[0]);
        assert_eq!(read(&file, 1).expect("group 1"), plan.groups[1]);
        let err = read(&file, 2).expect_err("group 2");
        assert!(err.message.contains("0-1"), "{}", err.message);
        assert_eq!(err.code, 155);
        // Damage a later line: the earlier group still reads, the damaged one says so.
        let mut text = fs::read(&file).expect("read");
        let len = text.len();
        text[len - 3] = b'#';
        fs::write(&file, &text).expect("damage");
        assert!(read(&file, 0).is_ok());
        let err = read(&file, 1).expect_err("damaged");
        assert!(err.message.contains("damaged (group 1)"), "{}", err.message);
        let err = read(&dir.path().join("none"), 0).expect_err("missing");
        assert!(err.message.contains("first container"), "{}", err.message);
    }
}
