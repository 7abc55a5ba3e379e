//! What an image's config blob says about how its container starts.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The parts of an image config a plan needs (`config.Entrypoint`, `Cmd`, `WorkingDir`, `User`,
/// `Env`), plus the platform the config was built for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageConfig {
    #[serde(default)]
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
    /// `None` when the image leaves it empty (the container runtime then starts in `/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// `None` when the image leaves it empty (root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<ImageUser>,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
}

/// `User` as the image writes it: `uid`, `uid:gid`, `name`, `name:group`, ...
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ImageUser(pub String);

/// Numeric ids of an image's user. `gid` is `None` when the image names only a user: the
/// runtime then takes the group from the image's `/etc/passwd` (0 when the user is not there).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct UserIds {
    pub uid: u32,
    pub gid: Option<u32>,
}

/// A `User` that names a user or group instead of giving ids.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the image runs as `{user}`, and {what} is a name: its id is in the image's /etc/{file}, \
     which is not read from the registry (it is inside a layer); set \
     securityContext.runAsUser and runAsGroup on the step or pod to give the ids"
)]
pub struct UserNameError {
    pub user: String,
    /// `the user \`postgres\`` or `the group \`staff\``.
    pub what: String,
    pub file: &'static str,
}

impl ImageUser {
    /// The ids, or why they cannot be known without the image's files.
    pub fn ids(&self) -> Result<UserIds, UserNameError> {
        let (user, group) = match self.0.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (self.0.as_str(), None),
        };
        let named = |what: String, file| UserNameError {
            user: self.0.clone(),
            what,
            file,
        };
        let uid = user
            .parse::<u32>()
            .map_err(|_| named(format!("the user `{user}`"), "passwd"))?;
        let gid = match group.filter(|g| !g.is_empty()) {
            Some(g) => Some(
                g.parse::<u32>()
                    .map_err(|_| named(format!("the group `{g}`"), "group"))?,
            ),
            None => None,
        };
        Ok(UserIds { uid, gid })
    }
}

impl fmt::Display for ImageUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The config blob, as far as we read it. Docker writes `null` for empty lists.
#[derive(Deserialize)]
struct RawConfigBlob {
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    config: Option<RawContainerConfig>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct RawContainerConfig {
    #[serde(default)]
    entrypoint: Option<Vec<String>>,
    #[serde(default)]
    cmd: Option<Vec<String>>,
    #[serde(default)]
    working_dir: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    env: Option<Vec<String>>,
}

impl ImageConfig {
    /// Reads a config blob (`application/vnd.oci.image.config.v1+json` or Docker's).
    pub fn from_blob(blob: &[u8]) -> Result<Self, String> {
        let raw: RawConfigBlob = serde_json::from_slice(blob)
            .map_err(|e| format!("the image config is not valid JSON: {e}"))?;
        let c = raw.config.unwrap_or_default();
        let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
        Ok(Self {
            entrypoint: c.entrypoint.unwrap_or_default(),
            cmd: c.cmd.unwrap_or_default(),
            working_dir: non_empty(c.working_dir),
            user: non_empty(c.user).map(ImageUser),
            env: c.env.unwrap_or_default(),
            os: non_empty(raw.os),
            architecture: non_empty(raw.architecture),
        })
    }

    /// The numeric ids, `Ok(None)` for an image that runs as root by default.
    pub fn user_ids(&self) -> Result<Option<UserIds>, UserNameError> {
        self.user.as_ref().map(ImageUser::ids).transpose()
    }

    /// The compiler's view of this config.
    pub fn to_plan_metadata(&self) -> testwerk_plan::ImageMetadata {
        testwerk_plan::ImageMetadata {
            entrypoint: self.entrypoint.clone(),
            cmd: self.cmd.clone(),
            working_dir: self.working_dir.clone(),
            user: self.user.as_ref().map(|u| u.0.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_docker_and_oci_configs() {
        let blob = br#"{"architecture":"amd64","os":"linux","config":{"User":"1000:2000","Env":["PATH=/bin"],"Entrypoint":["/entry"],"Cmd":["run"],"WorkingDir":"/app"}}"#;
        let c = ImageConfig::from_blob(blob).unwrap_or_default();
        assert_eq!(c.entrypoint, ["/entry"]);
        assert_eq!(c.cmd, ["run"]);
        assert_eq!(c.working_dir.as_deref(), Some("/app"));
        assert_eq!(c.env, ["PATH=/bin"]);
        assert_eq!(
            c.user_ids(),
            Ok(Some(UserIds {
                uid: 1000,
                gid: Some(2000)
            }))
        );
        let m = c.to_plan_metadata();
        assert_eq!(m.group(), 2000);

        let nulls = br#"{"config":{"Entrypoint":null,"Cmd":null,"WorkingDir":"","User":""}}"#;
        let c = ImageConfig::from_blob(nulls).unwrap_or_default();
        assert_eq!(c, ImageConfig::default());
        assert_eq!(c.user_ids(), Ok(None));
        assert!(ImageConfig::from_blob(b"{}").is_ok());
        assert!(ImageConfig::from_blob(b"[1]").is_err());
    }

    #[test]
    fn user_names_are_reported_not_guessed() {
        let ids = |u: &str| ImageUser(u.to_owned()).ids();
        assert_eq!(ids("0"), Ok(UserIds { uid: 0, gid: None }));
        assert_eq!(
            ids("65532:"),
            Ok(UserIds {
                uid: 65532,
                gid: None
            })
        );
        let e = ids("postgres")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("the user `postgres` is a name"), "{e}");
        assert!(e.contains("/etc/passwd") && e.contains("runAsUser"), "{e}");
        let e = ids("1000:staff")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("the group `staff`") && e.contains("/etc/group"),
            "{e}"
        );
    }
}
