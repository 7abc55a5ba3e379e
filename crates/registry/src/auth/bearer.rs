//! The registry token flow (distribution's "token authentication"): a `401` with
//! `WWW-Authenticate: Bearer realm=…,service=…` sends us to the realm for a token scoped to
//! `repository:<name>:pull`, with our basic credentials if we have any. Tokens are cached per
//! realm, service, scope and credential until shortly before they expire.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Deserialize;

use super::{BasicCredential, Expiring};
use crate::challenge::Challenge;
use crate::time;
use crate::transport::{Request, Transport, encode_component};

/// Tokens by `realm|service|scope|credential`.
#[derive(Default)]
pub(crate) struct TokenCache {
    tokens: Mutex<HashMap<String, Expiring<String>>>,
}

impl TokenCache {
    pub fn get(&self, key: &str) -> Option<String> {
        let now = time::now();
        let tokens = self.tokens.lock().ok()?;
        tokens
            .get(key)
            .filter(|t| t.is_fresh(now))
            .map(|t| t.value.clone())
    }

    pub fn put(&self, key: String, token: String, expires_at: u64) {
        let entry = Expiring::new(token, expires_at, time::now());
        if let Ok(mut tokens) = self.tokens.lock() {
            if entry.is_fresh(time::now()) {
                tokens.insert(key, entry);
            } else {
                tokens.remove(&key);
            }
        }
    }

    pub fn forget(&self, key: &str) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.remove(key);
        }
    }
}

/// Where a token comes from: the challenge's realm and service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TokenService {
    pub realm: String,
    pub service: Option<String>,
}

impl TokenService {
    pub fn from_challenge(c: &Challenge) -> Option<Self> {
        let realm = c.param("realm")?;
        (realm.starts_with("https://") || realm.starts_with("http://")).then(|| Self {
            realm: realm.to_owned(),
            service: c.param("service").map(str::to_owned),
        })
    }

    pub fn cache_key(&self, scope: &str, credential: Option<&BasicCredential>) -> String {
        format!(
            "{}|{}|{scope}|{}",
            self.realm,
            self.service.as_deref().unwrap_or(""),
            credential.map_or_else(|| "anonymous".to_owned(), BasicCredential::fingerprint)
        )
    }
}

/// Why no token was issued.
#[derive(Debug)]
pub(crate) enum TokenError {
    /// The token service said no (`401`/`403`): the credential is wrong.
    Refused(String),
    /// Anything else: unreachable, a server error, an unreadable answer.
    Failed(String),
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Asks the token service for a pull token.
pub(crate) fn fetch(
    transport: &Transport,
    service: &TokenService,
    scope: &str,
    credential: Option<&BasicCredential>,
) -> Result<(String, u64), TokenError> {
    let separator = if service.realm.contains('?') {
        '&'
    } else {
        '?'
    };
    let mut url = format!(
        "{}{separator}scope={}",
        service.realm,
        encode_component(scope)
    );
    if let Some(s) = &service.service {
        url.push_str(&format!("&service={}", encode_component(s)));
    }
    let mut request = Request::get(url).limit(1 << 20);
    if let Some(c) = credential {
        request = request.header("Authorization", c.header());
    }
    let response = transport
        .send(request)
        .map_err(|e| TokenError::Failed(format!("token service {}: {e}", service.realm)))?;
    match response.status {
        200 => {}
        401 | 403 => return Err(TokenError::Refused(response.answer())),
        _ => {
            return Err(TokenError::Failed(format!(
                "token service {} answered {}",
                service.realm,
                response.answer()
            )));
        }
    }
    let parsed: TokenResponse = serde_json::from_slice(&response.body).map_err(|_| {
        TokenError::Failed(format!(
            "token service {} answered with something that is not a token response",
            service.realm
        ))
    })?;
    let token = parsed
        .token
        .or(parsed.access_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            TokenError::Failed(format!("token service {} issued no token", service.realm))
        })?;
    // The spec's minimum lifetime is 60 s when the service does not say.
    let lifetime = parsed.expires_in.unwrap_or(60).max(60);
    Ok((token, time::now() + lifetime))
}
