//! One health probe: a TCP connect, an HTTP GET, or a command, each bounded by a timeout.
//!
//! Probes are blocking and run on the health checker's own threads, never on the control loop.
//! Every probe returns within its timeout (plus scheduling noise): connects use
//! `connect_timeout`, reads and writes use socket timeouts recomputed from one deadline, and
//! commands are killed (their whole process group) when the deadline passes.
//!
//! The HTTP client is deliberately small: one HTTP/1.0 `GET` with `Connection: close` (what
//! keepalived's `HTTP_GET` sends by default), the response head parsed by `httparse`, the body
//! read to the end (or `Content-Length`) only when a digest must be checked. HTTP/1.0 needs no
//! connection reuse, no pipelining and no chunked encoding from the server, which keeps the
//! client short enough to audit; a server that sends chunked anyway is decoded.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Why a probe failed, as a closed set (the `reason` label of
/// `ferrovs_healthcheck_failures_total`); the free-text detail goes in [`Failure::reason`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The TCP connection was refused or the host unreachable.
    Connect,
    /// The probe did not finish within its timeout.
    Timeout,
    /// Reading or writing failed after the connection was up (reset, early close).
    Io,
    /// The server's answer is not a valid HTTP response.
    Protocol,
    /// The HTTP status code is not one of the expected ones.
    Status,
    /// The MD5 of the HTTP body does not match the expected digest.
    Digest,
    /// The command exited with a non-zero status or was killed by a signal.
    Exit,
    /// The command could not be started.
    Spawn,
}

impl FailureKind {
    /// Number of kinds.
    pub const COUNT: usize = 8;
    /// Every kind, in discriminant order.
    pub const ALL: [FailureKind; Self::COUNT] = [
        Self::Connect,
        Self::Timeout,
        Self::Io,
        Self::Protocol,
        Self::Status,
        Self::Digest,
        Self::Exit,
        Self::Spawn,
    ];

    /// Return the label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::Io => "io",
            Self::Protocol => "protocol",
            Self::Status => "status",
            Self::Digest => "digest",
            Self::Exit => "exit",
            Self::Spawn => "spawn",
        }
    }
}

/// A failed probe: what kind of failure, and a sentence for the log and `ferrovsadm`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The class of failure.
    pub kind: FailureKind,
    /// Human-readable detail ("connection refused", "status 503, expected 200").
    pub reason: String,
}

impl Failure {
    /// Return a failure of `kind` with detail `reason`.
    pub fn new(kind: FailureKind, reason: impl Into<String>) -> Self {
        Self {
            kind,
            reason: reason.into(),
        }
    }

    fn io(what: &str, e: &std::io::Error) -> Self {
        // Socket timeouts surface as WouldBlock on Linux (EAGAIN), TimedOut elsewhere.
        let kind = match e.kind() {
            ErrorKind::TimedOut | ErrorKind::WouldBlock => FailureKind::Timeout,
            _ if what == "connect" => FailureKind::Connect,
            _ => FailureKind::Io,
        };
        if kind == FailureKind::Timeout {
            return Self::new(kind, format!("{what}: timed out"));
        }
        Self::new(kind, format!("{what}: {e}"))
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// The most body bytes read for a digest: a health page is small, and a server streaming
/// forever must not make the checker allocate without bound.
pub const MAX_BODY: usize = 4 << 20;

/// Connect to `addr` within `timeout`, then close (keepalived `TCP_CHECK`).
///
/// # Errors
/// A [`Failure`] of kind `Connect` or `Timeout`.
pub fn tcp(addr: SocketAddr, timeout: Duration) -> Result<(), Failure> {
    TcpStream::connect_timeout(&addr, timeout)
        .map(drop)
        .map_err(|e| Failure::io("connect", &e))
}

/// What an HTTP GET check sends and expects.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HttpSpec {
    /// Request path (starts with `/`).
    pub path: String,
    /// Status codes that count as up.
    pub status: Vec<u16>,
    /// `Host` header value.
    pub host: String,
    /// Expected MD5 of the body, lowercase hex.
    pub digest: Option<String>,
}

/// Return the remaining time until `deadline`, or a timeout failure when none is left.
fn remaining(deadline: Instant, what: &str) -> Result<Duration, Failure> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(Failure::new(
            FailureKind::Timeout,
            format!("{what}: timed out"),
        ))
    } else {
        Ok(left)
    }
}

