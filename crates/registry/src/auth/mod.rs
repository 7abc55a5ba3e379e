//! Who we are to a registry. Credentials come, in this order, from the pod's
//! `imagePullSecrets`, from configured Docker config files (`--docker-config`, the local
//! `~/.docker/config.json`), and from a credential provider for the host (AWS ECR, Google
//! Artifact Registry / GCR, or one of the caller's). Like the kubelet, every matching
//! credential is tried in turn; with none, the request is anonymous.

pub mod aws;
pub(crate) mod bearer;
pub mod dockerconfig;
pub mod ecr;
pub mod google;
mod sigv4;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use base64::Engine;

pub use dockerconfig::{DockerConfig, DockerConfigError};
pub(crate) use sigv4::hex;

/// A user name and password (or token). `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicCredential {
    pub username: String,
    password: String,
}

impl BasicCredential {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
        }
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// The `Authorization` header value.
    pub(crate) fn header(&self) -> String {
        let pair = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    /// Tells credentials apart in cache keys without keeping the password around in clear.
    pub(crate) fn fingerprint(&self) -> String {
        let digest = ring::digest::digest(
            &ring::digest::SHA256,
            format!("{}\0{}", self.username, self.password).as_bytes(),
        );
        digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl fmt::Debug for BasicCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicCredential")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What a provider has for a registry.
#[derive(Clone, Debug)]
pub enum Provided {
    Credential(BasicCredential),
    /// Nothing here (no cloud identity, say), and why: the lookup goes on anonymously and the
    /// reason is shown if the registry then refuses us.
    Unavailable(String),
}

/// A source of short-lived registry credentials (cloud token exchanges).
pub trait CredentialProvider: Send + Sync {
    /// For messages: `AWS ECR (GetAuthorizationToken, eu-west-1)`.
    fn describe(&self) -> String;
    /// Credentials for `registry` (`host[:port]`); `refresh` bypasses any cache, and is asked
    /// for once when the registry refused what the cache gave.
    fn credential(&self, registry: &str, refresh: bool) -> Result<Provided, String>;
}

/// A provider for the registries whose host matches `host` (a glob per label:
/// `*.dkr.ecr.*.amazonaws.com`, or an exact `host:port`).
#[derive(Clone)]
pub struct ProviderRule {
    pub host: String,
    pub provider: Arc<dyn CredentialProvider>,
}

impl ProviderRule {
    pub fn new(host: impl Into<String>, provider: Arc<dyn CredentialProvider>) -> Self {
        Self {
            host: host.into(),
            provider,
        }
    }

    pub(crate) fn matches(&self, registry: &str) -> bool {
        let pattern: Vec<&str> = self.host.split('.').collect();
        let labels: Vec<&str> = registry.split('.').collect();
        pattern.len() == labels.len()
            && pattern
                .iter()
                .zip(&labels)
                .all(|(p, l)| dockerconfig::glob(p.as_bytes(), l.as_bytes()))
    }
}

impl fmt::Debug for ProviderRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ProviderRule({} → {})",
            self.host,
            self.provider.describe()
        )
    }
}

/// A pod's image pull secret, decoded.
#[derive(Clone, Debug)]
pub struct PullSecret {
    pub name: String,
    pub config: DockerConfig,
}

impl PullSecret {
    /// From a Secret's `type` and decoded `data` (`.dockerconfigjson` or `.dockercfg`).
    pub fn from_secret(
        name: impl Into<String>,
        secret_type: Option<&str>,
        data: &BTreeMap<String, Vec<u8>>,
    ) -> Result<Self, DockerConfigError> {
        let name = name.into();
        let config = dockerconfig::from_secret_data(secret_type, data)
            .map_err(|e| DockerConfigError(format!("imagePullSecret `{name}`: {e}")))?;
        Ok(Self { name, config })
    }
}

/// One credential to try, and where it came from (for messages; never the secret).
#[derive(Clone)]
pub(crate) struct Candidate {
    pub origin: String,
    pub kind: CandidateKind,
}

