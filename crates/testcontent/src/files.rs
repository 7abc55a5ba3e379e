//! Fixed files over HTTP on 127.0.0.1: what `content.tarball` downloads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A running file server. Dropping it stops it.
pub struct FileServer {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    port: u16,
    listen: std::net::IpAddr,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    hits: Arc<Mutex<Vec<String>>>,
}

impl FileServer {
    /// An empty server: every path is 404 until [`FileServer::add`] puts a file there.
    ///
    /// # Panics
    /// When it cannot listen on 127.0.0.1.
    pub fn start() -> Self {
        Self::start_on(std::net::IpAddr::from([127, 0, 0, 1]))
    }

    /// As [`FileServer::start`], listening on `listen` (for Pods of the test cluster: the
    /// address they reach this machine at).
    ///
    /// # Panics
    /// When it cannot listen there.
    pub fn start_on(listen: std::net::IpAddr) -> Self {
        let server = Arc::new(
            tiny_http::Server::http((listen, 0))
                .unwrap_or_else(|e| panic!("listen on {listen}: {e}")),
        );
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .expect("a TCP address");
        let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let hits: Arc<Mutex<Vec<String>>> = Arc::default();
        let thread = {
            let server = Arc::clone(&server);
            let files = Arc::clone(&files);
            let hits = Arc::clone(&hits);
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    let path = request.url().split('?').next().unwrap_or("").to_owned();
                    if let Ok(mut h) = hits.lock() {
                        h.push(path.clone());
                    }
                    let body = files.lock().ok().and_then(|f| f.get(&path).cloned());
                    let response = match body {
                        Some(body) => tiny_http::Response::from_data(body),
                        None => {
                            tiny_http::Response::from_string("no such file\n").with_status_code(404)
                        }
                    };
                    request.respond(response).ok();
                }
            })
        };
        Self {
            server,
            thread: Some(thread),
            port,
            listen,
            files,
            hits,
        }
    }

    /// Serves `content` at `path` (starting with `/`); returns its URL.
    pub fn add(&self, path: &str, content: Vec<u8>) -> String {
        if let Ok(mut f) = self.files.lock() {
            f.insert(path.to_owned(), content);
        }
        self.url(path)
    }

    /// The URL of `path` (served or not).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}:{}{path}", self.listen, self.port)
    }

    /// The paths requested so far, in order.
    pub fn hits(&self) -> Vec<String> {
        self.hits.lock().map(|h| h.clone()).unwrap_or_default()
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            thread.join().ok();
        }
    }
}
