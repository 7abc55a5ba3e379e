//! HTTP for everything this crate talks to (registries, token services, cloud credential
//! endpoints): one connection pool per TLS setting, plain HTTP only for hosts configured as
//! insecure, custom CA bundles added to Mozilla's roots, bounded bodies, and error texts that
//! never carry a URL's query (presigned blob URLs hold signatures).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use ureq::Agent;
use ureq::config::RedirectAuthHeaders;
use ureq::http::{self, Method};
use ureq::tls::{Certificate, RootCerts, TlsConfig};

/// How to reach one registry host (`host[:port]`, as in image references).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostSettings {
    /// Speak plain HTTP (an "insecure registry").
    pub plain_http: bool,
    /// PEM file with CA certificates to trust for this host, in addition to Mozilla's roots.
    pub ca_bundle: Option<PathBuf>,
    /// Accept any certificate (for throwaway registries only).
    pub skip_tls_verify: bool,
}

/// Time limits for one HTTP exchange.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub connect: Duration,
    /// The whole exchange, redirects and body included.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            total: Duration::from_secs(30),
        }
    }
}

/// A request; `limit` bounds the response body.
pub(crate) struct Request {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Vec<u8>>,
    pub limit: u64,
}

impl Request {
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            method: Method::GET,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            limit: 4 << 20,
        }
    }

    pub fn head(url: impl Into<String>) -> Self {
        Self {
            method: Method::HEAD,
            ..Self::get(url)
        }
    }

    pub fn post(url: impl Into<String>, body: Vec<u8>) -> Self {
        Self {
            method: Method::POST,
            body: Some(body),
            ..Self::get(url)
        }
    }

    pub fn put(url: impl Into<String>, body: Vec<u8>) -> Self {
        Self {
            method: Method::PUT,
            body: Some(body),
            ..Self::get(url)
        }
    }

    #[must_use]
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    #[must_use]
    pub fn limit(mut self, bytes: u64) -> Self {
        self.limit = bytes;
        self
    }
}

/// A response, body read.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    /// What the server said, for an error message: its status and, when the body is a registry
    /// or OAuth error document, the codes and messages in it. Never the raw body.
    pub fn answer(&self) -> String {
        let reason = http::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let mut out = format!("{} {reason}", self.status).trim_end().to_owned();
        if let Some(details) = error_details(&self.body) {
            out.push_str(": ");
            out.push_str(&details);
        }
        out
    }
}

/// `{"errors":[{"code","message"}]}` (distribution) or `{"error","error_description"}` (OAuth)
/// or AWS's `{"__type","message"}`, shortened.
fn error_details(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|s| s.as_str()).map(str::to_owned);
    let mut parts = Vec::new();
    if let Some(errors) = v.get("errors").and_then(|e| e.as_array()) {
        for e in errors.iter().take(3) {
            match (text(e, "code"), text(e, "message")) {
                (Some(c), Some(m)) => parts.push(format!("{c}: {m}")),
                (Some(c), None) => parts.push(c),
                (None, Some(m)) => parts.push(m),
                (None, None) => {}
            }
        }
    }
    for (code, message) in [("error", "error_description"), ("__type", "message")] {
        match (
            text(&v, code),
            text(&v, message).or_else(|| text(&v, "Message")),
        ) {
            (Some(c), Some(m)) => parts.push(format!("{c}: {m}")),
            (Some(c), None) => parts.push(c),
            _ => {}
        }
    }
    let joined = parts.join("; ");
    (!joined.is_empty()).then(|| shorten(&joined, 300))
}

pub(crate) fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// A request that got no HTTP answer: refused, timed out, TLS, DNS, too large.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

/// Builds and keeps one agent per distinct TLS setting.
pub(crate) struct Transport {
    hosts: BTreeMap<String, HostSettings>,
    timeouts: Timeouts,
    user_agent: String,
    agents: Mutex<HashMap<String, Agent>>,
    /// Mozilla's roots, converted on first need: only hosts with a CA bundle use them.
    mozilla: OnceLock<Vec<Certificate<'static>>>,
}

