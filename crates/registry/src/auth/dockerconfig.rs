//! Docker config credentials: `kubernetes.io/dockerconfigjson` (`{"auths": {...}}`) and
//! `kubernetes.io/dockercfg` (the bare map) Secrets, and a local `~/.docker/config.json`.
//! Keys are matched the way the kubelet's keyring does: host labels may be globs (`*.corp`),
//! ports must agree, and a key with a path only matches repositories under it; longer keys win.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Deserialize;

use super::BasicCredential;
use crate::environment::Environment;

/// Base64 with or without padding, as `auth` fields are written both ways.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The credentials of one Docker config, by registry key.
#[derive(Clone, Debug, Default)]
pub struct DockerConfig {
    entries: Vec<AuthEntry>,
}

/// One `auths` entry with usable credentials.
#[derive(Clone, Debug)]
pub(crate) struct AuthEntry {
    /// The key as written (for messages): `https://index.docker.io/v1/`, `ghcr.io/org`.
    pub key: String,
    host: String,
    port: Option<String>,
    path: String,
    pub credential: BasicCredential,
}

/// A Docker config that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DockerConfigError(pub String);

#[derive(Deserialize)]
struct RawEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

impl DockerConfig {
    /// Reads `{"auths": {...}}` or, without `auths`, the `.dockercfg` map itself.
    pub fn from_json(bytes: &[u8]) -> Result<Self, DockerConfigError> {
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| DockerConfigError(format!("not valid JSON: {e}")))?;
        let map = match value.get("auths") {
            Some(auths) => auths.clone(),
            // A config.json that only names credential helpers has no `auths`.
            None if value.get("credHelpers").is_some() || value.get("credsStore").is_some() => {
                serde_json::Value::Object(serde_json::Map::new())
            }
            None => value,
        };
        let raw: BTreeMap<String, RawEntry> = serde_json::from_value(map)
            .map_err(|e| DockerConfigError(format!("`auths` is not a map of credentials: {e}")))?;
        let mut entries = Vec::new();
        for (key, entry) in raw {
            let Some(credential) = entry_credential(&key, &entry)? else {
                continue;
            };
            let (host, port, path) = split_key(&key);
            entries.push(AuthEntry {
                key,
                host,
                port,
                path,
                credential,
            });
        }
        // Longest key first, as the kubelet orders them: the most specific match is tried first.
        entries.sort_by(|a, b| {
            let len = |e: &AuthEntry| e.host.len() + e.path.len();
            len(b).cmp(&len(a)).then_with(|| a.key.cmp(&b.key))
        });
        Ok(Self { entries })
    }

    /// Reads a file: a Docker config JSON, or a Kubernetes `Secret` manifest (YAML or JSON) of
    /// type `kubernetes.io/dockerconfigjson` or `kubernetes.io/dockercfg`.
    pub fn from_file(path: &Path) -> Result<Self, DockerConfigError> {
        let text = std::fs::read(path)
            .map_err(|e| DockerConfigError(format!("{}: {e}", path.display())))?;
        let parsed: Option<serde_json::Value> = serde_saphyr::from_slice(&text).ok();
        let is_secret = parsed
            .as_ref()
            .and_then(|v| v.get("kind"))
            .and_then(|k| k.as_str())
            == Some("Secret");
        let result = match parsed {
            Some(v) if is_secret => secret_manifest(&v),
            _ => Self::from_json(&text),
        };
        result.map_err(|e| DockerConfigError(format!("{}: {e}", path.display())))
    }

    /// The local Docker client's config: `$DOCKER_CONFIG/config.json`, else
    /// `~/.docker/config.json`. `None` when there is none.
    pub fn local(env: &Environment) -> Option<Result<Self, DockerConfigError>> {
        let path = match env.get("DOCKER_CONFIG") {
            Some(dir) => PathBuf::from(dir).join("config.json"),
            None => env.home()?.join(".docker").join("config.json"),
        };
        path.is_file().then(|| Self::from_file(&path))
    }

    /// Whether it holds no usable credentials.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries whose key matches `registry/repository`, most specific first.
    pub(crate) fn matching(&self, registry: &str, repository: &str) -> Vec<&AuthEntry> {
        let (host, port) = split_port(registry);
        self.entries
            .iter()
            .filter(|e| {
                e.port.as_deref() == port
                    && host_matches(&e.host, host)
                    && path_under(&e.path, repository)
            })
            .collect()
    }
}

