//! The client: settings, caches, and the order a lookup takes (memory, durable cache, one
//! shared fetch).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::auth::aws::AwsCredentialChain;
use crate::auth::bearer::{TokenCache, TokenService};
use crate::auth::ecr::{ECR_HOSTS, EcrProvider};
use crate::auth::google::{GOOGLE_HOSTS, GoogleProvider};
use crate::auth::{self, DockerConfig, ProviderRule};
use crate::auth::{Candidate, CandidateKind, Provided};
use crate::cache::access::{ANONYMOUS, Fingerprinter};
use crate::cache::flight::Flights;
use crate::cache::{DurableCache, MemoryCache, TagEntry, image_key, tag_key};
use crate::environment::Environment;
use crate::error::LookupError;
use crate::lookup::{ImageInfo, Lookup, LookupRequest, Origin, PullPolicy};
use crate::platform::Platform;
use crate::reference::ImageReference;
use crate::time;
use crate::transport::{HostSettings, Timeouts, Transport};

/// A built-in credential provider to use for a host its name does not give away (a VPC
/// endpoint alias, a pull-through proxy, a test registry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloudProvider {
    /// `ecr:GetAuthorizationToken` in this region (`None`: from the environment).
    Ecr { region: Option<String> },
    /// A Google access token.
    Google,
}

/// How the client behaves. `Default` is: `linux/amd64`, tags cached 10 minutes, memory cache
/// only, no Docker config, the process environment, and ECR / Google credentials for their
/// registries.
#[derive(Clone)]
pub struct RegistrySettings {
    /// The nodes' platform, used to pick an image out of an index.
    pub platform: Platform,
    /// Per registry host (`host[:port]`): plain HTTP, CA bundle, TLS verification.
    pub hosts: BTreeMap<String, HostSettings>,
    /// How long a tag → digest answer is trusted (`IfNotPresent`).
    pub tag_ttl: Duration,
    /// Where lookups persist; `None` keeps them in memory only.
    pub durable: Option<Arc<dyn DurableCache>>,
    /// Docker config files (or Kubernetes Secret manifests), tried after the pod's pull secrets.
    pub docker_configs: Vec<PathBuf>,
    /// Also read `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
    pub local_docker_config: bool,
    /// Use AWS ECR and Google credentials for their registries' hosts.
    pub cloud_credentials: bool,
    /// Built-in providers for hosts the patterns do not recognise.
    pub cloud_hosts: BTreeMap<String, CloudProvider>,
    /// The caller's own providers, consulted before the built-in ones.
    pub providers: Vec<ProviderRule>,
    /// The variables the credential chains read.
    pub environment: Environment,
    pub timeouts: Timeouts,
    /// Registry (`docker.io`, `ghcr.io`) → mirror host (`host[:port]`) asked instead, as a
    /// containerd mirror is: the repository path and credentials stay the same.
    pub mirrors: BTreeMap<String, String>,
}

impl Default for RegistrySettings {
    fn default() -> Self {
        Self {
            platform: Platform::default(),
            hosts: BTreeMap::new(),
            tag_ttl: Duration::from_secs(600),
            durable: None,
            docker_configs: Vec::new(),
            local_docker_config: false,
            cloud_credentials: true,
            cloud_hosts: BTreeMap::new(),
            providers: Vec::new(),
            environment: Environment::from_process(),
            timeouts: Timeouts::default(),
            mirrors: BTreeMap::new(),
        }
    }
}

impl RegistrySettings {
    /// Adds a mirror given as `REGISTRY=HOST` (`docker.io=127.0.0.1:5000`), the form of
    /// `--registry-mirror`: requests for the registry's images go to the mirror host, with
    /// the same repository path and credentials.
    pub fn add_mirror(&mut self, pair: &str) -> Result<(), String> {
        match pair.split_once('=') {
            Some((registry, mirror))
                if !registry.trim().is_empty()
                    && !mirror.trim().is_empty()
                    && !mirror.contains('/') =>
            {
                self.mirrors
                    .insert(registry.trim().to_owned(), mirror.trim().to_owned());
                Ok(())
            }
            _ => Err(format!(
                "--registry-mirror `{pair}`: expected REGISTRY=HOST, like docker.io=127.0.0.1:5000"
            )),
        }
    }
}