impl Transport {
    /// A client for cloud metadata endpoints (instance metadata, workload identity): on a
    /// machine without them the connection must fail fast instead of stalling a lookup.
    pub(crate) fn for_metadata() -> Result<Self, String> {
        Self::new(
            Default::default(),
            Timeouts {
                connect: std::time::Duration::from_secs(1),
                total: std::time::Duration::from_secs(3),
            },
        )
    }

    pub fn new(hosts: BTreeMap<String, HostSettings>, timeouts: Timeouts) -> Result<Self, String> {
        // Fail at start-up, not at the first lookup, on an unreadable CA bundle.
        for (host, settings) in &hosts {
            if let Some(path) = &settings.ca_bundle {
                load_bundle(path).map_err(|e| format!("registry host `{host}`: {e}"))?;
            }
        }
        Ok(Self {
            hosts,
            timeouts,
            user_agent: format!("testwerk/{}", env!("CARGO_PKG_VERSION")),
            agents: Mutex::new(HashMap::new()),
            mozilla: OnceLock::new(),
        })
    }

    /// `https://host` or, for an insecure registry, `http://host`.
    pub fn base_url(&self, host: &str) -> String {
        let plain = self.hosts.get(host).is_some_and(|h| h.plain_http);
        format!("{}://{host}", if plain { "http" } else { "https" })
    }

    fn agent_for(&self, url: &str) -> Result<Agent, TransportError> {
        let host = url_host(url);
        let settings = host
            .and_then(|h| self.hosts.get(h))
            .cloned()
            .unwrap_or_default();
        let key = if settings.ca_bundle.is_some() || settings.skip_tls_verify {
            host.unwrap_or_default().to_owned()
        } else {
            String::new()
        };
        let mut agents = self
            .agents
            .lock()
            .map_err(|_| TransportError("the HTTP client is poisoned".to_owned()))?;
        if let Some(agent) = agents.get(&key) {
            return Ok(agent.clone());
        }
        let mut tls = TlsConfig::builder().disable_verification(settings.skip_tls_verify);
        if let Some(path) = &settings.ca_bundle {
            let mut roots = load_bundle(path).map_err(TransportError)?;
            let mozilla = self.mozilla.get_or_init(|| {
                webpki_root_certs::TLS_SERVER_ROOT_CERTS
                    .iter()
                    .map(|c| Certificate::from_der(c.as_ref()).to_owned())
                    .collect()
            });
            roots.extend(mozilla.iter().cloned());
            tls = tls.root_certs(RootCerts::Specific(Arc::new(roots)));
        }
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(self.timeouts.connect))
            .timeout_global(Some(self.timeouts.total))
            .max_redirects(5)
            // Blob redirects go to storage (S3, a CDN) that must not see registry credentials.
            .redirect_auth_headers(RedirectAuthHeaders::SameHost)
            .user_agent(self.user_agent.as_str())
            .tls_config(tls.build())
            .build()
            .into();
        agents.insert(key, agent.clone());
        Ok(agent)
    }

    pub fn send(&self, request: Request) -> Result<Response, TransportError> {
        self.exchange(request, None).map(|(response, _)| response)
    }

    /// Sends `request`. With `stream` (a time limit for the whole exchange, body included), a
    /// success's body is handed back unread, to be streamed; anything else is read (bounded
    /// by the request's limit) into the response, as [`send`](Self::send) does.
    pub fn exchange(
        &self,
        request: Request,
        stream: Option<Duration>,
    ) -> Result<(Response, Option<ureq::Body>), TransportError> {
        let agent = self.agent_for(&request.url)?;
        let mut builder = http::Request::builder()
            .method(request.method.clone())
            .uri(&request.url);
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        let configure = |r| match stream {
            Some(limit) => agent
                .configure_request(r)
                .timeout_global(Some(limit))
                .build(),
            None => r,
        };
        let result = match request.body {
            Some(body) => builder
                .body(body)
                .map_err(|e| TransportError(redact_urls(&e.to_string())))
                .and_then(|r| {
                    let r = match stream {
                        Some(limit) => agent
                            .configure_request(r)
                            .timeout_global(Some(limit))
                            .build(),
                        None => r,
                    };
                    agent.run(r).map_err(describe)
                }),
            None => builder
                .body(())
                .map_err(|e| TransportError(redact_urls(&e.to_string())))
                .and_then(|r| agent.run(configure(r)).map_err(describe)),
        };
        let response = result?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = response.into_body();
        if stream.is_some() && (200..300).contains(&status) {
            let response = Response {
                status,
                headers,
                body: Vec::new(),
            };
            return Ok((response, Some(body)));
        }
        let body = if request.method == Method::HEAD {
            Vec::new()
        } else {
            body.with_config()
                .limit(request.limit)
                .read_to_vec()
                .map_err(describe)?
        };
        Ok((
            Response {
                status,
                headers,
                body,
            },
            None,
        ))
    }
}

