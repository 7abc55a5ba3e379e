//! [`serve_local`]: the receiver on 127.0.0.1 (or the host's address on the local Pods'
//! bridge) for `testwerk run`, on its own thread and runtime, stopped when the
//! [`LocalServer`] is dropped.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;

use testwerk_protocol::toolkit::ArtifactSink;

use crate::receiver::Receiver;

/// A running local receiver.
pub struct LocalServer {
    address: SocketAddr,
    receiver: Arc<Receiver>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// What a local run needs in one call: storage from `flags` (and the `AWS_*` environment;
/// default `artifacts/` beside `store`), the token key beside the store, an optional hook,
/// and the receiver on 127.0.0.1. Errors name the setting or file and the fix.
pub fn serve_for_store(
    store: std::sync::Arc<testwerk_store::Store>,
    flags: &crate::StorageFlags,
    hook: Option<Arc<dyn crate::ArtifactHook>>,
) -> Result<LocalServer, String> {
    serve_for_store_with(store, flags, hook, Ipv4Addr::LOCALHOST.into(), |_| {
        axum::Router::new()
    })
}

/// [`serve_for_store`] on `ip`, serving also the routes `extra` makes (given the receiver,
/// whose token key they may check execution tokens with).
pub fn serve_for_store_with(
    store: std::sync::Arc<testwerk_store::Store>,
    flags: &crate::StorageFlags,
    hook: Option<Arc<dyn crate::ArtifactHook>>,
    ip: IpAddr,
    extra: impl FnOnce(&Receiver) -> axum::Router,
) -> Result<LocalServer, String> {
    let path = store.files_beside();
    let settings = crate::StorageSettings::from_flags(flags, &path, &|k| std::env::var(k).ok())
        .map_err(|e| e.to_string())?;
    let storage = crate::Storage::open(&settings).map_err(|e| e.to_string())?;
    let tokens = crate::TokenKey::load_or_create(&crate::TokenKey::path_beside(&path))?;
    let mut receiver = Receiver::new(storage, store, tokens);
    if let Some(hook) = hook {
        receiver = receiver.with_hook(hook);
    }
    serve_local_with(receiver, ip, extra)
        .map_err(|e| format!("cannot serve artifacts on {ip}: {e}"))
}

/// Serves `receiver` on `127.0.0.1` (a free port) until the returned server is dropped.
pub fn serve_local(receiver: Receiver) -> std::io::Result<LocalServer> {
    serve_local_with(receiver, Ipv4Addr::LOCALHOST.into(), |_| {
        axum::Router::new()
    })
}

/// [`serve_local`] on `ip`, serving also the routes `extra` makes.
pub fn serve_local_with(
    receiver: Receiver,
    ip: IpAddr,
    extra: impl FnOnce(&Receiver) -> axum::Router,
) -> std::io::Result<LocalServer> {
    let listener = std::net::TcpListener::bind((ip, 0))?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("testwerk-artifacts")
        .enable_all()
        .build()?;
    let more = extra(&receiver);
    let receiver = Arc::new(receiver);
    let router = Arc::clone(&receiver).router().merge(more);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("testwerk-artifacts".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!("artifact receiver on {address}: {e}");
                        return;
                    }
                };
                let served = axum::serve(listener, router)
                    .with_graceful_shutdown(async {
                        stopped.await.ok();
                    })
                    .await;
                if let Err(e) = served {
                    tracing::error!("artifact receiver on {address} stopped: {e}");
                }
            });
        })?;
    Ok(LocalServer {
        address,
        receiver,
        stop: Some(stop),
        thread: Some(thread),
    })
}

impl LocalServer {
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Where execution `execution` uploads: this server, with its token.
    pub fn sink(&self, execution: &str) -> ArtifactSink {
        self.receiver
            .sink(&format!("http://{}", self.address), execution)
    }

    pub fn receiver(&self) -> &Receiver {
        &self.receiver
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // The server may have stopped already: nothing left to stop then.
            stop.send(()).ok();
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the artifact receiver's thread panicked");
        }
    }
}
