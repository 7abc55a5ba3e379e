//! The registry documents we read: image indexes (manifest lists), image manifests, and what
//! their media types say. Docker v2 (schema 2) and OCI are both accepted; everything else is
//! refused with a reason, never guessed at.

use serde::Deserialize;

use crate::platform::Platform;

/// Media types, by the name the specs give them.
pub mod media_type {
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
    pub const DOCKER_SCHEMA1_SIGNED: &str =
        "application/vnd.docker.distribution.manifest.v1+prettyjws";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

    /// The `Accept` header of a manifest request: everything we can read, preferring lists so a
    /// registry never down-converts a multi-platform image.
    pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
        application/vnd.docker.distribution.manifest.list.v2+json, \
        application/vnd.oci.image.manifest.v1+json, \
        application/vnd.docker.distribution.manifest.v2+json";
}

use media_type as mt;

/// A content descriptor, as far as we use it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: Option<String>,
    pub digest: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub platform: Option<DescriptorPlatform>,
    /// Where else the content may be fetched (foreign layers); never followed.
    #[serde(default)]
    pub urls: Vec<String>,
}

/// The platform of an index entry.
#[derive(Clone, Debug, Deserialize)]
pub struct DescriptorPlatform {
    pub os: String,
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl DescriptorPlatform {
    fn to_platform(&self) -> Platform {
        Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone().filter(|v| !v.is_empty()),
        }
    }
}

/// A manifest document, once its kind is known.
#[derive(Clone, Debug)]
pub enum Manifest {
    /// An image index / manifest list: one manifest per platform.
    Index(Vec<Descriptor>),
    /// An image manifest: its config blob and its layers, lowest first.
    Image {
        config: Descriptor,
        layers: Vec<Descriptor>,
    },
}

