//! One fetch: the manifest (through an index to the platform's manifest), then the config
//! blob, each checked against its digest; authentication as the registry asks for it.

use std::sync::Arc;

use ring::digest;

use crate::auth::bearer::{self, TokenError, TokenService};
use crate::auth::{BasicCredential, Candidate, CandidateKind, Provided};
use crate::challenge;
use crate::client::{Inner, KnownScheme};
use crate::error::LookupError;
use crate::imageconfig::ImageConfig;
use crate::lookup::ImageInfo;
use crate::manifest::{self, Descriptor, Manifest, media_type};
use crate::platform::Platform;
use crate::reference::{ImageReference, check_digest};
use crate::time;
use crate::transport::{Request, Response};

/// Manifests are small; a config blob a little larger. Both bounded against hostile servers.
const MANIFEST_LIMIT: u64 = 4 << 20;
const CONFIG_LIMIT: u64 = 8 << 20;

pub(crate) fn fetch(
    inner: &Inner,
    reference: &ImageReference,
    platform: &Platform,
    candidates: Vec<Candidate>,
    accesses: &[String],
) -> Result<Arc<ImageInfo>, LookupError> {
    let mut session = Session::new(inner, reference, candidates);
    let platform_key = platform.to_string();

    // A tag we resolved before (with one of this lookup's credentials): a HEAD, made with
    // them, tells whether it still points at metadata we have.
    if reference.digest().is_none()
        && let Some(previous) = inner.tag(reference, accesses)
        && inner
            .image(reference, &previous.digest, &platform_key, accesses)
            .is_some()
    {
        let head = session.manifest_head(reference.manifest_reference())?;
        if let Some(current) = head
            && let Some(hit) = inner.image(reference, &current, &platform_key, accesses)
        {
            inner.remember_tag(reference, &session.access(), &current);
            return Ok(hit.info);
        }
    }

    let (top, manifest_digest, config, _layers) = platform_manifest(&mut session, platform)?;
    let blob = session.blob(&config.digest, config.size)?;
    let image_config = ImageConfig::from_blob(&blob).map_err(|reason| LookupError::Invalid {
        registry: reference.registry().to_owned(),
        what: format!("image config {}", config.digest),
        reason,
    })?;
    let info = Arc::new(ImageInfo {
        reference: reference.to_string(),
        digest: top.digest.clone(),
        manifest_digest,
        config_digest: config.digest.clone(),
        media_type: top.media_type,
        platform: match &top.manifest {
            Manifest::Index(_) => platform.clone(),
            // A single-platform image runs wherever it was built for; say what that is.
            Manifest::Image { .. } => Platform {
                os: image_config
                    .os
                    .clone()
                    .unwrap_or_else(|| platform.os.clone()),
                architecture: image_config
                    .architecture
                    .clone()
                    .unwrap_or_else(|| platform.architecture.clone()),
                variant: None,
            },
        },
        config: image_config,
        fetched_at: time::now(),
    });
    // Kept for whoever the registry gave it to: this credential, or everyone.
    let access = session.access();
    inner.remember_image(reference, &access, &top.digest, &platform_key, info.clone());
    if reference.digest().is_none() {
        inner.remember_tag(reference, &access, &top.digest);
    }
    Ok(info)
}

