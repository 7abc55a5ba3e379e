//! `sshKey`: written to a file only this user can read, in a private temporary directory,
//! used through `GIT_SSH_COMMAND`, and removed when the clone ends (the guard drops).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
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
        // tempfile makes the directory 0700.
        let dir = tempfile::Builder::new()
            .prefix("testwerk-ssh-")
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
