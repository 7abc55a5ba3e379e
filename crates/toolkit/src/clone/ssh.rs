//! `sshKey`: written to a file only this user can read, in a private temporary directory,
//! used through `GIT_SSH_COMMAND`, and removed when the clone ends (the guard drops).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use crate::ToolkitError;

/// The key on disk; dropping it removes the file and its directory.
pub struct SshKey {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl SshKey {
    pub fn write(key: &str) -> Result<SshKey, ToolkitError> {
        let failed = |e: std::io::Error| {
            ToolkitError::Failed(format!(
                "clone: cannot write the SSH key to a temporary file: {e}"
            ))
        };
        // Only this user may even list the directory (tempfile's default is 0755), and it
        // is private before the key is written into it.
        let dir = tempfile::Builder::new()
            .prefix("testwerk-ssh-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .map_err(failed)?;
        let path = dir.path().join("key");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(failed)?;
        // OpenSSH refuses a key without its final newline.
        let key = format!("{}\n", key.trim_end());
        file.write_all(key.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(failed)?;
        Ok(SshKey { _dir: dir, path })
    }
}

/// `GIT_SSH_COMMAND`: never prompts (BatchMode), gives up connecting after 30 s, and with a
/// key uses only that key. Like upstream, an unknown host key is accepted: a Pod has no
/// `known_hosts` to check it against.
pub fn command(key: Option<&SshKey>) -> String {
    let mut command = String::from("ssh -o BatchMode=yes -o ConnectTimeout=30");
    if let Some(key) = key {
        command.push_str(&format!(
            " -i {} -o IdentitiesOnly=yes -o IdentityAgent=none -o StrictHostKeyChecking=no \
             -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
            shell_quote(&key.path.to_string_lossy())
        ));
    }
    command
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_private_and_removed_with_its_directory() {
        let key = SshKey::write("-----BEGIN KEY-----\nabc\n-----END KEY-----")
            .unwrap_or_else(|e| panic!("{e}"));
        let mode = |p: &std::path::Path| {
            std::fs::metadata(p)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0)
        };
        let dir = key.path.parent().map(|p| p.to_owned()).unwrap_or_default();
        assert_eq!(mode(&key.path), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(
            std::fs::read_to_string(&key.path).unwrap_or_default(),
            "-----BEGIN KEY-----\nabc\n-----END KEY-----\n"
        );
        assert!(command(Some(&key)).contains(&format!("-i '{}'", key.path.display())));
        drop(key);
        assert!(!dir.exists());
    }
}