/// The credential of a `kubernetes.io/dockerconfigjson` or `.dockercfg` Secret's data.
pub(crate) fn from_secret_data(
    secret_type: Option<&str>,
    data: &BTreeMap<String, Vec<u8>>,
) -> Result<DockerConfig, DockerConfigError> {
    match (
        secret_type,
        data.get(".dockerconfigjson"),
        data.get(".dockercfg"),
    ) {
        (Some("kubernetes.io/dockerconfigjson") | None, Some(json), _) => {
            DockerConfig::from_json(json)
        }
        (Some("kubernetes.io/dockercfg") | None, _, Some(cfg)) => DockerConfig::from_json(cfg),
        (Some(t), _, _) => Err(DockerConfigError(format!(
            "a Secret of type `{t}` holds no registry credentials (expected \
             kubernetes.io/dockerconfigjson with `.dockerconfigjson`, or kubernetes.io/dockercfg \
             with `.dockercfg`)"
        ))),
        (None, None, None) => Err(DockerConfigError(
            "the Secret has neither `.dockerconfigjson` nor `.dockercfg`".to_owned(),
        )),
    }
}

/// A Secret manifest: `data` is base64, `stringData` plain.
fn secret_manifest(v: &serde_json::Value) -> Result<DockerConfig, DockerConfigError> {
    let mut data = BTreeMap::new();
    if let Some(map) = v.get("data").and_then(|d| d.as_object()) {
        for (k, val) in map {
            let encoded = val.as_str().unwrap_or_default();
            let bytes = LENIENT
                .decode(encoded.trim())
                .map_err(|_| DockerConfigError(format!("Secret data `{k}` is not base64")))?;
            data.insert(k.clone(), bytes);
        }
    }
    if let Some(map) = v.get("stringData").and_then(|d| d.as_object()) {
        for (k, val) in map {
            data.insert(
                k.clone(),
                val.as_str().unwrap_or_default().as_bytes().to_vec(),
            );
        }
    }
    from_secret_data(v.get("type").and_then(|t| t.as_str()), &data)
}

fn entry_credential(key: &str, e: &RawEntry) -> Result<Option<BasicCredential>, DockerConfigError> {
    if let Some(auth) = e.auth.as_deref().filter(|a| !a.is_empty()) {
        // Never echo the value: it is the password.
        let decoded = LENIENT
            .decode(auth.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                DockerConfigError(format!(
                    "the `auth` of `{key}` is not base64 of `user:password`"
                ))
            })?;
        let (user, password) = decoded.split_once(':').ok_or_else(|| {
            DockerConfigError(format!("the `auth` of `{key}` is not `user:password`"))
        })?;
        return Ok(Some(BasicCredential::new(user, password)));
    }
    match (&e.username, &e.password) {
        (Some(u), Some(p)) if !u.is_empty() => Ok(Some(BasicCredential::new(u, p))),
        _ => Ok(None),
    }
}

/// `https://index.docker.io/v1/` → (`docker.io`, None, ``); `reg:5000/team` → (`reg`, 5000, `team`).
fn split_key(key: &str) -> (String, Option<String>, String) {
    let schemeless = key
        .split_once("://")
        .map_or(key, |(_, rest)| rest)
        .trim_end_matches('/');
    let (authority, path) = schemeless.split_once('/').unwrap_or((schemeless, ""));
    // `…/v1` and `…/v2` name the API, not a repository path.
    let path = match path {
        "v1" | "v2" => "",
        p => p,
    };
    let (host, port) = split_port(authority);
    let host = host.to_ascii_lowercase();
    let host = match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".to_owned()
        }
        _ => host,
    };
    (host, port.map(str::to_owned), path.to_owned())
}

