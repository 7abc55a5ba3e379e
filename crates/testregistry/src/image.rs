//! Images described in code (layers of entries, a config) and pushed with the registry HTTP
//! API: each blob by `POST` + monolithic `PUT`, then the manifest by `PUT`.

use std::io::Write;

use base64::Engine;
use ring::digest;

use crate::registry::Registry;
use crate::tarball::{Entry, tar};

/// How a layer's tar is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Which family of media types the manifest, config and layers use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    Oci,
    Docker,
}

impl Media {
    pub fn manifest(self) -> &'static str {
        match self {
            Self::Oci => "application/vnd.oci.image.manifest.v1+json",
            Self::Docker => "application/vnd.docker.distribution.manifest.v2+json",
        }
    }

    pub fn config(self) -> &'static str {
        match self {
            Self::Oci => "application/vnd.oci.image.config.v1+json",
            Self::Docker => "application/vnd.docker.container.image.v1+json",
        }
    }

    /// The layer media type for a compression (containerd's name for Docker + zstd).
    pub fn layer(self, compression: Compression) -> &'static str {
        match (self, compression) {
            (Self::Oci, Compression::None) => "application/vnd.oci.image.layer.v1.tar",
            (Self::Oci, Compression::Gzip) => "application/vnd.oci.image.layer.v1.tar+gzip",
            (Self::Oci, Compression::Zstd) => "application/vnd.oci.image.layer.v1.tar+zstd",
            (Self::Docker, Compression::None) => "application/vnd.docker.image.rootfs.diff.tar",
            (Self::Docker, Compression::Gzip) => {
                "application/vnd.docker.image.rootfs.diff.tar.gzip"
            }
            (Self::Docker, Compression::Zstd) => {
                "application/vnd.docker.image.rootfs.diff.tar.zstd"
            }
        }
    }
}

/// One layer: entries in tar order, compressed one way.
#[derive(Clone, Debug)]
pub struct Layer {
    pub entries: Vec<Entry>,
    pub compression: Compression,
    /// Replaces the media type the compression implies (to test foreign or unknown types).
    pub media_type: Option<String>,
}

impl Layer {
    /// A gzip layer.
    pub fn new(entries: Vec<Entry>) -> Self {
        Self {
            entries,
            compression: Compression::Gzip,
            media_type: None,
        }
    }

    #[must_use]
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    #[must_use]
    pub fn media_type(mut self, media_type: &str) -> Self {
        self.media_type = Some(media_type.to_owned());
        self
    }

    /// The uncompressed tar.
    pub fn tar(&self) -> Vec<u8> {
        tar(&self.entries)
    }

    /// The blob as pushed.
    ///
    /// # Panics
    /// When an in-memory compressor fails (it cannot).
    pub fn blob(&self) -> Vec<u8> {
        let raw = self.tar();
        match self.compression {
            Compression::None => raw,
            Compression::Gzip => {
                let mut e =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(&raw).expect("gzip in memory");
                e.finish().expect("gzip in memory")
            }
            Compression::Zstd => ruzstd::encoding::compress_to_vec(
                raw.as_slice(),
                ruzstd::encoding::CompressionLevel::Fastest,
            ),
        }
    }
}

/// The runtime part of an image config.
#[derive(Clone, Debug, Default)]
pub struct ImageConfig {
    pub env: Vec<String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
}

/// An image: layers (lowest first), config, media types.
#[derive(Clone, Debug)]
pub struct ImageSpec {
    pub layers: Vec<Layer>,
    pub config: ImageConfig,
    pub media: Media,
}

impl ImageSpec {
    /// An OCI image of these layers with an empty config.
    pub fn new(layers: Vec<Layer>) -> Self {
        Self {
            layers,
            config: ImageConfig::default(),
            media: Media::Oci,
        }
    }
}

/// One pushed layer.
#[derive(Clone, Debug)]
pub struct PushedLayer {
    pub digest: String,
    pub size: u64,
    pub media_type: String,
    /// Bytes of the uncompressed tar.
    pub tar_size: u64,
}

/// What a push put into the registry.
#[derive(Clone, Debug)]
pub struct Pushed {
    /// `127.0.0.1:PORT/repo:tag`.
    pub reference: String,
    pub manifest_digest: String,
    pub config_digest: String,
    pub layers: Vec<PushedLayer>,
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    let d = digest::digest(&digest::SHA256, bytes);
    let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

impl Registry {
    fn agent(&self) -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into()
    }

