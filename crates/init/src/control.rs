//! The control endpoint: pause and resume a running execution from outside the container.
//!
//! A listener (`TW_CONTROL_ADDR`): TCP on the Pod's address (default `0.0.0.0:60434`, as
//! upstream; the agent reaches it at the Pod IP), or, locally, a Unix socket the runner bound
//! in its private directory and handed to us as a descriptor (`fd:<n>`), so nothing listens on
//! a port and no step can reach or replace the socket's file. Both speak upstream's one-byte
//! protocol behind a token (`testwerk_protocol::control`): the client sends the execution's
//! protocol token and a newline, then `0x03` (pause) or `0x04` (resume); when it is done, we
//! answer `0x05`. Other bytes are ignored. A connection may send several commands; one that
//! does not start with the token is answered `0x15` and closed, whatever it sends after.
//! Everything is non-blocking and driven by the main loop.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};

pub use testwerk_protocol::control::{DONE, PAUSE, RESUME};
use testwerk_protocol::control::{FD_PREFIX, MAX_TOKEN_LINE, REFUSED, TOKEN_END, token_matches};

/// A request from a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    Pause,
    Resume,
}

/// Where clients connect.
enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Listener {
    fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Tcp(l) => l.accept().map(|(s, _)| Stream::Tcp(s)),
            Listener::Unix(l) => l.accept().map(|(s, _)| Stream::Unix(s)),
        }
    }

    fn as_raw_fd(&self) -> RawFd {
        match self {
            Listener::Tcp(l) => l.as_raw_fd(),
            Listener::Unix(l) => l.as_raw_fd(),
        }
    }
}

/// One client's connection.
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn set_nonblocking(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nonblocking(true),
            Stream::Unix(s) => s.set_nonblocking(true),
        }
    }

    fn as_raw_fd(&self) -> RawFd {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.write_all(bytes),
            Stream::Unix(s) => s.write_all(bytes),
        }
    }
}

/// One connection, and whether it has shown the token yet.
struct Client {
    stream: Stream,
    /// `None`: it has; otherwise what it sent of its first line so far.
    unproven: Option<Vec<u8>>,
}

/// The listener and its connections.
#[derive(Default)]
pub struct Control {
    listener: Option<Listener>,
    /// The execution's protocol token, which a client must send first.
    token: String,
    clients: Vec<Client>,
    /// Clients that hung up, removed at the next poll (indexes stay valid until answered).
    closed: Vec<usize>,
}

impl Control {
    /// Listens on `addr`: an `IP:port` (no host names: resolving them would link the whole
    /// name service machinery into the static binary), or `fd:<n>`, a listening Unix socket
    /// our parent left open at descriptor `n`.
    pub fn listen(addr: &str, token: &str) -> io::Result<Control> {
        let listener = match addr.strip_prefix(FD_PREFIX) {
            Some(n) => {
                let fd: RawFd = n.parse().map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("{addr:?}: `{FD_PREFIX}` wants a descriptor number"),
                    )
                })?;
                let listener = crate::sys::inherited_unix_listener(fd)?;
                listener.set_nonblocking(true)?;
                Listener::Unix(listener)
            }
            None => {
                let addr: SocketAddr = addr.parse().map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("{addr:?} is not an IP:port address nor fd:<n>"),
                    )
                })?;
                let listener = TcpListener::bind(addr)?;
                listener.set_nonblocking(true)?;
                Listener::Tcp(listener)
            }
        };
        Ok(Control {
            listener: Some(listener),
            token: token.to_owned(),
            ..Control::default()
        })
    }

    /// No endpoint.
    pub fn disabled() -> Control {
        Control::default()
    }

    /// Descriptors to wait on.
    pub fn fds(&self) -> Vec<RawFd> {
        self.listener
            .iter()
            .map(Listener::as_raw_fd)
            .chain(self.clients.iter().map(|c| c.stream.as_raw_fd()))
            .collect()
    }

    /// Accepts new connections and reads what arrived: (client, request) pairs.
    pub fn poll(&mut self) -> Vec<(usize, Request)> {
        for i in std::mem::take(&mut self.closed).into_iter().rev() {
            self.clients.remove(i);
        }
        if let Some(listener) = &self.listener {
            while let Ok(stream) = listener.accept() {
                if stream.set_nonblocking().is_ok() {
                    self.clients.push(Client {
                        stream,
                        unproven: Some(Vec::new()),
                    });
                }
            }
        }
        let mut requests = Vec::new();
        let mut closed = Vec::new();
        for (i, client) in self.clients.iter_mut().enumerate() {
            let mut buf = [0u8; 16];
            loop {
                match client.stream.read(&mut buf) {
                    Ok(0) => {
                        closed.push(i);
                        break;
                    }
                    Ok(n) => {
                        let mut bytes = &buf[..n];
                        if let Some(line) = client.unproven.as_mut() {
                            let end = bytes.iter().position(|b| *b == TOKEN_END);
                            line.extend_from_slice(&bytes[..end.unwrap_or(bytes.len())]);
                            let verdict = match end {
                                Some(_) => Some(token_matches(line, &self.token)),
                                None if line.len() > MAX_TOKEN_LINE => Some(false),
                                None => None,
                            };
                            match verdict {
                                Some(true) => {
                                    client.unproven = None;
                                    bytes = &bytes[end.map_or(bytes.len(), |e| e + 1)..];
                                }
                                Some(false) => {
                                    let _ = client.stream.write_all(&[REFUSED]);
                                    closed.push(i);
                                    break;
                                }
                                None => continue,
                            }
                        }
                        requests.extend(bytes.iter().filter_map(|b| match *b {
                            PAUSE => Some((i, Request::Pause)),
                            RESUME => Some((i, Request::Resume)),
                            _ => None,
                        }));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => {
                        closed.push(i);
                        break;
                    }
                }
            }
        }
        self.closed = closed;
        requests
    }

    /// Answers a client's request.
    pub fn answer(&mut self, client: usize) {
        if let Some(c) = self.clients.get_mut(client) {
            let _ = c.stream.write_all(&[DONE]);
        }
    }
}
