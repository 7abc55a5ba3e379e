//! `git http-backend` (Git's own smart-HTTP CGI) behind a small HTTP server on 127.0.0.1.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use base64::Engine;

/// How the server checks a request's `Authorization` header.
#[derive(Clone, Debug, Default)]
pub enum Auth {
    /// Anyone may fetch.
    #[default]
    None,
    /// `Authorization: Basic base64(user:token)`; 401 with a basic challenge otherwise.
    Basic { user: String, token: String },
    /// `Authorization: Bearer <token>`; 401 otherwise.
    Bearer(String),
}

/// What the server offers besides auth.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub auth: Auth,
    /// Pass the client's `Git-Protocol` header on (protocol v2, which serves any commit by
    /// id); `false` speaks protocol v0 only, where a commit that is no ref tip can be refused.
    pub protocol_v2: bool,
    /// The address to listen on: 127.0.0.1, or for Pods of the test cluster the address they
    /// reach this machine at (`testwerk_testcluster::Cluster::host_address`).
    pub listen: std::net::IpAddr,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            auth: Auth::None,
            protocol_v2: true,
            listen: std::net::IpAddr::from([127, 0, 0, 1]),
        }
    }
}

/// One request the server answered: `GET /org/app/info/refs?service=git-upload-pack 200`.
#[derive(Clone, Debug)]
pub struct Served {
    pub method: String,
    pub url: String,
    pub status: u16,
    /// The `Authorization` header as received (tests check what the client sent).
    pub authorization: Option<String>,
}

/// A running server. Dropping it stops it.
pub struct GitServer {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    port: u16,
    listen: std::net::IpAddr,
    served: Arc<Mutex<Vec<Served>>>,
}

impl GitServer {
    /// Serves every repository under `root` without auth, or `None` when `git` is missing.
    #[track_caller]
    pub fn start(root: &Path) -> Option<Self> {
        Self::start_with(root, ServerOptions::default())
    }

    /// Serves every repository under `root`, or `None` when `git` is missing.
    #[track_caller]
    pub fn start_with(root: &Path, options: ServerOptions) -> Option<Self> {
        let git = crate::git()?;
        let listen = options.listen;
        let server = Arc::new(
            tiny_http::Server::http((listen, 0))
                .unwrap_or_else(|e| panic!("listen on {listen}: {e}")),
        );
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .expect("a TCP address");
        let served = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let server = Arc::clone(&server);
            let served = Arc::clone(&served);
            let root = root.to_owned();
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    handle(&git, &root, &options, &served, request);
                }
            })
        };
        Some(Self {
            server,
            thread: Some(thread),
            port,
            listen,
            served,
        })
    }

    /// `http://127.0.0.1:PORT/` (or the address it listens on): a repository `org/app` is
    /// `{base}org/app`.
    pub fn base_url(&self) -> String {
        format!("http://{}:{}/", self.listen, self.port)
    }

    /// The URL of repository `name`.
    pub fn url(&self, name: &str) -> String {
        format!("{}{name}", self.base_url())
    }

    /// Every request answered so far.
    pub fn served(&self) -> Vec<Served> {
        self.served.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            thread.join().ok();
        }
    }
}

fn header(request: &tiny_http::Request, name: &'static str) -> Option<String> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str().to_owned())
}

fn authorized(auth: &Auth, given: Option<&str>) -> bool {
    match auth {
        Auth::None => true,
        Auth::Basic { user, token } => {
            let expected =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}"));
            given == Some(format!("Basic {expected}").as_str())
        }
        Auth::Bearer(token) => given == Some(format!("Bearer {token}").as_str()),
    }
}

fn handle(
    git: &PathBuf,
    root: &Path,
    options: &ServerOptions,
    served: &Mutex<Vec<Served>>,
    mut request: tiny_http::Request,
) {
    let method = request.method().as_str().to_owned();
    let url = request.url().to_owned();
    let authorization = header(&request, "Authorization");
    let record = |status: u16| {
        if let Ok(mut s) = served.lock() {
            s.push(Served {
                method: method.clone(),
                url: url.clone(),
                status,
                authorization: authorization.clone(),
            });
        }
    };
    if !authorized(&options.auth, authorization.as_deref()) {
        let challenge = match options.auth {
            Auth::Bearer(_) => "Bearer realm=\"testcontent\"",
            _ => "Basic realm=\"testcontent\"",
        };
        let response = tiny_http::Response::from_string("authentication required\n")
            .with_status_code(401)
            .with_header(
                tiny_http::Header::from_bytes("WWW-Authenticate", challenge)
                    .expect("a valid header"),
            );
        record(401);
        request.respond(response).ok();
        return;
    }
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let mut body = Vec::new();
    if request.as_reader().read_to_end(&mut body).is_err() {
        record(400);
        request.respond(tiny_http::Response::empty(400)).ok();
        return;
    }
    let mut command = Command::new(git);
    command
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_ADDR", "127.0.0.1")
        .env_remove("GIT_PROTOCOL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(ct) = header(&request, "Content-Type") {
        command.env("CONTENT_TYPE", ct);
    }
    if let Some(enc) = header(&request, "Content-Encoding") {
        command.env("HTTP_CONTENT_ENCODING", enc);
    }
    if options.protocol_v2
        && let Some(protocol) = header(&request, "Git-Protocol")
    {
        command.env("GIT_PROTOCOL", protocol);
    }
    let Ok(mut child) = command.spawn() else {
        record(500);
        request.respond(tiny_http::Response::empty(500)).ok();
        return;
    };
    let stdin = child.stdin.take();
    let writer = std::thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            stdin.write_all(&body).ok();
        }
    });
    let mut out = Vec::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout.read_to_end(&mut out).ok();
    }
    writer.join().ok();
    child.wait().ok();

    // CGI output: headers, a blank line, the body.
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4))
        .or_else(|| {
            out.windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, i + 2))
        });
    let Some((end, start)) = split else {
        record(502);
        request.respond(tiny_http::Response::empty(502)).ok();
        return;
    };
    let mut status = 200;
    let mut headers = Vec::new();
    for line in String::from_utf8_lossy(&out[..end]).lines() {
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("Status") {
                status = value
                    .split_whitespace()
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(500);
            } else if let Ok(h) = tiny_http::Header::from_bytes(name.trim(), value) {
                headers.push(h);
            }
        }
    }
    let content = out[start..].to_vec();
    let length = content.len();
    let response = tiny_http::Response::new(
        tiny_http::StatusCode(status),
        headers,
        std::io::Cursor::new(content),
        Some(length),
        None,
    );
    record(status);
    request.respond(response).ok();
}
