//! The standard AWS credential chain, in the SDKs' order: environment keys, web identity
//! (IRSA: `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` through STS), container credentials
//! (EKS Pod Identity and ECS: `AWS_CONTAINER_CREDENTIALS_FULL_URI` / `…_RELATIVE_URI`), the
//! shared credentials file (static keys), and the instance metadata service (IMDSv2, unless
//! `AWS_EC2_METADATA_DISABLED`). Temporary credentials are cached until shortly before they
//! expire.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use super::Expiring;
use crate::environment::Environment;
use crate::time;
use crate::transport::{Request, Transport, encode_component, url_host};

/// AWS access keys. `Debug` never shows the secret or the session token.
#[derive(Clone)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// Unix seconds; `None` for long-lived keys.
    pub expires_at: Option<u64>,
    /// Which link of the chain gave them.
    pub source: &'static str,
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("source", &self.source)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Why the chain gave nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// No link of the chain is configured here.
    #[error("no AWS credentials found (tried: {0})")]
    NotFound(String),
    /// A configured link failed (STS refused the web identity token, say).
    #[error("{0}")]
    Failed(String),
}

/// Resolves and caches credentials from an [`Environment`].
pub struct AwsCredentialChain {
    env: Environment,
    transport: Arc<Transport>,
    /// Metadata endpoints answer at once or not at all: short limits, so a machine outside AWS
    /// does not wait long on the instance metadata address.
    metadata: Transport,
    cached: Mutex<Option<Expiring<AwsCredentials>>>,
}

const TRIED: &str = "environment (AWS_ACCESS_KEY_ID), web identity (AWS_WEB_IDENTITY_TOKEN_FILE), \
    container / pod identity (AWS_CONTAINER_CREDENTIALS_*), shared credentials file, instance \
    metadata";

impl AwsCredentialChain {
    pub(crate) fn new(env: Environment, transport: Arc<Transport>) -> Result<Self, String> {
        let metadata = Transport::for_metadata()?;
        Ok(Self {
            env,
            transport,
            metadata,
            cached: Mutex::new(None),
        })
    }

