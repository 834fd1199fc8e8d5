//! The client side of the admin socket: one request, one response.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::proto::{Envelope, Request, Response, MAX_LINE_BYTES, PROTOCOL_VERSION};

/// The environment variable that overrides the socket path.
pub const SOCKET_ENV: &str = "FERROVS_SOCKET";

/// How long to wait for an answer (a reload rebuilds every table).
const TIMEOUT: Duration = Duration::from_secs(130);

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the socket, or this user may not use it.
    #[error("{}", connect_message(path, source))]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The exchange broke off.
    #[error("admin socket {}: {source}", path.display())]
    Io {
        /// The socket path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The answer was not a response of our protocol version.
    #[error("admin socket {}: {message}", path.display())]
    Protocol {
        /// The socket path.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
}

/// What a failed connect means for the user: a socket that exists but refuses this user is a
/// permission problem, not a stopped gateway.
fn connect_message(path: &Path, e: &io::Error) -> String {
    let p = path.display();
    match e.kind() {
        io::ErrorKind::PermissionDenied => format!(
            "cannot connect to {p}: permission denied: the admin socket is for root only (mode \
             0600, as ipvsadm needs root); run ferrovsadm as root (sudo ferrovsadm ...)"
        ),
        io::ErrorKind::NotFound => {
            format!("ferrovs is not running? cannot connect to {p}: no such socket")
        }
        io::ErrorKind::ConnectionRefused => format!(
            "ferrovs is not running? cannot connect to {p}: nothing listens on it (a socket \
             left by a gateway that stopped)"
        ),
        _ => format!("ferrovs is not running? cannot connect to {p}: {e}"),
    }
}

/// The socket to use: `--socket`, else `$FERROVS_SOCKET`, else the configuration default
/// (`/run/ferrovs/admin.sock`).
pub fn socket_path(cli: Option<&str>) -> PathBuf {
    cli.map(PathBuf::from)
        .or_else(|| {
            std::env::var_os(SOCKET_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_ADMIN_SOCKET))
}

/// Send `req` to the daemon at `path` and return its answer.
///
/// # Errors
///
/// See [`ClientError`]; a refusal by the daemon is `Ok(Response::Error { .. })`.
pub fn request(path: &Path, req: &Request) -> Result<Response, ClientError> {
    let io_err = |source| ClientError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut stream = UnixStream::connect(path).map_err(|source| ClientError::Connect {
        path: path.to_path_buf(),
        source,
    })?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io_err)?;
    let mut line =
        serde_json::to_string(&Envelope::new(req)).map_err(|e| ClientError::Protocol {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    line.push('\n');
    stream.write_all(line.as_bytes()).map_err(io_err)?;
    stream.flush().map_err(io_err)?;
    let mut reader = BufReader::new(stream.take(MAX_LINE_BYTES as u64));
    let mut answer = String::new();
    reader.read_line(&mut answer).map_err(io_err)?;
    if answer.is_empty() {
        return Err(ClientError::Protocol {
            path: path.to_path_buf(),
            message: "ferrovs closed the connection without an answer".into(),
        });
    }
    let v: serde_json::Value =
        serde_json::from_str(&answer).map_err(|e| ClientError::Protocol {
            path: path.to_path_buf(),
            message: format!("malformed answer: {e}"),
        })?;
    let version = v.get("version").and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(PROTOCOL_VERSION)) {
        return Err(ClientError::Protocol {
            path: path.to_path_buf(),
            message: format!(
                "admin protocol version mismatch: ferrovs answered with version {}, this ferrovsadm speaks version {PROTOCOL_VERSION}",
                version.map_or_else(|| "?".to_owned(), |v| v.to_string())
            ),
        });
    }
    let env: Envelope<Response> = serde_json::from_value(v).map_err(|e| ClientError::Protocol {
        path: path.to_path_buf(),
        message: format!("malformed answer: {e}"),
    })?;
    Ok(env.body)
}