/// What a registry wants, learned from its first challenge, so later requests authenticate
/// up front instead of collecting a `401` each time.
#[derive(Clone, Debug)]
pub(crate) enum KnownScheme {
    Basic,
    Bearer(TokenService),
}

pub(crate) struct Inner {
    pub platform: Platform,
    pub tag_ttl: Duration,
    pub transport: Arc<Transport>,
    pub tokens: TokenCache,
    pub schemes: Mutex<HashMap<String, KnownScheme>>,
    pub docker_configs: Vec<(String, DockerConfig)>,
    pub providers: Vec<ProviderRule>,
    pub memory: MemoryCache,
    pub durable: Option<Arc<dyn DurableCache>>,
    pub mirrors: BTreeMap<String, String>,
    flights: Flights<Result<Arc<ImageInfo>, LookupError>>,
    /// Made on first use, from the durable cache's salt (opening it only when a lookup needs it).
    fingerprinter: OnceLock<Fingerprinter>,
}

/// Reads image metadata from registries. Cheap to clone; share one per process so caches,
/// connections and tokens are shared.
#[derive(Clone)]
pub struct RegistryClient {
    pub(crate) inner: Arc<Inner>,
}

impl RegistryClient {
    /// Builds a client; fails on unreadable Docker configs or CA bundles.
    pub fn new(settings: RegistrySettings) -> Result<Self, String> {
        let transport = Arc::new(Transport::new(settings.hosts.clone(), settings.timeouts)?);
        let mut docker_configs = Vec::new();
        for path in &settings.docker_configs {
            let config = DockerConfig::from_file(path).map_err(|e| e.to_string())?;
            docker_configs.push((path.display().to_string(), config));
        }
        if settings.local_docker_config
            && let Some(local) = DockerConfig::local(&settings.environment)
        {
            docker_configs.push((
                "~/.docker/config.json".to_owned(),
                local.map_err(|e| e.to_string())?,
            ));
        }
        let mut providers = settings.providers.clone();
        if settings.cloud_credentials || !settings.cloud_hosts.is_empty() {
            let chain = Arc::new(AwsCredentialChain::new(
                settings.environment.clone(),
                transport.clone(),
            )?);
            let google: Arc<GoogleProvider> = Arc::new(GoogleProvider::new(
                settings.environment.clone(),
                transport.clone(),
            )?);
            for (host, kind) in &settings.cloud_hosts {
                let provider: Arc<dyn auth::CredentialProvider> = match kind {
                    CloudProvider::Ecr { region } => Arc::new(EcrProvider::new(
                        chain.clone(),
                        transport.clone(),
                        region.clone(),
                    )),
                    CloudProvider::Google => google.clone(),
                };
                providers.push(ProviderRule::new(host.clone(), provider));
            }
            if settings.cloud_credentials {
                let ecr: Arc<dyn auth::CredentialProvider> =
                    Arc::new(EcrProvider::new(chain, transport.clone(), None));
                for host in ECR_HOSTS {
                    providers.push(ProviderRule::new(host, ecr.clone()));
                }
                for host in GOOGLE_HOSTS {
                    providers.push(ProviderRule::new(host, google.clone()));
                }
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                platform: settings.platform,
                tag_ttl: settings.tag_ttl,
                transport,
                tokens: TokenCache::default(),
                schemes: Mutex::new(HashMap::new()),
                docker_configs,
                providers,
                memory: MemoryCache::default(),
                durable: settings.durable,
                mirrors: settings.mirrors,
                flights: Flights::default(),
                fingerprinter: OnceLock::new(),
            }),
        })
    }

    /// The platform indexes are resolved for.
    pub fn platform(&self) -> &Platform {
        &self.inner.platform
    }

    /// Looks an image up: from the caches when the pull policy allows, else from the registry
    /// (one fetch for all concurrent lookups of the same image).
    pub fn lookup(&self, request: &LookupRequest<'_>) -> Result<Lookup, LookupError> {
        let reference = ImageReference::parse(request.image)?;
        let platform = request.platform.unwrap_or(&self.inner.platform);
        let policy = request
            .pull_policy
            .unwrap_or_else(|| PullPolicy::kubernetes_default(&reference));
        let candidates = self.inner.candidates(&reference, request);
        // Static credentials and the anonymous reader first: a provider is asked for its
        // credential only when they miss (it may have to go to the network to say it has none).
        let mut accesses = self.inner.static_accesses(&candidates);
        if let Some(hit) = self.inner.cached(&reference, platform, policy, &accesses) {
            return Ok(hit);
        }
        let provided = self.inner.provider_accesses(&reference, &candidates);
        if !provided.is_empty() {
            accesses.extend(provided);
            if let Some(hit) = self.inner.cached(&reference, platform, policy, &accesses) {
                return Ok(hit);
            }
        }
        if policy == PullPolicy::Never {
            return Err(LookupError::NotCached {
                reference: reference.to_string(),
            });
        }
        let identities: Vec<String> = candidates.iter().map(auth::Candidate::identity).collect();
        let key = format!("{reference}|{platform}|{policy:?}|{}", identities.join(","));
        let inner = &self.inner;
        let info = inner.flights.run(&key, || {
            // A flight that landed just before this one started has filled the cache.
            if let Some(hit) = inner.cached(&reference, platform, policy, &accesses) {
                return Ok(hit.info);
            }
            crate::fetch::fetch(inner, &reference, platform, candidates, &accesses)
        })?;
        Ok(Lookup {
            info,
            origin: Origin::Registry,
        })
    }

    /// [`lookup`](Self::lookup) with the default pull policy and no pull secrets.
    pub fn inspect(&self, image: &str) -> Result<Lookup, LookupError> {
        self.lookup(&LookupRequest::new(image))
    }
}

