//! [`serve_local`]: the receiver on 127.0.0.1 for `testwerk run`, on its own thread and
//! runtime, stopped when the [`LocalServer`] is dropped.

use std::net::SocketAddr;
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

/// Serves `receiver` on `127.0.0.1` (a free port) until the returned server is dropped.
pub fn serve_local(receiver: Receiver) -> std::io::Result<LocalServer> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("testwerk-artifacts")
        .enable_all()
        .build()?;
    let receiver = Arc::new(receiver);
    let router = Arc::clone(&receiver).router();
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