/// The reference's manifest and, through an index, the platform's image manifest:
/// (what the reference names, the image manifest's digest, its config, its layers).
pub(crate) fn platform_manifest(
    session: &mut Session<'_>,
    platform: &Platform,
) -> Result<(FetchedManifest, String, Descriptor, Vec<Descriptor>), LookupError> {
    let reference = session.reference;
    let top = session.manifest(reference.manifest_reference(), reference.digest())?;
    let (manifest_digest, config, layers) = match &top.manifest {
        Manifest::Image { config, layers } => (top.digest.clone(), config.clone(), layers.clone()),
        Manifest::Index(entries) => {
            let entry = manifest::select_platform(entries, platform).map_err(|available| {
                LookupError::NoPlatform {
                    reference: reference.to_string(),
                    platform: platform.to_string(),
                    available: if available.is_empty() {
                        "no platform entries".to_owned()
                    } else {
                        available
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                }
            })?;
            let digest = entry.digest.clone();
            let child = session.manifest(&digest, Some(&digest))?;
            match child.manifest {
                Manifest::Image { config, layers } => (digest, config, layers),
                Manifest::Index(_) => {
                    return Err(LookupError::Invalid {
                        registry: reference.registry().to_owned(),
                        what: format!("manifest {digest}"),
                        reason: "an index entry points at another index".to_owned(),
                    });
                }
            }
        }
    };
    Ok((top, manifest_digest, config, layers))
}

pub(crate) struct FetchedManifest {
    pub digest: String,
    pub media_type: String,
    pub manifest: Manifest,
}

/// What we sent with a request.
#[derive(PartialEq, Eq)]
enum Sent {
    Nothing,
    Basic,
    Bearer,
}

/// Authentication state of one fetch: which candidate credential is in use, and what has
/// already been retried (a refused token is refreshed once, a refused provider credential is
/// refreshed once; then the next candidate, then an error).
pub(crate) struct Session<'a> {
    inner: &'a Inner,
    reference: &'a ImageReference,
    base: String,
    scope: String,
    candidates: Vec<Candidate>,
    index: usize,
    /// The current candidate's credential, once resolved (`Some(None)`: anonymous).
    credential: Option<Option<BasicCredential>>,
    token: Option<String>,
    /// Whether the current credential went to the registry (basic auth, or a token issued
    /// for it): then what it answers is that credential's, else anyone's.
    authenticated: bool,
    token_refreshed: bool,
    force_new_token: bool,
    provider_refreshed: bool,
    refresh_provider: bool,
    /// Providers that had nothing to give, and why.
    notes: Vec<String>,
    failures: Vec<String>,
}

impl<'a> Session<'a> {
    pub(crate) fn new(
        inner: &'a Inner,
        reference: &'a ImageReference,
        candidates: Vec<Candidate>,
    ) -> Self {
        Self {
            inner,
            reference,
            base: inner.transport.base_url(inner.endpoint(reference)),
            scope: format!("repository:{}:pull", reference.repository()),
            candidates,
            index: 0,
            credential: None,
            token: None,
            authenticated: false,
            token_refreshed: false,
            force_new_token: false,
            provider_refreshed: false,
            refresh_provider: false,
            notes: Vec::new(),
            failures: Vec::new(),
        }
    }

    pub(crate) fn registry(&self) -> String {
        self.reference.registry().to_owned()
    }

    /// Whose answers this session's are: see [`Session::authenticated`].
    fn access(&self) -> String {
        match &self.credential {
            Some(Some(c)) if self.authenticated => self.inner.access(Some(c)),
            _ => self.inner.access(None),
        }
    }

    fn origin(&self) -> String {
        self.candidates
            .get(self.index)
            .map_or_else(|| "anonymous".to_owned(), |c| c.origin.clone())
    }

    fn is_provider(&self) -> bool {
        self.candidates
            .get(self.index)
            .is_some_and(|c| matches!(c.kind, CandidateKind::Provider(_)))
    }

    /// Gives up on the current credential: the next one, or the final error.
    fn candidate_failed(&mut self, reason: String) -> Result<(), LookupError> {
        let anonymous = matches!(self.credential, Some(None));
        let origin = if anonymous && self.index < self.candidates.len() {
            format!("anonymous ({} had none)", self.origin())
        } else {
            self.origin()
        };
        self.failures.push(format!("{origin}: {reason}"));
        self.index += 1;
        self.credential = None;
        self.token = None;
        self.authenticated = false;
        self.token_refreshed = false;
        self.force_new_token = false;
        self.provider_refreshed = false;
        self.refresh_provider = false;
        if self.index >= self.candidates.len() {
            let mut attempts = std::mem::take(&mut self.failures);
            attempts.extend(self.notes.iter().cloned());
            return Err(LookupError::Refused {
                registry: self.registry(),
                attempts,
            });
        }
        Ok(())
    }