    /// Credentials from the first link that has them; `refresh` skips the cache.
    pub fn credentials(&self, refresh: bool) -> Result<AwsCredentials, ChainError> {
        let now = time::now();
        if !refresh
            && let Ok(cached) = self.cached.lock()
            && let Some(c) = cached.as_ref().filter(|c| c.is_fresh(now))
        {
            return Ok(c.value.clone());
        }
        let found = self.resolve()?;
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some(Expiring::new(
                found.clone(),
                found.expires_at.unwrap_or(u64::MAX),
                now,
            ));
        }
        Ok(found)
    }

    fn resolve(&self) -> Result<AwsCredentials, ChainError> {
        if let Some(c) = self.environment_keys() {
            return Ok(c);
        }
        if let Some(c) = self.web_identity()? {
            return Ok(c);
        }
        if let Some(c) = self.container()? {
            return Ok(c);
        }
        if let Some(c) = self.profile()? {
            return Ok(c);
        }
        if let Some(c) = self.instance_metadata() {
            return Ok(c);
        }
        Err(ChainError::NotFound(TRIED.to_owned()))
    }

    /// The region calls go to when nothing else says: `AWS_REGION`, `AWS_DEFAULT_REGION`.
    pub fn region(&self) -> Option<&str> {
        self.env
            .get("AWS_REGION")
            .or_else(|| self.env.get("AWS_DEFAULT_REGION"))
    }

    /// `AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL` (the SDKs' endpoint overrides).
    pub fn endpoint_override(&self, service_env: &str) -> Option<String> {
        self.env
            .get(&format!("AWS_ENDPOINT_URL_{service_env}"))
            .or_else(|| self.env.get("AWS_ENDPOINT_URL"))
            .map(|u| u.trim_end_matches('/').to_owned())
    }

    fn environment_keys(&self) -> Option<AwsCredentials> {
        Some(AwsCredentials {
            access_key_id: self.env.get("AWS_ACCESS_KEY_ID")?.to_owned(),
            secret_access_key: self.env.get("AWS_SECRET_ACCESS_KEY")?.to_owned(),
            session_token: self.env.get("AWS_SESSION_TOKEN").map(str::to_owned),
            expires_at: None,
            source: "environment",
        })
    }

    /// IRSA: exchange the projected service-account token for role credentials (unsigned call).
    fn web_identity(&self) -> Result<Option<AwsCredentials>, ChainError> {
        let (Some(token_file), Some(role)) = (
            self.env.get("AWS_WEB_IDENTITY_TOKEN_FILE"),
            self.env.get("AWS_ROLE_ARN"),
        ) else {
            return Ok(None);
        };
        let fail = |m: String| ChainError::Failed(format!("web identity (IRSA): {m}"));
        let token = std::fs::read_to_string(token_file)
            .map_err(|e| fail(format!("reading {token_file}: {e}")))?;
        let session = self
            .env
            .get("AWS_ROLE_SESSION_NAME")
            .map_or_else(|| format!("testwerk-{}", time::now()), str::to_owned);
        let endpoint = self
            .endpoint_override("STS")
            .unwrap_or_else(|| match self.region() {
                Some(r) if r.starts_with("cn-") => format!("https://sts.{r}.amazonaws.com.cn"),
                Some(r) => format!("https://sts.{r}.amazonaws.com"),
                None => "https://sts.amazonaws.com".to_owned(),
            });
        let body = format!(
            "Action=AssumeRoleWithWebIdentity&RoleArn={}&RoleSessionName={}&Version=2011-06-15&WebIdentityToken={}",
            encode_component(role),
            encode_component(&session),
            encode_component(token.trim())
        );
        let response = self
            .transport
            .send(
                Request::post(format!("{endpoint}/"), body.into_bytes())
                    .header("Content-Type", "application/x-www-form-urlencoded"),
            )
            .map_err(|e| fail(format!("STS {endpoint}: {e}")))?;
        let xml = String::from_utf8_lossy(&response.body);
        if response.status != 200 {
            let code = xml_text(&xml, "Code").unwrap_or_default();
            let message = xml_text(&xml, "Message").unwrap_or_default();
            return Err(fail(format!(
                "STS refused AssumeRoleWithWebIdentity for {role}: {} {code} {message}",
                response.status
            )));
        }
        let field = |name: &str| {
            xml_text(&xml, name).ok_or_else(|| fail(format!("the STS answer has no {name}")))
        };
        Ok(Some(AwsCredentials {
            access_key_id: field("AccessKeyId")?,
            secret_access_key: field("SecretAccessKey")?,
            session_token: Some(field("SessionToken")?),
            expires_at: xml_text(&xml, "Expiration").and_then(|e| time::parse_rfc3339(&e)),
            source: "web identity",
        }))
    }

    /// EKS Pod Identity and ECS task roles: a local endpoint hands out credentials.
    fn container(&self) -> Result<Option<AwsCredentials>, ChainError> {
        let url = match (
            self.env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
            self.env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        ) {
            (Some(relative), _) => format!("http://169.254.170.2{relative}"),
            (None, Some(full)) => full.to_owned(),
            (None, None) => return Ok(None),
        };
        let fail = |m: String| ChainError::Failed(format!("container credentials: {m}"));
        if url.starts_with("http://") && !allowed_container_host(url_host(&url).unwrap_or("")) {
            return Err(fail(format!(
                "{url}: plain HTTP is only allowed to loopback or the EKS/ECS agent addresses"
            )));
        }
        let mut request = Request::get(&url).limit(64 << 10);
        let token = match self.env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
            Some(file) => Some(
                std::fs::read_to_string(file)
                    .map_err(|e| fail(format!("reading {file}: {e}")))?
                    .trim()
                    .to_owned(),
            ),
            None => self
                .env
                .get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
                .map(str::to_owned),
        };
        if let Some(t) = token {
            request = request.header("Authorization", t);
        }
        let response = self
            .metadata
            .send(request)
            .map_err(|e| fail(format!("{url}: {e}")))?;
        if response.status != 200 {
            return Err(fail(format!("{url} answered {}", response.answer())));
        }
        parse_json_credentials(&response.body, "container")
            .map(Some)
            .map_err(fail)
    }

    /// Static keys of `[AWS_PROFILE]` (or `[default]`) in the shared credentials file.
    fn profile(&self) -> Result<Option<AwsCredentials>, ChainError> {
        let path = match self.env.get("AWS_SHARED_CREDENTIALS_FILE") {
            Some(p) => PathBuf::from(p),
            None => match self.env.home() {
                Some(h) => h.join(".aws").join("credentials"),
                None => return Ok(None),
            },
        };
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(None);
        };
        let profile = self.env.get("AWS_PROFILE").unwrap_or("default");
        let mut in_profile = false;
        let (mut key, mut secret, mut token) = (None, None, None);
        for line in text.lines().map(str::trim) {
            if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                in_profile = section.trim() == profile;
            } else if in_profile && let Some((k, v)) = line.split_once('=') {
                let v = Some(v.trim().to_owned());
                match k.trim() {
                    "aws_access_key_id" => key = v,
                    "aws_secret_access_key" => secret = v,
                    "aws_session_token" => token = v,
                    _ => {}
                }
            }
        }
        Ok(key.zip(secret).map(|(k, s)| AwsCredentials {
            access_key_id: k,
            secret_access_key: s,
            session_token: token,
            expires_at: None,
            source: "shared credentials file",
        }))
    }

    /// IMDSv2: a session token, the instance role's name, then its credentials.
    fn instance_metadata(&self) -> Option<AwsCredentials> {
        if self.env.is_true("AWS_EC2_METADATA_DISABLED") {
            return None;
        }
        let base = self
            .env
            .get("AWS_EC2_METADATA_SERVICE_ENDPOINT")
            .unwrap_or("http://169.254.169.254")
            .trim_end_matches('/')
            .to_owned();
        let token = self
            .metadata
            .send(
                Request::put(format!("{base}/latest/api/token"), Vec::new())
                    .header("X-aws-ec2-metadata-token-ttl-seconds", "21600"),
            )
            .ok()
            .filter(|r| r.status == 200)
            .map(|r| String::from_utf8_lossy(&r.body).trim().to_owned())?;
        let roles_url = format!("{base}/latest/meta-data/iam/security-credentials/");
        let get = |url: String| {
            self.metadata
                .send(Request::get(url).header("X-aws-ec2-metadata-token", token.clone()))
                .ok()
                .filter(|r| r.status == 200)
        };
        let roles = get(roles_url.clone())?;
        let role = String::from_utf8_lossy(&roles.body)
            .lines()
            .next()?
            .trim()
            .to_owned();
        let creds = get(format!("{roles_url}{role}"))?;
        parse_json_credentials(&creds.body, "instance metadata").ok()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct JsonCredentials {
    access_key_id: String,
    secret_access_key: String,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    expiration: Option<String>,
}

fn parse_json_credentials(body: &[u8], source: &'static str) -> Result<AwsCredentials, String> {
    let c: JsonCredentials = serde_json::from_slice(body)
        .map_err(|_| "the answer is not a credentials document".to_owned())?;
    Ok(AwsCredentials {
        access_key_id: c.access_key_id,
        secret_access_key: c.secret_access_key,
        session_token: c.token.filter(|t| !t.is_empty()),
        expires_at: c.expiration.as_deref().and_then(time::parse_rfc3339),
        source,
    })
}

/// The SDKs allow plain HTTP container endpoints only on these hosts.
fn allowed_container_host(authority: &str) -> bool {
    let host = match authority.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    };
    host == "localhost"
        || host.starts_with("127.")
        || host == "[::1]"
        || host == "169.254.170.2"
        || host == "169.254.170.23"
        || host == "[fd00:ec2::23]"
}

