//! Streaming blobs: a registry that redirects blob downloads to storage on another host (as
//! Docker Hub, ECR and GCR do) gets our credentials, the storage does not; a blob is read to
//! its declared size and no further.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use testwerk_registry::{
    BlobDescriptor, Environment, HostSettings, LookupRequest, RegistryClient, RegistrySettings,
};

/// A server on `ip` answering `handler(url, authorization) -> (status, headers, body)`.
struct Server {
    port: u16,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

type Handler =
    dyn Fn(&str, Option<&str>) -> (u16, Vec<(&'static str, String)>, Vec<u8>) + Send + Sync;

impl Server {
    fn start(ip: &str, handler: Arc<Handler>) -> Option<Self> {
        // 127.0.0.2 is loopback on Linux; elsewhere the test cannot have a second host.
        let server = tiny_http::Server::http(format!("{ip}:0")).ok()?;
        let port = server.server_addr().to_ip()?.port();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            while !s.load(std::sync::atomic::Ordering::SeqCst) {
                let Ok(Some(request)) = server.recv_timeout(Duration::from_millis(50)) else {
                    continue;
                };
                let auth = request
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Authorization"))
                    .map(|h| h.value.as_str().to_owned());
                let (status, headers, body) = handler(request.url(), auth.as_deref());
                let mut response = tiny_http::Response::from_data(body).with_status_code(status);
                for (name, value) in headers {
                    response = response.with_header(
                        tiny_http::Header::from_bytes(name, value.as_bytes()).unwrap(),
                    );
                }
                let _ = request.respond(response);
            }
        });
        Some(Self {
            port,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn client(hosts: &[String]) -> RegistryClient {
    let mut map = BTreeMap::new();
    for h in hosts {
        map.insert(
            h.clone(),
            HostSettings {
                plain_http: true,
                ..HostSettings::default()
            },
        );
    }
    RegistryClient::new(RegistrySettings {
        hosts: map,
        cloud_credentials: false,
        environment: Environment::empty(),
        ..RegistrySettings::default()
    })
    .unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[test]
fn blob_redirects_to_storage_without_our_credentials() {
    let blob = b"layer bytes from object storage".to_vec();
    let digest = sha256(&blob);
    let storage_auth: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let seen = storage_auth.clone();
    let served = blob.clone();
    let Some(storage) = Server::start(
        "127.0.0.2",
        Arc::new(move |_url: &str, auth: Option<&str>| {
            seen.lock().unwrap().push(auth.map(str::to_owned));
            (200, vec![], served.clone())
        }),
    ) else {
        eprintln!("no second loopback address: the redirect test cannot run here");
        return;
    };
    let storage_port = storage.port;
    let registry_auth: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let seen = registry_auth.clone();
    let registry = Server::start(
        "127.0.0.1",
        Arc::new(move |url: &str, auth: Option<&str>| {
            seen.lock().unwrap().push(auth.map(str::to_owned));
            if auth.is_none() {
                return (
                    401,
                    vec![("WWW-Authenticate", "Basic realm=\"test\"".to_owned())],
                    Vec::new(),
                );
            }
            let location =
                format!("http://127.0.0.2:{storage_port}/storage{url}?X-Amz-Signature=s");
            (307, vec![("Location", location)], Vec::new())
        }),
    )
    .unwrap();
    let host = format!("127.0.0.1:{}", registry.port);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    // base64 of `user:pass-word`.
    std::fs::write(
        &config,
        format!(r#"{{"auths":{{"{host}":{{"auth":"dXNlcjpwYXNzLXdvcmQ="}}}}}}"#),
    )
    .unwrap();
    let mut settings = RegistrySettings {
        cloud_credentials: false,
        environment: Environment::empty(),
        docker_configs: vec![config],
        ..RegistrySettings::default()
    };
    for h in [host.clone(), format!("127.0.0.2:{storage_port}")] {
        settings.hosts.insert(
            h,
            HostSettings {
                plain_http: true,
                ..HostSettings::default()
            },
        );
    }
    let client = RegistryClient::new(settings).unwrap();
    let image = format!("{host}/t/app:1");
    let descriptor = BlobDescriptor {
        media_type: None,
        digest: digest.clone(),
        size: blob.len() as u64,
        urls: Vec::new(),
    };
    let mut out = Vec::new();
    let n = client
        .fetch_blob(&LookupRequest::new(&image), &descriptor, &mut out)
        .unwrap();
    assert_eq!(n, blob.len() as u64);
    assert_eq!(out, blob);
    assert!(
        registry_auth
            .lock()
            .unwrap()
            .iter()
            .any(|a| a.as_deref() == Some("Basic dXNlcjpwYXNzLXdvcmQ=")),
        "the registry got the credentials"
    );
    let at_storage = storage_auth.lock().unwrap().clone();
    assert!(!at_storage.is_empty(), "the redirect was followed");
    assert!(
        at_storage.iter().all(Option::is_none),
        "storage saw credentials: {at_storage:?}"
    );
}

#[test]
fn a_blob_is_read_to_its_declared_size_and_no_further() {
    let endless = vec![b'x'; 1 << 20];
    let registry = Server::start(
        "127.0.0.1",
        Arc::new(move |_url: &str, _auth: Option<&str>| (200, vec![], endless.clone())),
    )
    .unwrap();
    let host = format!("127.0.0.1:{}", registry.port);
    let client = client(std::slice::from_ref(&host));
    let image = format!("{host}/t/app:1");
    let descriptor = BlobDescriptor {
        media_type: None,
        digest: sha256(b"small"),
        size: 1000,
        urls: Vec::new(),
    };
    let mut out = Vec::new();
    let n = client
        .fetch_blob(&LookupRequest::new(&image), &descriptor, &mut out)
        .unwrap();
    assert_eq!(n, 1001, "one byte past the size shows the blob is too long");
    assert_eq!(out.len(), 1001);
}
