//! Whose answer a cache entry is. Metadata fetched with a credential answers only lookups
//! that bring the same credential; metadata a registry gave an anonymous reader answers
//! everyone (the image is public there). So one `testwerk image inspect --docker-config`
//! never lets a later call without credentials, or with a wrong password, read a private
//! image from the cache, and the agent's shared cache never answers one namespace with
//! what another namespace's pull secret fetched.
//!
//! A credential is named in keys by an HMAC-SHA256 of its user name and password under a
//! random per-cache salt (stored in the durable cache, never derived from the credential),
//! so the cache file never holds a password or an unsalted hash of one.

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::auth::BasicCredential;

/// The access key of metadata read without credentials.
pub(crate) const ANONYMOUS: &str = "anonymous";

/// How many bytes of salt a cache gets.
pub const SALT_LEN: usize = 32;

/// Turns credentials into access keys for one cache (one salt).
pub(crate) struct Fingerprinter {
    key: hmac::Key,
}

impl Fingerprinter {
    pub fn new(salt: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, salt),
        }
    }

    /// A salt that lives as long as this process: for clients without a durable cache, or
    /// whose durable cache cannot be read (it then misses anyway).
    pub fn ephemeral() -> Self {
        Self::new(&random_salt().unwrap_or_default())
    }

    /// The access key of metadata fetched with `credential`.
    pub fn access(&self, credential: &BasicCredential) -> String {
        let mut context = hmac::Context::with_key(&self.key);
        // The NUL keeps `ab`+`c` and `a`+`bc` apart; user names cannot hold one.
        context.update(credential.username.as_bytes());
        context.update(b"\0");
        context.update(credential.password().as_bytes());
        let tag = context.sign();
        // 128 bits tell credentials apart; the rest would only make keys longer.
        format!("cred:{}", crate::auth::hex(&tag.as_ref()[..16]))
    }
}

/// A new random salt, or `None` if the system has no randomness to give.
pub fn random_salt() -> Option<[u8; SALT_LEN]> {
    let mut salt = [0u8; SALT_LEN];
    SystemRandom::new().fill(&mut salt).ok()?;
    Some(salt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_keys_depend_on_the_credential_and_the_salt() {
        let one = Fingerprinter::new(b"salt one");
        let alice = BasicCredential::new("alice", "wonderland");
        let key = one.access(&alice);
        assert_eq!(
            key,
            one.access(&BasicCredential::new("alice", "wonderland"))
        );
        assert_ne!(key, one.access(&BasicCredential::new("alice", "wrong")));
        assert_ne!(
            key,
            one.access(&BasicCredential::new("alicew", "onderland"))
        );
        assert_ne!(key, Fingerprinter::new(b"salt two").access(&alice));
        assert!(
            !key.contains("wonderland") && key.starts_with("cred:"),
            "{key}"
        );
        assert_ne!(key, ANONYMOUS);
    }

    #[test]
    fn random_salts_differ() {
        assert_ne!(random_salt(), random_salt());
    }
}
