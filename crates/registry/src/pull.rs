//! What pulling an image needs beyond its metadata: the platform's manifest with its ordered
//! layers, and each blob streamed to the caller. The same credentials, mirrors, insecure
//! hosts and CA bundles as a lookup; metadata caches are not involved (an image store keeps
//! its own, by digest).

use std::io::{Read, Write};
use std::time::Duration;

use crate::client::RegistryClient;
use crate::error::LookupError;
use crate::fetch::{Session, platform_manifest};
use crate::lookup::LookupRequest;
use crate::manifest::Descriptor;
use crate::reference::{ImageReference, check_digest};
use crate::transport::{Request, describe_io};

/// A blob the manifest lists: a layer, by media type, digest and size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobDescriptor {
    /// `None` when the manifest gives none (OCI allows it only for non-layers; callers refuse).
    pub media_type: Option<String>,
    pub digest: String,
    pub size: u64,
    /// Foreign layers' download URLs; listed for error messages, never followed.
    pub urls: Vec<String>,
}

impl From<Descriptor> for BlobDescriptor {
    fn from(d: Descriptor) -> Self {
        Self {
            media_type: d.media_type,
            digest: d.digest,
            size: d.size,
            urls: d.urls,
        }
    }
}

/// An image resolved for pulling on the client's (or the request's) platform.
#[derive(Clone, Debug)]
pub struct ResolvedImage {
    /// The normalised reference, e.g. `docker.io/library/alpine:3.20`.
    pub reference: String,
    /// Digest of what the reference names now: an index or a manifest.
    pub digest: String,
    /// Digest of the platform's image manifest.
    pub manifest_digest: String,
    pub config_digest: String,
    /// The config blob, checked against its digest.
    pub config: Vec<u8>,
    /// Lowest first.
    pub layers: Vec<BlobDescriptor>,
}

/// A blob download may take this long plus one second per [`MIN_RATE`] bytes: a stalled
/// connection fails instead of hanging, a large layer on a slow link still arrives.
const BLOB_BASE_TIME: Duration = Duration::from_secs(60);
/// 256 KiB/s: slower than this, a blob download times out.
const MIN_RATE: u64 = 256 << 10;

impl RegistryClient {
    fn session_for<'a>(
        &'a self,
        reference: &'a ImageReference,
        request: &LookupRequest<'_>,
    ) -> Session<'a> {
        let candidates = self.inner.candidates(reference, request);
        Session::new(&self.inner, reference, candidates)
    }

    /// The digest the reference names at the registry now (a `HEAD` of its manifest), for
    /// checking a cached pull is current. `None` when the registry does not say.
    pub fn current_digest(
        &self,
        request: &LookupRequest<'_>,
    ) -> Result<Option<String>, LookupError> {
        let reference = ImageReference::parse(request.image)?;
        if let Some(digest) = reference.digest() {
            return Ok(Some(digest.to_owned()));
        }
        let mut session = self.session_for(&reference, request);
        session.manifest_head(reference.manifest_reference())
    }

    /// Resolves the reference to the platform's image manifest, its config and its layers.
    pub fn resolve(&self, request: &LookupRequest<'_>) -> Result<ResolvedImage, LookupError> {
        let reference = ImageReference::parse(request.image)?;
        let platform = request.platform.unwrap_or(&self.inner.platform);
        let mut session = self.session_for(&reference, request);
        let (top, manifest_digest, config, layers) = platform_manifest(&mut session, platform)?;
        let blob = session.blob(&config.digest, config.size)?;
        Ok(ResolvedImage {
            reference: reference.to_string(),
            digest: top.digest,
            manifest_digest,
            config_digest: config.digest,
            config: blob,
            layers: layers.into_iter().map(BlobDescriptor::from).collect(),
        })
    }

    /// Streams blob `blob` of the request's repository into `out`, reading at most one byte
    /// more than its declared size (so an overlong blob shows as a size mismatch, never as
    /// unbounded data). Redirects to storage are followed without our credentials. The
    /// caller checks the digest while writing. Returns the bytes written.
    pub fn fetch_blob(
        &self,
        request: &LookupRequest<'_>,
        blob: &BlobDescriptor,
        out: &mut dyn Write,
    ) -> Result<u64, LookupError> {
        let reference = ImageReference::parse(request.image)?;
        check_digest(&blob.digest).map_err(|reason| LookupError::Invalid {
            registry: reference.registry().to_owned(),
            what: format!("the manifest of {reference}"),
            reason: format!("layer digest: {reason}"),
        })?;
        let mut session = self.session_for(&reference, request);
        let url = format!(
            "{}/v2/{}/blobs/{}",
            self.inner
                .transport
                .base_url(self.inner.endpoint(&reference)),
            reference.repository(),
            blob.digest
        );
        let time = BLOB_BASE_TIME + Duration::from_secs(blob.size / MIN_RATE);
        let (response, body) = session.open(&|| Request::get(url.clone()), time)?;
        let what = format!("blob {}", blob.digest);
        let Some(body) = body.filter(|_| response.status == 200) else {
            return Err(session.status_error(what, &response));
        };
        let mut reader = body.into_reader().take(blob.size.saturating_add(1));
        let mut buffer = vec![0u8; 256 << 10];
        let mut written = 0u64;
        loop {
            let n = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(LookupError::Unreachable {
                        registry: session.registry(),
                        cause: format!("reading {what}: {}", describe_io(&e)),
                    });
                }
            };
            out.write_all(&buffer[..n]).map_err(|e| LookupError::Sink {
                what: what.clone(),
                cause: e.to_string(),
            })?;
            written += n as u64;
        }
        Ok(written)
    }
}
