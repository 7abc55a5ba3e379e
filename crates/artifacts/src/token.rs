//! [`TokenKey`]: the tokens that let an execution's Pod upload artifacts to that execution and
//! no other. A token is an HMAC-SHA256 of the execution id under a key of the backend's, kept
//! in a file beside its results store (mode 0600), so tokens stay valid across restarts of the
//! agent while Pods still run, and nothing per execution needs storing.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// What is signed: a purpose, so the key could serve others without confusion.
const PURPOSE: &[u8] = b"testwerk artifacts v1\0";
const KEY_BYTES: usize = 32;

/// The backend's secret for artifact tokens.
#[derive(Clone)]
pub struct TokenKey {
    key: hmac::Key,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(***)")
    }
}

impl TokenKey {
    /// The key in `path`, created (32 random bytes, mode 0600) if the file does not exist.
    pub fn load_or_create(path: &Path) -> Result<TokenKey, String> {
        let err = |what: &str, e: std::io::Error| {
            format!("artifact token key {}: {what}: {e}", path.display())
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err("cannot create its folder", e))?;
        }
        let mut bytes = [0u8; KEY_BYTES];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| format!("artifact token key {}: no randomness", path.display()))?;
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(mut file) => {
                file.write_all(&bytes)
                    .and_then(|()| file.sync_all())
                    .map_err(|e| err("cannot write", e))?;
                Ok(TokenKey::from_bytes(&bytes))
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                let mut stored = Vec::new();
                std::fs::File::open(path)
                    .and_then(|mut f| f.read_to_end(&mut stored))
                    .map_err(|e| err("cannot read", e))?;
                if stored.len() != KEY_BYTES {
                    return Err(format!(
                        "artifact token key {}: {} bytes instead of {KEY_BYTES} (written by another program, or cut short); remove it and restart (running Pods then cannot upload)",
                        path.display(),
                        stored.len()
                    ));
                }
                Ok(TokenKey::from_bytes(&stored))
            }
            Err(e) => Err(err("cannot create", e)),
        }
    }

    /// The key file beside the results store `store`: `<store>.artifact-key`.
    pub fn path_beside(store: &Path) -> PathBuf {
        let mut name = store.file_name().unwrap_or_default().to_owned();
        name.push(".artifact-key");
        store.with_file_name(name)
    }

    /// A key held in memory only (tests, one-off local servers).
    pub fn random() -> TokenKey {
        let mut bytes = [0u8; KEY_BYTES];
        // `SystemRandom` reads getrandom(2), which does not fail on Linux after boot.
        if SystemRandom::new().fill(&mut bytes).is_err() {
            bytes = std::array::from_fn(|i| i as u8 ^ (std::process::id() as u8));
        }
        TokenKey::from_bytes(&bytes)
    }

    fn from_bytes(bytes: &[u8]) -> TokenKey {
        TokenKey {
            key: hmac::Key::new(hmac::HMAC_SHA256, bytes),
        }
    }

    /// The token of `execution`.
    pub fn token(&self, execution: &str) -> String {
        let tag = hmac::sign(&self.key, &message(execution));
        hex(tag.as_ref())
    }

    /// The capability that reads `execution`'s artifacts and does nothing else: its children
    /// fetch `transfer` and `execute` tarballs with it.
    pub fn read_capability(&self, execution: &str) -> String {
        hex(hmac::sign(&self.key, &read_message(execution)).as_ref())
    }

    /// Whether `capability` reads `execution`'s artifacts (in constant time).
    pub fn verify_read(&self, execution: &str, capability: &str) -> bool {
        unhex(capability)
            .is_some_and(|tag| hmac::verify(&self.key, &read_message(execution), &tag).is_ok())
    }

    /// Whether `token` is `execution`'s (in constant time).
    pub fn verify(&self, execution: &str, token: &str) -> bool {
        match unhex(token) {
            Some(tag) => hmac::verify(&self.key, &message(execution), &tag).is_ok(),
            None => false,
        }
    }
}

fn message(execution: &str) -> Vec<u8> {
    [PURPOSE, execution.as_bytes()].concat()
}

/// What a read capability signs: another purpose, so that it never opens an upload.
const READ_PURPOSE: &[u8] = b"testwerk artifacts read v1\0";

fn read_message(execution: &str) -> Vec<u8> {
    [READ_PURPOSE, execution.as_bytes()].concat()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_its_execution_only_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = TokenKey::path_beside(&dir.path().join("agent-ns.db"));
        assert_eq!(path, dir.path().join("agent-ns.db.artifact-key"));
        let key = TokenKey::load_or_create(&path).unwrap_or_else(|e| panic!("{e}"));
        let token = key.token("0123456789abcdef01234567");
        assert!(key.verify("0123456789abcdef01234567", &token));
        assert!(!key.verify("0123456789abcdef01234568", &token));
        assert!(!key.verify("0123456789abcdef01234567", "00"));
        assert!(!key.verify("0123456789abcdef01234567", "zz"));
        assert!(!key.verify("0123456789abcdef01234567", ""));
        // The agent restarts: the same file, the same tokens.
        let again = TokenKey::load_or_create(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(again.verify("0123456789abcdef01234567", &token));
        // Another backend's key does not accept it.
        assert!(!TokenKey::random().verify("0123456789abcdef01234567", &token));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o600));
        std::fs::write(&path, b"short").unwrap_or_else(|e| panic!("{e}"));
        let broken = TokenKey::load_or_create(&path)
            .map(|_| ())
            .expect_err("a short key file is refused");
        assert!(broken.contains("5 bytes instead of 32"), "{broken}");
    }
}
