//! The image metadata seam: the compiler asks for an image's entrypoint, command, working
//! directory and user only when a step needs them.
//!
//! This issue ships a static table (`--images images.yaml`); the registry client plugs in later
//! behind the same trait.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the image config says (`config.Entrypoint`, `Cmd`, `WorkingDir`, `User`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageMetadata {
    #[serde(default)]
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
    #[serde(default)]
    pub working_dir: Option<String>,
    /// `uid[:gid]` or a name, as written in the image.
    #[serde(default)]
    pub user: Option<String>,
}

impl ImageMetadata {
    /// The group the image runs as: the number after `:` in `User`, else 0.
    pub fn group(&self) -> i64 {
        self.user
            .as_deref()
            .and_then(|u| u.split_once(':'))
            .and_then(|(_, g)| g.parse().ok())
            .unwrap_or(0)
    }

    /// The process the image runs when a step gives no command: entrypoint ++ (args or cmd).
    pub fn command_line(&self, args: Option<&[String]>) -> Vec<String> {
        let tail: &[String] = match args {
            Some(a) if !a.is_empty() => a,
            _ => &self.cmd,
        };
        self.entrypoint.iter().chain(tail).cloned().collect()
    }
}

/// Where metadata comes from. `Ok(None)` means "not known here", an `Err` that asking failed.
pub trait ImageSource {
    fn metadata(&self, image: &str) -> Result<Option<ImageMetadata>, String>;
}

/// No metadata at all: steps that need it fail to compile with advice.
pub struct NoImages;

impl ImageSource for NoImages {
    fn metadata(&self, _image: &str) -> Result<Option<ImageMetadata>, String> {
        Ok(None)
    }
}

/// A fixed table, read from YAML: `image reference → metadata`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaticImages {
    pub images: BTreeMap<String, ImageMetadata>,
}

impl StaticImages {
    /// Parses `images: {<ref>: {entrypoint, cmd, workingDir, user}}`.
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        serde_saphyr::from_str(text).map_err(|e| e.to_string())
    }
}

impl ImageSource for StaticImages {
    fn metadata(&self, image: &str) -> Result<Option<ImageMetadata>, String> {
        Ok(self.images.get(image).cloned())
    }
}
