//! The admin socket: a Unix stream socket that hands requests to the gateway's control loop.
//!
//! [`AdminServer::bind`] owns the socket file and an accept thread; each connection gets a
//! short-lived thread that reads one request line, checks the protocol version, and passes the
//! decoded [`Request`] with a [`Responder`] through a `crossbeam-channel`. The control loop waits
//! on [`AdminServer::requests`] with its other event sources (`select!`), or calls
//! [`AdminServer::poll`] (never blocks), serves the request with
//! [`crate::handler::handle`] and answers through the responder; the connection thread writes
//! the answer and closes. Requests are thus served on the control thread, in order, with no lock
//! on the gateway state, and a slow or silent client only ever holds its own thread.
//!
//! The socket is mode 0600 (root only, like the netlink interface ipvsadm uses); when `bind`
//! creates the parent directory it makes it 0700, which also closes the window between `bind`
//! and `chmod`. Dropping the server stops the accept thread and removes the socket file.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::proto::{Envelope, Request, Response, MAX_LINE_BYTES, PROTOCOL_VERSION};

/// How long a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection waits for the control loop to answer (a reload can take a while).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// Why the admin socket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The parent directory could not be created.
    #[error("cannot create {dir}: {source}")]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Something that is not a socket is in the way.
    #[error("{0} exists and is not a socket; remove it or choose another control.admin_socket")]
    NotASocket(PathBuf),
    /// Another process answers on the socket.
    #[error("{0} is in use: another ferrovs is running")]
    InUse(PathBuf),
    /// Removing a stale socket, binding or setting permissions failed.
    #[error("cannot listen on {path}: {source}")]
    Bind {
        /// The socket path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// A request waiting for the control loop, with the handle to answer it.
#[derive(Debug)]
pub struct Pending {
    /// The decoded request.
    pub request: Request,
    /// Where the answer goes.
    pub responder: Responder,
}

/// Answers one request; dropping it unanswered sends the client an error.
#[derive(Debug)]
pub struct Responder {
    tx: Sender<Response>,
}

impl Responder {
    /// Send the answer to the waiting client (ignored if it has gone away).
    pub fn respond(self, response: Response) {
        let _ = self.tx.send(response);
    }
}

/// The admin socket and its accept thread.
#[derive(Debug)]
pub struct AdminServer {
    path: PathBuf,
    rx: Receiver<Pending>,
    /// For [`LocalClient`]s: in-process callers queue requests where the socket's go.
    tx: Sender<Pending>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl AdminServer {
    /// Create the parent directory if needed, remove a stale socket, bind, chmod 0600 and start
    /// accepting.
    ///
    /// # Errors
    ///
    /// See [`ServerError`]; a live socket of another process is never removed.
    pub fn bind(path: impl AsRef<Path>) -> Result<Self, ServerError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(|source| ServerError::CreateDir {
                        dir: dir.to_path_buf(),
                        source,
                    })?;
            }
        }
        let bind_err = |source| ServerError::Bind {
            path: path.clone(),
            source,
        };
        if let Ok(meta) = std::fs::symlink_metadata(&path) {
            if !meta.file_type().is_socket() {
                return Err(ServerError::NotASocket(path));
            }
            match UnixStream::connect(&path) {
                Ok(_) => return Err(ServerError::InUse(path)),
                // Nobody listens: a leftover of a process that died. Any other failure
                // (permissions, ...) leaves the file alone.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    std::fs::remove_file(&path).map_err(bind_err)?;
                }
                Err(e) => return Err(bind_err(e)),
            }
        }
        let listener = UnixListener::bind(&path).map_err(bind_err)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(bind_err)?;
        let (tx, rx) = crossbeam_channel::unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let tx2 = tx.clone();
        let accept = std::thread::Builder::new()
            .name("admin-accept".into())
            .spawn(move || accept_loop(&listener, &tx2, &stop2))
            .map_err(bind_err)?;
        Ok(Self {
            path,
            rx,
            tx,
            stop,
            accept: Some(accept),
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The channel requests arrive on, for a control loop that waits on several sources
    /// (`crossbeam_channel::select!`). It disconnects when the server is dropped.
    pub fn requests(&self) -> &Receiver<Pending> {
        &self.rx
    }

    /// A client for callers in this process (the web console): its requests join the socket's
    /// in the same queue and are served by the same [`crate::handler::handle`] on the control
    /// loop, so they get exactly what `ferrovsadm` gets.
    pub fn local_client(&self) -> LocalClient {
        LocalClient {
            tx: self.tx.clone(),
        }
    }

    /// Return the next waiting request, if any; never blocks.
    pub fn poll(&self) -> Option<Pending> {
        self.rx.try_recv().ok()
    }

    /// Wait up to `timeout` for a request (for control loops that have nothing else to do).
    pub fn poll_timeout(&self, timeout: Duration) -> Option<Pending> {
        self.rx.recv_timeout(timeout).ok()
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept with a connection of our own. If that fails (someone removed
        // the file), the accept thread cannot be woken: leave it rather than hang here.
        let woke = UnixStream::connect(&self.path).is_ok();
        if let Some(h) = self.accept.take() {
            if woke {
                let _ = h.join();
            }
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Sends requests to the control loop like a socket connection does, without the socket.
#[derive(Clone, Debug)]
pub struct LocalClient {
    tx: Sender<Pending>,
}

impl LocalClient {
    /// Queue `request` and wait up to `timeout` for the control loop's answer; the errors
    /// are the ones a socket client would read.
    pub fn request(&self, request: Request, timeout: Duration) -> Response {
        let (rtx, rrx) = crossbeam_channel::bounded(1);
        let pending = Pending {
            request,
            responder: Responder { tx: rtx },
        };
        if self.tx.send(pending).is_err() {
            return Response::error("ferrovs is shutting down");
        }
        match rrx.recv_timeout(timeout) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => Response::error("ferrovs did not answer in time"),
            Err(RecvTimeoutError::Disconnected) => {
                Response::error("ferrovs dropped the request without an answer")
            }
        }
    }
}

fn accept_loop(listener: &UnixListener, tx: &Sender<Pending>, stop: &AtomicBool) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = conn else { continue };
        let tx = tx.clone();
        let _ = std::thread::Builder::new()
            .name("admin-conn".into())
            .spawn(move || serve_connection(stream, &tx));
    }
}

/// Decode one request line: the version first, so a mismatch is reported as such even when the
/// body would not decode.
pub(crate) fn decode(line: &str) -> Result<Request, String> {
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("malformed request: {e}"))?;
    let version = v
        .get("version")
        .and_then(serde_json::Value::as_u64)
        .ok_or("malformed request: no protocol version")?;
    if version != u64::from(PROTOCOL_VERSION) {
        return Err(format!(
            "admin protocol version mismatch: the client speaks version {version}, this ferrovs speaks version {PROTOCOL_VERSION}; use the ferrovsadm that came with this ferrovs"
        ));
    }
    let env: Envelope<Request> =
        serde_json::from_value(v).map_err(|e| format!("malformed request: {e}"))?;
    Ok(env.body)
}

fn serve_connection(stream: UnixStream, tx: &Sender<Pending>) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(READ_TIMEOUT));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half.take(MAX_LINE_BYTES as u64));
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) | Err(_) => return,
        Ok(_) => {}
    }
    let response = match decode(line.trim_end()) {
        Err(m) => Response::error(m),
        Ok(request) => {
            let (rtx, rrx) = crossbeam_channel::bounded(1);
            let pending = Pending {
                request,
                responder: Responder { tx: rtx },
            };
            if tx.send(pending).is_err() {
                Response::error("ferrovs is shutting down")
            } else {
                match rrx.recv_timeout(ANSWER_TIMEOUT) {
                    Ok(r) => r,
                    Err(RecvTimeoutError::Timeout) => {
                        Response::error("ferrovs did not answer in time")
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        Response::error("ferrovs dropped the request without an answer")
                    }
                }
            }
        }
    };
    write_line(stream, &Envelope::new(response));
}

fn write_line(mut stream: UnixStream, env: &Envelope<Response>) {
    if let Ok(mut s) = serde_json::to_string(env) {
        s.push('\n');
        let _ = stream.write_all(s.as_bytes());
        let _ = stream.flush();
    }
}
