//! Image references, normalised the way Docker and the kubelet do: `alpine` is
//! `docker.io/library/alpine:latest`, the first path segment is a registry only when it looks
//! like a host (`.`, `:` or `localhost`), and a digest wins over a tag.

use std::fmt;

/// The registry an unqualified name lives on.
pub const DOCKER_HUB: &str = "docker.io";
/// Where Docker Hub's registry API actually answers.
const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// Hosts that are all Docker Hub.
const DOCKER_HUB_ALIASES: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/// A parsed, normalised image reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImageReference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

/// Why a string is not an image reference.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference `{input}`: {reason}")]
pub struct ReferenceError {
    pub input: String,
    pub reason: String,
}

impl ImageReference {
    /// Parses `[registry/]repository[:tag][@digest]`.
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        let fail = |reason: &str| ReferenceError {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(fail("the reference is empty"));
        }
        if trimmed.contains("://") {
            return Err(fail("a reference has no scheme (drop `https://`)"));
        }
        let (name_tag, digest) = match trimmed.rsplit_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (trimmed, None),
        };
        if let Some(d) = digest {
            check_digest(d).map_err(|r| fail(&r))?;
        }
        // A tag is the part after the last `:` that follows the last `/` (else it is a port).
        let last_slash = name_tag.rfind('/');
        let (name, tag) = match name_tag.rfind(':') {
            Some(colon) if last_slash.is_none_or(|s| colon > s) => {
                (&name_tag[..colon], Some(&name_tag[colon + 1..]))
            }
            _ => (name_tag, None),
        };
        if let Some(t) = tag {
            check_tag(t).map_err(|r| fail(&r))?;
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest)) if looks_like_host(first) => (first.to_owned(), rest.to_owned()),
            _ => (DOCKER_HUB.to_owned(), name.to_owned()),
        };
        check_host(&registry).map_err(|r| fail(&r))?;
        let registry = if DOCKER_HUB_ALIASES.contains(&registry.as_str()) {
            DOCKER_HUB.to_owned()
        } else {
            registry
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        check_repository(&repository).map_err(|r| fail(&r))?;
        Ok(Self {
            registry,
            repository,
            tag: tag.map(str::to_owned),
            digest: digest.map(str::to_owned),
        })
    }

    /// The registry as written (normalised): `docker.io`, `ghcr.io`, `localhost:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The host (and port) the registry API answers on: Docker Hub's API is not `docker.io`.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// `library/alpine`, `org/team/app`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag as written, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest as written, if any.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// What to ask the registry for: the digest, else the tag, else `latest`.
    pub fn manifest_reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// `registry/repository`, the key credentials are matched against.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// `registry/repository:tag`, the key a tag is cached under (`latest` when none is written).
    pub fn tagged_name(&self) -> String {
        format!(
            "{}/{}:{}",
            self.registry,
            self.repository,
            self.tag.as_deref().unwrap_or("latest")
        )
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        match (&self.tag, &self.digest) {
            (Some(t), Some(d)) => write!(f, ":{t}@{d}"),
            (None, Some(d)) => write!(f, "@{d}"),
            (Some(t), None) => write!(f, ":{t}"),
            (None, None) => write!(f, ":latest"),
        }
    }
}

/// Docker's rule: the first segment names a registry when it has a `.` or a `:`, or is
/// `localhost`. Upper case never appears in repository names, so it marks a host as well.
fn looks_like_host(segment: &str) -> bool {
    segment.contains(['.', ':'])
        || segment == "localhost"
        || segment.chars().any(|c| c.is_ascii_uppercase())
}

fn check_host(host: &str) -> Result<(), String> {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        // IPv6 literal: `[::1]:5000`.
        let (addr, tail) = rest
            .split_once(']')
            .ok_or_else(|| format!("registry `{host}`: unclosed `[`"))?;
        if addr.is_empty() || !addr.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return Err(format!("registry `{host}`: not an IPv6 address"));
        }
        let port = match tail {
            "" => None,
            t => Some(
                t.strip_prefix(':')
                    .ok_or_else(|| format!("registry `{host}`: junk after `]`"))?,
            ),
        };
        (None, port)
    } else {
        match host.split_once(':') {
            Some((n, p)) => (Some(n), Some(p)),
            None => (Some(host), None),
        }
    };
    if let Some(p) = port
        && (p.is_empty() || p.len() > 5 || !p.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(format!("registry `{host}`: the port must be a number"));
    }
    if let Some(n) = name {
        let ok = !n.is_empty()
            && n.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !ok {
            return Err(format!("registry `{host}` is not a host name"));
        }
    }
    Ok(())
}

