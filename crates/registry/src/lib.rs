//! # testwerk-registry
//!
//! Kubernetes cannot tell us an image's entrypoint, command, working directory or user, yet a
//! plan needs them to wrap a step's command with `testwerk-init`. This crate reads them from
//! the image's registry the way a kubelet pulls — reference normalisation, platform choice in
//! image indexes, every usual way of authenticating — and makes that fast (caches, one fetch
//! for concurrent lookups) and its failures explicit.
//!
//! ```no_run
//! use testwerk_registry::{LookupRequest, PullPolicy, RegistryClient, RegistrySettings};
//!
//! let client = RegistryClient::new(RegistrySettings::default())?;
//! let found = client.lookup(&LookupRequest::new("alpine:3.20").pull_policy(PullPolicy::IfNotPresent))?;
//! println!("{:?} {:?}", found.info.config.entrypoint, found.info.config.cmd);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## What a lookup does
//! 1. **Reference** ([`ImageReference`]): `alpine` is `docker.io/library/alpine:latest`; the
//!    first segment is a registry when it has a `.` or `:` or is `localhost`; a digest wins over
//!    a tag. Docker Hub's API is asked at `registry-1.docker.io`.
//! 2. **Cache** (pull policy, [`PullPolicy`]): a digest's metadata is kept forever (digests do
//!    not change), a tag's digest for [`RegistrySettings::tag_ttl`]. `IfNotPresent` trusts a
//!    fresh tag; `Always` asks the registry for the tag each time (one `HEAD` when the digest's
//!    metadata is already known); `Never` never contacts the registry and fails when the cache
//!    has nothing. Without a policy, Kubernetes' default applies (`Always` for `:latest`). Both
//!    layers exist in memory and, optionally, durably ([`DurableCache`], [`SqliteCache`]).
//!    Entries are kept per registry and repository and per access: what a credential fetched
//!    answers only lookups that bring the same credential (a salted fingerprint names it);
//!    what the registry gave without credentials answers everyone.
//! 3. **One fetch**: concurrent lookups of the same image (and credentials) wait for a single
//!    fetch and share its answer.
//! 4. **Manifest**: `Accept` lists Docker v2 and OCI manifests and indexes. An index is
//!    followed to the entry for the target [`Platform`] (default `linux/amd64`; attestation
//!    entries are skipped; `arm64` implies `v8`). Schema 1 manifests and OCI artifacts (a
//!    Helm chart's config type) are refused with [`LookupError::Unsupported`]. Every manifest
//!    and blob is checked against its digest.
//! 5. **Config blob**: `Entrypoint`, `Cmd`, `WorkingDir`, `User`, `Env` ([`ImageConfig`]). A
//!    `User` given as a name cannot be turned into ids without the image's `/etc/passwd`, which
//!    lives in a layer; [`ImageUser::ids`] says so instead of guessing.
//!
//! ## Authentication
//! Tried in order, every credential that matches the registry (like the kubelet):
//! the pod's `imagePullSecrets` ([`PullSecret`]: `kubernetes.io/dockerconfigjson` or
//! `.dockercfg`), Docker config files ([`RegistrySettings::docker_configs`], and
//! `~/.docker/config.json` when [`RegistrySettings::local_docker_config`]), then a credential
//! provider for the host:
//! - **AWS ECR** (`*.dkr.ecr.*.amazonaws.com`): `ecr:GetAuthorizationToken`, signed (SigV4)
//!   with the standard chain — environment keys, web identity (IRSA), container credentials
//!   (EKS Pod Identity, ECS), the shared credentials file, IMDSv2. `AWS_ENDPOINT_URL[_ECR|_STS]`
//!   are honoured. Tokens are cached until shortly before they expire.
//! - **Google** (`*-docker.pkg.dev`, `gcr.io`, `*.gcr.io`): user `oauth2accesstoken` with an
//!   access token from `GOOGLE_APPLICATION_CREDENTIALS` (service-account key: RS256 JWT-bearer
//!   grant at the key's `token_uri`; or gcloud user credentials), the gcloud well-known file,
//!   or the metadata server (`GCE_METADATA_HOST`; GKE workload identity).
//! - Any host can be given one of these ([`RegistrySettings::cloud_hosts`]) or the caller's
//!   own [`CredentialProvider`].
//!
//! With no credential the request is anonymous. The registry's `WWW-Authenticate` challenge
//! decides between basic auth and the token flow (realm, service, `repository:<name>:pull`);
//! tokens are cached per scope and credential. A token the registry refuses is replaced once,
//! a provider credential it refuses is refreshed once, then the next credential is tried, and
//! the final error lists each attempt by origin — never a password or token.
//!
//! ## Transport
//! HTTPS with rustls (ring) and Mozilla's roots. Per host ([`HostSettings`]): plain HTTP for
//! insecure registries, a CA bundle added to the roots, or no verification. Proxies come from
//! `HTTPS_PROXY`/`NO_PROXY`. Blob redirects to storage never carry registry credentials.
//!
//! ## Pulling
//! [`RegistryClient::resolve`] gives the platform's image manifest with its ordered layers
//! and its config ([`ResolvedImage`]); [`RegistryClient::fetch_blob`] streams one blob to a
//! writer, bounded by its declared size and by time (60 s plus one second per 256 KiB);
//! [`RegistryClient::current_digest`] asks what a tag names now with one `HEAD`. They use the
//! same credentials, mirrors and hosts as lookups; the metadata caches are not involved
//! (`testwerk-images` keeps its own store by digest). [`RegistrySettings::add_mirror`] reads
//! the `--registry-mirror REGISTRY=HOST` form for every surface.
//!
//! ## The compiler seam
//! [`RegistryClient`] implements [`testwerk_plan::ImageSource`]; [`PodImageSource`] adds a
//! pod's pull secrets and pull policy. The compiler asks only for steps without a `command`,
//! so a step that gives one makes no request. A failed lookup becomes the compile error, with
//! the registry's answer and how to avoid the lookup ([`compile_error()`]).

mod cache;
mod challenge;
mod client;
mod environment;
mod error;
mod fetch;
mod imageconfig;
mod lookup;
mod manifest;
mod platform;
mod pull;
mod reference;
mod source;
mod time;
mod transport;

pub mod auth;

pub use auth::{
    BasicCredential, CredentialProvider, DockerConfig, Provided, ProviderRule, PullSecret,
};
pub use cache::{DurableCache, SqliteCache, TagEntry};
pub use client::{CloudProvider, RegistryClient, RegistrySettings};
pub use environment::Environment;
pub use error::LookupError;
pub use imageconfig::{ImageConfig, ImageUser, UserIds, UserNameError};
pub use lookup::{ImageInfo, Lookup, LookupRequest, Origin, PullPolicy};
pub use manifest::{ManifestError, media_type};
pub use platform::Platform;
pub use pull::{BlobDescriptor, ResolvedImage};
pub use reference::{DOCKER_HUB, ImageReference, ReferenceError};
pub use source::{AVOID_LOOKUP, PodImageSource, compile_error};
pub use transport::{HostSettings, Timeouts};