/// Why a manifest cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("unsupported media type `{media_type}`: {reason}")]
    Unsupported { media_type: String, reason: String },
    #[error("the manifest is not valid: {0}")]
    Invalid(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    #[serde(default)]
    schema_version: Option<u32>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

/// Reads a manifest body. The `Content-Type` the registry sent decides; a generic or missing
/// one falls back to the body's `mediaType`, then to its shape (OCI allows omitting it).
pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Manifest, ManifestError> {
    let raw: RawManifest =
        serde_json::from_slice(body).map_err(|e| ManifestError::Invalid(e.to_string()))?;
    let header = content_type
        .map(|c| {
            c.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|c| !c.is_empty() && c != "application/json" && c != "text/plain");
    let declared = header.or_else(|| raw.media_type.clone());
    let kind = match declared.as_deref() {
        Some(mt::DOCKER_MANIFEST_LIST | mt::OCI_INDEX) => Kind::Index,
        Some(mt::DOCKER_MANIFEST | mt::OCI_MANIFEST) => Kind::Image,
        Some(t @ (mt::DOCKER_SCHEMA1 | mt::DOCKER_SCHEMA1_SIGNED)) => {
            return Err(schema1(t));
        }
        Some(other) => {
            return Err(ManifestError::Unsupported {
                media_type: other.to_owned(),
                reason: "not a container image manifest or index (Docker v2 or OCI)".to_owned(),
            });
        }
        None if raw.schema_version == Some(1) => return Err(schema1(mt::DOCKER_SCHEMA1)),
        None if raw.manifests.is_some() => Kind::Index,
        None if raw.config.is_some() => Kind::Image,
        None => {
            return Err(ManifestError::Invalid(
                "it has neither `manifests` nor `config`".to_owned(),
            ));
        }
    };
    match kind {
        Kind::Index => Ok(Manifest::Index(raw.manifests.ok_or_else(|| {
            ManifestError::Invalid("an index without `manifests`".to_owned())
        })?)),
        Kind::Image => {
            let config = raw.config.ok_or_else(|| {
                ManifestError::Invalid("an image manifest without `config`".to_owned())
            })?;
            check_config_media_type(config.media_type.as_deref())?;
            Ok(Manifest::Image {
                config,
                layers: raw.layers,
            })
        }
    }
}

enum Kind {
    Index,
    Image,
}

fn schema1(media_type: &str) -> ManifestError {
    ManifestError::Unsupported {
        media_type: media_type.to_owned(),
        reason: "Docker image manifest schema 1 is deprecated and not read: push the image again \
                 with a current client"
            .to_owned(),
    }
}

/// An image manifest whose config is not an image config is an artifact (a Helm chart, a
/// signature, a WASM module): it has no entrypoint to read.
fn check_config_media_type(media_type: Option<&str>) -> Result<(), ManifestError> {
    match media_type {
        None | Some(mt::DOCKER_CONFIG | mt::OCI_CONFIG) => Ok(()),
        Some(other) => Err(ManifestError::Unsupported {
            media_type: other.to_owned(),
            reason: "the manifest's config is not a container image config: this is an OCI \
                     artifact (a Helm chart, a signature, ...), not an image a container can run"
                .to_owned(),
        }),
    }
}

/// The index entry for `platform`: an exact variant match wins over an implied one. Attestation
/// entries (`unknown/unknown`) are never chosen.
pub fn select_platform<'a>(
    entries: &'a [Descriptor],
    platform: &Platform,
) -> Result<&'a Descriptor, Vec<Platform>> {
    let usable = || {
        entries.iter().filter(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os != "unknown" && p.architecture != "unknown")
        })
    };
    let matching = |d: &&Descriptor| {
        d.platform
            .as_ref()
            .is_some_and(|p| platform.matches(&p.os, &p.architecture, p.variant.as_deref()))
    };
    let exact = usable().filter(matching).find(|d| {
        d.platform.as_ref().and_then(|p| p.variant.as_deref()) == platform.variant.as_deref()
    });
    exact.or_else(|| usable().find(matching)).ok_or_else(|| {
        usable()
            .filter_map(|d| d.platform.as_ref().map(DescriptorPlatform::to_platform))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_header_then_body_then_shape() {
        let image = br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:aa","size":2}}"#;
        assert!(matches!(
            parse(Some("application/vnd.oci.image.manifest.v1+json"), image),
            Ok(Manifest::Image { .. })
        ));
        assert!(matches!(parse(None, image), Ok(Manifest::Image { .. })));
        let index = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(
            parse(Some("application/json; charset=utf-8"), index),
            Ok(Manifest::Index(_))
        ));
        let list = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]}"#;
        assert!(matches!(parse(None, list), Ok(Manifest::Index(_))));
    }

    #[test]
    fn refuses_schema1_artifacts_and_junk() {
        let v1 = br#"{"schemaVersion":1,"name":"x","fsLayers":[]}"#;
        let e = parse(None, v1)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("schema 1"), "{e}");
        let helm = br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":"sha256:aa","size":2}}"#;
        let e = parse(Some(mt::OCI_MANIFEST), helm)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("application/vnd.cncf.helm.config.v1+json") && e.contains("artifact"));
        assert!(parse(Some("application/vnd.oci.artifact.manifest.v1+json"), helm).is_err());
        assert!(matches!(parse(None, b"{}"), Err(ManifestError::Invalid(_))));
        assert!(matches!(
            parse(None, b"<html>"),
            Err(ManifestError::Invalid(_))
        ));
    }

    fn entry(os: &str, arch: &str, variant: Option<&str>, digest: &str) -> Descriptor {
        Descriptor {
            media_type: Some(mt::OCI_MANIFEST.to_owned()),
            digest: digest.to_owned(),
            size: 1,
            urls: Vec::new(),
            platform: Some(DescriptorPlatform {
                os: os.to_owned(),
                architecture: arch.to_owned(),
                variant: variant.map(str::to_owned),
            }),
        }
    }

    #[test]
    fn selects_the_platform() {
        let entries = vec![
            entry("unknown", "unknown", None, "att"),
            entry("linux", "arm", Some("v6"), "arm6"),
            entry("linux", "arm", Some("v7"), "arm7"),
            entry("linux", "arm64", Some("v8"), "arm64"),
            entry("linux", "amd64", None, "amd64"),
        ];
        let pick = |p: &str| {
            Platform::parse(p)
                .ok()
                .and_then(|p| select_platform(&entries, &p).ok())
                .map(|d| d.digest.clone())
        };
        assert_eq!(pick("linux/amd64").as_deref(), Some("amd64"));
        assert_eq!(pick("linux/arm64").as_deref(), Some("arm64"));
        assert_eq!(pick("linux/arm").as_deref(), Some("arm7"));
        assert_eq!(pick("linux/arm/v6").as_deref(), Some("arm6"));
        let missing = select_platform(
            &entries,
            &Platform::parse("linux/s390x").unwrap_or_default(),
        );
        let available = missing.err().unwrap_or_default();
        assert_eq!(
            available.len(),
            4,
            "attestations are not offered: {available:?}"
        );
    }
}