#[derive(Clone)]
pub(crate) enum CandidateKind {
    Static(BasicCredential),
    Provider(Arc<dyn CredentialProvider>),
}

impl Candidate {
    /// Identifies the candidate in flight keys: same origin and same secret.
    pub fn identity(&self) -> String {
        match &self.kind {
            CandidateKind::Static(c) => format!("{}#{}", self.origin, c.fingerprint()),
            CandidateKind::Provider(_) => self.origin.clone(),
        }
    }
}

/// Every credential that applies to `registry/repository`, in the order they are tried.
pub(crate) fn candidates(
    registry: &str,
    repository: &str,
    pull_secrets: &[PullSecret],
    docker_configs: &[(String, DockerConfig)],
    providers: &[ProviderRule],
) -> Vec<Candidate> {
    let mut out = Vec::new();
    for secret in pull_secrets {
        for entry in secret.config.matching(registry, repository) {
            out.push(Candidate {
                origin: format!("imagePullSecret `{}` (key `{}`)", secret.name, entry.key),
                kind: CandidateKind::Static(entry.credential.clone()),
            });
        }
    }
    for (name, config) in docker_configs {
        for entry in config.matching(registry, repository) {
            out.push(Candidate {
                origin: format!("Docker config {name} (key `{}`)", entry.key),
                kind: CandidateKind::Static(entry.credential.clone()),
            });
        }
    }
    if let Some(rule) = providers.iter().find(|r| r.matches(registry)) {
        out.push(Candidate {
            origin: rule.provider.describe(),
            kind: CandidateKind::Provider(rule.provider.clone()),
        });
    }
    out
}

/// A value cached until shortly before it expires: five minutes early, or halfway through a
/// shorter life. A value that arrives already expired is used once and not kept.
#[derive(Clone, Debug)]
pub(crate) struct Expiring<T> {
    pub value: T,
    refresh_at: u64,
}

impl<T> Expiring<T> {
    pub fn new(value: T, expires_at: u64, now: u64) -> Self {
        let life = expires_at.saturating_sub(now);
        let margin = (life / 2).min(300);
        Self {
            value,
            refresh_at: expires_at.saturating_sub(margin),
        }
    }

    pub fn is_fresh(&self, now: u64) -> bool {
        now < self.refresh_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_passwords() {
        let c = BasicCredential::new("alice", "s3cret");
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(c.header(), "Basic YWxpY2U6czNjcmV0");
    }

    #[test]
    fn expiry_margins() {
        let e = Expiring::new((), 10_000 + 43_200, 10_000);
        assert!(e.is_fresh(10_000 + 43_200 - 301));
        assert!(!e.is_fresh(10_000 + 43_200 - 300));
        let short = Expiring::new((), 10_060, 10_000);
        assert!(short.is_fresh(10_029) && !short.is_fresh(10_030));
        assert!(!Expiring::new((), 5, 10_000).is_fresh(10_000));
    }

    #[test]
    fn provider_rules_glob_labels() {
        struct P;
        impl CredentialProvider for P {
            fn describe(&self) -> String {
                "p".to_owned()
            }
            fn credential(&self, _: &str, _: bool) -> Result<Provided, String> {
                Ok(Provided::Unavailable("none".to_owned()))
            }
        }
        let rule = ProviderRule::new("*.dkr.ecr.*.amazonaws.com", Arc::new(P));
        assert!(rule.matches("123.dkr.ecr.eu-west-1.amazonaws.com"));
        assert!(!rule.matches("123.dkr.ecr.eu-west-1.amazonaws.com.evil.io"));
        assert!(
            ProviderRule::new("*-docker.pkg.dev", Arc::new(P)).matches("europe-docker.pkg.dev")
        );
        assert!(ProviderRule::new("127.0.0.1:5000", Arc::new(P)).matches("127.0.0.1:5000"));
    }
}
