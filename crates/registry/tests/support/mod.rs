//! Real parts for the tests: Debian's `docker-registry` (distribution 2.8) on free loopback
//! ports, a CA and certificates made with the `openssl` CLI, a token server signing JWTs the
//! registry trusts, small HTTP stubs (tiny_http), and moto's AWS emulator. Every process is
//! stopped by a drop guard, also when a test fails.
//!
//! A missing tool is a counted skip (testwerk-testinputs), except under CI (`CI` set), where it
//! fails: `scripts/test` installs them.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use base64::Engine;
use ring::digest;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

pub const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
pub const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A tool the tests need, or `None` when it is missing outside CI: a counted skip, on which
/// the test returns ([`testwerk_testinputs::available`]).
pub fn require(what: &str, found: Option<PathBuf>, install: &str) -> Option<PathBuf> {
    testwerk_testinputs::available(found, what, install)
}

use testwerk_testinputs::which;

/// `docker-registry` and free ports come from the shared test registry crate.
pub use testwerk_testregistry::{free_port, registry_binary};

pub fn openssl() -> Option<PathBuf> {
    require("openssl", which("openssl"), "apt-get install -y openssl")
}

pub use testwerk_testinputs::moto_python;

fn wait_for_port(port: u16, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on port {port}");
}

pub fn sha256(bytes: &[u8]) -> String {
    let d = digest::digest(&digest::SHA256, bytes);
    format!(
        "sha256:{}",
        d.as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

// ---------------------------------------------------------------------------------------------
// Certificates and keys.

/// A CA and a server certificate for 127.0.0.1, a token-signing key with its self-signed
/// certificate, and an RSA key for a Google service account.
pub struct Pki {
    pub dir: PathBuf,
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub token_cert: PathBuf,
    pub token_key: PathBuf,
}

fn openssl_run(openssl: &Path, dir: &Path, args: &[&str]) {
    let out = Command::new(openssl)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Pki {
    pub fn new(dir: &Path) -> Option<Self> {
        let openssl = openssl()?;
        let run = |args: &[&str]| openssl_run(&openssl, dir, args);
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=testwerk test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ]);
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ]);
        // The token signer: a self-signed certificate the registry trusts as a root.
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "token.key",
            "-out",
            "token.crt",
            "-days",
            "2",
            "-subj",
            "/CN=testwerk token signer",
            "-addext",
            "keyUsage=critical,digitalSignature,keyCertSign",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
        ]);
        Some(Self {
            dir: dir.to_owned(),
            ca_cert: dir.join("ca.crt"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            token_cert: dir.join("token.crt"),
            token_key: dir.join("token.key"),
        })
    }

    /// A new RSA key pair: (PKCS#8 PEM private key, PKCS#1 DER public key for ring).
    pub fn rsa_key(&self, name: &str) -> (String, Vec<u8>) {
        let openssl = openssl().expect("openssl");
        let key = format!("{name}.pem");
        let public = format!("{name}.pub.der");
        openssl_run(
            &openssl,
            &self.dir,
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                &key,
            ],
        );
        openssl_run(
            &openssl,
            &self.dir,
            &[
                "rsa",
                "-in",
                &key,
                "-RSAPublicKey_out",
                "-outform",
                "DER",
                "-out",
                &public,
            ],
        );
        (
            std::fs::read_to_string(self.dir.join(key)).unwrap(),
            std::fs::read(self.dir.join(public)).unwrap(),
        )
    }

    fn pem_der(path: &Path) -> Vec<u8> {
        let text = std::fs::read_to_string(path).unwrap();
        let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        B64.decode(body).unwrap()
    }

    /// An HTTP client that trusts the test CA (for pushing to TLS registries).
    pub fn agent(&self) -> ureq::Agent {
        let ca = Certificate::from_der(&Self::pem_der(&self.ca_cert)).to_owned();
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(
                TlsConfig::builder()
                    .root_certs(RootCerts::Specific(Arc::new(vec![ca])))
                    .build(),
            )
            .build()
            .into()
    }
}