    /// The current candidate's credential, resolving a provider on first use.
    fn credential(&mut self) -> Result<Option<BasicCredential>, LookupError> {
        loop {
            if let Some(c) = &self.credential {
                return Ok(c.clone());
            }
            let Some(candidate) = self.candidates.get(self.index) else {
                self.credential = Some(None);
                return Ok(None);
            };
            let resolved = match &candidate.kind {
                CandidateKind::Static(c) => Ok(Some(c.clone())),
                CandidateKind::Provider(p) => {
                    let refresh = std::mem::take(&mut self.refresh_provider);
                    match p.credential(self.reference.registry(), refresh) {
                        Ok(Provided::Credential(c)) => Ok(Some(c)),
                        Ok(Provided::Unavailable(reason)) => {
                            self.notes.push(format!("{}: {reason}", candidate.origin));
                            Ok(None)
                        }
                        Err(e) => Err(e),
                    }
                }
            };
            match resolved {
                Ok(c) => {
                    self.credential = Some(c.clone());
                    return Ok(c);
                }
                Err(reason) => {
                    self.credential = Some(None);
                    self.candidate_failed(reason)?;
                }
            }
        }
    }

    /// A bearer token for the current credential: the session's, the cache's, or a new one.
    /// `Ok(None)` means the candidate changed and the request should start over.
    fn bearer_token(&mut self, service: &TokenService) -> Result<Option<String>, LookupError> {
        let credential = self.credential()?;
        let key = service.cache_key(&self.scope, credential.as_ref());
        if !self.force_new_token
            && let Some(t) = self.token.clone().or_else(|| self.inner.tokens.get(&key))
        {
            return Ok(Some(t));
        }
        self.force_new_token = false;
        match bearer::fetch(
            &self.inner.transport,
            service,
            &self.scope,
            credential.as_ref(),
        ) {
            Ok((token, expires_at)) => {
                self.inner.tokens.put(key, token.clone(), expires_at);
                self.token = Some(token.clone());
                Ok(Some(token))
            }
            Err(TokenError::Refused(answer)) => {
                if self.is_provider() && !self.provider_refreshed && credential.is_some() {
                    self.provider_refreshed = true;
                    self.refresh_provider = true;
                    self.credential = None;
                    self.force_new_token = true;
                    return Ok(None);
                }
                let what = if credential.is_some() {
                    "refused the credentials"
                } else {
                    "refused an anonymous token"
                };
                self.candidate_failed(format!(
                    "the token service {} {what}: {answer}",
                    service.realm
                ))?;
                Ok(None)
            }
            Err(TokenError::Failed(reason)) => Err(LookupError::Credentials {
                registry: self.registry(),
                reason,
            }),
        }
    }

    /// Sends a request to the registry, authenticating as it asks.
    pub(crate) fn send(&mut self, make: &dyn Fn() -> Request) -> Result<Response, LookupError> {
        self.exchange(make, None).map(|(response, _)| response)
    }

    /// [`send`](Self::send), handing a success's body back unread to be streamed; `limit`
    /// bounds the whole exchange.
    pub(crate) fn open(
        &mut self,
        make: &dyn Fn() -> Request,
        limit: std::time::Duration,
    ) -> Result<(Response, Option<ureq::Body>), LookupError> {
        self.exchange(make, Some(limit))
    }