/// The text of the first `<name>…</name>` element.
fn xml_text(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&close)? + start;
    Some(
        xml[start..end]
            .trim()
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(env: Environment) -> Option<AwsCredentialChain> {
        let transport = Arc::new(
            Transport::new(Default::default(), crate::transport::Timeouts::default()).ok()?,
        );
        AwsCredentialChain::new(env, transport).ok()
    }

    #[test]
    fn environment_keys_first() {
        let env = Environment::empty()
            .with("AWS_ACCESS_KEY_ID", "AKIA1")
            .with("AWS_SECRET_ACCESS_KEY", "secret1")
            .with("AWS_EC2_METADATA_DISABLED", "true");
        let c = chain(env).and_then(|c| c.credentials(false).ok());
        assert_eq!(c.as_ref().map(|c| c.source), Some("environment"));
        assert!(!format!("{c:?}").contains("secret1"));
    }

    #[test]
    fn nothing_configured_says_what_was_tried() {
        let env = Environment::empty().with("AWS_EC2_METADATA_DISABLED", "true");
        let e = chain(env).map(|c| c.credentials(false));
        assert!(matches!(e, Some(Err(ChainError::NotFound(_)))));
    }

    #[test]
    fn shared_credentials_file() {
        let dir = tempfile::tempdir().ok();
        let path = dir
            .as_ref()
            .map(|d| d.path().join("credentials"))
            .unwrap_or_default();
        std::fs::write(
            &path,
            "[default]\naws_access_key_id = A\naws_secret_access_key = B\n[ci]\naws_access_key_id=C\naws_secret_access_key=D\n",
        )
        .ok();
        let env = Environment::empty()
            .with("AWS_SHARED_CREDENTIALS_FILE", path.display().to_string())
            .with("AWS_PROFILE", "ci")
            .with("AWS_EC2_METADATA_DISABLED", "true");
        let c = chain(env).and_then(|c| c.credentials(false).ok());
        assert_eq!(c.map(|c| c.access_key_id), Some("C".to_owned()));
    }

    #[test]
    fn container_endpoints_must_be_local_over_http() {
        assert!(allowed_container_host("127.0.0.1:8080"));
        assert!(allowed_container_host("169.254.170.23"));
        assert!(!allowed_container_host("10.0.0.1"));
        let env = Environment::empty()
            .with(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "http://example.com/creds",
            )
            .with("AWS_EC2_METADATA_DISABLED", "true");
        let e = chain(env).map(|c| c.credentials(false));
        assert!(matches!(e, Some(Err(ChainError::Failed(m))) if m.contains("plain HTTP")));
    }

    #[test]
    fn reads_sts_xml() {
        let xml = "<R><Credentials><AccessKeyId>AK</AccessKeyId><SessionToken>a&amp;b</SessionToken></Credentials></R>";
        assert_eq!(xml_text(xml, "AccessKeyId").as_deref(), Some("AK"));
        assert_eq!(xml_text(xml, "SessionToken").as_deref(), Some("a&b"));
        assert_eq!(xml_text(xml, "Nope"), None);
    }
}