/// RS256 JWT signed with a PKCS#8 PEM key (the token key is converted on demand).
pub fn jwt(header: &serde_json::Value, claims: &serde_json::Value, key_pem: &str) -> String {
    use rustls_pki_types::PrivatePkcs8KeyDer;
    use rustls_pki_types::pem::PemObject;
    let der = PrivatePkcs8KeyDer::from_pem_slice(key_pem.as_bytes()).expect("a PKCS#8 key");
    let key = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).expect("RSA key");
    let message = format!(
        "{}.{}",
        B64URL.encode(header.to_string()),
        B64URL.encode(claims.to_string())
    );
    let mut sig = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        message.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{message}.{}", B64URL.encode(sig))
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

// ---------------------------------------------------------------------------------------------
// The registry.

pub enum Auth {
    Anonymous,
    /// htpasswd users.
    Basic(Vec<(String, String)>),
    /// Token auth: the realm URL and the signer's certificate bundle.
    Token {
        realm: String,
        bundle: PathBuf,
    },
}

/// A `docker-registry` process; its access log (stdout) counts the requests it served.
pub struct Registry {
    child: Child,
    pub host: String,
    pub tls: bool,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start(auth: Auth, tls: Option<&Pki>) -> Option<Self> {
        let binary = registry_binary()?;
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let auth_yaml = match &auth {
            Auth::Anonymous => String::new(),
            Auth::Basic(users) => {
                let lines: String = users
                    .iter()
                    .map(|(u, p)| format!("{u}:{}\n", bcrypt::hash(p, 4).unwrap()))
                    .collect();
                std::fs::write(dir.path().join("htpasswd"), lines).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
                    dir.path().join("htpasswd").display()
                )
            }
            Auth::Token { realm, bundle } => format!(
                "auth:\n  token:\n    realm: {realm}\n    service: test-registry\n    issuer: test-issuer\n    rootcertbundle: {}\n",
                bundle.display()
            ),
        };
        let tls_yaml = tls.map_or(String::new(), |pki| {
            format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                pki.server_cert.display(),
                pki.server_key.display()
            )
        });
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: testwerk-test-secret\n{tls_yaml}{auth_yaml}",
            dir.path().join("data").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = dir.path().join("access.log");
        let mut child = Command::new(binary)
            .arg("serve")
            .arg(&config_path)
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.path().join("registry.err")).unwrap())
            .spawn()
            .expect("start docker-registry");
        wait_for_port(port, "docker-registry", &mut child);
        Some(Self {
            child,
            host: format!("127.0.0.1:{port}"),
            tls: tls.is_some(),
            log,
            _dir: dir,
        })
    }

    pub fn base(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.host
        )
    }

    /// The request lines served so far (`GET /v2/x/manifests/1`), once the log stops growing.
    pub fn requests(&self) -> Vec<String> {
        testwerk_testregistry::served_requests(&self.log)
    }

    /// How many served requests start with `prefix` (e.g. `GET /v2/app/manifests/`).
    pub fn count(&self, prefix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.starts_with(prefix))
            .count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Images, pushed through the registry API.

#[derive(Clone)]
pub struct TestImage {
    pub entrypoint: Vec<&'static str>,
    pub cmd: Vec<&'static str>,
    pub working_dir: &'static str,
    pub user: &'static str,
    pub env: Vec<&'static str>,
    pub os: &'static str,
    pub architecture: &'static str,
}

impl Default for TestImage {
    fn default() -> Self {
        Self {
            entrypoint: vec!["/usr/bin/app"],
            cmd: vec!["--serve"],
            working_dir: "/srv",
            user: "1000:3000",
            env: vec!["PATH=/usr/bin:/bin"],
            os: "linux",
            architecture: "amd64",
        }
    }
}

impl TestImage {
    pub fn config_json(&self, layer_diff: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "architecture": self.architecture,
            "os": self.os,
            "config": {
                "Entrypoint": self.entrypoint, "Cmd": self.cmd, "WorkingDir": self.working_dir,
                "User": self.user, "Env": self.env,
            },
            "rootfs": {"type": "layers", "diff_ids": [layer_diff]},
            "history": [{"created_by": "/bin/sh -c #(nop) test"}],
        }))
        .unwrap()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Media {
    Docker,
    Oci,
}