    fn exchange(
        &mut self,
        make: &dyn Fn() -> Request,
        stream: Option<std::time::Duration>,
    ) -> Result<(Response, Option<ureq::Body>), LookupError> {
        // Every pass either succeeds, moves to another candidate or uses up a one-time retry;
        // the bound is a guard against a registry that keeps changing its mind.
        for _ in 0..(8 + 4 * self.candidates.len()) {
            let credential = self.credential()?;
            let mut request = make();
            let sent = match self.inner.known_scheme(self.inner.endpoint(self.reference)) {
                Some(KnownScheme::Bearer(service)) => {
                    let Some(token) = self.bearer_token(&service)? else {
                        continue;
                    };
                    request = request.header("Authorization", format!("Bearer {token}"));
                    self.authenticated |= credential.is_some();
                    Sent::Bearer
                }
                Some(KnownScheme::Basic) if credential.is_some() => {
                    if let Some(c) = &credential {
                        request = request.header("Authorization", c.header());
                    }
                    self.authenticated = true;
                    Sent::Basic
                }
                _ => Sent::Nothing,
            };
            let (response, body) = self
                .inner
                .transport
                .exchange(request, stream)
                .map_err(|e| LookupError::Unreachable {
                    registry: self.registry(),
                    cause: e.0,
                })?;
            match response.status {
                401 => {}
                403 if sent != Sent::Nothing => {
                    self.token = None;
                    self.candidate_failed(format!(
                        "the registry denied access: {}",
                        response.answer()
                    ))?;
                    continue;
                }
                _ => return Ok((response, body)),
            }
            let challenges = challenge::parse(response.header_all("www-authenticate"));
            let bearer = challenges
                .iter()
                .filter(|c| c.scheme == "bearer")
                .find_map(TokenService::from_challenge);
            let basic = challenges.iter().any(|c| c.scheme == "basic");
            if let Some(service) = bearer {
                if sent == Sent::Bearer {
                    // A token the registry will not take: expired early, revoked, or clocks
                    // apart. One new token; a second refusal is final for this credential.
                    self.token = None;
                    self.inner
                        .tokens
                        .forget(&service.cache_key(&self.scope, credential.as_ref()));
                    if self.token_refreshed {
                        self.candidate_failed(format!(
                            "the registry refused the token from {} (refreshed once): {}",
                            service.realm,
                            response.answer()
                        ))?;
                    } else {
                        self.token_refreshed = true;
                        self.force_new_token = true;
                    }
                }
                self.inner.learn_scheme(
                    self.inner.endpoint(self.reference),
                    KnownScheme::Bearer(service),
                );
                continue;
            }
            if basic {
                self.inner
                    .learn_scheme(self.inner.endpoint(self.reference), KnownScheme::Basic);
                match sent {
                    Sent::Nothing if credential.is_some() => continue,
                    Sent::Nothing => {
                        self.candidate_failed(format!(
                            "the registry wants credentials and none matched {}: {}",
                            self.reference.name(),
                            response.answer()
                        ))?;
                    }
                    _ => {
                        if self.is_provider() && !self.provider_refreshed {
                            self.provider_refreshed = true;
                            self.refresh_provider = true;
                            self.credential = None;
                        } else {
                            self.candidate_failed(format!(
                                "the registry refused the user name and password: {}",
                                response.answer()
                            ))?;
                        }
                    }
                }
                continue;
            }
            self.candidate_failed(format!(
                "{} without a usable WWW-Authenticate challenge",
                response.answer()
            ))?;
        }
        Err(LookupError::Refused {
            registry: self.registry(),
            attempts: vec!["the registry kept asking for authentication".to_owned()],
        })
    }

    pub(crate) fn status_error(&self, what: String, response: &Response) -> LookupError {
        if response.status == 404 {
            LookupError::NotFound {
                registry: self.registry(),
                what,
                answer: response.answer(),
            }
        } else {
            LookupError::Registry {
                registry: self.registry(),
                what,
                answer: response.answer(),
            }
        }
    }

    fn manifest_url(&self, reference: &str) -> String {
        format!(
            "{}/v2/{}/manifests/{reference}",
            self.base,
            self.reference.repository()
        )
    }

    /// The digest a tag points at now, when the registry says (`Docker-Content-Digest`).
    pub(crate) fn manifest_head(&mut self, reference: &str) -> Result<Option<String>, LookupError> {
        let url = self.manifest_url(reference);
        let response = self
            .send(&|| Request::head(url.clone()).header("Accept", media_type::MANIFEST_ACCEPT))?;
        if response.status != 200 {
            return Err(self.status_error(self.what_manifest(reference), &response));
        }
        Ok(response
            .header("docker-content-digest")
            .filter(|d| check_digest(d).is_ok())
            .map(str::to_owned))
    }