impl Inner {
    /// The host requests for `reference` go to: its registry's mirror, or its API host.
    pub(crate) fn endpoint<'r>(&'r self, reference: &'r ImageReference) -> &'r str {
        self.mirrors
            .get(reference.registry())
            .map_or_else(|| reference.api_host(), String::as_str)
    }

    fn fingerprinter(&self) -> &Fingerprinter {
        self.fingerprinter.get_or_init(|| {
            self.durable
                .as_ref()
                .and_then(|d| d.salt())
                .map_or_else(Fingerprinter::ephemeral, |salt| Fingerprinter::new(&salt))
        })
    }

    /// The access key of metadata fetched with `credential` (`None`: anonymously).
    pub fn access(&self, credential: Option<&auth::BasicCredential>) -> String {
        credential.map_or_else(|| ANONYMOUS.to_owned(), |c| self.fingerprinter().access(c))
    }

    /// Whose cache entries may answer a lookup with these candidates, as far as it is known
    /// without asking a provider: each static credential's, then the anonymous reader's.
    /// Who may be asked for `reference`: the request's pull secrets, Docker configs and cloud
    /// providers, in the order a kubelet tries them.
    pub(crate) fn candidates(
        &self,
        reference: &ImageReference,
        request: &LookupRequest<'_>,
    ) -> Vec<Candidate> {
        auth::candidates(
            reference.registry(),
            reference.repository(),
            request.pull_secrets,
            &self.docker_configs,
            &self.providers,
        )
    }

    fn static_accesses(&self, candidates: &[Candidate]) -> Vec<String> {
        let mut out = Vec::with_capacity(candidates.len() + 1);
        for candidate in candidates {
            if let CandidateKind::Static(c) = &candidate.kind {
                out.push(self.access(Some(c)));
            }
        }
        out.push(ANONYMOUS.to_owned());
        out
    }

