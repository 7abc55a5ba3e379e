//! Why a lookup failed, in words that name the registry and what it answered — and what to
//! do about it. No error ever holds a password or token.

use crate::manifest::ManifestError;
use crate::reference::ReferenceError;

/// A failed lookup.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// No HTTP answer: refused, DNS, TLS, timeout.
    #[error("registry {registry} cannot be reached: {cause}")]
    Unreachable { registry: String, cause: String },
    /// `401`/`403` with every credential we had (or anonymously).
    #[error("registry {registry} refused access: {}", attempts.join("; "))]
    Refused {
        registry: String,
        /// One line per credential tried: where it came from and what the registry said.
        attempts: Vec<String>,
    },
    /// `404`: no such repository, tag or digest.
    #[error("registry {registry} has no {what}: {answer}")]
    NotFound {
        registry: String,
        what: String,
        answer: String,
    },
    /// Any other status (`429` rate limits, `5xx`).
    #[error("registry {registry} answered {answer} for {what}")]
    Registry {
        registry: String,
        what: String,
        answer: String,
    },
    /// A manifest or config we do not read.
    #[error("{what}: {source}")]
    Unsupported {
        what: String,
        #[source]
        source: ManifestError,
    },
    #[error("the image index of {reference} has no {platform} image (it has: {available})")]
    NoPlatform {
        reference: String,
        platform: String,
        available: String,
    },
    /// Content that does not match its digest, or is not what it claims to be.
    #[error("{what} from registry {registry} is not usable: {reason}")]
    Invalid {
        registry: String,
        what: String,
        reason: String,
    },
    /// Obtaining credentials failed (token service down, cloud token exchange refused).
    #[error("getting credentials for registry {registry}: {reason}")]
    Credentials { registry: String, reason: String },
    /// The caller's writer refused a streamed blob (its own error says more).
    #[error("storing {what}: {cause}")]
    Sink { what: String, cause: String },
    #[error(
        "imagePullPolicy is Never and the metadata of {reference} is not in the image cache, so \
         the registry is not asked"
    )]
    NotCached { reference: String },
}

impl LookupError {
    /// What would make this lookup succeed.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Unreachable { registry, cause } => Some(if cause.contains("TLS") {
                format!(
                    "if {registry} uses a private CA, configure its CA bundle; if it serves \
                     plain HTTP, configure it as insecure (`--insecure {registry}`)"
                )
            } else {
                format!("check that {registry} is up and reachable from here")
            }),
            Self::Refused { attempts, .. }
                if attempts.iter().any(|a| a.starts_with("anonymous")) =>
            {
                Some(
                    "the registry wants credentials: add an imagePullSecret to the pod \
                     (`--docker-config` locally)"
                        .to_owned(),
                )
            }
            Self::Refused { .. } => Some(
                "check the pull secret's user, password and access to this repository".to_owned(),
            ),
            Self::NotFound { .. } => Some("check the image name and tag".to_owned()),
            Self::Registry { answer, .. } if answer.starts_with("429") => Some(
                "the registry limits pulls: authenticate with an account (an imagePullSecret) or \
                 use a mirror"
                    .to_owned(),
            ),
            Self::NoPlatform { .. } => Some(
                "choose the nodes' platform (`--platform os/arch`) or an image built for it"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}