fn split_port(authority: &str) -> (&str, Option<&str>) {
    if authority.starts_with('[') {
        return match authority.rsplit_once("]:") {
            Some((h, p)) => (&authority[..h.len() + 1], Some(p)),
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    }
}

/// Label by label, each label a glob (`*` and `?`), as the kubelet matches.
fn host_matches(pattern: &str, host: &str) -> bool {
    let p: Vec<&str> = pattern.split('.').collect();
    let h: Vec<&str> = host.split('.').collect();
    p.len() == h.len()
        && p.iter()
            .zip(&h)
            .all(|(p, h)| glob(p.as_bytes(), h.as_bytes()))
}

pub(crate) fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pattern[1..], text) || (!text.is_empty() && glob(pattern, &text[1..]))
        }
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p.eq_ignore_ascii_case(t) => glob(&pattern[1..], &text[1..]),
        _ => false,
    }
}

fn path_under(prefix: &str, repository: &str) -> bool {
    prefix.is_empty()
        || repository == prefix
        || repository
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn users(cfg: &DockerConfig, registry: &str, repo: &str) -> Vec<String> {
        cfg.matching(registry, repo)
            .iter()
            .map(|e| e.credential.username.clone())
            .collect()
    }

    #[test]
    fn dockerconfigjson_and_dockercfg() {
        let json = format!(
            r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{}"}},"ghcr.io":{{"username":"u2","password":"p2"}},"ghcr.io/team":{{"auth":"{}"}}}}}}"#,
            b64("hub:pw"),
            b64("team:pw").trim_end_matches('=')
        );
        let cfg = DockerConfig::from_json(json.as_bytes()).unwrap_or_default();
        assert_eq!(users(&cfg, "docker.io", "library/alpine"), ["hub"]);
        assert_eq!(users(&cfg, "ghcr.io", "team/app"), ["team", "u2"]);
        assert_eq!(users(&cfg, "ghcr.io", "teamster/app"), ["u2"]);
        assert!(users(&cfg, "quay.io", "x").is_empty());

        let dockercfg = format!(
            r#"{{"reg.corp:5000":{{"auth":"{}","email":"x@y"}}}}"#,
            b64("c:p")
        );
        let cfg = DockerConfig::from_json(dockercfg.as_bytes()).unwrap_or_default();
        assert_eq!(users(&cfg, "reg.corp:5000", "a"), ["c"]);
        assert!(users(&cfg, "reg.corp", "a").is_empty(), "ports must agree");
    }

    #[test]
    fn globs_and_errors_without_secrets() {
        let json = format!(
            r#"{{"auths":{{"*.corp.example":{{"auth":"{}"}}}}}}"#,
            b64("w:p")
        );
        let cfg = DockerConfig::from_json(json.as_bytes()).unwrap_or_default();
        assert_eq!(users(&cfg, "reg.corp.example", "a"), ["w"]);
        assert!(users(&cfg, "a.reg.corp.example", "a").is_empty());

        let bad = r#"{"auths":{"r.io":{"auth":"hunter2-not-base64!"}}}"#;
        let e = DockerConfig::from_json(bad.as_bytes())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("r.io") && !e.contains("hunter2"), "{e}");
    }

    #[test]
    fn secret_manifests() {
        let inner = format!(r#"{{"auths":{{"r.io":{{"auth":"{}"}}}}}}"#, b64("s:p"));
        let yaml = format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: regcred}}\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {}\n",
            b64(&inner)
        );
        let dir = tempfile::tempdir().ok();
        let path = dir
            .as_ref()
            .map(|d| d.path().join("secret.yaml"))
            .unwrap_or_default();
        std::fs::write(&path, yaml).ok();
        let cfg = DockerConfig::from_file(&path).unwrap_or_default();
        assert_eq!(users(&cfg, "r.io", "x"), ["s"]);

        let mut data = BTreeMap::new();
        data.insert("token".to_owned(), b"x".to_vec());
        assert!(from_secret_data(Some("kubernetes.io/service-account-token"), &data).is_err());
    }
}