    fn authorization(&self) -> Option<String> {
        self.users().first().map(|(u, p)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        })
    }

    /// Uploads one blob (as the first basic-auth user, if any); returns its digest.
    ///
    /// # Panics
    /// When the registry refuses it: the test cannot go on.
    pub fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let agent = self.agent();
        let digest = sha256(bytes);
        let auth = self.authorization();
        let mut post = agent.post(format!("{}/v2/{repo}/blobs/uploads/", self.base()));
        if let Some(a) = &auth {
            post = post.header("Authorization", a);
        }
        let start = post.send_empty().expect("start a blob upload");
        assert_eq!(start.status().as_u16(), 202, "starting an upload to {repo}");
        let location = start
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("an upload location")
            .to_owned();
        let location = if location.starts_with("http") {
            location
        } else {
            format!("{}{location}", self.base())
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let mut put = agent
            .put(format!("{location}{sep}digest={digest}"))
            .header("Content-Type", "application/octet-stream");
        if let Some(a) = &auth {
            put = put.header("Authorization", a);
        }
        let done = put.send(bytes).expect("finish a blob upload");
        assert_eq!(done.status().as_u16(), 201, "finishing an upload to {repo}");
        digest
    }

    /// Puts a manifest under `reference` (a tag or its digest); returns its digest.
    ///
    /// # Panics
    /// When the registry refuses it.
    pub fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> String {
        let mut put = self
            .agent()
            .put(format!("{}/v2/{repo}/manifests/{reference}", self.base()))
            .header("Content-Type", media_type);
        if let Some(a) = &self.authorization() {
            put = put.header("Authorization", a);
        }
        let mut response = put.send(body).expect("push a manifest");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(status, 201, "pushing manifest {repo}:{reference}: {text}");
        sha256(body)
    }

    /// Builds `image` and pushes it as `repo:tag` (more tags: [`Registry::tag`]).
    ///
    /// # Panics
    /// When the registry refuses a part.
    pub fn push(&self, repo: &str, tag: &str, image: &ImageSpec) -> Pushed {
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for layer in &image.layers {
            let tar = layer.tar();
            diff_ids.push(sha256(&tar));
            let blob = layer.blob();
            let digest = self.push_blob(repo, &blob);
            layers.push(PushedLayer {
                digest,
                size: blob.len() as u64,
                media_type: layer
                    .media_type
                    .clone()
                    .unwrap_or_else(|| image.media.layer(layer.compression).to_owned()),
                tar_size: tar.len() as u64,
            });
        }
        let c = &image.config;
        let mut config = serde_json::json!({"Env": c.env});
        if let Some(v) = &c.entrypoint {
            config["Entrypoint"] = serde_json::json!(v);
        }
        if let Some(v) = &c.cmd {
            config["Cmd"] = serde_json::json!(v);
        }
        if let Some(v) = &c.working_dir {
            config["WorkingDir"] = serde_json::json!(v);
        }
        if let Some(v) = &c.user {
            config["User"] = serde_json::json!(v);
        }
        let config_blob = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }))
        .expect("JSON in memory");
        let config_digest = self.push_blob(repo, &config_blob);
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": image.media.manifest(),
            "config": {
                "mediaType": image.media.config(),
                "digest": config_digest,
                "size": config_blob.len(),
            },
            "layers": layers.iter().map(|l| serde_json::json!({
                "mediaType": l.media_type, "digest": l.digest, "size": l.size,
            })).collect::<Vec<_>>(),
        }))
        .expect("JSON in memory");
        let manifest_digest = self.push_manifest(repo, tag, image.media.manifest(), &manifest);
        Pushed {
            reference: format!("{}/{repo}:{tag}", self.host),
            manifest_digest,
            config_digest,
            layers,
        }
    }

    /// Also tags `pushed`'s manifest as `repo:tag` (the same bytes, so the same digest).
    ///
    /// # Panics
    /// When the registry refuses it.
    pub fn tag(&self, repo: &str, pushed: &Pushed, tag: &str) {
        let mut get = self
            .agent()
            .get(format!(
                "{}/v2/{repo}/manifests/{}",
                self.base(),
                pushed.manifest_digest
            ))
            .header(
                "Accept",
                "application/vnd.oci.image.manifest.v1+json, \
                 application/vnd.docker.distribution.manifest.v2+json",
            );
        if let Some(a) = &self.authorization() {
            get = get.header("Authorization", a);
        }
        let mut response = get.call().expect("read a manifest back");
        assert_eq!(
            response.status().as_u16(),
            200,
            "reading {repo}@{}",
            pushed.manifest_digest
        );
        let media_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/vnd.oci.image.manifest.v1+json")
            .to_owned();
        let body = response.body_mut().read_to_vec().expect("a manifest body");
        self.push_manifest(repo, tag, &media_type, &body);
    }
}
