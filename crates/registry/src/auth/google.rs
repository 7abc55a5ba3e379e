//! Google Artifact Registry (`*-docker.pkg.dev`) and Container Registry (`gcr.io`): basic auth
//! with user `oauth2accesstoken` and an OAuth2 access token as the password. The token comes
//! from Application Default Credentials: the key file in `GOOGLE_APPLICATION_CREDENTIALS` (a
//! service-account key, signed JWT-bearer grant; or an `authorized_user` refresh token), the
//! gcloud well-known file, or the metadata server (GKE workload identity, GCE).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use base64::Engine;
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;

use super::{BasicCredential, CredentialProvider, Expiring, Provided};
use crate::environment::Environment;
use crate::time;
use crate::transport::{Request, Transport, encode_component};

/// Registries served by Google.
pub const GOOGLE_HOSTS: [&str; 3] = ["*-docker.pkg.dev", "gcr.io", "*.gcr.io"];

/// The user name Google registries expect with an access token.
pub const ACCESS_TOKEN_USER: &str = "oauth2accesstoken";

const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// Access tokens from Application Default Credentials.
pub struct GoogleProvider {
    env: Environment,
    transport: Arc<Transport>,
    metadata: Transport,
    cached: Mutex<Option<Expiring<String>>>,
}

#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    client_email: Option<String>,
    #[serde(default)]
    private_key: Option<String>,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl GoogleProvider {
    pub(crate) fn new(env: Environment, transport: Arc<Transport>) -> Result<Self, String> {
        let metadata = Transport::for_metadata()?;
        Ok(Self {
            env,
            transport,
            metadata,
            cached: Mutex::new(None),
        })
    }

    fn key_file(&self) -> Option<PathBuf> {
        if let Some(p) = self.env.get("GOOGLE_APPLICATION_CREDENTIALS") {
            return Some(PathBuf::from(p));
        }
        let dir = match self.env.get("CLOUDSDK_CONFIG") {
            Some(d) => PathBuf::from(d),
            None => self.env.home()?.join(".config").join("gcloud"),
        };
        Some(dir.join("application_default_credentials.json")).filter(|p| p.is_file())
    }

    /// An access token and its expiry, or why there is none.
    fn fetch(&self) -> Result<Result<(String, u64), String>, String> {
        if let Some(path) = self.key_file() {
            let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let key: KeyFile = serde_json::from_slice(&text)
                .map_err(|_| format!("{} is not a Google credentials file", path.display()))?;
            return match key.kind.as_str() {
                "service_account" => self.service_account(&key).map(Ok),
                "authorized_user" => self.authorized_user(&key).map(Ok),
                other => Err(format!(
                    "{}: credentials of type `{other}` are not supported (use a service-account \
                     key, gcloud user credentials, or workload identity)",
                    path.display()
                )),
            };
        }
        self.metadata_server()
    }

    /// The JWT-bearer grant (RFC 7523): an RS256 assertion signed with the key file's key.
    fn service_account(&self, key: &KeyFile) -> Result<(String, u64), String> {
        let email = key
            .client_email
            .as_deref()
            .ok_or("the service-account key has no client_email")?;
        let pem = key
            .private_key
            .as_deref()
            .ok_or("the service-account key has no private_key")?;
        let token_uri = key.token_uri.as_deref().unwrap_or(DEFAULT_TOKEN_URI);
        let now = time::now();
        let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = &key.private_key_id {
            header["kid"] = serde_json::Value::String(kid.clone());
        }
        let claims = serde_json::json!({
            "iss": email, "scope": SCOPE, "aud": token_uri, "iat": now, "exp": now + 3600,
        });
        let assertion = sign_rs256(&header, &claims, pem.as_bytes())
            .map_err(|e| format!("service account {email}: {e}"))?;
        let body = format!(
            "grant_type={}&assertion={assertion}",
            encode_component("urn:ietf:params:oauth:grant-type:jwt-bearer")
        );
        self.exchange(token_uri, body, &format!("service account {email}"))
    }

    /// gcloud user credentials: a refresh-token grant.
    fn authorized_user(&self, key: &KeyFile) -> Result<(String, u64), String> {
        let field = |v: &Option<String>, name: &str| {
            v.clone()
                .ok_or_else(|| format!("the user credentials have no {name}"))
        };
        let body = format!(
            "grant_type=refresh_token&client_id={}&client_secret={}&refresh_token={}",
            encode_component(&field(&key.client_id, "client_id")?),
            encode_component(&field(&key.client_secret, "client_secret")?),
            encode_component(&field(&key.refresh_token, "refresh_token")?),
        );
        let uri = key.token_uri.as_deref().unwrap_or(DEFAULT_TOKEN_URI);
        self.exchange(uri, body, "gcloud user credentials")
    }

    fn exchange(&self, token_uri: &str, body: String, who: &str) -> Result<(String, u64), String> {
        let response = self
            .transport
            .send(
                Request::post(token_uri, body.into_bytes())
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .limit(1 << 20),
            )
            .map_err(|e| format!("Google token endpoint {token_uri}: {e}"))?;
        if response.status != 200 {
            return Err(format!(
                "Google token endpoint {token_uri} refused {who}: {}",
                response.answer()
            ));
        }
        let answer: TokenAnswer = serde_json::from_slice(&response.body)
            .map_err(|_| format!("Google token endpoint {token_uri} sent no access token"))?;
        Ok((
            answer.access_token,
            time::now() + answer.expires_in.unwrap_or(3600),
        ))
    }

    /// GKE workload identity and GCE: the metadata server's default service account.
    fn metadata_server(&self) -> Result<Result<(String, u64), String>, String> {
        let host = self
            .env
            .get("GCE_METADATA_HOST")
            .unwrap_or("metadata.google.internal");
        let url =
            format!("http://{host}/computeMetadata/v1/instance/service-accounts/default/token");
        let response = match self
            .metadata
            .send(Request::get(&url).header("Metadata-Flavor", "Google"))
        {
            Ok(r) => r,
            Err(e) => {
                return Ok(Err(format!(
                    "no Google credentials: GOOGLE_APPLICATION_CREDENTIALS is unset, there is no \
                     gcloud application-default file, and the metadata server ({host}) did not \
                     answer: {e}"
                )));
            }
        };
        if response.status != 200 {
            return Err(format!(
                "the metadata server ({host}) refused a token: {}",
                response.answer()
            ));
        }
        let answer: TokenAnswer = serde_json::from_slice(&response.body)
            .map_err(|_| format!("the metadata server ({host}) sent no access token"))?;
        Ok(Ok((
            answer.access_token,
            time::now() + answer.expires_in.unwrap_or(3600),
        )))
    }
}