    fn what_manifest(&self, reference: &str) -> String {
        let sep = if reference.contains(':') { '@' } else { ':' };
        format!("manifest {}{sep}{reference}", self.reference.repository())
    }

    pub(crate) fn manifest(
        &mut self,
        reference: &str,
        expected: Option<&str>,
    ) -> Result<FetchedManifest, LookupError> {
        let url = self.manifest_url(reference);
        let response = self.send(&|| {
            Request::get(url.clone())
                .header("Accept", media_type::MANIFEST_ACCEPT)
                .limit(MANIFEST_LIMIT)
        })?;
        let what = self.what_manifest(reference);
        if response.status != 200 {
            return Err(self.status_error(what, &response));
        }
        let content_type = response.header("content-type").map(str::to_owned);
        let invalid = |reason: String| LookupError::Invalid {
            registry: self.registry(),
            what: what.clone(),
            reason,
        };
        // The digest is the body's hash; a registry's header or the reference must agree.
        let computed = content_digest(expected.unwrap_or("sha256:"), &response.body)
            .ok_or_else(|| invalid("unsupported digest algorithm".to_owned()))?;
        for claimed in [expected, response.header("docker-content-digest")]
            .into_iter()
            .flatten()
        {
            if claimed.split(':').next() == computed.split(':').next() && claimed != computed {
                return Err(invalid(format!(
                    "its content hashes to {computed}, not {claimed}"
                )));
            }
        }
        let manifest =
            manifest::parse(content_type.as_deref(), &response.body).map_err(|e| match e {
                manifest::ManifestError::Invalid(reason) => invalid(reason),
                unsupported => LookupError::Unsupported {
                    what: format!("{} ({what})", self.reference),
                    source: unsupported,
                },
            })?;
        let media_type = content_type
            .map(|c| c.split(';').next().unwrap_or_default().trim().to_owned())
            .filter(|c| c.starts_with("application/vnd."))
            .unwrap_or_else(|| match manifest {
                Manifest::Index(_) => media_type::OCI_INDEX.to_owned(),
                Manifest::Image { .. } => media_type::OCI_MANIFEST.to_owned(),
            });
        Ok(FetchedManifest {
            digest: computed,
            media_type,
            manifest,
        })
    }

    pub(crate) fn blob(&mut self, digest: &str, size: u64) -> Result<Vec<u8>, LookupError> {
        check_digest(digest).map_err(|reason| LookupError::Invalid {
            registry: self.registry(),
            what: "the image manifest".to_owned(),
            reason: format!("config digest: {reason}"),
        })?;
        let url = format!(
            "{}/v2/{}/blobs/{digest}",
            self.base,
            self.reference.repository()
        );
        // The manifest says how large the blob is: read no more than that.
        let limit = if size > 0 {
            size.min(CONFIG_LIMIT)
        } else {
            CONFIG_LIMIT
        };
        let response = self.send(&|| Request::get(url.clone()).limit(limit))?;
        let what = format!("config blob {digest}");
        if response.status != 200 {
            return Err(self.status_error(what, &response));
        }
        if content_digest(digest, &response.body).as_deref() != Some(digest) {
            return Err(LookupError::Invalid {
                registry: self.registry(),
                what,
                reason: "its content does not match its digest".to_owned(),
            });
        }
        Ok(response.body)
    }
}

/// `algorithm:hex` of `body`, with the algorithm of `like`.
fn content_digest(like: &str, body: &[u8]) -> Option<String> {
    let (name, algorithm) = match like.split(':').next() {
        Some("sha256") => ("sha256", &digest::SHA256),
        Some("sha512") => ("sha512", &digest::SHA512),
        _ => return None,
    };
    let hash = digest::digest(algorithm, body);
    Some(format!("{name}:{}", crate::auth::hex(hash.as_ref())))
}
