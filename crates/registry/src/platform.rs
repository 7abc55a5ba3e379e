//! The platform an image index is resolved for: the target node's `os/architecture[/variant]`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `linux/amd64`, `linux/arm64/v8`, `linux/arm/v7`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Default for Platform {
    /// Most clusters' nodes: `linux/amd64`.
    fn default() -> Self {
        Self {
            os: "linux".to_owned(),
            architecture: "amd64".to_owned(),
            variant: None,
        }
    }
}

impl Platform {
    /// Parses `os/arch[/variant]`; architecture aliases (`x86_64`, `aarch64`) are normalised.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        };
        match parts.as_slice() {
            [os, arch] | [os, arch, _] if valid(os) && valid(arch) => {
                let variant = parts.get(2).map(|v| (*v).to_owned());
                if variant.as_deref().is_some_and(|v| !valid(v)) {
                    return Err(format!("platform `{text}`: the variant is empty"));
                }
                Ok(Self {
                    os: os.to_ascii_lowercase(),
                    architecture: normalise_arch(arch),
                    variant,
                })
            }
            _ => Err(format!(
                "platform `{text}` must be `os/architecture[/variant]`, like `linux/amd64`"
            )),
        }
    }

    /// The variant an architecture implies when none is written (containerd's rule).
    fn effective_variant(&self) -> Option<&str> {
        match (self.architecture.as_str(), self.variant.as_deref()) {
            (_, Some(v)) => Some(v),
            ("arm64", None) => Some("v8"),
            ("arm", None) => Some("v7"),
            _ => None,
        }
    }

    /// Whether an index entry's platform can run on this one.
    pub fn matches(&self, os: &str, architecture: &str, variant: Option<&str>) -> bool {
        let other = Self {
            os: os.to_ascii_lowercase(),
            architecture: normalise_arch(architecture),
            variant: variant.filter(|v| !v.is_empty()).map(str::to_owned),
        };
        self.os == other.os
            && self.architecture == other.architecture
            && (self.effective_variant() == other.effective_variant()
                // No variant asked for and none implied: any variant of the architecture.
                || (self.variant.is_none() && self.effective_variant().is_none()))
    }
}

fn normalise_arch(arch: &str) -> String {
    match arch.to_ascii_lowercase().as_str() {
        "x86_64" | "x86-64" => "amd64".to_owned(),
        "aarch64" => "arm64".to_owned(),
        "i386" | "i686" => "386".to_owned(),
        other => other.to_owned(),
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        assert_eq!(Platform::parse("linux/amd64"), Ok(Platform::default()));
        assert_eq!(
            Platform::parse("linux/x86_64").map(|p| p.to_string()),
            Ok("linux/amd64".to_owned())
        );
        assert_eq!(
            Platform::parse("linux/arm/v7").map(|p| p.to_string()),
            Ok("linux/arm/v7".to_owned())
        );
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux/amd64/").is_err());
    }

    #[test]
    fn variant_matching() {
        let arm64 = Platform::parse("linux/arm64").unwrap_or_default();
        assert!(arm64.matches("linux", "arm64", Some("v8")));
        assert!(arm64.matches("linux", "arm64", None));
        assert!(!arm64.matches("linux", "amd64", None));
        let arm = Platform::parse("linux/arm").unwrap_or_default();
        assert!(arm.matches("linux", "arm", Some("v7")));
        assert!(!arm.matches("linux", "arm", Some("v6")));
        let amd = Platform::default();
        assert!(amd.matches("linux", "amd64", Some("v3")));
        assert!(!amd.matches("windows", "amd64", None));
    }
}