impl Media {
    pub fn manifest(self) -> &'static str {
        match self {
            Self::Docker => "application/vnd.docker.distribution.manifest.v2+json",
            Self::Oci => "application/vnd.oci.image.manifest.v1+json",
        }
    }
    pub fn index(self) -> &'static str {
        match self {
            Self::Docker => "application/vnd.docker.distribution.manifest.list.v2+json",
            Self::Oci => "application/vnd.oci.image.index.v1+json",
        }
    }
    pub fn config(self) -> &'static str {
        match self {
            Self::Docker => "application/vnd.docker.container.image.v1+json",
            Self::Oci => "application/vnd.oci.image.config.v1+json",
        }
    }
    pub fn layer(self) -> &'static str {
        match self {
            Self::Docker => "application/vnd.docker.image.rootfs.diff.tar.gzip",
            Self::Oci => "application/vnd.oci.image.layer.v1.tar+gzip",
        }
    }
}

/// Pushes blobs and manifests with the registry HTTP API (monolithic uploads).
pub struct Pusher {
    agent: ureq::Agent,
    base: String,
    authorization: Option<String>,
}

impl Pusher {
    pub fn new(registry: &Registry, pki: Option<&Pki>, authorization: Option<String>) -> Self {
        let agent = match pki {
            Some(p) => p.agent(),
            None => ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into(),
        };
        Self {
            agent,
            base: registry.base(),
            authorization,
        }
    }

    fn auth<B>(&self, r: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.authorization {
            Some(a) => r.header("Authorization", a),
            None => r,
        }
    }

    pub fn blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let start = self
            .auth(
                self.agent
                    .post(format!("{}/v2/{repo}/blobs/uploads/", self.base)),
            )
            .send_empty()
            .unwrap();
        assert_eq!(start.status().as_u16(), 202, "starting an upload to {repo}");
        let location = start
            .headers()
            .get("location")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let location = if location.starts_with("http") {
            location
        } else {
            format!("{}{location}", self.base)
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let done = self
            .auth(self.agent.put(format!("{location}{sep}digest={digest}")))
            .header("Content-Type", "application/octet-stream")
            .send(bytes)
            .unwrap();
        assert_eq!(done.status().as_u16(), 201, "finishing an upload to {repo}");
        digest
    }

    pub fn manifest(&self, repo: &str, reference: &str, media_type: &str, body: &[u8]) -> String {
        let mut response = self
            .auth(
                self.agent
                    .put(format!("{}/v2/{repo}/manifests/{reference}", self.base)),
            )
            .header("Content-Type", media_type)
            .send(body)
            .unwrap();
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(status, 201, "pushing manifest {repo}:{reference}: {text}");
        sha256(body)
    }

    /// Pushes one image manifest (config + one layer); returns (manifest digest, size).
    pub fn image_manifest(&self, repo: &str, image: &TestImage, media: Media) -> (String, usize) {
        let layer = format!(
            "layer of {repo} {} {}",
            image.architecture,
            image.cmd.join(" ")
        );
        let layer_digest = self.blob(repo, layer.as_bytes());
        let config = image.config_json(&layer_digest);
        let config_digest = self.blob(repo, &config);
        let manifest = self.manifest_body(
            media,
            media.config(),
            &config_digest,
            config.len(),
            &layer_digest,
            layer.len(),
        );
        let digest = self.manifest(repo, &sha256(&manifest), media.manifest(), &manifest);
        (digest, manifest.len())
    }

