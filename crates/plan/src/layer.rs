//! What the compiler accumulates beside the stage tree: refs, file ConfigMaps, extra volumes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Volume;

/// Largest content file, and largest ConfigMap we fill (Kubernetes caps objects at 1 MiB).
pub const MAX_CONFIG_MAP_BYTES: usize = 950 * 1024;

/// An immutable ConfigMap holding inline `content.files`, keyed `"0"`, `"1"`, ….
#[derive(Clone, Debug, PartialEq)]
pub struct FilesConfigMap {
    pub name: String,
    /// The Pod volume that mounts it.
    pub volume: String,
    pub default_mode: Option<i32>,
    pub data: BTreeMap<String, String>,
    pub size: usize,
}

#[derive(Debug, Default)]
pub struct Layer {
    next_ref: u32,
    /// Prefix of generated object names: the execution's resource id.
    pub resource_id: String,
    pub config_maps: Vec<FilesConfigMap>,
    /// Volumes beyond the four defaults and the user's own.
    pub volumes: Vec<Volume>,
}

impl Layer {
    pub fn new(resource_id: &str) -> Self {
        Self {
            resource_id: resource_id.to_owned(),
            ..Self::default()
        }
    }

    /// Refs are deterministic (`r1`, `r2`, …) so that the same workflow compiles to the same
    /// objects; they only need to be unique inside one execution, whose objects are already
    /// prefixed by its id.
    pub fn next_ref(&mut self) -> String {
        self.next_ref += 1;
        format!("r{}", radix36(self.next_ref))
    }

    /// A name for a generated volume: volume names only need to be unique in the Pod, and
    /// must stay short (63 characters), so they do not carry the execution id.
    pub fn volume_name(&mut self) -> String {
        let r = self.next_ref();
        format!("tw-{r}")
    }

    /// Stores an inline file and returns (volume name, key) to mount it from.
    pub fn add_file(
        &mut self,
        content: &str,
        mode: Option<i32>,
    ) -> Result<(String, String), String> {
        if content.len() > MAX_CONFIG_MAP_BYTES {
            return Err(format!(
                "the file is {} bytes; the maximum file size is {} bytes (950 KiB)",
                content.len(),
                MAX_CONFIG_MAP_BYTES
            ));
        }
        for cm in &self.config_maps {
            if cm.default_mode == mode
                && let Some((key, _)) = cm.data.iter().find(|(_, v)| v.as_str() == content)
            {
                return Ok((cm.volume.clone(), key.clone()));
            }
        }
        let fits = |cm: &FilesConfigMap| {
            cm.default_mode == mode && cm.size + content.len() <= MAX_CONFIG_MAP_BYTES
        };
        let index = match self.config_maps.iter().position(fits) {
            Some(i) => i,
            None => {
                let n = self.config_maps.len() + 1;
                self.config_maps.push(FilesConfigMap {
                    name: format!("{}-files-{n}", self.resource_id),
                    volume: format!("tw-files-{n}"),
                    default_mode: mode,
                    data: BTreeMap::new(),
                    size: 0,
                });
                self.config_maps.len() - 1
            }
        };
        let cm = &mut self.config_maps[index];
        let key = cm.data.len().to_string();
        cm.data.insert(key.clone(), content.to_owned());
        cm.size += content.len();
        Ok((cm.volume.clone(), key))
    }
}

fn radix36(mut n: u32) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_files_share_one_key_and_different_modes_separate_config_maps() {
        let mut layer = Layer::new("exec");
        let a = layer.add_file("hello", None).ok();
        let b = layer.add_file("hello", None).ok();
        let c = layer.add_file("hello", Some(0o755)).ok();
        assert_eq!(a, b);
        assert_ne!(a.map(|x| x.0), c.map(|x| x.0));
        assert_eq!(layer.config_maps.len(), 2);
    }

    #[test]
    fn oversized_files_are_refused() {
        let mut layer = Layer::new("exec");
        let big = "x".repeat(MAX_CONFIG_MAP_BYTES + 1);
        assert!(layer.add_file(&big, None).is_err());
    }

    #[test]
    fn refs_count_in_base_36() {
        let mut layer = Layer::new("exec");
        let refs: Vec<String> = (0..37).map(|_| layer.next_ref()).collect();
        assert_eq!(refs[0], "r1");
        assert_eq!(refs[35], "r10");
    }
}
