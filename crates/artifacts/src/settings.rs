//! [`StorageSettings`]: where artifacts go, from flags and the environment, without clap (the
//! CLI and the agent both call [`StorageSettings::from_flags`]).

use std::path::{Path, PathBuf};

/// The environment variable naming the artifact storage when no flag does.
pub const LOCATION_ENV: &str = "TESTWERK_ARTIFACTS";

/// The flags a surface offers (`--artifacts`, `--s3-endpoint`, `--s3-region`); `None` falls back
/// to the environment, then to the default.
#[derive(Clone, Debug, Default)]
pub struct StorageFlags {
    /// `s3://bucket[/prefix]`, or a folder.
    pub location: Option<String>,
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
}

/// Where artifacts are stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageSettings {
    /// A folder on this machine: `<root>/<execution>/<step>/<name>`.
    Folder { root: PathBuf },
    /// S3-compatible object storage.
    S3(S3Settings),
}

/// An S3 bucket (AWS, MinIO, moto, …).
#[derive(Clone, PartialEq, Eq)]
pub struct S3Settings {
    pub bucket: String,
    /// Keys start with this (no leading or trailing `/`); may be empty.
    pub prefix: String,
    /// `None`: AWS itself, for `region`.
    pub endpoint: Option<String>,
    pub region: String,
    /// `None`: the SDK's usual chain (web identity, instance metadata).
    pub credentials: Option<S3Credentials>,
}

/// Static credentials. Never printed: `Debug` shows the key id only.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"***")
            .field("session_token", &self.session_token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("credentials", &self.credentials)
            .finish()
    }
}

/// Settings that cannot be used; the message names the flag or variable and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(pub String);

impl StorageSettings {
    /// The default: `artifacts/` beside the results store `store`.
    pub fn beside_store(store: &Path) -> StorageSettings {
        let dir = store.parent().filter(|d| !d.as_os_str().is_empty());
        StorageSettings::Folder {
            root: dir.unwrap_or(Path::new(".")).join("artifacts"),
        }
    }

    /// Reads `flags`, then the environment through `env` (`TESTWERK_ARTIFACTS`,
    /// `AWS_ENDPOINT_URL_S3`/`AWS_ENDPOINT_URL`/`AWS_ENDPOINT`, `AWS_REGION`/`AWS_DEFAULT_REGION`,
    /// `AWS_ACCESS_KEY_ID` with `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`); without a
    /// location, the folder beside the results store `store`.
    pub fn from_flags(
        flags: &StorageFlags,
        store: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<StorageSettings, SettingsError> {
        let var = |name: &str| env(name).filter(|v| !v.is_empty());
        let location = flags.location.clone().or_else(|| var(LOCATION_ENV));
        let Some(location) = location else {
            return Ok(StorageSettings::beside_store(store));
        };
        let Some(rest) = location.strip_prefix("s3://") else {
            if location.contains("://") {
                return Err(SettingsError(format!(
                    "artifact storage `{location}`: only s3:// URLs and folders are supported; \
                     use s3://bucket[/prefix] or a folder path"
                )));
            }
            return Ok(StorageSettings::Folder {
                root: PathBuf::from(location),
            });
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(SettingsError(format!(
                "artifact storage `{location}` names no bucket; use s3://bucket[/prefix]"
            )));
        }
        let endpoint = flags
            .s3_endpoint
            .clone()
            .or_else(|| var("AWS_ENDPOINT_URL_S3"))
            .or_else(|| var("AWS_ENDPOINT_URL"))
            .or_else(|| var("AWS_ENDPOINT"));
        if let Some(e) = &endpoint
            && !(e.starts_with("http://") || e.starts_with("https://"))
        {
            return Err(SettingsError(format!(
                "S3 endpoint `{e}` is not a URL; use e.g. --s3-endpoint http://127.0.0.1:9000"
            )));
        }
        let region = flags
            .s3_region
            .clone()
            .or_else(|| var("AWS_REGION"))
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".to_owned());
        let credentials = match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(access_key_id), Some(secret_access_key)) => Some(S3Credentials {
                access_key_id,
                secret_access_key,
                session_token: var("AWS_SESSION_TOKEN"),
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(SettingsError(
                    "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not; set both, or neither to use the instance's role".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(SettingsError(
                    "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not; set both, or neither to use the instance's role".into(),
                ));
            }
        };
        Ok(StorageSettings::S3(S3Settings {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
            endpoint,
            region,
            credentials,
        }))
    }

    /// Where, for messages (no credentials).
    pub fn describe(&self) -> String {
        match self {
            StorageSettings::Folder { root } => format!("folder {}", root.display()),
            StorageSettings::S3(s) => {
                let mut text = format!("s3://{}", s.bucket);
                if !s.prefix.is_empty() {
                    text.push('/');
                    text.push_str(&s.prefix);
                }
                if let Some(e) = &s.endpoint {
                    text.push_str(&format!(" at {e}"));
                }
                text
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(flags: StorageFlags, env: &[(&str, &str)]) -> Result<StorageSettings, SettingsError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        StorageSettings::from_flags(&flags, Path::new("/var/lib/tw/agent.db"), &|k| {
            env.get(k).cloned()
        })
    }

    #[test]
    fn the_default_is_a_folder_beside_the_store() {
        assert_eq!(
            parse(StorageFlags::default(), &[]).ok(),
            Some(StorageSettings::Folder {
                root: "/var/lib/tw/artifacts".into()
            })
        );
        let flags = StorageFlags {
            location: Some("/srv/a".into()),
            ..Default::default()
        };
        assert_eq!(
            parse(flags, &[(LOCATION_ENV, "s3://x")]).ok(),
            Some(StorageSettings::Folder {
                root: "/srv/a".into()
            }),
            "a flag beats the environment"
        );
    }

    #[test]
    fn s3_takes_bucket_prefix_endpoint_region_and_keys_from_the_environment() {
        let got = parse(
            StorageFlags::default(),
            &[
                (LOCATION_ENV, "s3://bucket/runs/x/"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
                ("AWS_DEFAULT_REGION", "eu-west-1"),
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG"),
            ],
        );
        let Ok(StorageSettings::S3(s)) = got else {
            panic!("{got:?}")
        };
        assert_eq!(
            (s.bucket.as_str(), s.prefix.as_str(), s.region.as_str()),
            ("bucket", "runs/x", "eu-west-1")
        );
        assert_eq!(s.endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        assert!(!format!("{s:?}").contains("wJalrXUtnFEMI"), "{s:?}");
        assert_eq!(
            StorageSettings::S3(s).describe(),
            "s3://bucket/runs/x at http://127.0.0.1:5000"
        );
    }

    #[test]
    fn bad_settings_name_the_fix() {
        for (flags, env, expected) in [
            (Some("s3://"), vec![], "names no bucket"),
            (Some("gs://b"), vec![], "only s3://"),
            (
                Some("s3://b"),
                vec![("AWS_ACCESS_KEY_ID", "AKID")],
                "AWS_SECRET_ACCESS_KEY is not",
            ),
            (
                Some("s3://b"),
                vec![("AWS_ENDPOINT", "127.0.0.1:9000")],
                "is not a URL",
            ),
        ] {
            let flags = StorageFlags {
                location: flags.map(str::to_owned),
                ..Default::default()
            };
            match parse(flags, &env) {
                Err(e) => assert!(e.0.contains(expected), "{e}"),
                Ok(s) => panic!("accepted: {s:?}"),
            }
        }
    }
}