    pub fn manifest_body(
        &self,
        media: Media,
        config_type: &str,
        config_digest: &str,
        config_size: usize,
        layer_digest: &str,
        layer_size: usize,
    ) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media.manifest(),
            "config": {"mediaType": config_type, "digest": config_digest, "size": config_size},
            "layers": [{"mediaType": media.layer(), "digest": layer_digest, "size": layer_size}],
        }))
        .unwrap()
    }

    /// A single-platform image under `tag`; returns its digest.
    pub fn image(&self, repo: &str, tag: &str, image: &TestImage, media: Media) -> String {
        let layer = format!("layer of {repo} {}", image.cmd.join(" "));
        let layer_digest = self.blob(repo, layer.as_bytes());
        let config = image.config_json(&layer_digest);
        let config_digest = self.blob(repo, &config);
        let manifest = self.manifest_body(
            media,
            media.config(),
            &config_digest,
            config.len(),
            &layer_digest,
            layer.len(),
        );
        self.manifest(repo, tag, media.manifest(), &manifest)
    }

    /// A multi-platform index under `tag` (plus an attestation-like `unknown/unknown` entry
    /// for OCI); returns the index digest.
    pub fn index(
        &self,
        repo: &str,
        tag: &str,
        images: &[(TestImage, Option<&str>)],
        media: Media,
    ) -> String {
        let mut entries = Vec::new();
        for (image, variant) in images {
            let (digest, size) = self.image_manifest(repo, image, media);
            let mut platform =
                serde_json::json!({"os": image.os, "architecture": image.architecture});
            if let Some(v) = variant {
                platform["variant"] = serde_json::Value::String((*v).to_owned());
            }
            entries.push(serde_json::json!({
                "mediaType": media.manifest(), "digest": digest, "size": size, "platform": platform,
            }));
        }
        if media == Media::Oci {
            let first = entries[0].clone();
            entries.insert(
                0,
                serde_json::json!({
                    "mediaType": media.manifest(), "digest": first["digest"], "size": first["size"],
                    "platform": {"os": "unknown", "architecture": "unknown"},
                    "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
                }),
            );
        }
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": media.index(), "manifests": entries,
        }))
        .unwrap();
        self.manifest(repo, tag, media.index(), &index)
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP stubs.

/// A tiny HTTP server answering with `handler(method, url, headers, body) -> (status, body)`.
pub struct Stub {
    pub port: u16,
    pub hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

pub type Handler = dyn Fn(&str, &str, &[(String, String)], &str) -> (u16, String) + Send + Sync;

impl Stub {
    pub fn start(handler: Arc<Handler>) -> Self {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, s) = (hits.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let Ok(Some(mut request)) = server.recv_timeout(Duration::from_millis(50)) else {
                    continue;
                };
                h.fetch_add(1, Ordering::SeqCst);
                let mut body = String::new();
                let _ = request.as_reader().read_to_string(&mut body);
                let headers: Vec<(String, String)> = request
                    .headers()
                    .iter()
                    .map(|h| {
                        (
                            h.field.as_str().as_str().to_ascii_lowercase(),
                            h.value.as_str().to_owned(),
                        )
                    })
                    .collect();
                let (status, text) =
                    handler(request.method().as_str(), request.url(), &headers, &body);
                let response = tiny_http::Response::from_string(text)
                    .with_status_code(status)
                    .with_header(
                        tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap(),
                    );
                let _ = request.respond(response);
            }
        });
        Self {
            port,
            hits,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| percent_decode(v))
    })
}

pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How the token server treats the tokens it issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenMode {
    Valid,
    /// The first token is already expired (the registry refuses it), later ones are valid.
    FirstExpired,
    AlwaysExpired,
}

/// A registry token server: checks basic credentials (or allows anonymous pulls), and signs
/// JWTs with the PKI's token key, `x5c` carrying its certificate.
pub struct TokenServer {
    pub stub: Stub,
    pub mode: Arc<Mutex<TokenMode>>,
    pub issued: Arc<AtomicUsize>,
}