impl CredentialProvider for GoogleProvider {
    fn describe(&self) -> String {
        "Google access token (Application Default Credentials)".to_owned()
    }

    fn credential(&self, _registry: &str, refresh: bool) -> Result<Provided, String> {
        let now = time::now();
        if !refresh
            && let Ok(cached) = self.cached.lock()
            && let Some(t) = cached.as_ref().filter(|t| t.is_fresh(now))
        {
            return Ok(Provided::Credential(BasicCredential::new(
                ACCESS_TOKEN_USER,
                t.value.clone(),
            )));
        }
        match self.fetch()? {
            Ok((token, expires_at)) => {
                if let Ok(mut cached) = self.cached.lock() {
                    *cached = Some(Expiring::new(token.clone(), expires_at, now));
                }
                Ok(Provided::Credential(BasicCredential::new(
                    ACCESS_TOKEN_USER,
                    token,
                )))
            }
            Err(reason) => Ok(Provided::Unavailable(reason)),
        }
    }
}

/// `header.claims.signature`, base64url without padding, RSASSA-PKCS1-v1_5 with SHA-256.
pub(crate) fn sign_rs256(
    header: &serde_json::Value,
    claims: &serde_json::Value,
    pem: &[u8],
) -> Result<String, String> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let der = PrivatePkcs8KeyDer::from_pem_slice(pem)
        .map_err(|_| "the private key is not a PKCS#8 PEM key".to_owned())?;
    let key = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
        .map_err(|e| format!("the private key is not a usable RSA key ({e})"))?;
    let message = format!(
        "{}.{}",
        b64.encode(header.to_string()),
        b64.encode(claims.to_string())
    );
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        message.as_bytes(),
        &mut signature,
    )
    .map_err(|_| "signing the assertion failed".to_owned())?;
    Ok(format!("{message}.{}", b64.encode(signature)))
}