/// What went wrong reading a streamed body, in the words of [`TransportError`].
pub(crate) fn describe_io(e: &std::io::Error) -> String {
    // ureq wraps its own errors (timeouts) in i/o errors while a body is read.
    redact_urls(&e.to_string())
}

fn load_bundle(path: &std::path::Path) -> Result<Vec<Certificate<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("CA bundle {}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("CA bundle {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("CA bundle {} holds no certificate", path.display()));
    }
    Ok(certs
        .iter()
        .map(|c| Certificate::from_der(c.as_ref()).to_owned())
        .collect())
}

/// `host[:port]` of an absolute URL.
pub(crate) fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    Some(authority.rsplit_once('@').map_or(authority, |(_, h)| h))
}

fn describe(e: ureq::Error) -> TransportError {
    let text = match &e {
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
            std::io::ErrorKind::ConnectionReset => "connection reset".to_owned(),
            // rustls reports handshake failures as i/o errors.
            _ if looks_like_tls(&io.to_string()) => format!("TLS: {io}{TLS_HINT}"),
            _ => format!("i/o error: {io}"),
        },
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::HostNotFound => "host not found (DNS)".to_owned(),
        ureq::Error::BodyExceedsLimit(n) => format!("the response is larger than {n} bytes"),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => format!("TLS: {e}{TLS_HINT}"),
        _ => e.to_string(),
    };
    TransportError(redact_urls(&text))
}

const TLS_HINT: &str = " (a private CA needs a CA bundle for this host; a plain-HTTP \
    registry must be configured as insecure)";

fn looks_like_tls(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    [
        "certificate",
        "tls",
        "handshake",
        "corrupt message",
        "invalidcontenttype",
    ]
    .iter()
    .any(|w| t.contains(w))
}

/// Drops the query of anything URL-shaped: presigned URLs carry credentials there.
pub(crate) fn redact_urls(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.contains("://")
                && let Some((before, _)) = word.split_once('?')
            {
                format!("{before}?…")
            } else {
                word.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Percent-encodes a query component (RFC 3986 unreserved characters stay).
pub(crate) fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_show_codes_not_bodies() {
        let r = Response {
            status: 404,
            headers: http::HeaderMap::new(),
            body: br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#.to_vec(),
        };
        assert_eq!(
            r.answer(),
            "404 Not Found: MANIFEST_UNKNOWN: manifest unknown"
        );
        let r = Response {
            status: 401,
            headers: http::HeaderMap::new(),
            body: b"<html>secret page</html>".to_vec(),
        };
        assert_eq!(r.answer(), "401 Unauthorized");
        let r = Response {
            status: 400,
            headers: http::HeaderMap::new(),
            body: br#"{"error":"invalid_grant","error_description":"bad signature"}"#.to_vec(),
        };
        assert_eq!(r.answer(), "400 Bad Request: invalid_grant: bad signature");
    }

    #[test]
    fn urls() {
        assert_eq!(url_host("https://a.b:5000/v2/x?y"), Some("a.b:5000"));
        assert_eq!(url_host("http://[::1]:80"), Some("[::1]:80"));
        assert_eq!(
            redact_urls("GET https://s3/blob?X-Amz-Signature=abc failed"),
            "GET https://s3/blob?… failed"
        );
        assert_eq!(
            encode_component("repository:a/b:pull"),
            "repository%3Aa%2Fb%3Apull"
        );
    }
}