impl TokenServer {
    /// `users` may pull and push; with `anonymous_pull`, no credentials still get a pull token.
    pub fn start(pki: &Pki, users: Vec<(String, String)>, anonymous_pull: bool) -> Self {
        let key = std::fs::read_to_string(&pki.token_key).unwrap();
        let cert = B64.encode(Pki::pem_der(&pki.token_cert));
        let mode = Arc::new(Mutex::new(TokenMode::Valid));
        let issued = Arc::new(AtomicUsize::new(0));
        let (m, n) = (mode.clone(), issued.clone());
        let handler: Arc<Handler> = Arc::new(move |_method, url, headers, _body| {
            let authorized = header(headers, "authorization")
                .and_then(|h| h.strip_prefix("Basic "))
                .and_then(|b| B64.decode(b).ok())
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|pair| {
                    users
                        .iter()
                        .find(|(u, p)| pair == format!("{u}:{p}"))
                        .map(|(u, _)| u.clone())
                });
            if header(headers, "authorization").is_some() && authorized.is_none() {
                return (
                    401,
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#
                        .to_owned(),
                );
            }
            if authorized.is_none() && !anonymous_pull {
                return (
                    401,
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"credentials required"}]}"#
                        .to_owned(),
                );
            }
            let scope = query_param(url, "scope").unwrap_or_default();
            let mut access = Vec::new();
            for s in scope.split(' ').filter(|s| !s.is_empty()) {
                let mut parts = s.splitn(3, ':');
                let (kind, name, actions) = (parts.next(), parts.next(), parts.next());
                if let (Some(kind), Some(name), Some(actions)) = (kind, name, actions) {
                    let allowed: Vec<&str> = actions
                        .split(',')
                        .filter(|a| *a == "pull" || authorized.is_some())
                        .collect();
                    access
                        .push(serde_json::json!({"type": kind, "name": name, "actions": allowed}));
                }
            }
            let count = n.fetch_add(1, Ordering::SeqCst);
            let expired = match *m.lock().unwrap() {
                TokenMode::Valid => false,
                TokenMode::FirstExpired => count == 0,
                TokenMode::AlwaysExpired => true,
            };
            let now = now();
            // The registry allows 60 s of clock skew: an "expired" token is well past that.
            let exp = if expired { now - 600 } else { now + 300 };
            let claims = serde_json::json!({
                "iss": "test-issuer", "sub": authorized.clone().unwrap_or_default(),
                "aud": "test-registry", "exp": exp, "nbf": now - 900, "iat": now - 900,
                "jti": format!("t{count}"), "access": access,
            });
            let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [cert]});
            let token = jwt(&header, &claims, &key);
            (
                200,
                serde_json::json!({"token": token, "expires_in": 300}).to_string(),
            )
        });
        Self {
            stub: Stub::start(handler),
            mode,
            issued,
        }
    }

    pub fn realm(&self) -> String {
        format!("{}/token", self.stub.url())
    }

    pub fn set_mode(&self, mode: TokenMode) {
        *self.mode.lock().unwrap() = mode;
        self.issued.store(0, Ordering::SeqCst);
    }

    /// A push token for the tests' own uploads.
    pub fn push_authorization(&self, repo: &str, user: &str, password: &str) -> String {
        let url = format!(
            "{}?service=test-registry&scope=repository:{repo}:pull,push",
            self.realm()
        );
        let mut r = ureq::get(&url)
            .header(
                "Authorization",
                format!("Basic {}", B64.encode(format!("{user}:{password}"))),
            )
            .call()
            .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        self.issued.store(0, Ordering::SeqCst);
        format!("Bearer {}", v["token"].as_str().unwrap())
    }
}

// ---------------------------------------------------------------------------------------------
// moto.

/// `python -m moto.server` on a free port.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Option<Self> {
        let python = moto_python()?;
        let port = free_port();
        let mut child = Command::new(python)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto");
        wait_for_port(port, "moto", &mut child);
        Some(Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        })
    }

    /// An ECR token straight from moto's API (unsigned: moto does not check signatures), to
    /// know which password the test registry must accept.
    pub fn ecr_password(&self) -> (String, String) {
        let mut r = ureq::post(format!("{}/", self.endpoint))
            .header("Content-Type", "application/x-amz-json-1.1")
            .header("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken")
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/ecr/aws4_request, SignedHeaders=host, Signature=0",
            )
            .send(r#"{"registryIds":["123456789012"]}"#)
            .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        let token = v["authorizationData"][0]["authorizationToken"]
            .as_str()
            .unwrap();
        let decoded = String::from_utf8(B64.decode(token).unwrap()).unwrap();
        let (user, password) = decoded.split_once(':').unwrap();
        (user.to_owned(), password.to_owned())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `bytes` to a fresh file and returns its path.
pub fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(bytes).unwrap();
    path
}