/// Path components: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`, joined by `/`.
fn check_repository(repository: &str) -> Result<(), String> {
    if repository.len() > 255 {
        return Err("the repository name is longer than 255 characters".to_owned());
    }
    for component in repository.split('/') {
        if component.is_empty() {
            return Err("the repository name has an empty path component".to_owned());
        }
        if !component_ok(component) {
            return Err(format!(
                "repository component `{component}` must be lower-case letters and digits, \
                 separated by `.`, `_`, `__` or dashes"
            ));
        }
    }
    Ok(())
}

fn component_ok(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    // Separators between alphanumeric runs: one `.`, one or two `_`, or any number of `-`.
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn check_tag(tag: &str) -> Result<(), String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = tag.chars();
    let first_ok = chars.next().is_some_and(word);
    if !first_ok || tag.len() > 128 || !chars.all(|c| word(c) || c == '.' || c == '-') {
        return Err(format!(
            "tag `{tag}` must be up to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`"
        ));
    }
    Ok(())
}

/// `algorithm:hex`, with the lengths of the algorithms registries use.
pub(crate) fn check_digest(digest: &str) -> Result<(), String> {
    let Some((algorithm, encoded)) = digest.split_once(':') else {
        return Err(format!("digest `{digest}` must be `algorithm:hex`"));
    };
    let expected = match algorithm {
        "sha256" => 64,
        "sha512" => 128,
        _ => return Err(format!("digest algorithm `{algorithm}` is not supported")),
    };
    if encoded.len() != expected
        || !encoded
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    {
        return Err(format!(
            "digest `{digest}` must have {expected} lower-case hex digits"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ImageReference {
        match ImageReference::parse(s) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn docker_hub_defaults() {
        let r = parse("alpine");
        assert_eq!(r.registry(), "docker.io");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(r.repository(), "library/alpine");
        assert_eq!(r.manifest_reference(), "latest");
        assert_eq!(r.to_string(), "docker.io/library/alpine:latest");
        assert_eq!(parse("bitnami/redis:7").repository(), "bitnami/redis");
        assert_eq!(parse("docker.io/alpine:3").repository(), "library/alpine");
        assert_eq!(
            parse("index.docker.io/library/alpine").registry(),
            "docker.io"
        );
    }

    #[test]
    fn registries_ports_and_digests() {
        let r = parse("localhost:5000/team/app:1.2");
        assert_eq!(
            (r.registry(), r.repository(), r.tag()),
            ("localhost:5000", "team/app", Some("1.2"))
        );
        let r = parse("localhost/app");
        assert_eq!(r.registry(), "localhost");
        let r = parse("127.0.0.1:5000/app");
        assert_eq!((r.registry(), r.tag()), ("127.0.0.1:5000", None));
        let r = parse(&format!("ghcr.io/org/app:v1@{D}"));
        assert_eq!(r.manifest_reference(), D);
        assert_eq!(r.tag(), Some("v1"));
        assert_eq!(r.to_string(), format!("ghcr.io/org/app:v1@{D}"));
        let r = parse(&format!("[::1]:5000/app@{D}"));
        assert_eq!(r.registry(), "[::1]:5000");
        assert_eq!(
            parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com/app").api_host(),
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
        );
    }

    #[test]
    fn rejects_malformed_references() {
        for bad in [
            "",
            "Alpine",
            "alpine:",
            "alpine:-x",
            "https://ghcr.io/app",
            "ghcr.io/app@sha256:abc",
            "ghcr.io/app@md5:0123",
            "ghcr.io//app",
            "ghcr.io:x/app",
            "my_-_app",
            "ghcr.io/app/",
        ] {
            assert!(
                ImageReference::parse(bad).is_err(),
                "{bad} should be refused"
            );
        }
        let e = ImageReference::parse("ghcr.io/App").err();
        assert!(e.is_some_and(|e| e.to_string().contains("lower-case")));
    }

    #[test]
    fn component_separators() {
        assert!(component_ok("a.b_c__d---e"));
        assert!(!component_ok("a..b"));
        assert!(!component_ok("a___b"));
        assert!(!component_ok("-a"));
    }
}
