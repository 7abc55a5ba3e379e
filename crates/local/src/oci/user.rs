//! An image's `User` (`1000`, `1000:1000`, `app`, `app:staff`) as numeric ids, names looked
//! up in the image's own `/etc/passwd` and `/etc/group`.

use std::path::Path;

/// `(uid, gid)` of `user` in the image at `root`.
pub fn resolve(user: &str, root: Option<&Path>) -> Result<(u32, u32), String> {
    let (name, group) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let (uid, primary) = match name.parse::<u32>() {
        Ok(uid) => (uid, primary_group(uid, root).unwrap_or(0)),
        Err(_) => {
            let entry = find(root, "etc/passwd", |f| f.first() == Some(&name)).ok_or_else(|| {
                format!("the image's user `{name}` is not in its /etc/passwd; set securityContext.runAsUser")
            })?;
            (num(entry.get(2))?, num(entry.get(3))?)
        }
    };
    let gid = match group {
        None => primary,
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => {
                let entry = find(root, "etc/group", |f| f.first() == Some(&g)).ok_or_else(|| {
                    format!("the image's group `{g}` is not in its /etc/group; set securityContext.runAsGroup")
                })?;
                num(entry.get(2))?
            }
        },
    };
    Ok((uid, gid))
}

/// The primary group of `uid` in the image's `/etc/passwd`.
pub fn primary_group(uid: u32, root: Option<&Path>) -> Option<u32> {
    let text = uid.to_string();
    let entry = find(root, "etc/passwd", |f| f.get(2) == Some(&text.as_str()))?;
    num(entry.get(3)).ok()
}

fn find(root: Option<&Path>, file: &str, matches: impl Fn(&[&str]) -> bool) -> Option<Vec<String>> {
    // Read through the image's root on this machine; never follow a link out of it (a
    // symlinked /etc/passwd of an image would name a host file).
    let path = root?.join(file);
    if path.symlink_metadata().ok()?.file_type().is_symlink() {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        matches(&fields).then(|| fields.iter().map(|s| (*s).to_owned()).collect())
    })
}

fn num(field: Option<&String>) -> Result<u32, String> {
    field
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| "a malformed line in the image's /etc/passwd or /etc/group".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_in_the_image() {
        let dir = std::env::temp_dir().join(format!("tw-user-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("etc")).expect("dir");
        std::fs::write(
            dir.join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n",
        )
        .expect("passwd");
        std::fs::write(dir.join("etc/group"), "root:x:0:\nstaff:x:50:\n").expect("group");
        assert_eq!(resolve("app", Some(&dir)), Ok((1000, 1001)));
        assert_eq!(resolve("app:staff", Some(&dir)), Ok((1000, 50)));
        assert_eq!(resolve("1000", Some(&dir)), Ok((1000, 1001)));
        assert_eq!(resolve("42:7", Some(&dir)), Ok((42, 7)));
        assert!(resolve("ghost", Some(&dir)).is_err());
        std::fs::remove_dir_all(&dir).expect("clean");
    }
}