/// GET `spec.path` from `addr`, all within `timeout`, and check the status and digest
/// (keepalived `HTTP_GET`).
///
/// # Errors
/// A [`Failure`] saying what went wrong first.
pub fn http(addr: SocketAddr, spec: &HttpSpec, timeout: Duration) -> Result<(), Failure> {
    let deadline = Instant::now() + timeout;
    let mut s =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| Failure::io("connect", &e))?;
    let req = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: ferrovs-healthcheck/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        spec.path,
        spec.host,
        env!("CARGO_PKG_VERSION")
    );
    s.set_write_timeout(Some(remaining(deadline, "send request")?))
        .map_err(|e| Failure::io("send request", &e))?;
    s.write_all(req.as_bytes())
        .map_err(|e| Failure::io("send request", &e))?;

    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    // Read until the head is complete.
    let (status, head_len, body_len, chunked) = loop {
        let n = read_some(&mut s, &mut chunk, deadline, "read response")?;
        if n == 0 {
            return Err(Failure::new(
                FailureKind::Protocol,
                if buf.is_empty() {
                    "connection closed before any response".to_owned()
                } else {
                    "connection closed inside the response head".to_owned()
                },
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let code = resp.code.unwrap_or(0);
                let mut body_len = None;
                let mut chunked = false;
                for h in resp.headers.iter() {
                    if h.name.eq_ignore_ascii_case("content-length") {
                        body_len = std::str::from_utf8(h.value)
                            .ok()
                            .and_then(|v| v.trim().parse::<usize>().ok());
                    } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                        chunked = std::str::from_utf8(h.value)
                            .is_ok_and(|v| v.to_ascii_lowercase().contains("chunked"));
                    }
                }
                break (code, len, body_len, chunked);
            }
            Ok(httparse::Status::Partial) if buf.len() < 64 * 1024 => {}
            Ok(httparse::Status::Partial) => {
                return Err(Failure::new(
                    FailureKind::Protocol,
                    "response head larger than 64 KiB",
                ))
            }
            Err(e) => {
                return Err(Failure::new(
                    FailureKind::Protocol,
                    format!("invalid HTTP response: {e}"),
                ))
            }
        }
    };
    if !spec.status.contains(&status) {
        return Err(Failure::new(
            FailureKind::Status,
            format!("status {status}, expected {}", codes(&spec.status)),
        ));
    }
    let Some(want) = &spec.digest else {
        return Ok(());
    };
    let mut body = buf.split_off(head_len);
    let limit = if chunked {
        MAX_BODY
    } else {
        body_len.unwrap_or(MAX_BODY)
    };
    while body.len() < limit || (chunked && !chunked_complete(&body)) {
        if body.len() > MAX_BODY + 64 * 1024 {
            return Err(Failure::new(
                FailureKind::Protocol,
                format!("body larger than {MAX_BODY} bytes"),
            ));
        }
        let n = read_some(&mut s, &mut chunk, deadline, "read body")?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
        if chunked && chunked_complete(&body) {
            break;
        }
    }
    if let (Some(n), false) = (body_len, chunked) {
        if body.len() < n {
            return Err(Failure::new(
                FailureKind::Io,
                format!("body ended after {} of {n} bytes", body.len()),
            ));
        }
        body.truncate(n);
    }
    if chunked {
        body = dechunk(&body).ok_or_else(|| {
            Failure::new(FailureKind::Protocol, "invalid chunked transfer encoding")
        })?;
    }
    let got = format!("{:x}", md5::compute(&body));
    if &got == want {
        Ok(())
    } else {
        Err(Failure::new(
            FailureKind::Digest,
            format!("body digest {got}, expected {want}"),
        ))
    }
}

fn codes(c: &[u16]) -> String {
    c.iter().map(u16::to_string).collect::<Vec<_>>().join(",")
}

fn read_some(
    s: &mut TcpStream,
    buf: &mut [u8],
    deadline: Instant,
    what: &str,
) -> Result<usize, Failure> {
    loop {
        s.set_read_timeout(Some(remaining(deadline, what)?))
            .map_err(|e| Failure::io(what, &e))?;
        match s.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(Failure::io(what, &e)),
        }
    }
}

/// Decode a chunked body (RFC 9112 §7.1); `None` when malformed or incomplete.
fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(b.len());
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n")?;
        let line = std::str::from_utf8(&b[..line_end]).ok()?;
        let size_text = line.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        b = &b[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if b.len() < size + 2 || &b[size..size + 2] != b"\r\n" {
            return None;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

/// Whether a chunked body has reached its last chunk. Decoding is the only reliable test (chunk
/// data may contain `\r\n0\r\n`); health pages are small, so decoding per read is cheap.
fn chunked_complete(b: &[u8]) -> bool {
    dechunk(b).is_some()
}

/// Run `command` with `/bin/sh -c`, with `env` added, and wait at most `timeout`; exit status 0
/// is success (keepalived `MISC_CHECK`). On timeout the command's whole process group is
/// killed (before the shell is reaped, so the group id cannot have been reused), so a shell's
/// children die with it.
///
/// # Errors
/// `Spawn` when the shell cannot start; `Exit` for a non-zero status (126/127 say the command
/// could not run); `Timeout` when killed at the deadline.
pub fn command(command: &str, env: &[(&str, String)], timeout: Duration) -> Result<(), Failure> {
    use std::os::unix::process::{CommandExt, ExitStatusExt};

    let deadline = Instant::now() + timeout;
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group, so a timeout kills the shell and everything it started.
        .process_group(0);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| Failure::new(FailureKind::Spawn, format!("cannot run /bin/sh: {e}")))?;
    // Poll: std has no wait-with-timeout; 5 ms steps cost nothing at health-check rates.
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if Instant::now() >= deadline => {
                kill_group(child.id());
                let _ = child.kill();
                let _ = child.wait();
                return Err(Failure::new(
                    FailureKind::Timeout,
                    format!("command still running after {timeout:?}; killed"),
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => {
                kill_group(child.id());
                let _ = child.kill();
                let _ = child.wait();
                return Err(Failure::new(
                    FailureKind::Spawn,
                    format!("waiting for command: {e}"),
                ));
            }
        }
    };
    // Background children a successful shell left behind are not killed: once the shell is
    // reaped its pid (the group id) may be reused, and signalling a stranger is worse.
    if status.success() {
        return Ok(());
    }
    if let Some(sig) = status.signal() {
        return Err(Failure::new(
            FailureKind::Exit,
            format!("command killed by signal {sig}"),
        ));
    }
    let code = status.code().unwrap_or(-1);
    let reason = match code {
        126 => "exit status 126: command not executable".to_owned(),
        127 => "exit status 127: command not found".to_owned(),
        c => format!("exit status {c}"),
    };
    Err(Failure::new(FailureKind::Exit, reason))
}

fn kill_group(pid: u32) {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw);
    if let Some(pid) = pid {
        // ESRCH (the group is already empty) is the usual, harmless outcome.
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

#[cfg(test)]
mod tests;