    /// The accesses of the candidates' providers: each is asked for its credential (providers
    /// keep theirs in memory until shortly before it expires), so an entry answers only while
    /// the provider still hands out the credential that fetched it.
    fn provider_accesses(
        &self,
        reference: &ImageReference,
        candidates: &[Candidate],
    ) -> Vec<String> {
        candidates
            .iter()
            .filter_map(|candidate| match &candidate.kind {
                CandidateKind::Static(_) => None,
                CandidateKind::Provider(p) => match p.credential(reference.registry(), false) {
                    Ok(Provided::Credential(c)) => Some(self.access(Some(&c))),
                    Ok(Provided::Unavailable(_)) | Err(_) => None,
                },
            })
            .collect()
    }

    /// A cached answer the pull policy accepts, fetched with one of `accesses`.
    fn cached(
        &self,
        reference: &ImageReference,
        platform: &Platform,
        policy: PullPolicy,
        accesses: &[String],
    ) -> Option<Lookup> {
        let platform = platform.to_string();
        if let Some(digest) = reference.digest() {
            return self.image(reference, digest, &platform, accesses);
        }
        let tag = match policy {
            PullPolicy::Always => return None,
            PullPolicy::IfNotPresent => self
                .tag(reference, accesses)
                .filter(|t| time::now().saturating_sub(t.resolved_at) < self.tag_ttl.as_secs())?,
            // Like a node that has the image: any age will do.
            PullPolicy::Never => self.tag(reference, accesses)?,
        };
        self.image(reference, &tag.digest, &platform, accesses)
    }

    /// What the reference's tag last resolved to for one of `accesses`, at any age.
    pub fn tag(&self, reference: &ImageReference, accesses: &[String]) -> Option<TagEntry> {
        let tagged_name = reference.tagged_name();
        accesses.iter().find_map(|access| {
            let key = tag_key(&tagged_name, access);
            if let Some(t) = self.memory.tag(&key) {
                return Some(t);
            }
            let t = self.durable.as_ref()?.tag(&key)?;
            self.memory.put_tag(&key, t.clone());
            Some(t)
        })
    }

    /// The metadata of `digest` in the reference's repository, fetched with one of `accesses`.
    pub fn image(
        &self,
        reference: &ImageReference,
        digest: &str,
        platform: &str,
        accesses: &[String],
    ) -> Option<Lookup> {
        let name = reference.name();
        let keys: Vec<String> = accesses
            .iter()
            .map(|access| image_key(&name, digest, platform, access))
            .collect();
        // Memory first for every access, so a durable read happens only on a real miss.
        for key in &keys {
            if let Some(info) = self.memory.image(key) {
                return Some(Lookup {
                    info,
                    origin: Origin::Memory,
                });
            }
        }
        let durable = self.durable.as_ref()?;
        keys.iter().find_map(|key| {
            let info = Arc::new(durable.image(key)?);
            self.memory.put_image(key, info.clone());
            Some(Lookup {
                info,
                origin: Origin::Durable,
            })
        })
    }

    pub fn remember_tag(&self, reference: &ImageReference, access: &str, digest: &str) {
        let key = tag_key(&reference.tagged_name(), access);
        let entry = TagEntry {
            digest: digest.to_owned(),
            resolved_at: time::now(),
        };
        if let Some(d) = &self.durable {
            d.put_tag(&key, &entry);
        }
        self.memory.put_tag(&key, entry);
    }

    pub fn remember_image(
        &self,
        reference: &ImageReference,
        access: &str,
        digest: &str,
        platform: &str,
        info: Arc<ImageInfo>,
    ) {
        let key = image_key(&reference.name(), digest, platform, access);
        if let Some(d) = &self.durable {
            d.put_image(&key, &info);
        }
        self.memory.put_image(&key, info);
    }

    pub fn known_scheme(&self, registry: &str) -> Option<KnownScheme> {
        self.schemes.lock().ok()?.get(registry).cloned()
    }

    pub fn learn_scheme(&self, registry: &str, scheme: KnownScheme) {
        if let Ok(mut s) = self.schemes.lock() {
            s.insert(registry.to_owned(), scheme);
        }
    }
}
