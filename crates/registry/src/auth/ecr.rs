//! AWS ECR: registries `<account>.dkr.ecr.<region>.amazonaws.com` take basic auth with user
//! `AWS` and a 12-hour password from `ecr:GetAuthorizationToken`, signed with the standard
//! credential chain. Tokens are cached per registry until shortly before they expire.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use serde::Deserialize;

use super::aws::{AwsCredentialChain, ChainError};
use super::sigv4::{self, Signable};
use super::{BasicCredential, CredentialProvider, Expiring, Provided};
use crate::time;
use crate::transport::{Request, Transport, url_host};

/// The host pattern of ECR private registries.
pub const ECR_HOSTS: [&str; 4] = [
    "*.dkr.ecr.*.amazonaws.com",
    "*.dkr.ecr.*.amazonaws.com.cn",
    "*.dkr.ecr-fips.*.amazonaws.com",
    "*.dkr-ecr.*.on.aws",
];

/// Tokens from `GetAuthorizationToken`.
pub struct EcrProvider {
    chain: Arc<AwsCredentialChain>,
    transport: Arc<Transport>,
    /// For registries whose host does not name a region (a proxy, a test registry).
    region: Option<String>,
    tokens: Mutex<HashMap<String, Expiring<BasicCredential>>>,
}

/// `(account, region)` from an ECR host name.
pub fn parse_host(registry: &str) -> Option<(&str, &str)> {
    let mut labels = registry.split('.');
    let account = labels.next()?;
    let kind = labels.next()?;
    let ecr = labels.next()?;
    let region = labels.next()?;
    (account.chars().all(|c| c.is_ascii_digit())
        && (kind == "dkr" && (ecr == "ecr" || ecr == "ecr-fips") || kind == "dkr-ecr"))
        .then_some((account, if kind == "dkr-ecr" { ecr } else { region }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenAnswer {
    authorization_data: Vec<AuthorizationData>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthorizationData {
    authorization_token: String,
    #[serde(default)]
    expires_at: Option<serde_json::Value>,
}

impl EcrProvider {
    pub(crate) fn new(
        chain: Arc<AwsCredentialChain>,
        transport: Arc<Transport>,
        region: Option<String>,
    ) -> Self {
        Self {
            chain,
            transport,
            region,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    fn fetch(&self, registry: &str, refresh: bool) -> Result<Provided, String> {
        let (account, region) = match parse_host(registry) {
            Some((a, r)) => (Some(a), r.to_owned()),
            None => (
                None,
                self.region
                    .clone()
                    .or_else(|| self.chain.region().map(str::to_owned))
                    .ok_or_else(|| {
                        format!("`{registry}` does not name an AWS region, and none is configured")
                    })?,
            ),
        };
        let credentials = match self.chain.credentials(refresh) {
            Ok(c) => c,
            Err(ChainError::NotFound(tried)) => {
                return Ok(Provided::Unavailable(format!(
                    "no AWS credentials for ECR (tried: {tried})"
                )));
            }
            Err(ChainError::Failed(m)) => return Err(format!("AWS credentials: {m}")),
        };
        let endpoint = self.chain.endpoint_override("ECR").unwrap_or_else(|| {
            let suffix = if region.starts_with("cn-") { ".cn" } else { "" };
            format!("https://api.ecr.{region}.amazonaws.com{suffix}")
        });
        let host = url_host(&endpoint)
            .ok_or_else(|| format!("ECR endpoint `{endpoint}` is not a URL"))?
            .to_owned();
        let body = match account {
            Some(a) => format!(r#"{{"registryIds":["{a}"]}}"#),
            None => "{}".to_owned(),
        };
        let target = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken";
        let content_type = "application/x-amz-json-1.1";
        let signed = sigv4::sign(
            Signable {
                method: "POST",
                path: "/",
                query: "",
                headers: vec![
                    ("content-type".to_owned(), content_type.to_owned()),
                    ("host".to_owned(), host),
                    ("x-amz-target".to_owned(), target.to_owned()),
                ],
                body: body.as_bytes(),
            },
            &credentials,
            &region,
            "ecr",
            time::now(),
        );
        let mut request = Request::post(format!("{endpoint}/"), body.into_bytes())
            .header("Content-Type", content_type)
            .header("X-Amz-Target", target)
            .limit(1 << 20);
        for (name, value) in signed {
            request = request.header(name, value);
        }
        let response = self
            .transport
            .send(request)
            .map_err(|e| format!("ECR GetAuthorizationToken ({endpoint}): {e}"))?;
        if response.status != 200 {
            return Err(format!(
                "ECR GetAuthorizationToken ({endpoint}) with {} credentials answered {}",
                credentials.source,
                response.answer()
            ));
        }
        let answer: TokenAnswer = serde_json::from_slice(&response.body)
            .map_err(|_| "ECR GetAuthorizationToken answered something unexpected".to_owned())?;
        let data = answer
            .authorization_data
            .into_iter()
            .next()
            .ok_or_else(|| "ECR GetAuthorizationToken returned no token".to_owned())?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(data.authorization_token.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| "the ECR token is not base64 of `user:password`".to_owned())?;
        let (user, password) = decoded
            .split_once(':')
            .ok_or_else(|| "the ECR token is not `user:password`".to_owned())?;
        let credential = BasicCredential::new(user, password);
        // The API's timestamps are epoch seconds; a string form is read too. Without one,
        // assume the documented 12 hours.
        let expires_at = match data.expires_at {
            Some(serde_json::Value::Number(n)) => n.as_f64().map(|f| f as u64),
            Some(serde_json::Value::String(s)) => time::parse_rfc3339(&s),
            _ => None,
        }
        .unwrap_or_else(|| time::now() + 12 * 3600);
        if let Ok(mut tokens) = self.tokens.lock() {
            let entry = Expiring::new(credential.clone(), expires_at, time::now());
            if entry.is_fresh(time::now()) {
                tokens.insert(registry.to_owned(), entry);
            }
        }
        Ok(Provided::Credential(credential))
    }
}

impl CredentialProvider for EcrProvider {
    fn describe(&self) -> String {
        "AWS ECR (GetAuthorizationToken)".to_owned()
    }

    fn credential(&self, registry: &str, refresh: bool) -> Result<Provided, String> {
        if !refresh
            && let Ok(tokens) = self.tokens.lock()
            && let Some(t) = tokens.get(registry).filter(|t| t.is_fresh(time::now()))
        {
            return Ok(Provided::Credential(t.value.clone()));
        }
        self.fetch(registry, refresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecr_hosts() {
        assert_eq!(
            parse_host("123456789012.dkr.ecr.eu-west-1.amazonaws.com"),
            Some(("123456789012", "eu-west-1"))
        );
        assert_eq!(
            parse_host("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com"),
            Some(("123456789012", "us-east-1"))
        );
        assert_eq!(
            parse_host("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"),
            Some(("123456789012", "cn-north-1"))
        );
        assert_eq!(parse_host("ghcr.io"), None);
        assert_eq!(parse_host("public.ecr.aws"), None);
    }
}
